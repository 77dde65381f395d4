/*
 * xdraw: draws a known scene with core X11 requests, for
 * tests/integration/test_qxl_xorg.py.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * An override-redirect window at (0,0) of the root, WIN_W x WIN_H, on a
 * plain background; on it fills, a 32-bit XPutImage pattern, copies within
 * the window (one overlapping itself) and from a Pixmap, a 1-bit Pixmap
 * through XCopyPlane and as an opaque stipple, core-font text
 * (XDrawString, XDrawImageString), lines (width 0 and wider, solid,
 * on-off and double dashed; XDrawLine, XDrawLines, XDrawRectangle) and
 * what anti-aliased text and translucent images are made of, Render
 * composites: an ARGB image over the window, a solid colour through an A8
 * mask, A8 glyphs (XRenderCompositeString8); last a small marker.  The
 * geometry below is repeated in the test, which computes the picture it
 * must see; what depends on the font is printed.
 *
 * Output on stdout, one line each, starting with "XDRAW: ":
 *   visual <depth> <class> <red> <green> <blue>   the window's visual
 *   text <name> <x> <y> <advance> <ascent> <descent> <ink-left> <ink-right>
 *        <ink-ascent> <ink-descent> <width> <string>
 *   done <n>   the scene is drawn (n-th time: it is drawn again, from a
 *              cleared window, on every Expose) and the server has it
 * The program then stays, keeping the window mapped, until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xrender.h>

#define WIN_W 720
#define WIN_H 520

#define BG          0x203040
#define FILL1       0xc03020
#define FILL2       0x30d0a0
#define PIX_BG      0x8040c0
#define PIX_FILL    0xe0e0e0
#define PLANE_FG    0xf0f000
#define PLANE_BG    0x0000c0
#define STIP_FG     0x10a010
#define STIP_BG     0xa01010
#define TEXT_FG     0xffff00
#define ITEXT_FG    0x00ff80
#define ITEXT_BG    0x4000a0
#define LINE0       0xff4040
#define LINE_WIDE   0x40ff40
#define POLY0       0x4080ff
#define POLY3       0xffa0ff
#define RECT0       0xffffff
#define RECT5       0x00ffff
#define DASH0       0xffc000
#define DDASH_FG    0xff00ff
#define DDASH_BG    0x00c0c0
#define MARKER      0x12ab34
#define RENDER_BG   0x305070
#define MASK_SRC    0xffff8000  /* premultiplied ARGB */
#define GLYPH_SRC   0xff40e0c0

#define ARGB_W 64
#define ARGB_H 32
#define GLYPH_W 12
#define GLYPH_H 16
#define GLYPH_ADVANCE 14

#define IMG_W 64
#define IMG_H 48
#define PIXMAP_W 96
#define PIXMAP_H 64
#define BITMAP_W 48
#define BITMAP_H 32

static unsigned long pattern(int x, int y)
{
    return ((unsigned long)((x * 4) & 0xff) << 16) |
           ((unsigned long)((y * 5) & 0xff) << 8) |
           (unsigned long)(((x ^ y) * 3) & 0xff);
}

static int bit(int x, int y)
{
    return (x * 7 + y * 3) % 5 < 2 || x == y;
}

/* Premultiplied ARGB source of the OVER composite. */
static unsigned long argb(int x, int y)
{
    unsigned a = (x * 4) & 0xff;

    return ((unsigned long)a << 24) | (a << 16) | ((a * y / 31) << 8) | (a / 2);
}

static unsigned long mask_alpha(int x, int y)
{
    return (x * 4 + y * 2) % 256;
}

static unsigned glyph_alpha(int i, int x, int y)
{
    return (x + y + i) % 3 ? ((x + i * 5) * 20 + y * 7) % 256 : 0;
}

typedef struct Render {
    Picture win, argb, mask, mask_src, glyph_src;
    GlyphSet glyphs;
    XRenderPictFormat *a8;
} Render;

/* A 1x1 repeating picture of one premultiplied ARGB colour. */
static Picture solid_picture(Display *dpy, Window win, XRenderPictFormat *fmt,
                             unsigned long colour)
{
    Pixmap pm = XCreatePixmap(dpy, win, 1, 1, 32);
    XRenderPictureAttributes pa = { .repeat = RepeatNormal };
    GC gc = XCreateGC(dpy, pm, 0, NULL);

    XSetForeground(dpy, gc, colour);
    XFillRectangle(dpy, pm, gc, 0, 0, 1, 1);
    XFreeGC(dpy, gc);
    return XRenderCreatePicture(dpy, pm, fmt, CPRepeat, &pa);
}

/*
 * A picture of @fmt on a new ARGB_W x ARGB_H Pixmap of @depth (32 or 8)
 * whose pixels are @pixel(x, y).
 */
