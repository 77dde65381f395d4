/*
 * QXL surfaces: the geometry spice-server accepts, and the table of the
 * secondary surfaces it holds (shared with the worker under track_lock).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The command snapshots (qxl-snapshot.c, worker thread) record creates,
 * destroys and releases here; ports and migration read and reset it with
 * the BQL.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qxl.h"
#include "qxl-limits.h"
#include "trace.h"

/* ---- surface geometry ------------------------------------------------- */

/*
 * Geometry spice-server and pixman accept: a known format, 1..16384 pixels
 * each way, a stride that holds a line, is a multiple of 4 and is not
 * INT32_MIN, and a size below 2 GiB.
 */
bool qxl_check_surface_format(uint32_t format, uint32_t width,
                              uint32_t height, int32_t stride, uint32_t *bpp)
{
    uint64_t abs_stride;

    /*
     * spice-server aborts on 1_A and 16_565 surfaces as soon as a client
     * needs their pixels (and fills past 1_A ones).
     */
    switch (format) {
    case SPICE_SURFACE_FMT_8_A:
        *bpp = 8;
        break;
    case SPICE_SURFACE_FMT_16_555:
        *bpp = 16;
        break;
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
        *bpp = 32;
        break;
    default:
        return false;
    }
    if (width == 0 || height == 0 || width > QXL_MAX_SURFACE_SIDE ||
        height > QXL_MAX_SURFACE_SIDE || stride == INT32_MIN) {
        return false;
    }
    abs_stride = ABS((int64_t)stride);
    return abs_stride % 4 == 0 &&
           abs_stride >= ((uint64_t)width * *bpp + 7) / 8 &&
           abs_stride * height < 2 * GiB;
}

/* ---- secondary surfaces spice-server holds ----------------------------- */

/*
 * A secondary surface is LIVE from the accepted command that creates it,
 * DYING once a command or port destroys it, and FREE again only when
 * spice-server releases its create command, which it does when it frees
 * the surface.  Until then spice-server still draws into it with the size
 * it was created with, and ignores another create: so does the device.
 */
void qxl_surfaces_init(PCIQXLDevice *d)
{
    d->surfaces = g_new0(QXLSurfaceState, d->num_surfaces);
}

void qxl_surfaces_cleanup(PCIQXLDevice *d)
{
    g_free(d->surfaces);
    d->surfaces = NULL;
}

/* A surface spice-server holds (the primary included), into @out. */
bool qxl_surface_held(PCIQXLDevice *d, uint32_t surface_id,
                             QXLSurfaceState *out)
{
    bool held = false;

    if (surface_id == 0) {
        uint32_t mode = qatomic_read(&d->mode);

        if (mode != QXL_MODE_NATIVE && mode != QXL_MODE_COMPAT) {
            return false;
        }
        *out = (QXLSurfaceState) {
            .width = d->primary.width,
            .height = d->primary.height,
            .format = d->primary.format,
        };
        return true;
    }
    if (surface_id >= d->num_surfaces) {
        return false;
    }
    WITH_QEMU_LOCK_GUARD(&d->track_lock) {
        if (d->surfaces[surface_id].state != QXL_SURFACE_FREE) {
            *out = d->surfaces[surface_id];
            held = true;
        }
    }
    return held;
}

/* Size of a surface spice-server holds; false if it holds none. */
bool qxl_surface_size(PCIQXLDevice *d, uint32_t surface_id, uint32_t *width,
                      uint32_t *height)
{
    QXLSurfaceState held;

    if (!qxl_surface_held(d, surface_id, &held)) {
        return false;
    }
    *width = held.width;
    *height = held.height;
    return true;
}

uint32_t qxl_surface_depth(uint32_t format)
{
    return format == SPICE_SURFACE_FMT_8_A ? 8 :
           format == SPICE_SURFACE_FMT_16_555 ? 16 : 32;
}

/*
 * Mark the pixels of every surface spice-server holds dirty: it writes
 * them behind QEMU's back (migration, qxl-migrate.c).
 */
void qxl_surfaces_set_dirty(PCIQXLDevice *d)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    for (uint32_t i = 1; i < d->num_surfaces; i++) {
        if (d->surfaces[i].state != QXL_SURFACE_FREE) {
            qxl_guest_range_set_dirty(&d->surfaces[i].mem);
        }
    }
}

/* A port destroyed @surface_id (or all surfaces, for UINT32_MAX). */
void qxl_surfaces_destroyed(PCIQXLDevice *d, uint32_t surface_id)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    for (uint32_t i = 1; i < d->num_surfaces; i++) {
        if ((surface_id == UINT32_MAX || i == surface_id) &&
            d->surfaces[i].state == QXL_SURFACE_LIVE) {
            d->surfaces[i].state = QXL_SURFACE_DYING;
        }
        if (surface_id == UINT32_MAX || i == surface_id) {
            d->surface_cmds[i] = 0;
        }
    }
}

/* Accepted (qxl-snapshot.c): a command creating surface @id. */
void qxl_surface_track_create(PCIQXLDevice *d, uint32_t id,
                              const QXLSurfaceState *st, QXLPHYSICAL cmd)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    d->surfaces[id] = *st;
    d->surfaces[id].state = QXL_SURFACE_LIVE;
    d->surface_cmds[id] = cmd;
}

/* Accepted (qxl-snapshot.c): a command destroying surface @id. */
void qxl_surface_track_destroy(PCIQXLDevice *d, uint32_t id)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    if (d->surfaces[id].state == QXL_SURFACE_LIVE) {
        d->surfaces[id].state = QXL_SURFACE_DYING;
    }
    d->surface_cmds[id] = 0;
}

/* spice-server released the create command @owner of surface @id. */
void qxl_surface_track_release(PCIQXLDevice *d, uint32_t id, void *owner)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    if (d->surfaces[id].owner == owner) {
        d->surfaces[id] = (QXLSurfaceState) { .state = QXL_SURFACE_FREE };
    }
}

/* The life of surface @id (QXL_SURFACE_*). */
uint32_t qxl_surface_life(PCIQXLDevice *d, uint32_t id)
{
    QEMU_LOCK_GUARD(&d->track_lock);
    return d->surfaces[id].state;
}

/* ---- tracking for migration ------------------------------------------- */

/*
 * Forget the surfaces and cursor the stream would carry.  The surfaces
 * themselves are gone once spice-server releases their create commands.
 */
void qxl_track_reset(PCIQXLDevice *d)
{
    qxl_surfaces_destroyed(d, UINT32_MAX);
    qemu_mutex_lock(&d->track_lock);
    d->cursor_cmd = 0;
    qemu_mutex_unlock(&d->track_lock);
}
