/*
 * QTest for the QXL display device: the guest ABI of spice-protocol's
 * <spice/qxl_dev.h> as a guest driver sees it (PCI identity, BARs, ROM,
 * RAM header, modes, properties, I/O ports, interrupts, memslots, the
 * primary surface, the rings, async I/O, reset, monitors config,
 * migration and hot-unplug).  The mechanics live in libqos/qxl.c; the
 * guest-bug tests are in qxl-guest-bug-test.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "libqos/qxl.h"

#define QXL_VENDOR_ID   0x1b36
/* The QXLRam header occupies the last 8 KiB of BAR 0. */
#define RAM_HEADER_SIZE (8 * KiB)

static const QXLRect rect64 = { .top = 0, .left = 0, .bottom = 64,
                                .right = 64 };

/* ---- PCI identity and BARs ---------------------------------------------- */

static void test_pci_identity(gconstpointer data)
{
    const char *driver = data;
    QXLDev *q = qxl_start(driver, NULL);

    g_assert_cmphex(qpci_config_readw(q->dev, PCI_VENDOR_ID), ==,
                    QXL_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(q->dev, PCI_DEVICE_ID), ==,
                    QXL_DEVICE_ID_STABLE);
    g_assert_cmphex(qpci_config_readw(q->dev, PCI_CLASS_DEVICE), ==,
                    g_str_equal(driver, "qxl-vga") ? 0x0300 : 0x0380);
    g_assert_cmpint(qpci_config_readb(q->dev, PCI_REVISION_ID), ==, 5);
    g_assert_cmpint(qpci_config_readb(q->dev, PCI_INTERRUPT_PIN), ==, 1);
    qxl_stop(q);
}

static void test_bar_sizes(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    g_assert_cmphex(q->ram_size, ==, 64 * MiB);
    g_assert_cmphex(q->vram_size, ==, 64 * MiB);
    g_assert_cmphex(q->rom_size, ==, 8 * KiB);
    g_assert_cmphex(q->io_size, ==, 32);
    /* No 64-bit VRAM BAR unless vram64 is larger than BAR 1. */
    g_assert_cmphex(qpci_config_readl(q->dev, PCI_BASE_ADDRESS_4), ==, 0);
    qxl_stop(q);

    q = qxl_start("qxl-vga,ram_size_mb=32,vram_size_mb=16,vram64_size_mb=128",
                  NULL);
    g_assert_cmphex(q->ram_size, ==, 32 * MiB);
    g_assert_cmphex(q->vram_size, ==, 16 * MiB);
    /* BAR 4 is a 64-bit prefetchable memory BAR. */
    g_assert_cmphex(qpci_config_readl(q->dev, PCI_BASE_ADDRESS_4) & 0xf, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64 |
                    PCI_BASE_ADDRESS_MEM_PREFETCH);
    qxl_stop(q);
}

/* Each revision appends ports: 8, 16, 25 (rounded to 32) and 25. */
static void test_io_bar_per_revision(void)
{
    static const uint64_t size[] = { 0, 8, 16, 32, 32, 32 };
    int rev;

    for (rev = 1; rev <= 5; rev++) {
        g_autofree char *dev = g_strdup_printf("qxl-vga,revision=%d", rev);
        QXLDev *q = qxl_start(dev, NULL);

        g_assert_cmpint(qpci_config_readb(q->dev, PCI_REVISION_ID), ==, rev);
        g_assert_cmphex(q->io_size, ==, size[rev]);
        if (rev == 1) {
            /* qxl-1 has no surfaces BAR to speak of. */
            g_assert_cmphex(q->vram_size, ==, 4 * KiB);
        }
        qxl_stop(q);
    }
}

/*
 * Realize must refuse @device with an error that contains each of @words,
 * and QEMU must exit with status 1: never abort, never run.
 */
static void check_refused(const char *device, const char *const *words)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;
    /* timeout(1) bounds the run in case the device wrongly accepts it. */
    const char *argv[] = {
        "timeout", "10", qemu, "-machine", "pc", "-nodefaults",
        "-display", "none", "-S", "-device", device, NULL
    };

    g_assert_nonnull(qemu);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, &err, &status, &gerr));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        g_printerr("-device %s: wait status 0x%x, stderr: %s\n", device,
                   status, err);
        g_test_fail();
        return;
    }
    for (; *words; words++) {
        if (!strstr(err, *words)) {
            g_printerr("-device %s: no '%s' in: %s\n", device, *words, err);
            g_test_fail();
        }
    }
}

static void test_invalid_revision(void)
{
    static const char *const words[] = { "revision", NULL };

    check_refused("qxl-vga,revision=0", words);
    check_refused("qxl-vga,revision=6", words);
    check_refused("qxl,revision=100", words);
}

/*
 * spice-server takes at most 16 heads per device and ends the process
 * for more: realize refuses them, naming the property and the range.
 */
static void test_invalid_max_outputs(void)
{
    static const char *const words[] = { "max_outputs", "0 to 16", NULL };
    QXLDev *q;

    check_refused("qxl-vga,max_outputs=17", words);
    check_refused("qxl,max_outputs=64", words);
    check_refused("qxl-vga,max_outputs=65", words);
    /* The limit itself is fine. */
    q = qxl_start("qxl-vga,max_outputs=16", NULL);
    g_assert_cmpint(qxl_qom_get_int(q, "max_outputs"), ==, 16);
    qxl_stop(q);
}

/* ---- ROM and RAM layout ------------------------------------------------- */

static void check_layout(const char *device, uint32_t ram, uint32_t vgamem,
                         uint32_t surfaces)
{
    QXLDev *q = qxl_start(device, NULL);
    uint32_t hdr = ram - RAM_HEADER_SIZE;

    g_assert_cmphex(QXL_ROM_L(q, magic), ==, QXL_ROM_MAGIC);
    g_assert_cmpuint(QXL_ROM_L(q, modes_offset), ==, sizeof(QXLRom));
    g_assert_cmpuint(QXL_ROM_L(q, draw_area_offset), ==, 0);
    g_assert_cmpuint(QXL_ROM_L(q, surface0_area_size), ==, vgamem);
    g_assert_cmpuint(QXL_ROM_L(q, pages_offset), ==, vgamem);
    g_assert_cmpuint(QXL_ROM_L(q, num_pages), ==,
                     (ram - RAM_HEADER_SIZE - vgamem) / 4096);
    g_assert_cmpuint(QXL_ROM_L(q, ram_header_offset), ==, hdr);
    g_assert_cmpuint(QXL_ROM_L(q, update_id), ==, 0);
    g_assert_cmpuint(QXL_ROM_L(q, n_surfaces), ==, surfaces);
    g_assert_cmpuint(QXL_ROM_B(q, slots_start), ==, 1);
    g_assert_cmpuint(QXL_ROM_B(q, slots_end), ==, 7);
    g_assert_cmpuint(QXL_ROM_B(q, slot_gen_bits), ==, 8);
    g_assert_cmpuint(QXL_ROM_B(q, slot_id_bits), ==, 8);
    g_assert_cmpuint(QXL_ROM_B(q, slot_generation), ==, 0);
    /* The guest cannot write the ROM. */
    qtest_writel(q->qts, q->rom_addr, 0x12345678);
    g_assert_cmphex(QXL_ROM_L(q, magic), ==, QXL_ROM_MAGIC);

    g_assert_cmphex(qxl_bar0_readl(q, hdr), ==, QXL_RAM_MAGIC);
    /* CLIENT may already be pending: the SPICE server reports "no client". */
    g_assert_cmphex(QXL_RAM_L(q, int_pending) & ~QXL_INTERRUPT_CLIENT, ==, 0);
    g_assert_cmphex(QXL_RAM_L(q, int_mask), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.num_items), ==,
                     QXL_COMMAND_RING_SIZE);
    g_assert_cmpuint(QXL_RAM_L(q, cursor_ring.num_items), ==,
                     QXL_CURSOR_RING_SIZE);
    g_assert_cmpuint(QXL_RAM_L(q, release_ring.num_items), ==,
                     QXL_RELEASE_RING_SIZE);
    /* Empty rings that ask to be notified of the first command. */
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.prod), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.cons), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.notify_on_prod), ==, 1);
    g_assert_cmpuint(QXL_RAM_L(q, cursor_ring.notify_on_prod), ==, 1);
    g_assert_cmpuint(QXL_RAM_L(q, release_ring.prod), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, update_surface), ==, 0);
    qxl_stop(q);
}

