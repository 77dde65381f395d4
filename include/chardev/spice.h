/*
 * SPICE character devices: "spicevmc" (a channel spice-server knows by
 * name: vdagent, usbredir, smartcard) and "spiceport" (a named port the
 * client may open).  Implemented in chardev/spice.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef CHARDEV_SPICE_H
#define CHARDEV_SPICE_H

#include <spice.h>
#include "chardev/char-fe.h"
#include "qom/object.h"

#define TYPE_CHARDEV_SPICE "chardev-spice"
#define TYPE_CHARDEV_SPICEVMC "chardev-spicevmc"
#define TYPE_CHARDEV_SPICEPORT "chardev-spiceport"

typedef struct SpiceChardev {
    Chardev parent_obj;

    /* What spice-server sees; sin.subtype and sin.portname are ours. */
    SpiceCharDeviceInstance sin;
    /* The instance is registered with spice-server. */
    bool registered;
    /* This chardev holds the VM's single vdagent channel. */
    bool owns_vdagent;

    /*
     * Guest -> spice: the front-end's buffer, readable by spice-server only
     * while spice_chr_write() runs.  When spice-server leaves some of it,
     * the front-end is told to wait (throttled) until spice asks for more.
     */
    const uint8_t *offer;
    size_t offer_len;
    bool throttled;
} SpiceChardev;

DECLARE_INSTANCE_CHECKER(SpiceChardev, SPICE_CHARDEV, TYPE_CHARDEV_SPICE)

#endif
