/*
 * QXL requests to spice-server's display worker: every spice_qxl_* call
 * the device makes, and the cookies of the asynchronous ones.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A leaf of the device: it calls spice-server and nothing of the device.
 * The other direction, spice-server calling the device, is qxl-spice.c.
 *
 * An async request carries a QXLCookie naming its own completion, so the
 * code that makes the request also says what happens when it is over:
 * spice-server's worker calls qxl_cookie_complete() from its own thread,
 * which runs cookie->done and frees the cookie with the host memory it
 * owns (what spice-server read for the request).  A NULL cookie means the
 * request is synchronous: the caller (vCPU thread or main loop, with the
 * BQL) waits for the worker.
 */

#include "qemu/osdep.h"
#include "qxl.h"
#include "trace.h"

/* ---- cookies --------------------------------------------------------- */

QXLCookie *qxl_cookie_new(QXLCookieDone *done, uint32_t io, void *opaque)
{
    QXLCookie *c = g_new0(QXLCookie, 1);

    c->done = done;
    c->io = io;
    c->opaque = opaque;
    return c;
}

/* A request that was never handed to spice-server. */
void qxl_cookie_free(QXLCookie *c)
{
    if (c) {
        g_free(c->owned);
        g_free(c);
    }
}

static uint64_t qxl_cookie_token(QXLCookie *c)
{
    return (uintptr_t)c;
}

/* Worker thread: spice-server gave @token back, the request is over. */
void qxl_cookie_complete(PCIQXLDevice *d, uint64_t token)
{
    QXLCookie *c = (QXLCookie *)(uintptr_t)token;

    trace_qxl_spice_async_complete(d->id, c->io);
    if (c->done) {
        c->done(d, c);
    }
    qxl_cookie_free(c);
}

static void qxl_cookie_wake_waiter(PCIQXLDevice *d, QXLCookie *c)
{
    qemu_event_set(c->opaque);
}

/* ---- requests -------------------------------------------------------- */

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
                           QXLRect *area, bool clear_dirty, QXLCookie *c)
{
    if (c) {
        spice_qxl_update_area_async(&d->sin, surface_id, area, clear_dirty,
                                    qxl_cookie_token(c));
    } else {
        spice_qxl_update_area(&d->sin, surface_id, area, NULL, 0,
                              clear_dirty);
    }
}

void qxl_spice_create_primary(PCIQXLDevice *d, QXLDevSurfaceCreate *s,
                              QXLCookie *c)
{
    if (c) {
        spice_qxl_create_primary_surface_async(&d->sin, 0, s,
                                               qxl_cookie_token(c));
    } else {
        spice_qxl_create_primary_surface(&d->sin, 0, s);
    }
}

void qxl_spice_destroy_primary(PCIQXLDevice *d, QXLCookie *c)
{
    if (c) {
        spice_qxl_destroy_primary_surface_async(&d->sin, 0,
                                                qxl_cookie_token(c));
    } else {
        spice_qxl_destroy_primary_surface(&d->sin, 0);
    }
}

void qxl_spice_destroy_surface(PCIQXLDevice *d, uint32_t id, QXLCookie *c)
{
    QemuEvent done;

    if (c) {
        spice_qxl_destroy_surface_async(&d->sin, id, qxl_cookie_token(c));
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
    c = qxl_cookie_new(qxl_cookie_wake_waiter, 0, &done);
    spice_qxl_destroy_surface_async(&d->sin, id, qxl_cookie_token(c));
    qemu_event_wait(&done);
    qemu_event_destroy(&done);
}

void qxl_spice_destroy_surfaces(PCIQXLDevice *d, QXLCookie *c)
{
    if (c) {
        spice_qxl_destroy_surfaces_async(&d->sin, qxl_cookie_token(c));
    } else {
        spice_qxl_destroy_surfaces(&d->sin);
    }
}

void qxl_spice_flush_surfaces(PCIQXLDevice *d, QXLCookie *c)
{
    spice_qxl_flush_surfaces_async(&d->sin, qxl_cookie_token(c));
}

void qxl_spice_loadvm_commands(PCIQXLDevice *d, QXLCommandExt *cmds,
                               uint32_t n)
{
    spice_qxl_loadvm_commands(&d->sin, cmds, n);
}

/*
 * @config is host memory, alive until @c completes: spice-server reads it
 * on its worker thread, after this returns.
 */
void qxl_spice_monitors_config(PCIQXLDevice *d, QXLMonitorsConfig *config,
                               QXLCookie *c)
{
    spice_qxl_monitors_config_async(&d->sin, (uintptr_t)config,
                                    MEMSLOT_GROUP_HOST, qxl_cookie_token(c));
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
