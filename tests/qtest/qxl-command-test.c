/*
 * QTest for the QXL display device: no guest can abort QEMU through the
 * commands of its rings.
 *
 * The device reads each command and everything it points to once into a
 * host-owned snapshot, checks it, and hands spice-server (which runs in
 * QEMU's process and aborts it on many malformed commands) only that copy.
 * These tests show it, table by table:
 *
 *   draw/...         every kind of command in a valid form is taken and
 *                    drawn: pixels read back from the primary after
 *                    QXL_IO_UPDATE_AREA (where exact pixels are hard to
 *                    predict, something plausible changed), no ERROR.
 *   valid/...        the commands the corruption table starts from are
 *                    taken as they are.
 *   bad/REF/HOW      one command of those, with one pointer (or the size
 *                    or count behind it) broken: ERROR, QEMU alive, and
 *                    after QXL_IO_RESET the device draws again.
 *   spice-abort/...  the commands spice-server 0.15 aborts on, or hangs
 *                    its worker on, while parsing or while rendering
 *                    them: refused with ERROR, QEMU alive, RESET draws.
 *   race/...         valid commands whose pointers and counts the guest
 *                    rewrites right after NOTIFY_CMD, thousands of times:
 *                    each one is drawn as pushed or refused, never more.
 *   budget           live snapshots stay within x-snapshot-budget-mb: the
 *                    device stops taking commands, QEMU's memory stops
 *                    growing.
 *
 * Every case runs in its own subprocess with its own VM (qxl_test_add()),
 * so a crash fails that case only and names it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qobject/qdict.h"
#include "libqos/qxl.h"

/* The primary every test draws on. */
#define W       64
#define H       64
#define STRIDE  (W * 4)
#define SURFACES 64

/* Colours, xRGB. */
#define RED     0xff0000
#define GREEN   0x00ff00
#define BLUE    0x0000ff
#define ORANGE  0xff8000
#define GREY    0x808080
#define WHITE   0xffffff

/*
 * ROP3 codes: spice-server's canvas implements 218 of the 256 and aborts
 * on the others, those with a simpler equivalent (SRCCOPY, BLACKNESS...).
 */
#define ROP3_DPSXX      0x96    /* dest ^ pattern ^ source */
#define ROP3_SRCCOPY    0xcc    /* source: no handler */
#define ROP3_BLACKNESS  0x00    /* no handler */

static const QXLRect rect_all = { .top = 0, .left = 0, .bottom = H,
                                  .right = W };

static QXLRect rect(int32_t left, int32_t top, int32_t right, int32_t bottom)
{
    return (QXLRect) { .top = top, .left = left, .bottom = bottom,
                       .right = right };
}

/*
 * NATIVE mode with a 64x64 primary.  QXL_TEST_QEMU_ARGS adds to QEMU's
 * command line (e.g. "-trace qxl_*" when a case needs a closer look).
 */
static QXLDev *start(void)
{
    g_autofree char *dev = g_strdup_printf("qxl-vga,surfaces=%d", SURFACES);
    QXLDev *q = qxl_start(dev, g_getenv("QXL_TEST_QEMU_ARGS"));

    qxl_setup(q);
    qxl_create_primary(q, W, H);
    return q;
}

static uint32_t pixel(QXLDev *q, uint32_t x, uint32_t y)
{
    return qxl_primary_pixel(q, x, y, STRIDE);
}

#define assert_pixel(q, x, y, want) \
    g_assert_cmphex(pixel(q, x, y), ==, (want))

/* A solid rect on the primary, taken (no ERROR). */
static void fill(QXLDev *q, const QXLRect *r, uint32_t color)
{
    qxl_push_draw(q, qxl_new_fill(q, 0, r, color));
}

/* Push a drawable built on the host; returns its BAR 0 offset. */
static uint32_t draw(QXLDev *q, const QXLDrawable *d)
{
    uint32_t off = qxl_new_drawable(q, d);

    qxl_push_draw(q, off);
    return off;
}

static void rendered(QXLDev *q)
{
    qxl_assert_rendered(q, W, H);
}

/* 16x16 pixels of distinct colours: (x, y) -> x * 16, y * 16, 0x40. */
static uint32_t gradient(uint32_t x, uint32_t y)
{
    return (x * 16) << 16 | (y * 16) << 8 | 0x40;
}

static uint32_t new_gradient_image(QXLDev *q, int chunks,
                                   uint32_t *chunk_offs)
{
    uint32_t pixels[16 * 16];
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_32BIT,
        .width = 16,
        .height = 16,
        .pixels = pixels,
        .chunks = chunks,
    };
    int x, y;

    for (y = 0; y < 16; y++) {
        for (x = 0; x < 16; x++) {
            pixels[y * 16 + x] = gradient(x, y);
        }
    }
    return qxl_new_bitmap_image(q, &b, chunk_offs);
}

static void assert_gradient_at(QXLDev *q, uint32_t left, uint32_t top)
{
    static const uint32_t at[][2] = { {0, 0}, {15, 0}, {0, 15}, {7, 9},
                                      {15, 15} };
    int i;

    for (i = 0; i < ARRAY_SIZE(at); i++) {
        assert_pixel(q, left + at[i][0], top + at[i][1],
                     gradient(at[i][0], at[i][1]));
    }
}

/* A COPY of the 16x16 image @image to (left, top) of the primary. */
static QXLDrawable copy_drawable(QXLDev *q, uint32_t image, int32_t left,
                                 int32_t top)
{
    QXLRect bbox = rect(left, top, left + 16, top + 16);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_COPY, &bbox);

    d.u.copy.src_bitmap = qxl_phys(q, image);
    d.u.copy.src_area = rect(0, 0, 16, 16);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    return d;
}

/*
 * A ROP3 @code over @bbox of image @src's @src_area (@src 0: none) and a
 * grey brush.
 */
static QXLDrawable rop3_drawable(QXLDev *q, QXLRect bbox, uint32_t src,
                                 QXLRect src_area, uint8_t code)
{
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_ROP3, &bbox);

    d.u.rop3.src_bitmap = src ? qxl_phys(q, src) : 0;
    d.u.rop3.src_area = src_area;
    d.u.rop3.brush = qxl_solid_brush(GREY);
    d.u.rop3.rop3 = code;
    return d;
}

/* An orange FILL of (8, 8)-(24, 24) through the mask image @mask. */
static QXLDrawable mask_fill_drawable(QXLDev *q, uint32_t mask)
{
    QXLRect r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &r);

    d.u.fill.brush = qxl_solid_brush(ORANGE);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.fill.mask.bitmap = qxl_phys(q, mask);
    return d;
}

/* A 16x16 1 bpp (big-endian bit order) mask: the left half set. */
static uint32_t new_half_mask(QXLDev *q, uint8_t format)
{
    uint8_t bits[16 * 4];
    QXLBitmapSpec b = {
        .format = format,
        .width = 16,
        .height = 16,
        .stride = 4,
        .pixels = bits,
    };
    int y;

    memset(bits, 0, sizeof(bits));
    for (y = 0; y < 16; y++) {
        bits[y * 4] = 0xff;
    }
    return qxl_new_bitmap_image(q, &b, NULL);
}

/* Count the pixels of row @y, [x0, x1), that have colour @color. */
static int count_row(QXLDev *q, uint32_t y, uint32_t x0, uint32_t x1,
                     uint32_t color)
{
    int n = 0;

    for (uint32_t x = x0; x < x1; x++) {
        n += pixel(q, x, y) == color;
    }
    return n;
}

/* ==== draw/: every command in a valid form ============================== */

static void draw_fill_solid(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);

    fill(q, &r, ORANGE);
    rendered(q);
    assert_pixel(q, 8, 8, ORANGE);
    assert_pixel(q, 23, 23, ORANGE);
    assert_pixel(q, 24, 24, 0);
}

static void draw_fill_pattern(QXLDev *q)
{
    const uint32_t pat[] = { RED, GREEN, BLUE, WHITE };
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_32BIT,
        .width = 2, .height = 2,
        .pixels = pat,
    };
    QXLRect r = rect(0, 0, 32, 32);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &r);

    d.u.fill.brush = qxl_pattern_brush(q, qxl_new_bitmap_image(q, &b, NULL),
                                       0, 0);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 0, 0, RED);
    assert_pixel(q, 1, 0, GREEN);
    assert_pixel(q, 0, 1, BLUE);
    assert_pixel(q, 1, 1, WHITE);
    assert_pixel(q, 20, 10, RED);
    assert_pixel(q, 31, 31, WHITE);
    assert_pixel(q, 40, 40, 0);
}

static void draw_opaque(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_OPAQUE, &r);

    d.u.opaque.src_bitmap = qxl_phys(q, new_gradient_image(q, 0, NULL));
    d.u.opaque.src_area = rect(0, 0, 16, 16);
    /* src OR a black brush: the source. */
    d.u.opaque.brush = qxl_solid_brush(0);
    d.u.opaque.rop_descriptor = SPICE_ROPD_OP_OR;
    draw(q, &d);
    rendered(q);
    assert_gradient_at(q, 8, 8);
}

static void draw_copy_direct(QXLDev *q)
{
    QXLDrawable d = copy_drawable(q, new_gradient_image(q, 0, NULL), 8, 8);

    draw(q, &d);
    rendered(q);
    assert_gradient_at(q, 8, 8);
    assert_pixel(q, 30, 30, 0);
}

static void draw_copy_chunked(QXLDev *q)
{
    /* 1 KiB of pixels in three chunks, not split at line boundaries. */
    QXLDrawable d = copy_drawable(q, new_gradient_image(q, 3, NULL), 20, 30);

    draw(q, &d);
    rendered(q);
    assert_gradient_at(q, 20, 30);
}

static void draw_copy_8bit(QXLDev *q)
{
    const uint32_t ents[] = { RED, GREEN, BLUE, WHITE };
    uint8_t idx[16 * 16];
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_8BIT,
        .width = 16, .height = 16,
        .pixels = idx,
        .palette = qxl_new_palette(q, ents, ARRAY_SIZE(ents)),
        .chunks = 2,
    };
    QXLDrawable d;
    int x, y;

    for (y = 0; y < 16; y++) {
        for (x = 0; x < 16; x++) {
            idx[y * 16 + x] = (x + y) % 4;
        }
    }
    d = copy_drawable(q, qxl_new_bitmap_image(q, &b, NULL), 8, 8);
    draw(q, &d);
    rendered(q);
    for (y = 0; y < 16; y += 5) {
        for (x = 0; x < 16; x += 3) {
            assert_pixel(q, 8 + x, 8 + y, ents[(x + y) % 4]);
        }
    }
}

static void draw_copy_1bit(QXLDev *q)
{
    const uint32_t ents[] = { BLUE, ORANGE };
    uint8_t bits[16 * 4];
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_1BIT_BE,
        .width = 16, .height = 16, .stride = 4,
        .pixels = bits,
        .palette = qxl_new_palette(q, ents, ARRAY_SIZE(ents)),
    };
    QXLDrawable d;
    int y;

    /* Big-endian bits: pixels 0-3 and 12-15 are 1, 4-11 are 0. */
    for (y = 0; y < 16; y++) {
        bits[y * 4] = 0xf0;
        bits[y * 4 + 1] = 0x0f;
        bits[y * 4 + 2] = bits[y * 4 + 3] = 0;
    }
    d = copy_drawable(q, qxl_new_bitmap_image(q, &b, NULL), 8, 8);
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 8, 8, ORANGE);
    assert_pixel(q, 8 + 5, 10, BLUE);
    assert_pixel(q, 8 + 10, 20, BLUE);
    assert_pixel(q, 8 + 15, 23, ORANGE);
}

