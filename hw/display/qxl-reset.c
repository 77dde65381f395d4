/*
 * QXL reset: the power-on state of the ROM and the RAM header, and the
 * two resets built on it.  The one place that orchestrates a reset: the
 * RESET and SET_MODE ports, migration and QEMU's device reset call here.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Main loop or vCPU thread, with the BQL.  A hard reset stops
 * spice-server's worker while the rings are reinitialised.
 */

#include "qemu/osdep.h"
#include "ui/qemu-spice.h"
#include "qxl.h"
#include "trace.h"

/* ---- ROM and RAM header ---------------------------------------------- */

static void qxl_init_rom(PCIQXLDevice *d)
{
    QXLRom *rom = d->rom;
    QXLModes *modes = (QXLModes *)(rom + 1);

    memset(rom, 0, d->rom_size);
    rom->magic = cpu_to_le32(QXL_ROM_MAGIC);
    rom->id = cpu_to_le32(d->id);
    rom->log_level = cpu_to_le32(d->guestdebug);
    rom->modes_offset = cpu_to_le32(sizeof(QXLRom));
    rom->compression_level = cpu_to_le32(d->rom_compression_level);
    rom->mode = cpu_to_le32(d->rom_mode);

    rom->slot_gen_bits = MEMSLOT_GENERATION_BITS;
    rom->slot_id_bits = MEMSLOT_SLOT_BITS;
    rom->slots_start = 1;
    rom->slots_end = NUM_MEMSLOTS - 1;
    rom->n_surfaces = cpu_to_le32(d->num_surfaces);

    d->num_modes = qxl_build_modes(modes, d->vgamem_size, qxl_modes_max());

    d->ram_header_offset = d->vga.vram_size - QEMU_ALIGN_UP(sizeof(QXLRam),
                                                            4096);
    d->num_pages = (d->ram_header_offset - d->vgamem_size) / 4096;
    rom->draw_area_offset = cpu_to_le32(0);
    rom->surface0_area_size = cpu_to_le32(d->vgamem_size);
    rom->pages_offset = cpu_to_le32(d->vgamem_size);
    rom->num_pages = cpu_to_le32(d->num_pages);
    rom->ram_header_offset = cpu_to_le32(d->ram_header_offset);

    qxl_rom_client_monitors_init(d);
    qxl_rom_set_dirty(d);
}

static void qxl_init_ram(PCIQXLDevice *d)
{
    d->ram = (QXLRam *)((uint8_t *)d->vga.vram_ptr + d->ram_header_offset);
    memset(d->ram, 0, sizeof(*d->ram));
    d->ram->magic = cpu_to_le32(QXL_RAM_MAGIC);
    qxl_ring_init(d);
    qxl_ram_set_dirty(d, d->ram, sizeof(*d->ram));
}

/* ROM, RAM header and release batch back to power-on values. */
void qxl_reset_state(PCIQXLDevice *d)
{
    qxl_init_rom(d);
    qxl_init_ram(d);
    qemu_mutex_lock(&d->release_lock);
    d->num_free_res = 0;
    d->last_release_offset = 0;
    qemu_mutex_unlock(&d->release_lock);
    d->guest_monitors_config = 0;
    qxl_update_irq(d);
}

/* ---- reset ------------------------------------------------------------ */

/* Back to the power-on mode: VGA for qxl-vga, UNDEFINED for qxl. */
void qxl_soft_reset(PCIQXLDevice *d)
{
    d->guest_bug = false;
    qemu_mutex_lock(&d->async_lock);
    d->current_async = -1;
    qemu_mutex_unlock(&d->async_lock);
    d->cmdflags = 0;
    if (d->vga_export) {
        qxl_enter_vga_mode(d);
    } else {
        d->mode = QXL_MODE_UNDEFINED;
    }
}

/*
 * Everything spice-server holds for us goes too.  With @loadvm the guest
 * memory (ROM/RAM header, rings) is left alone: the incoming stream owns it.
 */
void qxl_hard_reset(PCIQXLDevice *d, bool loadvm)
{
    /*
     * The worker must not read the rings while they are reinitialised:
     * stop it (all of spice-server's workers) for the duration.
     */
    bool running = qemu_spice_display_is_running(NULL);

    trace_qxl_reset_hard(d->id, loadvm);
    if (running) {
        qemu_spice_display_stop();
    }
    if (d->mode == QXL_MODE_VGA) {
        qxl_exit_vga_mode(d);
    }
    qxl_cursor_reset(d);
    qxl_spice_reset(d);
    qxl_track_reset(d);
    d->mode = QXL_MODE_UNDEFINED;
    qxl_memslots_reset(d);
    if (!loadvm) {
        qxl_reset_state(d);
    }
    qxl_soft_reset(d);
    if (running) {
        qemu_spice_display_start();
    }
}
