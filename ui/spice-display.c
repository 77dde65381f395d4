/*
 * SPICE display export of QEMU graphic consoles.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * SpiceFbExport (API in include/ui/spice-display.h) follows a console
 * through a DisplayChangeListener and keeps SPICE primary surface 0 in step
 * with it: rows the console reports dirty are compared with a mirror of
 * what SPICE has, and only the columns that really differ are sent, as
 * QXL_DRAW_COPY commands.  qemu_spice_display_init() gives every graphic
 * console without a QXL device a QXLInstance fed by such an export.
 * qemu_spice_add_display() and qemu_spice_remove_display() take the
 * QXLInstance of a device that can be unplugged in and out of spice-server.
 *
 * Threads: the DisplayChangeListener callbacks, spice_fb_export_new/free/
 * start/stop, qemu_spice_display_init, get_init_info and
 * client_monitors_config run in the main loop with the BQL.  The other
 * QXLInterface callbacks, and so spice_fb_export_get_command,
 * get_cursor_command and release, run in spice-server's display worker
 * without it.  The two share only the queues, under fb->lock.
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/option.h"
#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "ui/console.h"
#include "ui/qemu-spice.h"
#include "ui/spice-display.h"
#include "trace.h"

#if !SPICE_HAS_ATTACHED_WORKER
#error "the SPICE display export needs spice-server 0.15 or later"
#endif

/* Largest surface we export; SPICE does its size maths in 32 bits. */
#define SPICE_FB_MAX_BYTES  (256 * MiB)
/* Largest cursor we forward; QEMU's own cursors stop at 512x512 too. */
#define SPICE_FB_CURSOR_MAX 512
/*
 * Refresh interval, as QEMU's VNC server adapts it: each refresh that
 * finds nothing doubles it, up to SPICE_FB_REFRESH_MAX_MS, so that an idle
 * screen is looked at 8 times a second instead of 33 (each look at a VGA
 * console snapshots its dirty log); each refresh that finds a change
 * halves it, down to SPICE_FB_REFRESH_MIN_MS, so that a screen that keeps
 * changing is sent at 60 frames a second.  A change reported by the
 * device itself, or a cursor move, brings it to 30 ms at once.
 */
#define SPICE_FB_REFRESH_MIN_MS 16
#define SPICE_FB_REFRESH_MAX_MS 120

/* A drawable and the bitmap it copies, freed whole when SPICE releases it. */
typedef struct SpiceFbDraw {
    QXLCommandExt ext;
    QXLDrawable drawable;
    QXLImage image;
    QTAILQ_ENTRY(SpiceFbDraw) next;
    uint32_t pixels[];
} SpiceFbDraw;

/* A cursor command; SET carries its shape after the QXLCursor header. */
typedef struct SpiceFbCursorCmd {
    QXLCommandExt ext;
    QXLCursorCmd cmd;
    QXLCursor shape;        /* last: its chunk's data[] runs on */
} SpiceFbCursorCmd;

struct SpiceFbExport {
    DisplayChangeListener dcl;
    QXLInstance *qxl;

    /* Main loop only. */
    bool started;
    DisplaySurface *ds;         /* the console's current surface */
    bool exported;              /* SPICE primary surface 0 exists */
    int width, height;          /* of the primary, mirror and dirty map */
    uint32_t *primary;          /* memory spice-server renders surface 0 in */
    pixman_image_t *mirror;     /* x8r8g8b8: what SPICE has been sent */
    pixman_image_t *linebuf;    /* one row converted, if ds isn't x8r8g8b8 */
    unsigned long *dirty_rows;  /* rows the console reported changed */
    int dirty_left, dirty_right; /* columns: union of all reports */
    bool send_all;              /* next refresh sends the whole surface */
    uint32_t image_id;
    uint64_t refresh_ms;        /* current refresh interval */
    bool refreshing;            /* in fb_refresh's graphic_hw_update() */
    QEMUCursor *cursor;
    int mouse_x, mouse_y;
    bool mouse_on;

    /* Shared with spice-server's worker thread. */
    QemuMutex lock;
    QTAILQ_HEAD(, SpiceFbDraw) draws;
    SpiceFbCursorCmd *cursor_set;   /* newest shape, sent first */
    SpiceFbCursorCmd *cursor_move;  /* newest position or hide */
};