/* A 16x16 COPY of @format whose bytes are all @byte; returns pixel (8, 8). */
static uint32_t copy_format(QXLDev *q, uint8_t format, uint8_t byte,
                            bool palette)
{
    const uint32_t ents[16] = { BLUE, ORANGE, GREEN, RED, WHITE, GREY };
    uint8_t bytes[16 * 16 * 4];
    QXLBitmapSpec b = {
        .format = format,
        .width = 16, .height = 16, .stride = 16 * 4,
        .pixels = bytes,
        .palette = palette ? qxl_new_palette(q, ents, ARRAY_SIZE(ents)) : 0,
    };
    QXLDrawable d;

    memset(bytes, byte, sizeof(bytes));
    d = copy_drawable(q, qxl_new_bitmap_image(q, &b, NULL), 8, 8);
    draw(q, &d);
    rendered(q);
    return pixel(q, 8, 8);
}

static void draw_copy_4bit(QXLDev *q)
{
    /* Both nibbles index 1. */
    g_assert_cmphex(copy_format(q, SPICE_BITMAP_FMT_4BIT_BE, 0x11, true), ==,
                    ORANGE);
}

static void draw_copy_16bit(QXLDev *q)
{
    /* x1r5g5b5 0x7fff: white */
    g_assert_cmphex(copy_format(q, SPICE_BITMAP_FMT_16BIT, 0xff, false) &
                    0xf8f8f8, ==, 0xf8f8f8);
}

static void draw_copy_24bit(QXLDev *q)
{
    g_assert_cmphex(copy_format(q, SPICE_BITMAP_FMT_24BIT, 0x80, false), ==,
                    GREY);
}

static void draw_copy_rgba(QXLDev *q)
{
    g_assert_cmphex(copy_format(q, SPICE_BITMAP_FMT_RGBA, 0x80, false), ==,
                    GREY);
}

static void draw_copy_8bit_a(QXLDev *q)
{
    /* An alpha-only source: whatever it makes of it, no crash. */
    copy_format(q, SPICE_BITMAP_FMT_8BIT_A, 0x80, false);
}

static void draw_blend(QXLDev *q)
{
    QXLDrawable d = copy_drawable(q, new_gradient_image(q, 0, NULL), 40, 8);

    d.type = QXL_DRAW_BLEND;
    d.effect = QXL_EFFECT_BLEND;
    draw(q, &d);
    rendered(q);
    assert_gradient_at(q, 40, 8);
}

static void draw_solid_op(QXLDev *q, uint8_t type, uint32_t before,
                          uint32_t after)
{
    QXLRect bg = rect(0, 0, 32, 32), r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, type, &r);

    fill(q, &bg, before);
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 10, 10, after);
    assert_pixel(q, 23, 8, after);
    assert_pixel(q, 4, 4, before);
}

static void draw_blackness(QXLDev *q)
{
    draw_solid_op(q, QXL_DRAW_BLACKNESS, ORANGE, 0);
}

static void draw_whiteness(QXLDev *q)
{
    draw_solid_op(q, QXL_DRAW_WHITENESS, ORANGE, WHITE);
}

static void draw_invers(QXLDev *q)
{
    draw_solid_op(q, QXL_DRAW_INVERS, ORANGE, ~ORANGE & 0xffffff);
}

static void draw_rop3(QXLDev *q)
{
    QXLDrawable d = rop3_drawable(q, rect(8, 8, 24, 24),
                                  new_gradient_image(q, 0, NULL),
                                  rect(0, 0, 16, 16), ROP3_DPSXX);

    draw(q, &d);
    rendered(q);
    /* dest (black) ^ brush ^ source */
    assert_pixel(q, 8, 8, gradient(0, 0) ^ GREY);
    assert_pixel(q, 23, 20, gradient(15, 12) ^ GREY);
}

/* ROP3 without a source: the area of the surface it covers is the source. */
static void draw_rop3_self_bitmap(QXLDev *q)
{
    QXLRect bg = rect(0, 0, 32, 32), r = rect(8, 8, 24, 24);
    QXLDrawable d = rop3_drawable(q, r, 0, rect(0, 0, 16, 16), ROP3_DPSXX);

    fill(q, &bg, ORANGE);
    d.self_bitmap = 1;
    d.self_bitmap_area = r;
    draw(q, &d);
    rendered(q);
    /* dest ^ brush ^ source, where the source is the dest as it was */
    assert_pixel(q, 10, 10, GREY);
    assert_pixel(q, 23, 23, GREY);
    assert_pixel(q, 28, 28, ORANGE);
}

static QXLDrawable stroke_drawable(QXLDev *q)
{
    const QXLPoint pts[] = { { 4, 32 }, { 60, 32 } };
    QXLRect r = rect(0, 28, 64, 36);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_STROKE, &r);

    d.u.stroke.path = qxl_phys(q, qxl_new_path(q, pts, ARRAY_SIZE(pts), 1,
                                               NULL));
    d.u.stroke.brush = qxl_solid_brush(GREEN);
    d.u.stroke.fore_mode = SPICE_ROPD_OP_PUT;
    d.u.stroke.back_mode = SPICE_ROPD_OP_PUT;
    return d;
}

/* Make the STROKE @d styled: @n dashes; returns their BAR 0 offset. */
static uint32_t stroke_style(QXLDev *q, QXLDrawable *d,
                             const QXLFIXED *dashes, uint8_t n)
{
    uint32_t style = qxl_new_line_style(q, dashes, n);

    d->u.stroke.attr.flags = SPICE_LINE_FLAGS_STYLED;
    d->u.stroke.attr.style_nseg = n;
    d->u.stroke.attr.style = qxl_phys(q, style);
    return style;
}

static void draw_stroke(QXLDev *q)
{
    QXLDrawable d = stroke_drawable(q);

    draw(q, &d);
    rendered(q);
    /* A thin line along y = 32: most of it drawn, nothing beside it. */
    g_assert_cmpint(count_row(q, 32, 8, 56, GREEN), >=, 40);
    g_assert_cmpint(count_row(q, 40, 0, 64, GREEN), ==, 0);
}

static void draw_stroke_styled(QXLDev *q)
{
    const QXLFIXED dashes[] = { 4 << 4, 4 << 4, 4 << 4, 4 << 4 };
    QXLDrawable d = stroke_drawable(q);
    int n;

    stroke_style(q, &d, dashes, ARRAY_SIZE(dashes));
    draw(q, &d);
    rendered(q);
    /* Dashes: about half of the line. */
    n = count_row(q, 32, 8, 56, GREEN);
    g_assert_cmpint(n, >=, 12);
    g_assert_cmpint(n, <=, 36);
}

static QXLDrawable text_drawable(QXLDev *q, uint32_t string)
{
    QXLRect r = rect(8, 20, 40, 28);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_TEXT, &r);

    d.effect = QXL_EFFECT_BLEND;
    d.u.text.str = qxl_phys(q, string);
    d.u.text.fore_brush = qxl_solid_brush(ORANGE);
    d.u.text.back_brush = qxl_solid_brush(BLUE);
    d.u.text.fore_mode = SPICE_ROPD_OP_PUT;
    d.u.text.back_mode = SPICE_ROPD_OP_PUT;
    return d;
}

/*
 * A string of @n solid 8x8 A1 glyphs from (8, 20), where text_drawable()
 * draws, in @nchunks chunks.
 */
static uint32_t new_string(QXLDev *q, uint16_t n, int nchunks,
                           uint32_t *chunk_offs)
{
    const QXLPoint pos = { 8, 20 };

    return qxl_new_a1_string(q, n, 8, 8, &pos, nchunks, chunk_offs);
}

static void draw_text(QXLDev *q)
{
    QXLDrawable d = text_drawable(q, new_string(q, 3, 2, NULL));

    draw(q, &d);
    rendered(q);
    /* Three solid 8x8 glyphs side by side, one pixel apart. */
    g_assert_cmpint(count_row(q, 23, 8, 40, ORANGE), >=, 20);
    assert_pixel(q, 12, 23, ORANGE);
    assert_pixel(q, 12, 40, 0);
}

static void draw_transparent(QXLDev *q)
{
    uint32_t pixels[16 * 16];
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_32BIT,
        .width = 16, .height = 16,
        .pixels = pixels,
    };
    QXLRect bg = rect(0, 0, 32, 32), r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_TRANSPARENT, &r);
    int i;

    /* Left half the transparent colour, right half green. */
    for (i = 0; i < 16 * 16; i++) {
        pixels[i] = i % 16 < 8 ? RED : GREEN;
    }
    fill(q, &bg, GREY);
    d.effect = QXL_EFFECT_BLEND;
    d.u.transparent.src_bitmap = qxl_phys(q, qxl_new_bitmap_image(q, &b,
                                                                  NULL));
    d.u.transparent.src_area = rect(0, 0, 16, 16);
    d.u.transparent.src_color = RED;
    d.u.transparent.true_color = RED;
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 10, 10, GREY);
    assert_pixel(q, 20, 10, GREEN);
}

static void draw_alpha_blend(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_ALPHA_BLEND, &r);
    uint32_t p;

    d.effect = QXL_EFFECT_BLEND;
    d.u.alpha_blend.alpha = 0x80;
    d.u.alpha_blend.src_bitmap = qxl_phys(q, qxl_new_solid_image(q, 16, 16,
                                                                 WHITE));
    d.u.alpha_blend.src_area = rect(0, 0, 16, 16);
    draw(q, &d);
    rendered(q);
    /* Half of white over black: some grey. */
    p = pixel(q, 12, 12);
    g_assert_cmphex(p & 0xff, >=, 0x70);
    g_assert_cmphex(p & 0xff, <=, 0x90);
    assert_pixel(q, 30, 30, 0);
}

static void draw_copy_bits(QXLDev *q)
{
    QXLRect src = rect(0, 0, 16, 16), dst = rect(32, 32, 48, 48);
    QXLDrawable d = qxl_drawable_init(0, QXL_COPY_BITS, &dst);

    fill(q, &src, ORANGE);
    d.u.copy_bits.src_pos.x = 0;
    d.u.copy_bits.src_pos.y = 0;
    d.surfaces_dest[0] = 0;
    d.surfaces_rects[0] = src;
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 32, 32, ORANGE);
    assert_pixel(q, 47, 47, ORANGE);
    assert_pixel(q, 50, 50, 0);
}

static const QXLTransform scale_half = {
    .t00 = 0x8000, .t11 = 0x8000,       /* 16.16: 0.5 */
};

static QXLDrawable composite_drawable(QXLDev *q, uint32_t src,
                                      uint32_t src_transform, uint32_t mask,
                                      uint32_t mask_transform)
{
    QXLRect r = rect(8, 8, 40, 40);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_COMPOSITE, &r);

    d.effect = QXL_EFFECT_BLEND;
    /* SRC, source and mask repeated (pixman's REPEAT_NORMAL). */
    d.u.composite.flags = QXL_OP_SOURCE | 1 << 14 | 1 << 16;
    d.u.composite.src = qxl_phys(q, src);
    d.u.composite.src_transform = src_transform ?
                                  qxl_phys(q, src_transform) : 0;
    d.u.composite.mask = mask ? qxl_phys(q, mask) : 0;
    d.u.composite.mask_transform = mask_transform ?
                                   qxl_phys(q, mask_transform) : 0;
    return d;
}

