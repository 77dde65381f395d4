/*
 * A qtest-side QXL guest driver, shared by the QXL qtests.
 * See qxl.h for the conventions.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <glib/gstdio.h>
#include "qemu/host-utils.h"
#include "qxl.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"

#define QXL_PCI_DEVFN   QPCI_DEVFN(2, 0)
/* PIIX3 function 0 holds the PIRQ[A-D] routing registers at 0x60..0x63. */
#define PIIX3_DEVFN     QPCI_DEVFN(1, 0)
#define PIIX3_PIRQRC    0x60

typedef struct QXLTestCase {
    char *subprocess_path;
    void (*fn)(void);
    void (*fn_data)(const void *data);
    const void *data;
} QXLTestCase;

static void qxl_subprocess_run(gconstpointer data)
{
    const QXLTestCase *tc = data;

    /*
     * The child's stdout (its own TAP lines) stays out of ours; its stderr
     * carries the driver's diagnostics and QEMU's messages.
     */
    g_test_trap_subprocess(tc->subprocess_path, QXL_TEST_TIMEOUT_US,
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    /* Not g_test_trap_assert_passed(): that would end the whole run. */
    if (!g_test_trap_has_passed()) {
        g_printerr("%s failed%s\n", tc->subprocess_path,
                   g_test_trap_reached_timeout() ? " (time limit)" : "");
        g_test_fail();
    }
}

static void qxl_subprocess_body(gconstpointer data)
{
    const QXLTestCase *tc = data;

    if (tc->fn_data) {
        tc->fn_data(tc->data);
    } else {
        tc->fn();
    }
}

static QXLTestCase *qxl_test_register(const char *path)
{
    QXLTestCase *tc = g_new0(QXLTestCase, 1);
    g_autofree char *sub = g_strdup_printf("%s/subprocess", path);

    /*
     * GLib skips paths containing "/subprocess" in a normal run; the
     * wrapper runs the body there with a time limit.  tc lives as long
     * as the test binary.  qtest_add_data_func() prefixes the arch.
     */
    tc->subprocess_path = g_strdup_printf("/%s%s", qtest_get_arch(), sub);
    qtest_add_data_func(path, tc, qxl_subprocess_run);
    qtest_add_data_func(sub, tc, qxl_subprocess_body);
    return tc;
}

void qxl_test_add(const char *path, void (*fn)(void))
{
    qxl_test_register(path)->fn = fn;
}

void qxl_test_add_data(const char *path, const void *data,
                       void (*fn)(const void *data))
{
    QXLTestCase *tc = qxl_test_register(path);

    tc->fn_data = fn;
    tc->data = data;
}

/* Size of a BAR as the guest probes it; 0 if the BAR is not implemented. */
static uint64_t probe_bar(QPCIDevice *dev, int bar, bool *is_io)
{
    int reg = PCI_BASE_ADDRESS_0 + bar * 4;
    uint32_t orig = qpci_config_readl(dev, reg);
    uint32_t mask;

    qpci_config_writel(dev, reg, 0xffffffff);
    mask = qpci_config_readl(dev, reg);
    qpci_config_writel(dev, reg, orig);
    if (!mask) {
        return 0;
    }
    *is_io = mask & PCI_BASE_ADDRESS_SPACE_IO;
    mask &= *is_io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK;
    return 1ULL << ctz32(mask);
}

/*
 * Map @bar if it fits in what is left of the bus' 32-bit window; libqos
 * only has 512 MiB there, so a 512 MiB BAR 0 (vgamem_mb=256) cannot be
 * mapped, and tests of such devices use the ROM only.
 */
static uint64_t map_bar(QXLDev *q, int bar, uint64_t *size)
{
    bool is_io = false;
    uint64_t sz = probe_bar(q->dev, bar, &is_io);
    QPCIBar b;

    *size = sz;
    if (!sz) {
        return 0;
    }
    if (!is_io &&
        ROUND_UP(q->bus->mmio_alloc_ptr, sz) + sz > q->bus->mmio_limit) {
        return 0;
    }
    b = qpci_iomap(q->dev, bar, NULL);
    if (is_io) {
        q->io = b;
    }
    return b.addr;
}

static void route_intx(QXLDev *q)
{
    QPCIDevice *isa = qpci_device_find(q->bus, PIIX3_DEVFN);
    int i;

    g_assert_nonnull(isa);
    for (i = 0; i < 4; i++) {
        qpci_config_writeb(isa, PIIX3_PIRQRC + i, QXL_TEST_IRQ);
    }
    g_free(isa);
    qtest_irq_intercept_in(q->qts, "ioapic");
}

void qxl_pci_restore(QXLDev *q)
{
    const uint64_t addr[] = { q->ram_addr, q->vram_addr, q->rom_addr };
    int i;

    for (i = 0; i < ARRAY_SIZE(addr); i++) {
        if (addr[i]) {
            qpci_config_writel(q->dev, PCI_BASE_ADDRESS_0 + i * 4, addr[i]);
        }
    }
    qpci_config_writel(q->dev, PCI_BASE_ADDRESS_0 + QXL_IO_RANGE_INDEX * 4,
                       q->io.addr | PCI_BASE_ADDRESS_SPACE_IO);
    qpci_device_enable(q->dev);
    route_intx(q);
}

QXLDev *qxl_start(const char *device, const char *extra)
{
    return qxl_start_on("QTEST_QEMU_BINARY", device, extra);
}

QXLDev *qxl_start_on(const char *binary_env, const char *device,
                     const char *extra)
{
    QXLDev *q = g_new0(QXLDev, 1);
    g_autofree char *sock = NULL;
    g_autofree char *args = NULL;

    q->tmpdir = g_dir_make_tmp("qxl-test-XXXXXX", NULL);
    g_assert_nonnull(q->tmpdir);
    sock = qxl_tmp_path(q, "spice.sock");
    /*
     * A SPICE server (no client needed) makes the display worker run, and
     * the worker is what consumes the rings.  A UNIX socket avoids port
     * clashes between tests running in parallel.
     */
    args = g_strdup_printf("-machine pc -nodefaults "
                           "-spice unix=on,addr=%s,disable-ticketing=on "
                           "-device %s,id=qxl0,addr=2.0 %s",
                           sock, device, extra ? extra : "");
    q->qts = qtest_init_with_env(binary_env, args, true);
    q->bus = qpci_new_pc(q->qts, NULL);
    q->dev = qpci_device_find(q->bus, QXL_PCI_DEVFN);
    g_assert_nonnull(q->dev);
    qpci_device_enable(q->dev);

    /* The small BARs first, so that they are mapped whatever BAR 0 is. */
    q->rom_addr = map_bar(q, QXL_ROM_RANGE_INDEX, &q->rom_size);
    map_bar(q, QXL_IO_RANGE_INDEX, &q->io_size);
    q->ram_addr = map_bar(q, QXL_RAM_RANGE_INDEX, &q->ram_size);
    q->vram_addr = map_bar(q, QXL_VRAM_RANGE_INDEX, &q->vram_size);
    g_assert(q->rom_addr);
    g_assert(q->io_size);

    q->ram_header = QXL_ROM_L(q, ram_header_offset);
    q->pages_offset = QXL_ROM_L(q, pages_offset);
    q->alloc_next = q->pages_offset;
    route_intx(q);
    return q;
}

QXLDev *qxl_start_native(const char *device)
{
    QXLDev *q = qxl_start(device, NULL);

    qxl_setup(q);
    qxl_create_primary(q, 64, 64);
    return q;
}

char *qxl_tmp_path(QXLDev *q, const char *name)
{
    return g_build_filename(q->tmpdir, name, NULL);
}

void qxl_stop(QXLDev *q)
{
    GDir *dir = g_dir_open(q->tmpdir, 0, NULL);
    const char *name;

    g_free(q->dev);
    qpci_free_pc(q->bus);
    qtest_quit(q->qts);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = qxl_tmp_path(q, name);
        g_unlink(path);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(q->tmpdir);
    g_free(q->tmpdir);
    g_free(q);
}

/* ---- memory ------------------------------------------------------------- */

void qxl_rom_read(QXLDev *q, uint32_t off, void *buf, size_t len)
{
    g_assert_cmpuint(off + len, <=, q->rom_size);
    qtest_memread(q->qts, q->rom_addr + off, buf, len);
}

uint8_t qxl_rom_readb(QXLDev *q, uint32_t off)
{
    return qtest_readb(q->qts, q->rom_addr + off);
}

uint32_t qxl_rom_readl(QXLDev *q, uint32_t off)
{
    return qtest_readl(q->qts, q->rom_addr + off);
}

void qxl_bar0_read(QXLDev *q, uint64_t off, void *buf, size_t len)
{
    g_assert(q->ram_addr);
    qtest_memread(q->qts, q->ram_addr + off, buf, len);
}

void qxl_bar0_write(QXLDev *q, uint64_t off, const void *buf, size_t len)
{
    g_assert(q->ram_addr);
    qtest_memwrite(q->qts, q->ram_addr + off, buf, len);
}

uint32_t qxl_bar0_readl(QXLDev *q, uint64_t off)
{
    return qtest_readl(q->qts, q->ram_addr + off);
}

void qxl_bar0_writel(QXLDev *q, uint64_t off, uint32_t val)
{
    qtest_writel(q->qts, q->ram_addr + off, val);
}

uint64_t qxl_bar0_readq(QXLDev *q, uint64_t off)
{
    return qtest_readq(q->qts, q->ram_addr + off);
}

void qxl_bar0_writeq(QXLDev *q, uint64_t off, uint64_t val)
{
    qtest_writeq(q->qts, q->ram_addr + off, val);
}

uint64_t qxl_phys_slot(int slot, uint64_t off)
{
    /* slot id in bits 63..56, generation (0) in 55..48, offset below. */
    return ((uint64_t)slot << 56) | off;
}

uint64_t qxl_phys(QXLDev *q, uint64_t bar0_off)
{
    return qxl_phys_slot(QXL_TEST_SLOT, bar0_off);
}

uint32_t qxl_alloc(QXLDev *q, uint32_t size)
{
    uint32_t off = ROUND_UP(q->alloc_next, 64);

    g_assert_cmpuint((uint64_t)off + size, <=, q->ram_header);
    q->alloc_next = off + size;
    qtest_memset(q->qts, q->ram_addr + off, 0, size);
    return off;
}

/* ---- ports and interrupts ----------------------------------------------- */

void qxl_io(QXLDev *q, uint8_t port, uint8_t val)
{
    qpci_io_writeb(q->dev, q->io, port, val);
}

uint32_t qxl_int_pending(QXLDev *q)
{
    return QXL_RAM_L(q, int_pending);
}

void qxl_set_int_mask(QXLDev *q, uint32_t mask)
{
    QXL_RAM_SET_L(q, int_mask, mask);
    qxl_io(q, QXL_IO_UPDATE_IRQ, 0);
}

bool qxl_wait_irq(QXLDev *q, uint32_t bits)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    do {
        if (qxl_int_pending(q) & bits) {
            return true;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    return false;
}

void qxl_ack_irq(QXLDev *q, uint32_t bits)
{
    QXL_RAM_SET_L(q, int_pending, qxl_int_pending(q) & ~bits);
    qxl_io(q, QXL_IO_UPDATE_IRQ, 0);
}

bool qxl_irq_line(QXLDev *q)
{
    return qtest_get_irq(q->qts, QXL_TEST_IRQ);
}

bool qxl_wait_irq_line(QXLDev *q)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    /*
     * The device may raise the line a little after int_pending (from a
     * bottom half); each qtest round trip also collects IRQ messages.
     */
    do {
        qxl_int_pending(q);
        if (qxl_irq_line(q)) {
            return true;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    return false;
}

/* ---- memslots, primary -------------------------------------------------- */

void qxl_memslot_add(QXLDev *q, uint8_t slot, uint64_t start, uint64_t end)
{
    QXL_RAM_SET_Q(q, mem_slot.mem_start, start);
    QXL_RAM_SET_Q(q, mem_slot.mem_end, end);
    qxl_io(q, QXL_IO_MEMSLOT_ADD, slot);
}

void qxl_setup(QXLDev *q)
{
    q->alloc_next = q->pages_offset;
    qxl_memslot_add(q, QXL_TEST_SLOT, q->ram_addr, q->ram_addr + q->ram_size);
    qxl_set_int_mask(q, ~0u);
}

void qxl_set_primary(QXLDev *q, uint32_t width, uint32_t height,
                     int32_t stride, uint32_t format)
{
    QXLSurfaceCreate sc = {
        .width = width,
        .height = height,
        .stride = stride,
        .format = format,
        .mouse_mode = 1,
        .type = QXL_SURF_TYPE_PRIMARY,
        .mem = qxl_phys(q, 0),
    };

    qxl_bar0_write(q, QXL_RAM_OFF(q, create_surface), &sc, sizeof(sc));
}

void qxl_create_primary(QXLDev *q, uint32_t width, uint32_t height)
{
    /* Start from black so that a test can tell drawn from stale pixels. */
    qtest_memset(q->qts, q->ram_addr, 0, width * height * 4);
    qxl_set_primary(q, width, height, width * 4, SPICE_SURFACE_FMT_32_xRGB);
    qxl_io(q, QXL_IO_CREATE_PRIMARY, 0);
}

void qxl_destroy_primary(QXLDev *q)
{
    qxl_io(q, QXL_IO_DESTROY_PRIMARY, 0);
}

uint32_t qxl_primary_pixel(QXLDev *q, uint32_t x, uint32_t y, uint32_t stride)
{
    /* xRGB: the x byte is undefined. */
    return qxl_bar0_readl(q, (uint64_t)y * stride + x * 4) & 0xffffff;
}

/* ---- guest objects ------------------------------------------------------ */

/* Store a host-built guest object at @off of BAR 0; returns @off. */
static uint32_t put_object(QXLDev *q, uint32_t off, const void *obj,
                           size_t len)
{
    qxl_bar0_write(q, off, obj, len);
    return off;
}

uint64_t qxl_release_id(uint32_t off)
{
    return QXL_RELEASE_TAG | off;
}

void qxl_init_release_info(QXLDev *q, uint32_t off)
{
    /* QXLReleaseInfo is the first member of every ring object. */
    qxl_bar0_writeq(q, off, qxl_release_id(off));
}

uint32_t qxl_new_fill(QXLDev *q, uint32_t surface_id, const QXLRect *r,
                      uint32_t color)
{
    QXLDrawable d = qxl_drawable_init(surface_id, QXL_DRAW_FILL, r);

    d.u.fill.brush = qxl_solid_brush(color);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    return qxl_new_drawable(q, &d);
}

uint32_t qxl_new_surface_create(QXLDev *q, uint32_t surface_id,
                                uint32_t width, uint32_t height)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLSurfaceCmd));
    uint32_t data = qxl_alloc(q, width * height * 4);
    QXLSurfaceCmd c = {
        .release_info.id = qxl_release_id(off),
        .surface_id = surface_id,
        .type = QXL_SURFACE_CMD_CREATE,
        .u.surface_create = {
            .format = SPICE_SURFACE_FMT_32_xRGB,
            .width = width,
            .height = height,
            .stride = width * 4,
            .data = qxl_phys(q, data),
        },
    };

    return put_object(q, off, &c, sizeof(c));
}