static void test_layout(void)
{
    check_layout("qxl-vga", 64 * MiB, 16 * MiB, 1024);
    check_layout("qxl,vgamem_mb=8,ram_size_mb=32,surfaces=500",
                 32 * MiB, 8 * MiB, 500);
    /* vgamem is rounded up to a power of two. */
    check_layout("qxl-vga,vgamem_mb=12", 64 * MiB, 16 * MiB, 1024);
}

/* ---- modes table -------------------------------------------------------- */

static void check_modes(uint32_t vgamem_mb, uint32_t expected)
{
    g_autofree char *dev = g_strdup_printf("qxl-vga,vgamem_mb=%u", vgamem_mb);
    QXLDev *q = qxl_start(dev, NULL);
    uint32_t modes = QXL_ROM_L(q, modes_offset);
    uint32_t n = qxl_rom_readl(q, modes);
    uint32_t i;

    g_assert_cmpuint(n, ==, expected);
    g_assert_cmpuint(modes + 4 + n * sizeof(QXLMode), <=, q->rom_size);
    for (i = 0; i < n; i++) {
        QXLMode m;

        qxl_rom_read(q, modes + 4 + i * sizeof(m), &m, sizeof(m));
        g_assert_cmpuint(m.stride, ==, m.x_res * m.bits / 8);
        g_assert_true(m.bits == 16 || m.bits == 32);
        g_assert_cmpuint(m.orientation, <=, 1);
        /* Only modes that fit in vgamem are published. */
        g_assert_cmpuint((uint64_t)m.y_res * m.stride, <=,
                         (uint64_t)vgamem_mb * MiB);
    }
    qxl_stop(q);
}

static void test_modes(void)
{
    check_modes(8, 106);
    check_modes(16, 128);
    check_modes(32, 138);
    check_modes(64, 142);
    check_modes(128, 146);
    check_modes(256, 148);
}

/* ---- properties (what libvirt sets and reads back) ---------------------- */

static void check_props(const char *device, int64_t vgamem_mb,
                        int64_t ram_size, int64_t vram_size)
{
    QXLDev *q = qxl_start(device, NULL);

    g_assert_cmpint(qxl_qom_get_int(q, "vgamem_mb"), ==, vgamem_mb);
    g_assert_cmpint(qxl_qom_get_int(q, "ram_size"), ==, ram_size);
    g_assert_cmpint(qxl_qom_get_int(q, "vram_size"), ==, vram_size);
    qxl_stop(q);
}

static void test_properties(void)
{
    /* libvirt's default command line reads back unchanged. */
    check_props("qxl-vga,ram_size=67108864,vram_size=67108864,"
                "vram64_size_mb=0,vgamem_mb=16,max_outputs=1",
                16, 64 * MiB, 64 * MiB);
    /* vgamem clamped to 8..256; ram_size at least 2 x vgamem. */
    check_props("qxl-vga,vgamem_mb=4", 8, 64 * MiB, 64 * MiB);
    check_props("qxl,vgamem_mb=1000", 256, 512 * MiB, 64 * MiB);
    check_props("qxl-vga,vgamem_mb=64,ram_size=16777216", 64, 128 * MiB,
                64 * MiB);
    /* Sizes are rounded up to powers of two; BAR 1 is at least 4 KiB. */
    check_props("qxl-vga,ram_size=40000000,vram_size=5000", 16, 64 * MiB,
                8 * KiB);
    check_props("qxl-vga,vram_size=100", 16, 64 * MiB, 4 * KiB);
    check_props("qxl-vga,ram_size_mb=128,vram_size_mb=32", 16, 128 * MiB,
                32 * MiB);
}

/* ---- interrupts --------------------------------------------------------- */

