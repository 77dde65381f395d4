/*
 * Structure-aware fuzzing of the QXL display device and the VDI port
 *
 * The fuzzer is a guest driver whose every decision comes from libFuzzer's
 * input: it programs the PCI BARs, adds memslots, creates surfaces and lays
 * out *generated* QXL command trees (drawables of every type, images of
 * each kind, chunk lists, clip rects, paths, strings, brushes, masks,
 * surfaces, cursors, monitors configs) in BAR 0 and the VRAM, pushes them
 * on the rings and notifies, with spice-server's worker running in this
 * process so that what the device hands over is parsed and drawn.  In the
 * double-fetch mode it rewrites the tree right after the notify, while the
 * worker reads it.  The VDI port's rings are filled with generated SPICE
 * agent traffic, of the current or another generation, of any size.
 *
 * Every field is read through gen_u32() and friends: mostly a value that
 * makes sense where it stands, sometimes an "interesting" one, sometimes
 * raw input.  So mutations mostly keep the tree well-formed and the device
 * and spice-server see deep, valid-looking structures.
 *
 * Only the guest ABI is used (spice-protocol's <spice/qxl_dev.h> and the
 * VDI port's layout, docs/specs/vdi-port.rst), so the same target runs
 * against stock QEMU's qxl; the VDI port ops do nothing where there is no
 * vdi-port device.  See docs/fuzzing.rst.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qom/object.h"
#include "standard-headers/linux/pci_regs.h"
#include "tests/qtest/libqtest.h"
#include "fuzz.h"

#include <spice/qxl_dev.h>
#include <spice/enums.h>
#include <spice/vd_agent.h>

/* Where the fuzzer's guest puts the devices (i440fx, bus 0). */
#define QXL_DEVFN           (2 << 3)
#define VDI_DEVFN           (3 << 3)
#define QXL_BAR0_GPA        0xe0000000ULL     /* RAM, 16 MiB */
#define QXL_BAR1_GPA        0xe1000000ULL     /* VRAM, 8 MiB */
#define QXL_ROM_GPA         0xe1800000ULL     /* ROM, 8 KiB */
#define VDI_RAM_GPA         0xe1810000ULL     /* VDI port RAM, 64 KiB */
#define QXL_IO_BASE         0xc040
#define VDI_IO_BASE         0xc080

#define QXL_RAM_MB          16
#define QXL_VRAM_MB         8
#define QXL_RAM_BYTES   ((uint64_t)QXL_RAM_MB << 20)
#define QXL_VRAM_BYTES  ((uint64_t)QXL_VRAM_MB << 20)
#define QXL_VGAMEM_MB       8
#define QXL_SURFACES        64

/* The memslots of the fuzzer's guest. */
#define SLOT_BAR0           1
#define SLOT_VRAM           2

/* Bounds of the fuzzer's waits for spice-server's worker. */
#define RING_WAIT_US        1000
#define ASYNC_WAIT_US       20000

/* Per input: at most this many guest bytes generated, objects laid out. */
#define ARENA_BUDGET        (512 * 1024)
#define MAX_OBJS            256
#define MAX_EXTENTS         64

/* The VDI port's guest ABI (docs/specs/vdi-port.rst). */
#define VDI_IO_CONNECTION   0
#define VDI_IO_NOTIFY       4
#define VDI_IO_UPDATE_IRQ   8
#define VDI_RAM_GENERATION  4
#define VDI_RAM_INT_PENDING 8
#define VDI_RAM_INT_MASK    12
#define VDI_RING_INPUT      16
#define VDI_RING_OUTPUT     16420
#define VDI_RING_ITEMS      20      /* num_items, prod, nprod, cons, ncons */
#define VDI_RING_SIZE       32
#define VDI_PACKET_SIZE     512
#define VDI_PACKET_DATA     504

/* Offsets in the ring headers of spice/ipc_ring.h's SPICE_RING_DECLARE. */
#define RING_PROD           4
#define RING_NOTIFY_PROD    8
#define RING_CONS           12
#define RING_NOTIFY_CONS    16

/* Release ids: a tag and the BAR 0 offset of the object. */
#define RELEASE_TAG         0x5146000000000000ULL

typedef struct Arena {
    uint64_t gpa;           /* guest-physical base of the BAR */
    int slot;
    uint32_t start, end;    /* the part the fuzzer allocates from */
    uint32_t next;
} Arena;

typedef struct Extent {
    uint64_t gpa;
    uint32_t len;
} Extent;

typedef struct Fuzz {
    QTestState *s;
    const uint8_t *p;
    size_t n;

    /* Device layout, from the ROM. */
    uint32_t ram_header;
    uint32_t n_surfaces;
    int id_shift, gen_shift;
    uint8_t generation;
    bool have_vdi;

    Arena bar0, vram;
    size_t budget;

    /* Objects of this input (pointer targets for aliasing and loops). */
    uint64_t objs[MAX_OBJS];
    int nobjs;
    /* What the current command's tree occupies (double-fetch rewrites). */
    Extent ext[MAX_EXTENTS];
    int next_;

    /* Surfaces the guest believes exist: sizes for sane rects. */
    uint32_t sw[4], sh[4];
    bool primary;
    bool double_fetch;
    bool avoid_spin;
    uint32_t vdi_gen;
} Fuzz;

/* ---- input ------------------------------------------------------------ */

static uint8_t in_u8(Fuzz *f)
{
    if (!f->n) {
        return 0;
    }
    f->n--;
    return *f->p++;
}

static uint16_t in_u16(Fuzz *f)
{
    uint16_t lo = in_u8(f);

    return lo | in_u8(f) << 8;
}

static uint32_t in_u32(Fuzz *f)
{
    uint32_t lo = in_u16(f);

    return lo | (uint32_t)in_u16(f) << 16;
}

static uint64_t in_u64(Fuzz *f)
{
    uint64_t lo = in_u32(f);

    return lo | (uint64_t)in_u32(f) << 32;
}

static void in_bytes(Fuzz *f, uint8_t *buf, size_t len)
{
    size_t n = MIN(len, f->n);

    memcpy(buf, f->p, n);
    f->p += n;
    f->n -= n;
    /* Past the input: a pattern rather than zeros. */
    for (; n < len; n++) {
        buf[n] = n * 0x9d;
    }
}

static const uint32_t interesting32[] = {
    0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 511,
    1023, 1024, 4095, 4096, 16383, 16384, 16385, 32767, 32768, 65535, 65536,
    0x7ffff, 0xfffff, 0x100000, 0xffffff, 0x1000000, 0x1000001,
    0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0x80000001,
    0xfffffffe, 0xffffffff,
};

/*
 * A field: mostly @sane, sometimes an interesting value, sometimes raw.
 * One selector byte each, so libFuzzer can flip a field between them.
 */
static uint32_t gen_u32(Fuzz *f, uint32_t sane)
{
    uint8_t sel = in_u8(f);

    if (sel < 0xe0) {
        return sane;
    } else if (sel < 0xf0) {
        uint32_t v = interesting32[in_u8(f) % ARRAY_SIZE(interesting32)];
        return sel & 1 ? v : sane + (int32_t)(int8_t)v;
    }
    return in_u32(f);
}

static uint16_t gen_u16(Fuzz *f, uint16_t sane)
{
    return gen_u32(f, sane);
}

static uint8_t gen_u8(Fuzz *f, uint8_t sane)
{
    return gen_u32(f, sane);
}

/* A small number 0..max-1 (max > 0). */
static uint32_t small(Fuzz *f, uint32_t max)
{
    return in_u8(f) % max;
}

/* ---- guest memory and ports ------------------------------------------- */

static void pci_cfg_writel(Fuzz *f, int devfn, int reg, uint32_t v)
{
    qtest_outl(f->s, 0xcf8, 0x80000000u | (devfn << 8) | reg);
    qtest_outl(f->s, 0xcfc, v);
}

static void pci_cfg_writew(Fuzz *f, int devfn, int reg, uint16_t v)
{
    qtest_outl(f->s, 0xcf8, 0x80000000u | (devfn << 8) | (reg & ~3));
    qtest_outw(f->s, 0xcfc + (reg & 2), v);
}

static uint64_t ram_gpa(Fuzz *f, size_t field)
{
    return QXL_BAR0_GPA + f->ram_header + field;
}

#define RAM(f, field) ram_gpa(f, offsetof(QXLRam, field))

static void qxl_out(Fuzz *f, uint8_t port, uint8_t val)
{
    qtest_outb(f->s, QXL_IO_BASE + port, val);
}