uint32_t qxl_new_surface_destroy(QXLDev *q, uint32_t surface_id)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLSurfaceCmd));
    QXLSurfaceCmd c = {
        .release_info.id = qxl_release_id(off),
        .surface_id = surface_id,
        .type = QXL_SURFACE_CMD_DESTROY,
    };

    return put_object(q, off, &c, sizeof(c));
}

/* An ALPHA cursor shape whose @len bytes of @pixels are in @nchunks. */
static uint32_t new_alpha_cursor(QXLDev *q, uint16_t width, uint16_t height,
                                 const void *pixels, uint32_t len,
                                 int nchunks, uint32_t *chunk_offs)
{
    QXLCursor head = {
        .header = {
            .type = SPICE_CURSOR_TYPE_ALPHA,
            .width = width,
            .height = height,
        },
        .data_size = len,
    };

    return qxl_new_chunked(q, &head, sizeof(head), pixels, len, nchunks,
                           chunk_offs);
}

uint32_t qxl_new_cursor_shape(QXLDev *q, uint16_t width, uint16_t height,
                              uint32_t data_size)
{
    g_autofree uint8_t *pixels = g_malloc0(data_size);

    return new_alpha_cursor(q, width, height, pixels, data_size, 1, NULL);
}

uint32_t qxl_new_cursor_set(QXLDev *q, uint32_t shape_off)
{
    QXLCursorCmd c = {
        .type = QXL_CURSOR_SET,
        .u.set.visible = 1,
        .u.set.shape = qxl_phys(q, shape_off),
    };

    return qxl_new_cursor_cmd(q, &c);
}

