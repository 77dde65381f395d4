/*
 * QXL paravirtual display device: QOM types, properties, BARs, ROM and RAM
 * header set-up, reset and interrupts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The guest ABI is spice-protocol's spice/qxl_dev.h; docs/specs/qxl.rst
 * describes the device.  See qxl.h for how the files split the work.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "ui/qemu-spice.h"
#include "qxl.h"
#include "qxl-limits.h"
#include "qxl-snapshot.h"
#include "trace.h"

/* A *_mb property the user did not set. */
#define QXL_MB_UNSET UINT32_MAX

/*
 * Heads spice-server takes per QXL device: spice_qxl_set_device_info()
 * ends the process for more (MAX_MONITORS_COUNT, not in its headers).
 */
#define QXL_SPICE_MAX_OUTPUTS 16

/* ---- bottom halves --------------------------------------------------- */

/* Main loop: releases freed snapshot budget the worker waits for. */
static void qxl_wakeup_bh(void *opaque)
{
    qxl_spice_wakeup(opaque);
}

/* ---- sizes ------------------------------------------------------------ */

/*
 * Turn the size properties into the effective sizes, as stock QEMU does:
 * MiB properties override byte ones, vgamem is clamped to 8..256 MiB,
 * BAR 0 holds at least two screens, every size is a power of two.
 */
static bool qxl_init_sizes(PCIQXLDevice *d, Error **errp)
{
    uint64_t ram, vram32, vram;

    d->vgamem_size_mb = MIN(MAX(d->vgamem_size_mb, 8), 256);
    d->vgamem_size = d->vgamem_size_mb * MiB;

    ram = d->ram_size_mb != QXL_MB_UNSET ? (uint64_t)d->ram_size_mb * MiB
                                       : d->vga.vram_size;
    ram = MAX(ram, 2ULL * d->vgamem_size);

    vram32 = d->vram32_size_mb != QXL_MB_UNSET
             ? (uint64_t)d->vram32_size_mb * MiB : d->vram32_size;
    vram32 = MAX(vram32, 4096);

    vram = d->vram_size_mb != QXL_MB_UNSET ? (uint64_t)d->vram_size_mb * MiB
                                         : d->vram_size;
    vram = MAX(vram, vram32);

    if (d->revision == QXL_REVISION_STABLE_V04) {
        vram32 = vram = 4096;
    }
    /* BAR 0 is the VGA core's 32-bit sized memory. */
    if (ram > 1 * GiB) {
        error_setg(errp, "qxl: 'ram_size'/'ram_size_mb' of %" PRIu64 " MiB "
                   "is too large (at most 1024)", ram / MiB);
        return false;
    }
    if (vram > 64 * GiB) {
        error_setg(errp, "qxl: 'vram64_size_mb' of %" PRIu64 " MiB is too "
                   "large (at most 65536)", vram / MiB);
        return false;
    }

    d->vga.vram_size = pow2ceil(ram);
    d->vram32_size = pow2ceil(vram32);
    d->vram_size = pow2ceil(vram);
    d->vgamem_size = pow2ceil(d->vgamem_size);
    return true;
}

static void qxl_reset(DeviceState *dev)
{
    qxl_hard_reset(PCI_QXL(dev), false);
}

/* ---- console ---------------------------------------------------------- */

static void qxl_hw_update(void *opaque)
{
    PCIQXLDevice *d = opaque;

    if (d->mode == QXL_MODE_VGA) {
        /* Synchronous, but our ops say async: report completion. */
        d->vga.hw_ops->gfx_update(&d->vga);
        graphic_hw_update_done(d->con);
    } else {
        qxl_render_update(d);
    }
}

static void qxl_hw_invalidate(void *opaque)
{
    PCIQXLDevice *d = opaque;

    if (d->mode == QXL_MODE_VGA) {
        d->vga.hw_ops->invalidate(&d->vga);
    } else {
        qemu_mutex_lock(&d->render_lock);
        d->render_resized = true;
        qemu_mutex_unlock(&d->render_lock);
    }
}

static void qxl_hw_text_update(void *opaque, console_ch_t *chardata)
{
    PCIQXLDevice *d = opaque;

    if (d->mode == QXL_MODE_VGA && d->vga.hw_ops->text_update) {
        d->vga.hw_ops->text_update(&d->vga, chardata);
    }
}

/*
 * gfx_update is asynchronous outside VGA mode: local rendering waits for
 * spice-server to bring the primary up to date (qxl-render.c), then calls
 * graphic_hw_update_done().
 */