static void test_irq(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    qxl_setup(q);
    qxl_set_int_mask(q, 0);
    qxl_create_primary(q, 64, 64);
    /* A masked source is pending but does not raise the line. */
    qxl_io(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
    g_assert_true(qxl_wait_irq(q, QXL_INTERRUPT_IO_CMD));
    g_assert_false(qxl_irq_line(q));
    /* Unmasking plus UPDATE_IRQ raises it... */
    qxl_set_int_mask(q, QXL_INTERRUPT_IO_CMD);
    g_assert_true(qxl_irq_line(q));
    /* ...a write of int_mask alone does not lower it... */
    QXL_RAM_SET_L(q, int_mask, 0);
    g_assert_true(qxl_irq_line(q));
    qxl_io(q, QXL_IO_UPDATE_IRQ, 0);
    g_assert_false(qxl_irq_line(q));
    /* ...and acknowledging the pending bit does. */
    qxl_set_int_mask(q, QXL_INTERRUPT_IO_CMD);
    g_assert_true(qxl_irq_line(q));
    qxl_ack_irq(q, QXL_INTERRUPT_IO_CMD);
    g_assert_false(qxl_irq_line(q));
    g_assert_cmphex(qxl_int_pending(q) & QXL_INTERRUPT_IO_CMD, ==, 0);

    /* An unmasked event raises the line by itself. */
    qxl_io(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
    g_assert_true(qxl_wait_irq(q, QXL_INTERRUPT_IO_CMD));
    g_assert_true(qxl_irq_line(q));
    qxl_stop(q);
}

/* ---- memslots ----------------------------------------------------------- */

static void test_memslots(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    qxl_setup(q);
    /* A second slot over BAR 1, then delete and re-add it. */
    qxl_memslot_add(q, 2, q->vram_addr, q->vram_addr + q->vram_size);
    qxl_io(q, QXL_IO_MEMSLOT_DEL, 2);
    qxl_memslot_add(q, 2, q->vram_addr, q->vram_addr + 4096);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_draws(q);

    /* Adding an active slot again. */
    qxl_memslot_add(q, QXL_TEST_SLOT, q->ram_addr, q->ram_addr + 4096);
    qxl_assert_guest_bug(q);
    /* Slot id out of range (8 slots). */
    qxl_memslot_add(q, 8, q->ram_addr, q->ram_addr + 4096);
    qxl_assert_guest_bug(q);
    /* start > end. */
    qxl_memslot_add(q, 3, q->ram_addr + 8192, q->ram_addr);
    qxl_assert_guest_bug(q);
    /* Not inside any BAR of the device. */
    qxl_memslot_add(q, 3, 0x1000, 0x2000);
    qxl_assert_guest_bug(q);
    /* Past the end of BAR 0. */
    qxl_memslot_add(q, 3, q->ram_addr, q->ram_addr + q->ram_size + 4096);
    qxl_assert_guest_bug(q);
    /* MEMSLOT_DEL out of range. */
    qxl_io(q, QXL_IO_MEMSLOT_DEL, 8);
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ---- primary surface ---------------------------------------------------- */

static void test_primary(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    qxl_setup(q);
    qxl_assert_draws(q);
    qxl_destroy_primary(q);
    /* Destroying again is a no-op, not an error. */
    qxl_destroy_primary(q);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_draws(q);
    /* Creating over an existing primary is a guest bug. */
    qxl_create_primary(q, 64, 64);
    qxl_create_primary(q, 64, 64);
    qxl_assert_guest_bug(q);
    /* CREATE/DESTROY_PRIMARY take 0 as their only value. */
    qxl_create_primary(q, 64, 64);
    qxl_io(q, QXL_IO_DESTROY_PRIMARY, 1);
    qxl_assert_guest_bug(q);
    /* The largest primary that fits vgamem (16 MiB) is accepted. */
    qxl_set_primary(q, 2048, 2048, 2048 * 4, SPICE_SURFACE_FMT_32_xRGB);
    qxl_io(q, QXL_IO_CREATE_PRIMARY, 0);
    qxl_destroy_primary(q);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    /* One byte more is not. */
    qxl_set_primary(q, 2048, 2049, 2048 * 4, SPICE_SURFACE_FMT_32_xRGB);
    qxl_io(q, QXL_IO_CREATE_PRIMARY, 0);
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ---- rings and releases ------------------------------------------------- */

static bool contains(const uint64_t *ids, int n, uint64_t id)
{
    int i;

    for (i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

static void test_cmd_ring(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");
    uint64_t expect[5], ids[64];
    int i, n;

    /* Ask for DISPLAY once the device has consumed three commands. */
    QXL_RAM_SET_L(q, cmd_ring.notify_on_cons, 3);
    for (i = 0; i < 5; i++) {
        QXLRect r = { .top = i * 8, .left = 0, .bottom = i * 8 + 8,
                      .right = 64 };
        uint32_t off = qxl_new_fill(q, 0, &r, 0x010101 * (i + 1));

        expect[i] = qxl_release_id(off);
        qxl_push_draw(q, off);
    }
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    g_assert_true(qxl_wait_irq(q, QXL_INTERRUPT_DISPLAY));
    qxl_update_area(q, 0, &rect64);
    for (i = 0; i < 5; i++) {
        g_assert_cmphex(qxl_primary_pixel(q, 5, i * 8 + 3, 256), ==,
                        0x010101 * (i + 1));
    }
    /* Every drawable comes back exactly once, with its own id. */
    n = qxl_collect_releases(q, ids, ARRAY_SIZE(ids), 5);
    g_assert_cmpint(n, ==, 5);
    for (i = 0; i < 5; i++) {
        g_assert_true(contains(ids, n, expect[i]));
    }
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_stop(q);
}

/*
 * Releases are published in batches of 32 chained ids; FLUSH_RELEASE
 * publishes a partial batch.
 */
static void test_release_batching(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");
    uint64_t ids[64];
    gint64 end;
    int i, n;

    for (i = 0; i < 40; i++) {
        qxl_push_draw(q, qxl_new_fill(q, 0, &rect64, i));
    }
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 0, &rect64);
    /* A full batch shows up without FLUSH_RELEASE... */
    end = g_get_monotonic_time() + QXL_WAIT_US;
    while (QXL_RAM_L(q, release_ring.prod) == QXL_RAM_L(q, release_ring.cons)
           && g_get_monotonic_time() < end) {
        g_usleep(1000);
    }
    n = qxl_pop_release(q, ids, ARRAY_SIZE(ids));
    g_assert_cmpint(n, ==, 32);
    /* ...the rest waits for one. */
    g_assert_cmpuint(QXL_RAM_L(q, release_ring.prod), ==,
                     QXL_RAM_L(q, release_ring.cons));
    qxl_io(q, QXL_IO_FLUSH_RELEASE, 0);
    n = qxl_pop_release(q, ids, ARRAY_SIZE(ids));
    g_assert_cmpint(n, ==, 8);
    qxl_stop(q);
}

static void test_cursor_ring(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");
    uint32_t set, move;
    uint64_t ids[8];
    int n;

    QXL_RAM_SET_L(q, cursor_ring.notify_on_cons, 2);
    set = qxl_new_cursor_set(q, qxl_new_cursor_shape(q, 32, 32, 32 * 32 * 4));
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR, qxl_phys(q, set));
    move = qxl_new_cursor_move(q, 10, 20);
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR, qxl_phys(q, move));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CURSOR));
    g_assert_true(qxl_wait_irq(q, QXL_INTERRUPT_CURSOR));
    /* A move is done with as soon as it is consumed. */
    n = qxl_collect_releases(q, ids, ARRAY_SIZE(ids), 1);
    g_assert_true(contains(ids, n, qxl_release_id(move)));
    /* A shape is held until another one replaces it. */
    g_assert_false(contains(ids, n, qxl_release_id(set)));
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_set(q,
                          qxl_new_cursor_shape(q, 16, 16, 16 * 16 * 4))));
    n = qxl_collect_releases(q, ids, ARRAY_SIZE(ids), 1);
    g_assert_true(contains(ids, n, qxl_release_id(set)));
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_stop(q);
}

/* A pixel of a 32 bpp secondary surface made by qxl_new_surface_create(). */
static uint32_t surface_pixel(QXLDev *q, uint32_t create, uint32_t x,
                              uint32_t y)
{
    uint32_t cmd = create + offsetof(QXLSurfaceCmd, u.surface_create);
    uint64_t data = qxl_bar0_readq(q, cmd + offsetof(QXLSurface, data));
    int32_t stride = qxl_bar0_readl(q, cmd + offsetof(QXLSurface, stride));

    /* The driver's QXLPHYSICALs are BAR 0 offsets in the low 48 bits. */
    data &= (1ULL << 48) - 1;
    return qxl_bar0_readl(q, data + y * stride + x * 4) & 0xffffff;
}

