/*
 * SPICE OpenGL displays (-spice gl=on): a console's picture handed to
 * spice-server as a dmabuf, for a local client that imports it (a viewer
 * on the Unix socket, libvirt's <gl enable='yes'/>).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One per graphic console without a QXL device, instead of the
 * framebuffer export of ui/spice-display.c.  What is shown comes from the
 * console (see ui/spice-gl-state.h, which decides what spice-server gets
 * and when):
 *   - a 2D surface (any device without GL, or virtio-vga-gl before the
 *     guest's driver takes over) is uploaded into a texture of the render
 *     node's context and exported; changed areas are uploaded at each
 *     update and drawn at the next refresh;
 *   - a guest texture (virtio-gpu-gl with virgl) is exported as it is;
 *   - a guest dmabuf is forwarded as it is, or, while the guest has a
 *     cursor dmabuf, copied each frame into a texture of ours with the
 *     cursor blended in.
 * The other cursor, QEMU's (dpy_cursor_define, dpy_mouse_set), goes to
 * the client's cursor channel as QXL cursor commands.
 *
 * spice-server takes one draw at a time: the console is blocked from the
 * draw until spice-server completes it (async_complete, in its worker
 * thread, scheduling a BH here).
 *
 * Threads: the DisplayChangeListener and the GL context run in the main
 * loop with the BQL; get_cursor_command, release_resource and
 * async_complete in spice-server's worker, sharing only the cursor queue
 * (under gd->lock) and the BH.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "ui/console.h"
#include "ui/egl-context.h"
#include "ui/egl-helpers.h"
#include "ui/qemu-spice.h"
#include "ui/spice-display.h"
#include "spice-gl-state.h"
#include "trace.h"

/* async_complete's cookie of a draw; monitors configs pass their address. */
#define SPICE_GL_COOKIE_DRAW 1
/* Largest cursor we forward, as the framebuffer export. */
#define SPICE_GL_CURSOR_MAX 512

typedef struct SpiceGLCursorCmd {
    QXLCommandExt ext;
    QXLCursorCmd cmd;
    QXLCursor shape;        /* last: its chunk's data[] runs on */
} SpiceGLCursorCmd;

typedef struct SpiceGLMonitors {
    QXLMonitorsConfig config;
    QXLHead head;           /* config.heads[0] */
} SpiceGLMonitors;

typedef struct SpiceGLDisplay {
    QXLInstance qxl;
    DisplayChangeListener dcl;
    DisplayGLCtx dgc;
    QemuConsole *con;

    /* Main loop only. */
    SpiceGLState st;
    DisplaySurface *ds;
    QemuDmaBuf *dmabuf;
    egl_fb guest_fb;        /* the guest dmabuf, to copy from */
    egl_fb cursor_fb;       /* the guest's cursor dmabuf */
    egl_fb blit_fb;         /* ours: guest frame + cursor */
    uint32_t cursor_x, cursor_y;
    QEMUTimer *draw_timer;
    QEMUBH *draw_done_bh;
    QEMUCursor *cursor;
    int mouse_x, mouse_y;
    bool mouse_on;
    uint32_t cursor_id;

    /* Shared with the worker thread. */
    QemuMutex lock;
    SpiceGLCursorCmd *cursor_set;
    SpiceGLCursorCmd *cursor_move;
} SpiceGLDisplay;

/* ---- what spice-server is given ------------------------------------------ */

static void sgl_monitors(SpiceGLDisplay *gd, uint32_t w, uint32_t h)
{
    SpiceGLMonitors *m = g_new0(SpiceGLMonitors, 1);

    /* One head, as the client shows the scanout; freed at completion. */
    m->config.count = 1;
    m->config.max_allowed = 1;
    m->head.width = w;
    m->head.height = h;
    spice_qxl_monitors_config_async(&gd->qxl, (uintptr_t)&m->config,
                                    MEMSLOT_GROUP_HOST, (uintptr_t)m);
}

