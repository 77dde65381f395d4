/*
 * QXL I/O ports (BAR 3): dispatch of the guest's requests, synchronous and
 * asynchronous.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs on vCPU threads with the BQL.  Synchronous requests block until
 * spice-server's worker has done them.  An async request starts the work
 * and returns with a cookie whose completion (qxl_io_async_done(), worker
 * thread) raises IO_CMD.  One async request may be in flight at a time.
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qxl-snapshot.h"
#include "trace.h"

/* The sync port an async one stands for. */
static uint32_t qxl_io_sync_twin(uint32_t io)
{
    switch (io) {
    case QXL_IO_UPDATE_AREA_ASYNC:
        return QXL_IO_UPDATE_AREA;
    case QXL_IO_MEMSLOT_ADD_ASYNC:
        return QXL_IO_MEMSLOT_ADD;
    case QXL_IO_CREATE_PRIMARY_ASYNC:
        return QXL_IO_CREATE_PRIMARY;
    case QXL_IO_DESTROY_PRIMARY_ASYNC:
        return QXL_IO_DESTROY_PRIMARY;
    case QXL_IO_DESTROY_SURFACE_ASYNC:
        return QXL_IO_DESTROY_SURFACE_WAIT;
    case QXL_IO_DESTROY_ALL_SURFACES_ASYNC:
        return QXL_IO_DESTROY_ALL_SURFACES;
    default:
        return io;
    }
}

static bool qxl_io_is_async(uint32_t io)
{
    return (io >= QXL_IO_UPDATE_AREA_ASYNC && io <= QXL_IO_FLUSH_SURFACES_ASYNC)
           || io == QXL_IO_MONITORS_CONFIG_ASYNC;
}

/* Ports that make sense while qxl-vga shows VGA. */
static bool qxl_io_allowed_in_vga(uint32_t io)
{
    switch (io) {
    case QXL_IO_RESET:
    case QXL_IO_SET_MODE:
    case QXL_IO_MEMSLOT_ADD:
    case QXL_IO_MEMSLOT_ADD_ASYNC:
    case QXL_IO_MEMSLOT_DEL:
    case QXL_IO_CREATE_PRIMARY:
    case QXL_IO_CREATE_PRIMARY_ASYNC:
    case QXL_IO_UPDATE_IRQ:
    case QXL_IO_LOG:
        return true;
    default:
        return false;
    }
}

/* Ports of the guest's revision: higher ones are a guest bug. */
static uint32_t qxl_io_count(PCIQXLDevice *d)
{
    switch (d->revision) {
    case QXL_REVISION_STABLE_V04:
        return QXL_IO_LOG + 1;
    case QXL_REVISION_STABLE_V06:
        return QXL_IO_DESTROY_ALL_SURFACES + 1;
    case QXL_REVISION_STABLE_V10:
        return QXL_IO_FLUSH_RELEASE + 1;
    default:
        return QXL_IO_MONITORS_CONFIG_ASYNC + 1;
    }
}

/*
 * The end of the async request in flight: worker thread (its cookie), or
 * the vCPU thread when the request started nothing.
 */
static void qxl_io_async_done(PCIQXLDevice *d, uint32_t io)
{
    qemu_mutex_lock(&d->async_lock);
    if (d->current_async != io) {
        trace_qxl_io_async_mismatch(d->id, io, d->current_async);
    }
    d->current_async = -1;
    qemu_mutex_unlock(&d->async_lock);

    if (io == QXL_IO_CREATE_PRIMARY_ASYNC) {
        qxl_render_resize(d);
    }
    trace_qxl_io_async_done(d->id, io);
    qxl_send_events(d, QXL_INTERRUPT_IO_CMD);
}

static void qxl_io_cookie_done(PCIQXLDevice *d, QXLCookie *c)
{
    qxl_io_async_done(d, c->io);
}

static bool qxl_io_update_area(PCIQXLDevice *d, QXLCookie *c)
{
    uint32_t surface_id = le32_to_cpu(d->ram->update_surface);
    QXLRect area = d->ram->update_area;
    QXLRect rect = {
        .top = le32_to_cpu(area.top),
        .left = le32_to_cpu(area.left),
        .bottom = le32_to_cpu(area.bottom),
        .right = le32_to_cpu(area.right),
    };

    uint32_t width, height;

    if (surface_id >= d->num_surfaces) {
        qxl_guest_bug(d, "UPDATE_AREA: surface id %u out of range", surface_id);
        return false;
    }
    if (rect.left == rect.right || rect.top == rect.bottom) {
        /* Old drivers send empty areas: nothing to do. */
        return false;
    }
    if (!qxl_surface_size(d, surface_id, &width, &height)) {
        qxl_guest_bug(d, "UPDATE_AREA: surface %u does not exist", surface_id);
        return false;
    }
    if (rect.left < 0 || rect.top < 0 || rect.left > rect.right ||
        rect.top > rect.bottom || rect.right > width || rect.bottom > height) {
        qxl_guest_bug(d, "UPDATE_AREA: area (%d,%d)-(%d,%d) not inside "
                      "surface %u (%ux%u)", rect.left, rect.top, rect.right,
                      rect.bottom, surface_id, width, height);
        return false;
    }
    trace_qxl_io_update_area(d->id, surface_id, rect.left, rect.top,
                             rect.right, rect.bottom);
    qxl_spice_update_area(d, surface_id, &rect, false, c);
    return true;
}

/*
 * Do one request: @io is the sync port, @c the cookie of an async one
 * (NULL for sync).  Returns true if @c was handed to spice-server (its
 * completion raises IO_CMD); otherwise the request is over.
 */
