/*
 * QXL command snapshots.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * spice-server aborts the whole process on malformed commands, and it
 * reads guest memory itself: a check of guest memory that spice-server
 * then reads again proves nothing, since the guest may change it in
 * between.  So when the worker takes a command, this file reads the
 * command and everything it points to exactly once, through the memslot
 * door (qxl-memslot.c), into host memory it owns; checks the copy against
 * what spice-server would abort on or read past; and rewrites every
 * pointer in it to a host address.  spice-server is given the copy in the
 * host memslot group (slot 0 of group 0 maps host memory as itself), so
 * it never translates a guest address of a command again.
 *
 * What stays in guest memory: surface pixels (the surface's bounds are
 * fixed when it is created), and the pixel payload of direct-colour
 * bitmaps, whose size and stride are fixed in the copy and in which every
 * byte value is harmless.  Everything that is interpreted (chunk headers,
 * palettes and palette indices, QUIC streams, glyphs, paths, clip rects,
 * cursor shapes) is copied.
 *
 * A snapshot keeps the guest's release id and where the guest's
 * QXLReleaseInfo is: release_resource puts that id on the release ring
 * (qxl-ring.c).  Live snapshots are charged to a per-device budget.
 *
 * QXL is little-endian only (spice-server reads these layouts natively),
 * so fields are used as they are.
 *
 * Runs in spice-server's worker thread (take, accept, release) except the
 * migration replay (main loop, with the worker stopped).  The surface table
 * is shared with the vCPU threads' I/O handlers under track_lock.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "qxl-limits.h"
#include "qxl-snapshot.h"
#include "trace.h"

QEMU_BUILD_BUG_ON(HOST_BIG_ENDIAN);

/* The release id spice-server sees in our copies: not a host address. */
#define QXL_SNAPSHOT_TAG        0x51584c534e415053ULL

/* Host memory is taken from the allocator in blocks of at least this. */
#define QXL_SNAPSHOT_BLOCK      4096

/* Most commands fit in the snapshot itself. */
#define QXL_SNAPSHOT_INLINE     512

struct QXLSnapshot {
    uint64_t guest_id;          /* the guest's release id, read once */
    uint64_t guest_info;        /* its QXLReleaseInfo, as a RAM offset */
    QXLPHYSICAL guest_cmd;      /* the command, for migration tracking */
    uint32_t type;              /* QXL_CMD_* */
    uint64_t bytes;             /* charged to the budget */
    QXLGuestRange surface_mem;  /* a surface create's pixels */
    GSList *blocks;             /* further host memory of this copy */
    uint8_t *free_ptr;
    size_t free_len;
    /* What spice-server parses: it starts with a QXLReleaseInfo. */
    union {
        QXLReleaseInfo release_info;
        QXLDrawable drawable;
        QXLUpdateCmd update;
        QXLSurfaceCmd surface;
        QXLCursorCmd cursor;
        QXLMessage message;
    } root;
    uint8_t arena[QXL_SNAPSHOT_INLINE] QEMU_ALIGNED(8);
};

/* One walk over a guest command tree. */
typedef struct QXLWalk {
    PCIQXLDevice *d;
    QXLSnapshot *s;
    uint64_t budget;            /* bytes this command may still take */
} QXLWalk;

/* ---- host memory of a snapshot ------------------------------------------ */

/* Zeroed host memory for the copy; NULL (a guest bug) past the budget. */
static void *walk_alloc(QXLWalk *w, uint64_t size, const char *what)
{
    QXLSnapshot *s = w->s;
    void *p;

    size = ROUND_UP(size, 8);
    if (size > s->free_len) {
        uint64_t block = MAX(size, QXL_SNAPSHOT_BLOCK);
        uint8_t *mem;

        if (block > w->budget) {
            qxl_guest_bug(w->d, "%s: command needs more than the snapshot "
                          "budget (%" PRIu64 " bytes)", what,
                          w->d->snapshot_budget);
            return NULL;
        }
        mem = g_try_malloc(block);
        if (!mem) {
            qxl_guest_bug(w->d, "%s: cannot allocate %" PRIu64 " bytes",
                          what, block);
            return NULL;
        }
        w->budget -= block;
        s->bytes += block;
        s->blocks = g_slist_prepend(s->blocks, mem);
        s->free_ptr = mem;
        s->free_len = block;
    }
    p = s->free_ptr;
    s->free_ptr += size;
    s->free_len -= size;
    memset(p, 0, size);
    return p;
}

/* ---- reading guest memory (through the door) ---------------------------- */

static bool walk_read(QXLWalk *w, QXLPHYSICAL phys, void *buf, uint64_t size,
                      const char *what)
{
    if (!qxl_read_guest(w->d, phys, buf, size)) {
        qxl_guest_bug(w->d, "%s at 0x%" PRIx64 " (%" PRIu64 " bytes) is not "
                      "inside an active memslot", what, phys, size);
        return false;
    }
    return true;
}

/*
 * Copy a structure of @head_size bytes that ends with the first
 * QXLDataChunk of a list holding @size bytes: the copy is the structure
 * followed by one chunk holding all the data.  Only the list as read here
 * is used: the structure's own chunk header is rebuilt.
 */