/* spice-server closes @fd when done with it. */
static void sgl_scanout_fd(SpiceGLDisplay *gd, int fd, uint32_t w,
                           uint32_t h, uint32_t stride, uint32_t fourcc,
                           bool y0_top)
{
    trace_spice_gl_scanout(gd->qxl.id, fd, w, h, stride, fourcc);
    spice_qxl_gl_scanout(&gd->qxl, fd, w, h, stride, fourcc, y0_top);
}

static void sgl_scanout_texture(SpiceGLDisplay *gd, uint32_t tex,
                                uint32_t w, uint32_t h, bool y0_top)
{
    EGLint stride = 0, fourcc = 0;
    int fd = egl_get_fd_for_texture(tex, &stride, &fourcc, NULL);

    if (fd < 0) {
        warn_report("spice: display %d: cannot export a %ux%u texture",
                    gd->qxl.id, w, h);
        sgl_scanout_fd(gd, -1, 0, 0, 0, 0, false);
        return;
    }
    sgl_scanout_fd(gd, fd, w, h, stride, fourcc, y0_top);
}

static void sgl_block(SpiceGLDisplay *gd, bool block)
{
    if (block) {
        timer_mod(gd->draw_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 1000);
    } else {
        timer_del(gd->draw_timer);
    }
    graphic_hw_gl_block(gd->con, block);
}

static void sgl_draw(SpiceGLDisplay *gd, uint32_t x, uint32_t y,
                     uint32_t w, uint32_t h)
{
    trace_spice_gl_draw(gd->qxl.id, x, y, w, h);
    sgl_block(gd, true);
    glFlush();
    spice_qxl_gl_draw_async(&gd->qxl, x, y, w, h, SPICE_GL_COOKIE_DRAW);
}

/* Copy the guest's frame into our texture, the cursor over it. */
static void sgl_blend(SpiceGLDisplay *gd)
{
    bool y0_top = qemu_dmabuf_get_y0_top(gd->dmabuf);
    uint32_t tex;

    egl_dmabuf_import_texture(gd->dmabuf);
    tex = qemu_dmabuf_get_texture(gd->dmabuf);
    if (!tex) {
        return;
    }
    egl_fb_setup_for_tex(&gd->guest_fb, gd->st.width, gd->st.height, tex,
                         false);
    egl_texture_blit(gd->dgc.gls, &gd->blit_fb, &gd->guest_fb, !y0_top);
    egl_texture_blend(gd->dgc.gls, &gd->blit_fb, &gd->cursor_fb, !y0_top,
                      gd->cursor_x, gd->cursor_y, 1.0, 1.0);
}

/* Carry out what the state machine said, the update rectangle given. */
static void sgl_act(SpiceGLDisplay *gd, SpiceGLActions a, uint32_t x,
                    uint32_t y, uint32_t w, uint32_t h)
{
    switch (a.scanout) {
    case SGL_SCANOUT_KEEP:
        break;
    case SGL_SCANOUT_NONE:
        sgl_scanout_fd(gd, -1, 0, 0, 0, 0, false);
        break;
    case SGL_SCANOUT_SURFACE:
        sgl_scanout_texture(gd, gd->ds->texture, gd->st.width,
                            gd->st.height, false);
        break;
    case SGL_SCANOUT_TEXTURE:
        /* Exported by the caller, which has the texture. */
        break;
    case SGL_SCANOUT_DMABUF:
        /* spice-server closes what it gets: a duplicate. */
        sgl_scanout_fd(gd, qemu_dmabuf_dup_fd(gd->dmabuf), gd->st.width,
                       gd->st.height, qemu_dmabuf_get_stride(gd->dmabuf),
                       qemu_dmabuf_get_fourcc(gd->dmabuf),
                       qemu_dmabuf_get_y0_top(gd->dmabuf));
        break;
    case SGL_SCANOUT_BLIT:
        if (a.new_blit) {
            egl_fb_destroy(&gd->blit_fb);
            egl_fb_setup_new_tex(&gd->blit_fb, gd->st.width, gd->st.height);
        }
        sgl_scanout_texture(gd, gd->blit_fb.texture, gd->st.width,
                            gd->st.height, false);
        break;
    }
    if (a.monitors) {
        sgl_monitors(gd, a.scanout == SGL_SCANOUT_NONE ? 0 : gd->st.width,
                     a.scanout == SGL_SCANOUT_NONE ? 0 : gd->st.height);
    }
    if (a.blend && gd->dmabuf) {
        sgl_blend(gd);
    }
    if (a.draw) {
        sgl_draw(gd, x, y, w, h);
    }
}

