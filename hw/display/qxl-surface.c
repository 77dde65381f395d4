/*
 * QXL modes and surfaces: the modes table, the primary surface in COMPAT
 * (SET_MODE) and NATIVE (CREATE_PRIMARY) modes, the VGA fallback of
 * qxl-vga, and the table of the secondary surfaces spice-server holds
 * (shared with the worker under track_lock).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Mode changes run on vCPU threads or in the main loop with the BQL.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qxl-limits.h"
#include "qxl-snapshot.h"
#include "trace.h"

/* ---- modes table ------------------------------------------------------ */

/* Resolutions offered to qxl-1 drivers, each in 16 and 32 bpp, 2 ways. */
static const struct { uint16_t x, y; } qxl_resolutions[] = {
    { 640, 480 }, { 800, 480 }, { 800, 600 }, { 832, 624 }, { 960, 640 },
    { 1024, 600 }, { 1024, 768 }, { 1152, 864 }, { 1152, 870 },
    { 1280, 720 }, { 1280, 760 }, { 1280, 768 }, { 1280, 800 },
    { 1280, 960 }, { 1280, 1024 }, { 1360, 768 }, { 1366, 768 },
    { 1400, 1050 }, { 1440, 900 }, { 1600, 900 }, { 1600, 1200 },
    { 1680, 1050 }, { 1920, 1080 }, { 1920, 1200 }, { 1920, 1440 },
    { 2000, 2000 }, { 2048, 1536 }, { 2048, 2048 }, { 2560, 1440 },
    { 2560, 1600 }, { 2560, 2048 }, { 2800, 2100 }, { 3200, 2400 },
    { 3840, 2160 }, { 4096, 2160 }, { 7680, 4320 }, { 8192, 4320 },
};

/* Entries per resolution: (16, 32 bpp) x (orientation 0, 1). */
#define QXL_MODES_PER_RES 4

uint32_t qxl_modes_max(void)
{
    return ARRAY_SIZE(qxl_resolutions) * QXL_MODES_PER_RES;
}

/* Table entry @id, whether or not it is published. */
static QXLMode qxl_mode_entry(uint32_t id)
{
    uint32_t x = qxl_resolutions[id / QXL_MODES_PER_RES].x;
    uint32_t y = qxl_resolutions[id / QXL_MODES_PER_RES].y;
    uint32_t bits = id % 2 ? 32 : 16;

    /* Sizes in mm at 0.2936875 mm per pixel (about 86 dpi). */
    return (QXLMode) {
        .id = id,
        .x_res = x,
        .y_res = y,
        .bits = bits,
        .stride = x * bits / 8,
        .x_mili = (uint64_t)x * 2936875 / 10000000,
        .y_mili = (uint64_t)y * 2936875 / 10000000,
        .orientation = (id / 2) % 2,
    };
}

/* Published modes are those whose frame fits in vgamem. */
static bool qxl_mode_fits(const QXLMode *m, uint32_t vgamem)
{
    return (uint64_t)m->y_res * m->stride <= vgamem;
}

/* Fill the ROM's modes table; returns how many modes it holds. */
uint32_t qxl_build_modes(QXLModes *modes, uint32_t vgamem, uint32_t max)
{
    uint32_t n = 0;

    for (uint32_t id = 0; id < qxl_modes_max() && n < max; id++) {
        QXLMode m = qxl_mode_entry(id);

        if (!qxl_mode_fits(&m, vgamem)) {
            continue;
        }
        modes->modes[n++] = (QXLMode) {
            .id = cpu_to_le32(m.id),
            .x_res = cpu_to_le32(m.x_res),
            .y_res = cpu_to_le32(m.y_res),
            .bits = cpu_to_le32(m.bits),
            .stride = cpu_to_le32(m.stride),
            .x_mili = cpu_to_le32(m.x_mili),
            .y_mili = cpu_to_le32(m.y_mili),
            .orientation = cpu_to_le32(m.orientation),
        };
    }
    modes->n_modes = cpu_to_le32(n);
    return n;
}

