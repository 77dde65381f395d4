/*
 * Ownership of the VM's single SPICE agent channel (see the header).
 * Called from the main loop with the BQL held: realize, chardev creation,
 * finalize and unrealize.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-ui.h"
#include "qemu/config-file.h"
#include "qemu/option.h"
#include "chardev/spice-vdagent.h"

static char *vdagent_owner;

bool spice_vdagent_claim(const char *owner, Error **errp)
{
    if (vdagent_owner) {
        error_setg(errp, "%s cannot provide the SPICE agent channel: %s "
                   "already does, and a VM has only one", owner,
                   vdagent_owner);
        error_append_hint(errp, "Use either one spicevmc chardev with "
                          "name=vdagent or one vdi-port device.\n");
        return false;
    }
    vdagent_owner = g_strdup(owner);
    return true;
}

void spice_vdagent_release(const char *owner)
{
    if (vdagent_owner && g_str_equal(vdagent_owner, owner)) {
        g_clear_pointer(&vdagent_owner, g_free);
    }
}

/*
 * With seamless migration, a client that followed the VM here connected
 * before the VM runs, and spice-server holds back the agent channel's
 * reads until that client hands over the state of the stream (a message
 * read half-way).  Without such a client spice-server starts reading at a
 * message boundary, so the channel has to start over.
 */
bool spice_vdagent_stream_migrated(void)
{
    QemuOptsList *list = qemu_find_opts("spice");
    QemuOpts *opts = list ? QTAILQ_FIRST(&list->head) : NULL;
    SpiceInfo *info;
    bool followed;

    if (!opts || !qemu_opt_get_bool(opts, "seamless-migration", false)) {
        return false;
    }
    info = qmp_query_spice(NULL);
    followed = info && info->channels;
    qapi_free_SpiceInfo(info);
    return followed;
}