static void sgl_act_whole(SpiceGLDisplay *gd, SpiceGLActions a)
{
    sgl_act(gd, a, 0, 0, gd->st.width, gd->st.height);
}

/* Main loop: spice-server finished the last draw. */
static void sgl_draw_done_bh(void *opaque)
{
    SpiceGLDisplay *gd = opaque;

    sgl_block(gd, false);
    sgl_act_whole(gd, sgl_draw_done(&gd->st));
}

static void sgl_draw_timeout(void *opaque)
{
    SpiceGLDisplay *gd = opaque;

    warn_report_once("spice: display %d: no gl draw done within a second",
                     gd->qxl.id);
}

/* ---- QEMU's cursor to the cursor channel --------------------------------- */

static SpiceGLCursorCmd *sgl_cursor_cmd(uint8_t type, size_t shape_bytes)
{
    SpiceGLCursorCmd *c = g_malloc0(sizeof(*c) + shape_bytes);

    c->cmd.type = type;
    c->cmd.release_info.id = (uintptr_t)c;
    c->ext.cmd.type = QXL_CMD_CURSOR;
    c->ext.cmd.data = (uintptr_t)&c->cmd;
    c->ext.group_id = MEMSLOT_GROUP_HOST;
    return c;
}

static QXLPoint16 sgl_cursor_pos(SpiceGLDisplay *gd)
{
    return (QXLPoint16) {
        .x = CLAMP(gd->mouse_x + (gd->cursor ? gd->cursor->hot_x : 0),
                   INT16_MIN, INT16_MAX),
        .y = CLAMP(gd->mouse_y + (gd->cursor ? gd->cursor->hot_y : 0),
                   INT16_MIN, INT16_MAX),
    };
}

static void sgl_mouse_set(DisplayChangeListener *dcl, int x, int y, bool on)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);
    SpiceGLCursorCmd *c;

    gd->mouse_x = x;
    gd->mouse_y = y;
    gd->mouse_on = on;
    c = sgl_cursor_cmd(on ? QXL_CURSOR_MOVE : QXL_CURSOR_HIDE, 0);
    c->cmd.u.position = sgl_cursor_pos(gd);
    WITH_QEMU_LOCK_GUARD(&gd->lock) {
        g_free(gd->cursor_move);
        gd->cursor_move = c;
    }
    spice_qxl_wakeup(&gd->qxl);
}

static void sgl_cursor_define(DisplayChangeListener *dcl, QEMUCursor *cur)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);
    SpiceGLCursorCmd *c;
    size_t bytes;

    if (!cur || !cur->width || !cur->height ||
        cur->width > SPICE_GL_CURSOR_MAX || cur->height > SPICE_GL_CURSOR_MAX) {
        return;
    }
    cursor_ref(cur);
    cursor_unref(gd->cursor);
    gd->cursor = cur;
    bytes = (size_t)cur->width * cur->height * 4;
    c = sgl_cursor_cmd(QXL_CURSOR_SET, bytes);
    c->cmd.u.set.position = sgl_cursor_pos(gd);
    c->cmd.u.set.visible = gd->mouse_on;
    c->cmd.u.set.shape = (uintptr_t)&c->shape;
    c->shape.header = (QXLCursorHeader) {
        .unique = ++gd->cursor_id,
        .type = SPICE_CURSOR_TYPE_ALPHA,
        .width = cur->width, .height = cur->height,
        .hot_spot_x = cur->hot_x, .hot_spot_y = cur->hot_y,
    };
    c->shape.data_size = c->shape.chunk.data_size = bytes;
    memcpy(c->shape.chunk.data, cur->data, bytes);
    WITH_QEMU_LOCK_GUARD(&gd->lock) {
        g_free(gd->cursor_set);
        gd->cursor_set = c;
        g_clear_pointer(&gd->cursor_move, g_free);
    }
    spice_qxl_wakeup(&gd->qxl);
}