static uint64_t phys(Fuzz *f, const Arena *a, uint32_t off)
{
    return ((uint64_t)a->slot << f->id_shift) |
           ((uint64_t)f->generation << f->gen_shift) | off;
}

/* Let the main loop run: bottom halves, spice-server's watches and timers. */
static void pump(void)
{
    main_loop_wait(true);
}

/*
 * Until the worker took everything from @ring, at most @us; not at all
 * once the device flagged a guest bug (it takes nothing more until reset).
 */
static bool wait_ring_empty(Fuzz *f, uint64_t ring, int64_t us)
{
    int64_t end = g_get_monotonic_time() + us;

    for (;;) {
        pump();
        if (qtest_readl(f->s, ring + RING_PROD) ==
            qtest_readl(f->s, ring + RING_CONS)) {
            return true;
        }
        if (qtest_readl(f->s, RAM(f, int_pending)) & QXL_INTERRUPT_ERROR) {
            return false;
        }
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(20);
    }
}

static bool wait_irq(Fuzz *f, uint32_t bits, int64_t us)
{
    int64_t end = g_get_monotonic_time() + us;

    for (;;) {
        uint32_t pending;

        pump();
        pending = qtest_readl(f->s, RAM(f, int_pending));
        if (pending & bits) {
            qtest_writel(f->s, RAM(f, int_pending), pending & ~bits);
            qxl_out(f, QXL_IO_UPDATE_IRQ, 0);
            return true;
        }
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(20);
    }
}

/* ---- allocation ------------------------------------------------------- */

/*
 * Room for @len bytes, in BAR 0's pages area or, when the input says so,
 * in the VRAM.  0 when the per-input budget is spent.
 */
static uint64_t alloc(Fuzz *f, uint32_t len, bool vram_ok, const Arena **ap,
                      uint32_t *offp)
{
    Arena *a = vram_ok && (in_u8(f) & 3) == 3 ? &f->vram : &f->bar0;
    uint32_t off = ROUND_UP(a->next, 8);

    if (len > f->budget || (uint64_t)off + len > a->end) {
        return 0;
    }
    f->budget -= len;
    a->next = off + len;
    *ap = a;
    *offp = off;
    if (f->next_ < MAX_EXTENTS) {
        f->ext[f->next_++] = (Extent){ a->gpa + off, len };
    }
    return phys(f, a, off);
}

/* Copy @buf to a new guest object; its QXLPHYSICAL, or 0. */
static uint64_t put(Fuzz *f, const void *buf, uint32_t len, bool vram_ok)
{
    const Arena *a;
    uint32_t off;
    uint64_t p = alloc(f, len, vram_ok, &a, &off);

    if (!p) {
        return 0;
    }
    qtest_memwrite(f->s, a->gpa + off, buf, len);
    if (f->nobjs < MAX_OBJS) {
        f->objs[f->nobjs++] = p;
    }
    return p;
}

/*
 * How a pointer field is filled: 0 = generate the object, 1 = NULL,
 * 2 = an object generated before (aliasing, loops), 3 = raw input.
 */
static int ptr_mode(Fuzz *f)
{
    uint8_t sel = in_u8(f);

    if (sel < 0xd8) {
        return 0;
    } else if (sel < 0xe8) {
        return 1;
    } else if (sel < 0xf8) {
        return 2;
    }
    return 3;
}

static uint64_t other_ptr(Fuzz *f, int mode)
{
    switch (mode) {
    case 1:
        return 0;
    case 2:
        return f->nobjs ? f->objs[small(f, f->nobjs)] + small(f, 4) * 4 : 0;
    default:
        return in_u64(f);
    }
}

/*
 * @len bytes of @data as a chunk list: one to four QXLDataChunks, linked
 * both ways.  The first chunk is written @hdr_len bytes into an object of
 * which @hdr is the start (QXLPath, QXLClipRects, QXLString, QXLCursor...).
 */
static uint64_t put_chunked(Fuzz *f, const void *hdr, uint32_t hdr_len,
                            const uint8_t *data, uint32_t len, bool vram_ok)
{
    int nchunks = 1 + small(f, 4);
    uint32_t cut[4], pos = 0;
    const Arena *a[4];
    uint32_t off[4];
    uint64_t p[4] = { 0 };
    int i;

    for (i = 0; i < nchunks; i++) {
        uint32_t left = len - pos;
        cut[i] = i == nchunks - 1 ? left : (left ? small(f, left + 1) : 0);
        pos += cut[i];
    }
    for (i = 0; i < nchunks; i++) {
        uint32_t size = (i ? 0 : hdr_len) + sizeof(QXLDataChunk) + cut[i];
        p[i] = alloc(f, size, vram_ok || i, &a[i], &off[i]);
        if (!p[i]) {
            nchunks = i;
            break;
        }
    }
    if (!nchunks) {
        return 0;
    }
    pos = 0;
    for (i = 0; i < nchunks; i++) {
        uint32_t h = i ? 0 : hdr_len;
        uint32_t size = h + sizeof(QXLDataChunk) + cut[i];
        g_autofree uint8_t *b = g_malloc0(size);
        QXLDataChunk *c = (QXLDataChunk *)(b + h);
        int mode;

        if (h) {
            memcpy(b, hdr, h);
        }
        c->data_size = gen_u32(f, cut[i]);
        c->prev_chunk = i ? p[i - 1] + (i == 1 ? hdr_len : 0) : 0;
        mode = ptr_mode(f);
        c->next_chunk = i + 1 < nchunks ? p[i + 1] :
                        mode ? other_ptr(f, mode) : 0;
        if (mode == 2 && i + 1 < nchunks) {
            c->next_chunk = other_ptr(f, 2);    /* a loop, maybe */
        }
        memcpy(c->data, data + pos, cut[i]);
        pos += cut[i];
        qtest_memwrite(f->s, a[i]->gpa + off[i], b, size);
    }
    if (f->nobjs < MAX_OBJS) {
        f->objs[f->nobjs++] = p[0];
    }
    return p[0];
}

/* ---- generated objects ------------------------------------------------ */

static void gen_rect(Fuzz *f, QXLRect *r, uint32_t w, uint32_t h)
{
    int32_t left = small(f, MAX(w, 1)), top = small(f, MAX(h, 1));

    r->left = gen_u32(f, left);
    r->top = gen_u32(f, top);
    r->right = gen_u32(f, left + 1 + small(f, MAX(w - left, 1)));
    r->bottom = gen_u32(f, top + 1 + small(f, MAX(h - top, 1)));
}

static void gen_point(Fuzz *f, QXLPoint *pt, uint32_t w, uint32_t h)
{
    pt->x = gen_u32(f, small(f, MAX(w, 1)));
    pt->y = gen_u32(f, small(f, MAX(h, 1)));
}

static uint64_t gen_image(Fuzz *f, int depth, int want_bpp);

static uint64_t gen_palette(Fuzz *f, int entries)
{
    uint16_t n = gen_u16(f, entries);
    uint32_t len = sizeof(QXLPalette) + 4 * MIN(n, 256);
    g_autofree QXLPalette *pal = g_malloc0(len);

    pal->unique = gen_u32(f, 0);
    pal->num_ents = n;
    in_bytes(f, (uint8_t *)pal->ents, 4 * MIN(n, 256));
    return put(f, pal, len, true);
}

static const uint8_t bitmap_bpp[] = {
    [SPICE_BITMAP_FMT_1BIT_LE] = 1, [SPICE_BITMAP_FMT_1BIT_BE] = 1,
    [SPICE_BITMAP_FMT_4BIT_LE] = 4, [SPICE_BITMAP_FMT_4BIT_BE] = 4,
    [SPICE_BITMAP_FMT_8BIT] = 8, [SPICE_BITMAP_FMT_16BIT] = 16,
    [SPICE_BITMAP_FMT_24BIT] = 24, [SPICE_BITMAP_FMT_32BIT] = 32,
    [SPICE_BITMAP_FMT_RGBA] = 32, [SPICE_BITMAP_FMT_8BIT_A] = 8,
};

static const uint8_t image_types[] = {
    SPICE_IMAGE_TYPE_BITMAP, SPICE_IMAGE_TYPE_BITMAP, SPICE_IMAGE_TYPE_BITMAP,
    SPICE_IMAGE_TYPE_BITMAP, SPICE_IMAGE_TYPE_SURFACE, SPICE_IMAGE_TYPE_QUIC,
    SPICE_IMAGE_TYPE_LZ_PLT, SPICE_IMAGE_TYPE_LZ_RGB, SPICE_IMAGE_TYPE_GLZ_RGB,
    SPICE_IMAGE_TYPE_FROM_CACHE, SPICE_IMAGE_TYPE_JPEG,
    SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS, SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB,
    SPICE_IMAGE_TYPE_JPEG_ALPHA, SPICE_IMAGE_TYPE_LZ4,
    SPICE_IMAGE_TYPE_RESERVED,
};