static void draw_composite(QXLDev *q)
{
    QXLDrawable d = composite_drawable(q, qxl_new_solid_image(q, 8, 8, GREEN),
                                       qxl_new_transform(q, &scale_half),
                                       0, 0);

    draw(q, &d);
    rendered(q);
    assert_pixel(q, 8, 8, GREEN);
    assert_pixel(q, 39, 39, GREEN);
    assert_pixel(q, 45, 45, 0);
}

static void draw_composite_mask(QXLDev *q)
{
    uint32_t opaque[8 * 8];
    QXLBitmapSpec m = {
        .format = SPICE_BITMAP_FMT_RGBA,
        .width = 8, .height = 8,
        .pixels = opaque,
    };
    QXLDrawable d;
    int i;

    for (i = 0; i < 8 * 8; i++) {
        opaque[i] = 0xff000000;
    }
    d = composite_drawable(q, qxl_new_solid_image(q, 8, 8, ORANGE),
                           qxl_new_transform(q, &scale_half),
                           qxl_new_bitmap_image(q, &m, NULL),
                           qxl_new_transform(q, &scale_half));
    draw(q, &d);
    rendered(q);
    assert_pixel(q, 20, 20, ORANGE);
}

/* Create secondary surface @id of 16x16; returns its pixels' offset. */
static uint32_t create_surface(QXLDev *q, uint32_t id)
{
    uint32_t c = qxl_new_surface_create(q, id, 16, 16);

    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, c));
    return qxl_bar0_readq(q, c + offsetof(QXLSurfaceCmd,
                                          u.surface_create.data)) &
           0xffffffffffffULL;
}

/* Draw @d, which reads the 16x16 of secondary surface @id. */
static void draw_reading_surface(QXLDev *q, QXLDrawable *d, uint32_t id)
{
    d->surfaces_dest[0] = id;
    d->surfaces_rects[0] = rect(0, 0, 16, 16);
    draw(q, d);
}

/* A COPY whose source is a secondary surface. */
static void draw_surface_image(QXLDev *q)
{
    QXLRect src = rect(0, 0, 16, 16);
    QXLDrawable d;

    create_surface(q, 1);
    qxl_push_draw(q, qxl_new_fill(q, 1, &src, GREEN));
    d = copy_drawable(q, qxl_new_surface_image(q, 1, 16, 16), 24, 24);
    draw_reading_surface(q, &d, 1);
    rendered(q);
    assert_pixel(q, 24, 24, GREEN);
    assert_pixel(q, 39, 39, GREEN);
    assert_pixel(q, 8, 8, 0);
}

static void draw_mask(QXLDev *q)
{
    uint32_t mask = new_half_mask(q, SPICE_BITMAP_FMT_1BIT_BE);
    QXLDrawable d = mask_fill_drawable(q, mask);

    draw(q, &d);
    rendered(q);
    /* Only one half drawn, whichever way the bits go. */
    g_assert_cmpint(count_row(q, 12, 8, 24, ORANGE), ==, 8);
    g_assert_cmphex(pixel(q, 8, 12), !=, pixel(q, 23, 12));
}

/*
 * A blue FILL of the whole primary clipped by four rects (16 bytes each)
 * in @nchunks chunks; @clip gets the BAR 0 offset of their QXLClipRects,
 * @chunk_offs (when not NULL) those of its chunks.
 */
static QXLDrawable clip_fill_drawable(QXLDev *q, int nchunks, uint32_t *clip,
                                      uint32_t *chunk_offs)
{
    const QXLRect rects[] = {
        rect(0, 0, 8, 8), rect(16, 16, 24, 24), rect(40, 40, 48, 48),
        rect(56, 0, 64, 4),
    };
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &rect_all);

    *clip = qxl_new_clip_rects(q, rects, ARRAY_SIZE(rects), nchunks,
                               chunk_offs);
    d.clip = qxl_clip_rects(q, *clip);
    d.u.fill.brush = qxl_solid_brush(BLUE);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    return d;
}

static void draw_clip_rects(QXLDev *q)
{
    uint32_t clip;
    QXLDrawable d = clip_fill_drawable(q, 3, &clip, NULL);

    draw(q, &d);
    rendered(q);
    assert_pixel(q, 4, 4, BLUE);
    assert_pixel(q, 20, 20, BLUE);
    assert_pixel(q, 44, 44, BLUE);
    assert_pixel(q, 60, 2, BLUE);
    assert_pixel(q, 30, 30, 0);
    assert_pixel(q, 10, 10, 0);
}

/* An UPDATE on the ring renders the area into guest memory by itself. */
static void draw_update_cmd(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    fill(q, &r, ORANGE);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_UPDATE,
             qxl_phys(q, qxl_new_update_cmd(q, 0, &rect_all)));
    while (pixel(q, 10, 10) != ORANGE && g_get_monotonic_time() < end) {
        g_usleep(1000);
    }
    assert_pixel(q, 10, 10, ORANGE);
    qxl_assert_no_error(q);
}

static void draw_message(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);

    qxl_push(q, QXL_RING_CMD, QXL_CMD_MESSAGE,
             qxl_phys(q, qxl_new_message(q, "hello from the guest")));
    fill(q, &r, GREEN);
    rendered(q);
    assert_pixel(q, 10, 10, GREEN);
}

/* Create, draw into, destroy and create again a secondary surface. */
static void draw_surface_create_destroy(QXLDev *q)
{
    QXLRect r = rect(0, 0, 16, 16);
    uint32_t data = create_surface(q, 2);
    uint64_t ids[8];

    qxl_push_draw(q, qxl_new_fill(q, 2, &r, ORANGE));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 2, &r);
    g_assert_cmphex(qxl_bar0_readl(q, data + 5 * 16 * 4 + 5 * 4) & 0xffffff,
                    ==, ORANGE);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE,
             qxl_phys(q, qxl_new_surface_destroy(q, 2)));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    /* The id is free again once spice-server let go of the surface. */
    qxl_collect_releases(q, ids, ARRAY_SIZE(ids), 2);
    data = create_surface(q, 2);
    qxl_push_draw(q, qxl_new_fill(q, 2, &r, GREEN));
    rendered(q);
    qxl_update_area(q, 2, &r);
    g_assert_cmphex(qxl_bar0_readl(q, data + 5 * 16 * 4 + 5 * 4) & 0xffffff,
                    ==, GREEN);
    qxl_assert_no_error(q);
}

static void draw_cursor(QXLDev *q)
{
    QXLCursorCmd c = {
        .type = QXL_CURSOR_SET,
        .u.set.visible = 1,
    };

    c.u.set.shape = qxl_phys(q, qxl_new_cursor_shape_chunked(q, 32, 32,
                                                             0xff00ff00, 3,
                                                             NULL));
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_cmd(q, &c)));
    c = (QXLCursorCmd) { .type = QXL_CURSOR_MOVE, .u.position = { 10, 20 } };
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_cmd(q, &c)));
    c = (QXLCursorCmd) { .type = QXL_CURSOR_TRAIL,
                         .u.trail = { .length = 4, .frequency = 2 } };
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_cmd(q, &c)));
    c = (QXLCursorCmd) { .type = QXL_CURSOR_HIDE };
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_cmd(q, &c)));
    rendered(q);
}

/* ---- COMPAT: the qxl-1 layout, SET_MODE, slot 0 guest-physical ---------- */

typedef struct CompatMode {
    uint32_t index, width, height;
} CompatMode;

/* The first 32 bpp mode the ROM publishes. */
static CompatMode compat_mode(QXLDev *q)
{
    uint32_t base = QXL_ROM_L(q, modes_offset);
    uint32_t n = qxl_rom_readl(q, base);
    uint32_t i;

    for (i = 0; i < n; i++) {
        QXLMode m;

        qxl_rom_read(q, base + 4 + i * sizeof(m), &m, sizeof(m));
        if (m.bits == 32) {
            return (CompatMode) { i, m.x_res, m.y_res };
        }
    }
    g_assert_not_reached();
}

/* Bottom-up primary at the start of BAR 0. */
static uint32_t compat_pixel(QXLDev *q, const CompatMode *m, uint32_t x,
                             uint32_t y)
{
    return qxl_bar0_readl(q, (uint64_t)(m->height - 1 - y) * m->width * 4 +
                          x * 4) & 0xffffff;
}

static void compat_push(QXLDev *q, const QXLCompatDrawable *d)
{
    uint32_t off = qxl_new_compat_drawable(q, d);

    /* Slot 0: the offset is the guest-physical address. */
    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW,
             qxl_phys_slot(0, q->ram_addr + off));
}

static void compat(const char *device)
{
    QXLDev *q = qxl_start(device, NULL);
    CompatMode m = compat_mode(q);
    QXLRect area = rect(0, 0, m.width, m.height);
    QXLCompatDrawable f = {
        .effect = QXL_EFFECT_OPAQUE,
        .type = QXL_DRAW_FILL,
        .bbox = rect(8, 8, 24, 24),
        .clip.type = SPICE_CLIP_TYPE_NONE,
        .u.fill.brush = qxl_solid_brush(ORANGE),
        .u.fill.rop_descriptor = SPICE_ROPD_OP_PUT,
    };
    QXLCompatDrawable cb = {
        .effect = QXL_EFFECT_OPAQUE,
        .type = QXL_COPY_BITS,
        .bbox = rect(100, 50, 116, 66),
        .clip.type = SPICE_CLIP_TYPE_NONE,
        .u.copy_bits.src_pos = { 8, 8 },
    };

    qxl_io(q, QXL_IO_SET_MODE, m.index);
    qxl_set_int_mask(q, ~0u);
    compat_push(q, &f);
    compat_push(q, &cb);
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_update_area(q, 0, &area);
    qxl_assert_no_error(q);
    g_assert_cmphex(compat_pixel(q, &m, 8, 8), ==, ORANGE);
    g_assert_cmphex(compat_pixel(q, &m, 23, 23), ==, ORANGE);
    g_assert_cmphex(compat_pixel(q, &m, 30, 30), ==, 0);
    g_assert_cmphex(compat_pixel(q, &m, 100, 50), ==, ORANGE);
    g_assert_cmphex(compat_pixel(q, &m, 115, 65), ==, ORANGE);
    g_assert_cmphex(compat_pixel(q, &m, 120, 70), ==, 0);
    qxl_stop(q);
}

static void test_compat_rev1(void)
{
    compat("qxl-vga,revision=1");
}

static void test_compat_rev2(void)
{
    compat("qxl-vga,revision=2");
}

typedef struct DrawCase {
    const char *name;
    void (*fn)(QXLDev *q);
} DrawCase;

