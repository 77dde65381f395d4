/*
 * QXL binding to spice-server, calls in: the QXLInterface callbacks.  The
 * top of the device: spice-server calls here, and these call down into the
 * rings, the monitors config and local rendering.  Requests the device
 * makes of spice-server (spice_qxl_*) are qxl-worker.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every callback here but get_init_info and client_monitors_config runs in
 * spice-server's display worker thread, without the BQL: they hand work to
 * the ring code (which only touches guest RAM and its own locks) or to
 * bottom halves that run in the main loop.
 */

#include "qemu/osdep.h"
#include "qxl.h"
#include "trace.h"

#define QXL_FROM_SIN(sin) container_of(sin, PCIQXLDevice, sin)

static void qxl_if_attached_worker(QXLInstance *sin)
{
    trace_qxl_spice_attached_worker(QXL_FROM_SIN(sin)->id);
}

static void qxl_if_set_compression_level(QXLInstance *sin, int level)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    d->rom_compression_level = level;
    d->rom->compression_level = cpu_to_le32(level);
    qxl_rom_set_dirty(d);
}

static void qxl_if_get_init_info(QXLInstance *sin, QXLDevInitInfo *info)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    info->num_memslots_groups = NUM_MEMSLOTS_GROUPS;
    info->num_memslots = NUM_MEMSLOTS;
    info->memslot_gen_bits = MEMSLOT_GENERATION_BITS;
    info->memslot_id_bits = MEMSLOT_SLOT_BITS;
    info->internal_groupslot_id = 0;
    info->qxl_ram_size = d->num_pages * 4096;
    info->n_surfaces = d->num_surfaces;
}

static int qxl_if_get_command(QXLInstance *sin, QXLCommandExt *ext)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    switch (qatomic_read(&d->mode)) {
    case QXL_MODE_VGA:
        return spice_fb_export_get_command(d->vga_export, ext);
    default:
        return qxl_ring_get_command(d, ext);
    }
}

static int qxl_if_req_cmd_notification(QXLInstance *sin)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    if (qatomic_read(&d->mode) == QXL_MODE_VGA) {
        return 1;   /* the export calls spice_qxl_wakeup() */
    }
    return qxl_ring_req_cmd_notification(d);
}

static void qxl_if_release_resource(QXLInstance *sin, QXLReleaseInfoExt ext)
{
    qxl_ring_release(QXL_FROM_SIN(sin), ext);
}

static int qxl_if_get_cursor_command(QXLInstance *sin, QXLCommandExt *ext)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    if (qatomic_read(&d->mode) == QXL_MODE_VGA) {
        return spice_fb_export_get_cursor_command(d->vga_export, ext);
    }
    return qxl_ring_get_cursor_command(d, ext);
}

static int qxl_if_req_cursor_notification(QXLInstance *sin)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    if (qatomic_read(&d->mode) == QXL_MODE_VGA) {
        return 1;
    }
    return qxl_ring_req_cursor_notification(d);
}

/* Deprecated by spice-server; a guest can trigger it, so stay quiet. */
static void qxl_if_notify_update(QXLInstance *sin, uint32_t update_id)
{
    trace_qxl_spice_notify_update(QXL_FROM_SIN(sin)->id, update_id);
}

static int qxl_if_flush_resources(QXLInstance *sin)
{
    return qxl_ring_flush_release(QXL_FROM_SIN(sin), true);
}

/* The request carries its completion (qxl-worker.c). */
static void qxl_if_async_complete(QXLInstance *sin, uint64_t token)
{
    qxl_cookie_complete(QXL_FROM_SIN(sin), token);
}

static void qxl_if_update_area_complete(QXLInstance *sin, uint32_t surface_id,
                                        QXLRect *rects, uint32_t n)
{
    qxl_render_area_done(QXL_FROM_SIN(sin), surface_id, rects, n);
}

static void qxl_if_set_client_capabilities(QXLInstance *sin,
                                           uint8_t client_present,
                                           uint8_t caps[58])
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);

    if (d->revision < QXL_REVISION_STABLE_V12) {
        return;
    }
    d->rom->client_present = client_present;
    memcpy(d->rom->client_capabilities, caps,
           sizeof(d->rom->client_capabilities));
    qxl_rom_set_dirty(d);
    qxl_send_events(d, QXL_INTERRUPT_CLIENT);
}

static int qxl_if_client_monitors_config(QXLInstance *sin,
                                         VDAgentMonitorsConfig *mc)
{
    return qxl_client_monitors_config(QXL_FROM_SIN(sin), mc);
}

const QXLInterface qxl_interface = {
    .base.type = SPICE_INTERFACE_QXL,
    .base.description = "qxl gpu",
    .base.major_version = SPICE_INTERFACE_QXL_MAJOR,
    .base.minor_version = SPICE_INTERFACE_QXL_MINOR,

    .attached_worker = qxl_if_attached_worker,
    .set_compression_level = qxl_if_set_compression_level,
    .get_init_info = qxl_if_get_init_info,
    .get_command = qxl_if_get_command,
    .req_cmd_notification = qxl_if_req_cmd_notification,
    .release_resource = qxl_if_release_resource,
    .get_cursor_command = qxl_if_get_cursor_command,
    .req_cursor_notification = qxl_if_req_cursor_notification,
    .notify_update = qxl_if_notify_update,
    .flush_resources = qxl_if_flush_resources,
    .async_complete = qxl_if_async_complete,
    .update_area_complete = qxl_if_update_area_complete,
    .set_client_capabilities = qxl_if_set_client_capabilities,
    .client_monitors_config = qxl_if_client_monitors_config,
};