/*
 * An image: a bitmap of @want_bpp bits per pixel (0: any), flat or in
 * chunks, with a palette where it needs one; a surface; or one of the
 * compressed kinds, whose stream starts with a plausible header.
 */
static uint64_t gen_image(Fuzz *f, int depth, int want_bpp)
{
    uint8_t type = image_types[small(f, ARRAY_SIZE(image_types))];
    uint32_t w = 1 + small(f, 32), h = 1 + small(f, 32);
    QXLImage img = { 0 };
    uint32_t hdr = sizeof(QXLImageDescriptor);
    int mode;

    if (want_bpp) {
        type = SPICE_IMAGE_TYPE_BITMAP;
    }
    type = gen_u8(f, type);
    img.descriptor.id = gen_u32(f, small(f, 4)) |
                        (uint64_t)gen_u32(f, 0) << 32;
    img.descriptor.type = type;
    img.descriptor.flags = gen_u8(f, in_u8(f) >= 0xd0 ? QXL_IMAGE_CACHE : 0);
    img.descriptor.width = gen_u32(f, w);
    img.descriptor.height = gen_u32(f, h);

    if (type == SPICE_IMAGE_TYPE_SURFACE) {
        img.surface_image.surface_id = gen_u32(f, small(f, 3));
        return put(f, &img, hdr + sizeof(QXLSurfaceId), true);
    }
    if (type == SPICE_IMAGE_TYPE_BITMAP) {
        uint8_t fmt = 1 + small(f, SPICE_BITMAP_FMT_8BIT_A);
        uint32_t stride, len;
        g_autofree uint8_t *data = NULL;

        if (want_bpp == 1) {
            fmt = in_u8(f) & 1 ? SPICE_BITMAP_FMT_1BIT_BE :
                                 SPICE_BITMAP_FMT_1BIT_LE;
        }
        stride = (w * bitmap_bpp[fmt] + 7) / 8 + small(f, 2) * 4;
        len = stride * h;
        img.bitmap.format = gen_u8(f, fmt);
        img.bitmap.flags = gen_u8(f, small(f, 8));
        img.bitmap.x = gen_u32(f, w);
        img.bitmap.y = gen_u32(f, h);
        img.bitmap.stride = gen_u32(f, stride);
        mode = ptr_mode(f);
        if (bitmap_bpp[fmt] <= 8 && fmt != SPICE_BITMAP_FMT_8BIT_A) {
            img.bitmap.palette = mode ? other_ptr(f, mode) :
                                 gen_palette(f, 1 << bitmap_bpp[fmt]);
        } else {
            img.bitmap.palette = mode ? other_ptr(f, mode) : 0;
        }
        data = g_malloc(len);
        in_bytes(f, data, MIN(len, 64));   /* the rest: a pattern */
        if (len > 64) {
            memset(data + 64, in_u8(f), len - 64);
        }
        mode = ptr_mode(f);
        if (mode) {
            img.bitmap.data = other_ptr(f, mode);
        } else if (img.bitmap.flags & QXL_BITMAP_DIRECT) {
            img.bitmap.data = put(f, data, len, true);
        } else {
            img.bitmap.data = put_chunked(f, NULL, 0, data, len, true);
        }
        return put(f, &img, hdr + sizeof(QXLBitmap), true);
    }

    /* QUIC, LZ, GLZ, JPEG, LZ4, cache references: a stream in chunks. */
    {
        uint32_t len = 20 + small(f, 200);
        g_autofree uint8_t *stream = g_malloc0(len);
        g_autofree uint8_t *b = g_malloc0(hdr + sizeof(QXLQUICData) +
                                          sizeof(QXLDataChunk) + len);
        QXLImage *im = (QXLImage *)b;

        if (type == SPICE_IMAGE_TYPE_QUIC) {
            /* magic "QUIC", version 0.0, type RGB32 (4), width, height */
            stl_le_p(stream, 0x43495551);
            stl_le_p(stream + 4, 0);
            stl_le_p(stream + 8, small(f, 9));
            stl_be_p(stream + 12, w);
            stl_be_p(stream + 16, h);
            in_bytes(f, stream + 20, len - 20);
        } else {
            in_bytes(f, stream, len);
        }
        *im = img;
        im->quic.data_size = gen_u32(f, len);
        /* The stream is a chunk list right after data_size. */
        return put_chunked(f, b, hdr + sizeof(QXLQUICData), stream, len,
                           true);
    }
}

static void gen_brush(Fuzz *f, QXLBrush *b, uint32_t w, uint32_t h)
{
    int mode;

    b->type = gen_u32(f, small(f, SPICE_BRUSH_TYPE_ENUM_END));
    if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        mode = ptr_mode(f);
        b->u.pattern.pat = mode ? other_ptr(f, mode) : gen_image(f, 32, 0);
        gen_point(f, &b->u.pattern.pos, w, h);
    } else {
        b->u.color = in_u32(f);
    }
}

static void gen_mask(Fuzz *f, QXLQMask *m, uint32_t w, uint32_t h)
{
    int mode;

    m->flags = gen_u8(f, small(f, 2));
    gen_point(f, &m->pos, w, h);
    if (in_u8(f) < 0xa0) {
        m->bitmap = 0;
        return;
    }
    mode = ptr_mode(f);
    m->bitmap = mode ? other_ptr(f, mode) : gen_image(f, 1, 1);
}

static uint64_t gen_src(Fuzz *f, QXLRect *area)
{
    int mode = ptr_mode(f);
    uint64_t p = mode ? other_ptr(f, mode) : gen_image(f, 32, 0);

    gen_rect(f, area, 32, 32);
    return p;
}

static uint64_t gen_clip_rects(Fuzz *f, uint32_t w, uint32_t h)
{
    uint32_t n = 1 + small(f, 8), i;
    QXLClipRects hdr = { 0 };
    g_autofree QXLRect *r = g_new0(QXLRect, n);

    for (i = 0; i < n; i++) {
        gen_rect(f, &r[i], w, h);
    }
    hdr.num_rects = gen_u32(f, n);
    return put_chunked(f, &hdr, offsetof(QXLClipRects, chunk),
                       (uint8_t *)r, n * sizeof(QXLRect), true);
}

static uint64_t gen_path(Fuzz *f, uint32_t w, uint32_t h)
{
    uint8_t buf[1024];
    uint32_t len = 0;
    int nseg = 1 + small(f, 4), i, j;
    QXLPath hdr = { 0 };

    for (i = 0; i < nseg; i++) {
        QXLPathSeg seg;
        int count = 1 + small(f, 6);

        if (len + sizeof(seg) + count * sizeof(QXLPointFix) > sizeof(buf)) {
            break;
        }
        seg.flags = gen_u32(f, (i == 0 ? QXL_PATH_BEGIN : 0) |
                               (i == nseg - 1 ? QXL_PATH_END : 0) |
                               (in_u8(f) >= 0xe0 ? QXL_PATH_CLOSE : 0));
        seg.count = gen_u32(f, count);
        memcpy(buf + len, &seg, sizeof(seg));
        len += sizeof(seg);
        for (j = 0; j < count; j++) {
            QXLPointFix pt = {
                gen_u32(f, small(f, MAX(w, 1)) << 4),
                gen_u32(f, small(f, MAX(h, 1)) << 4),
            };
            memcpy(buf + len, &pt, sizeof(pt));
            len += sizeof(pt);
        }
    }
    hdr.data_size = gen_u32(f, len);
    return put_chunked(f, &hdr, offsetof(QXLPath, chunk), buf, len, true);
}

typedef struct QEMU_PACKED QXLStringHdr {
    uint32_t data_size;
    uint16_t length;
    uint16_t flags;
} QXLStringHdr;

typedef struct QEMU_PACKED QXLGlyphHdr {
    QXLPoint render_pos;
    QXLPoint glyph_origin;
    uint16_t width;
    uint16_t height;
} QXLGlyphHdr;