/* The @index-th published mode (SET_MODE counts in the published list). */
static bool qxl_published_mode(PCIQXLDevice *d, uint32_t index, QXLMode *out)
{
    for (uint32_t id = 0, n = 0; id < qxl_modes_max(); id++) {
        QXLMode m = qxl_mode_entry(id);

        if (qxl_mode_fits(&m, d->vgamem_size) && n++ == index) {
            *out = m;
            return true;
        }
    }
    return false;
}

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

/* ---- primary surface -------------------------------------------------- */

static bool qxl_check_primary(PCIQXLDevice *d, const QXLSurfaceCreate *s)
{
    uint32_t bpp;
    QXLGuestRange r;

    switch (s->format) {
    case SPICE_SURFACE_FMT_16_555:
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
        break;
    default:
        qxl_guest_bug(d, "primary: unsupported format %u", s->format);
        return false;
    }
    if (!qxl_check_surface_format(s->format, s->width, s->height, s->stride,
                                  &bpp)) {
        qxl_guest_bug(d, "primary: bad geometry %ux%u stride %d",
                      s->width, s->height, s->stride);
        return false;
    }
    if ((uint64_t)s->height * ABS((int64_t)s->stride) > d->vgamem_size) {
        qxl_guest_bug(d, "primary: %ux%u stride %d does not fit in vgamem "
                      "(%u MiB)", s->width, s->height, s->stride,
                      d->vgamem_size_mb);
        return false;
    }
    if (!qxl_translate(d, s->mem,
                       (uint64_t)s->height * ABS((int64_t)s->stride), &r)) {
        qxl_guest_bug(d, "primary: %ux%u stride %d at 0x%" PRIx64
                      " is not inside a memslot", s->width, s->height,
                      s->stride, s->mem);
        return false;
    }
    return true;
}

/* Hand the validated d->primary to spice-server. */
static void qxl_primary_to_spice(PCIQXLDevice *d, bool async,
                                     bool loadvm)
{
    QXLSurfaceCreate *s = &d->primary;
    QXLDevSurfaceCreate dev = {
        .width = s->width,
        .height = s->height,
        .stride = s->stride,
        .format = s->format,
        .position = s->position,
        .mouse_mode = true,
        .flags = loadvm ? QXL_SURF_FLAG_KEEP_DATA : s->flags,
        .type = s->type,
        .mem = s->mem,
        .group_id = MEMSLOT_GROUP_GUEST,
    };

    trace_qxl_primary_create(d->id, s->width, s->height, s->stride,
                             s->format, async);
    if (async) {
        qxl_spice_create_primary(d, &dev,
            qxl_cookie(d, QXL_COOKIE_IO, QXL_IO_CREATE_PRIMARY_ASYNC));
    } else {
        qxl_spice_create_primary(d, &dev, 0);
        qxl_render_resize(d);
    }
}

/*
 * CREATE_PRIMARY: the guest's ram->create_surface, copied once.  With
 * @loadvm, d->primary (migrated) is recreated instead.  Returns true when
 * an async request was started.
 */
bool qxl_create_primary(PCIQXLDevice *d, bool async, bool loadvm)
{
    QXLSurfaceCreate s;

    if (!loadvm) {
        QXLSurfaceCreate raw = d->ram->create_surface;

        s = (QXLSurfaceCreate) {
            .width = le32_to_cpu(raw.width),
            .height = le32_to_cpu(raw.height),
            .stride = le32_to_cpu(raw.stride),
            .format = le32_to_cpu(raw.format),
            .position = le32_to_cpu(raw.position),
            .mouse_mode = le32_to_cpu(raw.mouse_mode),
            .flags = le32_to_cpu(raw.flags),
            .type = le32_to_cpu(raw.type),
            .mem = le64_to_cpu(raw.mem),
        };
    } else {
        s = d->primary;
    }
    if (d->mode == QXL_MODE_NATIVE && !loadvm) {
        qxl_guest_bug(d, "CREATE_PRIMARY while a primary exists");
        return false;
    }
    if (!qxl_check_primary(d, &s)) {
        return false;
    }
    if (d->mode == QXL_MODE_VGA) {
        qxl_exit_vga_mode(d);
    } else if (d->mode == QXL_MODE_COMPAT) {
        /* From a qxl-1 mode to a native primary. */
        qxl_spice_destroy_primary(d, 0);
    }
    d->mode = QXL_MODE_NATIVE;
    d->cmdflags = 0;
    d->primary = s;
    qxl_primary_to_spice(d, async, loadvm);
    return async;
}