/* Secondary surfaces: created and destroyed by ring commands. */
static void test_surfaces(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");
    QXLRect r = { .top = 0, .left = 0, .bottom = 16, .right = 16 };
    uint32_t create, destroy;
    uint64_t ids[8];
    int n;

    create = qxl_new_surface_create(q, 1, 16, 16);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, create));
    qxl_push_draw(q, qxl_new_fill(q, 1, &r, 0x123456));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 1, &r);
    /* The surface's memory is the guest's: the fill landed there. */
    g_assert_cmphex(surface_pixel(q, create, 0, 0), ==, 0x123456);
    destroy = qxl_new_surface_destroy(q, 1);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, destroy));
    /* Destroying a surface gives back both commands. */
    n = qxl_collect_releases(q, ids, ARRAY_SIZE(ids), 2);
    g_assert_true(contains(ids, n, qxl_release_id(create)));
    g_assert_true(contains(ids, n, qxl_release_id(destroy)));
    /* DESTROY_SURFACE_WAIT 0 is the primary. */
    qxl_io(q, QXL_IO_DESTROY_SURFACE_WAIT, 0);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_io(q, QXL_IO_DESTROY_ALL_SURFACES, 0);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/*
 * A surface in BAR 1 through a second memslot: QXLPHYSICAL offsets are
 * relative to the start of their slot.
 */
static void test_surface_in_vram(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");
    QXLRect r = { .top = 0, .left = 0, .bottom = 16, .right = 16 };
    uint32_t create = qxl_new_surface_create(q, 1, 16, 16);

    qxl_memslot_add(q, 2, q->vram_addr + 64 * KiB, q->vram_addr + MiB);
    qxl_bar0_writeq(q, create + offsetof(QXLSurfaceCmd, u.surface_create.data),
                    qxl_phys_slot(2, 4 * KiB));
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, create));
    qxl_push_draw(q, qxl_new_fill(q, 1, &r, 0x345678));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 1, &r);
    g_assert_cmphex(qtest_readl(q->qts, q->vram_addr + 68 * KiB + 15 * 64 + 60)
                    & 0xffffff, ==, 0x345678);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_stop(q);
}

/* ---- other ports -------------------------------------------------------- */