static Picture image_picture(Display *dpy, Window win, Visual *visual,
                             int depth, XRenderPictFormat *fmt,
                             unsigned long (*pixel)(int x, int y))
{
    Pixmap pm = XCreatePixmap(dpy, win, ARGB_W, ARGB_H, depth);
    XImage *img = XCreateImage(dpy, visual, depth, ZPixmap, 0,
                               malloc(ARGB_W * ARGB_H * (depth / 8)),
                               ARGB_W, ARGB_H, depth, 0);
    GC gc;

    for (int y = 0; y < ARGB_H; y++) {
        for (int x = 0; x < ARGB_W; x++) {
            XPutPixel(img, x, y, pixel(x, y));
        }
    }
    gc = XCreateGC(dpy, pm, 0, NULL);
    XPutImage(dpy, pm, gc, img, 0, 0, 0, 0, ARGB_W, ARGB_H);
    XFreeGC(dpy, gc);
    XDestroyImage(img);
    return XRenderCreatePicture(dpy, pm, fmt, 0, NULL);
}

static int render_setup(Display *dpy, Window win, Visual *visual, Render *r)
{
    XRenderPictFormat *argb32 = XRenderFindStandardFormat(dpy,
                                                          PictStandardARGB32);
    int event, error, stride = (GLYPH_W + 3) & ~3;
    Glyph gids[3] = { 'a', 'b', 'c' };
    XGlyphInfo info[3];
    char *bits = calloc(3, stride * GLYPH_H);

    if (!XRenderQueryExtension(dpy, &event, &error) || !argb32) {
        return 0;
    }
    r->a8 = XRenderFindStandardFormat(dpy, PictStandardA8);
    r->win = XRenderCreatePicture(dpy, win,
                                  XRenderFindVisualFormat(dpy, visual),
                                  0, NULL);

    r->argb = image_picture(dpy, win, visual, 32, argb32, argb);
    r->mask = image_picture(dpy, win, visual, 8, r->a8, mask_alpha);

    r->mask_src = solid_picture(dpy, win, argb32, MASK_SRC);
    r->glyph_src = solid_picture(dpy, win, argb32, GLYPH_SRC);

    r->glyphs = XRenderCreateGlyphSet(dpy, r->a8);
    for (int i = 0; i < 3; i++) {
        info[i] = (XGlyphInfo) { .width = GLYPH_W, .height = GLYPH_H,
                                 .xOff = GLYPH_ADVANCE };
        for (int y = 0; y < GLYPH_H; y++) {
            for (int x = 0; x < GLYPH_W; x++) {
                bits[(i * GLYPH_H + y) * stride + x] = glyph_alpha(i, x, y);
            }
        }
    }
    XRenderAddGlyphs(dpy, r->glyphs, gids, info, 3, bits, 3 * stride * GLYPH_H);
    free(bits);
    return 1;
}

static const char text1[] = "Hello, QXL! 0123 gjpqy";
static const char text2[] = "Image text #42";

static void report_text(XFontStruct *font, const char *name, int x, int y,
                        const char *s)
{
    int dir, ascent, descent;
    XCharStruct all;

    XTextExtents(font, s, strlen(s), &dir, &ascent, &descent, &all);
    printf("XDRAW: text %s %d %d %d %d %d %d %d %d %d %d %s\n", name, x, y,
           font->max_bounds.width, font->ascent, font->descent,
           all.lbearing, all.rbearing, all.ascent, all.descent,
           XTextWidth(font, s, strlen(s)), s);
}

/* Lines of @colour, @width and @style from now on, butt capped, mitred. */
static void set_pen(Display *dpy, GC gc, unsigned long colour, int width,
                    int style)
{
    XSetForeground(dpy, gc, colour);
    XSetLineAttributes(dpy, gc, width, style, CapButt, JoinMiter);
}