static bool qxl_io_dispatch(PCIQXLDevice *d, uint32_t io, uint32_t val,
                            QXLCookie *c)
{
    switch (io) {
    case QXL_IO_NOTIFY_CMD:
    case QXL_IO_NOTIFY_CURSOR:
        qxl_spice_wakeup(d);
        return false;
    case QXL_IO_UPDATE_AREA:
        return qxl_io_update_area(d, c);
    case QXL_IO_UPDATE_IRQ:
        qxl_update_irq(d);
        return false;
    case QXL_IO_NOTIFY_OOM:
        if (!qxl_ring_release_empty(d)) {
            return false;
        }
        qemu_mutex_lock(&d->release_lock);
        d->oom_running = true;
        qemu_mutex_unlock(&d->release_lock);
        qxl_spice_oom(d);
        qemu_mutex_lock(&d->release_lock);
        d->oom_running = false;
        qemu_mutex_unlock(&d->release_lock);
        return false;
    case QXL_IO_SET_MODE:
        /* qxl-1 drivers reset the device with every mode. */
        if (qxl_set_mode_check(d, val)) {
            qxl_hard_reset(d, false);
            qxl_set_mode(d, val, false);
        }
        return false;
    case QXL_IO_LOG: {
        char buf[sizeof(d->ram->log_buf)];

        memcpy(buf, d->ram->log_buf, sizeof(buf));
        buf[sizeof(buf) - 1] = '\0';
        trace_qxl_io_guest_log(d->id, buf);
        if (d->guestdebug) {
            qemu_log("qxl-%u guest: %s", d->id, buf);
        }
        return false;
    }
    case QXL_IO_RESET:
        qxl_hard_reset(d, false);
        return false;
    case QXL_IO_MEMSLOT_ADD: {
        QXLGuestSlot slot = {
            .guest_start = le64_to_cpu(d->ram->mem_slot.mem_start),
            .guest_end = le64_to_cpu(d->ram->mem_slot.mem_end),
        };
        /* spice-server is not told: nothing to wait for. */
        qxl_memslot_add(d, val, slot.guest_start, slot.guest_end, 0);
        return false;
    }
    case QXL_IO_MEMSLOT_DEL:
        qxl_memslot_del(d, val);
        return false;
    case QXL_IO_CREATE_PRIMARY:
        if (val != 0) {
            qxl_guest_bug(d, "CREATE_PRIMARY: surface id %u, not 0", val);
            return false;
        }
        return qxl_create_primary(d, c, false) && c != NULL;
    case QXL_IO_DESTROY_PRIMARY:
        if (val != 0) {
            qxl_guest_bug(d, "DESTROY_PRIMARY: surface id %u, not 0", val);
            return false;
        }
        if (d->mode == QXL_MODE_UNDEFINED) {
            return false;
        }
        qxl_destroy_primary(d, c);
        return c != NULL;
    case QXL_IO_DESTROY_SURFACE_WAIT:
        if (val >= d->num_surfaces) {
            qxl_guest_bug(d, "DESTROY_SURFACE: surface id %u out of range",
                          val);
            return false;
        }
        qxl_spice_destroy_surface(d, val, c);
        qxl_surfaces_destroyed(d, val);
        return c != NULL;
    case QXL_IO_DESTROY_ALL_SURFACES:
        d->mode = QXL_MODE_UNDEFINED;
        qxl_track_reset(d);
        qxl_spice_destroy_surfaces(d, c);
        return c != NULL;
    case QXL_IO_FLUSH_SURFACES_ASYNC:
        qxl_spice_flush_surfaces(d, c);
        return true;
    case QXL_IO_FLUSH_RELEASE:
        if (!qxl_ring_flush_release(d, true)) {
            trace_qxl_io_flush_release_nothing(d->id);
        }
        return false;
    case QXL_IO_MONITORS_CONFIG_ASYNC:
        return qxl_guest_monitors_config(d, c);
    default:
        qxl_guest_bug(d, "unexpected I/O port %u", io);
        return false;
    }
}

static void qxl_io_write(void *opaque, hwaddr addr, uint64_t data,
                         unsigned size)
{
    PCIQXLDevice *d = opaque;
    uint32_t io = addr;
    uint32_t val = data;
    bool async = qxl_io_is_async(io);
    uint32_t sync_io = qxl_io_sync_twin(io);
    QXLCookie *c;

    trace_qxl_io_port_write(d->id, io, val, d->mode);

    if (d->guest_bug && io != QXL_IO_RESET) {
        return;
    }
    if (io >= qxl_io_count(d)) {
        qxl_guest_bug(d, "I/O port %u does not exist in revision %u",
                      io, d->revision);
        return;
    }
    if (d->mode == QXL_MODE_VGA && !qxl_io_allowed_in_vga(io)) {
        trace_qxl_io_ignored_in_vga(d->id, io);
        if (async) {
            /* Drivers wait for completion even of what we ignore. */
            qxl_send_events(d, QXL_INTERRUPT_IO_CMD);
        }
        return;
    }

    if (async) {
        qemu_mutex_lock(&d->async_lock);
        if (d->current_async != -1) {
            int32_t busy = d->current_async;

            qemu_mutex_unlock(&d->async_lock);
            qxl_guest_bug(d, "async port %u while %d is in flight", io, busy);
            return;
        }
        d->current_async = io;
        qemu_mutex_unlock(&d->async_lock);
    }

    c = async ? qxl_cookie_new(qxl_io_cookie_done, io, NULL) : NULL;
    if (!qxl_io_dispatch(d, sync_io, val, c) && c) {
        /* Nothing was started: complete now so the guest is not stuck. */
        qxl_cookie_free(c);
        qxl_io_async_done(d, io);
    }
}

static uint64_t qxl_io_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0xff;
}

const MemoryRegionOps qxl_io_ops = {
    .read = qxl_io_read,
    .write = qxl_io_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 1,
    },
};