static const GraphicHwOps qxl_hw_ops = {
    .gfx_update = qxl_hw_update,
    .gfx_update_async = true,
    .invalidate = qxl_hw_invalidate,
    .text_update = qxl_hw_text_update,
};

/* ---- legacy VGA ports (qxl-vga) --------------------------------------- */

/*
 * Revisions up to 4 treat a VGA port write outside VGA mode as the guest
 * going back to VGA (old Windows drivers at shutdown).  Revision 5 keeps
 * the QXL mode.
 */
static void qxl_vga_port_write(void *opaque, uint32_t addr, uint32_t val)
{
    PCIQXLDevice *d = container_of(opaque, PCIQXLDevice, vga);

    if (d->mode != QXL_MODE_VGA && d->revision <= QXL_REVISION_STABLE_V12) {
        trace_qxl_vga_port_leaves_native(d->id, addr);
        qxl_destroy_primary(d, NULL);
        qxl_soft_reset(d);
    }
    vga_ioport_write(opaque, addr, val);
}

static const MemoryRegionPortio qxl_vga_ports[] = {
    { 0x04,  2, 1, .read = vga_ioport_read, .write = qxl_vga_port_write },
    { 0x0a,  1, 1, .read = vga_ioport_read, .write = qxl_vga_port_write },
    { 0x10, 16, 1, .read = vga_ioport_read, .write = qxl_vga_port_write },
    { 0x24,  2, 1, .read = vga_ioport_read, .write = qxl_vga_port_write },
    { 0x2a,  1, 1, .read = vga_ioport_read, .write = qxl_vga_port_write },
    PORTIO_END_OF_LIST(),
};

/* ---- VM state changes -------------------------------------------------- */

static void qxl_vm_state_change(void *opaque, bool running, RunState state)
{
    PCIQXLDevice *d = opaque;

    if (running) {
        /* Events recorded while stopped reach the guest now. */
        qxl_update_irq(d);
    } else {
        qxl_dirty_for_migration(d);
    }
}

/* ---- realize ---------------------------------------------------------- */

/*
 * Undo what realize set up, as far as it got: the exit of a realized
 * device, and a realize that fails late.
 */
static void qxl_teardown(PCIQXLDevice *d)
{
    if (d->vmstate_change) {
        qemu_del_vm_change_state_handler(d->vmstate_change);
        d->vmstate_change = NULL;
    }
    /*
     * spice-server lets go of the device first: removing the interface
     * joins its worker thread, which calls into the device until then.
     */
    if (d->spice_added) {
        qxl_exit_vga_mode(d);
        qemu_spice_remove_display(&d->sin, d->con);
        d->spice_added = false;
    }
    g_clear_pointer(&d->vga_export, spice_fb_export_free);
    g_clear_pointer(&d->irq_bh, qemu_bh_delete);
    g_clear_pointer(&d->render_bh, qemu_bh_delete);
    g_clear_pointer(&d->cursor_bh, qemu_bh_delete);
    g_clear_pointer(&d->wakeup_bh, qemu_bh_delete);
    g_clear_pointer(&d->surface_cmds, g_free);
    qxl_surfaces_cleanup(d);
    if (d->vga_ports_added) {
        portio_list_del(&d->vga_port_list);
        portio_list_destroy(&d->vga_port_list);
        d->vga_ports_added = false;
    }
    if (d->con) {
        graphic_console_close(d->con);
        d->con = d->vga.con = NULL;
    }
}