/* ---- drawables ------------------------------------------------------ */

/* Queue a drawable copying the mirror's area @x, @y, @w x @h. */
static void fb_queue_draw(SpiceFbExport *fb, int x, int y, int w, int h)
{
    SpiceFbDraw *d = g_malloc0(sizeof(*d) + (size_t)w * h * 4);
    uint8_t *src = (uint8_t *)pixman_image_get_data(fb->mirror);
    int stride = pixman_image_get_stride(fb->mirror);
    int row;

    trace_spice_fb_draw(fb->qxl->id, x, y, w, h);
    for (row = 0; row < h; row++) {
        memcpy(d->pixels + row * w, src + (y + row) * stride + x * 4, w * 4);
    }
    d->image.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    d->image.descriptor.width = w;
    d->image.descriptor.height = h;
    QXL_SET_IMAGE_ID(&d->image, QXL_IMAGE_GROUP_DEVICE, ++fb->image_id);
    d->image.bitmap = (QXLBitmap) {
        .format = SPICE_BITMAP_FMT_32BIT,
        .flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN,
        .x = w, .y = h, .stride = w * 4,
        .data = (uintptr_t)d->pixels,
    };
    d->drawable = (QXLDrawable) {
        .release_info.id = (uintptr_t)d,
        .surface_id = 0,
        .type = QXL_DRAW_COPY,
        .effect = QXL_EFFECT_OPAQUE,
        .bbox = { .left = x, .top = y, .right = x + w, .bottom = y + h },
        .clip.type = SPICE_CLIP_TYPE_NONE,
        .mm_time = qemu_clock_get_ms(QEMU_CLOCK_REALTIME),
        .surfaces_dest = { -1, -1, -1 },
        .u.copy = {
            .src_bitmap = (uintptr_t)&d->image,
            .src_area = { .right = w, .bottom = h },
            .rop_descriptor = SPICE_ROPD_OP_PUT,
        },
    };
    d->ext.cmd.type = QXL_CMD_DRAW;
    d->ext.cmd.data = (uintptr_t)&d->drawable;
    d->ext.group_id = MEMSLOT_GROUP_HOST;

    WITH_QEMU_LOCK_GUARD(&fb->lock) {
        QTAILQ_INSERT_TAIL(&fb->draws, d, next);
    }
}

/*
 * Row @y of the console in x8r8g8b8, columns [@left, @right), indexed from
 * @left: the surface itself when it has that format, else a conversion.
 */
static uint32_t *fb_source_row(SpiceFbExport *fb, int y, int left, int right)
{
    if (!fb->linebuf) {
        return (uint32_t *)((uint8_t *)surface_data(fb->ds) +
                            y * surface_stride(fb->ds)) + left;
    }
    qemu_pixman_linebuf_fill(fb->linebuf, fb->ds->image, right - left, left, y);
    return pixman_image_get_data(fb->linebuf);
}

/*
 * Compare the dirty rows with the mirror and queue one drawable per run of
 * consecutive changed rows, as wide as the columns that changed in that
 * run.  The mirror takes the new pixels as they are found.  Returns
 * whether anything was queued.
 */
static bool fb_diff_dirty(SpiceFbExport *fb)
{
    uint8_t *mbase = (uint8_t *)pixman_image_get_data(fb->mirror);
    int mstride = pixman_image_get_stride(fb->mirror);
    int l = fb->dirty_left, r = fb->dirty_right;
    int top = -1, last = -1, run_l = 0, run_r = 0;
    bool queued = false;
    long y;

    for (y = find_first_bit(fb->dirty_rows, fb->height); y < fb->height;
         y = find_next_bit(fb->dirty_rows, fb->height, y + 1)) {
        uint32_t *src = fb_source_row(fb, y, l, r);
        uint32_t *dst = (uint32_t *)(mbase + y * mstride) + l;
        int first = 0, end = r - l;

        while (first < end && src[first] == dst[first]) {
            first++;
        }
        if (first == end) {
            continue;
        }
        /* first bounds it: the guest may be writing src meanwhile. */
        while (end - 1 > first && src[end - 1] == dst[end - 1]) {
            end--;
        }
        memcpy(dst + first, src + first, (end - first) * 4);

        if (top >= 0 && y != last + 1) {
            fb_queue_draw(fb, run_l, top, run_r - run_l, last + 1 - top);
            queued = true;
            top = -1;
        }
        if (top < 0) {
            top = y;
            run_l = l + first;
            run_r = l + end;
        } else {
            run_l = MIN(run_l, l + first);
            run_r = MAX(run_r, l + end);
        }
        last = y;
    }
    if (top >= 0) {
        fb_queue_draw(fb, run_l, top, run_r - run_l, last + 1 - top);
        queued = true;
    }
    return queued;
}