static void test_ports_misc(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);
    uint8_t junk[QXL_LOG_BUF_SIZE];
    int port;

    qxl_setup(q);
    /* Reads return all ones. */
    g_assert_cmphex(qpci_io_readb(q->dev, q->io, QXL_IO_NOTIFY_CMD), ==, 0xff);
    /* LOG must cope with a buffer that is not NUL-terminated. */
    memset(junk, 'A', sizeof(junk));
    qxl_bar0_write(q, QXL_RAM_OFF(q, log_buf), junk, sizeof(junk));
    qxl_io(q, QXL_IO_LOG, 0);
    /* OOM with an empty release ring. */
    qxl_create_primary(q, 64, 64);
    qxl_io(q, QXL_IO_NOTIFY_OOM, 0);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_alive(q);

    /* SET_MODE (qxl-1) publishes the mode number in the ROM. */
    qxl_reset(q);
    qxl_io(q, QXL_IO_SET_MODE, 3);
    g_assert_cmpuint(QXL_ROM_L(q, mode), ==, 3);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_io(q, QXL_IO_SET_MODE, 200);
    qxl_assert_guest_bug(q);

    /* DETACH/ATTACH_PRIMARY and ports past the last one are bugs. */
    for (port = QXL_IO_DETACH_PRIMARY; port < 32; port++) {
        if (port == QXL_IO_ATTACH_PRIMARY + 1) {
            port = QXL_IO_RANGE_SIZE;
        }
        qxl_create_primary(q, 64, 64);
        qxl_io(q, port, 0);
        qxl_assert_guest_bug(q);
    }
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* Revision 3 has no MONITORS_CONFIG_ASYNC. */
static void test_port_revision_gate(void)
{
    QXLDev *q = qxl_start_native("qxl-vga,revision=3");

    qxl_io(q, QXL_IO_MONITORS_CONFIG_ASYNC, 0);
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* In VGA mode only setup ports work; async ones still complete. */
static void test_vga_mode_ports(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    qxl_setup(q);
    g_assert_true(qxl_io_async(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0));
    g_assert_true(qxl_io_async(q, QXL_IO_DESTROY_ALL_SURFACES_ASYNC, 0));
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ---- async I/O ---------------------------------------------------------- */

static void test_async(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);

    qxl_setup(q);
    qxl_set_primary(q, 64, 64, 256, SPICE_SURFACE_FMT_32_xRGB);
    g_assert_true(qxl_io_async(q, QXL_IO_CREATE_PRIMARY_ASYNC, 0));
    qxl_push_draw(q, qxl_new_fill(q, 0, &rect64, 0x00ff00));
    qxl_set_update_area(q, 0, &rect64);
    g_assert_true(qxl_io_async(q, QXL_IO_UPDATE_AREA_ASYNC, 0));
    g_assert_cmphex(qxl_primary_pixel(q, 63, 63, 256), ==, 0x00ff00);

    QXL_RAM_SET_Q(q, mem_slot.mem_start, q->vram_addr);
    QXL_RAM_SET_Q(q, mem_slot.mem_end, q->vram_addr + q->vram_size);
    g_assert_true(qxl_io_async(q, QXL_IO_MEMSLOT_ADD_ASYNC, 2));
    g_assert_true(qxl_io_async(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0));

    qxl_new_monitors_config(q, 1, 1);
    g_assert_true(qxl_io_async(q, QXL_IO_MONITORS_CONFIG_ASYNC, 0));

    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE,
             qxl_phys(q, qxl_new_surface_create(q, 5, 8, 8)));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    g_assert_true(qxl_io_async(q, QXL_IO_DESTROY_SURFACE_ASYNC, 5));
    g_assert_true(qxl_io_async(q, QXL_IO_DESTROY_PRIMARY_ASYNC, 0));
    g_assert_true(qxl_io_async(q, QXL_IO_DESTROY_ALL_SURFACES_ASYNC, 0));
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/*
 * Only one async operation may be in flight.  To have the first one still
 * running when the second arrives, it is an UPDATE_AREA over a 2048x2048
 * primary with many non-opaque draws pending, which keeps the SPICE
 * worker busy for far longer than one qtest round trip.
 */
static void test_async_one_in_flight(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);
    QXLRect all = { .top = 0, .left = 0, .bottom = 2048, .right = 2048 };
    int i;

    qxl_setup(q);
    qxl_set_primary(q, 2048, 2048, 2048 * 4, SPICE_SURFACE_FMT_32_xRGB);
    qxl_io(q, QXL_IO_CREATE_PRIMARY, 0);
    for (i = 0; i < 30; i++) {
        uint32_t d = qxl_new_fill(q, 0, &all, 0x10101 * i);

        /* XOR: every draw has to be rendered, none hides another. */
        qtest_writew(q->qts, q->ram_addr + d +
                     offsetof(QXLDrawable, u.fill.rop_descriptor),
                     SPICE_ROPD_OP_XOR);
        qtest_writeb(q->qts, q->ram_addr + d + offsetof(QXLDrawable, effect),
                     QXL_EFFECT_BLEND);
        qxl_push_draw(q, d);
    }
    qxl_set_update_area(q, 0, &all);
    qxl_io(q, QXL_IO_UPDATE_AREA_ASYNC, 0);
    qxl_io(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ---- reset -------------------------------------------------------------- */

static void test_reset(void)
{
    QXLDev *q = qxl_start("qxl-vga", NULL);
    uint32_t hdr = q->ram_header;

    qxl_setup(q);
    qxl_assert_draws(q);
    QXL_RAM_SET_L(q, int_pending, QXL_INTERRUPT_DISPLAY);
    qxl_io(q, QXL_IO_RESET, 0);
    /* The RAM header is back to its initial state... */
    g_assert_cmphex(qxl_bar0_readl(q, hdr), ==, QXL_RAM_MAGIC);
    g_assert_cmphex(QXL_RAM_L(q, int_mask), ==, 0);
    g_assert_cmphex(QXL_RAM_L(q, int_pending) & ~QXL_INTERRUPT_CLIENT, ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.prod), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.cons), ==, 0);
    g_assert_cmpuint(QXL_RAM_L(q, cmd_ring.notify_on_prod), ==, 1);
    g_assert_cmpuint(QXL_RAM_L(q, release_ring.prod), ==, 0);
    g_assert_cmpuint(QXL_ROM_L(q, update_id), ==, 0);
    g_assert_false(qxl_irq_line(q));
    /* ...memslots are gone (re-adding slot 1 is not an error)... */
    qxl_setup(q);
    /* ...and so is the primary: creating one is not an error. */
    qxl_assert_draws(q);

    /* A system reset does the same as QXL_IO_RESET. */
    qtest_qmp_assert_success(q->qts, "{'execute': 'system_reset'}");
    /* Firmware would program the BARs again. */
    qxl_pci_restore(q);
    g_assert_cmphex(QXL_RAM_L(q, int_mask), ==, 0);
    qxl_setup(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ---- monitors config ---------------------------------------------------- */

/* Guest to SPICE: the config is taken and completion signalled. */
static void test_monitors_config_guest(void)
{
    QXLDev *q = qxl_start_native("qxl-vga,max_outputs=2");

    /* Two 64x64 heads side by side. */
    qxl_new_monitors_config(q, 2, 2);
    g_assert_true(qxl_io_async(q, QXL_IO_MONITORS_CONFIG_ASYNC, 0));
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_stop(q);
}

/* SPICE to guest: the ROM's initial client config comes from xres/yres. */
static void check_client_monitors_config(const char *device, uint32_t count,
                                         uint32_t right, uint32_t bottom)
{
    QXLDev *q = qxl_start(device, NULL);
    size_t off = offsetof(QXLRom, client_monitors_config);
    size_t len = sizeof(((QXLRom *)0)->client_monitors_config);
    g_autofree uint8_t *cfg = g_malloc(len);
    QXLURect head;

    qxl_rom_read(q, off, cfg, len);
    g_assert_cmpuint(*(uint16_t *)cfg, ==, count);
    memcpy(&head, cfg + 4, sizeof(head));
    g_assert_cmpuint(head.left, ==, 0);
    g_assert_cmpuint(head.top, ==, 0);
    g_assert_cmpuint(head.right, ==, right);
    g_assert_cmpuint(head.bottom, ==, bottom);
    if (count) {
        g_assert_cmphex(QXL_ROM_L(q, client_monitors_config_crc), ==,
                        qxl_crc32(cfg, len));
    } else {
        g_assert_cmphex(QXL_ROM_L(q, client_monitors_config_crc), ==, 0);
    }
    g_assert_cmpuint(QXL_ROM_B(q, client_present), ==, 0);
    qxl_stop(q);
}

static void test_monitors_config_rom(void)
{
    check_client_monitors_config("qxl-vga", 0, 0, 0);
    check_client_monitors_config("qxl-vga,xres=1024,yres=768", 1, 1024, 768);
    check_client_monitors_config("qxl,xres=1920,yres=1080", 1, 1920, 1080);
}

/* ---- migration ---------------------------------------------------------- */

static void wait_migration(QTestState *qts)
{
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    for (;;) {
        QDict *resp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(resp, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";
        bool done = g_str_equal(st, "completed");

        g_assert_cmpstr(st, !=, "failed");
        qobject_unref(resp);
        if (done) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10 * 1000);
    }
}

static void wait_running(QTestState *qts)
{
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    for (;;) {
        QDict *resp = qtest_qmp(qts, "{'execute': 'query-status'}");
        bool running = g_str_equal(
            qdict_get_str(qdict_get_qdict(resp, "return"), "status"),
            "running");

        qobject_unref(resp);
        if (running) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10 * 1000);
    }
}

/*
 * NATIVE mode with a 64x64 primary, @primary_area of it filled with
 * 0xabcdef, and a 16x16 surface 1 whose top-left 8x8 is 0x111111.
 * Returns the surface's create command.
 */
static uint32_t draw_primary_and_surface(QXLDev *q,
                                         const QXLRect *primary_area)
{
    QXLRect r = { .top = 0, .left = 0, .bottom = 8, .right = 8 };
    uint32_t surf;

    qxl_setup(q);
    qxl_set_int_mask(q, QXL_INTERRUPT_DISPLAY | QXL_INTERRUPT_ERROR);
    qxl_create_primary(q, 64, 64);
    qxl_push_draw(q, qxl_new_fill(q, 0, primary_area, 0xabcdef));
    surf = qxl_new_surface_create(q, 1, 16, 16);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, surf));
    qxl_push_draw(q, qxl_new_fill(q, 1, &r, 0x111111));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    return surf;
}

/* After a load: the primary and surface 1 (@surf) are there, take draws. */
static void assert_draws_go_on(QXLDev *dst, uint32_t surf)
{
    QXLRect r = { .top = 0, .left = 0, .bottom = 8, .right = 8 };

    qxl_push_draw(dst, qxl_new_fill(dst, 0, &rect64, 0x00ff00));
    qxl_push_draw(dst, qxl_new_fill(dst, 1, &r, 0x222222));
    g_assert_true(qxl_wait_ring_empty(dst, QXL_RING_CMD));
    qxl_update_area(dst, 0, &rect64);
    qxl_update_area(dst, 1, &r);
    g_assert_cmphex(qxl_primary_pixel(dst, 40, 40, 256), ==, 0x00ff00);
    g_assert_cmphex(surface_pixel(dst, surf, 1, 1), ==, 0x222222);
}

/*
 * Save the device in NATIVE mode with a drawn primary and a secondary
 * surface to a file, load it in a second VM, and check that ROM, RAM
 * header and surface memory came across and that the destination keeps
 * working without any new setup (memslots, primary and surface 1
 * restored by the device).
 */
