/*
 * A qtest-side QXL guest driver, shared by the QXL qtests.
 *
 * It speaks only the guest ABI of spice-protocol's <spice/qxl_dev.h>: PCI
 * BARs, the ROM and RAM headers, the I/O ports, the rings and the objects
 * the rings point to.  So the tests that use it run against any device
 * that implements that ABI, not just one implementation of it.
 *
 * Conventions:
 * - The device sits at PCI 00:02.0 with id "qxl0"; BAR 0 (RAM) and BAR 1
 *   (VRAM) are mapped when they fit below 4 GiB, ROM and I/O always.
 * - qxl_setup() adds memslot 1 covering all of BAR 0 with delta 0, so a
 *   QXLPHYSICAL is simply qxl_phys(q, offset-in-BAR-0).
 * - Guest objects are carved out of the ROM's "pages" area of BAR 0 by a
 *   bump allocator that RESET rewinds.
 * - Every wait is bounded by QXL_WAIT_US; a timeout is reported to the
 *   caller, which fails with a clear message instead of hanging.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_QXL_H
#define LIBQOS_QXL_H

#include "../libqtest.h"
#include "pci-pc.h"
#include <spice/qxl_dev.h>
#include <spice/enums.h>

/* Upper bound of every wait for the device or the SPICE worker. */
#define QXL_WAIT_US         (5 * G_USEC_PER_SEC)
/* Upper bound of one whole test run in a subprocess (qxl_test_add()). */
#define QXL_TEST_TIMEOUT_US (90 * G_USEC_PER_SEC)

/* The ISA IRQ that the driver routes all four PCI INTx pins to. */
#define QXL_TEST_IRQ        11

/* The memslot the driver uses for BAR 0, as the Linux driver does. */
#define QXL_TEST_SLOT       1

/* Release ids carry a tag so that a forged or stale id is easy to spot. */
#define QXL_RELEASE_TAG     0x5158000000000000ULL
#define QXL_RELEASE_OFFSET_MASK 0xffffffffULL

typedef enum QXLRingKind {
    QXL_RING_CMD,
    QXL_RING_CURSOR,
} QXLRingKind;

typedef struct QXLDev {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar io;
    uint64_t ram_addr, vram_addr, rom_addr;   /* 0 when not mapped */
    uint64_t ram_size, vram_size, rom_size, io_size;
    uint32_t ram_header;        /* ROM ram_header_offset */
    uint32_t pages_offset;      /* ROM pages_offset */
    uint32_t alloc_next;        /* bump allocator in the pages area */
    char *tmpdir;               /* SPICE socket and migration files */
} QXLDev;

/*
 * Register a test that runs in a forked subprocess with a time limit, so
 * that a device crash or hang fails that one test and the rest still run.
 */
void qxl_test_add(const char *path, void (*fn)(void));
/* The same, for a test that takes @data (a row of a table, say). */
void qxl_test_add_data(const char *path, const void *data,
                       void (*fn)(const void *data));

/*
 * Start a pc VM with "-device @device,id=qxl0,addr=2.0" (e.g. "qxl-vga" or
 * "qxl,vgamem_mb=8"), a SPICE server on a UNIX socket so that the SPICE
 * worker consumes the rings, and @extra (may be NULL) on the command line.
 * The PCI device is found, enabled, its BARs mapped and INTx routed.
 */
QXLDev *qxl_start(const char *device, const char *extra);
/*
 * The same on the QEMU named by environment variable @binary_env:
 * QXL_STOCK_ENV for stock QEMU 10.0 (the migration peer).
 */
QXLDev *qxl_start_on(const char *binary_env, const char *device,
                     const char *extra);
#define QXL_OURS_ENV    "QTEST_QEMU_BINARY"
#define QXL_STOCK_ENV   "QTEST_QEMU_BINARY_STOCK"
/* qxl_start(), qxl_setup() and a 64x64 primary: NATIVE mode, ready to draw. */
QXLDev *qxl_start_native(const char *device);
void qxl_stop(QXLDev *q);
/* Program BARs, enables and INTx routing again after a system reset. */
void qxl_pci_restore(QXLDev *q);
/* Path of a file in the per-VM temporary directory (g_free it). */
char *qxl_tmp_path(QXLDev *q, const char *name);

/* ROM (BAR 2), read-only for the guest. */
uint8_t qxl_rom_readb(QXLDev *q, uint32_t off);
uint32_t qxl_rom_readl(QXLDev *q, uint32_t off);
void qxl_rom_read(QXLDev *q, uint32_t off, void *buf, size_t len);
#define QXL_ROM_L(q, field) qxl_rom_readl(q, offsetof(QXLRom, field))
#define QXL_ROM_B(q, field) qxl_rom_readb(q, offsetof(QXLRom, field))

