/*
 * The scanout state machine of SPICE OpenGL displays (ui/spice-gl.c),
 * without any OpenGL: what to hand spice-server, and when, for each thing
 * a console does.  Kept apart so that tests/qtest/spice-gl-state-test.c
 * checks it on machines without a DRM render node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A console shows one of:
 *   - its 2D surface (any device without GL scanouts), which the display
 *     uploads to a texture and exports: SGL_SOURCE_SURFACE;
 *   - a texture of the guest's GL context (virtio-gpu-gl with virgl):
 *     SGL_SOURCE_TEXTURE, exported when it is set;
 *   - a guest dmabuf (virtio-gpu-gl blob resources, vfio displays):
 *     SGL_SOURCE_DMABUF.  It goes to spice-server as it is, unless a cursor
 *     dmabuf is set: then each frame is copied into a texture of ours with
 *     the cursor blended in, and that texture is what spice-server has.
 *
 * spice-server takes one draw at a time: after a draw the console is
 * blocked until spice-server says it is done.  An update that comes in
 * the meantime is drawn when the previous draw is done.
 */
#ifndef UI_SPICE_GL_STATE_H
#define UI_SPICE_GL_STATE_H

typedef enum SpiceGLSource {
    SGL_SOURCE_NONE,
    SGL_SOURCE_SURFACE,
    SGL_SOURCE_TEXTURE,
    SGL_SOURCE_DMABUF,
} SpiceGLSource;

/* What spice-server is to be given as its scanout. */
typedef enum SpiceGLScanout {
    SGL_SCANOUT_KEEP,       /* nothing to send */
    SGL_SCANOUT_NONE,       /* no scanout (fd -1) */
    SGL_SCANOUT_SURFACE,    /* the 2D surface's texture */
    SGL_SCANOUT_TEXTURE,    /* the guest's texture */
    SGL_SCANOUT_DMABUF,     /* the guest's dmabuf, forwarded */
    SGL_SCANOUT_BLIT,       /* our texture: guest dmabuf + cursor */
} SpiceGLScanout;

typedef struct SpiceGLActions {
    SpiceGLScanout scanout;
    bool new_blit;          /* (re)create our texture, width x height */
    bool blend;             /* copy the dmabuf into it, blend the cursor */
    bool monitors;          /* a one-head monitors config of the scanout */
    bool draw;              /* gl_draw_async, then block the console */
} SpiceGLActions;

typedef struct SpiceGLState {
    SpiceGLSource source;
    SpiceGLScanout sent;    /* what spice-server has */
    uint32_t width, height; /* of the source */
    uint32_t blit_width, blit_height;   /* our texture, 0 x 0 if none */
    bool cursor;            /* a cursor dmabuf is set */
    bool dmabuf_changed;    /* the dmabuf (or the cursor) changed */
    bool surface_dirty;     /* the surface changed since the last draw */
    bool draw_pending;      /* spice-server has not finished a draw */
    bool draw_deferred;     /* an update came while a draw was pending */
} SpiceGLState;

void sgl_init(SpiceGLState *s);
/* dpy_gfx_switch: a 2D surface of @w x @h, or none (0 x 0). */
SpiceGLActions sgl_surface(SpiceGLState *s, uint32_t w, uint32_t h);
/* dpy_gfx_update on the 2D surface. */
void sgl_surface_dirty(SpiceGLState *s);
/* dpy_refresh: draw the 2D surface if it changed. */
SpiceGLActions sgl_refresh(SpiceGLState *s);
/* dpy_gl_scanout_texture / _dmabuf / _disable. */
SpiceGLActions sgl_texture(SpiceGLState *s, uint32_t w, uint32_t h);
SpiceGLActions sgl_dmabuf(SpiceGLState *s, uint32_t w, uint32_t h);
SpiceGLActions sgl_disable(SpiceGLState *s);
/* dpy_gl_release_dmabuf of the current dmabuf. */
void sgl_dmabuf_released(SpiceGLState *s);
/* dpy_gl_cursor_dmabuf: a cursor to blend, or none. */
void sgl_cursor(SpiceGLState *s, bool on);
/* dpy_gl_update: the guest drew into its texture or dmabuf. */
SpiceGLActions sgl_update(SpiceGLState *s);
/* spice-server finished the pending draw. */
SpiceGLActions sgl_draw_done(SpiceGLState *s);

#endif /* UI_SPICE_GL_STATE_H */