static void *walk_chunked(QXLWalk *w, QXLPHYSICAL phys, size_t head_size,
                          uint64_t size, size_t min_size, const char *what)
{
    uint8_t *copy = walk_alloc(w, MAX(head_size + size, min_size), what);
    QXLDataChunk *chunk;

    if (!copy) {
        return NULL;
    }
    chunk = (QXLDataChunk *)(copy + head_size - sizeof(QXLDataChunk));
    if (!qxl_read_chunks(w->d, phys + head_size - sizeof(QXLDataChunk), size,
                         chunk->data)) {
        qxl_guest_bug(w->d, "%s at 0x%" PRIx64 ": chunk list does not hold "
                      "%" PRIu64 " bytes in at most %d chunks inside "
                      "memslots", what, phys, size, QXL_MAX_CHUNKS);
        return NULL;
    }
    chunk->data_size = size;
    return copy;
}

/* ---- surfaces ----------------------------------------------------------- */

/*
 * A secondary surface is LIVE from the accepted command that creates it,
 * DYING once a command or port destroys it, and FREE again only when
 * spice-server releases its create command, which it does when it frees
 * the surface.  Until then spice-server still draws into it with the size
 * it was created with, and ignores another create: so does the device.
 */
enum {
    QXL_SURFACE_FREE,
    QXL_SURFACE_LIVE,
    QXL_SURFACE_DYING,
};

void qxl_surfaces_init(PCIQXLDevice *d)
{
    d->surfaces = g_new0(QXLSurfaceState, d->num_surfaces);
}

void qxl_surfaces_cleanup(PCIQXLDevice *d)
{
    g_free(d->surfaces);
    d->surfaces = NULL;
}

/* Size of a surface spice-server holds; false if it holds none. */
bool qxl_surface_size(PCIQXLDevice *d, uint32_t surface_id, uint32_t *width,
                      uint32_t *height)
{
    bool held = false;

    if (surface_id == 0) {
        uint32_t mode = qatomic_read(&d->mode);

        if (mode != QXL_MODE_NATIVE && mode != QXL_MODE_COMPAT) {
            return false;
        }
        *width = d->primary.width;
        *height = d->primary.height;
        return true;
    }
    if (surface_id >= d->num_surfaces) {
        return false;
    }
    WITH_QEMU_LOCK_GUARD(&d->track_lock) {
        QXLSurfaceState *st = &d->surfaces[surface_id];

        if (st->state != QXL_SURFACE_FREE) {
            *width = st->width;
            *height = st->height;
            held = true;
        }
    }
    return held;
}

/*
 * Mark the pixels of every surface spice-server holds dirty: it writes
 * them behind QEMU's back (migration, qxl-migrate.c).
 */
void qxl_surfaces_set_dirty(PCIQXLDevice *d)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    for (uint32_t i = 1; i < d->num_surfaces; i++) {
        if (d->surfaces[i].state != QXL_SURFACE_FREE) {
            qxl_guest_range_set_dirty(&d->surfaces[i].mem);
        }
    }
}

/* A port destroyed @surface_id (or all surfaces, for UINT32_MAX). */
void qxl_surfaces_destroyed(PCIQXLDevice *d, uint32_t surface_id)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    for (uint32_t i = 1; i < d->num_surfaces; i++) {
        if ((surface_id == UINT32_MAX || i == surface_id) &&
            d->surfaces[i].state == QXL_SURFACE_LIVE) {
            d->surfaces[i].state = QXL_SURFACE_DYING;
        }
        if (surface_id == UINT32_MAX || i == surface_id) {
            d->surface_cmds[i] = 0;
        }
    }
}

static bool walk_surface_id(QXLWalk *w, uint32_t id, const char *what)
{
    if (id >= w->d->num_surfaces) {
        qxl_guest_bug(w->d, "%s: surface id %u out of range (%d surfaces)",
                      what, id, w->d->num_surfaces);
        return false;
    }
    return true;
}

static bool walk_rect(QXLWalk *w, const QXLRect *r, const char *what)
{
    if (r->top > r->bottom || r->left > r->right) {
        qxl_guest_bug(w->d, "%s: inverted rect (%d,%d)-(%d,%d)", what,
                      r->left, r->top, r->right, r->bottom);
        return false;
    }
    return true;
}

static bool rect_inside(const QXLRect *r, const QXLRect *outer)
{
    return r->left >= outer->left && r->top >= outer->top &&
           r->right <= outer->right && r->bottom <= outer->bottom;
}

/* ---- images ------------------------------------------------------------- */

static const uint8_t bitmap_bpp[] = {
    [SPICE_BITMAP_FMT_1BIT_LE] = 1,
    [SPICE_BITMAP_FMT_1BIT_BE] = 1,
    [SPICE_BITMAP_FMT_4BIT_LE] = 4,
    [SPICE_BITMAP_FMT_4BIT_BE] = 4,
    [SPICE_BITMAP_FMT_8BIT] = 8,
    [SPICE_BITMAP_FMT_16BIT] = 16,
    [SPICE_BITMAP_FMT_24BIT] = 24,
    [SPICE_BITMAP_FMT_32BIT] = 32,
    [SPICE_BITMAP_FMT_RGBA] = 32,
    [SPICE_BITMAP_FMT_8BIT_A] = 8,
};

/* Formats whose bytes are palette indices. */
static bool bitmap_indexed(uint8_t format)
{
    return format <= SPICE_BITMAP_FMT_8BIT;
}

static bool bitmap_is_mask(uint8_t format)
{
    return format == SPICE_BITMAP_FMT_1BIT_LE ||
           format == SPICE_BITMAP_FMT_1BIT_BE;
}

/*
 * Copy a palette for indices of @bpp bits.  The copy always has an entry
 * for every index (the guest's, then black), so no index reads past it.
 */
