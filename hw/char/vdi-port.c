/*
 * VDI port: the original SPICE agent transport, a PCI device with two
 * rings of 512-byte packets in a RAM BAR (ABI in include/hw/char/vdi-port.h,
 * guide in docs/specs/vdi-port.rst).
 *
 * The device is spice-server's "vdagent" character device while the guest
 * is connected: input packets are handed to spice-server as a byte stream,
 * and what spice-server sends for the agent is cut into output packets.
 *
 * The RAM BAR is guest memory the guest may change at any time, so:
 * the indices the device owns (input.cons, output.prod) are kept here and
 * only mirrored into RAM; every guest-owned word is loaded once into a
 * local and checked before use; a packet's size is taken once, when the
 * device starts reading it; a broken ring stops the device until the guest
 * connects again or the device is reset (guest_bug), with a log message.
 *
 * Threads: everything runs with the BQL held: I/O port accesses on vCPU
 * threads, and spice-server's calls (read, write, state) in the main loop,
 * or nested in our own spice_server_char_device_wakeup() and add_interface
 * calls.  Other vCPUs change the RAM meanwhile, so no loop over the rings
 * may depend on the guest to end: each wakeup gets a budget of ring steps
 * (VDI_PORT_STEPS), and work beyond it goes on in a bottom half.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "hw/pci/pci_device.h"
#include "hw/char/vdi-port.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "chardev/spice-vdagent.h"
#include "ui/qemu-spice.h"
#include "trace.h"

#define TYPE_VDI_PORT "vdi-port"
OBJECT_DECLARE_SIMPLE_TYPE(VDIPortState, VDI_PORT)

/* Where things live in the RAM BAR. */
#define RAM_OFF(field)      offsetof(VDIPortRam, field)
#define RING_OFF(ring, f)   (RAM_OFF(ring) + offsetof(VDIPortRing, f))
#define PACKET_OFF(ring, i) (RING_OFF(ring, items) + \
                             (i) * sizeof(VDIPortRing_ring_el))

/*
 * Ring steps per wakeup: input packets started (whatever they hold) and
 * second looks at a ring that the guest changed under us.  One ringful.
 */
#define VDI_PORT_STEPS      VDI_PORT_RING_SIZE

QEMU_BUILD_BUG_ON(sizeof(VDIPortPacket) != VDI_PORT_PACKET_SIZE);
QEMU_BUILD_BUG_ON(sizeof(VDIPortRing_ring_el) != VDI_PORT_PACKET_SIZE);
QEMU_BUILD_BUG_ON(RAM_OFF(input) != 16);
QEMU_BUILD_BUG_ON(sizeof(VDIPortRam) > VDI_PORT_RAM_SIZE);
QEMU_BUILD_BUG_ON(VDI_PORT_RAM_SIZE / 2 >= sizeof(VDIPortRam));

struct VDIPortState {
    PCIDevice parent_obj;

    MemoryRegion io;
    MemoryRegion ram;
    uint8_t *ram_ptr;

    /* spice-server's view of us while the guest is connected */
    SpiceCharDeviceInstance sin;
    bool attached;
    char *owner;
    VMChangeStateEntry *vm_change;
    QEMUBH *resume_bh;      /* goes on where a spent budget stopped */
    uint32_t steps_left;    /* ring steps left in this wakeup */

    /* Migrated state */
    bool connected;
    bool guest_bug;
    uint32_t generation;
    uint32_t in_cons;       /* next input packet we read */
    uint32_t in_size;       /* its size, taken once when we started it */
    uint32_t in_read;       /* bytes of it already given to spice */
    uint32_t out_prod;      /* next output slot we fill */
    /* Set on the destination of a migration until the VM runs. */
    bool new_gen_on_resume;
};

/* ---- RAM BAR accessors ------------------------------------------------ */

static uint32_t ram_ld(VDIPortState *s, hwaddr off)
{
    return ldl_le_p(s->ram_ptr + off);
}

static void ram_st(VDIPortState *s, hwaddr off, uint32_t val)
{
    stl_le_p(s->ram_ptr + off, val);
    memory_region_set_dirty(&s->ram, off, 4);
}

static void vdi_port_guest_bug(VDIPortState *s, const char *what,
                               uint32_t a, uint32_t b)
{
    qemu_log_mask(LOG_GUEST_ERROR, "vdi-port: %s (0x%x, 0x%x); "
                  "the device stops until the guest connects again\n",
                  what, a, b);
    s->guest_bug = true;
}

/* ---- interrupt -------------------------------------------------------- */