uint32_t qxl_new_cursor_move(QXLDev *q, int16_t x, int16_t y)
{
    QXLCursorCmd c = {
        .type = QXL_CURSOR_MOVE,
        .u.position = { x, y },
    };

    return qxl_new_cursor_cmd(q, &c);
}

uint32_t qxl_new_monitors_config(QXLDev *q, uint16_t count,
                                 uint16_t max_allowed)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLMonitorsConfig) +
                             count * sizeof(QXLHead));
    QXLMonitorsConfig mc = { .count = count, .max_allowed = max_allowed };
    uint32_t i;

    for (i = 0; i < count; i++) {
        QXLHead h = { .id = i, .width = 64, .height = 64, .x = 64 * i };

        qxl_bar0_write(q, off + sizeof(mc) + i * sizeof(h), &h, sizeof(h));
    }
    QXL_RAM_SET_Q(q, monitors_config, qxl_phys(q, off));
    return put_object(q, off, &mc, sizeof(mc));
}

/* ---- command builders --------------------------------------------------- */

uint32_t qxl_new_chunked(QXLDev *q, const void *head, uint32_t head_len,
                         const void *data, uint32_t len, int nchunks,
                         uint32_t *chunk_offs)
{
    const uint8_t *bytes = data;
    uint32_t piece = nchunks > 1 ? len / nchunks : len;
    uint32_t off, chunk, prev = 0, done = 0;
    int i;

    g_assert_cmpint(nchunks, >=, 1);
    g_assert_cmpuint(head_len, >=, sizeof(QXLDataChunk));
    off = qxl_alloc(q, head_len + piece);
    if (head) {
        qxl_bar0_write(q, off, head, head_len - sizeof(QXLDataChunk));
    }
    chunk = off + head_len - sizeof(QXLDataChunk);
    for (i = 0; i < nchunks; i++) {
        uint32_t size = i == nchunks - 1 ? len - done : piece;
        QXLDataChunk c = {
            .data_size = size,
            .prev_chunk = prev ? qxl_phys(q, prev) : 0,
        };

        if (i > 0) {
            chunk = qxl_alloc(q, sizeof(c) + size);
            qxl_bar0_writeq(q, prev + offsetof(QXLDataChunk, next_chunk),
                            qxl_phys(q, chunk));
        }
        qxl_bar0_write(q, chunk, &c, sizeof(c));
        if (size) {
            qxl_bar0_write(q, chunk + sizeof(c), bytes + done, size);
        }
        if (chunk_offs) {
            chunk_offs[i] = chunk;
        }
        done += size;
        prev = chunk;
    }
    return off;
}

