/*
 * QXL command snapshots.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * spice-server aborts the whole process on malformed commands, and it
 * reads guest memory itself: a check of guest memory that spice-server
 * then reads again proves nothing, since the guest may change it in
 * between.  So when the worker takes a command, this file reads the
 * command and everything it points to exactly once, through the memslot
 * door (qxl-memslot.c), into host memory it owns; checks the copy against
 * what spice-server would abort on or read past; and rewrites every
 * pointer in it to a host address.  spice-server is given the copy in the
 * host memslot group (slot 0 of group 0 maps host memory as itself), so
 * it never translates a guest address of a command again.
 *
 * What stays in guest memory: surface pixels (the surface's bounds are
 * fixed when it is created), and the pixel payload of direct-colour
 * bitmaps, whose size and stride are fixed in the copy and in which every
 * byte value is harmless.  Everything that is interpreted (chunk headers,
 * palettes and palette indices, glyphs, paths, clip rects, cursor shapes)
 * is copied.
 *
 * A snapshot keeps the guest's release id and where the guest's
 * QXLReleaseInfo is: release_resource puts that id on the release ring
 * (qxl-ring.c).  Live snapshots are charged to a per-device budget.
 *
 * QXL is little-endian only (spice-server reads these layouts natively),
 * so fields are used as they are.
 *
 * Runs in spice-server's worker thread (take, accept, release) except the
 * migration replay (main loop, with the worker stopped).  The surface table
 * is shared with the vCPU threads' I/O handlers under track_lock.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "qxl-limits.h"
#include "qxl-walk.h"
#include "trace.h"

QEMU_BUILD_BUG_ON(HOST_BIG_ENDIAN);

/* The release id spice-server sees in our copies: not a host address. */
#define QXL_SNAPSHOT_TAG        0x51584c534e415053ULL

/* ---- commands ----------------------------------------------------------- */

static bool walk_update(QXLWalk *w, QXLPHYSICAL phys, bool compat)
{
    QXLUpdateCmd *up = &w->s->root.update;
    const QXLRect *a = &up->area;
    uint32_t width, height;

    if (compat) {
        QXLCompatUpdateCmd c;

        if (!qxl_walk_read(w, phys, &c, sizeof(c), "update command")) {
            return false;
        }
        *up = (QXLUpdateCmd) {
            .release_info = c.release_info,
            .area = c.area,
            .update_id = c.update_id,
        };
    } else if (!qxl_walk_read(w, phys, up, sizeof(*up), "update command")) {
        return false;
    }
    if (!qxl_walk_surface_id(w, up->surface_id, "update")) {
        return false;
    }
    if (!qxl_surface_size(w->d, up->surface_id, &width, &height)) {
        qxl_guest_bug(w->d, "update of surface %u, which does not exist",
                      up->surface_id);
        return false;
    }
    /* spice-server aborts on an empty area and writes any area given. */
    if (a->left < 0 || a->top < 0 || a->left >= a->right ||
        a->top >= a->bottom || a->right > width || a->bottom > height) {
        qxl_guest_bug(w->d, "update area (%d,%d)-(%d,%d) empty or outside "
                      "surface %u (%ux%u)", a->left, a->top, a->right,
                      a->bottom, up->surface_id, width, height);
        return false;
    }
    return true;
}

static bool walk_surface_cmd(QXLWalk *w, QXLPHYSICAL phys)
{
    QXLSurfaceCmd *cmd = &w->s->root.surface;
    QXLSurface *s = &cmd->u.surface_create;
    uint32_t bpp, state;
    QXLGuestRange r;

    if (!qxl_walk_read(w, phys, cmd, sizeof(*cmd), "surface command") ||
        !qxl_walk_surface_id(w, cmd->surface_id, "surface")) {
        return false;
    }
    if (cmd->surface_id == 0) {
        qxl_guest_bug(w->d, "surface command for surface 0 (the primary)");
        return false;
    }
    state = qxl_surface_life(w->d, cmd->surface_id);
    /*
     * One destroy per create: spice-server ignores a create of a surface
     * it still holds, and a second destroy breaks its reference count.
     */
    if (cmd->type == QXL_SURFACE_CMD_DESTROY) {
        if (state != QXL_SURFACE_LIVE) {
            qxl_guest_bug(w->d, "surface %u destroyed while it does not "
                          "exist", cmd->surface_id);
            return false;
        }
        return true;
    }
    if (cmd->type != QXL_SURFACE_CMD_CREATE) {
        qxl_guest_bug(w->d, "surface command of type %u", cmd->type);
        return false;
    }
    if (state != QXL_SURFACE_FREE) {
        qxl_guest_bug(w->d, "surface %u created while it exists",
                      cmd->surface_id);
        return false;
    }
    if (!qxl_check_surface_format(s->format, s->width, s->height, s->stride,
                                  &bpp)) {
        qxl_guest_bug(w->d, "surface %u: bad geometry %ux%u stride %d "
                      "format %u", cmd->surface_id, s->width, s->height,
                      s->stride, s->format);
        return false;
    }
    if (!qxl_translate(w->d, s->data,
                       (uint64_t)s->height * ABS((int64_t)s->stride), &r)) {
        qxl_guest_bug(w->d, "surface %u: memory outside memslots",
                      cmd->surface_id);
        return false;
    }
    s->data = (uintptr_t)r.host;
    w->s->surface_mem = r;
    return true;
}

