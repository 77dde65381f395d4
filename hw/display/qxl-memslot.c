/*
 * QXL memslots and the one door to guest memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A QXLPHYSICAL names memory as (slot id: bits 63..56, generation: bits
 * 55..48, offset: bits 47..0).  The guest registers slots over its BARs
 * with MEMSLOT_ADD.  Everything the device reads from guest memory goes
 * through qxl_translate(), which bounds offset + size against the slot
 * (which lies inside one BAR): nothing else turns a guest address into a
 * host pointer.  spice-server is not told of the guest's slots: all it
 * is given are host addresses in its host memslot group (command
 * snapshots, the primary's pixels, copies of the monitors config).
 *
 * Threads: slots[] changes on vCPU threads (ports, with the BQL) and in
 * the main loop (reset, migration), always under slots_lock; the worker
 * translates under slots_lock (qxl-snapshot.c holds it for a whole
 * command), other readers hold the BQL.
 */

#include "qemu/osdep.h"
#include "qxl.h"
#include "qxl-limits.h"
#include "trace.h"

#define QXL_PHYS_OFFSET_BITS 48
#define QXL_PHYS_OFFSET_MASK ((1ULL << QXL_PHYS_OFFSET_BITS) - 1)

/* BARs a memslot may cover, in the order they are searched. */
static MemoryRegion *qxl_slot_region(PCIQXLDevice *d, int bar,
                                     uint64_t *bar_addr)
{
    PCIDevice *pci = &d->parent_obj;
    MemoryRegion *mr;

    switch (bar) {
    case QXL_RAM_RANGE_INDEX:
        mr = &d->vga.vram;
        break;
    case QXL_VRAM_RANGE_INDEX:
        mr = &d->vram32_bar;
        break;
    case QXL_VRAM64_RANGE_INDEX:
        if (d->vram_size <= d->vram32_size) {
            return NULL;
        }
        mr = &d->vram_bar;
        break;
    default:
        return NULL;
    }
    *bar_addr = pci_get_bar_addr(pci, bar);
    return *bar_addr == PCI_BAR_UNMAPPED ? NULL : mr;
}

static uint8_t *qxl_region_host(MemoryRegion *mr)
{
    /* BAR 1 is an alias of the start of the VRAM block. */
    if (mr->alias) {
        return (uint8_t *)memory_region_get_ram_ptr(mr->alias) +
               mr->alias_offset;
    }
    return memory_region_get_ram_ptr(mr);
}

/*
 * Find the BAR holding [guest_start, guest_end) and fill in the derived
 * fields of @slot.
 */
static bool qxl_slot_locate(PCIQXLDevice *d, QXLGuestSlot *slot)
{
    static const int bars[] = {
        QXL_RAM_RANGE_INDEX, QXL_VRAM_RANGE_INDEX, QXL_VRAM64_RANGE_INDEX,
    };

    for (int i = 0; i < ARRAY_SIZE(bars); i++) {
        uint64_t bar_addr;
        MemoryRegion *mr = qxl_slot_region(d, bars[i], &bar_addr);
        uint64_t bar_size;

        if (!mr) {
            continue;
        }
        bar_size = memory_region_size(mr);
        if (slot->guest_start >= bar_addr &&
            slot->guest_end <= bar_addr + bar_size) {
            slot->mr = mr;
            slot->mr_offset = slot->guest_start - bar_addr;
            slot->size = slot->guest_end - slot->guest_start;
            return true;
        }
    }
    return false;
}

/*
 * Add guest slot @slot_id over guest-physical [guest_start, guest_end).
 * @delta is subtracted from offsets (non-zero only for the COMPAT slot,
 * whose offsets are guest-physical addresses).  False on a guest bug,
 * which the caller reports.
 */