uint32_t qxl_new_chunks(QXLDev *q, const void *data, uint32_t len,
                        int nchunks, uint32_t *chunk_offs)
{
    return qxl_new_chunked(q, NULL, sizeof(QXLDataChunk), data, len, nchunks,
                           chunk_offs);
}

QXLDrawable qxl_drawable_init(uint32_t surface_id, uint8_t type,
                              const QXLRect *bbox)
{
    return (QXLDrawable) {
        .surface_id = surface_id,
        .effect = QXL_EFFECT_OPAQUE,
        .type = type,
        .bbox = *bbox,
        .clip.type = SPICE_CLIP_TYPE_NONE,
        .surfaces_dest = { -1, -1, -1 },
    };
}

uint32_t qxl_new_drawable(QXLDev *q, const QXLDrawable *d)
{
    uint32_t off = qxl_alloc(q, sizeof(*d));
    QXLDrawable copy = *d;

    copy.release_info.id = qxl_release_id(off);
    return put_object(q, off, &copy, sizeof(copy));
}

uint32_t qxl_new_compat_drawable(QXLDev *q, const QXLCompatDrawable *d)
{
    uint32_t off = qxl_alloc(q, sizeof(*d));
    QXLCompatDrawable copy = *d;

    copy.release_info.id = qxl_release_id(off);
    return put_object(q, off, &copy, sizeof(copy));
}