static const DrawCase draw_cases[] = {
    { "fill/solid", draw_fill_solid },
    { "fill/pattern", draw_fill_pattern },
    { "opaque", draw_opaque },
    { "copy/bitmap-direct", draw_copy_direct },
    { "copy/bitmap-chunked", draw_copy_chunked },
    { "copy/bitmap-8bit", draw_copy_8bit },
    { "copy/bitmap-1bit", draw_copy_1bit },
    { "copy/bitmap-4bit", draw_copy_4bit },
    { "copy/bitmap-16bit", draw_copy_16bit },
    { "copy/bitmap-24bit", draw_copy_24bit },
    { "copy/bitmap-rgba", draw_copy_rgba },
    { "copy/bitmap-8bit-alpha", draw_copy_8bit_a },
    { "blend", draw_blend },
    { "blackness", draw_blackness },
    { "whiteness", draw_whiteness },
    { "invers", draw_invers },
    { "rop3", draw_rop3 },
    { "rop3/self-bitmap", draw_rop3_self_bitmap },
    { "stroke", draw_stroke },
    { "stroke/styled", draw_stroke_styled },
    { "text/a1", draw_text },
    { "transparent", draw_transparent },
    { "alpha-blend", draw_alpha_blend },
    { "copy-bits", draw_copy_bits },
    { "composite/transform", draw_composite },
    { "composite/mask", draw_composite_mask },
    { "surface-image", draw_surface_image },
    { "mask", draw_mask },
    { "clip-rects", draw_clip_rects },
    { "update-cmd", draw_update_cmd },
    { "message", draw_message },
    { "surface/create-destroy", draw_surface_create_destroy },
    { "cursor", draw_cursor },
};

static void run_draw_case(const void *data)
{
    const DrawCase *c = data;
    QXLDev *q = start();

    c->fn(q);
    qxl_assert_no_error(q);
    /* Still drawing afterwards. */
    qxl_reset(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ==== bad/: one broken pointer, size or count per case ================== */

/* What a command holds that a guest can break. */
typedef enum Ref {
    REF_CMD,            /* the ring entry's pointer to the command */
    REF_CLIP,           /* QXLClip.data -> QXLClipRects */
    REF_SRC,            /* a source image pointer */
    REF_BITMAP_DATA,    /* QXLBitmap.data, flat */
    REF_BITMAP_CHUNKS,  /* QXLBitmap.data, a chunk list */
    REF_PALETTE,        /* QXLBitmap.palette */
    REF_PATTERN,        /* QXLPattern.pat */
    REF_MASK,           /* QXLQMask.bitmap */
    REF_COMP_SRC,       /* QXLComposite.src */
    REF_COMP_MASK,      /* QXLComposite.mask */
    REF_SRC_TRANSFORM,  /* QXLComposite.src_transform */
    REF_MASK_TRANSFORM, /* QXLComposite.mask_transform */
    REF_QUIC,           /* a QUIC image and its data chunks */
    REF_PATH,           /* QXLStroke.path */
    REF_STYLE,          /* QXLLineAttr.style */
    REF_STRING,         /* QXLText.str */
    REF_SHAPE,          /* QXLCursorCmd.u.set.shape */
    REF_SURFACE_DATA,   /* QXLSurfaceCreate.data */
    REF__MAX,
} Ref;

#define MAX_CHUNKS 4

typedef struct Target {
    uint32_t field;         /* BAR 0 offset of the QXLPHYSICAL; 0: ring */
    uint32_t target;        /* BAR 0 offset of what it points to */
    int nchunks;            /* chunk list behind it */
    uint32_t chunks[MAX_CHUNKS];
    uint32_t count;         /* BAR 0 offset of a size or count, or 0 */
    uint8_t count_size;     /* its bytes */
    uint64_t huge;          /* a value of it that overflows */
} Target;

/* A command built in guest memory, ready to push. */
typedef struct Built {
    QXLRingKind ring;
    uint32_t type;
    uint64_t phys;
    Target t[REF__MAX];
} Built;

static void set_cmd(QXLDev *q, Built *b, QXLRingKind ring, uint32_t type,
                    uint32_t off)
{
    b->ring = ring;
    b->type = type;
    b->phys = qxl_phys(q, off);
    b->t[REF_CMD].target = off;
}

static void set_target(Built *b, Ref ref, uint32_t field, uint32_t target)
{
    b->t[ref].field = field;
    b->t[ref].target = target;
}

/*
 * The chunk list of @ref, @n chunks: all of them, or of a longer list the
 * first, second and last, all that corrupt() uses.
 */
static void set_chunks(Built *b, Ref ref, const uint32_t *chunks, int n)
{
    Target *t = &b->t[ref];

    if (n <= MAX_CHUNKS) {
        memcpy(t->chunks, chunks, n * sizeof(chunks[0]));
        t->nchunks = n;
    } else {
        t->chunks[0] = chunks[0];
        t->chunks[1] = chunks[1];
        t->chunks[2] = chunks[n - 1];
        t->nchunks = 3;
    }
}

static void set_count(Built *b, Ref ref, uint32_t off, uint8_t size,
                      uint64_t huge)
{
    b->t[ref].count = off;
    b->t[ref].count_size = size;
    b->t[ref].huge = huge;
}

#define DRAW_FIELD(d, f) ((d) + offsetof(QXLDrawable, f))
#define IMAGE_FIELD(i, f) ((i) + offsetof(QXLImage, f))

/* The FILL of clip_fill_drawable(), its clip rects in @nchunks chunks. */
static void fill_clip(QXLDev *q, Built *b, int nchunks)
{
    g_autofree uint32_t *chunks = g_new(uint32_t, nchunks);
    uint32_t clip, off;
    QXLDrawable d = clip_fill_drawable(q, nchunks, &clip, chunks);

    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_CLIP, DRAW_FIELD(off, clip.data), clip);
    set_chunks(b, REF_CLIP, chunks, nchunks);
    set_count(b, REF_CLIP, clip + offsetof(QXLClipRects, num_rects), 4,
              0x40000000);
}

static void build_fill_clip(QXLDev *q, Built *b)
{
    fill_clip(q, b, 2);
}

/* COPY of a flat 32 bpp bitmap. */
static void build_copy_direct(QXLDev *q, Built *b)
{
    uint32_t data, img = new_gradient_image(q, 0, &data);
    QXLDrawable d = copy_drawable(q, img, 8, 8);
    uint32_t off = qxl_new_drawable(q, &d);

    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_SRC, DRAW_FIELD(off, u.copy.src_bitmap), img);
    set_count(b, REF_SRC, IMAGE_FIELD(img, bitmap.x), 4, 0x7fffffff);
    set_target(b, REF_BITMAP_DATA, IMAGE_FIELD(img, bitmap.data), data);
    set_count(b, REF_BITMAP_DATA, IMAGE_FIELD(img, bitmap.stride), 4,
              0xffffffff);
}

/* The @n chunks of the pixels of bitmap image @img. */
static void set_bitmap_chunks(Built *b, uint32_t img, const uint32_t *chunks,
                              int n)
{
    set_target(b, REF_BITMAP_CHUNKS, IMAGE_FIELD(img, bitmap.data),
               chunks[0]);
    set_chunks(b, REF_BITMAP_CHUNKS, chunks, n);
    /* y * stride past 4 GiB */
    set_count(b, REF_BITMAP_CHUNKS, IMAGE_FIELD(img, bitmap.y), 4,
              0x40000000);
}

/* COPY of a 32 bpp bitmap in three chunks. */
static void build_copy_chunked(QXLDev *q, Built *b)
{
    uint32_t chunks[3], img = new_gradient_image(q, 3, chunks);
    QXLDrawable d = copy_drawable(q, img, 8, 8);
    uint32_t off = qxl_new_drawable(q, &d);

    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_bitmap_chunks(b, img, chunks, 3);
}

/*
 * COPY of a 16x16 8 bpp bitmap of palette index 0 (race/ gives that entry
 * a colour of its own each round), flat or in @nchunks chunks.
 */
static void copy_8bit(QXLDev *q, Built *b, int nchunks)
{
    const uint32_t ents[] = { RED, GREEN, BLUE, WHITE };
    uint8_t idx[16 * 16] = { 0 };
    uint32_t pal = qxl_new_palette(q, ents, ARRAY_SIZE(ents));
    QXLBitmapSpec bm = {
        .format = SPICE_BITMAP_FMT_8BIT,
        .width = 16, .height = 16,
        .pixels = idx,
        .palette = pal,
        .chunks = nchunks,
    };
    g_autofree uint32_t *chunks = g_new(uint32_t, MAX(nchunks, 1));
    uint32_t img, off;
    QXLDrawable d;

    img = qxl_new_bitmap_image(q, &bm, chunks);
    d = copy_drawable(q, img, 8, 8);
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_SRC, DRAW_FIELD(off, u.copy.src_bitmap), img);
    set_count(b, REF_SRC, IMAGE_FIELD(img, bitmap.x), 4, 0x7fffffff);
    set_target(b, REF_PALETTE, IMAGE_FIELD(img, bitmap.palette), pal);
    set_count(b, REF_PALETTE, pal + offsetof(QXLPalette, num_ents), 2,
              0xffff);
    if (nchunks) {
        set_bitmap_chunks(b, img, chunks, nchunks);
    }
}

static void build_copy_8bit(QXLDev *q, Built *b)
{
    copy_8bit(q, b, 0);
}

/* FILL with a pattern brush. */
static void build_fill_pattern(QXLDev *q, Built *b)
{
    uint32_t img = qxl_new_solid_image(q, 4, 4, GREEN);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &rect_all);
    uint32_t off;

    d.u.fill.brush = qxl_pattern_brush(q, img, 0, 0);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_PATTERN, DRAW_FIELD(off, u.fill.brush.u.pattern.pat),
               img);
    set_count(b, REF_PATTERN, IMAGE_FIELD(img, bitmap.y), 4, 0x7fffffff);
}

/* BLACKNESS through a 1 bpp mask. */
static void build_mask(QXLDev *q, Built *b)
{
    uint32_t mask = new_half_mask(q, SPICE_BITMAP_FMT_1BIT_BE);
    QXLRect r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_BLACKNESS, &r);
    uint32_t off;

    d.u.blackness.mask.bitmap = qxl_phys(q, mask);
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_MASK, DRAW_FIELD(off, u.blackness.mask.bitmap), mask);
    set_count(b, REF_MASK, IMAGE_FIELD(mask, bitmap.stride), 4, 0xffffffff);
}

/* COMPOSITE with a source, a mask and both transforms. */
static void build_composite(QXLDev *q, Built *b)
{
    uint32_t src = qxl_new_solid_image(q, 8, 8, GREEN);
    uint32_t mask = qxl_new_solid_image(q, 8, 8, 0xff000000);
    uint32_t st = qxl_new_transform(q, &scale_half);
    uint32_t mt = qxl_new_transform(q, &scale_half);
    QXLDrawable d = composite_drawable(q, src, st, mask, mt);
    uint32_t off = qxl_new_drawable(q, &d);

    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_COMP_SRC, DRAW_FIELD(off, u.composite.src), src);
    set_count(b, REF_COMP_SRC, IMAGE_FIELD(src, bitmap.x), 4, 0x10000);
    set_target(b, REF_COMP_MASK, DRAW_FIELD(off, u.composite.mask), mask);
    set_count(b, REF_COMP_MASK, IMAGE_FIELD(mask, bitmap.y), 4, 0x10000);
    set_target(b, REF_SRC_TRANSFORM, DRAW_FIELD(off, u.composite.src_transform),
               st);
    set_target(b, REF_MASK_TRANSFORM,
               DRAW_FIELD(off, u.composite.mask_transform), mt);
}

/* A QUIC stream header (magic, version, RGB32, width, height), no data. */
static void quic_header(uint32_t *words, uint32_t width, uint32_t height)
{
    words[0] = 0x43495551;      /* "QUIC" */
    words[1] = 0;
    words[2] = 4;               /* QUIC_IMAGE_TYPE_RGB32 */
    words[3] = width;
    words[4] = height;
}

