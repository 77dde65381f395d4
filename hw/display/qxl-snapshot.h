/*
 * QXL command snapshots: host-owned, validated copies of guest commands.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_DISPLAY_QXL_SNAPSHOT_H
#define HW_DISPLAY_QXL_SNAPSHOT_H

#include "qxl.h"

/*
 * Read the command @cmd of a guest ring and everything it points to once,
 * validate the copy, and return it with every pointer turned into a host
 * address.  @ext receives what spice-server is given: the copy, in the
 * host memslot group.  NULL when the command is refused (a guest bug was
 * reported).  No state of the device changes here: see
 * qxl_snapshot_accept().
 */
QXLSnapshot *qxl_snapshot_take(PCIQXLDevice *d, const QXLCommand *cmd,
                               bool cursor_ring, QXLCommandExt *ext);

/*
 * Record what an accepted command changes: surfaces it creates or
 * destroys, the cursor (for migration and the local displays), the bytes
 * it holds.  Called once spice-server is about to own the snapshot.
 */
void qxl_snapshot_accept(PCIQXLDevice *d, QXLSnapshot *s);

/*
 * The snapshot spice-server hands back in release_resource, or NULL if
 * @ext is not one of ours (the framebuffer export's commands).
 */
QXLSnapshot *qxl_snapshot_from_release(QXLReleaseInfoExt ext);

/* What the guest gets back for a released snapshot. */
uint64_t qxl_snapshot_guest_id(const QXLSnapshot *s);
uint64_t qxl_snapshot_guest_info(const QXLSnapshot *s);
uint32_t qxl_snapshot_type(const QXLSnapshot *s);

/*
 * A command spice-server is not given, though it is no guest bug (a
 * MESSAGE, a NOP, a drawable for a surface that does not exist): it is
 * released at once.
 */
bool qxl_snapshot_dropped(const QXLSnapshot *s);

/* Free a released (or never handed over) snapshot and its budget. */
void qxl_snapshot_free(PCIQXLDevice *d, QXLSnapshot *s);

/* True when live snapshots use up the budget: take no more commands. */
bool qxl_snapshot_budget_full(PCIQXLDevice *d);

#endif /* HW_DISPLAY_QXL_SNAPSHOT_H */
