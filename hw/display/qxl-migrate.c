/*
 * QXL migration: the device's state in the stream, laid out like stock
 * QEMU's "qxl" section (version 21) so that the two can migrate to each
 * other, and bringing spice-server back to the same picture after load.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Main loop with the BQL.  Guest memory (BARs 0-2, with the rings and the
 * surfaces) travels as RAM; spice-server writes some of it behind QEMU's
 * back, so it is marked dirty when the VM stops.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "migration/vmstate.h"
#include "qxl-snapshot.h"
#include "trace.h"

/*
 * spice-server writes guest memory behind QEMU's back: the RAM header
 * (rings, interrupts), the ROM, and on VM stop the rendered contents of
 * every surface.  Mark them dirty when the VM stops, before migration's
 * last RAM pass (pre_save would be too late: device state is saved after
 * RAM).
 */
void qxl_dirty_for_migration(PCIQXLDevice *d)
{
    QXLGuestRange r;

    qxl_rom_set_dirty(d);
    qxl_ram_set_dirty(d, d->ram, sizeof(*d->ram));
    if (d->mode == QXL_MODE_NATIVE || d->mode == QXL_MODE_COMPAT) {
        uint64_t size = (uint64_t)d->primary.height *
                        ABS((int64_t)d->primary.stride);

        if (qxl_translate(d, d->primary.mem, size, &r)) {
            qxl_guest_range_set_dirty(&r);
        }
    }
    qxl_surfaces_set_dirty(d);
}

static int qxl_pre_save(void *opaque)
{
    PCIQXLDevice *d = opaque;

    trace_qxl_migrate(d->id, "pre_save", d->mode);
    if (d->last_release_offset >= d->vga.vram_size) {
        /* The stream can only name release infos in BAR 0. */
        qxl_ring_flush_release(d, true);
    }
    d->num_memslots = NUM_MEMSLOTS;
    return 0;
}

static int qxl_pre_load(void *opaque)
{
    PCIQXLDevice *d = opaque;

    trace_qxl_migrate(d->id, "pre_load", d->mode);
    qxl_hard_reset(d, true);
    qxl_exit_vga_mode(d);
    d->num_memslots = NUM_MEMSLOTS;
    return 0;
}

/*
 * Replay the tracked surfaces and cursor into spice-server.  Their memory
 * came with the stream and the guest could have changed it since the
 * commands were first taken: each is snapshotted again, and one that
 * fails is left out (and latches the guest bug) rather than handed over.
 */
static void qxl_replay_commands(PCIQXLDevice *d)
{
    g_autofree QXLCommandExt *cmds = g_new0(QXLCommandExt,
                                            d->num_surfaces + 1);
    g_autofree uint64_t *surfaces = g_memdup2(d->surface_cmds,
                                              d->num_surfaces *
                                              sizeof(uint64_t));
    uint64_t cursor = d->cursor_cmd;
    uint32_t n = 0;

    /* What is accepted is tracked again as it is. */
    memset(d->surface_cmds, 0, d->num_surfaces * sizeof(uint64_t));
    d->cursor_cmd = 0;
    for (int i = 0; i < d->num_surfaces; i++) {
        QXLCommand cmd = {
            .data = surfaces[i],
            .type = QXL_CMD_SURFACE,
        };
        QXLSnapshot *s;

        if (!surfaces[i]) {
            continue;
        }
        s = qxl_snapshot_take(d, &cmd, false, &cmds[n]);
        if (s) {
            qxl_snapshot_accept(d, s);
            n++;
        }
    }
    if (cursor) {
        QXLCommand cmd = {
            .data = cursor,
            .type = QXL_CMD_CURSOR,
        };
        QXLSnapshot *s = qxl_snapshot_take(d, &cmd, true, &cmds[n]);

        if (s) {
            qxl_snapshot_accept(d, s);
            n++;
        }
    }
    if (n) {
        qxl_spice_loadvm_commands(d, cmds, n);
    }
}

/*
 * The open release batch of the stream.  qxl_ring_release() writes the
 * "next" field of its tail when it chains the next id, so a whole
 * QXLReleaseInfo (8 bytes) must lie at last_release_offset, in BAR 0 (the
 * only RAM the stream names: pre_save publishes a batch whose tail is in
 * VRAM).  A batch cannot hold more ids than there are release infos in
 * the device's memory.
 */
static bool qxl_release_batch_valid(PCIQXLDevice *d)
{
    uint64_t max = (d->vga.vram_size + d->vram_size) / sizeof(QXLReleaseInfo);
    uint64_t offset;

    if (!d->num_free_res) {
        d->last_release_offset = 0;
        return true;
    }
    return d->num_free_res <= max &&
           d->last_release_offset < d->vga.vram_size &&
           qxl_host_ptr_in_ram(d, (uint8_t *)d->vga.vram_ptr +
                               d->last_release_offset,
                               sizeof(QXLReleaseInfo), &offset);
}