static uint64_t gen_string(Fuzz *f, uint32_t w, uint32_t h)
{
    static const uint8_t bpps[] = { 1, 4, 8 };
    uint8_t buf[2048];
    uint32_t len = 0;
    int n = 1 + small(f, 4), i, k = small(f, 3);
    int bpp = bpps[k];
    QXLStringHdr hdr;

    for (i = 0; i < n; i++) {
        QXLGlyphHdr g;
        uint16_t gw = 1 + small(f, 16), gh = 1 + small(f, 16);
        uint32_t size = (gw * bpp + 7) / 8 * gh;

        if (len + sizeof(g) + size > sizeof(buf)) {
            n = i;
            break;
        }
        gen_point(f, &g.render_pos, w, h);
        g.glyph_origin.x = gen_u32(f, 0);
        g.glyph_origin.y = gen_u32(f, 0);
        g.width = gen_u16(f, gw);
        g.height = gen_u16(f, gh);
        memcpy(buf + len, &g, sizeof(g));
        len += sizeof(g);
        in_bytes(f, buf + len, MIN(size, 16));
        memset(buf + len + MIN(size, 16), 0x5a, size - MIN(size, 16));
        len += size;
    }
    hdr.data_size = gen_u32(f, len);
    hdr.length = gen_u16(f, n);
    hdr.flags = gen_u16(f, (1 << k) | (in_u8(f) & 1 ? 8 : 0));
    return put_chunked(f, &hdr, sizeof(hdr), buf, len, true);
}

static uint64_t gen_transform(Fuzz *f)
{
    QXLTransform t = {
        gen_u32(f, 0x10000), gen_u32(f, 0), gen_u32(f, 0),
        gen_u32(f, 0), gen_u32(f, 0x10000), gen_u32(f, 0),
    };

    return put(f, &t, sizeof(t), true);
}

static const uint8_t composite_ops[] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
};

/* The part of QXLDrawable for @type. */
static void gen_draw_union(Fuzz *f, QXLDrawable *d, uint32_t w, uint32_t h)
{
    int mode;

    switch (d->type) {
    case QXL_DRAW_FILL:
        gen_brush(f, &d->u.fill.brush, w, h);
        d->u.fill.rop_descriptor = gen_u16(f, SPICE_ROPD_OP_PUT);
        gen_mask(f, &d->u.fill.mask, w, h);
        break;
    case QXL_DRAW_OPAQUE:
        d->u.opaque.src_bitmap = gen_src(f, &d->u.opaque.src_area);
        gen_brush(f, &d->u.opaque.brush, w, h);
        d->u.opaque.rop_descriptor = gen_u16(f, SPICE_ROPD_OP_PUT);
        d->u.opaque.scale_mode = gen_u8(f, small(f, 2));
        gen_mask(f, &d->u.opaque.mask, w, h);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        d->u.copy.src_bitmap = gen_src(f, &d->u.copy.src_area);
        d->u.copy.rop_descriptor = gen_u16(f, SPICE_ROPD_OP_PUT);
        d->u.copy.scale_mode = gen_u8(f, small(f, 2));
        gen_mask(f, &d->u.copy.mask, w, h);
        break;
    case QXL_DRAW_TRANSPARENT:
        d->u.transparent.src_bitmap = gen_src(f, &d->u.transparent.src_area);
        d->u.transparent.src_color = in_u32(f);
        d->u.transparent.true_color = in_u32(f);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        d->u.alpha_blend.alpha_flags = gen_u16(f, small(f, 4));
        d->u.alpha_blend.alpha = in_u8(f);
        d->u.alpha_blend.src_bitmap = gen_src(f, &d->u.alpha_blend.src_area);
        break;
    case QXL_COPY_BITS:
        gen_point(f, &d->u.copy_bits.src_pos, w, h);
        break;
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        gen_mask(f, &d->u.blackness.mask, w, h);
        break;
    case QXL_DRAW_ROP3:
        d->u.rop3.src_bitmap = gen_src(f, &d->u.rop3.src_area);
        gen_brush(f, &d->u.rop3.brush, w, h);
        d->u.rop3.rop3 = in_u8(f);
        d->u.rop3.scale_mode = gen_u8(f, small(f, 2));
        gen_mask(f, &d->u.rop3.mask, w, h);
        break;
    case QXL_DRAW_STROKE: {
        QXLStroke *s = &d->u.stroke;

        mode = ptr_mode(f);
        s->path = mode ? other_ptr(f, mode) : gen_path(f, w, h);
        s->attr.flags = gen_u8(f, in_u8(f) & SPICE_LINE_FLAGS_MASK);
        s->attr.join_style = gen_u8(f, 0);
        s->attr.end_style = gen_u8(f, 0);
        s->attr.style_nseg = gen_u8(f, s->attr.flags & SPICE_LINE_FLAGS_STYLED ?
                                       1 + small(f, 8) : 0);
        s->attr.width = gen_u32(f, small(f, 4) << 4);
        s->attr.miter_limit = gen_u32(f, 0);
        if (s->attr.style_nseg) {
            QXLFIXED style[256];
            int i;

            for (i = 0; i < s->attr.style_nseg; i++) {
                style[i] = gen_u32(f, (1 + small(f, 8)) << 4);
            }
            mode = ptr_mode(f);
            s->attr.style = mode ? other_ptr(f, mode) :
                            put(f, style, s->attr.style_nseg * 4, true);
        }
        gen_brush(f, &s->brush, w, h);
        s->fore_mode = gen_u16(f, SPICE_ROPD_OP_PUT);
        s->back_mode = gen_u16(f, SPICE_ROPD_OP_PUT);
        break;
    }
    case QXL_DRAW_TEXT: {
        QXLText *t = &d->u.text;

        mode = ptr_mode(f);
        t->str = mode ? other_ptr(f, mode) : gen_string(f, w, h);
        if (in_u8(f) >= 0xc0) {
            gen_rect(f, &t->back_area, w, h);
        }
        gen_brush(f, &t->fore_brush, w, h);
        gen_brush(f, &t->back_brush, w, h);
        t->fore_mode = gen_u16(f, SPICE_ROPD_OP_PUT);
        t->back_mode = gen_u16(f, SPICE_ROPD_OP_PUT);
        break;
    }
    case QXL_DRAW_COMPOSITE: {
        QXLComposite *c = &d->u.composite;

        c->flags = gen_u32(f, composite_ops[small(f,
                                               ARRAY_SIZE(composite_ops))] |
                              (small(f, 2) << 8) | (small(f, 2) << 11) |
                              (small(f, 4) << 14) | (small(f, 4) << 16) |
                              (small(f, 2) << 18));
        mode = ptr_mode(f);
        c->src = mode ? other_ptr(f, mode) : gen_image(f, 32, 0);
        c->src_transform = in_u8(f) >= 0xc0 ? gen_transform(f) : 0;
        if (in_u8(f) >= 0xa0) {
            mode = ptr_mode(f);
            c->mask = mode ? other_ptr(f, mode) : gen_image(f, 32, 0);
            c->mask_transform = in_u8(f) >= 0xc0 ? gen_transform(f) : 0;
        }
        c->src_origin.x = gen_u16(f, small(f, 16));
        c->src_origin.y = gen_u16(f, small(f, 16));
        c->mask_origin.x = gen_u16(f, small(f, 16));
        c->mask_origin.y = gen_u16(f, small(f, 16));
        break;
    }
    default:
        break;
    }
}

static void release_info(QXLReleaseInfo *ri, uint64_t p)
{
    /* The object's BAR 0 offset; garbage-looking ids for other places. */
    ri->id = RELEASE_TAG | (p & 0xffffffffffffULL);
}

/* Lay out a command object, its release id naming its own place. */
static uint64_t put_cmd(Fuzz *f, void *buf, uint32_t len)
{
    const Arena *a;
    uint32_t off;
    uint64_t p;

    /* Commands go in BAR 0, now and then in the VRAM. */
    p = alloc(f, len, in_u8(f) >= 0xf8, &a, &off);
    if (!p) {
        return 0;
    }
    release_info(buf, off);
    qtest_memwrite(f->s, a->gpa + off, buf, len);
    if (f->nobjs < MAX_OBJS) {
        f->objs[f->nobjs++] = p;
    }
    return p;
}

