/*
 * QXL device services every other file uses: the interrupt line, the
 * guest-bug latch, and dirty marking of device memory written behind the
 * guest's back.  This is the bottom layer: it calls no other QXL file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qxl_send_events(), qxl_guest_bug() and the dirty helpers may run on any
 * thread (vCPU, main loop, spice-server's worker); the IRQ line itself
 * changes only in the main loop (qxl_update_irq(), from irq_bh).
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qxl.h"
#include "trace.h"

/* ---- interrupts ------------------------------------------------------ */

/*
 * Any thread: record @events in the guest-visible int_pending and let the
 * main loop re-evaluate the line.  Bits are never dropped, whatever the run
 * state: a stopped VM sees them when it resumes.
 */
void qxl_send_events(PCIQXLDevice *d, uint32_t events)
{
    uint32_t old;

    old = qatomic_fetch_or(&d->ram->int_pending, cpu_to_le32(events));
    qxl_ram_set_dirty(d, &d->ram->int_pending, sizeof(d->ram->int_pending));
    trace_qxl_irq_events(d->id, events, le32_to_cpu(old));
    if ((le32_to_cpu(old) & events) != events) {
        qemu_bh_schedule(d->irq_bh);
    }
}

/* Main loop: the line follows int_pending & int_mask. */
void qxl_update_irq(PCIQXLDevice *d)
{
    uint32_t pending = le32_to_cpu(qatomic_read(&d->ram->int_pending));
    uint32_t mask = le32_to_cpu(qatomic_read(&d->ram->int_mask));
    int level = !!(pending & mask);

    trace_qxl_update_irq(d->id, pending, mask, level);
    pci_set_irq(&d->parent_obj, level);
}

void qxl_irq_bh(void *opaque)
{
    qxl_update_irq(opaque);
}

/*
 * A guest bug latches the device until RESET: it is logged, ERROR is
 * raised, and every port but RESET is ignored (qxl-io.c).
 */
void qxl_guest_bug(PCIQXLDevice *d, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    qemu_log_mask(LOG_GUEST_ERROR, "qxl-%u: guest bug: %s\n", d->id, msg);
    trace_qxl_guest_bug(d->id, msg);
    d->guest_bug = true;
    qxl_send_events(d, QXL_INTERRUPT_ERROR);
}

/* ---- dirty tracking of memory written behind the guest's back --------- */

void qxl_rom_set_dirty(PCIQXLDevice *d)
{
    memory_region_set_dirty(&d->rom_bar, 0, d->rom_size);
}

void qxl_ram_set_dirty(PCIQXLDevice *d, void *ptr, size_t size)
{
    uint8_t *base = memory_region_get_ram_ptr(&d->vga.vram);
    uintptr_t off = (uint8_t *)ptr - base;

    if ((uint8_t *)ptr >= base && off + size <= d->vga.vram_size) {
        memory_region_set_dirty(&d->vga.vram, off, size);
    }
}