/* ---- DisplayChangeListener ----------------------------------------------- */

static void sgl_gfx_switch(DisplayChangeListener *dcl, DisplaySurface *ds)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    if (gd->ds) {
        surface_gl_destroy_texture(gd->dgc.gls, gd->ds);
    }
    gd->ds = ds;
    if (ds) {
        surface_gl_create_texture(gd->dgc.gls, ds);
    }
    trace_spice_gl_surface(gd->qxl.id, ds ? surface_width(ds) : 0,
                           ds ? surface_height(ds) : 0);
    sgl_act_whole(gd, sgl_surface(&gd->st, ds ? surface_width(ds) : 0,
                                  ds ? surface_height(ds) : 0));
}

static void sgl_gfx_update(DisplayChangeListener *dcl,
                           int x, int y, int w, int h)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    if (gd->ds) {
        surface_gl_update_texture(gd->dgc.gls, gd->ds, x, y, w, h);
        sgl_surface_dirty(&gd->st);
    }
}

static void sgl_refresh_cb(DisplayChangeListener *dcl)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    if (qemu_console_is_gl_blocked(gd->con)) {
        return;
    }
    graphic_hw_update(gd->con);
    sgl_act_whole(gd, sgl_refresh(&gd->st));
}

static void sgl_gl_scanout_disable(DisplayChangeListener *dcl)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    sgl_act_whole(gd, sgl_disable(&gd->st));
}

static void sgl_gl_scanout_texture(DisplayChangeListener *dcl,
                                   uint32_t tex, bool y0_top,
                                   uint32_t backing_w, uint32_t backing_h,
                                   uint32_t x, uint32_t y,
                                   uint32_t w, uint32_t h, void *d3d_tex2d)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);
    SpiceGLActions a = sgl_texture(&gd->st, backing_w, backing_h);

    sgl_scanout_texture(gd, tex, backing_w, backing_h, y0_top);
    a.scanout = SGL_SCANOUT_KEEP;
    /* The client shows the scanout's rectangle of the texture. */
    if (a.monitors) {
        SpiceGLMonitors *m = g_new0(SpiceGLMonitors, 1);

        m->config.count = m->config.max_allowed = 1;
        m->head = (QXLHead) { .x = x, .y = y, .width = w, .height = h };
        spice_qxl_monitors_config_async(&gd->qxl, (uintptr_t)&m->config,
                                        MEMSLOT_GROUP_HOST, (uintptr_t)m);
        a.monitors = false;
    }
    sgl_act_whole(gd, a);
}

static void sgl_gl_scanout_dmabuf(DisplayChangeListener *dcl,
                                  QemuDmaBuf *dmabuf)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    gd->dmabuf = dmabuf;
    sgl_act_whole(gd, sgl_dmabuf(&gd->st, qemu_dmabuf_get_width(dmabuf),
                                 qemu_dmabuf_get_height(dmabuf)));
}

static void sgl_gl_cursor_dmabuf(DisplayChangeListener *dcl,
                                 QemuDmaBuf *dmabuf, bool have_hot,
                                 uint32_t hot_x, uint32_t hot_y)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);
    uint32_t tex = 0;

    egl_fb_destroy(&gd->cursor_fb);
    if (dmabuf) {
        egl_dmabuf_import_texture(dmabuf);
        tex = qemu_dmabuf_get_texture(dmabuf);
    }
    if (tex) {
        egl_fb_setup_for_tex(&gd->cursor_fb, qemu_dmabuf_get_width(dmabuf),
                             qemu_dmabuf_get_height(dmabuf), tex, false);
    }
    sgl_cursor(&gd->st, tex != 0);
}

static void sgl_gl_cursor_position(DisplayChangeListener *dcl,
                                   uint32_t x, uint32_t y)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    gd->cursor_x = x;
    gd->cursor_y = y;
}

