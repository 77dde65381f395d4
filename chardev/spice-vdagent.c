/*
 * Ownership of the VM's single SPICE agent channel (see the header).
 * Called from the main loop with the BQL held: realize, chardev creation,
 * finalize and unrealize.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
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