/* COPY of a QUIC image whose stream is in two chunks (never rendered). */
static void build_copy_quic(QXLDev *q, Built *b)
{
    uint32_t words[64] = { 0 };
    uint32_t chunks[2], img, off;
    QXLDrawable d;

    quic_header(words, 16, 16);
    img = qxl_new_quic_image(q, 16, 16, words, sizeof(words), 2, chunks);
    d = copy_drawable(q, img, 8, 8);
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_QUIC, DRAW_FIELD(off, u.copy.src_bitmap), img);
    set_chunks(b, REF_QUIC, chunks, 2);
    set_count(b, REF_QUIC, IMAGE_FIELD(img, quic.data_size), 4, 0xfffffff0);
}

/* STROKE of a styled path in two chunks. */
static void build_stroke(QXLDev *q, Built *b)
{
    const QXLPoint pts[] = { { 4, 32 }, { 30, 32 }, { 60, 32 } };
    const QXLFIXED dashes[] = { 4 << 4, 4 << 4, 4 << 4, 4 << 4 };
    uint32_t chunks[2], path, style, off;
    QXLDrawable d = stroke_drawable(q);

    path = qxl_new_path(q, pts, ARRAY_SIZE(pts), 2, chunks);
    style = stroke_style(q, &d, dashes, ARRAY_SIZE(dashes));
    d.u.stroke.path = qxl_phys(q, path);
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_PATH, DRAW_FIELD(off, u.stroke.path), path);
    set_chunks(b, REF_PATH, chunks, 2);
    set_count(b, REF_PATH, path + offsetof(QXLPath, data_size), 4,
              0xfffffff0);
    set_target(b, REF_STYLE, DRAW_FIELD(off, u.stroke.attr.style), style);
}

/* TEXT of three A1 glyphs in three chunks. */
static void build_text(QXLDev *q, Built *b)
{
    uint32_t chunks[3], str, off;
    QXLDrawable d;

    str = new_string(q, 3, 3, chunks);
    d = text_drawable(q, str);
    off = qxl_new_drawable(q, &d);
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_DRAW, off);
    set_target(b, REF_STRING, DRAW_FIELD(off, u.text.str), str);
    set_chunks(b, REF_STRING, chunks, 3);
    /* the glyph count */
    set_count(b, REF_STRING, str + offsetof(QXLString, length), 2, 0xffff);
}

/* Cursor SET of a 32x32 shape (4 KiB of pixels) in @nchunks chunks. */
static void cursor_set(QXLDev *q, Built *b, int nchunks)
{
    g_autofree uint32_t *chunks = g_new(uint32_t, nchunks);
    uint32_t shape, off;
    QXLCursorCmd c = {
        .type = QXL_CURSOR_SET,
        .u.set.visible = 1,
    };

    shape = qxl_new_cursor_shape_chunked(q, 32, 32, 0xff00ff00, nchunks,
                                         chunks);
    c.u.set.shape = qxl_phys(q, shape);
    off = qxl_new_cursor_cmd(q, &c);
    set_cmd(q, b, QXL_RING_CURSOR, QXL_CMD_CURSOR, off);
    set_target(b, REF_SHAPE, off + offsetof(QXLCursorCmd, u.set.shape),
               shape);
    set_chunks(b, REF_SHAPE, chunks, nchunks);
    /* width and height 0xffff */
    set_count(b, REF_SHAPE, shape + offsetof(QXLCursor, header.width), 4,
              0xffffffff);
}

static void build_cursor_set(QXLDev *q, Built *b)
{
    cursor_set(q, b, 3);
}

static void build_surface_create(QXLDev *q, Built *b)
{
    uint32_t off = qxl_new_surface_create(q, 1, 16, 16);
    uint32_t field = off + offsetof(QXLSurfaceCmd, u.surface_create.data);

    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_SURFACE, off);
    set_target(b, REF_SURFACE_DATA, field,
               qxl_bar0_readq(q, field) & 0xffffffffffffULL);
    set_count(b, REF_SURFACE_DATA,
              off + offsetof(QXLSurfaceCmd, u.surface_create.height), 4,
              0x7fffffff);
}

static void build_update(QXLDev *q, Built *b)
{
    set_cmd(q, b, QXL_RING_CMD, QXL_CMD_UPDATE,
            qxl_new_update_cmd(q, 0, &rect_all));
}

typedef struct Builder {
    const char *name;
    void (*build)(QXLDev *q, Built *b);
} Builder;

static const Builder builders[] = {
    { "fill-clip", build_fill_clip },
    { "copy-direct", build_copy_direct },
    { "copy-chunked", build_copy_chunked },
    { "copy-8bit", build_copy_8bit },
    { "fill-pattern", build_fill_pattern },
    { "mask", build_mask },
    { "composite", build_composite },
    { "stroke", build_stroke },
    { "text", build_text },
    { "cursor-set", build_cursor_set },
    { "surface-create", build_surface_create },
    { "update", build_update },
};

/* Kinds of breakage; which apply to a target is in its row. */
typedef enum Corruption {
    C_SLOT,             /* pointer into slot 9 (there are 8) */
    C_GEN,              /* pointer with generation bits set */
    C_PAST,             /* pointer past the end of its slot */
    C_STRADDLE,         /* pointer whose object runs past the slot end */
    C_LOOP,             /* the last chunk's next_chunk back to the first */
    C_SHORT,            /* a chunk holds less than the total says */
    C_LONG,             /* a chunk holds more than the total says */
    C_NEXT_SLOT,        /* the first chunk's next_chunk: slot 9 */
    C_NEXT_GEN,         /* ... generation bits set */
    C_NEXT_PAST,        /* ... past the slot end */
    C_HUGE,             /* a size or count far too large */
    C__MAX,
} Corruption;

static const char *const corruption_names[C__MAX] = {
    [C_SLOT] = "slot", [C_GEN] = "generation", [C_PAST] = "past-end",
    [C_STRADDLE] = "straddle", [C_LOOP] = "chunk-loop",
    [C_SHORT] = "chunks-short", [C_LONG] = "chunks-long",
    [C_NEXT_SLOT] = "next-chunk-slot", [C_NEXT_GEN] = "next-chunk-generation",
    [C_NEXT_PAST] = "next-chunk-past-end", [C_HUGE] = "huge",
};

#define PTR_BAD     (1u << C_SLOT | 1u << C_GEN | 1u << C_PAST | \
                     1u << C_STRADDLE)
#define CHUNKS_BAD  (1u << C_LOOP | 1u << C_SHORT | 1u << C_LONG | \
                     1u << C_NEXT_SLOT | 1u << C_NEXT_GEN | 1u << C_NEXT_PAST)
#define HUGE_BAD    (1u << C_HUGE)

typedef struct TargetRow {
    const char *name;
    void (*build)(QXLDev *q, Built *b);
    Ref ref;
    uint32_t corruptions;
} TargetRow;

static const TargetRow target_rows[] = {
    { "drawable", build_fill_clip, REF_CMD, PTR_BAD },
    { "clip-rects", build_fill_clip, REF_CLIP, PTR_BAD | CHUNKS_BAD |
                                               HUGE_BAD },
    { "src-bitmap", build_copy_direct, REF_SRC, PTR_BAD | HUGE_BAD },
    { "bitmap-data", build_copy_direct, REF_BITMAP_DATA, PTR_BAD | HUGE_BAD },
    { "bitmap-chunks", build_copy_chunked, REF_BITMAP_CHUNKS,
      PTR_BAD | CHUNKS_BAD | HUGE_BAD },
    { "palette", build_copy_8bit, REF_PALETTE, PTR_BAD | HUGE_BAD },
    { "brush-pattern", build_fill_pattern, REF_PATTERN, PTR_BAD | HUGE_BAD },
    { "mask", build_mask, REF_MASK, PTR_BAD | HUGE_BAD },
    { "composite-src", build_composite, REF_COMP_SRC, PTR_BAD | HUGE_BAD },
    { "composite-mask", build_composite, REF_COMP_MASK, PTR_BAD | HUGE_BAD },
    { "src-transform", build_composite, REF_SRC_TRANSFORM, PTR_BAD },
    { "mask-transform", build_composite, REF_MASK_TRANSFORM, PTR_BAD },
    { "quic", build_copy_quic, REF_QUIC, PTR_BAD | CHUNKS_BAD | HUGE_BAD },
    { "path", build_stroke, REF_PATH, PTR_BAD | CHUNKS_BAD | HUGE_BAD },
    { "line-style", build_stroke, REF_STYLE, PTR_BAD },
    { "string", build_text, REF_STRING, PTR_BAD | CHUNKS_BAD | HUGE_BAD },
    { "cursor-cmd", build_cursor_set, REF_CMD, PTR_BAD },
    { "cursor-shape", build_cursor_set, REF_SHAPE,
      PTR_BAD | CHUNKS_BAD | HUGE_BAD },
    { "surface-cmd", build_surface_create, REF_CMD, PTR_BAD },
    { "surface-data", build_surface_create, REF_SURFACE_DATA,
      PTR_BAD | HUGE_BAD },
    { "update-cmd", build_update, REF_CMD, PTR_BAD },
};

typedef struct BadCase {
    const TargetRow *row;
    Corruption how;
} BadCase;

/* The pointer @how makes of one to @target. */
static uint64_t bad_pointer(QXLDev *q, Corruption how, uint32_t target)
{
    switch (how) {
    case C_SLOT:
    case C_NEXT_SLOT:
        return qxl_phys_slot(9, target);
    case C_GEN:
    case C_NEXT_GEN:
        return qxl_phys(q, target) | 1ULL << 48;
    case C_PAST:
    case C_NEXT_PAST:
        return qxl_phys(q, q->ram_size + 4096);
    case C_STRADDLE:
        /* Every object pointed to is larger than 8 bytes. */
        return qxl_phys(q, q->ram_size - 8);
    default:
        g_assert_not_reached();
    }
}

static void write_field(QXLDev *q, Built *b, uint32_t field, uint64_t val)
{
    if (field) {
        qxl_bar0_writeq(q, field, val);
    } else {
        b->phys = val;
    }
}

static void corrupt(QXLDev *q, Built *b, Ref ref, Corruption how)
{
    Target *t = &b->t[ref];
    /* Targets without a chunk list have no first or last chunk. */
    uint32_t first = t->nchunks ? t->chunks[0] : 0;
    uint32_t last = t->nchunks ? t->chunks[t->nchunks - 1] : 0;
    uint32_t size;

    switch (how) {
    case C_SLOT:
    case C_GEN:
    case C_PAST:
    case C_STRADDLE:
        g_assert(t->field || ref == REF_CMD);
        write_field(q, b, t->field, bad_pointer(q, how, t->target));
        break;
    case C_LOOP:
        g_assert_cmpint(t->nchunks, >=, 2);
        qxl_bar0_writeq(q, last + offsetof(QXLDataChunk, next_chunk),
                        qxl_phys(q, first));
        break;
    case C_SHORT:
        size = qxl_bar0_readl(q, first + offsetof(QXLDataChunk, data_size));
        qxl_bar0_writel(q, first + offsetof(QXLDataChunk, data_size),
                        size - 4);
        break;
    case C_LONG:
        size = qxl_bar0_readl(q, last + offsetof(QXLDataChunk, data_size));
        qxl_bar0_writel(q, last + offsetof(QXLDataChunk, data_size),
                        size + 4);
        break;
    case C_NEXT_SLOT:
    case C_NEXT_GEN:
    case C_NEXT_PAST:
        g_assert_cmpint(t->nchunks, >=, 2);
        qxl_bar0_writeq(q, first + offsetof(QXLDataChunk, next_chunk),
                        bad_pointer(q, how, t->chunks[1]));
        break;
    case C_HUGE:
        g_assert(t->count);
        if (t->count_size == 2) {
            qtest_writew(q->qts, q->ram_addr + t->count, t->huge);
        } else {
            qxl_bar0_writel(q, t->count, t->huge);
        }
        break;
    default:
        g_assert_not_reached();
    }
}