bool qxl_memslot_add(PCIQXLDevice *d, uint32_t slot_id, uint64_t guest_start,
                     uint64_t guest_end, uint64_t delta)
{
    QXLGuestSlot new;

    trace_qxl_slot_add(d->id, slot_id, guest_start, guest_end);
    if (slot_id >= NUM_MEMSLOTS) {
        qxl_guest_bug(d, "memslot %u out of range", slot_id);
        return false;
    }
    new = (QXLGuestSlot) {
        .guest_start = guest_start,
        .guest_end = guest_end,
        .delta = delta,
    };
    if (d->slots[slot_id].active) {
        qxl_guest_bug(d, "memslot %u is already active", slot_id);
        return false;
    }
    if (guest_start >= guest_end) {
        qxl_guest_bug(d, "memslot %u: empty or inverted range 0x%" PRIx64
                      "..0x%" PRIx64, slot_id, guest_start, guest_end);
        return false;
    }
    if (!qxl_slot_locate(d, &new)) {
        qxl_guest_bug(d, "memslot %u: 0x%" PRIx64 "..0x%" PRIx64
                      " is not inside one of the device's RAM BARs",
                      slot_id, guest_start, guest_end);
        return false;
    }
    if (delta > new.guest_start) {
        qxl_guest_bug(d, "memslot %u: bad delta", slot_id);
        return false;
    }
    new.active = 1;
    WITH_QEMU_LOCK_GUARD(&d->slots_lock) {
        d->slots[slot_id] = new;
    }
    return true;
}

/* After migration: re-derive an active slot. */
bool qxl_memslot_restore(PCIQXLDevice *d, uint32_t slot_id)
{
    QXLGuestSlot slot = d->slots[slot_id];
    bool ok;

    slot.delta = 0;
    ok = !slot.active ||
         (slot.guest_start < slot.guest_end && qxl_slot_locate(d, &slot));
    slot.active = slot.active && ok;
    WITH_QEMU_LOCK_GUARD(&d->slots_lock) {
        d->slots[slot_id] = slot;
    }
    return ok;
}

void qxl_memslot_del(PCIQXLDevice *d, uint32_t slot_id)
{
    trace_qxl_slot_del(d->id, slot_id);
    if (slot_id >= NUM_MEMSLOTS) {
        qxl_guest_bug(d, "memslot %u out of range", slot_id);
        return;
    }
    WITH_QEMU_LOCK_GUARD(&d->slots_lock) {
        d->slots[slot_id].active = 0;
    }
}

void qxl_memslots_reset(PCIQXLDevice *d)
{
    WITH_QEMU_LOCK_GUARD(&d->slots_lock) {
        memset(d->slots, 0, sizeof(d->slots));
    }
}

/*
 * The door: translate @phys and check that @size bytes from it lie inside
 * its slot.  Silent: the caller decides whether a failure is a guest bug.
 */
bool qxl_translate(PCIQXLDevice *d, QXLPHYSICAL phys, uint64_t size,
                   QXLGuestRange *out)
{
    uint32_t slot_id = phys >> (64 - MEMSLOT_SLOT_BITS);
    uint32_t gen = (phys >> QXL_PHYS_OFFSET_BITS) &
                   ((1u << MEMSLOT_GENERATION_BITS) - 1);
    uint64_t offset = phys & QXL_PHYS_OFFSET_MASK;
    QXLGuestSlot *slot;
    uint64_t rel;

    if (slot_id >= NUM_MEMSLOTS || gen != 0) {
        return false;
    }
    slot = &d->slots[slot_id];
    if (!slot->active || offset < slot->delta) {
        return false;
    }
    rel = offset - slot->delta;
    if (rel > slot->size || size > slot->size - rel) {
        return false;
    }
    out->host = qxl_region_host(slot->mr) + slot->mr_offset + rel;
    out->size = size;
    out->mr = slot->mr;
    out->mr_offset = slot->mr_offset + rel;
    return true;
}