static uint64_t gen_drawable(Fuzz *f)
{
    QXLDrawable d = { 0 };
    uint32_t sid = small(f, 8) < 6 ? 0 : 1 + small(f, 3);
    uint32_t w, h;
    int i;

    sid = gen_u32(f, sid);
    w = sid < 4 && f->sw[sid] ? f->sw[sid] : 64;
    h = sid < 4 && f->sh[sid] ? f->sh[sid] : 64;

    d.surface_id = sid;
    d.type = gen_u8(f, small(f, QXL_DRAW_COMPOSITE + 1));
    d.effect = gen_u8(f, small(f, QXL_EFFECT_OPAQUE_BRUSH + 1));
    gen_rect(f, &d.bbox, w, h);
    if (in_u8(f) >= 0xe0) {
        d.self_bitmap = 1;
        d.self_bitmap_area = d.bbox;
        gen_rect(f, &d.self_bitmap_area, w, h);
    }
    d.clip.type = gen_u32(f, small(f, 2));
    if (d.clip.type == SPICE_CLIP_TYPE_RECTS) {
        int mode = ptr_mode(f);
        d.clip.data = mode ? other_ptr(f, mode) : gen_clip_rects(f, w, h);
    }
    d.mm_time = in_u32(f);
    for (i = 0; i < 3; i++) {
        d.surfaces_dest[i] = -1;
    }
    if (in_u8(f) >= 0x80) {
        /* COPY_BITS, or an image of a surface: name the sources. */
        for (i = 0; i < 3; i++) {
            d.surfaces_dest[i] = gen_u32(f, i ? -1 : small(f, 3));
            gen_rect(f, &d.surfaces_rects[i], 32, 32);
        }
    }
    gen_draw_union(f, &d, w, h);
    return put_cmd(f, &d, sizeof(d));
}

static const uint32_t surface_formats[] = {
    SPICE_SURFACE_FMT_32_xRGB, SPICE_SURFACE_FMT_32_ARGB,
    SPICE_SURFACE_FMT_16_555, SPICE_SURFACE_FMT_8_A, SPICE_SURFACE_FMT_16_565,
    SPICE_SURFACE_FMT_1_A,
};

static int surface_bpp(uint32_t fmt)
{
    return fmt == SPICE_SURFACE_FMT_1_A ? 1 : fmt & 0x3f ? fmt & 0x3f : 32;
}

static uint64_t gen_surface_cmd(Fuzz *f)
{
    QXLSurfaceCmd c = { 0 };
    uint32_t sid = 1 + small(f, 3);

    c.surface_id = gen_u32(f, sid);
    c.type = gen_u8(f, in_u8(f) < 0xb0 ? QXL_SURFACE_CMD_CREATE :
                                         QXL_SURFACE_CMD_DESTROY);
    c.flags = gen_u32(f, 0);
    if (c.type == QXL_SURFACE_CMD_CREATE) {
        uint32_t fmt = surface_formats[in_u8(f) < 0xc0 ? 0 :
                                       small(f, ARRAY_SIZE(surface_formats))];
        uint32_t w = 1 + small(f, 64), h = 1 + small(f, 64);
        int32_t stride = ROUND_UP((w * surface_bpp(fmt) + 7) / 8, 4);
        const Arena *a;
        uint32_t off;

        c.u.surface_create.format = gen_u32(f, fmt);
        c.u.surface_create.width = gen_u32(f, w);
        c.u.surface_create.height = gen_u32(f, h);
        c.u.surface_create.stride = gen_u32(f, in_u8(f) & 1 ? -stride : stride);
        c.u.surface_create.data = alloc(f, stride * h, true, &a, &off);
        if (in_u8(f) >= 0xf0) {
            c.u.surface_create.data = in_u64(f);
        }
        if (sid < 4 && c.surface_id == sid) {
            f->sw[sid] = w;
            f->sh[sid] = h;
        }
    }
    return put_cmd(f, &c, sizeof(c));
}

static uint64_t gen_update_cmd(Fuzz *f)
{
    QXLUpdateCmd c = { 0 };
    uint32_t sid = gen_u32(f, small(f, 2));

    c.surface_id = sid;
    gen_rect(f, &c.area, sid < 4 && f->sw[sid] ? f->sw[sid] : 64,
             sid < 4 && f->sh[sid] ? f->sh[sid] : 64);
    c.update_id = in_u32(f);
    return put_cmd(f, &c, sizeof(c));
}

static uint64_t gen_message_cmd(Fuzz *f)
{
    uint8_t b[sizeof(QXLMessage) + 64] = { 0 };

    in_bytes(f, b + sizeof(QXLMessage), small(f, 64));
    return put_cmd(f, b, sizeof(b));
}

static uint32_t cursor_data_size(uint16_t type, uint32_t w, uint32_t h)
{
    uint32_t mask = (w + 7) / 8 * h;

    switch (type) {
    case SPICE_CURSOR_TYPE_ALPHA:
        return w * h * 4;
    case SPICE_CURSOR_TYPE_MONO:
        return 2 * mask;
    case SPICE_CURSOR_TYPE_COLOR4:
        return (w + 1) / 2 * h + 16 * 4 + mask;
    case SPICE_CURSOR_TYPE_COLOR8:
        return w * h + 256 * 4 + mask;
    case SPICE_CURSOR_TYPE_COLOR16:
        return w * h * 2 + mask;
    case SPICE_CURSOR_TYPE_COLOR24:
        return w * h * 3 + mask;
    default:
        return w * h * 4 + mask;
    }
}

static uint64_t gen_cursor_shape(Fuzz *f)
{
    QXLCursor c = { 0 };
    uint16_t type = small(f, SPICE_CURSOR_TYPE_ENUM_END);
    uint16_t w = 1 + small(f, 64), h = 1 + small(f, 64);
    uint32_t len = cursor_data_size(type, w, h);
    g_autofree uint8_t *data = g_malloc(len);

    c.header.unique = gen_u32(f, small(f, 4));
    c.header.type = gen_u16(f, type);
    c.header.width = gen_u16(f, w);
    c.header.height = gen_u16(f, h);
    c.header.hot_spot_x = gen_u16(f, small(f, w));
    c.header.hot_spot_y = gen_u16(f, small(f, h));
    c.data_size = gen_u32(f, len);
    in_bytes(f, data, MIN(len, 32));
    memset(data + MIN(len, 32), 0xa5, len - MIN(len, 32));
    return put_chunked(f, &c, offsetof(QXLCursor, chunk), data, len, true);
}

static uint64_t gen_cursor_cmd(Fuzz *f)
{
    QXLCursorCmd c = { 0 };
    int mode;

    c.type = gen_u8(f, small(f, QXL_CURSOR_TRAIL + 1));
    switch (c.type) {
    case QXL_CURSOR_SET:
        c.u.set.position.x = gen_u16(f, small(f, 64));
        c.u.set.position.y = gen_u16(f, small(f, 64));
        c.u.set.visible = gen_u8(f, 1);
        mode = ptr_mode(f);
        c.u.set.shape = mode ? other_ptr(f, mode) : gen_cursor_shape(f);
        break;
    case QXL_CURSOR_MOVE:
        c.u.position.x = gen_u16(f, small(f, 64));
        c.u.position.y = gen_u16(f, small(f, 64));
        break;
    case QXL_CURSOR_TRAIL:
        c.u.trail.length = gen_u16(f, small(f, 8));
        c.u.trail.frequency = gen_u16(f, small(f, 8));
        break;
    }
    return put_cmd(f, &c, sizeof(c));
}

static uint64_t gen_monitors_config(Fuzz *f)
{
    uint16_t count = 1 + small(f, 4), i;
    uint32_t len = sizeof(QXLMonitorsConfig) + count * sizeof(QXLHead);
    g_autofree uint8_t *b = g_malloc0(len);
    QXLMonitorsConfig *mc = (QXLMonitorsConfig *)b;

    mc->count = gen_u16(f, count);
    mc->max_allowed = gen_u16(f, 4);
    for (i = 0; i < count; i++) {
        QXLHead *hd = &mc->heads[i];

        hd->id = gen_u32(f, i);
        hd->surface_id = gen_u32(f, 0);
        hd->width = gen_u32(f, 1 + small(f, 64));
        hd->height = gen_u32(f, 1 + small(f, 64));
        hd->x = gen_u32(f, i * 64);
        hd->y = gen_u32(f, 0);
        hd->flags = gen_u32(f, 0);
    }
    return put(f, b, len, false);
}

/* ---- rings and ports -------------------------------------------------- */

/*
 * Double fetch: rewrite bytes of the tree just handed over while the
 * worker is taking it.
 */
static void double_fetch(Fuzz *f)
{
    int n = 1 + small(f, 8), i;

    for (i = 0; i < n && f->next_; i++) {
        Extent *e = &f->ext[small(f, f->next_)];
        uint32_t off = in_u16(f) % e->len;
        uint8_t b[8];
        uint32_t len = MIN(1 + small(f, 8), e->len - off);

        in_bytes(f, b, len);
        if (in_u8(f) & 1) {
            g_usleep(small(f, 50));
        }
        qtest_memwrite(f->s, e->gpa + off, b, len);
    }
}