static void push_built(QXLDev *q, const Built *b)
{
    qxl_push(q, b->ring, b->type, b->phys);
}

static void run_bad_case(const void *data)
{
    const BadCase *c = data;
    QXLDev *q = start();
    Built b = { 0 };

    c->row->build(q, &b);
    corrupt(q, &b, c->row->ref, c->how);
    push_built(q, &b);
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* The unbroken commands are taken (QUIC is not rendered: see spice-abort). */
static void run_valid_case(const void *data)
{
    const Builder *bd = data;
    QXLDev *q = start();
    Built b = { 0 };

    bd->build(q, &b);
    push_built(q, &b);
    rendered(q);
    qxl_reset(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ==== spice-abort/: what spice-server 0.15 aborts on ==================== */

/* TEXT whose string has none of the A1, A4, A8 flags. */
static void abort_text_no_raster(QXLDev *q)
{
    uint32_t str = new_string(q, 2, 1, NULL);
    QXLDrawable d = text_drawable(q, str);

    qtest_writew(q->qts, q->ram_addr + str + offsetof(QXLString, flags),
                 SPICE_STRING_FLAGS_RASTER_TOP_DOWN);
    draw(q, &d);
}

/* TEXT of no glyphs: canvas_get_str_mask() asserts length > 0. */
static void abort_text_empty(QXLDev *q)
{
    QXLDrawable d = text_drawable(q, new_string(q, 0, 1, NULL));

    draw(q, &d);
}

/* TEXT with a background whose fore_mode is not PUT: the canvas asserts. */
static void abort_text_back_mode(QXLDev *q)
{
    QXLDrawable d = text_drawable(q, new_string(q, 2, 1, NULL));

    d.u.text.back_area = rect(8, 20, 40, 28);
    d.u.text.fore_mode = SPICE_ROPD_OP_OR;
    draw(q, &d);
}

/*
 * TEXT whose two glyphs lie 2^32 pixels apart: the canvas' mask of the
 * string cannot be allocated (its width overflows), which aborts.
 */
static void abort_text_glyphs_far_apart(QXLDev *q)
{
    uint32_t str = new_string(q, 2, 1, NULL);
    uint32_t first = str + sizeof(QXLString);
    uint32_t second = first + sizeof(QXLRasterGlyph) + 8;
    QXLDrawable d = text_drawable(q, str);

    qxl_bar0_writel(q, first + offsetof(QXLRasterGlyph, render_pos.x),
                    -0x7ffffff0);
    qxl_bar0_writel(q, second + offsetof(QXLRasterGlyph, render_pos.x),
                    0x7ffffff0);
    draw(q, &d);
}

static void update_cmd(QXLDev *q, QXLRect r)
{
    qxl_push(q, QXL_RING_CMD, QXL_CMD_UPDATE,
             qxl_phys(q, qxl_new_update_cmd(q, 0, &r)));
}

static void abort_update_empty(QXLDev *q)
{
    update_cmd(q, rect(10, 10, 10, 20));
}

static void abort_update_negative(QXLDev *q)
{
    update_cmd(q, rect(-8, -8, 16, 16));
}

static void abort_update_outside(QXLDev *q)
{
    update_cmd(q, rect(0, 0, W + 100, H + 100));
}

static void abort_update_no_surface(QXLDev *q)
{
    qxl_push(q, QXL_RING_CMD, QXL_CMD_UPDATE,
             qxl_phys(q, qxl_new_update_cmd(q, 7, &rect_all)));
}

/* A path segment says 100 points, the path holds 3. */
static void abort_stroke_count(QXLDev *q)
{
    const QXLPoint pts[] = { { 4, 32 }, { 30, 32 }, { 60, 32 } };
    uint32_t path = qxl_new_path(q, pts, ARRAY_SIZE(pts), 1, NULL);
    QXLDrawable d = stroke_drawable(q);

    qxl_bar0_writel(q, path + sizeof(QXLPath) + offsetof(QXLPathSeg, count),
                    100);
    d.u.stroke.path = qxl_phys(q, path);
    draw(q, &d);
}

/* FILL whose pattern image starts 16 bytes before the slot's end. */
static void abort_fill_pattern_past_slot(QXLDev *q)
{
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &rect_all);

    d.u.fill.brush = qxl_pattern_brush(q, q->ram_size - 16, 0, 0);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    draw(q, &d);
}

static void self_bitmap(QXLDev *q, QXLRect bbox, QXLRect area)
{
    QXLDrawable d = rop3_drawable(q, bbox, 0,
                                  rect(0, 0, area.right - area.left,
                                       area.bottom - area.top),
                                  ROP3_DPSXX);

    d.self_bitmap = 1;
    d.self_bitmap_area = area;
    draw(q, &d);
}

static void abort_self_bitmap_past_surface(QXLDev *q)
{
    self_bitmap(q, rect(32, 32, 64, 64), rect(48, 48, 96, 96));
}

static void abort_self_bitmap_outside_bbox(QXLDev *q)
{
    self_bitmap(q, rect(8, 8, 24, 24), rect(0, 0, 16, 16));
}

static void abort_self_bitmap_negative(QXLDev *q)
{
    self_bitmap(q, rect(8, 8, 24, 24), rect(-8, -8, 16, 16));
}

/* COPY from surface 5, which was never created. */
static void abort_surface_image_missing(QXLDev *q)
{
    QXLDrawable d = copy_drawable(q, qxl_new_surface_image(q, 5, 16, 16),
                                  8, 8);

    draw_reading_surface(q, &d, 5);
}

/* FILL through a 32 bpp mask. */
static void abort_mask_not_1bpp(QXLDev *q)
{
    QXLDrawable d = mask_fill_drawable(q, qxl_new_solid_image(q, 16, 16, 0));

    draw(q, &d);
}

/* A surface image as a mask (spice-server takes only bitmaps there). */
static void abort_mask_surface(QXLDev *q)
{
    QXLDrawable d;

    create_surface(q, 1);
    d = mask_fill_drawable(q, qxl_new_surface_image(q, 1, 16, 16));
    draw(q, &d);
}

/*
 * QUIC streams the decoder refuses: spice-server's canvas then aborts
 * (canvas_get_image_internal: surface != NULL).
 */
static void quic_copy(QXLDev *q, const uint32_t *words, uint32_t len)
{
    QXLDrawable d = copy_drawable(q, qxl_new_quic_image(q, 16, 16, words,
                                                        len, 1, NULL),
                                  8, 8);

    draw(q, &d);
}

static void abort_quic_garbage(QXLDev *q)
{
    uint32_t words[64];

    memset(words, 0x5a, sizeof(words));
    quic_copy(q, words, sizeof(words));
}

/* A well-formed header of 8x8 in an image that says 16x16. */
static void abort_quic_size_mismatch(QXLDev *q)
{
    uint32_t words[64] = { 0 };

    quic_header(words, 8, 8);
    quic_copy(q, words, sizeof(words));
}

/* A scaling COPY with a scale mode pixman is not given: the canvas asserts. */
static void abort_copy_scale_mode(QXLDev *q)
{
    QXLDrawable d = copy_drawable(q, new_gradient_image(q, 0, NULL), 8, 8);

    d.u.copy.src_area = rect(0, 0, 8, 8);
    d.u.copy.scale_mode = 7;
    draw(q, &d);
}

/* ROP3 codes spice-server's canvas has no handler for. */
static void rop3_code(QXLDev *q, uint8_t code)
{
    QXLDrawable d = rop3_drawable(q, rect(8, 8, 24, 24),
                                  new_gradient_image(q, 0, NULL),
                                  rect(0, 0, 16, 16), code);

    draw(q, &d);
}

static void abort_rop3_srccopy(QXLDev *q)
{
    rop3_code(q, ROP3_SRCCOPY);
}

static void abort_rop3_blackness(QXLDev *q)
{
    rop3_code(q, ROP3_BLACKNESS);
}

/* ROP3 whose source area lies outside its 16x16 source: "bad src bitmap". */
static void abort_rop3_src_area(QXLDev *q)
{
    QXLDrawable d = rop3_drawable(q, rect(8, 8, 24, 24),
                                  new_gradient_image(q, 0, NULL),
                                  rect(100, 0, 116, 16), ROP3_DPSXX);

    draw(q, &d);
}

/* Secondary surface @id of 16x16 in 16 bpp (5-6-5). */
static void create_surface_16bpp(QXLDev *q, uint32_t id)
{
    uint32_t c = qxl_new_surface_create(q, id, 16, 16);

    qxl_bar0_writel(q, c + offsetof(QXLSurfaceCmd, u.surface_create.format),
                    SPICE_SURFACE_FMT_16_565);
    qxl_bar0_writel(q, c + offsetof(QXLSurfaceCmd, u.surface_create.stride),
                    16 * 2);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, c));
}

/*
 * COPY with a raster op from a 16 bpp surface onto the 32 bpp primary:
 * spice_pixman_blit_rop() asserts that both have the same depth.
 */
static void abort_copy_rop_16bpp_surface(QXLDev *q)
{
    QXLDrawable d;

    create_surface_16bpp(q, 1);
    d = copy_drawable(q, qxl_new_surface_image(q, 1, 16, 16), 8, 8);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_XOR;
    draw_reading_surface(q, &d, 1);
}

/* ROP3 from a 16 bpp surface: do_rop3_with_color() asserts the same. */
static void abort_rop3_16bpp_surface(QXLDev *q)
{
    QXLDrawable d;

    create_surface_16bpp(q, 1);
    d = rop3_drawable(q, rect(8, 8, 24, 24),
                      qxl_new_surface_image(q, 1, 16, 16),
                      rect(0, 0, 16, 16), ROP3_DPSXX);
    draw_reading_surface(q, &d, 1);
}

/* FILL with a raster op and a 16 bpp surface as its pattern: the same. */
static void abort_pattern_rop_16bpp_surface(QXLDev *q)
{
    QXLRect r = rect(8, 8, 24, 24);
    QXLDrawable d = qxl_drawable_init(0, QXL_DRAW_FILL, &r);

    create_surface_16bpp(q, 1);
    d.u.fill.brush = qxl_pattern_brush(q, qxl_new_surface_image(q, 1, 16, 16),
                                       0, 0);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
    draw_reading_surface(q, &d, 1);
}

/*
 * COPY of an 8 bpp bitmap onto a 16 bpp (5-6-5) surface: the canvas has
 * no palette conversion to 5-6-5 ("Unsupported palette format").
 */
static void abort_copy_8bit_onto_565(QXLDev *q)
{
    const uint32_t ents[] = { RED, GREEN };
    uint8_t idx[16 * 16] = { 0 };
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_8BIT,
        .width = 16, .height = 16,
        .pixels = idx,
        .palette = qxl_new_palette(q, ents, ARRAY_SIZE(ents)),
    };
    QXLDrawable d = copy_drawable(q, qxl_new_bitmap_image(q, &b, NULL), 0, 0);

    create_surface_16bpp(q, 1);
    d.surface_id = 1;
    draw(q, &d);
    qxl_update_area(q, 1, &(QXLRect) { .bottom = 16, .right = 16 });
}