/*
 * Walk a QXLDataChunk list starting with the chunk header at @first: it
 * must hold exactly @size bytes, in at most QXL_MAX_CHUNKS chunks (so a
 * loop in the list cannot hold us).  With @buf, the data is copied there.
 */
bool qxl_read_chunks(PCIQXLDevice *d, QXLPHYSICAL first, uint64_t size,
                     uint8_t *buf)
{
    QXLPHYSICAL at = first;
    uint64_t done = 0;

    for (int n = 0; n < QXL_MAX_CHUNKS; n++) {
        QXLDataChunk chunk;
        QXLGuestRange r;
        uint32_t len;

        if (!qxl_read_guest(d, at, &chunk, sizeof(chunk))) {
            return false;
        }
        len = le32_to_cpu(chunk.data_size);
        if (len > size - done ||
            !qxl_translate(d, at + sizeof(chunk), len, &r)) {
            return false;
        }
        if (buf) {
            memcpy(buf + done, r.host, len);
        }
        done += len;
        at = le64_to_cpu(chunk.next_chunk);
        if (!at) {
            return done == size;
        }
    }
    return false;
}

/*
 * A chunk list that is one chunk of exactly @size bytes: its data, in
 * place.  False (silently) for any other list.
 */
bool qxl_map_single_chunk(PCIQXLDevice *d, QXLPHYSICAL first, uint64_t size,
                          QXLGuestRange *out)
{
    QXLDataChunk chunk;

    return qxl_read_guest(d, first, &chunk, sizeof(chunk)) &&
           chunk.next_chunk == 0 && chunk.data_size == size &&
           qxl_translate(d, first + sizeof(chunk), size, out);
}

/*
 * Mark a validated range dirty for migration (spice-server wrote it behind
 * QEMU's back).  BAR 1 is an alias: dirty the VRAM block under it.
 */
void qxl_guest_range_set_dirty(const QXLGuestRange *r)
{
    MemoryRegion *mr = r->mr;
    uint64_t offset = r->mr_offset;

    if (mr->alias) {
        offset += mr->alias_offset;
        mr = mr->alias;
    }
    memory_region_set_dirty(mr, offset, r->size);
}

/* Copy @size bytes from guest @phys; false if they are not all valid. */
bool qxl_read_guest(PCIQXLDevice *d, QXLPHYSICAL phys, void *buf,
                    uint64_t size)
{
    QXLGuestRange r;

    if (!qxl_translate(d, phys, size, &r)) {
        return false;
    }
    memcpy(buf, r.host, size);
    return true;
}

/*
 * spice-server hands back host pointers it made through our slots (the
 * release info of a command).  Check that one lies in BAR 0 or in VRAM and
 * give its offset in "BAR 0, then VRAM" (offsets in BAR 0 are what the
 * migration stream carries).
 */
bool qxl_host_ptr_in_ram(PCIQXLDevice *d, const void *ptr, uint64_t size,
                         uint64_t *ram_offset)
{
    const uint8_t *p = ptr;
    const uint8_t *ram = d->vga.vram_ptr;
    const uint8_t *vram = memory_region_get_ram_ptr(&d->vram_bar);

    if (p >= ram && p - ram <= d->vga.vram_size &&
        size <= d->vga.vram_size - (p - ram)) {
        *ram_offset = p - ram;
        return true;
    }
    if (p >= vram && p - vram <= d->vram_size &&
        size <= d->vram_size - (p - vram)) {
        *ram_offset = d->vga.vram_size + (p - vram);
        return true;
    }
    return false;
}

/* The host pointer of an offset given by qxl_host_ptr_in_ram(). */
void *qxl_ram_offset_to_host(PCIQXLDevice *d, uint64_t ram_offset)
{
    if (ram_offset < d->vga.vram_size) {
        return (uint8_t *)d->vga.vram_ptr + ram_offset;
    }
    return (uint8_t *)memory_region_get_ram_ptr(&d->vram_bar) +
           (ram_offset - d->vga.vram_size);
}
