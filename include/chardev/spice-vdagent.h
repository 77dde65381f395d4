/*
 * The VM's SPICE agent channel has one owner.
 *
 * spice-server accepts a single "vdagent" character device and merely warns
 * about a second one, and the spicevmc chardev registers its device late
 * (when the guest opens the port).  Whoever provides the agent channel (a
 * spicevmc chardev, a vdi-port device) claims it here when it is created,
 * so that a second provider fails at once with an error naming the first.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef CHARDEV_SPICE_VDAGENT_H
#define CHARDEV_SPICE_VDAGENT_H

/*
 * Claim the agent channel for @owner, a description such as
 * "chardev 'vdagent'".  Fails, and sets @errp, if someone else holds it.
 */
bool spice_vdagent_claim(const char *owner, Error **errp);

/* Give the channel back; @owner must be the string given to the claim. */
void spice_vdagent_release(const char *owner);

/*
 * On a migration's destination, before the VM runs: true when spice-server
 * gets the agent stream's state back from a client that followed the VM
 * (seamless migration), so the stream goes on where it was.
 */
bool spice_vdagent_stream_migrated(void);

#endif
