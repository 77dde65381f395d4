/*
 * VDI port: the guest-visible ABI of the original SPICE agent device
 * (-device vdi-port).  docs/specs/vdi-port.rst explains how to drive it.
 *
 * This header is self-contained (it needs only spice-protocol) so that a
 * guest program can use it as well as QEMU and the qtests.  Everything is
 * little-endian and packed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CHAR_VDI_PORT_H
#define HW_CHAR_VDI_PORT_H

#include <spice/ipc_ring.h>

#define VDI_PORT_VENDOR_ID          0x1b36  /* Red Hat */
#define VDI_PORT_DEVICE_ID          0x0105
#define VDI_PORT_REVISION           1
#define VDI_PORT_CLASS              0x0780  /* communication, other */

/* BARs */
#define VDI_PORT_IO_RANGE_INDEX     0
#define VDI_PORT_RAM_RANGE_INDEX    1

/*
 * Registers of the I/O BAR, all 32 bits wide.  The ABI defines 12 bytes;
 * the BAR is 16 because PCI sizes are powers of two.
 */
enum {
    /* Read: connect, returns the new generation (never 0). Write: disconnect */
    VDI_PORT_IO_CONNECTION = 0,
    /* Write: the guest produced input packets or consumed output packets. */
    VDI_PORT_IO_NOTIFY = 4,
    /* Write: drive the line from int_pending & int_mask again. */
    VDI_PORT_IO_UPDATE_IRQ = 8,
    VDI_PORT_IO_RANGE_SIZE = 12,
};

/* int_pending / int_mask: data or space for the guest. */
#define VDI_PORT_INTERRUPT          (1 << 0)

#define VDI_PORT_MAGIC              0x50494456  /* "VDIP" */
#define VDI_PORT_RING_SIZE          32
#define VDI_PORT_PACKET_SIZE        512
#define VDI_PORT_PACKET_DATA_SIZE   (VDI_PORT_PACKET_SIZE - 8)

#include <spice/start-packed.h>

typedef struct SPICE_ATTR_PACKED VDIPortPacket {
    uint32_t gen;       /* generation the packet belongs to */
    uint32_t size;      /* bytes used in data[] */
    uint8_t data[VDI_PORT_PACKET_DATA_SIZE];
} VDIPortPacket;

/* num_items, prod, notify_on_prod, cons, notify_on_cons, items[32] */
SPICE_RING_DECLARE(VDIPortRing, VDIPortPacket, VDI_PORT_RING_SIZE);

/* At offset 0 of the RAM BAR. */
typedef struct SPICE_ATTR_PACKED VDIPortRam {
    uint32_t magic;
    uint32_t generation;
    uint32_t int_pending;
    uint32_t int_mask;
    VDIPortRing input;      /* guest -> device: the guest produces */
    VDIPortRing output;     /* device -> guest: the device produces */
    uint32_t reserved[32];
} VDIPortRam;

#include <spice/end-packed.h>

/* The RAM BAR: the smallest power of two that holds VDIPortRam. */
#define VDI_PORT_RAM_SIZE           (64 * 1024)

#endif