static void vdi_port_update_irq(VDIPortState *s)
{
    uint32_t pending = ram_ld(s, RAM_OFF(int_pending));
    uint32_t mask = ram_ld(s, RAM_OFF(int_mask));

    trace_vdi_port_irq(pending, mask);
    pci_set_irq(PCI_DEVICE(s), !!(pending & mask & VDI_PORT_INTERRUPT));
}

static void vdi_port_raise(VDIPortState *s)
{
    uint32_t *pending = (uint32_t *)(s->ram_ptr + RAM_OFF(int_pending));

    if (!s->connected) {
        return;
    }
    /* The guest clears bits concurrently: set ours atomically. */
    qatomic_or(pending, cpu_to_le32(VDI_PORT_INTERRUPT));
    memory_region_set_dirty(&s->ram, RAM_OFF(int_pending), 4);
    vdi_port_update_irq(s);
}

/*
 * Whether the rings may move.  Not while the VM is stopped: a migration
 * may have copied the RAM already, and on its destination the generation
 * must change (when the VM runs) before any packet is read.
 */
static bool vdi_port_active(VDIPortState *s)
{
    return s->connected && !s->guest_bug && runstate_is_running();
}

/*
 * Take one ring step from the wakeup's budget.  When it is spent, the
 * rest is left for a bottom half, after the main loop has run, and the
 * caller returns what it has.
 */
static bool vdi_port_step(VDIPortState *s)
{
    if (!s->steps_left) {
        trace_vdi_port_budget_spent(s->in_cons, s->out_prod);
        qemu_bh_schedule(s->resume_bh);
        return false;
    }
    s->steps_left--;
    return true;
}

/* ---- guest -> spice: the input ring ----------------------------------- */

/* Done with the current input packet: give its slot back to the guest. */
static bool vdi_port_in_pop(VDIPortState *s)
{
    s->in_cons++;
    s->in_size = 0;
    s->in_read = 0;
    ram_st(s, RING_OFF(input, cons), s->in_cons);
    smp_mb(); /* cons visible before we read the guest's notify_on_cons */
    return s->in_cons == ram_ld(s, RING_OFF(input, notify_on_cons));
}

static int vdi_port_sif_read(SpiceCharDeviceInstance *sin, uint8_t *buf,
                             int len)
{
    VDIPortState *s = container_of(sin, VDIPortState, sin);
    bool notify = false;
    int done = 0;

    while (vdi_port_active(s) && done < len) {
        uint32_t prod = ram_ld(s, RING_OFF(input, prod));
        uint32_t used = prod - s->in_cons;
        hwaddr pkt = PACKET_OFF(input, s->in_cons % VDI_PORT_RING_SIZE);
        uint32_t n;

        if (used > VDI_PORT_RING_SIZE) {
            vdi_port_guest_bug(s, "input ring prod/cons out of range",
                               prod, s->in_cons);
            break;
        }
        if (!used) {
            /* Ask the guest to notify us with its next packet. */
            ram_st(s, RING_OFF(input, notify_on_prod), s->in_cons + 1);
            smp_mb(); /* request visible before we look at prod again */
            if (ram_ld(s, RING_OFF(input, prod)) == s->in_cons ||
                !vdi_port_step(s)) {
                break;
            }
            continue;
        }
        smp_rmb(); /* the packet is read after the prod that covers it */
        if (s->in_read == 0) {
            /* A new packet: take gen and size once. */
            uint32_t gen, size;

            if (!vdi_port_step(s)) {
                break;
            }
            gen = ram_ld(s, pkt + offsetof(VDIPortPacket, gen));
            size = ram_ld(s, pkt + offsetof(VDIPortPacket, size));
            if (gen != s->generation) {
                trace_vdi_port_drop_stale(s->in_cons, gen, s->generation);
                notify |= vdi_port_in_pop(s);
                continue;
            }
            if (size > VDI_PORT_PACKET_DATA_SIZE) {
                qemu_log_mask(LOG_GUEST_ERROR, "vdi-port: input packet %u "
                              "has size %u > %u, dropped\n", s->in_cons,
                              size, VDI_PORT_PACKET_DATA_SIZE);
                notify |= vdi_port_in_pop(s);
                continue;
            }
            s->in_size = size;
        }
        n = MIN(s->in_size - s->in_read, (uint32_t)(len - done));
        memcpy(buf + done,
               s->ram_ptr + pkt + offsetof(VDIPortPacket, data) + s->in_read,
               n);
        s->in_read += n;
        done += n;
        if (s->in_read == s->in_size) {
            notify |= vdi_port_in_pop(s);
        }
    }
    trace_vdi_port_to_spice(len, done, s->in_cons);
    if (notify) {
        vdi_port_raise(s);
    }
    return done;
}