static int qxl_post_load(void *opaque, int version)
{
    PCIQXLDevice *d = opaque;
    uint32_t mode = d->mode;

    trace_qxl_migrate(d->id, "post_load", mode);
    /* A corrupt stream fails the load, as QEMU does for other devices. */
    if (!qxl_release_batch_valid(d)) {
        error_report("qxl-%u: invalid release batch in the migration stream "
                     "(%u ids, tail at BAR 0 offset 0x%x of 0x%x)", d->id,
                     d->num_free_res, d->last_release_offset,
                     d->vga.vram_size);
        return -EINVAL;
    }
    if (mode > QXL_MODE_NATIVE) {
        error_report("qxl-%u: invalid mode %u in the migration stream",
                     d->id, mode);
        return -EINVAL;
    }
    d->mode = QXL_MODE_UNDEFINED;
    qxl_ring_load(d);

    /*
     * Slot 0 of COMPAT mode is the device's own: SET_MODE makes it again
     * below (an active slot 0 would make that fail).  The guest's slots
     * come back in every mode.
     */
    if (mode == QXL_MODE_COMPAT) {
        d->slots[0].active = 0;
    }
    for (int i = 0; i < NUM_MEMSLOTS; i++) {
        if (!qxl_memslot_restore(d, i)) {
            qxl_guest_bug(d, "memslot %d invalid after migration", i);
        }
    }

    switch (mode) {
    case QXL_MODE_VGA:
        qxl_enter_vga_mode(d);
        break;
    case QXL_MODE_NATIVE:
        qxl_create_primary(d, NULL, true);
        qxl_replay_commands(d);
        if (d->guest_monitors_config) {
            qxl_guest_monitors_config_replay(d);
        }
        break;
    case QXL_MODE_COMPAT:
        if (qxl_set_mode(d, d->rom_mode, true)) {
            qxl_replay_commands(d);
        }
        break;
    default:
        d->mode = mode;
        break;
    }
    qxl_update_irq(d);
    return 0;
}

static bool qxl_monitors_config_needed(void *opaque)
{
    PCIQXLDevice *d = opaque;

    return d->guest_monitors_config != 0;
}

static const VMStateDescription vmstate_qxl_memslot = {
    .name = "qxl-memslot",
    .version_id = 21,
    .minimum_version_id = 21,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(guest_start, QXLGuestSlot),
        VMSTATE_UINT64(guest_end, QXLGuestSlot),
        VMSTATE_UINT32(active, QXLGuestSlot),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_qxl_monitors_config = {
    .name = "qxl/monitors-config",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = qxl_monitors_config_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(guest_monitors_config, PCIQXLDevice),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_qxl = {
    .name = "qxl",
    .version_id = 21,
    .minimum_version_id = 21,
    .pre_save = qxl_pre_save,
    .pre_load = qxl_pre_load,
    .post_load = qxl_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, PCIQXLDevice),
        VMSTATE_STRUCT(vga, PCIQXLDevice, 0, vmstate_vga_common,
                       VGACommonState),
        VMSTATE_UINT32(rom_mode, PCIQXLDevice),
        VMSTATE_UINT32(num_free_res, PCIQXLDevice),
        VMSTATE_UINT32(last_release_offset, PCIQXLDevice),
        VMSTATE_UINT32(mode, PCIQXLDevice),
        VMSTATE_UINT32(unique, PCIQXLDevice),
        VMSTATE_INT32_EQUAL(num_memslots, PCIQXLDevice, NULL),
        VMSTATE_STRUCT_ARRAY(slots, PCIQXLDevice, NUM_MEMSLOTS, 0,
                             vmstate_qxl_memslot, QXLGuestSlot),
        /*
         * The primary, field by field: the bytes stock QEMU writes for its
         * nested "qxl-surface" struct (which has no subsections).
         */
        VMSTATE_UINT32(primary.width, PCIQXLDevice),
        VMSTATE_UINT32(primary.height, PCIQXLDevice),
        VMSTATE_INT32(primary.stride, PCIQXLDevice),
        VMSTATE_UINT32(primary.format, PCIQXLDevice),
        VMSTATE_UINT32(primary.position, PCIQXLDevice),
        VMSTATE_UINT32(primary.mouse_mode, PCIQXLDevice),
        VMSTATE_UINT32(primary.flags, PCIQXLDevice),
        VMSTATE_UINT32(primary.type, PCIQXLDevice),
        VMSTATE_UINT64(primary.mem, PCIQXLDevice),
        VMSTATE_INT32_EQUAL(num_surfaces, PCIQXLDevice, NULL),
        VMSTATE_VARRAY_INT32(surface_cmds, PCIQXLDevice, num_surfaces, 0,
                             vmstate_info_uint64, uint64_t),
        VMSTATE_UINT64(cursor_cmd, PCIQXLDevice),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_qxl_monitors_config,
        NULL
    }
};
