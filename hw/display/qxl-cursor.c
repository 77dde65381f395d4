/*
 * QXL cursor commands: checked before spice-server sees them, tracked for
 * migration, and mirrored to QEMU's own displays (VNC, GTK).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qxl_cursor_cmd() runs in spice-server's worker thread.  The shape is
 * copied out of guest memory once, chunk by chunk, into a host buffer whose
 * size was bounded first; only that copy is validated and used (the
 * CVE-2021-4206/4207 class).  qxl_cursor_bh() hands the result to the
 * console in the main loop.
 */

#include "qemu/osdep.h"
#include "qxl.h"
#include "trace.h"

/* Largest cursor accepted: what QEMU's displays and clients handle. */
#define QXL_CURSOR_MAX_SIDE   512
#define QXL_CURSOR_MAX_DATA   (QXL_CURSOR_MAX_SIDE * QXL_CURSOR_MAX_SIDE * 4)

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
        *size = 0;      /* spice-server parses these; no fixed size */
        return true;
    default:
        return false;
    }
}

static QEMUCursor *qxl_cursor_build(const QXLCursorHeader *h,
                                    const uint8_t *data)
{
    QEMUCursor *c = cursor_alloc(h->width, h->height);

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

static bool qxl_cursor_set(PCIQXLDevice *d, QXLPHYSICAL shape,
                           QEMUCursor **local)
{
    QXLCursor cur;
    QXLCursorHeader h;
    uint64_t expect;
    g_autofree uint8_t *buf = NULL;

    if (!qxl_read_guest(d, shape, &cur, sizeof(cur))) {
        qxl_guest_bug(d, "cursor shape at 0x%" PRIx64 " outside memslots",
                      shape);
        return false;
    }
    h = (QXLCursorHeader) {
        .type = le16_to_cpu(cur.header.type),
        .width = le16_to_cpu(cur.header.width),
        .height = le16_to_cpu(cur.header.height),
        .hot_spot_x = le16_to_cpu(cur.header.hot_spot_x),
        .hot_spot_y = le16_to_cpu(cur.header.hot_spot_y),
    };
    if (!qxl_cursor_data_size(&h, &expect)) {
        qxl_guest_bug(d, "cursor of unknown type %u", h.type);
        return false;
    }
    if (h.width == 0 || h.height == 0 || h.width > QXL_CURSOR_MAX_SIDE ||
        h.height > QXL_CURSOR_MAX_SIDE) {
        qxl_guest_bug(d, "cursor size %ux%u out of range", h.width, h.height);
        return false;
    }
    if (expect == 0) {
        expect = le32_to_cpu(cur.data_size);
        if (expect > QXL_CURSOR_MAX_DATA) {
            qxl_guest_bug(d, "cursor data size %" PRIu64 " too large", expect);
            return false;
        }
    } else if (le32_to_cpu(cur.data_size) != expect) {
        qxl_guest_bug(d, "cursor %ux%u type %u: data size %u, expected %"
                      PRIu64, h.width, h.height, h.type,
                      le32_to_cpu(cur.data_size), expect);
        return false;
    }

    /* Only shapes QEMU's displays can show are copied. */
    if (h.type == SPICE_CURSOR_TYPE_ALPHA || h.type == SPICE_CURSOR_TYPE_MONO) {
        buf = g_malloc(expect);
    }
    if (!qxl_read_chunks(d, shape + offsetof(QXLCursor, chunk), expect,
                         buf)) {
        qxl_guest_bug(d, "cursor data chunks do not hold %" PRIu64 " bytes",
                      expect);
        return false;
    }
    if (buf) {
        *local = qxl_cursor_build(&h, buf);
    }
    return true;
}

/*
 * Check, track and mirror one cursor command.  @cmd receives the copy that
 * was checked.
 */
bool qxl_check_cursor_cmd(PCIQXLDevice *d, QXLPHYSICAL phys,
                          QXLCursorCmd *cmd)
{
    QEMUCursor *local = NULL;

    if (!qxl_read_guest(d, phys, cmd, sizeof(*cmd))) {
        qxl_guest_bug(d, "cursor command at 0x%" PRIx64 " outside memslots",
                      phys);
        return false;
    }
    switch (cmd->type) {
    case QXL_CURSOR_SET:
        if (!qxl_cursor_set(d, le64_to_cpu(cmd->u.set.shape), &local)) {
            return false;
        }
        break;
    case QXL_CURSOR_MOVE:
    case QXL_CURSOR_HIDE:
    case QXL_CURSOR_TRAIL:
        break;
    default:
        qxl_guest_bug(d, "cursor command of unknown type %u", cmd->type);
        return false;
    }
    trace_qxl_cursor(d->id, cmd->type);

    if (cmd->type == QXL_CURSOR_SET || cmd->type == QXL_CURSOR_HIDE) {
        qemu_mutex_lock(&d->track_lock);
        d->cursor_cmd = phys;
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
        d->cursor_x = (int16_t)le16_to_cpu(pos.x);
        d->cursor_y = (int16_t)le16_to_cpu(pos.y);
        d->cursor_moved = true;
    }
    qemu_mutex_unlock(&d->render_lock);
    qemu_bh_schedule(d->cursor_bh);
    return true;
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