/* BAR 0 at an offset, and the QXLRam header fields in it. */
void qxl_bar0_read(QXLDev *q, uint64_t off, void *buf, size_t len);
void qxl_bar0_write(QXLDev *q, uint64_t off, const void *buf, size_t len);
uint32_t qxl_bar0_readl(QXLDev *q, uint64_t off);
void qxl_bar0_writel(QXLDev *q, uint64_t off, uint32_t val);
uint64_t qxl_bar0_readq(QXLDev *q, uint64_t off);
void qxl_bar0_writeq(QXLDev *q, uint64_t off, uint64_t val);
#define QXL_RAM_OFF(q, field) ((q)->ram_header + offsetof(QXLRam, field))
#define QXL_RAM_L(q, field) qxl_bar0_readl(q, QXL_RAM_OFF(q, field))
#define QXL_RAM_SET_L(q, field, v) qxl_bar0_writel(q, QXL_RAM_OFF(q, field), v)
#define QXL_RAM_SET_Q(q, field, v) qxl_bar0_writeq(q, QXL_RAM_OFF(q, field), v)

/* A QXLPHYSICAL in memslot @slot (generation 0). */
uint64_t qxl_phys_slot(int slot, uint64_t off);
/* A QXLPHYSICAL for an offset in BAR 0 through the driver's memslot. */
uint64_t qxl_phys(QXLDev *q, uint64_t bar0_off);

/* One byte to an I/O port of BAR 3 (the only access size QXL allows). */
void qxl_io(QXLDev *q, uint8_t port, uint8_t val);

/* Interrupts. */
uint32_t qxl_int_pending(QXLDev *q);
void qxl_set_int_mask(QXLDev *q, uint32_t mask);
/* Wait until any of @bits is pending; false on timeout. */
bool qxl_wait_irq(QXLDev *q, uint32_t bits);
/* Clear @bits in int_pending and re-evaluate the line (UPDATE_IRQ). */
void qxl_ack_irq(QXLDev *q, uint32_t bits);
/* Level of the PCI INTx line as seen at the IOAPIC. */
bool qxl_irq_line(QXLDev *q);
/* Wait until the INTx line is high; false on timeout. */
bool qxl_wait_irq_line(QXLDev *q);

/* Memslots and the standard setup: slot 1 over BAR 0, all irqs unmasked. */
void qxl_memslot_add(QXLDev *q, uint8_t slot, uint64_t start, uint64_t end);
void qxl_setup(QXLDev *q);

/* Bump allocation of zeroed guest memory in the BAR 0 pages area. */
uint32_t qxl_alloc(QXLDev *q, uint32_t size);

/* Primary surface (surface 0) at BAR 0 offset 0, 32 bpp, top-down. */
void qxl_create_primary(QXLDev *q, uint32_t width, uint32_t height);
void qxl_set_primary(QXLDev *q, uint32_t width, uint32_t height,
                     int32_t stride, uint32_t format);
void qxl_destroy_primary(QXLDev *q);
uint32_t qxl_primary_pixel(QXLDev *q, uint32_t x, uint32_t y,
                           uint32_t stride);

/* Guest objects; each gets a tagged release id (see qxl_release_id()). */
uint64_t qxl_release_id(uint32_t off);
void qxl_init_release_info(QXLDev *q, uint32_t off);
uint32_t qxl_new_fill(QXLDev *q, uint32_t surface_id, const QXLRect *r,
                      uint32_t color);
uint32_t qxl_new_surface_create(QXLDev *q, uint32_t surface_id,
                                uint32_t width, uint32_t height);
uint32_t qxl_new_surface_destroy(QXLDev *q, uint32_t surface_id);
/* An ALPHA cursor shape, its chunk holding @data_size bytes of pixels. */
uint32_t qxl_new_cursor_shape(QXLDev *q, uint16_t width, uint16_t height,
                              uint32_t data_size);
uint32_t qxl_new_cursor_set(QXLDev *q, uint32_t shape_off);
uint32_t qxl_new_cursor_move(QXLDev *q, int16_t x, int16_t y);

/*
 * Builders of the objects commands point to.  Each returns the BAR 0
 * offset of what it wrote; chunked objects also give the BAR 0 offsets of
 * their QXLDataChunk headers in @chunk_offs (when not NULL), which has
 * room for @nchunks entries.  @len bytes are split evenly over @nchunks
 * chunks (the last one takes the rest).
 */

/*
 * A structure of @head_len bytes whose last member is the first
 * QXLDataChunk of a list (@head may be NULL: zeroes; its chunk header is
 * filled in), followed by @data over @nchunks chunks.
 */