static void pop_releases(Fuzz *f)
{
    uint64_t ring = RAM(f, release_ring);
    uint32_t prod = qtest_readl(f->s, ring + RING_PROD);
    uint32_t cons = qtest_readl(f->s, ring + RING_CONS);
    int budget = QXL_RELEASE_RING_SIZE;

    while (cons != prod && budget--) {
        uint64_t id = qtest_readq(f->s, ring + 20 +
                                  (cons % QXL_RELEASE_RING_SIZE) * 8);
        int chain = 64;

        /* Walk the chain of release infos of our own objects. */
        while (id && chain-- &&
               (id & ~0xffffffffffffULL) == RELEASE_TAG &&
               (id & 0xffffffffULL) + 8 <= f->ram_header) {
            id = qtest_readq(f->s, QXL_BAR0_GPA + (id & 0xffffffffULL));
        }
        cons++;
        qtest_writel(f->s, ring + RING_CONS, cons);
    }
    qtest_writel(f->s, ring + RING_NOTIFY_PROD, cons + 1);
}

/* Put a command on a ring, notify, give the worker time to take it. */
static void push(Fuzz *f, bool cursor, uint32_t type, uint64_t p)
{
    uint64_t ring = cursor ? RAM(f, cursor_ring) : RAM(f, cmd_ring);
    uint32_t prod = qtest_readl(f->s, ring + RING_PROD);
    uint32_t cons = qtest_readl(f->s, ring + RING_CONS);
    QXLCommand cmd = { .data = p, .type = type };

    /*
     * QXL_FUZZ_AVOID=worker-spin steps around the known hang of
     * qxl-fuzz-regress-test's worker-spin/after-guest-bug: no command
     * once the device raised ERROR (see also retract_rings()).
     */
    if (f->avoid_spin &&
        (qtest_readl(f->s, RAM(f, int_pending)) & QXL_INTERRUPT_ERROR)) {
        return;
    }
    if (prod - cons >= QXL_COMMAND_RING_SIZE) {
        pop_releases(f);
        if (!wait_ring_empty(f, ring, RING_WAIT_US)) {
            return;
        }
        prod = qtest_readl(f->s, ring + RING_PROD);
    }
    qtest_memwrite(f->s, ring + 20 + (prod % QXL_COMMAND_RING_SIZE) *
                   sizeof(QXLCommand), &cmd, sizeof(cmd));
    qtest_writel(f->s, ring + RING_PROD, prod + 1);
    qxl_out(f, cursor ? QXL_IO_NOTIFY_CURSOR : QXL_IO_NOTIFY_CMD, 0);
    if (f->double_fetch) {
        double_fetch(f);
    }
    wait_ring_empty(f, ring, RING_WAIT_US);
}

static void gen_memslot(Fuzz *f)
{
    static const uint64_t bases[] = {
        QXL_BAR0_GPA, QXL_BAR1_GPA, QXL_ROM_GPA, 0, VDI_RAM_GPA,
    };
    static const uint64_t sizes[] = {
        QXL_RAM_BYTES, QXL_VRAM_BYTES, 8 * KiB, 64 * MiB, 64 * KiB,
    };
    int k = small(f, ARRAY_SIZE(bases));
    uint64_t start = bases[k] + gen_u32(f, 0);
    uint64_t end = bases[k] + gen_u32(f, sizes[k]);

    if (in_u8(f) >= 0xf0) {
        start = in_u64(f);
        end = in_u64(f);
    }
    qtest_writeq(f->s, RAM(f, mem_slot.mem_start), start);
    qtest_writeq(f->s, RAM(f, mem_slot.mem_end), end);
}

static void gen_create_primary(Fuzz *f, uint32_t w, uint32_t h)
{
    QXLSurfaceCreate sc = { 0 };
    int32_t stride = w * 4;

    sc.width = gen_u32(f, w);
    sc.height = gen_u32(f, h);
    sc.stride = gen_u32(f, in_u8(f) >= 0xe0 ? -stride : stride);
    sc.format = gen_u32(f, in_u8(f) < 0xe0 ? SPICE_SURFACE_FMT_32_xRGB :
                           surface_formats[small(f,
                                           ARRAY_SIZE(surface_formats))]);
    sc.position = gen_u32(f, 0);
    sc.mouse_mode = gen_u32(f, 1);
    sc.flags = gen_u32(f, 0);
    sc.type = gen_u32(f, QXL_SURF_TYPE_PRIMARY);
    sc.mem = phys(f, &f->bar0, gen_u32(f, 0));
    if (in_u8(f) >= 0xf0) {
        sc.mem = in_u64(f);
    }
    qtest_memwrite(f->s, RAM(f, create_surface), &sc, sizeof(sc));
    f->sw[0] = w;
    f->sh[0] = h;
}

/*
 * QXL_FUZZ_AVOID=worker-spin, before a port write or the reset: once the
 * device raised ERROR, the guest takes back what it queued (prod = cons),
 * which ends the worker's spin before anything waits for the worker.
 */
static void retract_rings(Fuzz *f)
{
    uint64_t rings[] = { RAM(f, cmd_ring), RAM(f, cursor_ring) };
    int i;

    if (!(qtest_readl(f->s, RAM(f, int_pending)) & QXL_INTERRUPT_ERROR)) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(rings); i++) {
        qtest_writel(f->s, rings[i] + RING_PROD,
                     qtest_readl(f->s, rings[i] + RING_CONS));
    }
    g_usleep(1000);
}

/* Does [gpa, gpa + len) touch the indices of the command or cursor ring? */
static bool ring_header_hit(Fuzz *f, uint64_t gpa, uint32_t len)
{
    uint64_t rings[] = { RAM(f, cmd_ring), RAM(f, cursor_ring) };
    int i;

    for (i = 0; i < ARRAY_SIZE(rings); i++) {
        if (gpa < rings[i] + RING_NOTIFY_CONS + 4 && gpa + len > rings[i]) {
            return true;
        }
    }
    return false;
}

static bool qxl_port_is_async(uint8_t port)
{
    return port >= QXL_IO_UPDATE_AREA_ASYNC &&
           port <= QXL_IO_MONITORS_CONFIG_ASYNC &&
           port != QXL_IO_FLUSH_RELEASE;
}

/* An I/O port write, with the RAM header fields it reads filled first. */
static void gen_io(Fuzz *f)
{
    uint8_t port = small(f, QXL_IO_RANGE_SIZE + 1);
    uint8_t val = small(f, 8);
    QXLRect r;

    switch (port) {
    case QXL_IO_UPDATE_AREA:
    case QXL_IO_UPDATE_AREA_ASYNC:
        val = small(f, 2);
        gen_rect(f, &r, f->sw[val] ? f->sw[val] : 64,
                 f->sh[val] ? f->sh[val] : 64);
        qtest_memwrite(f->s, RAM(f, update_area), &r, sizeof(r));
        qtest_writel(f->s, RAM(f, update_surface), gen_u32(f, val));
        break;
    case QXL_IO_MEMSLOT_ADD:
    case QXL_IO_MEMSLOT_ADD_ASYNC:
        gen_memslot(f);
        val = 3 + small(f, 5);
        break;
    case QXL_IO_CREATE_PRIMARY:
    case QXL_IO_CREATE_PRIMARY_ASYNC:
        gen_create_primary(f, 1 + small(f, 128), 1 + small(f, 128));
        f->primary = true;
        break;
    case QXL_IO_DESTROY_PRIMARY:
    case QXL_IO_DESTROY_PRIMARY_ASYNC:
        f->primary = false;
        break;
    case QXL_IO_MONITORS_CONFIG_ASYNC:
        qtest_writeq(f->s, RAM(f, monitors_config), gen_monitors_config(f));
        break;
    case QXL_IO_SET_MODE:
        f->primary = false;
        break;
    }
    val = gen_u8(f, val);
    if (f->avoid_spin) {
        retract_rings(f);
    }
    if (port == QXL_IO_RANGE_SIZE) {
        /* A port past the range, or any byte of it. */
        port = gen_u8(f, port);
    }
    qxl_out(f, port, val);
    if (qxl_port_is_async(port)) {
        wait_irq(f, QXL_INTERRUPT_IO_CMD, ASYNC_WAIT_US);
    }
}