/* A styled STROKE whose dashes are all of length 0. */
static void abort_stroke_zero_dashes(QXLDev *q)
{
    const QXLFIXED dashes[] = { 0, 0, 0, 0 };
    QXLDrawable d = stroke_drawable(q);

    stroke_style(q, &d, dashes, ARRAY_SIZE(dashes));
    draw(q, &d);
}

/* A second create of a live surface. */
static void abort_surface_create_twice(QXLDev *q)
{
    create_surface(q, 3);
    create_surface(q, 3);
}

/* A 1 bpp bitmap (of a palette) used as a source with no palette. */
static void abort_bitmap_no_palette(QXLDev *q)
{
    uint8_t idx[16 * 16] = { 0 };
    QXLBitmapSpec b = {
        .format = SPICE_BITMAP_FMT_8BIT,
        .width = 16, .height = 16,
        .pixels = idx,
    };
    QXLDrawable d = copy_drawable(q, qxl_new_bitmap_image(q, &b, NULL), 8, 8);

    draw(q, &d);
}

static const DrawCase abort_cases[] = {
    { "text-no-raster-flag", abort_text_no_raster },
    { "text-empty", abort_text_empty },
    { "text-back-area-fore-mode", abort_text_back_mode },
    { "text-glyphs-far-apart", abort_text_glyphs_far_apart },
    { "update-empty", abort_update_empty },
    { "update-negative", abort_update_negative },
    { "update-outside", abort_update_outside },
    { "update-no-surface", abort_update_no_surface },
    { "stroke-count-past-data", abort_stroke_count },
    { "fill-pattern-past-slot", abort_fill_pattern_past_slot },
    { "self-bitmap-past-surface", abort_self_bitmap_past_surface },
    { "self-bitmap-outside-bbox", abort_self_bitmap_outside_bbox },
    { "self-bitmap-negative", abort_self_bitmap_negative },
    { "surface-image-missing", abort_surface_image_missing },
    { "mask-not-1bpp", abort_mask_not_1bpp },
    { "mask-surface", abort_mask_surface },
    { "quic-garbage", abort_quic_garbage },
    { "quic-size-mismatch", abort_quic_size_mismatch },
    { "copy-scale-mode", abort_copy_scale_mode },
    { "rop3-srccopy", abort_rop3_srccopy },
    { "rop3-blackness", abort_rop3_blackness },
    { "rop3-src-area-outside", abort_rop3_src_area },
    { "copy-rop-16bpp-surface", abort_copy_rop_16bpp_surface },
    { "pattern-rop-16bpp-surface", abort_pattern_rop_16bpp_surface },
    { "rop3-16bpp-surface", abort_rop3_16bpp_surface },
    { "stroke-zero-dashes", abort_stroke_zero_dashes },
    { "copy-8bit-onto-565", abort_copy_8bit_onto_565 },
    { "surface-create-twice", abort_surface_create_twice },
    { "bitmap-no-palette", abort_bitmap_no_palette },
};

/*
 * Render what was taken with UPDATE_AREA_ASYNC, bounded: false if the
 * worker never completes it (it hangs in spice-server; a synchronous
 * UPDATE_AREA would hang the vCPU thread with it).  Nothing is done after
 * a guest bug, when no port but RESET acts: ERROR ends the wait.  IO_CMD
 * is not acknowledged: clearing a bit of int_pending from here could
 * clear an ERROR the worker raises at the same time.
 */
static bool render_bounded(QXLDev *q)
{
    const uint32_t done = QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR;
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    g_assert_cmphex(qxl_int_pending(q) & QXL_INTERRUPT_IO_CMD, ==, 0);
    qxl_set_update_area(q, 0, &rect_all);
    qxl_io(q, QXL_IO_UPDATE_AREA_ASYNC, 0);
    while (!(qxl_int_pending(q) & done)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(1000);
    }
    return true;
}

static void run_abort_case(const void *data)
{
    const DrawCase *c = data;
    QXLDev *q = start();

    c->fn(q);
    /* Render what was taken: some aborts happen only then. */
    if (!render_bounded(q)) {
        g_printerr("UPDATE_AREA never completes: spice-server's worker "
                   "hangs on what the device took\n");
        /* QEMU's exit would wait for the worker too. */
        kill(qtest_pid(q->qts), SIGKILL);
        g_assert_not_reached();
    }
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ==== race/: the guest rewrites a command while the device reads it ===== */

/*
 * Each round pushes one valid command, kicks the device, waits 0 to
 * RACE_DELAYS - 1 qtest round trips and rewrites one pointer or count of
 * it (or the ring entry) with a bad value; or, every other sweep, pushes
 * it broken and repairs it after the kick.  The command's chunk lists are
 * long (up to 256 chunks), so the device may still be walking them when
 * the rewrite lands.  Then the command must have been either taken as it
 * was built (the pixels say so) or refused with ERROR (then RESET and go
 * on); the round ends with the command valid again.
 */
#define RACE_ROUNDS     1200
#define RACE_DELAYS     6

typedef struct RaceCorruption {
    Ref ref;
    Corruption how;
} RaceCorruption;

typedef struct RaceCase {
    const char *name;
    void (*build)(QXLDev *q, Built *b);
    /* Give the command's drawing @color (may be NULL). */
    void (*paint)(QXLDev *q, const Built *b, uint32_t color);
    /* Check the pixels of a command taken: drawn as built (may be NULL). */
    void (*check)(QXLDev *q, uint32_t color);
    RaceCorruption rewrites[8];
} RaceCase;

/* FILL in four clip rects whose 64 bytes are in 64 chunks. */
static void race_build_clip(QXLDev *q, Built *b)
{
    fill_clip(q, b, 64);
}

static void race_paint_clip(QXLDev *q, const Built *b, uint32_t color)
{
    qxl_bar0_writel(q, DRAW_FIELD(b->t[REF_CMD].target, u.fill.brush.u.color),
                    color);
}

static void race_check_clip(QXLDev *q, uint32_t color)
{
    assert_pixel(q, 4, 4, color);
    assert_pixel(q, 44, 44, color);
    assert_pixel(q, 60, 2, color);
    /* Outside the clip: never this round's colour. */
    g_assert_cmphex(pixel(q, 30, 30), !=, color);
    g_assert_cmphex(pixel(q, 10, 10), !=, color);
}

/*
 * COPY of a 16x16 8 bpp bitmap of index 0 whose 256 bytes are in 128
 * chunks; the round's colour is palette entry 0.
 */
static void race_build_copy(QXLDev *q, Built *b)
{
    copy_8bit(q, b, 128);
}

static void race_paint_copy(QXLDev *q, const Built *b, uint32_t color)
{
    qxl_bar0_writel(q, b->t[REF_PALETTE].target + sizeof(QXLPalette),
                    color);
}

static void race_check_copy(QXLDev *q, uint32_t color)
{
    assert_pixel(q, 8, 8, color);
    assert_pixel(q, 15, 15, color);
    assert_pixel(q, 23, 23, color);
    g_assert_cmphex(pixel(q, 30, 30), !=, color);
}

/* Cursor SET of a 32x32 shape whose 4 KiB are in 256 chunks. */
static void race_build_cursor(QXLDev *q, Built *b)
{
    cursor_set(q, b, 256);
}

static const RaceCase race_cases[] = {
    { "clip-rects", race_build_clip, race_paint_clip, race_check_clip, {
        { REF_CLIP, C_SLOT }, { REF_CLIP, C_HUGE }, { REF_CLIP, C_LONG },
        { REF_CLIP, C_NEXT_PAST }, { REF_CLIP, C_LOOP },
        { REF_CLIP, C_SHORT }, { REF_CMD, C_GEN } } },
    { "copy-chunked", race_build_copy, race_paint_copy, race_check_copy, {
        { REF_SRC, C_PAST }, { REF_SRC, C_HUGE }, { REF_PALETTE, C_HUGE },
        { REF_BITMAP_CHUNKS, C_SLOT }, { REF_BITMAP_CHUNKS, C_LONG },
        { REF_BITMAP_CHUNKS, C_NEXT_GEN }, { REF_BITMAP_CHUNKS, C_LOOP },
        { REF_CMD, C_SLOT } } },
    { "cursor-set", race_build_cursor, NULL, NULL, {
        { REF_SHAPE, C_SLOT }, { REF_SHAPE, C_HUGE }, { REF_SHAPE, C_LONG },
        { REF_SHAPE, C_NEXT_SLOT }, { REF_SHAPE, C_LOOP },
        { REF_SHAPE, C_SHORT }, { REF_CMD, C_PAST } } },
};

/* The BAR 0 offset that corrupt() writes, or 0 for the ring entry. */
static uint32_t corrupt_offset(const Built *b, Ref ref, Corruption how)
{
    const Target *t = &b->t[ref];

    switch (how) {
    case C_SLOT:
    case C_GEN:
    case C_PAST:
    case C_STRADDLE:
        return t->field;
    case C_LOOP:
    case C_LONG:
        return t->chunks[t->nchunks - 1] +
               (how == C_LOOP ? offsetof(QXLDataChunk, next_chunk)
                              : offsetof(QXLDataChunk, data_size));
    case C_SHORT:
        return t->chunks[0] + offsetof(QXLDataChunk, data_size);
    case C_NEXT_SLOT:
    case C_NEXT_GEN:
    case C_NEXT_PAST:
        return t->chunks[0] + offsetof(QXLDataChunk, next_chunk);
    case C_HUGE:
        return t->count;
    default:
        g_assert_not_reached();
    }
}

/* Wait until @ring is empty (true) or ERROR is raised (false). */
static bool taken_or_refused(QXLDev *q, QXLRingKind ring)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    for (int i = 0;; i++) {
        if (qxl_int_pending(q) & QXL_INTERRUPT_ERROR) {
            return false;
        }
        if (!qxl_ring_used(q, ring)) {
            /*
             * cons moves before the command is read.  The worker handles
             * UPDATE_AREA once it is done with the command: then ERROR is
             * raised or never will be for it.
             */
            qxl_update_area(q, 0, &rect_all);
            return !(qxl_int_pending(q) & QXL_INTERRUPT_ERROR);
        }
        if (g_get_monotonic_time() > end) {
            g_printerr("%s ring not taken, no ERROR either\n",
                       qxl_ring_name(ring));
            g_assert_not_reached();
        }
        if (i > 16) {
            g_usleep(100);
        }
    }
}

/*
 * Break (@bad) or repair the field @rw names; the ring entry is in @slot.
 * Repairs of other fields write back what corrupt_offset() held.
 */
static void race_rewrite(QXLDev *q, Built *b, const RaceCorruption *rw,
                         uint32_t slot, bool bad)
{
    if (rw->ref == REF_CMD) {
        qxl_bar0_writeq(q, slot + offsetof(QXLCommand, data),
                        bad ? bad_pointer(q, rw->how, b->t[REF_CMD].target)
                            : b->phys);
    } else {
        g_assert_true(bad);
        corrupt(q, b, rw->ref, rw->how);
    }
}

