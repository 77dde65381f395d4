/*
 * The scanout state machine of SPICE OpenGL displays: see spice-gl-state.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "spice-gl-state.h"

void sgl_init(SpiceGLState *s)
{
    *s = (SpiceGLState) { .source = SGL_SOURCE_NONE,
                          .sent = SGL_SCANOUT_NONE };
}

static SpiceGLActions sgl_draw(SpiceGLState *s, SpiceGLActions a)
{
    if (s->draw_pending) {
        s->draw_deferred = true;
        a.draw = false;
        a.blend = false;
    } else {
        s->draw_pending = true;
        a.draw = true;
    }
    return a;
}

static SpiceGLActions sgl_send(SpiceGLState *s, SpiceGLScanout scanout)
{
    s->sent = scanout;
    return (SpiceGLActions) { .scanout = scanout, .monitors = true };
}

SpiceGLActions sgl_surface(SpiceGLState *s, uint32_t w, uint32_t h)
{
    s->width = w;
    s->height = h;
    s->draw_deferred = false;
    if (!w || !h) {
        s->source = SGL_SOURCE_NONE;
        s->surface_dirty = false;
        return (SpiceGLActions) { .scanout = SGL_SCANOUT_KEEP };
    }
    s->source = SGL_SOURCE_SURFACE;
    /* The first refresh draws it whole. */
    s->surface_dirty = true;
    return sgl_send(s, SGL_SCANOUT_SURFACE);
}

void sgl_surface_dirty(SpiceGLState *s)
{
    if (s->source == SGL_SOURCE_SURFACE) {
        s->surface_dirty = true;
    }
}

SpiceGLActions sgl_refresh(SpiceGLState *s)
{
    SpiceGLActions a = { .scanout = SGL_SCANOUT_KEEP };

    if (s->source != SGL_SOURCE_SURFACE || !s->surface_dirty ||
        s->draw_pending) {
        return a;
    }
    s->surface_dirty = false;
    return sgl_draw(s, a);
}

SpiceGLActions sgl_texture(SpiceGLState *s, uint32_t w, uint32_t h)
{
    s->source = SGL_SOURCE_TEXTURE;
    s->width = w;
    s->height = h;
    s->surface_dirty = false;
    return sgl_send(s, SGL_SCANOUT_TEXTURE);
}

SpiceGLActions sgl_dmabuf(SpiceGLState *s, uint32_t w, uint32_t h)
{
    s->source = SGL_SOURCE_DMABUF;
    s->width = w;
    s->height = h;
    s->surface_dirty = false;
    /* Sent at the next update, when the frame is there. */
    s->dmabuf_changed = true;
    return (SpiceGLActions) { .scanout = SGL_SCANOUT_KEEP };
}

SpiceGLActions sgl_disable(SpiceGLState *s)
{
    s->source = SGL_SOURCE_NONE;
    s->width = s->height = 0;
    s->dmabuf_changed = false;
    s->surface_dirty = false;
    s->draw_deferred = false;
    return sgl_send(s, SGL_SCANOUT_NONE);
}

void sgl_dmabuf_released(SpiceGLState *s)
{
    if (s->source == SGL_SOURCE_DMABUF) {
        s->source = SGL_SOURCE_NONE;
        s->dmabuf_changed = false;
        s->draw_deferred = false;
    }
}

void sgl_cursor(SpiceGLState *s, bool on)
{
    if (s->cursor != on && s->source == SGL_SOURCE_DMABUF) {
        /* From forwarding to blending, or back. */
        s->dmabuf_changed = true;
    }
    s->cursor = on;
}

SpiceGLActions sgl_update(SpiceGLState *s)
{
    SpiceGLActions a = { .scanout = SGL_SCANOUT_KEEP };

    switch (s->source) {
    case SGL_SOURCE_TEXTURE:
        return sgl_draw(s, a);
    case SGL_SOURCE_DMABUF:
        break;
    default:
        return a;
    }
    if (s->draw_pending) {
        /* The frame is taken when the pending draw is done. */
        return sgl_draw(s, a);
    }
    if (s->dmabuf_changed) {
        s->dmabuf_changed = false;
        if (!s->cursor) {
            a = sgl_send(s, SGL_SCANOUT_DMABUF);
        } else if (s->blit_width != s->width ||
                   s->blit_height != s->height ||
                   s->sent != SGL_SCANOUT_BLIT) {
            a = sgl_send(s, SGL_SCANOUT_BLIT);
            a.new_blit = s->blit_width != s->width ||
                         s->blit_height != s->height;
            s->blit_width = s->width;
            s->blit_height = s->height;
        }
    }
    a.blend = s->cursor;
    return sgl_draw(s, a);
}

SpiceGLActions sgl_draw_done(SpiceGLState *s)
{
    SpiceGLActions a = { .scanout = SGL_SCANOUT_KEEP };

    s->draw_pending = false;
    if (!s->draw_deferred) {
        return a;
    }
    s->draw_deferred = false;
    if (s->source == SGL_SOURCE_SURFACE) {
        s->surface_dirty = true;
        return sgl_refresh(s);
    }
    return sgl_update(s);
}
