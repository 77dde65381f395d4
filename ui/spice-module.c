/*
 * SPICE entry points that are always linked, even when the SPICE binding
 * (ui/spice-core.c) is a module that is not loaded.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Until spice-core registers itself, qemu_spice answers as a QEMU without
 * SPICE: init does nothing and every QMP operation fails (the QMP commands
 * check using_spice first, so these are not reached from there).
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-types-ui.h"
#include "qapi/qapi-commands-ui.h"
#include "ui/qemu-spice-module.h"

int using_spice;

static void no_spice_init(void)
{
}

static void no_spice_display_init(void)
{
    /* vl.c calls this only when using_spice is set, which we never set. */
    error_report("SPICE display requested, but SPICE is not available");
    exit(1);
}

static int no_spice_migrate_info(const char *hostname, int port,
                                 int tls_port, const char *cert_subject)
{
    return -1;
}

static int no_spice_set_passwd(const char *passwd, bool fail_if_connected,
                               bool disconnect_if_connected)
{
    return -1;
}

static int no_spice_set_pw_expire(time_t expires)
{
    return -1;
}

static int no_spice_add_client(int csock, int skipauth, int tls)
{
    return -1;
}

#ifdef CONFIG_SPICE
/* spice-core answers once registered, with or without -spice. */
SpiceInfo *qmp_query_spice(Error **errp)
{
    SpiceInfo *none;

    if (qemu_spice.qmp_query) {
        return qemu_spice.qmp_query(errp);
    }
    none = g_new0(SpiceInfo, 1);
    none->enabled = false;
    return none;
}
#endif

struct QemuSpiceOps qemu_spice = {
    .init               = no_spice_init,
    .display_init       = no_spice_display_init,
    .display_add_client = no_spice_add_client,
    .set_passwd         = no_spice_set_passwd,
    .set_pw_expire      = no_spice_set_pw_expire,
    .migrate_info       = no_spice_migrate_info,
};