static void test_migration(void)
{
    QXLDev *src = qxl_start("qxl-vga", NULL);
    QXLDev *dst;
    QXLRect r = { .top = 0, .left = 0, .bottom = 8, .right = 8 };
    g_autofree char *file = qxl_tmp_path(src, "state");
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    g_autofree uint8_t *rom_a = g_malloc(src->rom_size);
    g_autofree uint8_t *rom_b = g_malloc(src->rom_size);
    g_autofree uint8_t *ram_a = g_malloc(RAM_HEADER_SIZE);
    g_autofree uint8_t *ram_b = g_malloc(RAM_HEADER_SIZE);
    uint32_t surf;

    surf = draw_primary_and_surface(src, &r);
    qxl_update_area(src, 0, &rect64);
    qxl_update_area(src, 1, &r);
    g_assert_cmphex(qxl_primary_pixel(src, 1, 1, 256), ==, 0xabcdef);
    g_assert_cmphex(surface_pixel(src, surf, 1, 1), ==, 0x111111);

    qtest_qmp_assert_success(src->qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    wait_migration(src->qts);
    qxl_rom_read(src, 0, rom_a, src->rom_size);
    qxl_bar0_read(src, src->ram_header, ram_a, RAM_HEADER_SIZE);

    dst = qxl_start("qxl-vga", "-incoming defer");
    qtest_qmp_assert_success(dst->qts, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': %s}}", uri);
    wait_running(dst->qts);
    g_assert_cmphex(dst->ram_addr, ==, src->ram_addr);
    qxl_rom_read(dst, 0, rom_b, dst->rom_size);
    qxl_bar0_read(dst, dst->ram_header, ram_b, RAM_HEADER_SIZE);
    g_assert_cmpmem(rom_a, src->rom_size, rom_b, dst->rom_size);
    g_assert_cmpmem(ram_a, RAM_HEADER_SIZE, ram_b, RAM_HEADER_SIZE);
    g_assert_cmphex(qxl_primary_pixel(dst, 1, 1, 256), ==, 0xabcdef);
    g_assert_cmphex(surface_pixel(dst, surf, 1, 1), ==, 0x111111);
    /* New objects go after the source's, as the guest driver's would. */
    dst->alloc_next = src->alloc_next;
    qxl_stop(src);

    /* Primary and surface 1 exist on the destination and take draws. */
    assert_draws_go_on(dst, surf);
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    qxl_stop(dst);
}

/* Save a VM to @file (the source is left stopped). */
static void save_to_file(QTestState *qts, const char *file)
{
    g_autofree char *uri = g_strdup_printf("file:%s", file);

    qtest_qmp_assert_success(qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    wait_migration(qts);
}

/*
 * Load @file into a new VM started with @device and @extra; the VM stays
 * up whatever the outcome.  Returns it and sets *@loaded to whether the
 * load completed (else it failed).
 */
static QXLDev *load_from_file_on(const char *binary_env, const char *device,
                                 const char *extra, const char *file,
                                 bool *loaded)
{
    g_autofree char *args = g_strdup_printf("-incoming defer %s",
                                            extra ? extra : "");
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    QXLDev *q = qxl_start_on(binary_env, device, args);

    qtest_qmp_assert_success(q->qts, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': %s, "
                             "'exit-on-error': false}}", uri);
    for (;;) {
        QDict *resp = qtest_qmp(q->qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(resp, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";
        bool failed = g_str_equal(st, "failed");

        *loaded = g_str_equal(st, "completed");
        qobject_unref(resp);
        if (*loaded || failed) {
            return q;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10 * 1000);
    }
}

static QXLDev *load_from_file(const char *device, const char *extra,
                              const char *file, bool *loaded)
{
    return load_from_file_on(QXL_OURS_ENV, device, extra, file, loaded);
}

/*
 * The two ends of a migration: our QEMU or stock QEMU 10.0 (given in
 * QXL_STOCK_ENV by the test runner; the test is skipped without it).
 */
typedef struct QXLPeers {
    const char *src_env;
    const char *dst_env;
} QXLPeers;

static const QXLPeers ours_to_ours = { QXL_OURS_ENV, QXL_OURS_ENV };
static const QXLPeers ours_to_stock = { QXL_OURS_ENV, QXL_STOCK_ENV };
static const QXLPeers stock_to_ours = { QXL_STOCK_ENV, QXL_OURS_ENV };

static void skip_without_stock(const void *data)
{
    g_test_skip("no stock QEMU: set " QXL_STOCK_ENV
                " (scripts/build-stock-qemu.sh prints it)");
}

/* A migration test between @peers; skipped when stock QEMU is missing. */
static void add_migration_test(const char *path, const QXLPeers *peers,
                               void (*fn)(const void *data))
{
    if (peers != &ours_to_ours && !getenv(QXL_STOCK_ENV)) {
        qtest_add_data_func(path, peers, skip_without_stock);
    } else {
        qxl_test_add_data(path, peers, fn);
    }
}

/*
 * Where the open release batch (num_free_res, then last_release_offset,
 * big-endian) of device @q lies in a stream saved in NATIVE mode after
 * qxl_setup().  The "qxl" section header names the device; after the PCI
 * and VGA state come rom_mode, num_free_res, last_release_offset, mode,
 * unique, num_memslots (8) and the slots, of which slot 1 is the driver's.
 */
static uint8_t *stream_release_batch(uint8_t *stream, size_t len, QXLDev *q)
{
    static const char idstr[] = "0000:00:02.0/qxl";
    uint8_t header[1 + sizeof(idstr) - 1 + 8] = { sizeof(idstr) - 1 };
    uint8_t slots[4 + 20 + 20] = { 0 };
    uint8_t *sec, *at;

    memcpy(header + 1, idstr, sizeof(idstr) - 1);
    stl_be_p(header + sizeof(idstr) + 4, 21);       /* instance 0, v21 */
    sec = memmem(stream, len, header, sizeof(header));
    g_assert_nonnull(sec);
    stl_be_p(slots, 8);
    stq_be_p(slots + 24, q->ram_addr);
    stq_be_p(slots + 32, q->ram_addr + q->ram_size);
    stl_be_p(slots + 40, 1);
    at = memmem(sec, stream + len - sec, slots, sizeof(slots));
    g_assert_nonnull(at);
    g_assert_cmpuint(ldl_be_p(at - 8), ==, 3);      /* NATIVE */
    return at - 16;
}

/* Copy @file to @copy with the release batch of the stream replaced. */
static void patch_release_batch(QXLDev *q, const char *file,
                                const char *copy, uint32_t count,
                                uint32_t offset)
{
    g_autofree char *data = NULL;
    gsize len;
    uint8_t *batch;

    g_assert_true(g_file_get_contents(file, &data, &len, NULL));
    batch = stream_release_batch((uint8_t *)data, len, q);
    stl_be_p(batch, count);
    stl_be_p(batch + 4, offset);
    g_assert_true(g_file_set_contents(copy, data, len, NULL));
}

/*
 * The stream's release batch is checked on load: its tail must be a whole
 * QXLReleaseInfo (8 bytes) inside BAR 0, since the device writes the
 * tail's "next" when it chains the next release.  A tail less than 8 bytes
 * from the end of BAR 0 (or a count beyond what the device memory holds)
 * fails the load; one that just fits loads.
 */
static void test_migration_release_batch(void)
{
    const char *device = "qxl-vga,vgamem_mb=8,ram_size_mb=16,vram_size_mb=1";
    const char *extra = "-m 32";
    QXLDev *src = qxl_start(device, extra);
    QXLDev *dst;
    g_autofree char *file = qxl_tmp_path(src, "state");
    g_autofree char *bad = qxl_tmp_path(src, "bad");
    uint64_t ram_size = src->ram_size;
    bool loaded;

    qxl_setup(src);
    qxl_create_primary(src, 64, 64);
    qxl_push_draw(src, qxl_new_fill(src, 0, &rect64, 0x00ff00));
    g_assert_true(qxl_wait_ring_empty(src, QXL_RING_CMD));
    save_to_file(src->qts, file);

    /* The tail just fits: loads. */
    patch_release_batch(src, file, bad, 1, ram_size - 8);
    dst = load_from_file(device, extra, bad, &loaded);
    g_assert_true(loaded);
    qxl_stop(dst);

    /* Its "next" past the end of BAR 0: refused. */
    patch_release_batch(src, file, bad, 1, ram_size - 4);
    dst = load_from_file(device, extra, bad, &loaded);
    g_assert_false(loaded);
    qtest_qmp_assert_success(dst->qts, "{'execute': 'query-status'}");
    qxl_stop(dst);

    /* More ids than release infos fit in the device's memory: refused. */
    patch_release_batch(src, file, bad, UINT32_MAX, 0);
    dst = load_from_file(device, extra, bad, &loaded);
    g_assert_false(loaded);
    qxl_stop(dst);
    qxl_stop(src);
}

/* screendump of the VM's console 0, as a file's contents. */
static char *screendump(QXLDev *q, const char *name, gsize *len)
{
    g_autofree char *file = qxl_tmp_path(q, name);
    char *data;

    qtest_qmp_assert_success(q->qts, "{'execute': 'screendump', "
                             "'arguments': {'filename': %s}}", file);
    g_assert_true(g_file_get_contents(file, &data, len, NULL));
    return data;
}

/*
 * COMPAT mode (a qxl-1 driver's SET_MODE: a bottom-up 32 bpp primary at
 * the start of BAR 0, through the device's own slot 0) survives
 * migration: the destination shows the same picture, without a guest
 * bug.
 */
static void test_migration_compat(const void *data)
{
    const QXLPeers *peers = data;
    const uint32_t mode = 1, w = 640, h = 480;   /* 640x480, 32 bpp */
    static const uint32_t band[] = { 0xff0000, 0x00ff00, 0x0000ff, 0xffffff };
    QXLDev *src;
    QXLDev *dst;
    g_autofree char *file = NULL;
    g_autofree uint32_t *fb = NULL;
    g_autofree char *pic_a = NULL, *pic_b = NULL;
    g_autofree char *ppm = g_strdup_printf("P6\n%u %u\n255\n", w, h);
    uint32_t modes;
    QXLMode m;
    gsize len_a, len_b;
    bool loaded;

    src = qxl_start_on(peers->src_env, "qxl-vga", NULL);
    file = qxl_tmp_path(src, "state");
    modes = QXL_ROM_L(src, modes_offset);
    fb = g_new(uint32_t, w * h);
    qxl_rom_read(src, modes + 4 + mode * sizeof(m), &m, sizeof(m));
    g_assert_cmpuint(m.x_res, ==, w);
    g_assert_cmpuint(m.y_res, ==, h);
    g_assert_cmpuint(m.bits, ==, 32);
    qxl_io(src, QXL_IO_SET_MODE, mode);
    g_assert_cmpuint(QXL_ROM_L(src, mode), ==, mode);

    /* Four bands, top to bottom; the bottom line comes first in BAR 0. */
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            fb[(h - 1 - y) * w + x] = band[y * 4 / h] ^ (x < w / 2 ? 0 : 0x80);
        }
    }
    qxl_bar0_write(src, 0, fb, w * h * 4);
    pic_a = screendump(src, "a.ppm", &len_a);
    g_assert_cmpuint(len_a, ==, strlen(ppm) + w * h * 3);
    g_assert_cmpmem(pic_a, strlen(ppm), ppm, strlen(ppm));
    /* Top-left pixel: red. */
    g_assert_cmphex((uint8_t)pic_a[strlen(ppm)], ==, 0xff);
    g_assert_cmphex((uint8_t)pic_a[strlen(ppm) + 1], ==, 0);
    save_to_file(src->qts, file);

    dst = load_from_file_on(peers->dst_env, "qxl-vga", NULL, file, &loaded);
    g_assert_true(loaded);
    wait_running(dst->qts);
    g_assert_cmpuint(QXL_ROM_L(dst, mode), ==, mode);
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    pic_b = screendump(dst, "b.ppm", &len_b);
    g_assert_cmpmem(pic_a, len_a, pic_b, len_b);
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    qxl_stop(dst);
    qxl_stop(src);
}

/*
 * Load the state saved in @file into @peers's destination, which takes
 * over from @src (stopped here): its allocations go on after the source's.
 */
static QXLDev *take_over(QXLDev *src, const QXLPeers *peers,
                         const char *device, const char *file)
{
    QXLDev *dst;
    bool loaded;

    dst = load_from_file_on(peers->dst_env, device, NULL, file, &loaded);
    g_assert_true(loaded);
    wait_running(dst->qts);
    dst->alloc_next = src->alloc_next;
    qxl_stop(src);
    return dst;
}

/*
 * An async request in flight when the VM stops for migration: the guest
 * waits for its IO_CMD, which must reach it on the destination (raised
 * before the source stopped, or after the load), and the destination takes
 * new async requests.
 */
static void test_migration_async_in_flight(const void *data)
{
    const QXLPeers *peers = data;
    QXLRect half = { .top = 0, .left = 0, .bottom = 32, .right = 64 };
    QXLDev *src, *dst;
    g_autofree char *file = NULL;

    src = qxl_start_on(peers->src_env, "qxl-vga", NULL);
    file = qxl_tmp_path(src, "state");
    qxl_setup(src);
    qxl_set_int_mask(src, QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR);
    qxl_create_primary(src, 64, 64);
    qxl_push_draw(src, qxl_new_fill(src, 0, &rect64, 0x123456));
    g_assert_true(qxl_wait_ring_empty(src, QXL_RING_CMD));

    /* The request, and the migration at once, without waiting for it. */
    qxl_ack_irq(src, QXL_INTERRUPT_IO_CMD);
    qxl_set_update_area(src, 0, &rect64);
    qxl_io(src, QXL_IO_UPDATE_AREA_ASYNC, 0);
    save_to_file(src->qts, file);

    dst = take_over(src, peers, "qxl-vga", file);
    g_assert_true(qxl_wait_irq(dst, QXL_INTERRUPT_IO_CMD));
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    g_assert_cmphex(qxl_primary_pixel(dst, 10, 10, 256), ==, 0x123456);

    /* The next async request works: none is left in flight. */
    qxl_push_draw(dst, qxl_new_fill(dst, 0, &half, 0x00ff00));
    g_assert_true(qxl_wait_ring_empty(dst, QXL_RING_CMD));
    qxl_set_update_area(dst, 0, &rect64);
    g_assert_true(qxl_io_async(dst, QXL_IO_UPDATE_AREA_ASYNC, 0));
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    g_assert_cmphex(qxl_primary_pixel(dst, 10, 10, 256), ==, 0x00ff00);
    g_assert_cmphex(qxl_primary_pixel(dst, 10, 40, 256), ==, 0x123456);
    qxl_stop(dst);
}

/*
 * A lone secondary "qxl" device (no VGA) in native mode, with a drawn
 * primary and a live surface: the destination shows them and draws on.
 */
static void test_migration_secondary(const void *data)
{
    const QXLPeers *peers = data;
    QXLDev *src, *dst;
    g_autofree char *file = NULL;
    uint32_t surf;

    src = qxl_start_on(peers->src_env, "qxl", NULL);
    file = qxl_tmp_path(src, "state");
    surf = draw_primary_and_surface(src, &rect64);
    qxl_update_area(src, 0, &rect64);
    save_to_file(src->qts, file);

    dst = take_over(src, peers, "qxl", file);
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    g_assert_cmphex(qxl_primary_pixel(dst, 1, 1, 256), ==, 0xabcdef);

    /* Primary and surface 1 are there and take draws. */
    assert_draws_go_on(dst, surf);
    QXL_ASSERT_NO_ERROR_IRQ(dst);
    qxl_stop(dst);
}

/* QEMU's threads named "SPICE Worker": one per QXLInstance of spice's. */
static int spice_workers(QXLDev *q)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task",
                                           (int)qtest_pid(q->qts));
    GDir *tasks = g_dir_open(dir, 0, NULL);
    const char *task;
    int n = 0;

    g_assert_nonnull(tasks);
    while ((task = g_dir_read_name(tasks))) {
        g_autofree char *path = g_strdup_printf("%s/%s/comm", dir, task);
        g_autofree char *comm = NULL;

        if (g_file_get_contents(path, &comm, NULL, NULL) &&
            g_str_equal(g_strchomp(comm), "SPICE Worker")) {
            n++;
        }
    }
    g_dir_close(tasks);
    return n;
}

/*
 * A secondary device is unplugged: spice-server lets go of it (its worker
 * thread ends), the VM goes on through stop, cont and reset (which go
 * through spice-server's devices), and a new device in the slot, which
 * gets the closed console back, works.
 */
static void test_hot_unplug(void)
{
    QXLDev *q = qxl_start("qxl", NULL);

    qxl_setup(q);
    qxl_assert_draws(q);
    /* Leave a primary and a drawable with spice-server. */
    qxl_create_primary(q, 64, 64);
    qxl_push_draw(q, qxl_new_fill(q, 0, &rect64, 0x123456));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    g_assert_cmpint(spice_workers(q), ==, 1);

    qpci_unplug_acpi_device_test(q->qts, "qxl0", 2);
    g_assert_cmpint(spice_workers(q), ==, 0);
    qtest_qmp_assert_success(q->qts, "{'execute': 'stop'}");
    qtest_qmp_assert_success(q->qts, "{'execute': 'cont'}");
    qtest_qmp_assert_success(q->qts, "{'execute': 'system_reset'}");
    qxl_assert_alive(q);

    qtest_qmp_device_add(q->qts, "qxl", "qxl0", "{'addr': '2.0'}");
    g_assert_cmpint(spice_workers(q), ==, 1);
    qxl_pci_restore(q);
    qxl_setup(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* The secondary device (no VGA) works the same way. */
static void test_secondary_device(void)
{
    QXLDev *q = qxl_start("qxl", NULL);

    qxl_setup(q);
    qxl_assert_draws(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_data_func("/qxl/pci-identity/qxl-vga", "qxl-vga",
                        test_pci_identity);
    qtest_add_data_func("/qxl/pci-identity/qxl", "qxl", test_pci_identity);
    qxl_test_add("/qxl/bar-sizes", test_bar_sizes);
    qxl_test_add("/qxl/io-bar-per-revision", test_io_bar_per_revision);
    qxl_test_add("/qxl/invalid-revision", test_invalid_revision);
    qxl_test_add("/qxl/invalid-max-outputs", test_invalid_max_outputs);
    qxl_test_add("/qxl/layout", test_layout);
    qxl_test_add("/qxl/modes", test_modes);
    qxl_test_add("/qxl/properties", test_properties);
    qxl_test_add("/qxl/irq", test_irq);
    qxl_test_add("/qxl/memslots", test_memslots);
    qxl_test_add("/qxl/primary", test_primary);
    qxl_test_add("/qxl/cmd-ring", test_cmd_ring);
    qxl_test_add("/qxl/release-batching", test_release_batching);
    qxl_test_add("/qxl/cursor-ring", test_cursor_ring);
    qxl_test_add("/qxl/surfaces", test_surfaces);
    qxl_test_add("/qxl/surface-in-vram", test_surface_in_vram);
    qxl_test_add("/qxl/ports/misc", test_ports_misc);
    qxl_test_add("/qxl/ports/revision-gate", test_port_revision_gate);
    qxl_test_add("/qxl/ports/vga-mode", test_vga_mode_ports);
    qxl_test_add("/qxl/async", test_async);
    qxl_test_add("/qxl/async/one-in-flight", test_async_one_in_flight);
    qxl_test_add("/qxl/reset", test_reset);
    qxl_test_add("/qxl/monitors-config/guest", test_monitors_config_guest);
    qxl_test_add("/qxl/monitors-config/rom", test_monitors_config_rom);
    qxl_test_add("/qxl/migration", test_migration);
    qxl_test_add("/qxl/migration/release-batch", test_migration_release_batch);
    add_migration_test("/qxl/migration/compat", &ours_to_ours,
                       test_migration_compat);
    add_migration_test("/qxl/migration/compat/ours-to-stock", &ours_to_stock,
                       test_migration_compat);
    add_migration_test("/qxl/migration/compat/stock-to-ours", &stock_to_ours,
                       test_migration_compat);
    add_migration_test("/qxl/migration/async-in-flight", &ours_to_ours,
                       test_migration_async_in_flight);
    add_migration_test("/qxl/migration/async-in-flight/ours-to-stock",
                       &ours_to_stock, test_migration_async_in_flight);
    add_migration_test("/qxl/migration/async-in-flight/stock-to-ours",
                       &stock_to_ours, test_migration_async_in_flight);
    add_migration_test("/qxl/migration/secondary", &ours_to_ours,
                       test_migration_secondary);
    add_migration_test("/qxl/migration/secondary/ours-to-stock",
                       &ours_to_stock, test_migration_secondary);
    add_migration_test("/qxl/migration/secondary/stock-to-ours",
                       &stock_to_ours, test_migration_secondary);
    qxl_test_add("/qxl/hot-unplug", test_hot_unplug);
    qxl_test_add("/qxl/secondary-device", test_secondary_device);

    return g_test_run();
}