static void sgl_gl_release_dmabuf(DisplayChangeListener *dcl,
                                  QemuDmaBuf *dmabuf)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    if (gd->dmabuf == dmabuf) {
        gd->dmabuf = NULL;
        sgl_dmabuf_released(&gd->st);
    }
    egl_dmabuf_release_texture(dmabuf);
}

static void sgl_gl_update(DisplayChangeListener *dcl,
                          uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    SpiceGLDisplay *gd = container_of(dcl, SpiceGLDisplay, dcl);

    sgl_act(gd, sgl_update(&gd->st), x, y, w, h);
}

static const DisplayChangeListenerOps sgl_dcl_ops = {
    .dpy_name               = "spice-egl",
    .dpy_gfx_update         = sgl_gfx_update,
    .dpy_gfx_switch         = sgl_gfx_switch,
    .dpy_gfx_check_format   = console_gl_check_format,
    .dpy_refresh            = sgl_refresh_cb,
    .dpy_mouse_set          = sgl_mouse_set,
    .dpy_cursor_define      = sgl_cursor_define,
    .dpy_gl_scanout_disable = sgl_gl_scanout_disable,
    .dpy_gl_scanout_texture = sgl_gl_scanout_texture,
    .dpy_gl_scanout_dmabuf  = sgl_gl_scanout_dmabuf,
    .dpy_gl_cursor_dmabuf   = sgl_gl_cursor_dmabuf,
    .dpy_gl_cursor_position = sgl_gl_cursor_position,
    .dpy_gl_release_dmabuf  = sgl_gl_release_dmabuf,
    .dpy_gl_update          = sgl_gl_update,
};

/* ---- the guest's GL contexts, on the render node ------------------------- */

static bool sgl_ctx_is_compatible_dcl(DisplayGLCtx *dgc,
                                      DisplayChangeListener *dcl)
{
    return dcl->ops == &sgl_dcl_ops;
}

static QEMUGLContext sgl_ctx_create(DisplayGLCtx *dgc, QEMUGLParams *params)
{
    eglMakeCurrent(qemu_egl_display, EGL_NO_SURFACE, EGL_NO_SURFACE,
                   qemu_egl_rn_ctx);
    return qemu_egl_create_context(dgc, params);
}

static const DisplayGLCtxOps sgl_ctx_ops = {
    .dpy_gl_ctx_is_compatible_dcl = sgl_ctx_is_compatible_dcl,
    .dpy_gl_ctx_create            = sgl_ctx_create,
    .dpy_gl_ctx_destroy           = qemu_egl_destroy_context,
    .dpy_gl_ctx_make_current      = qemu_egl_make_context_current,
};

/* ---- QXLInterface -------------------------------------------------------- */

static void sgl_attached_worker(QXLInstance *qxl)
{
}

static void sgl_set_compression_level(QXLInstance *qxl, int level)
{
}

/* The picture goes by scanouts: no drawing commands. */
static int sgl_get_command(QXLInstance *qxl, QXLCommandExt *ext)
{
    return 0;
}

static int sgl_req_notification(QXLInstance *qxl)
{
    return 1;
}

static void sgl_release_resource(QXLInstance *qxl, QXLReleaseInfoExt release)
{
    /* Our cursor commands are released as the export's: freed whole. */
    spice_fb_export_release(NULL, release);
}

static int sgl_get_cursor_command(QXLInstance *qxl, QXLCommandExt *ext)
{
    SpiceGLDisplay *gd = container_of(qxl, SpiceGLDisplay, qxl);
    SpiceGLCursorCmd *c;

    QEMU_LOCK_GUARD(&gd->lock);
    if (gd->cursor_set) {
        c = g_steal_pointer(&gd->cursor_set);
    } else if (gd->cursor_move) {
        c = g_steal_pointer(&gd->cursor_move);
    } else {
        return 0;
    }
    *ext = c->ext;
    return 1;
}

static void sgl_notify_update(QXLInstance *qxl, uint32_t update_id)
{
    warn_report_once("spice: unexpected %s", __func__);
}