static void fb_clear_dirty(SpiceFbExport *fb)
{
    if (fb->dirty_rows) {
        bitmap_zero(fb->dirty_rows, fb->height);
    }
    fb->dirty_left = fb->width;
    fb->dirty_right = 0;
}

/* Free what the worker has not taken yet.  Called with fb->lock held. */
static void fb_drop_queued(SpiceFbExport *fb)
{
    SpiceFbDraw *d, *tmp;

    QTAILQ_FOREACH_SAFE(d, &fb->draws, next, tmp) {
        QTAILQ_REMOVE(&fb->draws, d, next);
        g_free(d);
    }
    g_clear_pointer(&fb->cursor_set, g_free);
    g_clear_pointer(&fb->cursor_move, g_free);
}

/* ---- cursor ----------------------------------------------------------- */

static QXLPoint16 fb_cursor_pos(SpiceFbExport *fb)
{
    int hot_x = fb->cursor ? fb->cursor->hot_x : 0;
    int hot_y = fb->cursor ? fb->cursor->hot_y : 0;

    /* QEMU gives the cursor image's corner, SPICE wants its hot spot. */
    return (QXLPoint16) {
        .x = CLAMP(fb->mouse_x + hot_x, INT16_MIN, INT16_MAX),
        .y = CLAMP(fb->mouse_y + hot_y, INT16_MIN, INT16_MAX),
    };
}

static SpiceFbCursorCmd *fb_cursor_cmd_new(uint8_t type, size_t shape_bytes)
{
    SpiceFbCursorCmd *c = g_malloc0(sizeof(*c) + shape_bytes);

    c->cmd.type = type;
    c->cmd.release_info.id = (uintptr_t)c;
    c->ext.cmd.type = QXL_CMD_CURSOR;
    c->ext.cmd.data = (uintptr_t)&c->cmd;
    c->ext.group_id = MEMSLOT_GROUP_HOST;
    return c;
}

/* Queue the current shape at the current position.  Main loop. */
static void fb_queue_cursor_set(SpiceFbExport *fb)
{
    QEMUCursor *cur = fb->cursor;
    size_t bytes = (size_t)cur->width * cur->height * 4;
    SpiceFbCursorCmd *c = fb_cursor_cmd_new(QXL_CURSOR_SET, bytes);

    c->cmd.u.set.position = fb_cursor_pos(fb);
    c->cmd.u.set.visible = fb->mouse_on;
    c->cmd.u.set.shape = (uintptr_t)&c->shape;
    c->shape.header = (QXLCursorHeader) {
        .unique = ++fb->image_id,       /* one counter for all our images */
        .type = SPICE_CURSOR_TYPE_ALPHA,
        .width = cur->width, .height = cur->height,
        .hot_spot_x = cur->hot_x, .hot_spot_y = cur->hot_y,
    };
    c->shape.data_size = bytes;
    c->shape.chunk.data_size = bytes;
    /* QEMUCursor pixels are 0xAARRGGBB words, as SPICE's ALPHA type. */
    memcpy(c->shape.chunk.data, cur->data, bytes);

    WITH_QEMU_LOCK_GUARD(&fb->lock) {
        g_free(fb->cursor_set);
        fb->cursor_set = c;
        /* The new SET carries the position already. */
        g_clear_pointer(&fb->cursor_move, g_free);
    }
}

