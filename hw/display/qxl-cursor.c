/*
 * QXL cursor commands: the rules for cursor shapes, tracking for
 * migration, and the mirror on QEMU's own displays (VNC, GTK).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qxl-snapshot.c copies a cursor command and its shape out of guest memory
 * once, after qxl_cursor_shape_size() bounded the shape (the
 * CVE-2021-4206/4207 class); qxl_cursor_accept() then runs in
 * spice-server's worker thread on that copy, and qxl_cursor_bh() hands the
 * result to the console in the main loop.
 */

#include "qemu/osdep.h"
#include "qxl.h"
#include "qxl-limits.h"
#include "trace.h"

/* Bytes of shape data a cursor of this type and size must have. */
static bool qxl_cursor_data_size(const QXLCursorHeader *h, uint64_t *size)
{
    uint64_t w = h->width, hgt = h->height;

    switch (h->type) {
    case SPICE_CURSOR_TYPE_ALPHA:
        *size = w * hgt * 4;
        return true;
    case SPICE_CURSOR_TYPE_MONO:
        *size = 2 * ((w + 7) / 8) * hgt;    /* AND mask, then XOR mask */
        return true;
    case SPICE_CURSOR_TYPE_COLOR4:
    case SPICE_CURSOR_TYPE_COLOR8:
    case SPICE_CURSOR_TYPE_COLOR16:
    case SPICE_CURSOR_TYPE_COLOR24:
    case SPICE_CURSOR_TYPE_COLOR32:
        *size = 0;      /* only clients decode these; no fixed size */
        return true;
    default:
        return false;
    }
}

/*
 * Check a cursor shape's header (a copy) and give the bytes of shape data
 * it must come with; false on a guest bug.
 */
bool qxl_cursor_shape_size(PCIQXLDevice *d, const QXLCursorHeader *h,
                           uint32_t data_size, uint64_t *size)
{
    uint64_t expect;

    if (!qxl_cursor_data_size(h, &expect)) {
        qxl_guest_bug(d, "cursor of unknown type %u", h->type);
        return false;
    }
    if (h->width == 0 || h->height == 0 || h->width > QXL_MAX_CURSOR_SIDE ||
        h->height > QXL_MAX_CURSOR_SIDE) {
        qxl_guest_bug(d, "cursor size %ux%u out of range", h->width,
                      h->height);
        return false;
    }
    if (expect == 0) {
        if (data_size > QXL_MAX_CURSOR_BYTES) {
            qxl_guest_bug(d, "cursor data size %u too large", data_size);
            return false;
        }
        expect = data_size;
    } else if (data_size != expect) {
        qxl_guest_bug(d, "cursor %ux%u type %u: data size %u, expected %"
                      PRIu64, h->width, h->height, h->type, data_size,
                      expect);
        return false;
    }
    *size = expect;
    return true;
}

static QEMUCursor *qxl_cursor_build(const QXLCursor *shape)
{
    const QXLCursorHeader *h = &shape->header;
    const uint8_t *data = shape->chunk.data;
    QEMUCursor *c;

    if (h->type != SPICE_CURSOR_TYPE_ALPHA &&
        h->type != SPICE_CURSOR_TYPE_MONO) {
        return NULL;    /* QEMU's displays show these two kinds only */
    }
    c = cursor_alloc(h->width, h->height);
    if (!c) {
        return NULL;
    }
    c->hot_x = h->hot_spot_x;
    c->hot_y = h->hot_spot_y;
    if (h->type == SPICE_CURSOR_TYPE_ALPHA) {
        memcpy(c->data, data, (size_t)h->width * h->height * 4);
    } else {
        size_t plane = ((h->width + 7) / 8) * h->height;

        cursor_set_mono(c, 0xffffff, 0x000000, (uint8_t *)data + plane, 1,
                        (uint8_t *)data);
    }
    return c;
}

/*
 * Worker thread: an accepted cursor command (the snapshot's checked copy,
 * its shape a host pointer) is tracked for migration and mirrored to the
 * local displays.
 */
void qxl_cursor_accept(PCIQXLDevice *d, const QXLCursorCmd *cmd,
                       QXLPHYSICAL guest_cmd)
{
    QEMUCursor *local = NULL;

    trace_qxl_cursor(d->id, cmd->type);
    if (cmd->type == QXL_CURSOR_SET) {
        local = qxl_cursor_build((QXLCursor *)(uintptr_t)cmd->u.set.shape);
    }
    if (cmd->type == QXL_CURSOR_SET || cmd->type == QXL_CURSOR_HIDE) {
        qemu_mutex_lock(&d->track_lock);
        d->cursor_cmd = guest_cmd;
        qemu_mutex_unlock(&d->track_lock);
    }

    qemu_mutex_lock(&d->render_lock);
    if (local) {
        if (d->pending_cursor) {
            cursor_unref(d->pending_cursor);
        }
        d->pending_cursor = local;
    }
    if (cmd->type == QXL_CURSOR_SET || cmd->type == QXL_CURSOR_MOVE) {
        QXLPoint16 pos = cmd->type == QXL_CURSOR_SET ? cmd->u.set.position
                                                     : cmd->u.position;
        d->cursor_x = pos.x;
        d->cursor_y = pos.y;
        d->cursor_moved = true;
    }
    qemu_mutex_unlock(&d->render_lock);
    qemu_bh_schedule(d->cursor_bh);
}

/* Main loop: give the console the latest shape and position. */
void qxl_cursor_bh(void *opaque)
{
    PCIQXLDevice *d = opaque;
    QEMUCursor *c;
    bool moved;
    int x, y;

    qemu_mutex_lock(&d->render_lock);
    c = d->pending_cursor;
    d->pending_cursor = NULL;
    moved = d->cursor_moved;
    d->cursor_moved = false;
    x = d->cursor_x;
    y = d->cursor_y;
    qemu_mutex_unlock(&d->render_lock);

    if (c) {
        dpy_cursor_define(d->con, c);
        cursor_unref(c);
    }
    if (moved) {
        dpy_mouse_set(d->con, x, y, true);
    }
}

void qxl_cursor_reset(PCIQXLDevice *d)
{
    qemu_mutex_lock(&d->render_lock);
    if (d->pending_cursor) {
        cursor_unref(d->pending_cursor);
    }
    d->pending_cursor = cursor_builtin_hidden();
    qemu_mutex_unlock(&d->render_lock);
    qemu_bh_schedule(d->cursor_bh);
}
