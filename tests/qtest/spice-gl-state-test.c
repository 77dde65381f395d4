/*
 * The scanout state machine of SPICE OpenGL displays (ui/spice-gl-state.c):
 * what reaches spice-server for each thing a console does.  Runs without
 * QEMU and without a DRM render node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../../ui/spice-gl-state.h"

#define KEEP SGL_SCANOUT_KEEP

static void check(SpiceGLActions a, SpiceGLScanout scanout, bool new_blit,
                  bool blend, bool monitors, bool draw)
{
    g_assert_cmpint(a.scanout, ==, scanout);
    g_assert_cmpint(a.new_blit, ==, new_blit);
    g_assert_cmpint(a.blend, ==, blend);
    g_assert_cmpint(a.monitors, ==, monitors);
    g_assert_cmpint(a.draw, ==, draw);
}

/* A 2D surface: exported at the switch, drawn whole at the next refresh. */
static void test_surface(void)
{
    SpiceGLState s;

    sgl_init(&s);
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    check(sgl_surface(&s, 800, 600), SGL_SCANOUT_SURFACE, false, false,
          true, false);
    check(sgl_refresh(&s), KEEP, false, false, false, true);
    /* Unchanged: nothing. */
    check(sgl_draw_done(&s), KEEP, false, false, false, false);
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    /* Changed while a draw is pending: drawn at the refresh after. */
    sgl_surface_dirty(&s);
    check(sgl_refresh(&s), KEEP, false, false, false, true);
    sgl_surface_dirty(&s);
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    check(sgl_draw_done(&s), KEEP, false, false, false, false);
    check(sgl_refresh(&s), KEEP, false, false, false, true);
    check(sgl_draw_done(&s), KEEP, false, false, false, false);
    /* No surface any more: nothing to draw. */
    check(sgl_surface(&s, 0, 0), KEEP, false, false, false, false);
    sgl_surface_dirty(&s);
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    /* Updates of a surface mean nothing to GL scanouts. */
    check(sgl_update(&s), KEEP, false, false, false, false);
}

/* A guest texture: exported when set, drawn at each update, one at a time. */
static void test_texture(void)
{
    SpiceGLState s;

    sgl_init(&s);
    sgl_surface(&s, 640, 480);
    check(sgl_texture(&s, 1024, 768), SGL_SCANOUT_TEXTURE, false, false,
          true, false);
    /* The surface's refresh no longer draws. */
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    check(sgl_update(&s), KEEP, false, false, false, true);
    /* An update while spice-server draws: drawn when it is done. */
    check(sgl_update(&s), KEEP, false, false, false, false);
    check(sgl_update(&s), KEEP, false, false, false, false);
    check(sgl_draw_done(&s), KEEP, false, false, false, true);
    check(sgl_draw_done(&s), KEEP, false, false, false, false);
    /* A cursor dmabuf does not concern textures. */
    sgl_cursor(&s, true);
    check(sgl_update(&s), KEEP, false, false, false, true);
    sgl_draw_done(&s);
    check(sgl_disable(&s), SGL_SCANOUT_NONE, false, false, true, false);
    check(sgl_update(&s), KEEP, false, false, false, false);
}

/* A guest dmabuf without a cursor: forwarded at the first update. */
static void test_dmabuf_forward(void)
{
    SpiceGLState s;

    sgl_init(&s);
    check(sgl_dmabuf(&s, 1280, 800), KEEP, false, false, false, false);
    check(sgl_update(&s), SGL_SCANOUT_DMABUF, false, false, true, true);
    sgl_draw_done(&s);
    check(sgl_update(&s), KEEP, false, false, false, true);
    sgl_draw_done(&s);
    /* A new dmabuf (the guest flipped): forwarded again. */
    sgl_dmabuf(&s, 1280, 800);
    check(sgl_update(&s), SGL_SCANOUT_DMABUF, false, false, true, true);
    /* A new dmabuf while drawing: taken with the deferred draw. */
    sgl_dmabuf(&s, 1920, 1080);
    check(sgl_update(&s), KEEP, false, false, false, false);
    check(sgl_draw_done(&s), SGL_SCANOUT_DMABUF, false, false, true, true);
    sgl_draw_done(&s);
    /* Released by the guest: nothing more. */
    sgl_dmabuf_released(&s);
    check(sgl_update(&s), KEEP, false, false, false, false);
}

/* A cursor dmabuf: frames copied into our texture with the cursor. */
static void test_dmabuf_cursor(void)
{
    SpiceGLState s;

    sgl_init(&s);
    sgl_cursor(&s, true);
    sgl_dmabuf(&s, 1024, 768);
    check(sgl_update(&s), SGL_SCANOUT_BLIT, true, true, true, true);
    sgl_draw_done(&s);
    /* Same texture for the next frames. */
    check(sgl_update(&s), KEEP, false, true, false, true);
    sgl_draw_done(&s);
    /* A new dmabuf of the same size: still our texture, not recreated. */
    sgl_dmabuf(&s, 1024, 768);
    check(sgl_update(&s), KEEP, false, true, false, true);
    sgl_draw_done(&s);
    /* Another size: a new texture. */
    sgl_dmabuf(&s, 800, 600);
    check(sgl_update(&s), SGL_SCANOUT_BLIT, true, true, true, true);
    sgl_draw_done(&s);
    /* Cursor gone: the dmabuf is forwarded again. */
    sgl_cursor(&s, false);
    check(sgl_update(&s), SGL_SCANOUT_DMABUF, false, false, true, true);
    sgl_draw_done(&s);
    /* Cursor back, same size: our texture, sent again, not recreated. */
    sgl_cursor(&s, true);
    check(sgl_update(&s), SGL_SCANOUT_BLIT, false, true, true, true);
    sgl_draw_done(&s);
    /* Disabled, then a 2D surface again. */
    check(sgl_disable(&s), SGL_SCANOUT_NONE, false, false, true, false);
    check(sgl_surface(&s, 640, 480), SGL_SCANOUT_SURFACE, false, false,
          true, false);
    check(sgl_refresh(&s), KEEP, false, false, false, true);
}

/* A surface switch while a draw is pending: drawn once it is done. */
static void test_switch_while_drawing(void)
{
    SpiceGLState s;

    sgl_init(&s);
    sgl_texture(&s, 1024, 768);
    check(sgl_update(&s), KEEP, false, false, false, true);
    sgl_update(&s);
    check(sgl_surface(&s, 720, 400), SGL_SCANOUT_SURFACE, false, false,
          true, false);
    check(sgl_refresh(&s), KEEP, false, false, false, false);
    /* The deferred texture draw is dropped: the surface is what shows. */
    check(sgl_draw_done(&s), KEEP, false, false, false, false);
    check(sgl_refresh(&s), KEEP, false, false, false, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/spice-gl-state/surface", test_surface);
    g_test_add_func("/spice-gl-state/texture", test_texture);
    g_test_add_func("/spice-gl-state/dmabuf-forward", test_dmabuf_forward);
    g_test_add_func("/spice-gl-state/dmabuf-cursor", test_dmabuf_cursor);
    g_test_add_func("/spice-gl-state/switch-while-drawing",
                    test_switch_while_drawing);
    return g_test_run();
}