uint32_t qxl_new_clip_rects(QXLDev *q, const QXLRect *rects, uint32_t n,
                            int nchunks, uint32_t *chunk_offs)
{
    QXLClipRects head = { .num_rects = n };

    return qxl_new_chunked(q, &head, sizeof(head), rects,
                           n * sizeof(QXLRect), nchunks, chunk_offs);
}

QXLClip qxl_clip_rects(QXLDev *q, uint32_t clip_rects_off)
{
    return (QXLClip) {
        .type = SPICE_CLIP_TYPE_RECTS,
        .data = qxl_phys(q, clip_rects_off),
    };
}

QXLBrush qxl_solid_brush(uint32_t color)
{
    return (QXLBrush) {
        .type = SPICE_BRUSH_TYPE_SOLID,
        .u.color = color,
    };
}

QXLBrush qxl_pattern_brush(QXLDev *q, uint32_t image_off, int32_t x,
                           int32_t y)
{
    return (QXLBrush) {
        .type = SPICE_BRUSH_TYPE_PATTERN,
        .u.pattern.pat = qxl_phys(q, image_off),
        .u.pattern.pos = { .x = x, .y = y },
    };
}

uint32_t qxl_new_palette(QXLDev *q, const uint32_t *ents, uint16_t n)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLPalette) + n * sizeof(uint32_t));
    QXLPalette head = { .unique = 0, .num_ents = n };

    qxl_bar0_write(q, off + sizeof(head), ents, n * sizeof(uint32_t));
    return put_object(q, off, &head, sizeof(head));
}

uint32_t qxl_new_bitmap_image(QXLDev *q, const QXLBitmapSpec *b,
                              uint32_t *chunk_offs)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLImage));
    uint32_t stride = b->stride;
    uint32_t size, data;
    QXLImage img = {
        .descriptor = {
            .id = off,
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .width = b->width,
            .height = b->height,
        },
        .bitmap = {
            .format = b->format,
            .flags = QXL_BITMAP_TOP_DOWN,
            .x = b->width,
            .y = b->height,
            .palette = b->palette ? qxl_phys(q, b->palette) : 0,
        },
    };

    g_assert_cmpuint(qxl_bitmap_bpp(b->format), >, 0);
    if (!stride) {
        stride = ROUND_UP((b->width * qxl_bitmap_bpp(b->format) + 7) / 8, 4);
    }
    img.bitmap.stride = stride;
    size = stride * b->height;
    if (b->chunks) {
        data = qxl_new_chunks(q, b->pixels, size, b->chunks, chunk_offs);
    } else {
        data = qxl_alloc(q, size);
        qxl_bar0_write(q, data, b->pixels, size);
        img.bitmap.flags |= QXL_BITMAP_DIRECT;
        if (chunk_offs) {
            chunk_offs[0] = data;
        }
    }
    img.bitmap.data = qxl_phys(q, data);
    return put_object(q, off, &img, sizeof(img));
}

/* @n 32-bit pixels of @color, to g_free(). */
static uint32_t *solid_pixels(uint32_t n, uint32_t color)
{
    uint32_t *pixels = g_new(uint32_t, n);
    uint32_t i;

    for (i = 0; i < n; i++) {
        pixels[i] = color;
    }
    return pixels;
}

uint32_t qxl_new_solid_image(QXLDev *q, uint32_t width, uint32_t height,
                             uint32_t color)
{
    g_autofree uint32_t *pixels = solid_pixels(width * height, color);
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_32BIT,
        .width = width,
        .height = height,
        .pixels = pixels,
    };

    return qxl_new_bitmap_image(q, &b, NULL);
}

uint32_t qxl_new_surface_image(QXLDev *q, uint32_t surface_id,
                               uint32_t width, uint32_t height)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLImage));
    QXLImage img = {
        .descriptor = {
            .id = off,
            .type = SPICE_IMAGE_TYPE_SURFACE,
            .width = width,
            .height = height,
        },
        .surface_image.surface_id = surface_id,
    };

    return put_object(q, off, &img, sizeof(img));
}