static void draw(Display *dpy, Window win, Visual *visual, int depth,
                 XFontStruct *font, Pixmap pixmap, Pixmap bitmap, XImage *img,
                 Render *r, int reported)
{
    GC gc = XCreateGC(dpy, win, 0, NULL);
    GC pgc = XCreateGC(dpy, pixmap, 0, NULL);
    static char dash_on_off[] = { 6, 4 };
    static char dash_double[] = { 8, 4 };
    XPoint zigzag[] = {
        { 360, 220 }, { 420, 280 }, { 480, 220 }, { 540, 280 }
    };
    XPoint frame[] = { { 560, 220 }, { 700, 220 }, { 700, 280 }, { 560, 280 } };

    XSetGraphicsExposures(dpy, gc, False);
    XSetGraphicsExposures(dpy, pgc, False);
    XClearWindow(dpy, win);

    /* Fills. */
    XSetForeground(dpy, gc, FILL1);
    XFillRectangle(dpy, win, gc, 20, 20, 100, 60);
    XSetForeground(dpy, gc, FILL2);
    XFillRectangle(dpy, win, gc, 30, 30, 20, 20);

    /* A 32-bit image, copied within the window, then onto itself shifted. */
    XPutImage(dpy, win, gc, img, 0, 0, 140, 20, IMG_W, IMG_H);
    XCopyArea(dpy, win, win, gc, 140, 20, IMG_W, IMG_H, 220, 20);
    XCopyArea(dpy, win, win, gc, 220, 20, IMG_W, IMG_H, 226, 26);

    /* A Pixmap: fills and part of the image, copied whole and in part. */
    XSetForeground(dpy, pgc, PIX_BG);
    XFillRectangle(dpy, pixmap, pgc, 0, 0, PIXMAP_W, PIXMAP_H);
    XSetForeground(dpy, pgc, PIX_FILL);
    XFillRectangle(dpy, pixmap, pgc, 10, 10, 30, 20);
    XPutImage(dpy, pixmap, pgc, img, 0, 0, 50, 30, 32, 24);
    XCopyArea(dpy, pixmap, win, gc, 0, 0, PIXMAP_W, PIXMAP_H, 310, 20);
    XCopyArea(dpy, pixmap, win, gc, 40, 20, 56, 44, 420, 20);

    /* A 1-bit Pixmap: through XCopyPlane, and as an opaque stipple. */
    XSetForeground(dpy, gc, PLANE_FG);
    XSetBackground(dpy, gc, PLANE_BG);
    XCopyPlane(dpy, bitmap, win, gc, 0, 0, BITMAP_W, BITMAP_H, 490, 20, 1);
    XSetForeground(dpy, gc, STIP_FG);
    XSetBackground(dpy, gc, STIP_BG);
    XSetStipple(dpy, gc, bitmap);
    XSetTSOrigin(dpy, gc, 550, 20);
    XSetFillStyle(dpy, gc, FillOpaqueStippled);
    XFillRectangle(dpy, win, gc, 550, 20, 100, 40);
    XSetFillStyle(dpy, gc, FillSolid);

    /* Core-font text. */
    XSetFont(dpy, gc, font->fid);
    XSetForeground(dpy, gc, TEXT_FG);
    XDrawString(dpy, win, gc, 20, 130, text1, strlen(text1));
    XSetForeground(dpy, gc, ITEXT_FG);
    XSetBackground(dpy, gc, ITEXT_BG);
    XDrawImageString(dpy, win, gc, 200, 130, text2, strlen(text2));
    if (!reported) {
        report_text(font, "string", 20, 130, text1);
        report_text(font, "image", 200, 130, text2);
    }

    /* Lines: width 0 and wide, one segment and polylines. */
    set_pen(dpy, gc, LINE0, 0, LineSolid);
    XDrawLine(dpy, win, gc, 20, 220, 180, 280);
    set_pen(dpy, gc, LINE_WIDE, 6, LineSolid);
    XDrawLine(dpy, win, gc, 200, 220, 340, 280);
    set_pen(dpy, gc, POLY0, 0, LineSolid);
    XDrawLines(dpy, win, gc, zigzag, 4, CoordModeOrigin);
    set_pen(dpy, gc, POLY3, 3, LineSolid);
    XDrawLines(dpy, win, gc, frame, 4, CoordModeOrigin);

    /* Rectangles, width 0 and 5. */
    set_pen(dpy, gc, RECT0, 0, LineSolid);
    XDrawRectangle(dpy, win, gc, 20, 300, 120, 60);
    set_pen(dpy, gc, RECT5, 5, LineSolid);
    XDrawRectangle(dpy, win, gc, 160, 300, 120, 60);

    /* Dashed lines: on-off, width 0; double dash, width 3. */
    set_pen(dpy, gc, DASH0, 0, LineOnOffDash);
    XSetDashes(dpy, gc, 0, dash_on_off, 2);
    XDrawLine(dpy, win, gc, 300, 320, 500, 320);
    set_pen(dpy, gc, DDASH_FG, 3, LineDoubleDash);
    XSetBackground(dpy, gc, DDASH_BG);
    XSetDashes(dpy, gc, 0, dash_double, 2);
    XDrawLine(dpy, win, gc, 300, 340, 500, 370);
    XSetLineAttributes(dpy, gc, 0, LineSolid, CapButt, JoinMiter);

    /* Render: ARGB over, solid through an A8 mask, A8 glyphs. */
    XSetForeground(dpy, gc, RENDER_BG);
    XFillRectangle(dpy, win, gc, 20, 400, ARGB_W, ARGB_H);
    XFillRectangle(dpy, win, gc, 100, 400, ARGB_W, ARGB_H);
    XFillRectangle(dpy, win, gc, 180, 400, 3 * GLYPH_ADVANCE, GLYPH_H);
    XRenderComposite(dpy, PictOpOver, r->argb, None, r->win, 0, 0, 0, 0,
                     20, 400, ARGB_W, ARGB_H);
    XRenderComposite(dpy, PictOpOver, r->mask_src, r->mask, r->win, 0, 0, 0, 0,
                     100, 400, ARGB_W, ARGB_H);
    XRenderCompositeString8(dpy, PictOpOver, r->glyph_src, r->win, r->a8,
                            r->glyphs, 0, 0, 180, 400, "abc", 3);

    /* Last: the marker. */
    XSetForeground(dpy, gc, MARKER);
    XFillRectangle(dpy, win, gc, WIN_W - 30, WIN_H - 30, 20, 20);

    XFreeGC(dpy, gc);
    XFreeGC(dpy, pgc);
    XSync(dpy, False);
}