/* ---- spice -> guest: the output ring ---------------------------------- */

static int vdi_port_sif_write(SpiceCharDeviceInstance *sin,
                              const uint8_t *buf, int len)
{
    VDIPortState *s = container_of(sin, VDIPortState, sin);
    bool notify = false;
    int done = 0;

    while (vdi_port_active(s) && done < len) {
        uint32_t cons = ram_ld(s, RING_OFF(output, cons));
        uint32_t used = s->out_prod - cons;
        hwaddr pkt = PACKET_OFF(output, s->out_prod % VDI_PORT_RING_SIZE);
        uint32_t n = MIN(len - done, VDI_PORT_PACKET_DATA_SIZE);

        if (used > VDI_PORT_RING_SIZE) {
            vdi_port_guest_bug(s, "output ring prod/cons out of range",
                               s->out_prod, cons);
            break;
        }
        if (used == VDI_PORT_RING_SIZE) {
            /*
             * Full: ask the guest to notify us when it frees a slot;
             * spice-server keeps the rest until our next wakeup.
             */
            ram_st(s, RING_OFF(output, notify_on_cons), cons + 1);
            smp_mb(); /* request visible before we look at cons again */
            if (ram_ld(s, RING_OFF(output, cons)) == cons ||
                !vdi_port_step(s)) {
                break;
            }
            continue;
        }
        ram_st(s, pkt + offsetof(VDIPortPacket, gen), s->generation);
        ram_st(s, pkt + offsetof(VDIPortPacket, size), n);
        memcpy(s->ram_ptr + pkt + offsetof(VDIPortPacket, data), buf + done, n);
        memory_region_set_dirty(&s->ram, pkt, VDI_PORT_PACKET_SIZE);
        smp_wmb(); /* the packet is complete before prod covers it */
        s->out_prod++;
        ram_st(s, RING_OFF(output, prod), s->out_prod);
        smp_mb(); /* prod visible before we read notify_on_prod */
        notify |= s->out_prod == ram_ld(s, RING_OFF(output, notify_on_prod));
        done += n;
    }
    trace_vdi_port_to_guest(len, done, s->out_prod);
    if (notify) {
        vdi_port_raise(s);
    }
    return done;
}

static void vdi_port_sif_state(SpiceCharDeviceInstance *sin, int connected)
{
    VDIPortState *s = container_of(sin, VDIPortState, sin);

    /*
     * Besides echoing our own attach and detach, spice-server detaches the
     * agent by itself when the guest's byte stream breaks the agent
     * protocol.  The guest must connect again to get a new agent.
     */
    if (!connected && s->attached) {
        s->attached = false;
        qemu_log_mask(LOG_GUEST_ERROR, "vdi-port: spice-server dropped the "
                      "agent (bad agent protocol); reconnect to restart\n");
    }
}

static const SpiceCharDeviceInterface vdi_port_sif = {
    .base = {
        .type = SPICE_INTERFACE_CHAR_DEVICE,
        .description = "vdi-port",
        .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
        .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
    },
    .state = vdi_port_sif_state,
    .write = vdi_port_sif_write,
    .read = vdi_port_sif_read,
    /* The guest's NOTIFY becomes our wakeup: no polling by spice-server. */
    .flags = SPICE_CHAR_DEVICE_NOTIFY_WRITABLE,
};

/* ---- agent attach / detach -------------------------------------------- */

static void vdi_port_attach(VDIPortState *s)
{
    if (s->attached) {
        return;
    }
    s->sin.base.sif = &vdi_port_sif.base;
    /* Fails only if another vdagent exists, which our claim rules out. */
    s->attached = qemu_spice.add_interface(&s->sin.base) == 0;
    if (!s->attached) {
        error_report("vdi-port: spice-server refused the agent channel");
    }
}

static void vdi_port_detach(VDIPortState *s)
{
    if (s->attached) {
        s->attached = false;
        spice_server_remove_interface(&s->sin.base);
    }
}

/* A kick: spice-server reads and writes what it can, with a new budget. */
static void vdi_port_wakeup(VDIPortState *s)
{
    s->steps_left = VDI_PORT_STEPS;
    if (s->attached) {
        spice_server_char_device_wakeup(&s->sin);
    }
}

static void vdi_port_resume_bh(void *opaque)
{
    VDIPortState *s = opaque;

    if (vdi_port_active(s)) {
        vdi_port_wakeup(s);
    }
}