static void run_race_case(const void *data)
{
    const RaceCase *c = data;
    QXLDev *q = start();
    int nrewrites = 0, taken = 0, refused = 0;
    Built b = { 0 };

    while (nrewrites < ARRAY_SIZE(c->rewrites) &&
           (c->rewrites[nrewrites].ref || c->rewrites[nrewrites].how)) {
        nrewrites++;
    }
    c->build(q, &b);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        const RaceCorruption *rw = &c->rewrites[round % nrewrites];
        int delay = (round / nrewrites) % RACE_DELAYS;
        bool reverse = (round / nrewrites / RACE_DELAYS) % 2;
        uint32_t color = (0x010101 * (1 + round % 200)) ^ 0x00a000;
        uint32_t slot, off = 0;
        uint64_t saved = 0;

        if (c->paint) {
            c->paint(q, &b, color);
        }
        slot = qxl_ring_next_slot(q, b.ring);
        if (rw->ref != REF_CMD) {
            off = corrupt_offset(&b, rw->ref, rw->how);
            saved = qxl_bar0_readq(q, off);
        }
        if (reverse) {
            race_rewrite(q, &b, rw, slot, true);
        }
        qxl_push_raw(q, b.ring, b.type, b.phys);
        qxl_io(q, b.ring == QXL_RING_CMD ? QXL_IO_NOTIFY_CMD
                                         : QXL_IO_NOTIFY_CURSOR, 0);
        for (int i = 0; i < delay; i++) {
            qxl_int_pending(q);
        }
        if (reverse) {
            /* Repair it: the device may see either. */
            if (off) {
                qxl_bar0_writeq(q, off, saved);
            } else {
                race_rewrite(q, &b, rw, slot, false);
            }
        } else {
            race_rewrite(q, &b, rw, slot, true);
        }
        if (!taken_or_refused(q, b.ring)) {
            refused++;
            qxl_assert_alive(q);
            qxl_reset(q);
            qxl_create_primary(q, W, H);
            /* The reset rewound the allocator: build it again. */
            memset(&b, 0, sizeof(b));
            c->build(q, &b);
            continue;
        }
        if (off) {
            qxl_bar0_writeq(q, off, saved);
        }
        taken++;
        if (c->check) {
            c->check(q, color);
        }
    }
    g_test_message("%s: %d rounds, %d taken as built, %d refused",
                   c->name, RACE_ROUNDS, taken, refused);
    qxl_assert_alive(q);
    /* The race went both ways. */
    g_assert_cmpint(taken, >, 0);
    g_assert_cmpint(refused, >, 0);
    qxl_reset(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* ==== budget: live snapshots within x-snapshot-budget-mb =============== */

#define BUDGET_MB       1
#define BUDGET_IMAGE    256     /* side of the 8 bpp images: 64 KiB each */

static uint64_t vm_rss_kib(QXLDev *q)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status",
                                            (int)qtest_pid(q->qts));
    g_autofree char *status = NULL;
    const char *line;

    g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
    line = strstr(status, "VmRSS:");
    g_assert_nonnull(line);
    return g_ascii_strtoull(line + strlen("VmRSS:"), NULL, 10);
}

/* CPU time QEMU used so far (all threads), in clock ticks. */
static uint64_t vm_cpu_ticks(QXLDev *q)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat",
                                            (int)qtest_pid(q->qts));
    g_autofree char *stat = NULL;
    g_auto(GStrv) fields = NULL;
    const char *after;

    g_assert_true(g_file_get_contents(path, &stat, NULL, NULL));
    /* Fields after the command name, which may hold spaces. */
    after = strrchr(stat, ')');
    g_assert_nonnull(after);
    fields = g_strsplit(after + 2, " ", 0);
    g_assert_cmpuint(g_strv_length(fields), >, 13);
    /* utime and stime are fields 14 and 15 of the whole line. */
    return g_ascii_strtoull(fields[11], NULL, 10) +
           g_ascii_strtoull(fields[12], NULL, 10);
}

/*
 * spice-server keeps a drawable until it is rendered or covered by a later
 * one; with no client and no UPDATE_AREA, one-pixel COPYs to distinct
 * pixels are neither.  Each COPY's source is a 256x256 8 bpp image with a
 * palette, which the device copies whole into the snapshot (palette
 * indices are interpreted, so they are never shared with the guest): 64
 * KiB per command, so a 1 MiB budget is full after about 16 commands,
 * while spice-server alone would hold up to 1000 (its drawable limit),
 * 64 MiB.
 */
static void test_budget(void)
{
    g_autofree char *dev = g_strdup_printf("qxl-vga,surfaces=%d,"
                                           "x-snapshot-budget-mb=%d",
                                           SURFACES, BUDGET_MB);
    QXLDev *q = qxl_start_native(dev);
    const uint64_t budget = BUDGET_MB * MiB;
    /* One command: its image, palette and drawable, in 4 KiB blocks. */
    const uint64_t one = BUDGET_IMAGE * BUDGET_IMAGE + 16 * KiB;
    const uint32_t ents[] = { RED, GREEN, BLUE, WHITE };
    g_autofree uint8_t *idx = g_malloc(BUDGET_IMAGE * BUDGET_IMAGE);
    QXLBitmapSpec bm = {
        .format = SPICE_BITMAP_FMT_8BIT,
        .width = BUDGET_IMAGE, .height = BUDGET_IMAGE,
        .pixels = idx,
        .palette = qxl_new_palette(q, ents, ARRAY_SIZE(ents)),
    };
    uint32_t img, pushed = 0, i;
    uint64_t rss0, rss1, rss2, bytes, peak, cpu;
    gint64 end;

    g_assert_cmpuint(qxl_qom_get_int(q, "x-snapshot-budget"), ==, budget);
    for (i = 0; i < BUDGET_IMAGE * BUDGET_IMAGE; i++) {
        idx[i] = i % 4;
    }
    img = qxl_new_bitmap_image(q, &bm, NULL);
    rss0 = vm_rss_kib(q);

    /* Push until the ring stays full: the device stopped taking. */
    end = g_get_monotonic_time() + QXL_WAIT_US;
    while (g_get_monotonic_time() < end) {
        if (qxl_ring_used(q, QXL_RING_CMD) < QXL_COMMAND_RING_SIZE) {
            QXLDrawable d = copy_drawable(q, img, pushed % W,
                                          pushed / W % H);

            d.bbox = rect(pushed % W, pushed / W % H, pushed % W + 1,
                          pushed / W % H + 1);
            d.u.copy.src_area = rect(0, 0, 1, 1);
            qxl_push_draw(q, qxl_new_drawable(q, &d));
            pushed++;
            g_assert_cmpuint(pushed, <, 1000);
            end = g_get_monotonic_time() + 200 * 1000;
        } else {
            g_usleep(1000);
        }
    }
    bytes = qxl_qom_get_int(q, "x-snapshot-bytes");
    peak = qxl_qom_get_int(q, "x-snapshot-peak");
    rss1 = vm_rss_kib(q);
    g_test_message("pushed %u, ring %u, bytes %" PRIu64 ", peak %" PRIu64
                   ", RSS %" PRIu64 " -> %" PRIu64 " KiB", pushed,
                   qxl_ring_used(q, QXL_RING_CMD), bytes, peak, rss0, rss1);
    g_assert_cmpuint(qxl_ring_used(q, QXL_RING_CMD), ==,
                     QXL_COMMAND_RING_SIZE);
    g_assert_cmpuint(bytes, >=, budget);
    g_assert_cmpuint(peak, <=, budget + one);

    /*
     * While full, nothing more is taken, QEMU does not grow, and it waits
     * for releases rather than polling the ring: a worker that spins
     * never renders (and so never releases), and would hold UPDATE_AREA
     * below forever.
     */
    cpu = vm_cpu_ticks(q);
    g_usleep(500 * 1000);
    cpu = vm_cpu_ticks(q) - cpu;
    g_test_message("CPU while full: %" PRIu64 " of %ld ticks", cpu,
                   sysconf(_SC_CLK_TCK) / 2);
    g_assert_cmpuint(cpu, <, sysconf(_SC_CLK_TCK) / 10);
    g_assert_cmpuint(qxl_ring_used(q, QXL_RING_CMD), ==,
                     QXL_COMMAND_RING_SIZE);
    rss2 = vm_rss_kib(q);
    g_assert_cmpuint(rss2, <=, rss1 + 2048);
    /* Far below what spice-server would hold without the budget. */
    g_assert_cmpuint(rss2, <=, rss0 + 16 * 1024);
    qxl_assert_no_error(q);

    /*
     * Rendering releases the drawables: the device takes the rest.  The
     * async UPDATE_AREA, so that a worker that never completes it fails
     * the test instead of holding QEMU's vCPU thread.
     */
    end = g_get_monotonic_time() + QXL_WAIT_US;
    qxl_set_update_area(q, 0, &rect_all);
    while (qxl_ring_used(q, QXL_RING_CMD) && g_get_monotonic_time() < end) {
        if (!qxl_io_async(q, QXL_IO_UPDATE_AREA_ASYNC, 0)) {
            g_printerr("UPDATE_AREA with a full budget never completes "
                       "(ring %u, bytes %" PRIu64 ")\n",
                       qxl_ring_used(q, QXL_RING_CMD),
                       (uint64_t)qxl_qom_get_int(q, "x-snapshot-bytes"));
            /* Its exit would wait for the worker too. */
            kill(qtest_pid(q->qts), SIGKILL);
            g_assert_not_reached();
        }
    }
    g_assert_cmpuint(qxl_ring_used(q, QXL_RING_CMD), ==, 0);
    qxl_update_area(q, 0, &rect_all);
    g_assert_cmpuint(qxl_qom_get_int(q, "x-snapshot-peak"), <=,
                     budget + one);
    /* Each COPY is pixel (0, 0) of the image: index 0, red. */
    assert_pixel(q, 1, 0, RED);
    assert_pixel(q, (pushed - 1) % W, (pushed - 1) / W % H, RED);
    qxl_assert_no_error(q);
    qxl_stop(q);
}

int main(int argc, char **argv)
{
    int i, j;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(draw_cases); i++) {
        g_autofree char *path = g_strdup_printf("/qxl/command/draw/%s",
                                                draw_cases[i].name);
        qxl_test_add_data(path, &draw_cases[i], run_draw_case);
    }
    qxl_test_add("/qxl/command/draw/compat/rev1", test_compat_rev1);
    qxl_test_add("/qxl/command/draw/compat/rev2", test_compat_rev2);
    for (i = 0; i < ARRAY_SIZE(builders); i++) {
        g_autofree char *path = g_strdup_printf("/qxl/command/valid/%s",
                                                builders[i].name);
        qxl_test_add_data(path, &builders[i], run_valid_case);
    }
    for (i = 0; i < ARRAY_SIZE(target_rows); i++) {
        for (j = 0; j < C__MAX; j++) {
            BadCase *c;
            g_autofree char *path = NULL;

            if (!(target_rows[i].corruptions & 1u << j)) {
                continue;
            }
            /* Lives as long as the test binary, as the table does. */
            c = g_new(BadCase, 1);
            c->row = &target_rows[i];
            c->how = j;
            path = g_strdup_printf("/qxl/command/bad/%s/%s",
                                   target_rows[i].name, corruption_names[j]);
            qxl_test_add_data(path, c, run_bad_case);
        }
    }
    for (i = 0; i < ARRAY_SIZE(abort_cases); i++) {
        g_autofree char *path = g_strdup_printf("/qxl/command/spice-abort/%s",
                                                abort_cases[i].name);
        qxl_test_add_data(path, &abort_cases[i], run_abort_case);
    }
    for (i = 0; i < ARRAY_SIZE(race_cases); i++) {
        g_autofree char *path = g_strdup_printf("/qxl/command/race/%s",
                                                race_cases[i].name);
        qxl_test_add_data(path, &race_cases[i], run_race_case);
    }
    qxl_test_add("/qxl/command/budget", test_budget);
    return g_test_run();
}
