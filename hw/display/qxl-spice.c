/*
 * QXL binding to spice-server: the QXLInterface callbacks spice-server's
 * worker calls, and every request the device makes of the worker
 * (spice_qxl_*) with its async cookies.  No other file of the device calls
 * spice-server.
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

/*
 * A cookie is a small heap object whose address is the uint64 token
 * spice-server gives back in async_complete.
 */
uint64_t qxl_cookie(PCIQXLDevice *d, QXLCookieKind kind, uint32_t io)
{
    QXLCookie *c = g_new0(QXLCookie, 1);

    c->kind = kind;
    c->io = io;
    return (uintptr_t)c;
}

/* ---- calls out ------------------------------------------------------- */

void qxl_spice_wakeup(PCIQXLDevice *d)
{
    spice_qxl_wakeup(&d->sin);
}

/* Synchronous: the worker releases what it can before it returns. */
void qxl_spice_oom(PCIQXLDevice *d)
{
    spice_qxl_oom(&d->sin);
}

/* Forget every image, cursor and surface the worker holds for us. */
void qxl_spice_reset(PCIQXLDevice *d)
{
    spice_qxl_reset_image_cache(&d->sin);
    spice_qxl_reset_cursor(&d->sin);
    spice_qxl_destroy_surfaces(&d->sin);
}

void qxl_spice_update_area(PCIQXLDevice *d, uint32_t surface_id,
                           QXLRect *area, bool clear_dirty, uint64_t cookie)
{
    if (cookie) {
        spice_qxl_update_area_async(&d->sin, surface_id, area, clear_dirty,
                                    cookie);
    } else {
        spice_qxl_update_area(&d->sin, surface_id, area, NULL, 0,
                              clear_dirty);
    }
}

void qxl_spice_add_memslot(PCIQXLDevice *d, QXLDevMemSlot *slot,
                           uint64_t cookie)
{
    if (cookie) {
        spice_qxl_add_memslot_async(&d->sin, slot, cookie);
    } else {
        spice_qxl_add_memslot(&d->sin, slot);
    }
}

void qxl_spice_del_memslot(PCIQXLDevice *d, uint32_t slot_id)
{
    spice_qxl_del_memslot(&d->sin, MEMSLOT_GROUP_GUEST, slot_id);
}

void qxl_spice_reset_memslots(PCIQXLDevice *d)
{
    spice_qxl_reset_memslots(&d->sin);
}

void qxl_spice_create_primary(PCIQXLDevice *d, QXLDevSurfaceCreate *s,
                              uint64_t cookie)
{
    if (cookie) {
        spice_qxl_create_primary_surface_async(&d->sin, 0, s, cookie);
    } else {
        spice_qxl_create_primary_surface(&d->sin, 0, s);
    }
}

void qxl_spice_destroy_primary(PCIQXLDevice *d, uint64_t cookie)
{
    if (cookie) {
        spice_qxl_destroy_primary_surface_async(&d->sin, 0, cookie);
    } else {
        spice_qxl_destroy_primary_surface(&d->sin, 0);
    }
}

void qxl_spice_destroy_surface(PCIQXLDevice *d, uint32_t id, uint64_t cookie)
{
    QXLCookie *wait;
    QemuEvent done;

    if (cookie) {
        spice_qxl_destroy_surface_async(&d->sin, id, cookie);
        return;
    }
    if (id == 0) {
        spice_qxl_destroy_surface_wait(&d->sin, id);
        return;
    }
    /*
     * spice-server's synchronous variant aborts for any surface but 0:
     * use the async one and wait for its completion here.
     */
    qemu_event_init(&done, false);
    wait = g_new0(QXLCookie, 1);
    wait->kind = QXL_COOKIE_WAIT;
    wait->done = &done;
    spice_qxl_destroy_surface_async(&d->sin, id, (uintptr_t)wait);
    qemu_event_wait(&done);
    qemu_event_destroy(&done);
}

void qxl_spice_destroy_surfaces(PCIQXLDevice *d, uint64_t cookie)
{
    if (cookie) {
        spice_qxl_destroy_surfaces_async(&d->sin, cookie);
    } else {
        spice_qxl_destroy_surfaces(&d->sin);
    }
}

void qxl_spice_flush_surfaces(PCIQXLDevice *d, uint64_t cookie)
{
    spice_qxl_flush_surfaces_async(&d->sin, cookie);
}

void qxl_spice_loadvm_commands(PCIQXLDevice *d, QXLCommandExt *cmds,
                               uint32_t n)
{
    spice_qxl_loadvm_commands(&d->sin, cmds, n);
}

void qxl_spice_monitors_config(PCIQXLDevice *d, QXLPHYSICAL phys,
                               uint64_t cookie)
{
    spice_qxl_monitors_config_async(&d->sin, phys, MEMSLOT_GROUP_GUEST,
                                    cookie);
}

void qxl_spice_driver_unload(PCIQXLDevice *d)
{
    spice_qxl_driver_unload(&d->sin);
}

/* Which PCI device and outputs this channel is, for the client. */
void qxl_spice_set_device_info(PCIQXLDevice *d, const char *address)
{
    spice_qxl_set_device_info(&d->sin, address, 0, d->max_outputs);
}

/* ---- calls in (QXLInterface) ------------------------------------------ */

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

static void qxl_if_async_complete(QXLInstance *sin, uint64_t token)
{
    PCIQXLDevice *d = QXL_FROM_SIN(sin);
    QXLCookie *c = (QXLCookie *)(uintptr_t)token;

    trace_qxl_spice_async_complete(d->id, c->kind, c->io);
    switch (c->kind) {
    case QXL_COOKIE_IO:
        qxl_async_complete_io(d, c->io);
        break;
    case QXL_COOKIE_RENDER:
        qxl_render_area_done(d, 0, NULL, 0);
        break;
    case QXL_COOKIE_POST_LOAD:
        break;
    case QXL_COOKIE_WAIT:
        qemu_event_set(c->done);
        break;
    }
    g_free(c);
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