static void vdi_port_new_generation(VDIPortState *s)
{
    s->generation++;
    if (!s->generation) {
        s->generation = 1;
    }
    /* Forget the packet we were in the middle of: it is stale now. */
    s->in_size = 0;
    s->in_read = 0;
    ram_st(s, RAM_OFF(generation), s->generation);
}

static uint32_t vdi_port_connect(VDIPortState *s)
{
    /*
     * A connect while connected is a new session of the guest agent: detach
     * first, so that spice-server and the client see the agent restart.
     */
    vdi_port_detach(s);
    vdi_port_new_generation(s);
    s->guest_bug = false;
    s->connected = true;
    /*
     * A session starts with empty rings, whatever the guest left in them:
     * the device's own indices win.
     */
    ram_st(s, RING_OFF(input, cons), s->in_cons);
    ram_st(s, RING_OFF(input, prod), s->in_cons);
    ram_st(s, RING_OFF(output, prod), s->out_prod);
    ram_st(s, RING_OFF(output, cons), s->out_prod);
    trace_vdi_port_connect(s->generation);
    s->steps_left = VDI_PORT_STEPS;
    vdi_port_attach(s);
    return s->generation;
}

static void vdi_port_disconnect(VDIPortState *s)
{
    trace_vdi_port_disconnect(s->connected);
    s->connected = false;
    qemu_bh_cancel(s->resume_bh);
    vdi_port_detach(s);
}

/* ---- I/O BAR ------------------------------------------------------------ */

static uint64_t vdi_port_io_read(void *opaque, hwaddr addr, unsigned size)
{
    VDIPortState *s = opaque;

    if (addr == VDI_PORT_IO_CONNECTION) {
        return vdi_port_connect(s);
    }
    qemu_log_mask(LOG_GUEST_ERROR, "vdi-port: read of write-only port 0x%"
                  HWADDR_PRIx "\n", addr);
    return UINT32_MAX;
}

static void vdi_port_io_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    VDIPortState *s = opaque;

    switch (addr) {
    case VDI_PORT_IO_CONNECTION:
        vdi_port_disconnect(s);
        break;
    case VDI_PORT_IO_NOTIFY:
        if (!s->connected) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "vdi-port: NOTIFY while disconnected, ignored\n");
            break;
        }
        vdi_port_wakeup(s);
        break;
    case VDI_PORT_IO_UPDATE_IRQ:
        vdi_port_update_irq(s);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "vdi-port: write to unknown port 0x%"
                      HWADDR_PRIx "\n", addr);
    }
}

