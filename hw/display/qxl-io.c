/*
 * QXL I/O ports (BAR 3): dispatch of the guest's requests, synchronous and
 * asynchronous.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs on vCPU threads with the BQL.  Synchronous requests block until
 * spice-server's worker has done them.  An async request starts the work
 * and returns; the worker's completion (qxl_async_complete_io(), worker
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

/* Worker thread (or I/O thread when the request did nothing). */
void qxl_async_complete_io(PCIQXLDevice *d, uint32_t io)
{
    qemu_mutex_lock(&d->async_lock);
    if (d->current_async != io) {
        trace_qxl_io_async_mismatch(d->id, io, d->current_async);
    }
    d->current_async = -1;
    qemu_mutex_unlock(&d->async_lock);

    switch (io) {
    case QXL_IO_CREATE_PRIMARY_ASYNC:
        qxl_render_resize(d);
        break;
    default:
        break;
    }
    trace_qxl_io_async_done(d->id, io);
    qxl_send_events(d, QXL_INTERRUPT_IO_CMD);
}

static bool qxl_io_update_area(PCIQXLDevice *d, bool async)
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
    if (async) {
        qxl_spice_update_area(d, surface_id, &rect, false,
                              qxl_cookie(d, QXL_COOKIE_IO,
                                         QXL_IO_UPDATE_AREA_ASYNC));
    } else {
        qxl_spice_update_area(d, surface_id, &rect, false, 0);
    }
    return true;
}

/*
 * Do one request.  Returns true if an async request was handed to
 * spice-server (its completion raises IO_CMD), false if it is over.
 */
static bool qxl_io_dispatch(PCIQXLDevice *d, uint32_t io, uint32_t val,
                            bool async)
{
    switch (io) {
    case QXL_IO_NOTIFY_CMD:
    case QXL_IO_NOTIFY_CURSOR:
        qxl_spice_wakeup(d);
        return false;
    case QXL_IO_UPDATE_AREA:
        return qxl_io_update_area(d, async);
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
        qxl_set_mode(d, val, false);
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
        return qxl_memslot_add(d, val, slot.guest_start, slot.guest_end, 0,
                               async) && async;
    }
    case QXL_IO_MEMSLOT_DEL:
        qxl_memslot_del(d, val);
        return false;
    case QXL_IO_CREATE_PRIMARY:
        if (val != 0) {
            qxl_guest_bug(d, "CREATE_PRIMARY: surface id %u, not 0", val);
            return false;
        }
        return qxl_create_primary(d, async, false) && async;
    case QXL_IO_DESTROY_PRIMARY:
        if (val != 0) {
            qxl_guest_bug(d, "DESTROY_PRIMARY: surface id %u, not 0", val);
            return false;
        }
        if (d->mode == QXL_MODE_UNDEFINED) {
            return false;
        }
        qxl_destroy_primary(d, async);
        return async;
    case QXL_IO_DESTROY_SURFACE_WAIT:
        if (val >= d->num_surfaces) {
            qxl_guest_bug(d, "DESTROY_SURFACE: surface id %u out of range", val);
            return false;
        }
        if (async) {
            qxl_spice_destroy_surface(d, val,
                qxl_cookie(d, QXL_COOKIE_IO, QXL_IO_DESTROY_SURFACE_ASYNC));
        } else {
            qxl_spice_destroy_surface(d, val, 0);
        }
        qxl_surfaces_destroyed(d, val);
        return async;
    case QXL_IO_DESTROY_ALL_SURFACES:
        d->mode = QXL_MODE_UNDEFINED;
        qxl_track_reset(d);
        if (async) {
            qxl_spice_destroy_surfaces(d,
                qxl_cookie(d, QXL_COOKIE_IO, QXL_IO_DESTROY_ALL_SURFACES_ASYNC));
            return true;
        }
        qxl_spice_destroy_surfaces(d, 0);
        return false;
    case QXL_IO_FLUSH_SURFACES_ASYNC:
        qxl_spice_flush_surfaces(d,
            qxl_cookie(d, QXL_COOKIE_IO, QXL_IO_FLUSH_SURFACES_ASYNC));
        return true;
    case QXL_IO_FLUSH_RELEASE:
        if (!qxl_ring_flush_release(d, true)) {
            trace_qxl_io_flush_release_nothing(d->id);
        }
        return false;
    case QXL_IO_MONITORS_CONFIG_ASYNC:
        return qxl_guest_monitors_config(d, false);
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

    if (!qxl_io_dispatch(d, sync_io == io ? io : sync_io, val, async) &&
        async) {
        /* Nothing was started: complete now so the guest is not stuck. */
        qxl_async_complete_io(d, io);
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