static void fb_queue_cursor_move(SpiceFbExport *fb)
{
    SpiceFbCursorCmd *c;

    c = fb_cursor_cmd_new(fb->mouse_on ? QXL_CURSOR_MOVE : QXL_CURSOR_HIDE, 0);
    c->cmd.u.position = fb_cursor_pos(fb);
    WITH_QEMU_LOCK_GUARD(&fb->lock) {
        g_free(fb->cursor_move);
        fb->cursor_move = c;
    }
}

/* ---- SPICE primary surface -------------------------------------------- */

/* Drop what is queued and destroy surface 0. */
static void fb_unexport(SpiceFbExport *fb)
{
    WITH_QEMU_LOCK_GUARD(&fb->lock) {
        fb_drop_queued(fb);
    }
    if (!fb->exported) {
        return;
    }
    trace_qemu_spice_destroy_primary_surface(fb->qxl->id, 0, 0);
    /* Synchronous: spice-server is done with fb->primary on return. */
    spice_qxl_destroy_primary_surface(fb->qxl, 0);
    g_clear_pointer(&fb->primary, g_free);
    g_clear_pointer(&fb->mirror, pixman_image_unref);
    g_clear_pointer(&fb->dirty_rows, g_free);
    fb->exported = false;
}

/* (Re)create surface 0 at the size of fb->ds and plan to send it whole. */
static void fb_export(SpiceFbExport *fb)
{
    int w = surface_width(fb->ds), h = surface_height(fb->ds);
    QXLDevSurfaceCreate create = {
        .width = w, .height = h, .stride = w * 4,
        .format = SPICE_SURFACE_FMT_32_xRGB,
        .mouse_mode = true,
        .group_id = MEMSLOT_GROUP_HOST,
    };

    fb_unexport(fb);
    if (w <= 0 || h <= 0 || (uint64_t)w * h * 4 > SPICE_FB_MAX_BYTES) {
        warn_report("spice: display %d: cannot export a %dx%d surface",
                    fb->qxl->id, w, h);
        return;
    }
    fb->width = w;
    fb->height = h;
    fb->primary = g_malloc0((size_t)w * h * 4);
    fb->mirror = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, w * 4);
    fb->dirty_rows = bitmap_new(h);
    fb_clear_dirty(fb);
    fb->send_all = true;

    create.mem = (uintptr_t)fb->primary;
    trace_qemu_spice_create_primary_surface(fb->qxl->id, 0, &create, 0);
    spice_qxl_create_primary_surface(fb->qxl, 0, &create);
    fb->exported = true;

    /* A new primary starts without a cursor on the client side. */
    if (fb->cursor) {
        fb_queue_cursor_set(fb);
    }
}

/* ---- DisplayChangeListener (main loop) --------------------------------- */

static void fb_set_refresh(SpiceFbExport *fb, uint64_t ms)
{
    if (fb->refresh_ms != ms) {
        fb->refresh_ms = ms;
        update_displaychangelistener(&fb->dcl, ms);
    }
}

static void fb_gfx_update(DisplayChangeListener *dcl,
                          int x, int y, int w, int h)
{
    SpiceFbExport *fb = container_of(dcl, SpiceFbExport, dcl);
    int x1 = MAX(x, 0), y1 = MAX(y, 0);
    int x2 = MIN(x + w, fb->width), y2 = MIN(y + h, fb->height);

    if (!fb->exported || x1 >= x2 || y1 >= y2) {
        return;
    }
    bitmap_set(fb->dirty_rows, y1, y2 - y1);
    fb->dirty_left = MIN(fb->dirty_left, x1);
    fb->dirty_right = MAX(fb->dirty_right, x2);
    /* A device that reports changes by itself is looked at again soon. */
    if (!fb->refreshing) {
        fb_set_refresh(fb, MIN(fb->refresh_ms, GUI_REFRESH_INTERVAL_DEFAULT));
    }
}