/* ---- the VDI port ----------------------------------------------------- */

static void vdi_put_packets(Fuzz *f, const uint8_t *data, uint32_t len)
{
    uint64_t ring = VDI_RAM_GPA + VDI_RING_INPUT;
    uint32_t prod = qtest_readl(f->s, ring + RING_PROD);
    uint32_t cons = qtest_readl(f->s, ring + RING_CONS);
    uint32_t pos = 0;

    while (pos < len && prod - cons < VDI_RING_SIZE) {
        uint8_t pkt[VDI_PACKET_SIZE] = { 0 };
        uint32_t size = MIN(len - pos, 1 + small(f, VDI_PACKET_DATA));

        stl_le_p(pkt, gen_u32(f, f->vdi_gen));
        stl_le_p(pkt + 4, gen_u32(f, size));
        memcpy(pkt + 8, data + pos, size);
        pos += size;
        qtest_memwrite(f->s, ring + VDI_RING_ITEMS +
                       (prod % VDI_RING_SIZE) * VDI_PACKET_SIZE,
                       pkt, sizeof(pkt));
        prod++;
    }
    qtest_writel(f->s, ring + RING_PROD, prod);
}

/* One agent message: VDIChunkHeader, VDAgentMessage, its payload. */
static uint32_t gen_agent_msg(Fuzz *f, uint8_t *buf, uint32_t room)
{
    uint32_t payload = small(f, 96);
    uint32_t len = sizeof(VDIChunkHeader) + sizeof(VDAgentMessage) + payload;
    VDIChunkHeader ch;
    VDAgentMessage m;

    if (len > room) {
        return 0;
    }
    ch.port = gen_u32(f, 1 + small(f, 2));
    ch.size = gen_u32(f, sizeof(m) + payload);
    m.protocol = gen_u32(f, VD_AGENT_PROTOCOL);
    m.type = gen_u32(f, 1 + small(f, VD_AGENT_END_MESSAGE));
    m.opaque = in_u8(f);
    m.size = gen_u32(f, payload);
    memcpy(buf, &ch, sizeof(ch));
    memcpy(buf + sizeof(ch), &m, sizeof(m));
    in_bytes(f, buf + sizeof(ch) + sizeof(m), payload);
    if (m.type == VD_AGENT_ANNOUNCE_CAPABILITIES && payload >= 4) {
        buf[sizeof(ch) + sizeof(m)] &= 1;     /* request */
    }
    return len;
}

static void vdi_consume_output(Fuzz *f)
{
    uint64_t ring = VDI_RAM_GPA + VDI_RING_OUTPUT;
    uint32_t prod = qtest_readl(f->s, ring + RING_PROD);
    uint32_t cons = qtest_readl(f->s, ring + RING_CONS);
    uint32_t n = gen_u32(f, prod - cons);

    cons += n;
    qtest_writel(f->s, ring + RING_CONS, cons);
    qtest_writel(f->s, ring + RING_NOTIFY_PROD, gen_u32(f, cons + 1));
}

static void gen_vdi(Fuzz *f)
{
    switch (small(f, 8)) {
    case 0:
        f->vdi_gen = qtest_inl(f->s, VDI_IO_BASE + VDI_IO_CONNECTION);
        qtest_writel(f->s, VDI_RAM_GPA + VDI_RAM_INT_MASK, gen_u32(f, 1));
        break;
    case 1:
        qtest_outl(f->s, VDI_IO_BASE + VDI_IO_CONNECTION, in_u8(f));
        break;
    case 2:
    case 3: {
        uint8_t buf[2048];
        uint32_t len = 0, l;
        int n = 1 + small(f, 4);

        while (n-- && (l = gen_agent_msg(f, buf + len, sizeof(buf) - len))) {
            len += l;
        }
        vdi_put_packets(f, buf, len);
        qtest_outl(f->s, VDI_IO_BASE + VDI_IO_NOTIFY, 0);
        break;
    }
    case 4: {
        /* Raw bytes: packets that split messages anywhere. */
        uint8_t buf[1024];
        uint32_t len = 1 + small(f, 255) * 4;

        in_bytes(f, buf, len);
        vdi_put_packets(f, buf, len);
        qtest_outl(f->s, VDI_IO_BASE + VDI_IO_NOTIFY, 0);
        break;
    }
    case 5:
        vdi_consume_output(f);
        qtest_outl(f->s, VDI_IO_BASE + VDI_IO_NOTIFY, 0);
        break;
    case 6: {
        /* A ring field, an int register, any port, any access size. */
        static const uint32_t fields[] = {
            VDI_RAM_INT_PENDING, VDI_RAM_INT_MASK, VDI_RAM_GENERATION,
            VDI_RING_INPUT + RING_PROD, VDI_RING_INPUT + RING_CONS,
            VDI_RING_INPUT + RING_NOTIFY_CONS, VDI_RING_OUTPUT + RING_PROD,
            VDI_RING_OUTPUT + RING_CONS, VDI_RING_OUTPUT + RING_NOTIFY_PROD,
        };
        qtest_writel(f->s, VDI_RAM_GPA + fields[small(f, ARRAY_SIZE(fields))],
                     in_u32(f));
        break;
    }
    default: {
        uint16_t port = VDI_IO_BASE + small(f, 16);

        switch (small(f, 4)) {
        case 0:
            qtest_outb(f->s, port, in_u8(f));
            break;
        case 1:
            qtest_outw(f->s, port, in_u16(f));
            break;
        case 2:
            qtest_outl(f->s, port, in_u32(f));
            break;
        default:
            qtest_inl(f->s, port);
        }
        break;
    }
    }
    pump();
}

/* ---- the fuzz loop ---------------------------------------------------- */

enum {
    OP_DRAW,
    OP_DRAW2,
    OP_DRAW3,
    OP_SURFACE,
    OP_UPDATE,
    OP_MESSAGE,
    OP_CURSOR,
    OP_CURSOR2,
    OP_RAW_CMD,
    OP_IO,
    OP_IO2,
    OP_RELEASE,
    OP_DOUBLE_FETCH,
    OP_MEMWRITE,
    OP_VDI,
    OP_VDI2,
    OP_WAIT,
    OP_COUNT
};

static void pci_setup(Fuzz *f)
{
    pci_cfg_writel(f, QXL_DEVFN, PCI_BASE_ADDRESS_0, QXL_BAR0_GPA);
    pci_cfg_writel(f, QXL_DEVFN, PCI_BASE_ADDRESS_1, QXL_BAR1_GPA);
    pci_cfg_writel(f, QXL_DEVFN, PCI_BASE_ADDRESS_2, QXL_ROM_GPA);
    pci_cfg_writel(f, QXL_DEVFN, PCI_BASE_ADDRESS_3, QXL_IO_BASE);
    pci_cfg_writew(f, QXL_DEVFN, PCI_COMMAND,
                   PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    if (f->have_vdi) {
        pci_cfg_writel(f, VDI_DEVFN, PCI_BASE_ADDRESS_0, VDI_IO_BASE);
        pci_cfg_writel(f, VDI_DEVFN, PCI_BASE_ADDRESS_1, VDI_RAM_GPA);
        pci_cfg_writew(f, VDI_DEVFN, PCI_COMMAND,
                       PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
                       PCI_COMMAND_MASTER);
    }
}

static Fuzz fz;

static void qxl_fuzz_pre(QTestState *s)
{
    QXLRom rom;
    sigset_t alrm;

    /*
     * QEMU's main loop blocks SIGALRM, which libFuzzer's -timeout uses: a
     * hang (a sync port that never returns) must be reported too.
     */
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);

    fz.s = s;
    fz.avoid_spin = g_strcmp0(getenv("QXL_FUZZ_AVOID"), "worker-spin") == 0;
    fz.have_vdi = object_class_by_name("vdi-port") != NULL;
    pci_setup(&fz);
    qtest_memread(s, QXL_ROM_GPA, &rom, sizeof(rom));
    g_assert(rom.magic == QXL_ROM_MAGIC);
    fz.ram_header = rom.ram_header_offset;
    fz.n_surfaces = rom.n_surfaces;
    fz.id_shift = 64 - rom.slot_id_bits;
    fz.gen_shift = fz.id_shift - rom.slot_gen_bits;
    fz.generation = rom.slot_generation;
    fz.bar0 = (Arena){ QXL_BAR0_GPA, SLOT_BAR0, rom.pages_offset,
                       rom.ram_header_offset };
    fz.vram = (Arena){ QXL_BAR1_GPA, SLOT_VRAM, 0, QXL_VRAM_MB * MiB };
}