static bool walk_palette(QXLWalk *w, void *field, unsigned bpp)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLPalette head;
    QXLPalette *copy;
    uint32_t n, entries = 1u << bpp;

    if (!walk_read(w, phys, &head, sizeof(head), "palette")) {
        return false;
    }
    n = head.num_ents;
    if (n == 0 || n > QXL_MAX_PALETTE_ENTRIES) {
        qxl_guest_bug(w->d, "palette of %u entries", n);
        return false;
    }
    entries = MAX(entries, n);
    copy = walk_alloc(w, sizeof(*copy) + entries * sizeof(uint32_t),
                      "palette");
    if (!copy ||
        !walk_read(w, phys + sizeof(head), copy->ents, n * sizeof(uint32_t),
                   "palette entries")) {
        return false;
    }
    copy->unique = head.unique;
    copy->num_ents = entries;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

/*
 * The pixels of a bitmap: @size bytes, flat at @data or in the chunk list
 * starting there.  Direct-colour pixels stay in guest memory when they lie
 * in one piece; anything else is copied.  The result is always flat.
 */
static bool walk_bitmap_data(QXLWalk *w, QXLBitmap *b, uint64_t size,
                             bool share)
{
    QXLGuestRange r;
    uint8_t *copy;

    if (b->flags & QXL_BITMAP_DIRECT) {
        if (!qxl_translate(w->d, b->data, size, &r)) {
            qxl_guest_bug(w->d, "bitmap data at 0x%" PRIx64 " (%" PRIu64
                          " bytes) is not inside an active memslot",
                          b->data, size);
            return false;
        }
        if (share) {
            b->data = (uintptr_t)r.host;
            return true;
        }
        copy = walk_alloc(w, size, "bitmap data");
        if (!copy) {
            return false;
        }
        memcpy(copy, r.host, size);
        b->data = (uintptr_t)copy;
        return true;
    }
    if (share && qxl_map_single_chunk(w->d, b->data, size, &r)) {
        b->data = (uintptr_t)r.host;
        return true;
    }
    copy = walk_alloc(w, size, "bitmap data");
    if (!copy) {
        return false;
    }
    if (!qxl_read_chunks(w->d, b->data, size, copy)) {
        qxl_guest_bug(w->d, "bitmap chunks at 0x%" PRIx64 " do not hold %"
                      PRIu64 " bytes", b->data, size);
        return false;
    }
    b->data = (uintptr_t)copy;
    return true;
}

static bool walk_image_size(QXLWalk *w, uint32_t width, uint32_t height,
                            const char *what)
{
    if (width == 0 || height == 0 || width > QXL_MAX_IMAGE_SIDE ||
        height > QXL_MAX_IMAGE_SIDE ||
        (uint64_t)width * height > QXL_MAX_IMAGE_PIXELS) {
        qxl_guest_bug(w->d, "%s: image of %ux%u pixels", what, width,
                      height);
        return false;
    }
    return true;
}

static QXLImage *walk_bitmap(QXLWalk *w, const QXLImage *g, bool mask,
                             const char *what)
{
    QXLBitmap b = g->bitmap;
    QXLImage *copy;
    uint64_t row, size;
    unsigned bpp;

    if (b.format >= ARRAY_SIZE(bitmap_bpp) || !bitmap_bpp[b.format]) {
        qxl_guest_bug(w->d, "%s: bitmap of unknown format %u", what,
                      b.format);
        return NULL;
    }
    if (mask && !bitmap_is_mask(b.format)) {
        qxl_guest_bug(w->d, "%s: mask of format %u (1 bit per pixel only)",
                      what, b.format);
        return NULL;
    }
    if (!walk_image_size(w, b.x, b.y, what)) {
        return NULL;
    }
    bpp = bitmap_bpp[b.format];
    row = ((uint64_t)b.x * bpp + 7) / 8;
    size = (uint64_t)b.stride * b.y;
    if (b.stride < row || size > QXL_MAX_IMAGE_BYTES) {
        qxl_guest_bug(w->d, "%s: bitmap %ux%u of %u bpp with stride %u",
                      what, b.x, b.y, bpp, b.stride);
        return NULL;
    }
    if (bitmap_indexed(b.format) && !mask) {
        if (!b.palette) {
            qxl_guest_bug(w->d, "%s: %u bpp bitmap without a palette", what,
                          bpp);
            return NULL;
        }
        if (!walk_palette(w, &b.palette, bpp)) {
            return NULL;
        }
    } else {
        b.palette = 0;
    }
    if (!walk_bitmap_data(w, &b, size, !bitmap_indexed(b.format))) {
        return NULL;
    }
    b.flags = (b.flags & (QXL_BITMAP_TOP_DOWN | QXL_BITMAP_UNSTABLE)) |
              QXL_BITMAP_DIRECT;

    copy = walk_alloc(w, sizeof(*copy), what);
    if (!copy) {
        return NULL;
    }
    copy->descriptor = g->descriptor;
    copy->descriptor.width = b.x;
    copy->descriptor.height = b.y;
    copy->bitmap = b;
    return copy;
}

/* A QUIC image: the stream is copied whole, as one chunk after it. */
static QXLImage *walk_quic(QXLWalk *w, QXLPHYSICAL phys, const QXLImage *g,
                           const char *what)
{
    const size_t head = offsetof(QXLImage, quic.data) + sizeof(QXLDataChunk);
    uint32_t size = g->quic.data_size;
    QXLImage *copy;

    if (!walk_image_size(w, g->descriptor.width, g->descriptor.height,
                         what)) {
        return NULL;
    }
    if (size == 0 || size > QXL_MAX_IMAGE_BYTES) {
        qxl_guest_bug(w->d, "%s: QUIC stream of %u bytes", what, size);
        return NULL;
    }
    /* spice-server reads a whole QXLImage even of a short stream. */
    copy = walk_chunked(w, phys, head, size, sizeof(QXLImage), what);
    if (!copy) {
        return NULL;
    }
    copy->descriptor = g->descriptor;
    copy->quic.data_size = size;
    ((QXLDataChunk *)copy->quic.data)->data_size = size;
    return copy;
}