uint32_t qxl_new_chunked(QXLDev *q, const void *head, uint32_t head_len,
                         const void *data, uint32_t len, int nchunks,
                         uint32_t *chunk_offs);
/* A bare QXLDataChunk list holding @data. */
uint32_t qxl_new_chunks(QXLDev *q, const void *data, uint32_t len,
                        int nchunks, uint32_t *chunk_offs);

/* A drawable / qxl-1 drawable as given, with a release id of its own. */
uint32_t qxl_new_drawable(QXLDev *q, const QXLDrawable *d);
uint32_t qxl_new_compat_drawable(QXLDev *q, const QXLCompatDrawable *d);
/* A QXLDrawable of @type on @surface_id over @bbox, no clip, no sources. */
QXLDrawable qxl_drawable_init(uint32_t surface_id, uint8_t type,
                              const QXLRect *bbox);

/* QXLClipRects of @n rects; qxl_clip_rects() makes a clip of them. */
uint32_t qxl_new_clip_rects(QXLDev *q, const QXLRect *rects, uint32_t n,
                            int nchunks, uint32_t *chunk_offs);
QXLClip qxl_clip_rects(QXLDev *q, uint32_t clip_rects_off);

/* Brushes. */
QXLBrush qxl_solid_brush(uint32_t color);
QXLBrush qxl_pattern_brush(QXLDev *q, uint32_t image_off, int32_t x,
                           int32_t y);

/* A QXLPalette of @n entries. */
uint32_t qxl_new_palette(QXLDev *q, const uint32_t *ents, uint16_t n);

/* Bits of one pixel of SPICE_BITMAP_FMT_@format; 0: no such format. */
static inline unsigned qxl_bitmap_bpp(unsigned format)
{
    static const uint8_t bpp[] = {
        [SPICE_BITMAP_FMT_1BIT_LE] = 1, [SPICE_BITMAP_FMT_1BIT_BE] = 1,
        [SPICE_BITMAP_FMT_4BIT_LE] = 4, [SPICE_BITMAP_FMT_4BIT_BE] = 4,
        [SPICE_BITMAP_FMT_8BIT] = 8, [SPICE_BITMAP_FMT_16BIT] = 16,
        [SPICE_BITMAP_FMT_24BIT] = 24, [SPICE_BITMAP_FMT_32BIT] = 32,
        [SPICE_BITMAP_FMT_RGBA] = 32, [SPICE_BITMAP_FMT_8BIT_A] = 8,
    };

    return format < ARRAY_SIZE(bpp) ? bpp[format] : 0;
}

typedef struct QXLBitmapSpec {
    uint8_t format;             /* SPICE_BITMAP_FMT_* */
    uint32_t width, height;
    uint32_t stride;            /* 0: the shortest line, 4-byte aligned */
    const void *pixels;         /* stride * height bytes, top-down */
    uint32_t palette;           /* BAR 0 offset of a QXLPalette, or 0 */
    int chunks;                 /* 0: flat; else that many chunks */
} QXLBitmapSpec;

/*
 * A BITMAP QXLImage.  For a chunked one, @chunk_offs gets the chunk
 * headers of its pixels; for a flat one, its first entry gets the BAR 0
 * offset of the pixels.
 */
uint32_t qxl_new_bitmap_image(QXLDev *q, const QXLBitmapSpec *b,
                              uint32_t *chunk_offs);
/* A flat 32 bpp @width x @height image of one colour. */
uint32_t qxl_new_solid_image(QXLDev *q, uint32_t width, uint32_t height,
                             uint32_t color);
/* A SURFACE QXLImage: the pixels of surface @surface_id. */
uint32_t qxl_new_surface_image(QXLDev *q, uint32_t surface_id,
                               uint32_t width, uint32_t height);
/* A QUIC QXLImage whose stream is @data, in @nchunks chunks. */
uint32_t qxl_new_quic_image(QXLDev *q, uint32_t width, uint32_t height,
                            const void *data, uint32_t len, int nchunks,
                            uint32_t *chunk_offs);
/* A QXLTransform (16.16 fixed point, pixman's layout). */
uint32_t qxl_new_transform(QXLDev *q, const QXLTransform *t);

/* A QXLPath of one open polyline through @n points (whole pixels). */
uint32_t qxl_new_path(QXLDev *q, const QXLPoint *pts, uint32_t n,
                      int nchunks, uint32_t *chunk_offs);
/* A line style of @n dashes (QXLFIXED, 28.4). */
uint32_t qxl_new_line_style(QXLDev *q, const QXLFIXED *dashes, uint8_t n);
/*
 * A QXLString of @n solid A1 glyphs of @width x @height, side by side
 * from @pos (each glyph's top left corner) with one pixel between them.
 */
