/*
 * QXL modes: the modes table of the ROM, the primary surface in COMPAT
 * (SET_MODE) and NATIVE (CREATE_PRIMARY) modes, and the VGA fallback of
 * qxl-vga.  d->mode and d->primary are this file's.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Mode changes run on vCPU threads or in the main loop with the BQL;
 * spice-server's worker reads d->mode (atomically) and d->primary only
 * while a primary exists.  Resetting the device around a mode change is
 * the caller's business (qxl-reset.c).
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qxl.h"
#include "qxl-limits.h"
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

/*
 * Hand the validated d->primary to spice-server: its pixels as a host
 * address (host memslot group), translated here once.  @c: async, the
 * request completes through it.
 */
static bool qxl_primary_to_spice(PCIQXLDevice *d, QXLCookie *c, bool loadvm)
{
    QXLSurfaceCreate *s = &d->primary;
    QXLGuestRange mem;
    QXLDevSurfaceCreate dev;

    if (!qxl_translate(d, s->mem, (uint64_t)s->height * ABS((int64_t)s->stride),
                       &mem)) {
        return false;   /* checked by the caller: only a vanished slot */
    }
    dev = (QXLDevSurfaceCreate) {
        .width = s->width,
        .height = s->height,
        .stride = s->stride,
        .format = s->format,
        .position = s->position,
        .mouse_mode = true,
        .flags = loadvm ? QXL_SURF_FLAG_KEEP_DATA : s->flags,
        .type = s->type,
        .mem = (uintptr_t)mem.host,
        .group_id = MEMSLOT_GROUP_HOST,
    };
    trace_qxl_primary_create(d->id, s->width, s->height, s->stride,
                             s->format, c != NULL);
    qxl_spice_create_primary(d, &dev, c);
    if (!c) {
        qxl_render_resize(d);
    }
    return true;
}

/*
 * CREATE_PRIMARY: the guest's ram->create_surface, copied once.  With
 * @loadvm, d->primary (migrated) is recreated instead.  Returns true when
 * the primary was handed to spice-server (and @c with it, if not NULL).
 */
bool qxl_create_primary(PCIQXLDevice *d, QXLCookie *c, bool loadvm)
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
        qxl_spice_destroy_primary(d, NULL);
    }
    d->mode = QXL_MODE_NATIVE;
    d->cmdflags = 0;
    d->primary = s;
    return qxl_primary_to_spice(d, c, loadvm);
}

/* @c: async, the request completes through it. */
void qxl_destroy_primary(PCIQXLDevice *d, QXLCookie *c)
{
    trace_qxl_primary_destroy(d->id, c != NULL);
    d->mode = QXL_MODE_UNDEFINED;
    qxl_spice_destroy_primary(d, c);
    qxl_cursor_reset(d);
}

/* The COMPAT mode SET_MODE @index would set, if the guest may set it. */
bool qxl_set_mode_check(PCIQXLDevice *d, uint32_t index)
{
    QXLMode m;

    if (!qxl_published_mode(d, index, &m)) {
        qxl_guest_bug(d, "SET_MODE: mode %u out of range (%u modes)",
                      index, d->num_modes);
        return false;
    }
    if (pci_get_bar_addr(&d->parent_obj, QXL_RAM_RANGE_INDEX) ==
        PCI_BAR_UNMAPPED) {
        qxl_guest_bug(d, "SET_MODE with BAR 0 unmapped");
        return false;
    }
    return true;
}

/*
 * SET_MODE (qxl-1 drivers): a bottom-up 32 bpp primary at the start of
 * BAR 0, addressed through slot 0 whose offsets are guest-physical.  On a
 * device just reset (the port) or just loaded (@loadvm).
 */
bool qxl_set_mode(PCIQXLDevice *d, uint32_t index, bool loadvm)
{
    uint64_t bar0 = pci_get_bar_addr(&d->parent_obj, QXL_RAM_RANGE_INDEX);
    QXLMode m;

    if (!qxl_set_mode_check(d, index)) {
        return false;
    }
    qxl_published_mode(d, index, &m);
    trace_qxl_compat_mode(d->id, index, m.x_res, m.y_res, m.bits);
    if (d->mode == QXL_MODE_VGA) {
        qxl_exit_vga_mode(d);
    }
    if (!qxl_memslot_add(d, 0, bar0, bar0 + d->vga.vram_size, bar0)) {
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
    return qxl_primary_to_spice(d, NULL, loadvm);
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