static void fb_gfx_switch(DisplayChangeListener *dcl, DisplaySurface *ds)
{
    SpiceFbExport *fb = container_of(dcl, SpiceFbExport, dcl);
    bool same_size = fb->exported && ds &&
        surface_width(ds) == fb->width && surface_height(ds) == fb->height;

    trace_qemu_spice_display_surface(fb->qxl->id, ds ? surface_width(ds) : 0,
                                     ds ? surface_height(ds) : 0, same_size);
    fb->ds = ds;
    g_clear_pointer(&fb->linebuf, pixman_image_unref);
    if (ds && surface_format(ds) != PIXMAN_x8r8g8b8) {
        fb->linebuf = qemu_pixman_linebuf_create(PIXMAN_x8r8g8b8,
                                                 surface_width(ds));
    }
    if (!fb->started) {
        return;
    }
    if (same_size) {
        /* Keep what SPICE has; the diff sends what the new surface changes. */
        fb_gfx_update(dcl, 0, 0, fb->width, fb->height);
    } else if (ds) {
        fb_export(fb);
    } else {
        fb_unexport(fb);
    }
}

static void fb_refresh(DisplayChangeListener *dcl)
{
    SpiceFbExport *fb = container_of(dcl, SpiceFbExport, dcl);
    bool busy;

    if (!fb->started) {
        /* Leave the device alone (a QXL device in native mode, say). */
        return;
    }
    fb->refreshing = true;
    graphic_hw_update(dcl->con);
    fb->refreshing = false;

    WITH_QEMU_LOCK_GUARD(&fb->lock) {
        busy = !QTAILQ_EMPTY(&fb->draws);
    }
    if (!fb->exported ||
        (fb->dirty_left >= fb->dirty_right && !fb->send_all)) {
        trace_spice_fb_refresh_idle(fb->qxl->id);
        if (!busy) {
            fb_set_refresh(fb, MIN(fb->refresh_ms * 2,
                                   SPICE_FB_REFRESH_MAX_MS));
        }
        return;
    }
    /*
     * Until the worker has taken the last batch (it may be stopped with
     * the VM), keep the dirty rows rather than pile up copies of a screen.
     */
    if (!busy) {
        bool queued = true;

        if (fb->send_all) {
            pixman_image_composite(PIXMAN_OP_SRC, fb->ds->image, NULL,
                                   fb->mirror, 0, 0, 0, 0, 0, 0,
                                   fb->width, fb->height);
            fb_queue_draw(fb, 0, 0, fb->width, fb->height);
            fb->send_all = false;
        } else {
            queued = fb_diff_dirty(fb);
        }
        fb_clear_dirty(fb);
        if (!queued) {
            /*
             * Reported dirty, but the same pixels: VGA text mode redraws
             * the cursor's cell on every refresh.  Nothing to send.
             */
            fb_set_refresh(fb, MIN(fb->refresh_ms * 2,
                                   SPICE_FB_REFRESH_MAX_MS));
            return;
        }
    }
    fb_set_refresh(fb, MAX(fb->refresh_ms / 2, SPICE_FB_REFRESH_MIN_MS));
    spice_qxl_wakeup(fb->qxl);
}

static void fb_mouse_set(DisplayChangeListener *dcl, int x, int y, bool on)
{
    SpiceFbExport *fb = container_of(dcl, SpiceFbExport, dcl);

    fb->mouse_x = x;
    fb->mouse_y = y;
    fb->mouse_on = on;
    if (fb->started) {
        fb_queue_cursor_move(fb);
        spice_qxl_wakeup(fb->qxl);
        fb_set_refresh(fb, MIN(fb->refresh_ms, GUI_REFRESH_INTERVAL_DEFAULT));
    }
}

static void fb_cursor_define(DisplayChangeListener *dcl, QEMUCursor *cursor)
{
    SpiceFbExport *fb = container_of(dcl, SpiceFbExport, dcl);

    if (!cursor || !cursor->width || !cursor->height ||
        cursor->width > SPICE_FB_CURSOR_MAX ||
        cursor->height > SPICE_FB_CURSOR_MAX) {
        return;
    }
    cursor_ref(cursor);
    cursor_unref(fb->cursor);
    fb->cursor = cursor;
    if (fb->started) {
        fb_queue_cursor_set(fb);
        spice_qxl_wakeup(fb->qxl);
    }
}