int main(void)
{
    Display *dpy = XOpenDisplay(NULL);
    XSetWindowAttributes attr = { 0 };
    XVisualInfo vinfo;
    XFontStruct *font;
    XImage *img;
    Pixmap pixmap, bitmap;
    Window win;
    int screen, depth, drawn = 0;
    Render render;
    char *bits;

    if (!dpy) {
        printf("XDRAW: error: cannot open display\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    screen = DefaultScreen(dpy);
    depth = DefaultDepth(dpy, screen);
    if (!XMatchVisualInfo(dpy, screen, 24, TrueColor, &vinfo) ||
        vinfo.red_mask != 0xff0000 || vinfo.green_mask != 0xff00 ||
        vinfo.blue_mask != 0xff) {
        printf("XDRAW: error: no 24-bit TrueColor visual with RGB masks\n");
        return 1;
    }
    printf("XDRAW: visual %d %d %lx %lx %lx\n", vinfo.depth, vinfo.class,
           vinfo.red_mask, vinfo.green_mask, vinfo.blue_mask);
    if (depth != 24 || DefaultVisual(dpy, screen)->visualid != vinfo.visualid) {
        printf("XDRAW: error: default visual is not that one (depth %d)\n",
               depth);
        return 1;
    }
    font = XLoadQueryFont(dpy, "fixed");
    if (!font) {
        printf("XDRAW: error: no font \"fixed\"\n");
        return 1;
    }
    /* Nothing may blank the screen while the test looks at it. */
    XSetScreenSaver(dpy, 0, 0, DontPreferBlanking, DefaultExposures);
    XResetScreenSaver(dpy);

    attr.override_redirect = True;
    attr.background_pixel = BG;
    attr.event_mask = ExposureMask;
    win = XCreateWindow(dpy, RootWindow(dpy, screen), 0, 0, WIN_W, WIN_H, 0,
                        depth, InputOutput, vinfo.visual,
                        CWOverrideRedirect | CWBackPixel | CWEventMask, &attr);

    img = XCreateImage(dpy, vinfo.visual, depth, ZPixmap, 0,
                       malloc(IMG_W * IMG_H * 4), IMG_W, IMG_H, 32, 0);
    for (int y = 0; y < IMG_H; y++) {
        for (int x = 0; x < IMG_W; x++) {
            XPutPixel(img, x, y, pattern(x, y));
        }
    }
    pixmap = XCreatePixmap(dpy, win, PIXMAP_W, PIXMAP_H, depth);
    /* XBM layout: rows of whole bytes, least significant bit first. */
    bits = calloc((BITMAP_W + 7) / 8, BITMAP_H);
    for (int y = 0; y < BITMAP_H; y++) {
        for (int x = 0; x < BITMAP_W; x++) {
            if (bit(x, y)) {
                bits[y * ((BITMAP_W + 7) / 8) + x / 8] |= 1 << (x % 8);
            }
        }
    }
    bitmap = XCreateBitmapFromData(dpy, win, bits, BITMAP_W, BITMAP_H);

    if (!render_setup(dpy, win, vinfo.visual, &render)) {
        printf("XDRAW: error: no Render extension\n");
        return 1;
    }

    XMapRaised(dpy, win);
    for (;;) {
        XEvent ev;

        XNextEvent(dpy, &ev);
        if (ev.type != Expose || ev.xexpose.count != 0) {
            continue;
        }
        /* Only the last of a burst of exposures. */
        while (XCheckTypedWindowEvent(dpy, win, Expose, &ev)) {
            continue;
        }
        draw(dpy, win, vinfo.visual, depth, font, pixmap, bitmap, img,
             &render, drawn);
        printf("XDRAW: done %d\n", ++drawn);
    }
}