static const MemoryRegionOps vdi_port_io_ops = {
    .read = vdi_port_io_read,
    .write = vdi_port_io_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* ---- device life ------------------------------------------------------ */

static void vdi_port_ram_init(VDIPortState *s)
{
    memset(s->ram_ptr, 0, VDI_PORT_RAM_SIZE);
    stl_le_p(s->ram_ptr + RAM_OFF(magic), VDI_PORT_MAGIC);
    stl_le_p(s->ram_ptr + RAM_OFF(generation), s->generation);
    stl_le_p(s->ram_ptr + RING_OFF(input, num_items), VDI_PORT_RING_SIZE);
    stl_le_p(s->ram_ptr + RING_OFF(input, notify_on_prod), 1);
    stl_le_p(s->ram_ptr + RING_OFF(output, num_items), VDI_PORT_RING_SIZE);
    stl_le_p(s->ram_ptr + RING_OFF(output, notify_on_prod), 1);
    memory_region_set_dirty(&s->ram, 0, VDI_PORT_RAM_SIZE);
}

static void vdi_port_reset(DeviceState *dev)
{
    VDIPortState *s = VDI_PORT(dev);

    vdi_port_disconnect(s);
    s->guest_bug = false;
    s->generation = 0;
    s->in_cons = s->in_size = s->in_read = 0;
    s->out_prod = 0;
    s->new_gen_on_resume = false;
    vdi_port_ram_init(s);
    pci_set_irq(PCI_DEVICE(s), 0);
}

/*
 * The VM runs again.  A migrated agent goes on in its generation when
 * spice-server got the stream's state back (a client followed the VM);
 * otherwise spice-server starts afresh, and so does the stream: a new
 * generation.
 */
static void vdi_port_vm_change(void *opaque, bool running, RunState state)
{
    VDIPortState *s = opaque;

    if (!running || !s->connected) {
        return;
    }
    if (s->new_gen_on_resume) {
        s->new_gen_on_resume = false;
        if (spice_vdagent_stream_migrated()) {
            trace_vdi_port_resume_stream(s->generation);
        } else {
            vdi_port_new_generation(s);
            trace_vdi_port_resume_generation(s->generation);
            vdi_port_raise(s);
        }
    }
    /* Whatever spice-server held back while we were stopped. */
    vdi_port_wakeup(s);
}

static void vdi_port_realize(PCIDevice *pci, Error **errp)
{
    VDIPortState *s = VDI_PORT(pci);
    DeviceState *dev = DEVICE(pci);

    if (!qemu_using_spice(errp)) {
        error_append_hint(errp, "vdi-port is the SPICE agent channel: "
                          "add -spice.\n");
        return;
    }
    s->owner = dev->id ? g_strdup_printf("vdi-port '%s'", dev->id)
                       : g_strdup_printf("vdi-port at %02x.%x",
                                         PCI_SLOT(pci->devfn),
                                         PCI_FUNC(pci->devfn));
    if (!spice_vdagent_claim(s->owner, errp)) {
        g_clear_pointer(&s->owner, g_free);
        return;
    }
    if (!memory_region_init_ram(&s->ram, OBJECT(s), "vdi-port.ram",
                                VDI_PORT_RAM_SIZE, errp)) {
        spice_vdagent_release(s->owner);
        g_clear_pointer(&s->owner, g_free);
        return;
    }
    s->ram_ptr = memory_region_get_ram_ptr(&s->ram);
    /* 12 bytes of registers in a power-of-two BAR */
    memory_region_init_io(&s->io, OBJECT(s), &vdi_port_io_ops, s,
                          "vdi-port.io", pow2ceil(VDI_PORT_IO_RANGE_SIZE));

    pci->config[PCI_INTERRUPT_PIN] = 1;
    pci_register_bar(pci, VDI_PORT_IO_RANGE_INDEX, PCI_BASE_ADDRESS_SPACE_IO,
                     &s->io);
    pci_register_bar(pci, VDI_PORT_RAM_RANGE_INDEX,
                     PCI_BASE_ADDRESS_SPACE_MEMORY, &s->ram);

    s->sin.subtype = "vdagent";
    s->resume_bh = qemu_bh_new_guarded(vdi_port_resume_bh, s,
                                       &dev->mem_reentrancy_guard);
    s->vm_change = qemu_add_vm_change_state_handler(vdi_port_vm_change, s);
    vdi_port_ram_init(s);
}

static void vdi_port_exit(PCIDevice *pci)
{
    VDIPortState *s = VDI_PORT(pci);

    vdi_port_disconnect(s);
    qemu_del_vm_change_state_handler(s->vm_change);
    g_clear_pointer(&s->resume_bh, qemu_bh_delete);
    spice_vdagent_release(s->owner);
    g_clear_pointer(&s->owner, g_free);
}

/* ---- migration -------------------------------------------------------- */

static int vdi_port_post_load(void *opaque, int version_id)
{
    VDIPortState *s = opaque;

    /* The stream is untrusted too. */
    if (s->in_size > VDI_PORT_PACKET_DATA_SIZE || s->in_read > s->in_size) {
        error_report("vdi-port: bad input packet state %u/%u in migration",
                     s->in_read, s->in_size);
        return -EINVAL;
    }
    if (s->connected) {
        /* The guest agent is still there: no new connect is needed. */
        vdi_port_attach(s);
        s->new_gen_on_resume = true;
    }
    return 0;
}

static const VMStateDescription vmstate_vdi_port = {
    .name = "vdi-port",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = vdi_port_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, VDIPortState),
        VMSTATE_BOOL(connected, VDIPortState),
        VMSTATE_BOOL(guest_bug, VDIPortState),
        VMSTATE_UINT32(generation, VDIPortState),
        VMSTATE_UINT32(in_cons, VDIPortState),
        VMSTATE_UINT32(in_size, VDIPortState),
        VMSTATE_UINT32(in_read, VDIPortState),
        VMSTATE_UINT32(out_prod, VDIPortState),
        VMSTATE_END_OF_LIST()
    },
};

static void vdi_port_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = vdi_port_realize;
    pc->exit = vdi_port_exit;
    pc->vendor_id = VDI_PORT_VENDOR_ID;
    pc->device_id = VDI_PORT_DEVICE_ID;
    pc->revision = VDI_PORT_REVISION;
    pc->class_id = VDI_PORT_CLASS;
    device_class_set_legacy_reset(dc, vdi_port_reset);
    dc->vmsd = &vmstate_vdi_port;
    dc->desc = "SPICE agent channel over the VDI port (original design)";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo vdi_port_types[] = {
    {
        .name = TYPE_VDI_PORT,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(VDIPortState),
        .class_init = vdi_port_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { },
        },
    },
};

DEFINE_TYPES(vdi_port_types)