static void arena_clear(Fuzz *f, Arena *a)
{
    if (a->next > a->start) {
        qtest_memset(f->s, a->gpa + a->start, 0, a->next - a->start);
    }
    a->next = a->start;
}

static void qxl_fuzz(QTestState *s, const unsigned char *data, size_t size)
{
    Fuzz *f = &fz;
    uint8_t flags;

    f->p = data;
    f->n = size;
    f->budget = ARENA_BUDGET;
    f->nobjs = 0;
    f->next_ = 0;
    f->double_fetch = false;
    f->vdi_gen = 0;
    f->primary = false;
    memset(f->sw, 0, sizeof(f->sw));
    memset(f->sh, 0, sizeof(f->sh));

    /* What a driver does first: memslots, interrupts, a primary. */
    flags = in_u8(f);
    qtest_writel(s, RAM(f, int_mask), ~0u);
    if (!(flags & 1)) {
        qtest_writeq(s, RAM(f, mem_slot.mem_start), QXL_BAR0_GPA);
        qtest_writeq(s, RAM(f, mem_slot.mem_end),
                     QXL_BAR0_GPA + QXL_RAM_BYTES);
        qxl_out(f, QXL_IO_MEMSLOT_ADD, SLOT_BAR0);
        qtest_writeq(s, RAM(f, mem_slot.mem_start), QXL_BAR1_GPA);
        qtest_writeq(s, RAM(f, mem_slot.mem_end),
                     QXL_BAR1_GPA + QXL_VRAM_MB * MiB);
        qxl_out(f, QXL_IO_MEMSLOT_ADD, SLOT_VRAM);
    }
    if (!(flags & 2)) {
        uint32_t w = 8 + small(f, 121);

        gen_create_primary(f, w, 8 + small(f, 121));
        qxl_out(f, QXL_IO_CREATE_PRIMARY, 0);
        f->primary = true;
    }
    if (flags & 4) {
        f->double_fetch = true;
    }

    while (f->n) {
        switch (in_u8(f) % OP_COUNT) {
        case OP_DRAW:
        case OP_DRAW2:
        case OP_DRAW3:
            f->next_ = 0;
            push(f, false, QXL_CMD_DRAW, gen_drawable(f));
            break;
        case OP_SURFACE:
            f->next_ = 0;
            push(f, false, QXL_CMD_SURFACE, gen_surface_cmd(f));
            break;
        case OP_UPDATE:
            f->next_ = 0;
            push(f, false, QXL_CMD_UPDATE, gen_update_cmd(f));
            break;
        case OP_MESSAGE:
            f->next_ = 0;
            push(f, false, QXL_CMD_MESSAGE, gen_message_cmd(f));
            break;
        case OP_CURSOR:
        case OP_CURSOR2:
            f->next_ = 0;
            push(f, true, QXL_CMD_CURSOR, gen_cursor_cmd(f));
            break;
        case OP_RAW_CMD: {
            /* Any type, pointing at anything generated so far. */
            uint32_t type = gen_u32(f, small(f, QXL_CMD_SURFACE + 1));
            int mode = ptr_mode(f);
            push(f, in_u8(f) & 1, type, other_ptr(f, mode ? mode : 2));
            break;
        }
        case OP_IO:
        case OP_IO2:
            gen_io(f);
            break;
        case OP_RELEASE:
            pop_releases(f);
            if (in_u8(f) & 1) {
                qxl_out(f, QXL_IO_FLUSH_RELEASE, 0);
            }
            break;
        case OP_DOUBLE_FETCH:
            f->double_fetch = !f->double_fetch;
            break;
        case OP_MEMWRITE: {
            /* Raw bytes over generated objects or the RAM header. */
            uint8_t b[16];
            uint32_t len = 1 + small(f, 16);
            uint64_t gpa = in_u8(f) & 1 ?
                QXL_BAR0_GPA + f->ram_header + in_u16(f) % sizeof(QXLRam) :
                QXL_BAR0_GPA + f->bar0.start + in_u16(f) * 8;

            in_bytes(f, b, len);
            if (f->avoid_spin && ring_header_hit(f, gpa, len)) {
                break;  /* prod = cons needs the ring indices it wrote */
            }
            qtest_memwrite(s, gpa, b, len);
            break;
        }
        case OP_VDI:
        case OP_VDI2:
            if (f->have_vdi) {
                gen_vdi(f);
            } else {
                in_u8(f);
            }
            break;
        case OP_WAIT:
            wait_ring_empty(f, RAM(f, cmd_ring), RING_WAIT_US);
            g_usleep(small(f, 200));
            pump();
            break;
        }
    }

    /* Let the worker finish: the rings, then everything drawn. */
    wait_ring_empty(f, RAM(f, cmd_ring), RING_WAIT_US);
    wait_ring_empty(f, RAM(f, cursor_ring), RING_WAIT_US);
    if (f->avoid_spin) {
        retract_rings(f);
    }
    if (f->primary) {
        QXLRect r = { 0, 0, MAX(f->sh[0], 1), MAX(f->sw[0], 1) };

        qtest_memwrite(s, RAM(f, update_area), &r, sizeof(r));
        qtest_writel(s, RAM(f, update_surface), 0);
        qxl_out(f, QXL_IO_UPDATE_AREA, 0);
    }
    pop_releases(f);
    pump();
    if (f->avoid_spin) {
        retract_rings(f);
    }

    /* Back to a machine just booted, for the next input. */
    fuzz_reset(s);
    pci_setup(f);
    arena_clear(f, &f->bar0);
    arena_clear(f, &f->vram);
}

static char *spice_dir;

static void cleanup(void)
{
    if (spice_dir) {
        g_autofree char *sock = g_build_filename(spice_dir, "spice.sock",
                                                 NULL);
        unlink(sock);
        rmdir(spice_dir);
    }
}

static GString *qxl_fuzz_cmdline(FuzzTarget *t)
{
    GString *cmd = g_string_new(t->name);

    spice_dir = g_dir_make_tmp("qxl-fuzz-XXXXXX", NULL);
    g_assert(spice_dir);
    atexit(cleanup);
    g_string_append_printf(cmd,
        " -machine pc,accel=qtest -m 64 -nodefaults -vga none -display none"
        " -spice unix=on,addr=%s/spice.sock,disable-ticketing=on"
        " -device qxl-vga,id=qxl0,addr=02.0,ram_size_mb=%d,vram_size_mb=%d,"
        "vgamem_mb=%d,surfaces=%d",
        spice_dir, QXL_RAM_MB, QXL_VRAM_MB, QXL_VGAMEM_MB, QXL_SURFACES);
    if (object_class_by_name("vdi-port")) {
        g_string_append(cmd, " -device vdi-port,addr=03.0");
    }
    if (getenv("QXL_FUZZ_TRACE")) {
        /* e.g. QXL_FUZZ_TRACE='qxl_*' to follow a reproducer */
        g_string_append_printf(cmd, " -trace '%s'", getenv("QXL_FUZZ_TRACE"));
    }
    return cmd;
}

/*
 * spice-server warns about every bad command: keep stderr for crashes.
 * Its fatal errors (spice_error(), G_LOG_LEVEL_ERROR) end in glib's
 * G_BREAKPOINT, a SIGTRAP in a worker thread that blocks signals: the
 * kernel kills the process and libFuzzer keeps no input.  Abort instead.
 */
static void spice_log_handler(const gchar *domain, GLogLevelFlags level,
                              const gchar *message, gpointer opaque)
{
    if (level & G_LOG_LEVEL_ERROR) {
        fprintf(stderr, "%s: %s\n", domain, message);
        abort();
    }
    if (getenv("QXL_FUZZ_VERBOSE")) {
        fprintf(stderr, "%s: %s\n", domain, message);
    }
}

static void qxl_fuzz_pre_vm_init(void)
{
    g_log_set_handler("Spice", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL,
                      spice_log_handler, NULL);
}

static void register_qxl_fuzz_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "qxl",
        .description = "Structure-aware fuzzing of qxl-vga (generated command "
                       "trees, memslots, double fetch) and, where it "
                       "exists, the vdi-port (generated agent traffic), "
                       "with spice-server's worker running",
        .get_init_cmdline = qxl_fuzz_cmdline,
        .pre_vm_init = qxl_fuzz_pre_vm_init,
        .pre_fuzz = qxl_fuzz_pre,
        .fuzz = qxl_fuzz,
    });
}

fuzz_target_init(register_qxl_fuzz_targets);