static int sgl_flush_resources(QXLInstance *qxl)
{
    warn_report_once("spice: unexpected %s", __func__);
    return 0;
}

/* Worker thread. */
static void sgl_async_complete(QXLInstance *qxl, uint64_t cookie)
{
    SpiceGLDisplay *gd = container_of(qxl, SpiceGLDisplay, qxl);

    if (cookie == SPICE_GL_COOKIE_DRAW) {
        qemu_bh_schedule(gd->draw_done_bh);
    } else {
        g_free((SpiceGLMonitors *)(uintptr_t)cookie);
    }
}

static void sgl_update_area_complete(QXLInstance *qxl, uint32_t surface_id,
                                     QXLRect *rects, uint32_t num_rects)
{
    warn_report_once("spice: unexpected %s", __func__);
}

static void sgl_set_client_capabilities(QXLInstance *qxl, uint8_t present,
                                        uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
}

static int sgl_client_monitors_config(QXLInstance *qxl,
                                      VDAgentMonitorsConfig *mc)
{
    SpiceGLDisplay *gd = container_of(qxl, SpiceGLDisplay, qxl);

    return qemu_spice_client_monitors_config(gd->con, qxl->id, mc);
}

static const QXLInterface sgl_qxl_interface = {
    .base.type               = SPICE_INTERFACE_QXL,
    .base.description        = "qemu gl display",
    .base.major_version      = SPICE_INTERFACE_QXL_MAJOR,
    .base.minor_version      = SPICE_INTERFACE_QXL_MINOR,
    .attached_worker         = sgl_attached_worker,
    .set_compression_level   = sgl_set_compression_level,
    .get_init_info           = qemu_spice_display_get_init_info,
    .get_command             = sgl_get_command,
    .req_cmd_notification    = sgl_req_notification,
    .release_resource        = sgl_release_resource,
    .get_cursor_command      = sgl_get_cursor_command,
    .req_cursor_notification = sgl_req_notification,
    .notify_update           = sgl_notify_update,
    .flush_resources         = sgl_flush_resources,
    .async_complete          = sgl_async_complete,
    .update_area_complete    = sgl_update_area_complete,
    .set_client_capabilities = sgl_set_client_capabilities,
    .client_monitors_config  = sgl_client_monitors_config,
};

/* ---- creation ------------------------------------------------------------ */

bool qemu_spice_gl_display_add(QemuConsole *con, Error **errp)
{
    SpiceGLDisplay *gd = g_new0(SpiceGLDisplay, 1);
    char address[256];
    Error *err = NULL;

    gd->con = con;
    gd->mouse_on = true;
    sgl_init(&gd->st);
    qemu_mutex_init(&gd->lock);
    gd->draw_timer = timer_new_ms(QEMU_CLOCK_REALTIME, sgl_draw_timeout, gd);
    gd->draw_done_bh = qemu_bh_new(sgl_draw_done_bh, gd);
    gd->qxl.base.sif = &sgl_qxl_interface.base;
    if (qemu_spice_add_display_interface(&gd->qxl, con) != 0) {
        error_setg(errp, "spice: cannot add a GL display for console %d",
                   qemu_console_get_index(con));
        return false;
    }
    if (qemu_console_fill_device_address(con, address, sizeof(address),
                                         &err)) {
        spice_qxl_set_device_info(&gd->qxl, address,
                                  qemu_console_get_head(con), 1);
    } else {
        error_free(err);
    }
    qemu_spice_add_host_memslot(&gd->qxl);

    eglMakeCurrent(qemu_egl_display, EGL_NO_SURFACE, EGL_NO_SURFACE,
                   qemu_egl_rn_ctx);
    gd->dgc.ops = &sgl_ctx_ops;
    gd->dgc.gls = qemu_gl_init_shader();
    gd->dcl.ops = &sgl_dcl_ops;
    gd->dcl.con = con;
    qemu_console_set_display_gl_ctx(con, &gd->dgc);
    register_displaychangelistener(&gd->dcl);
    return true;
}