static bool walk_cursor_shape(QXLWalk *w, void *field)
{
    QXLPHYSICAL phys = ldq_le_p(field);
    QXLCursor head;
    QXLCursor *copy;
    uint64_t size;

    if (!qxl_walk_read(w, phys, &head, sizeof(head), "cursor shape")) {
        return false;
    }
    if (!qxl_cursor_shape_size(w->d, &head.header, head.data_size, &size)) {
        return false;
    }
    copy = qxl_walk_chunked(w, phys, sizeof(head), size, 0, "cursor shape");
    if (!copy) {
        return false;
    }
    copy->header = head.header;
    copy->data_size = size;
    stq_le_p(field, (uintptr_t)copy);
    return true;
}

static bool walk_cursor_cmd(QXLWalk *w, QXLPHYSICAL phys)
{
    QXLCursorCmd *cmd = &w->s->root.cursor;

    if (!qxl_walk_read(w, phys, cmd, sizeof(*cmd), "cursor command")) {
        return false;
    }
    switch (cmd->type) {
    case QXL_CURSOR_SET:
        return walk_cursor_shape(w, &cmd->u.set.shape);
    case QXL_CURSOR_MOVE:
    case QXL_CURSOR_HIDE:
    case QXL_CURSOR_TRAIL:
        return true;
    default:
        qxl_guest_bug(w->d, "cursor command of type %u", cmd->type);
        return false;
    }
}

/* Messages are only traced: spice-server never sees them. */
static bool walk_message(QXLWalk *w, QXLPHYSICAL phys)
{
    char text[QXL_MAX_MESSAGE_TRACE + 1];
    QXLGuestRange r;
    uint64_t n;

    if (!qxl_walk_read(w, phys, &w->s->root.message, sizeof(QXLMessage),
                   "message command")) {
        return false;
    }
    n = 0;
    if (qxl_translate(w->d, phys + sizeof(QXLMessage), 1, &r)) {
        /* As much of the text as lies in the slot, up to the limit. */
        while (n < QXL_MAX_MESSAGE_TRACE &&
               qxl_read_guest(w->d, phys + sizeof(QXLMessage) + n, &text[n],
                              1) && text[n]) {
            n++;
        }
    }
    text[n] = 0;
    trace_qxl_message(w->d->id, text);
    w->s->dropped = true;
    return true;
}