/*
 * Replace the image at *@phys by a checked copy.  A mask must be a 1 bpp
 * bitmap.  A surface image must name a surface spice-server holds.
 */
static bool walk_image(QXLWalk *w, void *field, bool mask,
                       const char *what)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLImage g;
    QXLImage *copy;
    uint32_t width, height;

    if (!walk_read(w, phys, &g, sizeof(g), what)) {
        return false;
    }
    switch (g.descriptor.type) {
    case SPICE_IMAGE_TYPE_BITMAP:
        copy = walk_bitmap(w, &g, mask, what);
        break;
    case SPICE_IMAGE_TYPE_QUIC:
        copy = mask ? NULL : walk_quic(w, phys, &g, what);
        break;
    case SPICE_IMAGE_TYPE_SURFACE:
        if (mask) {
            copy = NULL;
            break;
        }
        if (!qxl_surface_size(w->d, g.surface_image.surface_id, &width,
                              &height)) {
            qxl_guest_bug(w->d, "%s: image of surface %u, which does not "
                          "exist", what, g.surface_image.surface_id);
            return false;
        }
        copy = walk_alloc(w, sizeof(*copy), what);
        if (copy) {
            copy->descriptor = g.descriptor;
            copy->surface_image = g.surface_image;
        }
        break;
    default:
        qxl_guest_bug(w->d, "%s: image of type %u", what, g.descriptor.type);
        return false;
    }
    if (!copy) {
        if (mask && g.descriptor.type != SPICE_IMAGE_TYPE_BITMAP) {
            qxl_guest_bug(w->d, "%s: mask of image type %u", what,
                          g.descriptor.type);
        }
        return false;
    }
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

/* ---- drawable parts ----------------------------------------------------- */

static bool walk_brush(QXLWalk *w, QXLBrush *b, const char *what)
{
    switch (b->type) {
    case SPICE_BRUSH_TYPE_NONE:
        return true;
    case SPICE_BRUSH_TYPE_SOLID:
        return true;
    case SPICE_BRUSH_TYPE_PATTERN:
        if (!b->u.pattern.pat) {
            qxl_guest_bug(w->d, "%s: pattern brush without an image", what);
            return false;
        }
        return walk_image(w, &b->u.pattern.pat, false, what);
    default:
        qxl_guest_bug(w->d, "%s: brush of type %u", what, b->type);
        return false;
    }
}

static bool walk_qmask(QXLWalk *w, QXLQMask *m)
{
    if (!m->bitmap) {
        return true;
    }
    return walk_image(w, &m->bitmap, true, "mask");
}

/* A source image: absent only when the drawable brings its own bitmap. */
static bool walk_src(QXLWalk *w, void *field, bool self_bitmap,
                     const char *what)
{
    if (!ldq_le_p(field)) {
        if (self_bitmap) {
            return true;
        }
        qxl_guest_bug(w->d, "%s: no source image", what);
        return false;
    }
    return walk_image(w, field, false, what);
}

static bool walk_clip(QXLWalk *w, QXLClip *clip)
{
    QXLClipRects head;
    QXLClipRects *copy;
    QXLRect *rects;

    switch (clip->type) {
    case SPICE_CLIP_TYPE_NONE:
        clip->data = 0;
        return true;
    case SPICE_CLIP_TYPE_RECTS:
        break;
    default:
        qxl_guest_bug(w->d, "clip of type %u", clip->type);
        return false;
    }
    if (!walk_read(w, clip->data, &head, sizeof(head), "clip rects")) {
        return false;
    }
    if (head.num_rects > QXL_MAX_CLIP_RECTS) {
        qxl_guest_bug(w->d, "clip of %u rects", head.num_rects);
        return false;
    }
    copy = walk_chunked(w, clip->data, sizeof(head),
                        (uint64_t)head.num_rects * sizeof(QXLRect), 0,
                        "clip rects");
    if (!copy) {
        return false;
    }
    copy->num_rects = head.num_rects;
    rects = (QXLRect *)copy->chunk.data;
    for (uint32_t i = 0; i < head.num_rects; i++) {
        if (!walk_rect(w, &rects[i], "clip rect")) {
            return false;
        }
    }
    clip->data = (uintptr_t)copy;
    return true;
}

/*
 * Segments as spice-server walks them: while a segment header fits, its
 * points must fit too.  Bezier segments come in threes.
 */
static bool walk_path_segments(QXLWalk *w, const uint8_t *data, uint32_t size)
{
    uint32_t at = 0;

    while (at + sizeof(QXLPathSeg) < size) {
        const QXLPathSeg *seg = (const QXLPathSeg *)(data + at);
        uint64_t points = (uint64_t)seg->count * sizeof(QXLPointFix);

        at += sizeof(QXLPathSeg);
        if (points > size - at) {
            qxl_guest_bug(w->d, "path segment of %u points past the path's "
                          "%u bytes", seg->count, size);
            return false;
        }
        if ((seg->flags & QXL_PATH_BEZIER) && seg->count % 3) {
            qxl_guest_bug(w->d, "bezier path segment of %u points",
                          seg->count);
            return false;
        }
        at += points;
    }
    return true;
}

