/*
 * QXL drawables: the checks and copies of a snapshot's QXL_CMD_DRAW.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything a drawable points to (images, palettes, brushes, masks, clip
 * rects, paths, line styles, strings, transforms) is read once through
 * qxl-walk.h into the snapshot and checked against what spice-server's
 * parser and drawing code would abort on, hang on, or read or write past
 * (docs/specs/qxl.rst has the rules).  Runs in spice-server's worker
 * thread, under slots_lock (qxl-snapshot.c).
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/host-utils.h"
#include "qxl-limits.h"
#include "qxl-walk.h"

/* What the checks of a drawable need to know of an image it uses. */
typedef struct QXLImageInfo {
    uint8_t type;               /* SPICE_IMAGE_TYPE_* */
    uint32_t width, height;
    uint32_t depth;             /* of a surface image */
    bool indexed;               /* palette-indexed bitmap */
} QXLImageInfo;

/* How a brush is drawn. */
typedef enum QXLBrushUse {
    QXL_BRUSH_FILL,
    QXL_BRUSH_STROKE,
} QXLBrushUse;

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
 * Copy a palette for indices of @bpp bits.  The copy has an entry for
 * every index (the guest's, then black), so no index reads past it, and no
 * cache id (a client caches palettes by it).
 */
static bool walk_palette(QXLWalk *w, void *field, unsigned bpp)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLPalette head;
    QXLPalette *copy;
    uint32_t n, entries = 1u << bpp;

    if (!qxl_walk_read(w, phys, &head, sizeof(head), "palette")) {
        return false;
    }
    n = head.num_ents;
    if (n == 0 || n > QXL_MAX_PALETTE_ENTRIES) {
        qxl_guest_bug(w->d, "palette of %u entries", n);
        return false;
    }
    entries = MAX(entries, n);
    copy = qxl_walk_alloc(w, sizeof(*copy) + entries * sizeof(uint32_t),
                      "palette");
    if (!copy ||
        !qxl_walk_read(w, phys + sizeof(head), copy->ents, n * sizeof(uint32_t),
                   "palette entries")) {
        return false;
    }
    copy->unique = 0;
    copy->num_ents = entries;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

/*
 * spice-server draws only the big-endian bit orders of 1 and 4 bpp
 * sources: turn the little-endian ones (copied already) into those.
 */
static void bitmap_to_big_endian(QXLBitmap *b, uint64_t size)
{
    uint8_t *p = (uint8_t *)(uintptr_t)b->data;

    if (b->format == SPICE_BITMAP_FMT_1BIT_LE) {
        for (uint64_t i = 0; i < size; i++) {
            p[i] = revbit8(p[i]);
        }
        b->format = SPICE_BITMAP_FMT_1BIT_BE;
    } else if (b->format == SPICE_BITMAP_FMT_4BIT_LE) {
        for (uint64_t i = 0; i < size; i++) {
            p[i] = (p[i] << 4) | (p[i] >> 4);
        }
        b->format = SPICE_BITMAP_FMT_4BIT_BE;
    }
}

/*
 * The pixels of a bitmap: @size bytes, flat at @data or in the chunk list
 * starting there.  Direct-colour pixels stay in guest memory when they lie
 * in one piece; anything else is copied.  The result is always flat (the
 * encoders abort on chunks that end inside a row).
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
        copy = qxl_walk_alloc(w, size, "bitmap data");
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
    copy = qxl_walk_alloc(w, size, "bitmap data");
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
                             QXLImageInfo *info, const char *what)
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
    if (!walk_bitmap_data(w, &b, size, !bitmap_indexed(b.format) &&
                          w->d->snapshot_share_pixels)) {
        return NULL;
    }
    if (!mask) {
        bitmap_to_big_endian(&b, size);
    }
    b.flags = (b.flags & (QXL_BITMAP_TOP_DOWN | QXL_BITMAP_UNSTABLE)) |
              QXL_BITMAP_DIRECT;

    copy = qxl_walk_alloc(w, sizeof(*copy), what);
    if (!copy) {
        return NULL;
    }
    copy->descriptor = g->descriptor;
    copy->descriptor.width = b.x;
    copy->descriptor.height = b.y;
    copy->bitmap = b;
    *info = (QXLImageInfo) {
        .type = SPICE_IMAGE_TYPE_BITMAP,
        .width = b.x,
        .height = b.y,
        .indexed = bitmap_indexed(b.format),
    };
    return copy;
}

static bool walk_surface_is_source(QXLWalk *w, uint32_t surface_id)
{
    for (int i = 0; i < 3; i++) {
        if ((uint32_t)w->deps[i] == surface_id) {
            return true;
        }
    }
    return false;
}

/*
 * Replace the image at @field by a checked copy, and describe it in
 * @info.  A mask must be a 1 bpp bitmap.  A surface image must name a
 * surface spice-server holds.  QUIC streams are refused: spice-server
 * aborts on any it cannot decode, and the device has no decoder to check
 * them with.  No image may go into spice-server's image cache, which
 * aborts when a drawable's images evict each other or an id is reused for
 * another size.
 */
static bool walk_image(QXLWalk *w, void *field, bool mask,
                       QXLImageInfo *info, const char *what)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLSurfaceState held;
    QXLImage g;
    QXLImage *copy;

    if (!phys) {
        qxl_guest_bug(w->d, "%s: no image", what);
        return false;
    }
    if (!qxl_walk_read(w, phys, &g, sizeof(g), what)) {
        return false;
    }
    switch (g.descriptor.type) {
    case SPICE_IMAGE_TYPE_BITMAP:
        copy = walk_bitmap(w, &g, mask, info, what);
        if (!copy) {
            return false;
        }
        break;
    case SPICE_IMAGE_TYPE_SURFACE:
        /*
         * spice-server looks the surface up when it draws, maybe long
         * after taking the command, and aborts if it is gone by then.  It
         * keeps alive only the surfaces a drawable names as its sources.
         */
        if (mask || !walk_surface_is_source(w, g.surface_image.surface_id) ||
            !qxl_surface_held(w->d, g.surface_image.surface_id, &held)) {
            qxl_guest_bug(w->d, "%s: image of surface %u, which is a mask, "
                          "not held or not among the drawable's sources",
                          what, g.surface_image.surface_id);
            return false;
        }
        copy = qxl_walk_alloc(w, sizeof(*copy), what);
        if (!copy) {
            return false;
        }
        copy->descriptor = g.descriptor;
        copy->surface_image = g.surface_image;
        *info = (QXLImageInfo) {
            .type = SPICE_IMAGE_TYPE_SURFACE,
            .width = held.width,
            .height = held.height,
            .depth = qxl_surface_depth(held.format),
        };
        break;
    default:
        qxl_guest_bug(w->d, "%s: image of type %u", what, g.descriptor.type);
        return false;
    }
    copy->descriptor.flags &= ~QXL_IMAGE_CACHE;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

/* ---- drawable parts ----------------------------------------------------- */

/*
 * A source or pattern drawn onto the target: palette-indexed bitmaps only
 * onto surfaces spice-server converts them for, surfaces only onto the
 * same depth (its blitters assert both).
 */
static bool walk_source_fits(QXLWalk *w, const QXLImageInfo *img,
                             bool any_depth, const char *what)
{
    if (img->indexed && w->dst_depth != 32 &&
        w->dst_format != SPICE_SURFACE_FMT_16_555) {
        qxl_guest_bug(w->d, "%s: palette image onto a surface of format %u",
                      what, w->dst_format);
        return false;
    }
    if (img->type == SPICE_IMAGE_TYPE_SURFACE && !any_depth &&
        img->depth != w->dst_depth) {
        qxl_guest_bug(w->d, "%s: surface of %u bpp onto one of %u bpp", what,
                      img->depth, w->dst_depth);
        return false;
    }
    return true;
}

/* Bring a pattern's origin into [0, size) of the bbox's corner. */
static int32_t pattern_origin(int32_t corner, int32_t pos, uint32_t size)
{
    int64_t off = ((int64_t)corner - pos) % size;

    return corner - (off < 0 ? off + size : off);
}

static bool walk_brush(QXLWalk *w, QXLBrush *b, QXLBrushUse use,
                       const char *what)
{
    QXLImageInfo img;

    switch (b->type) {
    case SPICE_BRUSH_TYPE_NONE:
    case SPICE_BRUSH_TYPE_SOLID:
        return true;
    case SPICE_BRUSH_TYPE_PATTERN:
        break;
    default:
        qxl_guest_bug(w->d, "%s: brush of type %u", what, b->type);
        return false;
    }
    if (!walk_image(w, &b->u.pattern.pat, false, &img, what) ||
        !walk_source_fits(w, &img, false, what)) {
        return false;
    }
    if (use == QXL_BRUSH_STROKE && img.type != SPICE_IMAGE_TYPE_BITMAP) {
        /* the line code takes any pattern for a bitmap */
        qxl_guest_bug(w->d, "%s: line pattern of image type %u", what,
                      img.type);
        return false;
    }
    /* ROP3 reads the pattern from an origin it does not wrap. */
    b->u.pattern.pos.x = pattern_origin(w->bbox.left, b->u.pattern.pos.x,
                                        img.width);
    b->u.pattern.pos.y = pattern_origin(w->bbox.top, b->u.pattern.pos.y,
                                        img.height);
    return true;
}

/* The mask must cover the bbox from its position: it is read unclipped. */
static bool walk_qmask(QXLWalk *w, QXLQMask *m)
{
    QXLImageInfo img;

    m->flags &= SPICE_MASK_FLAGS_INVERS;
    if (!m->bitmap) {
        return true;
    }
    if (!walk_image(w, &m->bitmap, true, &img, "mask")) {
        return false;
    }
    if (m->pos.x < 0 || m->pos.y < 0 ||
        (int64_t)m->pos.x + (w->bbox.right - w->bbox.left) > img.width ||
        (int64_t)m->pos.y + (w->bbox.bottom - w->bbox.top) > img.height) {
        qxl_guest_bug(w->d, "mask at (%d,%d) of %ux%u does not cover the "
                      "bbox", m->pos.x, m->pos.y, img.width, img.height);
        return false;
    }
    return true;
}

/*
 * A source image and the area of it drawn: absent only when the drawable
 * brings its own bitmap (then the area lies in that).  The area is not
 * empty and inside the image: some blitters read it unclipped.
 */
static bool walk_src(QXLWalk *w, void *field, QXLRect *area, bool any_depth,
                     const char *what)
{
    QXLImageInfo img;

    if (!ldq_le_p(field) && w->self_bitmap) {
        img = (QXLImageInfo) {
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .width = w->self_area.right - w->self_area.left,
            .height = w->self_area.bottom - w->self_area.top,
        };
    } else if (!walk_image(w, field, false, &img, what) ||
               !walk_source_fits(w, &img, any_depth, what)) {
        return false;
    }
    if (area->left < 0 || area->top < 0 || area->left >= area->right ||
        area->top >= area->bottom || area->right > img.width ||
        area->bottom > img.height) {
        qxl_guest_bug(w->d, "%s: source area (%d,%d)-(%d,%d) empty or "
                      "outside its %ux%u image", what, area->left, area->top,
                      area->right, area->bottom, img.width, img.height);
        return false;
    }
    return true;
}

static bool walk_scale_mode(QXLWalk *w, uint8_t mode)
{
    if (mode != SPICE_IMAGE_SCALE_MODE_INTERPOLATE &&
        mode != SPICE_IMAGE_SCALE_MODE_NEAREST) {
        qxl_guest_bug(w->d, "scale mode %u", mode);
        return false;
    }
    return true;
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
    if (!qxl_walk_read(w, clip->data, &head, sizeof(head), "clip rects")) {
        return false;
    }
    if (head.num_rects > QXL_MAX_CLIP_RECTS) {
        qxl_guest_bug(w->d, "clip of %u rects", head.num_rects);
        return false;
    }
    copy = qxl_walk_chunked(w, clip->data, sizeof(head),
                        (uint64_t)head.num_rects * sizeof(QXLRect), 0,
                        "clip rects");
    if (!copy) {
        return false;
    }
    copy->num_rects = head.num_rects;
    rects = (QXLRect *)copy->chunk.data;
    for (uint32_t i = 0; i < head.num_rects; i++) {
        if (!qxl_walk_rect(w, &rects[i], "clip rect")) {
            return false;
        }
    }
    clip->data = (uintptr_t)copy;
    return true;
}

/* Points far outside any surface overflow the line code's arithmetic. */
static bool point_fix_sane(const QXLPointFix *p)
{
    return ABS((int64_t)p->x) <= QXL_MAX_PATH_COORD * 16 &&
           ABS((int64_t)p->y) <= QXL_MAX_PATH_COORD * 16;
}

/*
 * Segments as spice-server walks them: while a segment header fits, its
 * points must fit too.  The line code needs a point to start a Bézier
 * curve from, and takes a BEGIN segment's first point without looking.
 * @flat_size receives the bytes of the path once its curves are made
 * lines (path_flatten()).
 */
static bool walk_path_segments(QXLWalk *w, const uint8_t *data, uint32_t size,
                               uint64_t *flat_size, bool *curved)
{
    const uint32_t known = QXL_PATH_BEGIN | QXL_PATH_END | QXL_PATH_CLOSE |
                           QXL_PATH_BEZIER;
    bool have_point = false;
    uint32_t at = 0;

    *flat_size = 0;
    *curved = false;
    while (at + sizeof(QXLPathSeg) < size) {
        const QXLPathSeg *seg = (const QXLPathSeg *)(data + at);
        uint64_t points = (uint64_t)seg->count * sizeof(QXLPointFix);
        uint32_t first = seg->flags & QXL_PATH_BEGIN ? 1 : 0;
        uint64_t out = seg->count;

        at += sizeof(QXLPathSeg);
        if (points > size - at) {
            qxl_guest_bug(w->d, "path segment of %u points past the path's "
                          "%u bytes", seg->count, size);
            return false;
        }
        if (seg->flags & ~known || seg->count < first) {
            qxl_guest_bug(w->d, "path segment of flags 0x%x, %u points",
                          seg->flags, seg->count);
            return false;
        }
        for (uint32_t i = 0; i < seg->count; i++) {
            if (!point_fix_sane(&seg->points[i])) {
                qxl_guest_bug(w->d, "path point out of range");
                return false;
            }
        }
        have_point |= first;
        if (seg->flags & QXL_PATH_BEZIER) {
            if ((seg->count - first) % 3 ||
                (seg->count > first && !have_point)) {
                qxl_guest_bug(w->d, "Bézier path segment of %u points %s",
                              seg->count, have_point ? "" : "from nowhere");
                return false;
            }
            out = first + (uint64_t)(seg->count - first) / 3 *
                          QXL_BEZIER_STEPS;
            *curved = true;
        }
        have_point |= seg->count > 0;
        if (seg->flags & QXL_PATH_END) {
            have_point = false;
        }
        *flat_size += sizeof(QXLPathSeg) + out * sizeof(QXLPointFix);
        at += points;
    }
    return true;
}

/* Point @i of QXL_BEZIER_STEPS on the cubic curve p[0..3]. */
static QXLPointFix bezier_point(const QXLPointFix *p, int64_t i)
{
    const int64_t n = QXL_BEZIER_STEPS, j = n - i;
    const int64_t k[4] = { j * j * j, 3 * j * j * i, 3 * j * i * i, i * i * i };
    int64_t x = 0, y = 0;

    for (int c = 0; c < 4; c++) {
        x += k[c] * p[c].x;
        y += k[c] * p[c].y;
    }
    return (QXLPointFix) { .x = x / (n * n * n), .y = y / (n * n * n) };
}

/*
 * Rewrite a checked path with each Bézier curve as QXL_BEZIER_STEPS lines:
 * spice-server's own subdivision recurses without bound on degenerate
 * curves.  @out holds the flat size walk_path_segments() gave.
 */
static void path_flatten(const uint8_t *data, uint32_t size, uint8_t *out)
{
    QXLPointFix cur = { 0, 0 };
    uint32_t at = 0;

    while (at + sizeof(QXLPathSeg) < size) {
        const QXLPathSeg *seg = (const QXLPathSeg *)(data + at);
        QXLPathSeg *o = (QXLPathSeg *)out;
        uint32_t n = 0, i = 0;

        o->flags = seg->flags & ~QXL_PATH_BEZIER;
        if (seg->flags & QXL_PATH_BEGIN) {
            cur = o->points[n++] = seg->points[i++];
        }
        if (seg->flags & QXL_PATH_BEZIER) {
            for (; i + 2 < seg->count; i += 3) {
                const QXLPointFix p[4] = {
                    cur, seg->points[i], seg->points[i + 1],
                    seg->points[i + 2],
                };

                for (int t = 1; t <= QXL_BEZIER_STEPS; t++) {
                    o->points[n++] = bezier_point(p, t);
                }
                cur = p[3];
            }
        } else {
            for (; i < seg->count; i++) {
                cur = o->points[n++] = seg->points[i];
            }
        }
        o->count = n;
        out += sizeof(QXLPathSeg) + n * sizeof(QXLPointFix);
        at += sizeof(QXLPathSeg) + seg->count * sizeof(QXLPointFix);
    }
}

static bool walk_path(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    uint64_t flat_size;
    QXLPath head;
    QXLPath *copy, *flat;
    bool curved;

    if (!phys) {
        qxl_guest_bug(w->d, "stroke without a path");
        return false;
    }
    if (!qxl_walk_read(w, phys, &head, sizeof(head), "path")) {
        return false;
    }
    if (head.data_size > QXL_MAX_PATH_BYTES) {
        qxl_guest_bug(w->d, "path of %u bytes", head.data_size);
        return false;
    }
    copy = qxl_walk_chunked(w, phys, sizeof(head), head.data_size, 0, "path");
    if (!copy || !walk_path_segments(w, copy->chunk.data, head.data_size,
                                     &flat_size, &curved)) {
        return false;
    }
    copy->data_size = head.data_size;
    if (curved) {
        flat = qxl_walk_alloc(w, sizeof(*flat) + flat_size, "path");
        if (!flat) {
            return false;
        }
        memset(flat, 0, sizeof(*flat));
        path_flatten(copy->chunk.data, head.data_size, flat->chunk.data);
        flat->data_size = flat->chunk.data_size = flat_size;
        copy = flat;
    }
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

/* A dash as the line code rounds it: 1..255 pixels (0 loops forever). */
static bool dash_sane(QXLFIXED dash)
{
    int32_t px = (dash >> 4) + ((dash & 0xf) > 8);

    return px >= 1 && px <= 255;
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
        style = qxl_walk_alloc(w, n * sizeof(QXLFIXED), "line style");
        if (!style || !qxl_walk_read(w, st->attr.style, style,
                                 n * sizeof(QXLFIXED), "line style")) {
            return false;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (!dash_sane(style[i])) {
                qxl_guest_bug(w->d, "line dash of 0x%x", style[i]);
                return false;
            }
        }
        st->attr.style = (uintptr_t)style;
    } else {
        st->attr.style = 0;
        st->attr.style_nseg = 0;
    }
    return walk_brush(w, &st->brush, QXL_BRUSH_STROKE, "stroke brush");
}

/*
 * Glyphs as spice-server walks them: exactly @length, each inside the
 * string and, where it is drawn, inside the target (the mask spice-server
 * makes spans them all).
 */
static bool walk_glyphs(QXLWalk *w, const uint8_t *data, uint32_t size,
                        unsigned bpp, uint16_t length)
{
    uint32_t at = 0, glyphs = 0;

    while (at < size) {
        const QXLRasterGlyph *g = (const QXLRasterGlyph *)(data + at);
        int64_t left, top;
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
        left = (int64_t)g->render_pos.x + g->glyph_origin.x;
        top = (int64_t)g->render_pos.y + g->glyph_origin.y;
        if (left < 0 || top < 0 || left + g->width > w->dst_width ||
            top + g->height > w->dst_height) {
            qxl_guest_bug(w->d, "glyph at (%" PRId64 ",%" PRId64 ") of %ux%u "
                          "outside the %ux%u surface", left, top, g->width,
                          g->height, w->dst_width, w->dst_height);
            return false;
        }
        at += bits;
        glyphs++;
    }
    if (glyphs != length || length == 0) {
        qxl_guest_bug(w->d, "string of %u glyphs says %u", glyphs, length);
        return false;
    }
    return true;
}

static bool walk_string(QXLWalk *w, void *field)
{
    const uint16_t rasters = SPICE_STRING_FLAGS_RASTER_A1 |
                             SPICE_STRING_FLAGS_RASTER_A4 |
                             SPICE_STRING_FLAGS_RASTER_A8;
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLString head;
    QXLString *copy;
    unsigned bpp;

    if (!phys) {
        qxl_guest_bug(w->d, "text without a string");
        return false;
    }
    if (!qxl_walk_read(w, phys, &head, sizeof(head), "string")) {
        return false;
    }
    switch (head.flags & rasters) {
    case SPICE_STRING_FLAGS_RASTER_A1:
        bpp = 1;
        break;
    case SPICE_STRING_FLAGS_RASTER_A4:
        bpp = 4;
        break;
    case SPICE_STRING_FLAGS_RASTER_A8:
        bpp = 8;
        break;
    default:
        qxl_guest_bug(w->d, "string without one raster format (flags 0x%x)",
                      head.flags);
        return false;
    }
    if (head.data_size > QXL_MAX_STRING_BYTES) {
        qxl_guest_bug(w->d, "string of %u bytes", head.data_size);
        return false;
    }
    copy = qxl_walk_chunked(w, phys, sizeof(head), head.data_size, 0, "string");
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

static bool walk_text(QXLWalk *w, QXLText *t)
{
    const QXLRect *back = &t->back_area;

    /* A background is filled with PUT only, inside the drawable. */
    if (back->left != back->right && back->top != back->bottom &&
        (t->fore_mode != SPICE_ROPD_OP_PUT ||
         !qxl_walk_rect(w, back, "text background") ||
         !qxl_rect_inside(back, &w->bbox))) {
        qxl_guest_bug(w->d, "text background (%d,%d)-(%d,%d) with mode %u",
                      back->left, back->top, back->right, back->bottom,
                      t->fore_mode);
        return false;
    }
    return walk_string(w, &t->str) &&
           walk_brush(w, &t->fore_brush, QXL_BRUSH_FILL, "text brush") &&
           walk_brush(w, &t->back_brush, QXL_BRUSH_FILL, "text back brush");
}

static bool walk_transform(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLTransform *t;

    if (!phys) {
        return true;
    }
    t = qxl_walk_alloc(w, sizeof(*t), "transform");
    if (!t || !qxl_walk_read(w, phys, t, sizeof(*t), "transform")) {
        return false;
    }
    stq_le_p(field, (uintptr_t)t);
    return true;
}

/* The operators pixman has combiners for, as QXLOperator numbers them. */
static bool composite_op_valid(uint32_t op)
{
    return op <= QXL_OP_SATURATE ||
           (op >= QXL_OP_MULTIPLY && op <= QXL_OP_HSL_LUMINOSITY);
}

/*
 * A composite's source or mask (@image) and its @transform; its @opaque
 * hint is kept only for a 32 bpp surface, which pixman has a format for.
 */
static bool walk_composite_image(QXLWalk *w, void *image, void *transform,
                                 uint32_t opaque, uint32_t *flags,
                                 const char *what)
{
    QXLImageInfo img;

    if (!walk_image(w, image, false, &img, what) ||
        !walk_source_fits(w, &img, true, what) ||
        !walk_transform(w, transform)) {
        return false;
    }
    if (img.type != SPICE_IMAGE_TYPE_SURFACE || img.depth != 32) {
        *flags &= ~opaque;
    }
    return true;
}

/*
 * The flags spice-server passes to pixman: a known operator, the nearest
 * or bilinear filter, the presence bits left to spice-server, and the
 * opaque hints only where pixman has a format for them.
 */
static bool walk_composite(QXLWalk *w, QXLComposite *c)
{
    const uint32_t presence = SPICE_COMPOSITE_HAS_MASK |
                              SPICE_COMPOSITE_HAS_SRC_TRANSFORM |
                              SPICE_COMPOSITE_HAS_MASK_TRANSFORM;
    uint32_t flags = c->flags;
    uint32_t op = flags & 0xff;

    if (!composite_op_valid(op) || ((flags >> 8) & 7) > 1 ||
        ((flags >> 11) & 7) > 1 || flags & presence ||
        flags & ~SPICE_COMPOSITE_FLAGS_MASK) {
        qxl_guest_bug(w->d, "composite flags 0x%x", flags);
        return false;
    }
    if (w->dst_depth == 8) {
        flags &= ~SPICE_COMPOSITE_DEST_OPAQUE;
    }
    if (!walk_composite_image(w, &c->src, &c->src_transform,
                              SPICE_COMPOSITE_SOURCE_OPAQUE, &flags,
                              "composite source")) {
        return false;
    }
    if (!c->mask) {
        c->mask_transform = 0;
        flags &= ~SPICE_COMPOSITE_MASK_OPAQUE;
    } else if (!walk_composite_image(w, &c->mask, &c->mask_transform,
                                     SPICE_COMPOSITE_MASK_OPAQUE, &flags,
                                     "composite mask")) {
        return false;
    }
    c->flags = flags;
    return true;
}

/* ROP3 codes spice-server has a handler for (it aborts on the others). */
static bool rop3_supported(uint8_t rop3)
{
    static const uint8_t missing[] = {
        0x00, 0x03, 0x05, 0x0a, 0x0c, 0x0f, 0x11, 0x22, 0x30, 0x33, 0x3c,
        0x3f, 0x44, 0x50, 0x55, 0x5a, 0x5f, 0x66, 0x77, 0x88, 0x99, 0xa0,
        0xa5, 0xaa, 0xaf, 0xbb, 0xc0, 0xc3, 0xcc, 0xcf, 0xdd, 0xee, 0xf0,
        0xf3, 0xf5, 0xfa, 0xfc, 0xff,
    };

    return !memchr(missing, rop3, sizeof(missing));
}

static bool walk_rop3(QXLWalk *w, QXLRop3 *r)
{
    if (!rop3_supported(r->rop3) ||
        (w->dst_depth != 32 && w->dst_format != SPICE_SURFACE_FMT_16_555)) {
        qxl_guest_bug(w->d, "rop3 0x%02x onto a surface of format %u",
                      r->rop3, w->dst_format);
        return false;
    }
    return walk_src(w, &r->src_bitmap, &r->src_area, false, "rop3") &&
           walk_scale_mode(w, r->scale_mode) &&
           walk_brush(w, &r->brush, QXL_BRUSH_FILL, "rop3 brush") &&
           walk_qmask(w, &r->mask);
}

/* ---- the drawable ------------------------------------------------------- */

/* A qxl-1 drawable, in the native layout spice-server also reads. */
static bool walk_compat_drawable(QXLWalk *w, QXLPHYSICAL phys,
                                 QXLDrawable *dr)
{
    QXLCompatDrawable c;

    if (!qxl_walk_read(w, phys, &c, sizeof(c), "draw command")) {
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
    case QXL_DRAW_COMPOSITE:
        qxl_guest_bug(w->d, "composite in a qxl-1 command");
        return false;
    default:
        memcpy(&dr->u, &c.u, sizeof(c.u));
        break;
    }
    return true;
}

/*
 * Where the drawable is drawn: a surface spice-server holds, or the
 * command is dropped, as spice-server would.
 */
static bool walk_target(QXLWalk *w, uint32_t surface_id)
{
    QXLSurfaceState held;

    if (!qxl_surface_held(w->d, surface_id, &held)) {
        w->s->dropped = true;
        return false;
    }
    w->dst_width = held.width;
    w->dst_height = held.height;
    w->dst_format = held.format;
    w->dst_depth = qxl_surface_depth(held.format);
    return true;
}

/*
 * The surfaces a drawable reads: ones spice-server holds, and the area
 * read of each other than the target inside it (spice-server renders that
 * area first, and aborts on a bad one).
 */
static bool walk_deps(QXLWalk *w, QXLDrawable *dr)
{
    for (int i = 0; i < 3; i++) {
        const QXLRect *r = &dr->surfaces_rects[i];
        int32_t id = dr->surfaces_dest[i];
        QXLSurfaceState held;

        if (id == -1) {
            continue;
        }
        if (!qxl_walk_surface_id(w, id, "draw source")) {
            return false;
        }
        if (!qxl_surface_held(w->d, id, &held)) {
            qxl_guest_bug(w->d, "source surface %d does not exist", id);
            return false;
        }
        if (id != dr->surface_id &&
            (r->left < 0 || r->top < 0 || r->left >= r->right ||
             r->top >= r->bottom || r->right > held.width ||
             r->bottom > held.height)) {
            qxl_guest_bug(w->d, "source area (%d,%d)-(%d,%d) empty or outside "
                          "surface %d (%ux%u)", r->left, r->top, r->right,
                          r->bottom, id, held.width, held.height);
            return false;
        }
    }
    memcpy(w->deps, dr->surfaces_dest, sizeof(w->deps));
    return true;
}

/* COPY_BITS moves the bbox from @src_pos, within the target. */
static bool walk_copy_bits(QXLWalk *w, const QXLCopyBits *cb)
{
    int64_t right = (int64_t)cb->src_pos.x + (w->bbox.right - w->bbox.left);
    int64_t bottom = (int64_t)cb->src_pos.y + (w->bbox.bottom - w->bbox.top);

    if (cb->src_pos.x < 0 || cb->src_pos.y < 0 || right > w->dst_width ||
        bottom > w->dst_height) {
        qxl_guest_bug(w->d, "copy bits from (%d,%d) outside the %ux%u "
                      "surface", cb->src_pos.x, cb->src_pos.y, w->dst_width,
                      w->dst_height);
        return false;
    }
    return true;
}

bool qxl_walk_drawable(QXLWalk *w, QXLPHYSICAL phys, bool compat)
{
    QXLDrawable *dr = &w->s->root.drawable;
    const QXLRect *self = &dr->self_bitmap_area;

    if (compat) {
        if (!walk_compat_drawable(w, phys, dr)) {
            return false;
        }
    } else if (!qxl_walk_read(w, phys, dr, sizeof(*dr), "draw command")) {
        return false;
    }
    if (!qxl_walk_surface_id(w, dr->surface_id, "draw") ||
        !qxl_walk_rect(w, &dr->bbox, "draw bbox")) {
        return false;
    }
    if (dr->type > QXL_DRAW_COMPOSITE || dr->effect > QXL_EFFECT_OPAQUE_BRUSH) {
        qxl_guest_bug(w->d, "draw command of type %u, effect %u", dr->type,
                      dr->effect);
        return false;
    }
    if (dr->type == QXL_DRAW_NOP || !walk_target(w, dr->surface_id)) {
        /* spice-server would drop it; so does the device */
        w->s->dropped = true;
        return true;
    }
    w->bbox = dr->bbox;
    if (dr->bbox.left < 0 || dr->bbox.top < 0 ||
        dr->bbox.right > w->dst_width || dr->bbox.bottom > w->dst_height) {
        w->s->dropped = true;   /* spice-server's own check drops it */
        return true;
    }
    if (compat && dr->type == QXL_COPY_BITS) {
        /* The source is the primary, where the bbox is moved from. */
        dr->surfaces_dest[0] = 0;
        dr->surfaces_rects[0] = (QXLRect) {
            .left = dr->u.copy_bits.src_pos.x,
            .top = dr->u.copy_bits.src_pos.y,
            .right = dr->u.copy_bits.src_pos.x +
                     (dr->bbox.right - dr->bbox.left),
            .bottom = dr->u.copy_bits.src_pos.y +
                      (dr->bbox.bottom - dr->bbox.top),
        };
    }
    if (!walk_deps(w, dr)) {
        return false;
    }
    /*
     * spice-server copies the self bitmap out of the target once it has
     * checked the bbox against it: inside the bbox, it is inside the
     * target.  It ignores the flag for COPY.
     */
    w->self_bitmap = dr->self_bitmap && dr->type != QXL_DRAW_COPY;
    dr->self_bitmap = w->self_bitmap;
    if (w->self_bitmap) {
        if (self->left >= self->right || self->top >= self->bottom ||
            !qxl_rect_inside(self, &dr->bbox)) {
            qxl_guest_bug(w->d, "self bitmap area (%d,%d)-(%d,%d) empty or "
                          "outside the bbox", self->left, self->top,
                          self->right, self->bottom);
            return false;
        }
        w->self_area = *self;
    }
    if (!walk_clip(w, &dr->clip)) {
        return false;
    }

    switch (dr->type) {
    case QXL_COPY_BITS:
        return walk_copy_bits(w, &dr->u.copy_bits);
    case QXL_DRAW_FILL:
        return walk_brush(w, &dr->u.fill.brush, QXL_BRUSH_FILL,
                          "fill brush") &&
               walk_qmask(w, &dr->u.fill.mask);
    case QXL_DRAW_OPAQUE:
        return walk_src(w, &dr->u.opaque.src_bitmap, &dr->u.opaque.src_area,
                        false, "opaque") &&
               walk_scale_mode(w, dr->u.opaque.scale_mode) &&
               walk_brush(w, &dr->u.opaque.brush, QXL_BRUSH_FILL,
                          "opaque brush") &&
               walk_qmask(w, &dr->u.opaque.mask);
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        return walk_src(w, &dr->u.copy.src_bitmap, &dr->u.copy.src_area,
                        false, "copy") &&
               walk_scale_mode(w, dr->u.copy.scale_mode) &&
               walk_qmask(w, &dr->u.copy.mask);
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        return walk_qmask(w, &dr->u.blackness.mask);
    case QXL_DRAW_ROP3:
        return walk_rop3(w, &dr->u.rop3);
    case QXL_DRAW_STROKE:
        return walk_stroke(w, &dr->u.stroke);
    case QXL_DRAW_TEXT:
        return walk_text(w, &dr->u.text);
    case QXL_DRAW_TRANSPARENT:
        return walk_src(w, &dr->u.transparent.src_bitmap,
                        &dr->u.transparent.src_area, false, "transparent");
    case QXL_DRAW_ALPHA_BLEND:
        dr->u.alpha_blend.alpha_flags &=
            SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA |
            SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA;
        return walk_src(w, &dr->u.alpha_blend.src_bitmap,
                        &dr->u.alpha_blend.src_area, true, "alpha blend");
    case QXL_DRAW_COMPOSITE:
        return walk_composite(w, &dr->u.composite);
    }
    g_assert_not_reached();
}
