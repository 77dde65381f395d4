/*
 * QXL local rendering: the primary surface shown on QEMU's own displays
 * (VNC, GTK, screendump) outside VGA mode.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * spice-server renders the guest's commands into the primary's memory
 * when asked (update_area).  qxl_render_update() asks, from the main loop;
 * spice-server's worker reports the changed rects
 * (qxl_render_area_done()), and qxl_render_bh() shows them in the main
 * loop.  The rects and flags in between are under render_lock.
 */

#include "qemu/osdep.h"
#include "system/runstate.h"
#include "qxl.h"
#include "trace.h"

static pixman_format_code_t qxl_render_format(uint32_t format)
{
    switch (format) {
    case SPICE_SURFACE_FMT_16_555:
        return PIXMAN_x1r5g5b5;
    case SPICE_SURFACE_FMT_16_565:
        return PIXMAN_r5g6b5;
    default:
        return PIXMAN_x8r8g8b8;
    }
}

/* Width and height shown: the guest's single head when smaller. */
static void qxl_render_size(PCIQXLDevice *d, uint32_t *w, uint32_t *h)
{
    *w = d->primary.width;
    *h = d->primary.height;
    if (d->primary_head_width && d->primary_head_height &&
        d->primary_head_width <= *w && d->primary_head_height <= *h) {
        *w = d->primary_head_width;
        *h = d->primary_head_height;
    }
}

/*
 * A new DisplaySurface for the primary: over guest memory when lines go
 * top-down, else a host copy that qxl_render_copy() fills upside down.
 */
static bool qxl_render_new_surface(PCIQXLDevice *d, QXLGuestRange *mem)
{
    const QXLSurfaceCreate *p = &d->primary;
    uint64_t size = (uint64_t)p->height * ABS((int64_t)p->stride);
    pixman_format_code_t fmt = qxl_render_format(p->format);
    DisplaySurface *surface;
    uint32_t w, h;

    if (!qxl_translate(d, p->mem, size, mem)) {
        return false;
    }
    qxl_render_size(d, &w, &h);
    if (p->stride > 0) {
        surface = qemu_create_displaysurface_from(w, h, fmt, p->stride,
                                                  mem->host);
    } else {
        surface = qemu_create_displaysurface(w, h);
    }
    d->render_surface = surface;
    dpy_gfx_replace_surface(d->con, surface);
    return true;
}

/* Copy lines [top, bottom) of a bottom-up primary into the host surface. */
static void qxl_render_copy(PCIQXLDevice *d, QXLGuestRange *mem,
                            int top, int bottom)
{
    const QXLSurfaceCreate *p = &d->primary;
    DisplaySurface *s = d->render_surface;
    uint32_t abs_stride = -p->stride;
    int bpp = PIXMAN_FORMAT_BPP(qxl_render_format(p->format)) / 8;
    pixman_image_t *src;

    /* The last line in memory is the top one. */
    src = pixman_image_create_bits(qxl_render_format(p->format), p->width,
                                   p->height,
                                   (uint32_t *)(mem->host + (uint64_t)
                                                (p->height - 1) * abs_stride),
                                   p->stride);
    if (!src) {
        return;
    }
    (void)bpp;
    pixman_image_composite(PIXMAN_OP_SRC, src, NULL, s->image,
                           0, top, 0, 0, 0, top,
                           surface_width(s), bottom - top);
    pixman_image_unref(src);
}

void qxl_render_bh(void *opaque)
{
    PCIQXLDevice *d = opaque;
    QXLRect rects[ARRAY_SIZE(d->dirty_rects)];
    QXLGuestRange mem;
    bool resized, done;
    int n;

    qemu_mutex_lock(&d->render_lock);
    resized = d->render_resized;
    d->render_resized = false;
    n = d->num_dirty_rects;
    memcpy(rects, d->dirty_rects, sizeof(rects[0]) * n);
    d->num_dirty_rects = 0;
    done = d->render_pending == 0;
    qemu_mutex_unlock(&d->render_lock);

    if (d->mode != QXL_MODE_NATIVE && d->mode != QXL_MODE_COMPAT) {
        goto out;
    }
    if (resized || !d->render_surface ||
        !qxl_translate(d, d->primary.mem, (uint64_t)d->primary.height *
                       ABS((int64_t)d->primary.stride), &mem)) {
        if (!qxl_render_new_surface(d, &mem)) {
            goto out;
        }
        n = 1;
        rects[0] = (QXLRect) { .top = 0, .left = 0,
                               .bottom = d->primary.height,
                               .right = d->primary.width };
    }
    for (int i = 0; i < n; i++) {
        DisplaySurface *s = d->render_surface;
        int left = MAX(rects[i].left, 0);
        int top = MAX(rects[i].top, 0);
        int right = MIN(rects[i].right, surface_width(s));
        int bottom = MIN(rects[i].bottom, surface_height(s));

        if (left >= right || top >= bottom) {
            continue;
        }
        if (d->primary.stride < 0) {
            qxl_render_copy(d, &mem, top, bottom);
        }
        dpy_gfx_update(d->con, left, top, right - left, bottom - top);
    }
out:
    if (done) {
        graphic_hw_update_done(d->con);
    }
}

/* Worker thread: the end of a render request. */
static void qxl_render_request_done(PCIQXLDevice *d, QXLCookie *c)
{
    qxl_render_area_done(d, 0, NULL, 0);
}

/* Main loop: the console wants a fresh picture. */
void qxl_render_update(PCIQXLDevice *d)
{
    QXLRect area;

    if ((d->mode != QXL_MODE_NATIVE && d->mode != QXL_MODE_COMPAT) ||
        !runstate_is_running()) {
        /* Nothing will change the memory: show it as it is. */
        qxl_render_bh(d);
        return;
    }
    area = (QXLRect) { .top = 0, .left = 0, .bottom = d->primary.height,
                       .right = d->primary.width };
    qemu_mutex_lock(&d->render_lock);
    d->render_pending++;
    qemu_mutex_unlock(&d->render_lock);
    trace_qxl_render_request(d->id);
    qxl_spice_update_area(d, 0, &area, true,
                          qxl_cookie_new(qxl_render_request_done, 0, NULL));
}

void qxl_render_resize(PCIQXLDevice *d)
{
    qemu_mutex_lock(&d->render_lock);
    d->render_resized = true;
    qemu_mutex_unlock(&d->render_lock);
}

/*
 * Worker thread: rects of surface 0 that update_area brought up to date
 * (@rects), or the end of a render request (@rects NULL).
 */
void qxl_render_area_done(PCIQXLDevice *d, uint32_t surface_id,
                          const QXLRect *rects, uint32_t n)
{
    if (surface_id != 0) {
        return;
    }
    qemu_mutex_lock(&d->render_lock);
    if (!rects) {
        if (d->render_pending) {
            d->render_pending--;
        }
    } else if (d->num_dirty_rects + n > ARRAY_SIZE(d->dirty_rects)) {
        d->render_resized = true;   /* too many: redraw everything */
        d->num_dirty_rects = 0;
    } else {
        memcpy(&d->dirty_rects[d->num_dirty_rects], rects, n * sizeof(*rects));
        d->num_dirty_rects += n;
    }
    qemu_mutex_unlock(&d->render_lock);
    qemu_bh_schedule(d->render_bh);
}
