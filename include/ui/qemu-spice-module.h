/*
 * The SPICE entry points the rest of QEMU calls, whether or not SPICE is
 * built in: system/vl.c (init, display_init), ui/ui-qmp-cmds.c
 * (set_password, expire_password, add_client, client_migrate_info) and the
 * devices that register SPICE interfaces.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * ui/spice-module.c fills qemu_spice with answers for a QEMU where SPICE is
 * not active; ui/spice-core.c replaces them with the real ones when it
 * registers the -spice options.
 */

#ifndef QEMU_SPICE_MODULE_H
#define QEMU_SPICE_MODULE_H

#ifdef CONFIG_SPICE
#include <spice.h>
#endif

typedef struct SpiceInfo SpiceInfo;

struct QemuSpiceOps {
    /* Early in startup: apply -spice and start the server, or nothing. */
    void (*init)(void);
    /* After the devices: export the consoles that have no SPICE display. */
    void (*display_init)(void);
    /* client_migrate_info; port and tls_port are -1 when not given. */
    int (*migrate_info)(const char *hostname, int port, int tls_port,
                        const char *cert_subject);
    /* set_password / expire_password; 0 on success, -1 otherwise. */
    int (*set_passwd)(const char *passwd,
                      bool fail_if_connected, bool disconnect_if_connected);
    int (*set_pw_expire)(time_t expires);
    /* add_client: hand spice-server a connected socket. */
    int (*display_add_client)(int csock, int skipauth, int tls);
#ifdef CONFIG_SPICE
    int (*add_interface)(SpiceBaseInstance *sin);
    SpiceInfo *(*qmp_query)(Error **errp);
#endif
};

/* Non-zero once -spice has started a server that listens for clients. */
extern int using_spice;
extern struct QemuSpiceOps qemu_spice;

#endif /* QEMU_SPICE_MODULE_H */