void qxl_destroy_primary(PCIQXLDevice *d, bool async)
{
    trace_qxl_primary_destroy(d->id, async);
    d->mode = QXL_MODE_UNDEFINED;
    qxl_spice_destroy_primary(d, async ? qxl_cookie(d, QXL_COOKIE_IO,
                                   QXL_IO_DESTROY_PRIMARY_ASYNC) : 0);
    qxl_cursor_reset(d);
}

/*
 * SET_MODE (qxl-1 drivers): a bottom-up 32 bpp primary at the start of
 * BAR 0, addressed through slot 0 whose offsets are guest-physical.
 */
bool qxl_set_mode(PCIQXLDevice *d, uint32_t index, bool loadvm)
{
    uint64_t bar0 = pci_get_bar_addr(&d->parent_obj, QXL_RAM_RANGE_INDEX);
    QXLMode m;

    if (!qxl_published_mode(d, index, &m)) {
        qxl_guest_bug(d, "SET_MODE: mode %u out of range (%u modes)",
                      index, d->num_modes);
        return false;
    }
    if (bar0 == PCI_BAR_UNMAPPED) {
        qxl_guest_bug(d, "SET_MODE with BAR 0 unmapped");
        return false;
    }
    trace_qxl_compat_mode(d->id, index, m.x_res, m.y_res, m.bits);
    if (!loadvm) {
        qxl_hard_reset(d, false);
    }
    if (d->mode == QXL_MODE_VGA) {
        qxl_exit_vga_mode(d);
    }
    if (!qxl_memslot_add(d, 0, bar0, bar0 + d->vga.vram_size, bar0, false)) {
        return false;
    }
    d->primary = (QXLSurfaceCreate) {
        .width = m.x_res,
        .height = m.y_res,
        .stride = -(int32_t)m.x_res * 4,
        .format = SPICE_SURFACE_FMT_32_xRGB,
        .mem = bar0,     /* slot 0, generation 0, offset = address */
    };
    d->mode = QXL_MODE_COMPAT;
    d->cmdflags = QXL_COMMAND_FLAG_COMPAT |
                  (m.bits == 16 ? QXL_COMMAND_FLAG_COMPAT_16BPP : 0);
    d->rom_mode = index;
    d->rom->mode = cpu_to_le32(index);
    qxl_rom_set_dirty(d);
    qxl_primary_to_spice(d, false, loadvm);
    return true;
}

/* ---- VGA fallback (qxl-vga) ------------------------------------------- */

void qxl_enter_vga_mode(PCIQXLDevice *d)
{
    if (d->mode == QXL_MODE_VGA || !d->vga_export) {
        return;
    }
    trace_qxl_vga_mode(d->id, true);
    qxl_spice_driver_unload(d);
    vga_dirty_log_start(&d->vga);
    qatomic_set(&d->mode, QXL_MODE_VGA);
    d->vga.hw_ops->invalidate(&d->vga);
    spice_fb_export_start(d->vga_export);
}

void qxl_exit_vga_mode(PCIQXLDevice *d)
{
    if (d->mode != QXL_MODE_VGA) {
        return;
    }
    trace_qxl_vga_mode(d->id, false);
    spice_fb_export_stop(d->vga_export);
    vga_dirty_log_stop(&d->vga);
    qatomic_set(&d->mode, QXL_MODE_UNDEFINED);
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