static bool walk_path(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLPath head;
    QXLPath *copy;

    if (!phys) {
        qxl_guest_bug(w->d, "stroke without a path");
        return false;
    }
    if (!walk_read(w, phys, &head, sizeof(head), "path")) {
        return false;
    }
    if (head.data_size > QXL_MAX_PATH_BYTES) {
        qxl_guest_bug(w->d, "path of %u bytes", head.data_size);
        return false;
    }
    copy = walk_chunked(w, phys, sizeof(head), head.data_size, 0, "path");
    if (!copy || !walk_path_segments(w, copy->chunk.data, head.data_size)) {
        return false;
    }
    copy->data_size = head.data_size;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

static bool walk_stroke(QXLWalk *w, QXLStroke *st)
{
    if (!walk_path(w, &st->path)) {
        return false;
    }
    if (st->attr.flags & SPICE_LINE_FLAGS_STYLED) {
        uint32_t n = st->attr.style_nseg;
        QXLFIXED *style;

        if (n == 0 || n > QXL_MAX_LINE_STYLE || !st->attr.style) {
            qxl_guest_bug(w->d, "styled line with %u dashes at 0x%" PRIx64,
                          n, st->attr.style);
            return false;
        }
        style = walk_alloc(w, n * sizeof(QXLFIXED), "line style");
        if (!style || !walk_read(w, st->attr.style, style,
                                 n * sizeof(QXLFIXED), "line style")) {
            return false;
        }
        st->attr.style = (uintptr_t)style;
    } else {
        st->attr.style = 0;
        st->attr.style_nseg = 0;
    }
    return walk_brush(w, &st->brush, "stroke brush");
}

/* Glyphs as spice-server walks them: exactly @length, each inside. */
static bool walk_glyphs(QXLWalk *w, const uint8_t *data, uint32_t size,
                        unsigned bpp, uint16_t length)
{
    uint32_t at = 0, glyphs = 0;

    while (at < size) {
        const QXLRasterGlyph *g = (const QXLRasterGlyph *)(data + at);
        uint64_t bits;

        if (size - at < sizeof(QXLRasterGlyph)) {
            qxl_guest_bug(w->d, "glyph header past the string's %u bytes",
                          size);
            return false;
        }
        bits = (uint64_t)g->height * (((uint64_t)g->width * bpp + 7) / 8);
        at += sizeof(QXLRasterGlyph);
        if (bits > size - at) {
            qxl_guest_bug(w->d, "glyph of %ux%u past the string's %u bytes",
                          g->width, g->height, size);
            return false;
        }
        at += bits;
        glyphs++;
    }
    if (glyphs != length) {
        qxl_guest_bug(w->d, "string of %u glyphs says %u", glyphs, length);
        return false;
    }
    return true;
}

static bool walk_string(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLString head;
    QXLString *copy;
    unsigned bpp;

    if (!phys) {
        qxl_guest_bug(w->d, "text without a string");
        return false;
    }
    if (!walk_read(w, phys, &head, sizeof(head), "string")) {
        return false;
    }
    if (head.flags & SPICE_STRING_FLAGS_RASTER_A1) {
        bpp = 1;
    } else if (head.flags & SPICE_STRING_FLAGS_RASTER_A4) {
        bpp = 4;
    } else if (head.flags & SPICE_STRING_FLAGS_RASTER_A8) {
        bpp = 8;
    } else {
        qxl_guest_bug(w->d, "string without a raster format (flags 0x%x)",
                      head.flags);
        return false;
    }
    if (head.data_size > QXL_MAX_STRING_BYTES) {
        qxl_guest_bug(w->d, "string of %u bytes", head.data_size);
        return false;
    }
    copy = walk_chunked(w, phys, sizeof(head), head.data_size, 0, "string");
    if (!copy ||
        !walk_glyphs(w, copy->chunk.data, head.data_size, bpp, head.length)) {
        return false;
    }
    copy->data_size = head.data_size;
    copy->length = head.length;
    copy->flags = head.flags;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

static bool walk_transform(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLTransform *t;

    if (!phys) {
        return true;
    }
    t = walk_alloc(w, sizeof(*t), "transform");
    if (!t || !walk_read(w, phys, t, sizeof(*t), "transform")) {
        return false;
    }
    stq_le_p(field, (uintptr_t)t);
    return true;
}

/* The operators pixman knows, as QXLOperator numbers them. */
static bool composite_op_valid(uint32_t op)
{
    return op <= QXL_OP_SATURATE ||
           (op >= QXL_OP_MULTIPLY && op <= QXL_OP_HSL_LUMINOSITY);
}

static bool walk_composite(QXLWalk *w, QXLComposite *c)
{
    uint32_t op = c->flags & 0xff;

    if (!composite_op_valid(op) || ((c->flags >> 8) & 7) > 1 ||
        ((c->flags >> 11) & 7) > 1 || c->flags >> 19) {
        qxl_guest_bug(w->d, "composite flags 0x%x", c->flags);
        return false;
    }
    if (!c->src) {
        qxl_guest_bug(w->d, "composite without a source");
        return false;
    }
    if (!walk_image(w, &c->src, false, "composite source") ||
        !walk_transform(w, &c->src_transform)) {
        return false;
    }
    if (!c->mask) {
        c->mask_transform = 0;
        return true;
    }
    return walk_image(w, &c->mask, false, "composite mask") &&
           walk_transform(w, &c->mask_transform);
}

/* ---- commands ----------------------------------------------------------- */

/* A qxl-1 drawable, in the native layout spice-server also reads. */
static bool walk_compat_drawable(QXLWalk *w, QXLPHYSICAL phys,
                                 QXLDrawable *dr)
{
    QXLCompatDrawable c;

    if (!walk_read(w, phys, &c, sizeof(c), "draw command")) {
        return false;
    }
    *dr = (QXLDrawable) {
        .release_info = c.release_info,
        .surface_id = 0,
        .effect = c.effect,
        .type = c.type,
        .self_bitmap = c.bitmap_offset != 0,
        .self_bitmap_area = c.bitmap_area,
        .bbox = c.bbox,
        .clip = c.clip,
        .mm_time = c.mm_time,
        .surfaces_dest = { -1, -1, -1 },
    };
    switch (c.type) {
    case QXL_DRAW_ALPHA_BLEND:
        dr->u.alpha_blend.alpha = c.u.alpha_blend.alpha;
        dr->u.alpha_blend.src_bitmap = c.u.alpha_blend.src_bitmap;
        dr->u.alpha_blend.src_area = c.u.alpha_blend.src_area;
        break;
    case QXL_COPY_BITS:
        /* The source is the primary, where the bbox is moved from. */
        dr->u.copy_bits = c.u.copy_bits;
        dr->surfaces_dest[0] = 0;
        dr->surfaces_rects[0] = (QXLRect) {
            .left = c.u.copy_bits.src_pos.x,
            .top = c.u.copy_bits.src_pos.y,
            .right = c.u.copy_bits.src_pos.x + (c.bbox.right - c.bbox.left),
            .bottom = c.u.copy_bits.src_pos.y + (c.bbox.bottom - c.bbox.top),
        };
        break;
    case QXL_DRAW_COMPOSITE:
        qxl_guest_bug(w->d, "composite in a qxl-1 command");
        return false;
    default:
        memcpy(&dr->u, &c.u, sizeof(c.u));
        break;
    }
    return true;
}

static bool walk_drawable(QXLWalk *w, QXLPHYSICAL phys, bool compat)
{
    QXLDrawable *dr = &w->s->root.drawable;
    bool self;

    if (compat) {
        if (!walk_compat_drawable(w, phys, dr)) {
            return false;
        }
    } else if (!walk_read(w, phys, dr, sizeof(*dr), "draw command")) {
        return false;
    }
    if (!walk_surface_id(w, dr->surface_id, "draw") ||
        !walk_rect(w, &dr->bbox, "draw bbox")) {
        return false;
    }
    if (dr->type > QXL_DRAW_COMPOSITE || dr->effect > QXL_EFFECT_OPAQUE_BRUSH) {
        qxl_guest_bug(w->d, "draw command of type %u, effect %u", dr->type,
                      dr->effect);
        return false;
    }
    for (int i = 0; i < 3; i++) {
        if (dr->surfaces_dest[i] != -1 &&
            !walk_surface_id(w, dr->surfaces_dest[i], "draw source")) {
            return false;
        }
    }
    /*
     * spice-server copies the self bitmap out of the surface once it has
     * checked the bbox against the surface: inside the bbox, it is inside
     * the surface.  It ignores the flag for COPY.
     */
    self = dr->self_bitmap && dr->type != QXL_DRAW_COPY;
    dr->self_bitmap = self;
    if (self && (dr->self_bitmap_area.left >= dr->self_bitmap_area.right ||
                 dr->self_bitmap_area.top >= dr->self_bitmap_area.bottom ||
                 !rect_inside(&dr->self_bitmap_area, &dr->bbox))) {
        qxl_guest_bug(w->d, "self bitmap area (%d,%d)-(%d,%d) empty or "
                      "outside the bbox", dr->self_bitmap_area.left,
                      dr->self_bitmap_area.top, dr->self_bitmap_area.right,
                      dr->self_bitmap_area.bottom);
        return false;
    }
    if (!walk_clip(w, &dr->clip)) {
        return false;
    }

    switch (dr->type) {
    case QXL_DRAW_NOP:
    case QXL_COPY_BITS:
        return true;
    case QXL_DRAW_FILL:
        return walk_brush(w, &dr->u.fill.brush, "fill brush") &&
               walk_qmask(w, &dr->u.fill.mask);
    case QXL_DRAW_OPAQUE:
        return walk_src(w, &dr->u.opaque.src_bitmap, self, "opaque") &&
               walk_brush(w, &dr->u.opaque.brush, "opaque brush") &&
               walk_qmask(w, &dr->u.opaque.mask);
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        return walk_src(w, &dr->u.copy.src_bitmap, self, "copy") &&
               walk_qmask(w, &dr->u.copy.mask);
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        return walk_qmask(w, &dr->u.blackness.mask);
    case QXL_DRAW_ROP3:
        return walk_src(w, &dr->u.rop3.src_bitmap, self, "rop3") &&
               walk_brush(w, &dr->u.rop3.brush, "rop3 brush") &&
               walk_qmask(w, &dr->u.rop3.mask);
    case QXL_DRAW_STROKE:
        return walk_stroke(w, &dr->u.stroke);
    case QXL_DRAW_TEXT:
        return walk_string(w, &dr->u.text.str) &&
               walk_brush(w, &dr->u.text.fore_brush, "text brush") &&
               walk_brush(w, &dr->u.text.back_brush, "text back brush");
    case QXL_DRAW_TRANSPARENT:
        return walk_src(w, &dr->u.transparent.src_bitmap, self,
                        "transparent");
    case QXL_DRAW_ALPHA_BLEND:
        return walk_src(w, &dr->u.alpha_blend.src_bitmap, self,
                        "alpha blend");
    case QXL_DRAW_COMPOSITE:
        return walk_composite(w, &dr->u.composite);
    }
    g_assert_not_reached();
}

static bool walk_update(QXLWalk *w, QXLPHYSICAL phys, bool compat)
{
    QXLUpdateCmd *up = &w->s->root.update;
    const QXLRect *a = &up->area;
    uint32_t width, height;

    if (compat) {
        QXLCompatUpdateCmd c;

        if (!walk_read(w, phys, &c, sizeof(c), "update command")) {
            return false;
        }
        *up = (QXLUpdateCmd) {
            .release_info = c.release_info,
            .area = c.area,
            .update_id = c.update_id,
        };
    } else if (!walk_read(w, phys, up, sizeof(*up), "update command")) {
        return false;
    }
    if (!walk_surface_id(w, up->surface_id, "update")) {
        return false;
    }
    if (!qxl_surface_size(w->d, up->surface_id, &width, &height)) {
        qxl_guest_bug(w->d, "update of surface %u, which does not exist",
                      up->surface_id);
        return false;
    }
    /* spice-server aborts on an empty area and writes any area given. */
    if (a->left < 0 || a->top < 0 || a->left >= a->right ||
        a->top >= a->bottom || a->right > width || a->bottom > height) {
        qxl_guest_bug(w->d, "update area (%d,%d)-(%d,%d) empty or outside "
                      "surface %u (%ux%u)", a->left, a->top, a->right,
                      a->bottom, up->surface_id, width, height);
        return false;
    }
    return true;
}

static bool walk_surface_cmd(QXLWalk *w, QXLPHYSICAL phys)
{
    QXLSurfaceCmd *cmd = &w->s->root.surface;
    QXLSurface *s = &cmd->u.surface_create;
    uint32_t bpp, state;
    QXLGuestRange r;

    if (!walk_read(w, phys, cmd, sizeof(*cmd), "surface command") ||
        !walk_surface_id(w, cmd->surface_id, "surface")) {
        return false;
    }
    if (cmd->surface_id == 0) {
        qxl_guest_bug(w->d, "surface command for surface 0 (the primary)");
        return false;
    }
    if (cmd->type == QXL_SURFACE_CMD_DESTROY) {
        return true;
    }
    if (cmd->type != QXL_SURFACE_CMD_CREATE) {
        qxl_guest_bug(w->d, "surface command of type %u", cmd->type);
        return false;
    }
    WITH_QEMU_LOCK_GUARD(&w->d->track_lock) {
        state = w->d->surfaces[cmd->surface_id].state;
    }
    if (state != QXL_SURFACE_FREE) {
        qxl_guest_bug(w->d, "surface %u created while it exists",
                      cmd->surface_id);
        return false;
    }
    if (!qxl_check_surface_format(s->format, s->width, s->height, s->stride,
                                  &bpp)) {
        qxl_guest_bug(w->d, "surface %u: bad geometry %ux%u stride %d "
                      "format %u", cmd->surface_id, s->width, s->height,
                      s->stride, s->format);
        return false;
    }
    if (!qxl_translate(w->d, s->data,
                       (uint64_t)s->height * ABS((int64_t)s->stride), &r)) {
        qxl_guest_bug(w->d, "surface %u: memory outside memslots",
                      cmd->surface_id);
        return false;
    }
    s->data = (uintptr_t)r.host;
    w->s->surface_mem = r;
    return true;
}

static bool walk_cursor_shape(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLCursor head;
    QXLCursor *copy;
    uint64_t size;

    if (!walk_read(w, phys, &head, sizeof(head), "cursor shape")) {
        return false;
    }
    if (!qxl_cursor_shape_size(w->d, &head.header, head.data_size, &size)) {
        return false;
    }
    copy = walk_chunked(w, phys, sizeof(head), size, 0, "cursor shape");
    if (!copy) {
        return false;
    }
    copy->header = head.header;
    copy->data_size = size;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

static bool walk_cursor_cmd(QXLWalk *w, QXLPHYSICAL phys)
{
    QXLCursorCmd *cmd = &w->s->root.cursor;

    if (!walk_read(w, phys, cmd, sizeof(*cmd), "cursor command")) {
        return false;
    }
    switch (cmd->type) {
    case QXL_CURSOR_SET:
        return walk_cursor_shape(w, &cmd->u.set.shape);
    case QXL_CURSOR_MOVE:
    case QXL_CURSOR_HIDE:
    case QXL_CURSOR_TRAIL:
        return true;
    default:
        qxl_guest_bug(w->d, "cursor command of type %u", cmd->type);
        return false;
    }
}

/* Messages are only traced: spice-server never sees them. */
static bool walk_message(QXLWalk *w, QXLPHYSICAL phys)
{
    char text[QXL_MAX_MESSAGE_TRACE + 1];
    QXLGuestRange r;
    uint64_t n;

    if (!walk_read(w, phys, &w->s->root.message, sizeof(QXLMessage),
                   "message command")) {
        return false;
    }
    n = 0;
    if (qxl_translate(w->d, phys + sizeof(QXLMessage), 1, &r)) {
        /* As much of the text as lies in the slot, up to the limit. */
        while (n < QXL_MAX_MESSAGE_TRACE &&
               qxl_read_guest(w->d, phys + sizeof(QXLMessage) + n, &text[n],
                              1) && text[n]) {
            n++;
        }
    }
    text[n] = 0;
    trace_qxl_message(w->d->id, text);
    return true;
}

QXLSnapshot *qxl_snapshot_take(PCIQXLDevice *d, const QXLCommand *cmd,
                               bool cursor_ring, QXLCommandExt *ext)
{
    QXLSnapshot *s = g_new0(QXLSnapshot, 1);
    QXLWalk w = {
        .d = d,
        .s = s,
        .budget = d->snapshot_budget,
    };
    bool compat = d->cmdflags & QXL_COMMAND_FLAG_COMPAT;
    QXLGuestRange info;
    bool ok;

    s->type = cmd->type;
    s->guest_cmd = cmd->data;
    s->bytes = sizeof(*s);
    s->free_ptr = s->arena;
    s->free_len = sizeof(s->arena);

    qemu_mutex_lock(&d->slots_lock);
    if (cursor_ring != (cmd->type == QXL_CMD_CURSOR)) {
        qxl_guest_bug(d, "%s ring: command of type %u",
                      cursor_ring ? "cursor" : "command", cmd->type);
        ok = false;
    } else {
        switch (cmd->type) {
        case QXL_CMD_DRAW:
            ok = walk_drawable(&w, cmd->data, compat);
            break;
        case QXL_CMD_UPDATE:
            ok = walk_update(&w, cmd->data, compat);
            break;
        case QXL_CMD_SURFACE:
            ok = walk_surface_cmd(&w, cmd->data);
            break;
        case QXL_CMD_CURSOR:
            ok = walk_cursor_cmd(&w, cmd->data);
            break;
        case QXL_CMD_MESSAGE:
            ok = walk_message(&w, cmd->data);
            break;
        default:
            /* spice-server aborts on any other type, even NOP */
            qxl_guest_bug(d, "command of type %u", cmd->type);
            ok = false;
            break;
        }
    }
    /* Where the guest's release info is, for the release ring. */
    if (ok && (!qxl_translate(d, cmd->data, sizeof(QXLReleaseInfo), &info) ||
               !qxl_host_ptr_in_ram(d, info.host, sizeof(QXLReleaseInfo),
                                    &s->guest_info))) {
        qxl_guest_bug(d, "command at 0x%" PRIx64 " outside the device's "
                      "memory", cmd->data);
        ok = false;
    }
    qemu_mutex_unlock(&d->slots_lock);

    if (!ok) {
        qxl_snapshot_free(NULL, s);
        return NULL;
    }
    s->guest_id = s->root.release_info.id;
    s->root.release_info.id = QXL_SNAPSHOT_TAG;
    trace_qxl_snapshot_take(d->id, s->type, cmd->data, s->bytes);

    *ext = (QXLCommandExt) {
        .cmd.data = (uintptr_t)&s->root,
        .cmd.type = cmd->type,
        .group_id = MEMSLOT_GROUP_HOST,
        /* Drawables are handed over in the native layout. */
        .flags = d->cmdflags & ~QXL_COMMAND_FLAG_COMPAT,
    };
    return s;
}

void qxl_snapshot_accept(PCIQXLDevice *d, QXLSnapshot *s)
{
    uint64_t bytes = qatomic_add_fetch(&d->snapshot_bytes, s->bytes);

    if (bytes > qatomic_read(&d->snapshot_peak)) {
        qatomic_set(&d->snapshot_peak, bytes);
    }

    switch (s->type) {
    case QXL_CMD_SURFACE: {
        const QXLSurfaceCmd *cmd = &s->root.surface;
        QXLSurfaceState *st = &d->surfaces[cmd->surface_id];

        QEMU_LOCK_GUARD(&d->track_lock);
        if (cmd->type == QXL_SURFACE_CMD_CREATE) {
            *st = (QXLSurfaceState) {
                .state = QXL_SURFACE_LIVE,
                .width = cmd->u.surface_create.width,
                .height = cmd->u.surface_create.height,
                .mem = s->surface_mem,
                .owner = s,
            };
            d->surface_cmds[cmd->surface_id] = s->guest_cmd;
        } else {
            if (st->state == QXL_SURFACE_LIVE) {
                st->state = QXL_SURFACE_DYING;
            }
            d->surface_cmds[cmd->surface_id] = 0;
        }
        break;
    }
    case QXL_CMD_CURSOR:
        qxl_cursor_accept(d, &s->root.cursor, s->guest_cmd);
        break;
    }
}

QXLSnapshot *qxl_snapshot_from_release(QXLReleaseInfoExt ext)
{
    if (ext.group_id != MEMSLOT_GROUP_HOST || !ext.info ||
        ext.info->id != QXL_SNAPSHOT_TAG) {
        return NULL;
    }
    return container_of(ext.info, QXLSnapshot, root.release_info);
}

uint64_t qxl_snapshot_guest_id(const QXLSnapshot *s)
{
    return s->guest_id;
}

uint64_t qxl_snapshot_guest_info(const QXLSnapshot *s)
{
    return s->guest_info;
}

uint32_t qxl_snapshot_type(const QXLSnapshot *s)
{
    return s->type;
}

/*
 * With @d, the snapshot was accepted: give its bytes back to the budget
 * and, for a surface's create command, free the surface id.
 */
void qxl_snapshot_free(PCIQXLDevice *d, QXLSnapshot *s)
{
    if (d) {
        qatomic_sub(&d->snapshot_bytes, s->bytes);
        if (s->type == QXL_CMD_SURFACE &&
            s->root.surface.type == QXL_SURFACE_CMD_CREATE) {
            QXLSurfaceState *st = &d->surfaces[s->root.surface.surface_id];

            QEMU_LOCK_GUARD(&d->track_lock);
            if (st->owner == s) {
                *st = (QXLSurfaceState) { .state = QXL_SURFACE_FREE };
            }
        }
    }
    g_slist_free_full(s->blocks, g_free);
    g_free(s);
}

bool qxl_snapshot_budget_full(PCIQXLDevice *d)
{
    return qatomic_read(&d->snapshot_bytes) >= d->snapshot_budget;
}