static const DisplayChangeListenerOps fb_dcl_ops = {
    .dpy_name             = "spice",
    .dpy_gfx_update       = fb_gfx_update,
    .dpy_gfx_switch       = fb_gfx_switch,
    /* Any format pixman converts: shared guest framebuffers stay shared. */
    .dpy_gfx_check_format = qemu_pixman_check_format,
    .dpy_refresh          = fb_refresh,
    .dpy_mouse_set        = fb_mouse_set,
    .dpy_cursor_define    = fb_cursor_define,
};

/* ---- export API ------------------------------------------------------- */

SpiceFbExport *spice_fb_export_new(QemuConsole *con, QXLInstance *qxl)
{
    SpiceFbExport *fb = g_new0(SpiceFbExport, 1);

    fb->qxl = qxl;
    qemu_mutex_init(&fb->lock);
    QTAILQ_INIT(&fb->draws);
    fb->dcl.ops = &fb_dcl_ops;
    fb->dcl.con = con;
    fb->mouse_on = true;
    fb->dcl.update_interval = GUI_REFRESH_INTERVAL_IDLE;   /* until started */
    fb->refresh_ms = GUI_REFRESH_INTERVAL_IDLE;
    /* Calls fb_gfx_switch (and maybe fb_cursor_define) right away. */
    register_displaychangelistener(&fb->dcl);
    return fb;
}

void spice_fb_export_free(SpiceFbExport *fb)
{
    if (!fb) {
        return;
    }
    spice_fb_export_stop(fb);
    unregister_displaychangelistener(&fb->dcl);
    g_clear_pointer(&fb->linebuf, pixman_image_unref);
    cursor_unref(fb->cursor);
    qemu_mutex_destroy(&fb->lock);
    g_free(fb);
}

void spice_fb_export_start(SpiceFbExport *fb)
{
    if (fb->started) {
        return;
    }
    fb->started = true;
    fb_set_refresh(fb, GUI_REFRESH_INTERVAL_DEFAULT);
    if (fb->ds) {
        fb_export(fb);
    }
}

void spice_fb_export_stop(SpiceFbExport *fb)
{
    if (!fb->started) {
        return;
    }
    fb_unexport(fb);
    fb->started = false;
    fb_set_refresh(fb, GUI_REFRESH_INTERVAL_IDLE);
}

bool spice_fb_export_is_started(SpiceFbExport *fb)
{
    return fb->started;
}

bool spice_fb_export_get_command(SpiceFbExport *fb, QXLCommandExt *ext)
{
    SpiceFbDraw *d;

    QEMU_LOCK_GUARD(&fb->lock);
    d = QTAILQ_FIRST(&fb->draws);
    if (!d) {
        return false;
    }
    QTAILQ_REMOVE(&fb->draws, d, next);
    *ext = d->ext;
    return true;
}

bool spice_fb_export_get_cursor_command(SpiceFbExport *fb, QXLCommandExt *ext)
{
    SpiceFbCursorCmd *c;

    QEMU_LOCK_GUARD(&fb->lock);
    /* A pending SET goes before the moves that follow it. */
    if (fb->cursor_set) {
        c = g_steal_pointer(&fb->cursor_set);
    } else if (fb->cursor_move) {
        c = g_steal_pointer(&fb->cursor_move);
    } else {
        return false;
    }
    *ext = c->ext;
    return true;
}

void spice_fb_export_release(SpiceFbExport *fb, QXLReleaseInfoExt release)
{
    /*
     * Each command we make is one allocation, its address the release id:
     * nothing of @fb is needed, which may be gone by now.
     */
    if (release.group_id != MEMSLOT_GROUP_HOST || !release.info) {
        return;
    }
    g_free((void *)(uintptr_t)release.info->id);
}

/* ---- QXLInstances for consoles without a QXL device ------------------- */

void qemu_spice_add_host_memslot(QXLInstance *qxl)
{
    /* Slot 0 from address 0 up: a host pointer is its own QXLPHYSICAL. */
    QXLDevMemSlot slot = {
        .slot_group_id = MEMSLOT_GROUP_HOST,
        .virt_end = UINTPTR_MAX,
    };

    trace_qemu_spice_add_memslot(qxl->id, slot.slot_id, slot.virt_start,
                                 slot.virt_end, 0);
    spice_qxl_add_memslot(qxl, &slot);
}

/* ---- display devices that come and go (hot-plug) ------------------- */