QXLSnapshot *qxl_snapshot_take(PCIQXLDevice *d, const QXLCommand *cmd,
                               bool cursor_ring, QXLCommandExt *ext)
{
    QXLSnapshot *s = g_new0(QXLSnapshot, 1);
    QXLWalk w = {
        .d = d,
        .s = s,
        .budget = d->snapshot_budget,
        .deps = { -1, -1, -1 },
    };
    bool compat = d->cmdflags & QXL_COMMAND_FLAG_COMPAT;
    QXLGuestRange info;
    bool ok;

    s->type = cmd->type;
    s->guest_cmd = cmd->data;
    s->bytes = sizeof(*s);
    s->free_ptr = s->arena;
    s->free_len = sizeof(s->arena);

    qemu_mutex_lock(&d->slots_lock);
    if (cursor_ring != (cmd->type == QXL_CMD_CURSOR)) {
        qxl_guest_bug(d, "%s ring: command of type %u",
                      cursor_ring ? "cursor" : "command", cmd->type);
        ok = false;
    } else {
        switch (cmd->type) {
        case QXL_CMD_DRAW:
            ok = qxl_walk_drawable(&w, cmd->data, compat);
            break;
        case QXL_CMD_UPDATE:
            ok = walk_update(&w, cmd->data, compat);
            break;
        case QXL_CMD_SURFACE:
            ok = walk_surface_cmd(&w, cmd->data);
            break;
        case QXL_CMD_CURSOR:
            ok = walk_cursor_cmd(&w, cmd->data);
            break;
        case QXL_CMD_MESSAGE:
            ok = walk_message(&w, cmd->data);
            break;
        default:
            /* spice-server aborts on any other type, even NOP */
            qxl_guest_bug(d, "command of type %u", cmd->type);
            ok = false;
            break;
        }
    }
    /*
     * Where the guest's release info is, for the release ring: in BAR 0,
     * where the migration stream can name it.
     */
    if (ok && (!qxl_translate(d, cmd->data, sizeof(QXLReleaseInfo), &info) ||
               !qxl_host_ptr_in_ram(d, info.host, sizeof(QXLReleaseInfo),
                                    &s->guest_info) ||
               s->guest_info + sizeof(QXLReleaseInfo) > d->vga.vram_size)) {
        qxl_guest_bug(d, "command at 0x%" PRIx64 " outside BAR 0",
                      cmd->data);
        ok = false;
    }
    qemu_mutex_unlock(&d->slots_lock);

    if (!ok) {
        qxl_snapshot_free(NULL, s);
        return NULL;
    }
    s->guest_id = s->root.release_info.id;
    s->root.release_info.id = QXL_SNAPSHOT_TAG;
    trace_qxl_snapshot_take(d->id, s->type, cmd->data, s->bytes);

    *ext = (QXLCommandExt) {
        .cmd.data = (uintptr_t)&s->root,
        .cmd.type = cmd->type,
        .group_id = MEMSLOT_GROUP_HOST,
        /* Drawables are handed over in the native layout. */
        .flags = d->cmdflags & ~QXL_COMMAND_FLAG_COMPAT,
    };
    return s;
}

void qxl_snapshot_accept(PCIQXLDevice *d, QXLSnapshot *s)
{
    uint64_t bytes = qatomic_add_fetch(&d->snapshot_bytes, s->bytes);

    qatomic_set(&d->snapshot_taken, d->snapshot_taken + s->bytes);

    s->accepted = true;
    if (bytes > qatomic_read(&d->snapshot_peak)) {
        qatomic_set(&d->snapshot_peak, bytes);
    }

    switch (s->type) {
    case QXL_CMD_SURFACE: {
        const QXLSurfaceCmd *cmd = &s->root.surface;

        if (cmd->type == QXL_SURFACE_CMD_CREATE) {
            QXLSurfaceState st = {
                .width = cmd->u.surface_create.width,
                .height = cmd->u.surface_create.height,
                .format = cmd->u.surface_create.format,
                .mem = s->surface_mem,
                .owner = s,
            };

            qxl_surface_track_create(d, cmd->surface_id, &st, s->guest_cmd);
        } else {
            qxl_surface_track_destroy(d, cmd->surface_id);
        }
        break;
    }
    case QXL_CMD_CURSOR:
        qxl_cursor_accept(d, &s->root.cursor, s->guest_cmd);
        break;
    }
}

QXLSnapshot *qxl_snapshot_from_release(QXLReleaseInfoExt ext)
{
    if (ext.group_id != MEMSLOT_GROUP_HOST || !ext.info ||
        ext.info->id != QXL_SNAPSHOT_TAG) {
        return NULL;
    }
    return container_of(ext.info, QXLSnapshot, root.release_info);
}

uint64_t qxl_snapshot_guest_id(const QXLSnapshot *s)
{
    return s->guest_id;
}

uint64_t qxl_snapshot_guest_info(const QXLSnapshot *s)
{
    return s->guest_info;
}

uint32_t qxl_snapshot_type(const QXLSnapshot *s)
{
    return s->type;
}

bool qxl_snapshot_dropped(const QXLSnapshot *s)
{
    return s->dropped;
}

/*
 * Free a snapshot; if it was accepted, give its bytes back to @d's budget
 * and, for a surface's create command, free the surface id.
 */
void qxl_snapshot_free(PCIQXLDevice *d, QXLSnapshot *s)
{
    if (s->accepted) {
        qatomic_sub(&d->snapshot_bytes, s->bytes);
        if (s->type == QXL_CMD_SURFACE &&
            s->root.surface.type == QXL_SURFACE_CMD_CREATE) {
            qxl_surface_track_release(d, s->root.surface.surface_id, s);
        }
    }
    g_slist_free_full(s->blocks, g_free);
    g_free(s);
}

bool qxl_snapshot_budget_full(PCIQXLDevice *d)
{
    return qatomic_read(&d->snapshot_bytes) >= d->snapshot_budget;
}
