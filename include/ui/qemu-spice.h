/*
 * QEMU's SPICE binding: what the SPICE devices, the SPICE display export
 * and the chardevs share with ui/spice-core.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_SPICE_H
#define QEMU_SPICE_H

#include "qapi/error.h"
#include "ui/qemu-spice-module.h"

#ifdef CONFIG_SPICE

#include <spice.h>
#include "qemu/config-file.h"
#include "ui/console.h"

/* spice-server 0.15 calls attached_worker itself; older ones do not. */
#if SPICE_SERVER_VERSION >= 0x000f00
#define SPICE_HAS_ATTACHED_WORKER 1
#else
#define SPICE_HAS_ATTACHED_WORKER 0
#endif

/* ui/spice-input.c: the keyboard, mouse and tablet interfaces. */
void qemu_spice_input_init(void);

/* ui/spice-display.c: a SPICE display for every console without one. */
void qemu_spice_display_init(void);

/*
 * ui/spice-core.c.  Call once all displays are added: the workers start
 * now if the VM runs, else when it starts.
 */
void qemu_spice_display_init_done(void);

/*
 * A console's display interface (QXL device or framebuffer export):
 * qxlin->id becomes the console index.  Fails with -1 if @con has one.
 */
int qemu_spice_add_display_interface(QXLInstance *qxlin, QemuConsole *con);
bool qemu_spice_have_display_interface(QemuConsole *con);

/* -spice gl=on took: displays are SPICE OpenGL displays (ui/spice-gl.c). */
extern bool qemu_spice_opengl;

int qemu_spice_migrate_info(const char *hostname, int port, int tls_port,
                            const char *cert_subject);

#endif /* CONFIG_SPICE */

/* For QMP commands that need SPICE: false, with an error, without it. */
static inline bool qemu_using_spice(Error **errp)
{
    if (!using_spice) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE, "SPICE is not in use");
        return false;
    }
    return true;
}

#endif /* QEMU_SPICE_H */