/*
 * spice-core lists each console that got a display interface and never
 * forgets it, and graphic_console_init() gives a closed console to the
 * next display device.  These are the consoles whose display left
 * spice-server: the next one is added again without spice-core's list.
 */
static GSList *spice_released_consoles;

int qemu_spice_add_display(QXLInstance *qxl, QemuConsole *con)
{
    GSList *l = g_slist_find(spice_released_consoles, con);

    if (!l) {
        return qemu_spice_add_display_interface(qxl, con);
    }
    qxl->id = qemu_console_get_index(con);
    if (qemu_spice.add_interface(&qxl->base) != 0) {
        return -1;
    }
    spice_released_consoles = g_slist_delete_link(spice_released_consoles, l);
    return 0;
}

void qemu_spice_remove_display(QXLInstance *qxl, QemuConsole *con)
{
    trace_spice_display_remove(qxl->id);
    spice_server_remove_interface(&qxl->base);
    spice_released_consoles = g_slist_prepend(spice_released_consoles, con);
}

typedef struct SpiceFbDisplay {
    QXLInstance qxl;
    QemuConsole *con;
    SpiceFbExport *fb;      /* set once, after the interface is added */
} SpiceFbDisplay;

static SpiceFbExport *fbd_export(QXLInstance *qxl)
{
    return qatomic_read(&container_of(qxl, SpiceFbDisplay, qxl)->fb);
}

static void fbd_attached_worker(QXLInstance *qxl)
{
}

static void fbd_set_compression_level(QXLInstance *qxl, int level)
{
    /* A QXL device tells its guest; we have none to tell. */
}

void qemu_spice_display_get_init_info(QXLInstance *qxl, QXLDevInitInfo *info)
{
    info->num_memslots_groups = NUM_MEMSLOTS_GROUPS;
    info->num_memslots = NUM_MEMSLOTS;
    info->memslot_gen_bits = MEMSLOT_GENERATION_BITS;
    info->memslot_id_bits = MEMSLOT_SLOT_BITS;
    info->internal_groupslot_id = 0;
    /* There is no device RAM; this only sizes spice-server's caches. */
    info->qxl_ram_size = 16 * MiB;
    /* Only surface 0 is ever used. */
    info->n_surfaces = 1;
}

static int fbd_get_command(QXLInstance *qxl, QXLCommandExt *ext)
{
    SpiceFbExport *fb = fbd_export(qxl);

    return fb && spice_fb_export_get_command(fb, ext);
}

/* Both queues: whoever queues a command wakes the worker. */
static int fbd_req_notification(QXLInstance *qxl)
{
    return 1;
}

static void fbd_release_resource(QXLInstance *qxl, QXLReleaseInfoExt release)
{
    spice_fb_export_release(fbd_export(qxl), release);
}

static int fbd_get_cursor_command(QXLInstance *qxl, QXLCommandExt *ext)
{
    SpiceFbExport *fb = fbd_export(qxl);

    return fb && spice_fb_export_get_cursor_command(fb, ext);
}

/*
 * The next four belong to devices with guest rings and async I/O, which
 * we never start.  Should spice-server call them anyway, say so and go on.
 */
static void fbd_notify_update(QXLInstance *qxl, uint32_t update_id)
{
    warn_report_once("spice: unexpected %s", __func__);
}

static int fbd_flush_resources(QXLInstance *qxl)
{
    warn_report_once("spice: unexpected %s", __func__);
    return 0;
}

static void fbd_async_complete(QXLInstance *qxl, uint64_t cookie)
{
    warn_report_once("spice: unexpected %s", __func__);
}

static void fbd_update_area_complete(QXLInstance *qxl, uint32_t surface_id,
                                     QXLRect *rects, uint32_t num_rects)
{
    warn_report_once("spice: unexpected %s", __func__);
}

static void fbd_set_client_capabilities(QXLInstance *qxl, uint8_t present,
                                        uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
    /* Nothing to tell: there is no guest driver to pass them to. */
}