uint32_t qxl_new_quic_image(QXLDev *q, uint32_t width, uint32_t height,
                            const void *data, uint32_t len, int nchunks,
                            uint32_t *chunk_offs)
{
    /* The stream's first chunk is inside the image, right after data_size. */
    const uint32_t head_len = offsetof(QXLImage, quic.data) +
                              sizeof(QXLDataChunk);
    uint8_t head[offsetof(QXLImage, quic.data) + sizeof(QXLDataChunk)];
    QXLImage img = {
        .descriptor = {
            .type = SPICE_IMAGE_TYPE_QUIC,
            .width = width,
            .height = height,
        },
        .quic.data_size = len,
    };
    uint32_t off;

    memset(head, 0, sizeof(head));
    memcpy(head, &img, offsetof(QXLImage, quic.data));
    off = qxl_new_chunked(q, head, head_len, data, len, nchunks, chunk_offs);
    qxl_bar0_writeq(q, off + offsetof(QXLImage, descriptor.id), off);
    return off;
}

uint32_t qxl_new_transform(QXLDev *q, const QXLTransform *t)
{
    return put_object(q, qxl_alloc(q, sizeof(*t)), t, sizeof(*t));
}

uint32_t qxl_new_path(QXLDev *q, const QXLPoint *pts, uint32_t n,
                      int nchunks, uint32_t *chunk_offs)
{
    uint32_t len = sizeof(QXLPathSeg) + n * sizeof(QXLPointFix);
    g_autofree uint8_t *data = g_malloc0(len);
    QXLPathSeg *seg = (QXLPathSeg *)data;
    QXLPath head = { .data_size = len };
    uint32_t i;

    seg->flags = QXL_PATH_BEGIN | QXL_PATH_END;
    seg->count = n;
    for (i = 0; i < n; i++) {
        seg->points[i].x = pts[i].x << 4;
        seg->points[i].y = pts[i].y << 4;
    }
    return qxl_new_chunked(q, &head, sizeof(head), data, len, nchunks,
                           chunk_offs);
}

uint32_t qxl_new_line_style(QXLDev *q, const QXLFIXED *dashes, uint8_t n)
{
    return put_object(q, qxl_alloc(q, n * sizeof(QXLFIXED)), dashes,
                      n * sizeof(QXLFIXED));
}

uint32_t qxl_new_a1_string(QXLDev *q, uint16_t n, uint16_t width,
                           uint16_t height, const QXLPoint *pos, int nchunks,
                           uint32_t *chunk_offs)
{
    uint32_t bits = height * ((width + 7) / 8);
    uint32_t glyph_len = sizeof(QXLRasterGlyph) + bits;
    uint32_t len = n * glyph_len;
    g_autofree uint8_t *data = g_malloc(len);
    QXLString head = {
        .data_size = len,
        .length = n,
        .flags = SPICE_STRING_FLAGS_RASTER_A1,
    };
    uint16_t i;

    for (i = 0; i < n; i++) {
        QXLRasterGlyph *g = (QXLRasterGlyph *)(data + i * glyph_len);

        g->render_pos.x = pos->x + i * (width + 1);
        g->render_pos.y = pos->y;
        g->glyph_origin.x = 0;
        g->glyph_origin.y = 0;
        g->width = width;
        g->height = height;
        memset(g->data, 0xff, bits);
    }
    return qxl_new_chunked(q, &head, sizeof(head), data, len, nchunks,
                           chunk_offs);
}

uint32_t qxl_new_update_cmd(QXLDev *q, uint32_t surface_id,
                            const QXLRect *area)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLUpdateCmd));
    QXLUpdateCmd c = {
        .release_info.id = qxl_release_id(off),
        .area = *area,
        .update_id = 1,
        .surface_id = surface_id,
    };

    return put_object(q, off, &c, sizeof(c));
}

uint32_t qxl_new_message(QXLDev *q, const char *text)
{
    uint32_t len = strlen(text) + 1;
    uint32_t off = qxl_alloc(q, sizeof(QXLMessage) + len);

    qxl_init_release_info(q, off);
    qxl_bar0_write(q, off + sizeof(QXLMessage), text, len);
    return off;
}

uint32_t qxl_new_cursor_cmd(QXLDev *q, const QXLCursorCmd *c)
{
    uint32_t off = qxl_alloc(q, sizeof(*c));
    QXLCursorCmd copy = *c;

    copy.release_info.id = qxl_release_id(off);
    return put_object(q, off, &copy, sizeof(copy));
}

uint32_t qxl_new_cursor_shape_chunked(QXLDev *q, uint16_t width,
                                      uint16_t height, uint32_t argb,
                                      int nchunks, uint32_t *chunk_offs)
{
    g_autofree uint32_t *pixels = solid_pixels(width * height, argb);

    return new_alpha_cursor(q, width, height, pixels, width * height * 4,
                            nchunks, chunk_offs);
}

/* ---- rings -------------------------------------------------------------- */

/* The command and the cursor ring: same layout, own place and port. */
static const struct {
    const char *name;
    uint32_t ram_off;           /* in QXLRam */
    uint8_t notify_port;
} qxl_rings[] = {
    [QXL_RING_CMD] = {
        "command", offsetof(QXLRam, cmd_ring), QXL_IO_NOTIFY_CMD,
    },
    [QXL_RING_CURSOR] = {
        "cursor", offsetof(QXLRam, cursor_ring), QXL_IO_NOTIFY_CURSOR,
    },
};