static bool qxl_realize_common(PCIQXLDevice *d, Error **errp)
{
    PCIDevice *pci = &d->parent_obj;
    uint32_t io_size;
    char dev_addr[256] = "";

    switch (d->revision) {
    case QXL_REVISION_STABLE_V04:
        io_size = 8;
        break;
    case QXL_REVISION_STABLE_V06:
        io_size = 16;
        break;
    case QXL_REVISION_STABLE_V10:
    case QXL_REVISION_STABLE_V12:
    case QXL_REVISION_QEMU:
        io_size = 32;
        break;
    default:
        error_setg(errp, "qxl: invalid 'revision' %u (valid: 1 to %d)",
                   d->revision, QXL_REVISION_QEMU);
        return false;
    }
    if (d->num_surfaces <= 0 || d->num_surfaces > 1024 * 1024) {
        error_setg(errp, "qxl: invalid 'surfaces' %d (valid: 1 to %d)",
                   d->num_surfaces, 1024 * 1024);
        return false;
    }
    if (d->max_outputs > QXL_SPICE_MAX_OUTPUTS) {
        error_setg(errp, "qxl: invalid 'max_outputs' %u (valid: 0 to %d, "
                   "spice-server's limit per device)", d->max_outputs,
                   QXL_SPICE_MAX_OUTPUTS);
        return false;
    }

    if (d->debug || d->cmdlog) {
        warn_report("qxl: '%s' is accepted for compatibility and has no "
                    "effect; use the qxl_* trace events instead (-trace "
                    "'qxl_*')", d->debug ? "debug" : "cmdlog");
    }

    pci_set_byte(&pci->config[PCI_REVISION_ID], d->revision);
    pci_set_byte(&pci->config[PCI_INTERRUPT_PIN], 1);

    d->rom_size = QEMU_ALIGN_UP(sizeof(QXLRom) + sizeof(QXLModes) +
                                qxl_modes_max() * sizeof(QXLMode),
                                qemu_real_host_page_size());
    d->rom_size = pow2ceil(d->rom_size);
    memory_region_init_rom(&d->rom_bar, OBJECT(d), "qxl.vrom", d->rom_size,
                           &error_fatal);
    d->rom = memory_region_get_ram_ptr(&d->rom_bar);

    memory_region_init_ram(&d->vram_bar, OBJECT(d), "qxl.vram", d->vram_size,
                           &error_fatal);
    memory_region_init_alias(&d->vram32_bar, OBJECT(d), "qxl.vram32",
                             &d->vram_bar, 0, d->vram32_size);
    memory_region_init_io(&d->io_bar, OBJECT(d), &qxl_io_ops, d, "qxl-ioports",
                          io_size);
    memory_region_set_flush_coalesced(&d->io_bar);

    pci_register_bar(pci, QXL_IO_RANGE_INDEX, PCI_BASE_ADDRESS_SPACE_IO,
                     &d->io_bar);
    pci_register_bar(pci, QXL_ROM_RANGE_INDEX, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &d->rom_bar);
    pci_register_bar(pci, QXL_RAM_RANGE_INDEX, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &d->vga.vram);
    pci_register_bar(pci, QXL_VRAM_RANGE_INDEX, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &d->vram32_bar);
    if (d->vram_size > d->vram32_size) {
        pci_register_bar(pci, QXL_VRAM64_RANGE_INDEX,
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64 |
                         PCI_BASE_ADDRESS_MEM_PREFETCH,
                         &d->vram_bar);
    }

    d->surface_cmds = g_new0(uint64_t, d->num_surfaces);
    qxl_surfaces_init(d);
    d->snapshot_budget = d->snapshot_budget_mb ?
        (uint64_t)d->snapshot_budget_mb * MiB :
        MAX(QXL_SNAPSHOT_BUDGET_MIN, d->vga.vram_size + d->vram_size);
    object_property_add_uint64_ptr(OBJECT(d), "x-snapshot-bytes",
                                   &d->snapshot_bytes, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(OBJECT(d), "x-snapshot-peak",
                                   &d->snapshot_peak, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(OBJECT(d), "x-snapshot-budget",
                                   &d->snapshot_budget, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(OBJECT(d), "x-snapshot-taken",
                                   &d->snapshot_taken, OBJ_PROP_FLAG_READ);
    d->current_async = -1;
    d->irq_bh = qemu_bh_new_guarded(qxl_irq_bh, d,
                                    &DEVICE(d)->mem_reentrancy_guard);
    d->render_bh = qemu_bh_new_guarded(qxl_render_bh, d,
                                       &DEVICE(d)->mem_reentrancy_guard);
    d->cursor_bh = qemu_bh_new_guarded(qxl_cursor_bh, d,
                                       &DEVICE(d)->mem_reentrancy_guard);
    d->wakeup_bh = qemu_bh_new_guarded(qxl_wakeup_bh, d,
                                       &DEVICE(d)->mem_reentrancy_guard);
    qxl_reset_state(d);

    d->sin.base.sif = &qxl_interface.base;
    if (qemu_spice_add_display(&d->sin, d->con) != 0) {
        error_setg(errp, "qxl: spice-server does not support QXL interface "
                   "%d.%d", SPICE_INTERFACE_QXL_MAJOR,
                   SPICE_INTERFACE_QXL_MINOR);
        return false;
    }
    d->spice_added = true;
    qemu_spice_add_host_memslot(&d->sin);

    /*
     * Tell the client which PCI device and outputs this channel is, so it
     * can match SPICE displays with the guest's monitors.
     */
    if (qemu_console_fill_device_address(d->con, dev_addr, sizeof(dev_addr),
                                         NULL)) {
        qxl_spice_set_device_info(d, dev_addr);
    }

    d->vmstate_change = qemu_add_vm_change_state_handler(qxl_vm_state_change,
                                                         d);
    return true;
}

static void qxl_realize_vga(PCIDevice *pci, Error **errp)
{
    PCIQXLDevice *d = PCI_QXL(pci);
    VGACommonState *vga = &d->vga;

    if (!qxl_init_sizes(d, errp)) {
        return;
    }
    vga->vbe_size = d->vgamem_size;
    vga->vram_size_mb = d->vga.vram_size / MiB;
    if (!vga_common_init(vga, OBJECT(d), errp)) {
        return;
    }
    vga_init(vga, OBJECT(d), pci_address_space(pci),
             pci_address_space_io(pci), false);
    portio_list_init(&d->vga_port_list, OBJECT(d), qxl_vga_ports, vga, "vga");
    portio_list_set_flush_coalesced(&d->vga_port_list);
    portio_list_add(&d->vga_port_list, pci_address_space_io(pci), 0x3b0);
    d->vga_ports_added = true;

    d->con = vga->con = graphic_console_init(DEVICE(d), 0, &qxl_hw_ops, d);
    d->id = qemu_console_get_index(d->con);
    if (d->id != 0) {
        error_setg(errp, "qxl-vga must be the primary display (console 0), "
                   "but it is console %u: put it first among the display "
                   "devices, or use -device qxl for a secondary head", d->id);
        qxl_teardown(d);
        return;
    }
    if (!qxl_realize_common(d, errp)) {
        qxl_teardown(d);
        return;
    }
    d->vga_export = spice_fb_export_new(d->con, &d->sin);
    qxl_enter_vga_mode(d);
}

static void qxl_realize_secondary(PCIDevice *pci, Error **errp)
{
    PCIQXLDevice *d = PCI_QXL(pci);

    if (!qxl_init_sizes(d, errp)) {
        return;
    }
    memory_region_init_ram(&d->vga.vram, OBJECT(d), "qxl.vgavram",
                           d->vga.vram_size, &error_fatal);
    d->vga.vram_ptr = memory_region_get_ram_ptr(&d->vga.vram);
    d->con = d->vga.con = graphic_console_init(DEVICE(d), 0, &qxl_hw_ops, d);
    d->id = qemu_console_get_index(d->con);
    if (!qxl_realize_common(d, errp)) {
        qxl_teardown(d);
    }
}

static void qxl_exit(PCIDevice *pci)
{
    qxl_teardown(PCI_QXL(pci));
}

/* The locks live as long as the object: realize may fail half-way. */
static void qxl_instance_init(Object *obj)
{
    PCIQXLDevice *d = PCI_QXL(obj);

    qemu_mutex_init(&d->slots_lock);
    qemu_mutex_init(&d->track_lock);
    qemu_mutex_init(&d->release_lock);
    qemu_mutex_init(&d->async_lock);
    qemu_mutex_init(&d->render_lock);
}

static void qxl_instance_finalize(Object *obj)
{
    PCIQXLDevice *d = PCI_QXL(obj);

    qemu_mutex_destroy(&d->slots_lock);
    qemu_mutex_destroy(&d->track_lock);
    qemu_mutex_destroy(&d->release_lock);
    qemu_mutex_destroy(&d->async_lock);
    qemu_mutex_destroy(&d->render_lock);
}

/*
 * Names, types and defaults are stock QEMU's: libvirt and saved VM
 * configurations use them.  Effective values are computed at realize
 * (qxl_init_sizes()) and read back through the same properties.
 */
static const Property qxl_properties[] = {
    /* BAR sizes in bytes, and their MiB overrides */
    DEFINE_PROP_UINT32("ram_size", PCIQXLDevice, vga.vram_size, 64 * MiB),
    DEFINE_PROP_UINT32("ram_size_mb", PCIQXLDevice, ram_size_mb,
                       QXL_MB_UNSET),
    DEFINE_PROP_UINT64("vram_size", PCIQXLDevice, vram32_size, 64 * MiB),
    DEFINE_PROP_UINT32("vram_size_mb", PCIQXLDevice, vram32_size_mb,
                       QXL_MB_UNSET),
    DEFINE_PROP_UINT32("vram64_size_mb", PCIQXLDevice, vram_size_mb,
                       QXL_MB_UNSET),
    DEFINE_PROP_UINT32("vgamem_mb", PCIQXLDevice, vgamem_size_mb, 16),
    /* what the guest is offered */
    DEFINE_PROP_UINT32("revision", PCIQXLDevice, revision,
                       QXL_DEFAULT_REVISION),
    DEFINE_PROP_INT32("surfaces", PCIQXLDevice, num_surfaces, 1024),
    DEFINE_PROP_UINT16("max_outputs", PCIQXLDevice, max_outputs, 0),
    DEFINE_PROP_UINT32("xres", PCIQXLDevice, xres, 0),
    DEFINE_PROP_UINT32("yres", PCIQXLDevice, yres, 0),
    /* debugging */
    DEFINE_PROP_UINT32("guestdebug", PCIQXLDevice, guestdebug, 0),
    DEFINE_PROP_UINT32("debug", PCIQXLDevice, debug, 0),
    DEFINE_PROP_UINT32("cmdlog", PCIQXLDevice, cmdlog, 0),
    /* host memory for command snapshots; 0: the default (qxl-limits.h) */
    DEFINE_PROP_UINT32("x-snapshot-budget-mb", PCIQXLDevice,
                       snapshot_budget_mb, 0),
    /* off: copy direct-colour pixels too (for benchmarks) */
    DEFINE_PROP_BOOL("x-snapshot-share-pixels", PCIQXLDevice,
                     snapshot_share_pixels, true),
    /* migration compatibility of old machine types */
    DEFINE_PROP_BOOL("global-vmstate", PCIQXLDevice, vga.global_vmstate,
                     false),
};

/* What tells the two devices apart. */
typedef struct QXLVariant {
    const char *desc;
    uint16_t class_id;
    const char *romfile;
    bool hotpluggable;
    void (*realize)(PCIDevice *pci, Error **errp);
} QXLVariant;

static const QXLVariant qxl_variant_vga = {
    .desc = "Spice QXL GPU (primary, vga compatible)",
    .class_id = PCI_CLASS_DISPLAY_VGA,
    .romfile = "vgabios-qxl.bin",
    .hotpluggable = false,
    .realize = qxl_realize_vga,
};

static const QXLVariant qxl_variant_secondary = {
    .desc = "Spice QXL GPU (secondary)",
    .class_id = PCI_CLASS_DISPLAY_OTHER,
    .hotpluggable = true,
    .realize = qxl_realize_secondary,
};

/*
 * One class_init for the three types: the abstract parent (no @data) gets
 * what both devices share, each device (its QXLVariant) what is its own.
 */
static void qxl_class_init(ObjectClass *oc, void *data)
{
    const QXLVariant *v = data;
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    if (!v) {
        pc->vendor_id = REDHAT_PCI_VENDOR_ID;
        pc->device_id = QXL_DEVICE_ID_STABLE;
        pc->exit = qxl_exit;
        dc->vmsd = &vmstate_qxl;
        device_class_set_legacy_reset(dc, qxl_reset);
        device_class_set_props(dc, qxl_properties);
        set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
        return;
    }
    pc->realize = v->realize;
    pc->class_id = v->class_id;
    pc->romfile = v->romfile;
    dc->desc = v->desc;
    dc->hotpluggable = v->hotpluggable;
}

static const TypeInfo qxl_types[] = {
    {
        .name = TYPE_PCI_QXL,
        .parent = TYPE_PCI_DEVICE,
        .abstract = true,
        .instance_size = sizeof(PCIQXLDevice),
        .instance_init = qxl_instance_init,
        .instance_finalize = qxl_instance_finalize,
        .class_init = qxl_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { },
        },
    }, {
        .name = "qxl-vga",
        .parent = TYPE_PCI_QXL,
        .class_init = qxl_class_init,
        .class_data = (void *)&qxl_variant_vga,
    }, {
        .name = "qxl",
        .parent = TYPE_PCI_QXL,
        .class_init = qxl_class_init,
        .class_data = (void *)&qxl_variant_secondary,
    },
};

DEFINE_TYPES(qxl_types)

module_obj("qxl-vga");
module_obj("qxl");
module_kconfig(QXL);
module_dep("ui-spice-core");