/* The client's monitor layout: our head's size becomes a UI size hint. */
int qemu_spice_client_monitors_config(QemuConsole *con, int qid,
                                      VDAgentMonitorsConfig *mc)
{
    unsigned int head = qid;    /* clients number monitors by channel */
    QemuUIInfo info;

    if (!dpy_ui_info_supported(con)) {
        return 0;
    }
    if (!mc || head >= mc->num_of_monitors) {
        return 1;
    }
    info = *dpy_get_ui_info(con);
    info.width = mc->monitors[head].width;
    info.height = mc->monitors[head].height;
    if (mc->flags & VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE) {
        /* Sizes in mm follow the monitors, one per monitor, same order. */
        const VDAgentMonitorMM *phys =
            (const VDAgentMonitorMM *)(mc->monitors + mc->num_of_monitors);

        info.width_mm = phys[head].width;
        info.height_mm = phys[head].height;
    }
    trace_qemu_spice_ui_info(qid, info.width, info.height);
    dpy_set_ui_info(con, &info, false);
    return 1;
}

static int fbd_client_monitors_config(QXLInstance *qxl,
                                      VDAgentMonitorsConfig *mc)
{
    SpiceFbDisplay *d = container_of(qxl, SpiceFbDisplay, qxl);

    return qemu_spice_client_monitors_config(d->con, qxl->id, mc);
}

static const QXLInterface fbd_interface = {
    .base.type               = SPICE_INTERFACE_QXL,
    .base.description        = "qemu framebuffer export",
    .base.major_version      = SPICE_INTERFACE_QXL_MAJOR,
    .base.minor_version      = SPICE_INTERFACE_QXL_MINOR,

    .attached_worker         = fbd_attached_worker,
    .set_compression_level   = fbd_set_compression_level,
    .get_init_info           = qemu_spice_display_get_init_info,
    .get_command             = fbd_get_command,
    .req_cmd_notification    = fbd_req_notification,
    .release_resource        = fbd_release_resource,
    .get_cursor_command      = fbd_get_cursor_command,
    .req_cursor_notification = fbd_req_notification,
    .notify_update           = fbd_notify_update,
    .flush_resources         = fbd_flush_resources,
    .async_complete          = fbd_async_complete,
    .update_area_complete    = fbd_update_area_complete,
    .set_client_capabilities = fbd_set_client_capabilities,
    .client_monitors_config  = fbd_client_monitors_config,
};

static void fbd_add_console(QemuConsole *con)
{
    SpiceFbDisplay *d = g_new0(SpiceFbDisplay, 1);
    char address[256];
    Error *err = NULL;

    d->con = con;
    d->qxl.base.sif = &fbd_interface.base;
    if (qemu_spice_add_display_interface(&d->qxl, con) != 0) {
        error_report("spice: cannot add a display for console %d",
                     qemu_console_get_index(con));
        g_free(d);
        return;
    }
    /* Lets the agent match guest monitors with ours; only PCI has one. */
    if (qemu_console_fill_device_address(con, address, sizeof(address), &err)) {
        spice_qxl_set_device_info(&d->qxl, address,
                                  qemu_console_get_head(con), 1);
    } else {
        error_free(err);
    }
    qemu_spice_add_host_memslot(&d->qxl);
    qatomic_set(&d->fb, spice_fb_export_new(con, &d->qxl));
    spice_fb_export_start(d->fb);
}

void qemu_spice_display_init(void)
{
    QemuOpts *opts = QTAILQ_FIRST(&qemu_find_opts("spice")->head);
    const char *device = opts ? qemu_opt_get(opts, "display") : NULL;
    QemuConsole *only = NULL, *con;
    int i;

    if (device) {
        only = qemu_console_lookup_by_device_name(
            device, qemu_opt_get_number(opts, "head", 0), &error_fatal);
    }
    for (i = 0; (con = qemu_console_lookup_by_index(i)) != NULL; i++) {
        if (!qemu_console_is_graphic(con)) {
            /* Graphic consoles come first; the rest are text. */
            break;
        }
        if ((only && con != only) || qemu_spice_have_display_interface(con)) {
            continue;
        }
#ifdef HAVE_SPICE_GL
        if (qemu_spice_opengl) {
            qemu_spice_gl_display_add(con, &error_fatal);
            continue;
        }
#endif
        fbd_add_console(con);
    }
    qemu_spice_display_init_done();
}