uint32_t qxl_ring_off(QXLDev *q, QXLRingKind ring)
{
    return q->ram_header + qxl_rings[ring].ram_off;
}

const char *qxl_ring_name(QXLRingKind ring)
{
    return qxl_rings[ring].name;
}

#define RING_FIELD(q, ring, f) \
    (qxl_ring_off(q, ring) + offsetof(QXLCommandRing, f))

uint32_t qxl_ring_used(QXLDev *q, QXLRingKind ring)
{
    return qxl_bar0_readl(q, RING_FIELD(q, ring, prod)) -
           qxl_bar0_readl(q, RING_FIELD(q, ring, cons));
}

/* The BAR 0 offset of the slot of the ring entry numbered @prod. */
static uint32_t ring_slot(QXLDev *q, QXLRingKind ring, uint32_t prod)
{
    return RING_FIELD(q, ring, items) +
           (prod % QXL_COMMAND_RING_SIZE) * sizeof(QXLCommandRing_ring_el);
}

uint32_t qxl_ring_next_slot(QXLDev *q, QXLRingKind ring)
{
    return ring_slot(q, ring, qxl_bar0_readl(q, RING_FIELD(q, ring, prod)));
}

/* Store a command in slot @prod and publish it: prod + 1. */
static void ring_store(QXLDev *q, QXLRingKind ring, uint32_t prod,
                       uint32_t type, uint64_t phys)
{
    QXLCommand c = { .data = phys, .type = type };

    qxl_bar0_write(q, ring_slot(q, ring, prod), &c, sizeof(c));
    qxl_bar0_writel(q, RING_FIELD(q, ring, prod), prod + 1);
}

void qxl_push_raw(QXLDev *q, QXLRingKind ring, uint32_t type, uint64_t phys)
{
    ring_store(q, ring, qxl_bar0_readl(q, RING_FIELD(q, ring, prod)), type,
               phys);
}

void qxl_push(QXLDev *q, QXLRingKind ring, uint32_t type, uint64_t phys)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;
    uint32_t prod, cons;

    /* Both rings have QXL_COMMAND_RING_SIZE (== QXL_CURSOR_RING_SIZE). */
    for (;;) {
        prod = qxl_bar0_readl(q, RING_FIELD(q, ring, prod));
        cons = qxl_bar0_readl(q, RING_FIELD(q, ring, cons));
        if (prod - cons < QXL_COMMAND_RING_SIZE) {
            break;
        }
        if (g_get_monotonic_time() > end) {
            g_printerr("%s ring stays full (prod %u cons %u)\n",
                       qxl_ring_name(ring), prod, cons);
            g_assert_not_reached();
        }
        g_usleep(1000);
    }
    ring_store(q, ring, prod, type, phys);
    /* Kick the device only when the consumer asked for it. */
    if (qxl_bar0_readl(q, RING_FIELD(q, ring, notify_on_prod)) == prod + 1) {
        qxl_io(q, qxl_rings[ring].notify_port, 0);
    }
}

void qxl_push_draw(QXLDev *q, uint32_t drawable_off)
{
    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW, qxl_phys(q, drawable_off));
}