uint32_t qxl_new_a1_string(QXLDev *q, uint16_t n, uint16_t width,
                           uint16_t height, const QXLPoint *pos, int nchunks,
                           uint32_t *chunk_offs);

/* Other ring objects. */
uint32_t qxl_new_update_cmd(QXLDev *q, uint32_t surface_id,
                            const QXLRect *area);
uint32_t qxl_new_message(QXLDev *q, const char *text);
uint32_t qxl_new_cursor_cmd(QXLDev *q, const QXLCursorCmd *c);
/*
 * An ALPHA cursor shape of @width x @height whose pixels (all @argb) are
 * in @nchunks chunks.
 */
uint32_t qxl_new_cursor_shape_chunked(QXLDev *q, uint16_t width,
                                      uint16_t height, uint32_t argb,
                                      int nchunks, uint32_t *chunk_offs);

/*
 * Rings.  qxl_push() follows the ring protocol: wait for space, store the
 * command, bump prod, notify only when prod hits notify_on_prod.
 */
void qxl_push(QXLDev *q, QXLRingKind ring, uint32_t type, uint64_t phys);
void qxl_push_draw(QXLDev *q, uint32_t drawable_off);
bool qxl_wait_ring_empty(QXLDev *q, QXLRingKind ring);
/* Store a raw command in the next slot and bump prod, no checks at all. */
void qxl_push_raw(QXLDev *q, QXLRingKind ring, uint32_t type, uint64_t phys);
/* BAR 0 offset of the ring's QXLCommandRing, and its name in messages. */
uint32_t qxl_ring_off(QXLDev *q, QXLRingKind ring);
const char *qxl_ring_name(QXLRingKind ring);
/* Entries pushed and not taken yet (prod - cons). */
uint32_t qxl_ring_used(QXLDev *q, QXLRingKind ring);
/* BAR 0 offset of the slot the next push fills. */
uint32_t qxl_ring_next_slot(QXLDev *q, QXLRingKind ring);

/*
 * Collect released ids from the release ring until @want ids have been
 * seen or the wait expires, issuing FLUSH_RELEASE while waiting.  Returns
 * the number of ids stored in @ids (at most @max).
 */
int qxl_collect_releases(QXLDev *q, uint64_t *ids, int max, int want);
/* Pop one ring entry and walk its chain; returns the chain length. */
int qxl_pop_release(QXLDev *q, uint64_t *ids, int max);

/*
 * @count heads of 64x64 side by side, made the RAM header's
 * monitors_config (for MONITORS_CONFIG_ASYNC).
 */
uint32_t qxl_new_monitors_config(QXLDev *q, uint16_t count,
                                 uint16_t max_allowed);

/* Set the RAM header's update_area and update_surface. */
void qxl_set_update_area(QXLDev *q, uint32_t surface_id, const QXLRect *r);
/* Synchronous UPDATE_AREA of a rect of @surface_id. */
void qxl_update_area(QXLDev *q, uint32_t surface_id, const QXLRect *r);

/* Write an async port and wait for IO_CMD; false on timeout. */
bool qxl_io_async(QXLDev *q, uint8_t port, uint8_t val);

/* Health checks used by the guest-bug tests. */
void qxl_assert_alive(QXLDev *q);
bool qxl_wait_error(QXLDev *q);
/* QXL_IO_RESET, then qxl_setup() again. */
void qxl_reset(QXLDev *q);
/*
 * Create a 64x64 primary, fill a rect, read the pixels back, destroy the
 * primary; no ERROR on the way.
 */
void qxl_assert_draws(QXLDev *q);
/*
 * The device took everything pushed (rings empty), the primary of
 * @width x @height is rendered (UPDATE_AREA), and no ERROR is pending.
 */
void qxl_assert_rendered(QXLDev *q, uint32_t width, uint32_t height);
/* No ERROR pending and the VM still runs. */
void qxl_assert_no_error(QXLDev *q);
/* No ERROR pending: fails the test at once, at the caller's line. */
#define QXL_ASSERT_NO_ERROR_IRQ(q) \
    g_assert_cmphex(qxl_int_pending(q) & QXL_INTERRUPT_ERROR, ==, 0)
/*
 * The device flagged a guest bug: ERROR pending and, if unmasked, INTx
 * raised (the test is marked failed but goes on if not), the VM still
 * runs, and QXL_IO_RESET clears it.
 */
void qxl_assert_guest_bug(QXLDev *q);

/* QOM property of the device, read through QMP qom-get. */
int64_t qxl_qom_get_int(QXLDev *q, const char *prop);

/* CRC32 as Linux and the QXL ROM compute it (no pre/post inversion). */
uint32_t qxl_crc32(const void *buf, size_t len);

#endif