bool qxl_wait_ring_empty(QXLDev *q, QXLRingKind ring)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    do {
        if (!qxl_ring_used(q, ring)) {
            return true;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    return false;
}

int qxl_pop_release(QXLDev *q, uint64_t *ids, int max)
{
    uint32_t ring = QXL_RAM_OFF(q, release_ring);
    uint32_t prod = qxl_bar0_readl(q, ring + offsetof(QXLReleaseRing, prod));
    uint32_t cons = qxl_bar0_readl(q, ring + offsetof(QXLReleaseRing, cons));
    uint64_t id;
    int n = 0;

    if (prod == cons) {
        return 0;
    }
    id = qxl_bar0_readq(q, ring + offsetof(QXLReleaseRing, items) +
                        (cons % QXL_RELEASE_RING_SIZE) * sizeof(uint64_t));
    qxl_bar0_writel(q, ring + offsetof(QXLReleaseRing, cons), cons + 1);
    /* The head id leads a list chained through QXLReleaseInfo.next. */
    while (id && n < max) {
        uint64_t off = id & QXL_RELEASE_OFFSET_MASK;

        ids[n++] = id;
        if ((id & ~QXL_RELEASE_OFFSET_MASK) != QXL_RELEASE_TAG ||
            off + 8 > q->ram_header) {
            break;
        }
        id = qxl_bar0_readq(q, off);
    }
    return n;
}

int qxl_collect_releases(QXLDev *q, uint64_t *ids, int max, int want)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;
    int n = 0;

    do {
        n += qxl_pop_release(q, ids + n, max - n);
        if (n >= want || n == max) {
            break;
        }
        /* Releases are batched; ask for the partial batch. */
        qxl_io(q, QXL_IO_FLUSH_RELEASE, 0);
        n += qxl_pop_release(q, ids + n, max - n);
        if (n >= want || n == max) {
            break;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    return n;
}

void qxl_set_update_area(QXLDev *q, uint32_t surface_id, const QXLRect *r)
{
    qxl_bar0_write(q, QXL_RAM_OFF(q, update_area), r, sizeof(*r));
    QXL_RAM_SET_L(q, update_surface, surface_id);
}

void qxl_update_area(QXLDev *q, uint32_t surface_id, const QXLRect *r)
{
    qxl_set_update_area(q, surface_id, r);
    qxl_io(q, QXL_IO_UPDATE_AREA, 0);
}

bool qxl_io_async(QXLDev *q, uint8_t port, uint8_t val)
{
    qxl_ack_irq(q, QXL_INTERRUPT_IO_CMD);
    qxl_io(q, port, val);
    if (!qxl_wait_irq(q, QXL_INTERRUPT_IO_CMD)) {
        return false;
    }
    qxl_ack_irq(q, QXL_INTERRUPT_IO_CMD);
    return true;
}

/* ---- health ------------------------------------------------------------- */

void qxl_assert_alive(QXLDev *q)
{
    QDict *resp = qtest_qmp(q->qts, "{'execute': 'query-status'}");
    QDict *ret = qdict_get_qdict(resp, "return");

    g_assert_nonnull(ret);
    g_assert_cmpstr(qdict_get_str(ret, "status"), ==, "running");
    qobject_unref(resp);
}

bool qxl_wait_error(QXLDev *q)
{
    return qxl_wait_irq(q, QXL_INTERRUPT_ERROR);
}

void qxl_reset(QXLDev *q)
{
    qxl_io(q, QXL_IO_RESET, 0);
    qxl_setup(q);
}

void qxl_assert_draws(QXLDev *q)
{
    QXLRect all = { .top = 0, .left = 0, .bottom = 64, .right = 64 };
    QXLRect r = { .top = 8, .left = 8, .bottom = 24, .right = 24 };

    qxl_create_primary(q, 64, 64);
    qxl_push_draw(q, qxl_new_fill(q, 0, &r, 0x00ff8000));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 0, &all);
    g_assert_cmphex(qxl_primary_pixel(q, 10, 10, 64 * 4), ==, 0xff8000);
    g_assert_cmphex(qxl_primary_pixel(q, 40, 40, 64 * 4), ==, 0);
    qxl_destroy_primary(q);
    QXL_ASSERT_NO_ERROR_IRQ(q);
}

void qxl_assert_no_error(QXLDev *q)
{
    uint32_t pending = qxl_int_pending(q);

    if (pending & QXL_INTERRUPT_ERROR) {
        g_printerr("unexpected QXL_INTERRUPT_ERROR (int_pending 0x%x)\n",
                   pending);
        g_test_fail();
    }
    qxl_assert_alive(q);
}

void qxl_assert_rendered(QXLDev *q, uint32_t width, uint32_t height)
{
    QXLRect all = { .top = 0, .left = 0, .bottom = height, .right = width };

    if (!qxl_wait_ring_empty(q, QXL_RING_CMD) ||
        !qxl_wait_ring_empty(q, QXL_RING_CURSOR)) {
        g_printerr("the device stopped taking commands (int_pending 0x%x)\n",
                   qxl_int_pending(q));
        g_test_fail();
    }
    qxl_update_area(q, 0, &all);
    qxl_assert_no_error(q);
}

void qxl_assert_guest_bug(QXLDev *q)
{
    if (!qxl_wait_error(q)) {
        g_printerr("no QXL_INTERRUPT_ERROR within %d s (int_pending 0x%x)\n",
                       (int)(QXL_WAIT_US / G_USEC_PER_SEC),
                       qxl_int_pending(q));
        g_test_fail();
    } else if ((QXL_RAM_L(q, int_mask) & QXL_INTERRUPT_ERROR) &&
               !qxl_wait_irq_line(q)) {
        g_printerr("ERROR pending and unmasked, but INTx stays low\n");
        g_test_fail();
    }
    qxl_assert_alive(q);
    qxl_reset(q);
    QXL_ASSERT_NO_ERROR_IRQ(q);
}

int64_t qxl_qom_get_int(QXLDev *q, const char *prop)
{
    QDict *resp = qtest_qmp(q->qts, "{'execute': 'qom-get', 'arguments': "
                            "{'path': '/machine/peripheral/qxl0', "
                            "'property': %s}}", prop);
    int64_t val;

    g_assert(qdict_haskey(resp, "return"));
    val = qdict_get_int(resp, "return");
    qobject_unref(resp);
    return val;
}

uint32_t qxl_crc32(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    /*
     * Reflected CRC-32 with initial value 0 and no final inversion: what
     * Linux's crc32_le(0, ...) computes and what the QXL ROM publishes.
     */
    uint32_t crc = 0;
    size_t i;
    int k;

    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (CLIENT_MONITORS_CONFIG_CRC32_POLY & -(crc & 1));
        }
    }
    return crc;
}
