/*
 * QTest for the VDI port (-device vdi-port): the test plays the guest
 * through the BARs, and a spice-gtk client in this process plays the
 * SPICE client, so that bytes are checked end to end through spice-server.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <spice-client.h>
#include <spice/vd_agent.h>
#include "qemu/cutils.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "hw/char/vdi-port.h"

#define RAM_OFF(f)          offsetof(VDIPortRam, f)
#define RING_OFF(r, f)      (RAM_OFF(r) + offsetof(VDIPortRing, f))
#define PACKET_OFF(r, i)    (RING_OFF(r, items) + \
                             ((i) % VDI_PORT_RING_SIZE) * VDI_PORT_PACKET_SIZE)
#define RING_BYTES          (VDI_PORT_RING_SIZE * VDI_PORT_PACKET_DATA_SIZE)
#define BIG                 40000   /* more than two rings' worth */
#define WAIT_US             (20 * G_USEC_PER_SEC)

typedef struct Guest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar io, ram;
    uint64_t io_size, ram_size;
    char *tmpdir;           /* holds the SPICE server's UNIX socket */
    char *spice_sock;
    uint32_t gen;
    GByteArray *rx;         /* bytes read from the output ring */
} Guest;

typedef struct Client {
    SpiceSession *session;
    SpiceMainChannel *main;
    bool agent;
    GByteArray *clipboard;  /* last clipboard data the agent sent */
} Client;

/* ---- the guest ---------------------------------------------------------- */

/* What firmware would do: place the BARs and enable decoding. */
static void guest_map(Guest *g)
{
    qpci_device_enable(g->dev);
    g->io = qpci_iomap(g->dev, VDI_PORT_IO_RANGE_INDEX, &g->io_size);
    g->ram = qpci_iomap(g->dev, VDI_PORT_RAM_RANGE_INDEX, &g->ram_size);
}

static void guest_start(Guest *g, const char *extra)
{
    memset(g, 0, sizeof(*g));
    g->tmpdir = g_dir_make_tmp("vdi-port-XXXXXX", NULL);
    g_assert_nonnull(g->tmpdir);
    g->spice_sock = g_build_filename(g->tmpdir, "spice.sock", NULL);
    g->qts = qtest_initf("-machine pc -nodefaults "
                         "-spice unix=on,addr=%s,disable-ticketing=on "
                         "-device vdi-port,addr=4.0 %s",
                         g->spice_sock, extra ? extra : "");
    g->bus = qpci_new_pc(g->qts, NULL);
    g->dev = qpci_device_find(g->bus, QPCI_DEVFN(4, 0));
    g_assert_nonnull(g->dev);
    guest_map(g);
    g->rx = g_byte_array_new();
}

static void guest_stop(Guest *g)
{
    g_byte_array_unref(g->rx);
    g_free(g->dev);
    qpci_free_pc(g->bus);
    qtest_quit(g->qts);
    unlink(g->spice_sock);
    rmdir(g->tmpdir);
    g_free(g->spice_sock);
    g_free(g->tmpdir);
}

static uint32_t rd(Guest *g, uint64_t off)
{
    return qpci_io_readl(g->dev, g->ram, off);
}

static void wr(Guest *g, uint64_t off, uint32_t val)
{
    qpci_io_writel(g->dev, g->ram, off, val);
}

static uint32_t port_in(Guest *g, int port)
{
    return qpci_io_readl(g->dev, g->io, port);
}

static void port_out(Guest *g, int port, uint32_t val)
{
    qpci_io_writel(g->dev, g->io, port, val);
}

static bool irq_line(Guest *g)
{
    return qpci_config_readw(g->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

static void guest_connect(Guest *g)
{
    g->gen = port_in(g, VDI_PORT_IO_CONNECTION);
    g_assert_cmpuint(g->gen, !=, 0);
    g_assert_cmpuint(rd(g, RAM_OFF(generation)), ==, g->gen);
}

static uint32_t in_used(Guest *g)
{
    return rd(g, RING_OFF(input, prod)) - rd(g, RING_OFF(input, cons));
}

/* Put one packet in the input ring (the caller checked for room). */
static void push_packet(Guest *g, uint32_t gen, const void *data, uint32_t size)
{
    uint32_t prod = rd(g, RING_OFF(input, prod));
    uint64_t pkt = PACKET_OFF(input, prod);

    wr(g, pkt + offsetof(VDIPortPacket, gen), gen);
    wr(g, pkt + offsetof(VDIPortPacket, size), size);
    if (size) {
        qpci_memwrite(g->dev, g->ram, pkt + offsetof(VDIPortPacket, data),
                      data, MIN(size, VDI_PORT_PACKET_DATA_SIZE));
    }
    wr(g, RING_OFF(input, prod), prod + 1);
}

/* Push as much of buf as fits; returns the bytes pushed. */
static size_t push_stream(Guest *g, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len && in_used(g) < VDI_PORT_RING_SIZE) {
        uint32_t n = MIN(len - done, VDI_PORT_PACKET_DATA_SIZE);

        push_packet(g, g->gen, buf + done, n);
        done += n;
    }
    return done;
}

/* Take every packet of the output ring into g->rx; returns packets read. */
static int pop_output(Guest *g)
{
    uint32_t cons = rd(g, RING_OFF(output, cons));
    uint32_t prod = rd(g, RING_OFF(output, prod));
    int count = 0;

    g_assert_cmpuint(prod - cons, <=, VDI_PORT_RING_SIZE);
    for (; cons != prod; cons++, count++) {
        uint64_t pkt = PACKET_OFF(output, cons);
        uint8_t data[VDI_PORT_PACKET_DATA_SIZE];
        uint32_t size = rd(g, pkt + offsetof(VDIPortPacket, size));

        g_assert_cmpuint(rd(g, pkt + offsetof(VDIPortPacket, gen)), ==,
                         g->gen);
        g_assert_cmpuint(size, >, 0);
        g_assert_cmpuint(size, <=, VDI_PORT_PACKET_DATA_SIZE);
        qpci_memread(g->dev, g->ram, pkt + offsetof(VDIPortPacket, data),
                     data, size);
        g_byte_array_append(g->rx, data, size);
    }
    wr(g, RING_OFF(output, cons), cons);
    return count;
}

/* The agent protocol: chunks of at most VD_AGENT_MAX_DATA_SIZE bytes. */
static GByteArray *agent_message(uint32_t type, const void *data,
                                 uint32_t size)
{
    GByteArray *msg = g_byte_array_new();
    GByteArray *out = g_byte_array_new();
    VDAgentMessage hdr = {
        .protocol = VD_AGENT_PROTOCOL, .type = type, .size = size,
    };
    size_t off;

    g_byte_array_append(msg, (uint8_t *)&hdr, sizeof(hdr));
    g_byte_array_append(msg, data, size);
    for (off = 0; off < msg->len; off += VD_AGENT_MAX_DATA_SIZE) {
        VDIChunkHeader chunk = {
            .port = VDP_CLIENT_PORT,
            .size = MIN(msg->len - off, VD_AGENT_MAX_DATA_SIZE),
        };
        g_byte_array_append(out, (uint8_t *)&chunk, sizeof(chunk));
        g_byte_array_append(out, msg->data + off, chunk.size);
    }
    g_byte_array_unref(msg);
    return out;
}

static GByteArray *announce_caps(void)
{
    uint8_t buf[sizeof(VDAgentAnnounceCapabilities) + 4] = { 0 };
    VDAgentAnnounceCapabilities *caps = (VDAgentAnnounceCapabilities *)buf;

    caps->request = 1;
    VD_AGENT_SET_CAPABILITY(caps->caps, VD_AGENT_CAP_MOUSE_STATE);
    VD_AGENT_SET_CAPABILITY(caps->caps, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    return agent_message(VD_AGENT_ANNOUNCE_CAPABILITIES, buf, sizeof(buf));
}

/*
 * Find a complete agent message of @type in g->rx (chunk headers
 * stripped); returns its data or NULL.
 */
static GByteArray *find_message(Guest *g, uint32_t type)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    size_t off = 0;

    while (off + sizeof(VDIChunkHeader) <= g->rx->len) {
        VDIChunkHeader chunk;

        memcpy(&chunk, g->rx->data + off, sizeof(chunk));
        off += sizeof(chunk);
        if (off + chunk.size > g->rx->len) {
            break;
        }
        g_byte_array_append(stream, g->rx->data + off, chunk.size);
        off += chunk.size;
    }
    off = 0;
    while (off + sizeof(VDAgentMessage) <= stream->len) {
        VDAgentMessage msg;

        memcpy(&msg, stream->data + off, sizeof(msg));
        g_assert_cmpuint(msg.protocol, ==, VD_AGENT_PROTOCOL);
        off += sizeof(msg);
        if (off + msg.size > stream->len) {
            break;
        }
        if (msg.type == type) {
            GByteArray *data = g_byte_array_new();

            g_byte_array_append(data, stream->data + off, msg.size);
            return data;
        }
        off += msg.size;
    }
    return NULL;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245 + 12345;
        buf[i] = seed >> 16;
    }
}

/* ---- the client ---------------------------------------------------------- */

static void client_agent_update(SpiceMainChannel *main, gpointer opaque)
{
    Client *c = opaque;
    gboolean connected;

    g_object_get(main, "agent-connected", &connected, NULL);
    c->agent = connected;
}

static void client_clipboard(SpiceMainChannel *main, guint selection,
                             guint type, gpointer data, guint size,
                             gpointer opaque)
{
    Client *c = opaque;

    g_byte_array_set_size(c->clipboard, 0);
    g_byte_array_append(c->clipboard, data, size);
}

static void client_channel_new(SpiceSession *session, SpiceChannel *channel,
                               gpointer opaque)
{
    Client *c = opaque;

    if (SPICE_IS_MAIN_CHANNEL(channel)) {
        c->main = SPICE_MAIN_CHANNEL(channel);
        g_signal_connect(channel, "main-agent-update",
                         G_CALLBACK(client_agent_update), c);
        g_signal_connect(channel, "main-clipboard-selection",
                         G_CALLBACK(client_clipboard), c);
    }
}

static void client_start(Client *c, const char *spice_sock)
{
    memset(c, 0, sizeof(*c));
    c->clipboard = g_byte_array_new();
    c->session = spice_session_new();
    g_object_set(c->session, "unix-path", spice_sock, "enable-audio", FALSE,
                 "enable-usbredir", FALSE, NULL);
    g_signal_connect(c->session, "channel-new",
                     G_CALLBACK(client_channel_new), c);
    g_assert(spice_session_connect(c->session));
}

static void client_stop(Client *c)
{
    spice_session_disconnect(c->session);
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_object_unref(c->session);
    g_byte_array_unref(c->clipboard);
}

static void pump(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    do {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(1000);
        }
    } while (g_get_monotonic_time() < end);
}

#define WAIT_FOR(cond, what) do {                                       \
        gint64 end_ = g_get_monotonic_time() + WAIT_US;                 \
        while (!(cond)) {                                               \
            if (g_get_monotonic_time() > end_) {                        \
                g_error("timed out waiting for %s", what);              \
            }                                                           \
            pump(5);                                                    \
        }                                                               \
    } while (0)

static void send_stream(Guest *g, const GByteArray *s);

static bool output_has(Guest *g, uint32_t type)
{
    g_autoptr(GByteArray) msg = NULL;

    pop_output(g);
    port_out(g, VDI_PORT_IO_NOTIFY, 0);
    msg = find_message(g, type);
    return msg != NULL;
}

/*
 * The client announces itself once the agent is there; then we announce
 * ourselves and wait until the client knows we take clipboard data.
 */
static void agent_handshake(Guest *g, Client *c, GByteArray *caps)
{
    WAIT_FOR(c->agent, "the agent on the client");
    WAIT_FOR(output_has(g, VD_AGENT_ANNOUNCE_CAPABILITIES),
             "the client's capabilities");
    g_byte_array_set_size(g->rx, 0);
    send_stream(g, caps);
    WAIT_FOR(spice_main_channel_agent_test_capability(c->main,
                 VD_AGENT_CAP_CLIPBOARD_BY_DEMAND),
             "our capabilities on the client");
}

/* Push a whole stream, notifying and waiting for room as a guest would. */
static void send_stream(Guest *g, const GByteArray *s)
{
    size_t done = 0;
    gint64 end = g_get_monotonic_time() + WAIT_US;

    while (done < s->len) {
        done += push_stream(g, s->data + done, s->len - done);
        port_out(g, VDI_PORT_IO_NOTIFY, 0);
        pump(1);
        g_assert(g_get_monotonic_time() < end);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_pci_identity(void)
{
    Guest g;

    guest_start(&g, NULL);
    g_assert_cmphex(qpci_config_readw(g.dev, PCI_VENDOR_ID), ==, 0x1b36);
    g_assert_cmphex(qpci_config_readw(g.dev, PCI_DEVICE_ID), ==, 0x0105);
    g_assert_cmphex(qpci_config_readw(g.dev, PCI_CLASS_DEVICE), ==, 0x0780);
    g_assert_cmpint(qpci_config_readb(g.dev, PCI_REVISION_ID), ==, 1);
    g_assert_cmpint(qpci_config_readb(g.dev, PCI_INTERRUPT_PIN), ==, 1);
    g_assert(qpci_config_readl(g.dev, PCI_BASE_ADDRESS_0) &
             PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmpuint(g.io_size, ==, 16);
    g_assert_false(qpci_config_readl(g.dev, PCI_BASE_ADDRESS_1) &
                   PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmpuint(g.ram_size, ==, 64 * 1024);
    guest_stop(&g);
}

static void test_layout(void)
{
    Guest g;

    /* The ABI of spice-protocol's vdi_dev.h, in bytes. */
    g_assert_cmpuint(RAM_OFF(input), ==, 16);
    g_assert_cmpuint(RAM_OFF(output), ==, 16 + 20 + 32 * 512);
    g_assert_cmpuint(RAM_OFF(reserved), ==, 16 + 2 * (20 + 32 * 512));
    g_assert_cmpuint(sizeof(VDIPortRam), ==, 16 + 2 * (20 + 32 * 512) + 128);

    guest_start(&g, NULL);
    g_assert_cmphex(rd(&g, RAM_OFF(magic)), ==, 0x50494456);
    g_assert_cmpuint(rd(&g, RAM_OFF(generation)), ==, 0);
    g_assert_cmpuint(rd(&g, RAM_OFF(int_pending)), ==, 0);
    g_assert_cmpuint(rd(&g, RAM_OFF(int_mask)), ==, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(input, num_items)), ==, 32);
    g_assert_cmpuint(rd(&g, RING_OFF(output, num_items)), ==, 32);
    g_assert_cmpuint(rd(&g, RING_OFF(input, prod)), ==, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(output, cons)), ==, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(output, notify_on_prod)), ==, 1);
    /* Reads of write-only registers are all ones, not a crash. */
    g_assert_cmphex(port_in(&g, VDI_PORT_IO_NOTIFY), ==, 0xffffffff);
    g_assert_cmphex(port_in(&g, 12), ==, 0xffffffff);
    guest_stop(&g);
}

static void test_generations(void)
{
    Guest g;
    uint32_t first;

    guest_start(&g, NULL);
    guest_connect(&g);
    first = g.gen;
    g_assert_cmpuint(first, ==, 1);
    port_out(&g, VDI_PORT_IO_CONNECTION, 0);        /* disconnect */
    g_assert_cmpuint(rd(&g, RAM_OFF(generation)), ==, first);
    guest_connect(&g);
    g_assert_cmpuint(g.gen, ==, first + 1);
    guest_connect(&g);                              /* reconnect */
    g_assert_cmpuint(g.gen, ==, first + 2);
    /* Disconnect twice, NOTIFY while disconnected: logged, harmless. */
    port_out(&g, VDI_PORT_IO_CONNECTION, 0);
    port_out(&g, VDI_PORT_IO_CONNECTION, 0);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    guest_connect(&g);
    g_assert_cmpuint(g.gen, ==, first + 3);
    guest_stop(&g);
}

/* The guest's packets are consumed (spice reads them, no client here). */
static void test_interrupts(void)
{
    Guest g;
    uint8_t byte = 0;

    guest_start(&g, NULL);
    guest_connect(&g);
    g_assert_false(irq_line(&g));

    /* Ask for an interrupt when the device consumed the first packet. */
    wr(&g, RING_OFF(input, notify_on_cons), 1);
    push_packet(&g, g.gen, &byte, 0);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 0);
    g_assert_cmphex(rd(&g, RAM_OFF(int_pending)), ==, VDI_PORT_INTERRUPT);
    g_assert_false(irq_line(&g));                   /* masked */

    wr(&g, RAM_OFF(int_mask), VDI_PORT_INTERRUPT);
    g_assert_false(irq_line(&g));                   /* not re-evaluated yet */
    port_out(&g, VDI_PORT_IO_UPDATE_IRQ, 0);
    g_assert_true(irq_line(&g));

    wr(&g, RAM_OFF(int_pending), 0);                /* the guest acks */
    port_out(&g, VDI_PORT_IO_UPDATE_IRQ, 0);
    g_assert_false(irq_line(&g));

    /* No notify requested for the next one: no interrupt. */
    push_packet(&g, g.gen, &byte, 0);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 0);
    g_assert_cmphex(rd(&g, RAM_OFF(int_pending)), ==, 0);
    /* The empty ring asks the guest to notify with its next packet. */
    g_assert_cmpuint(rd(&g, RING_OFF(input, notify_on_prod)), ==,
                     rd(&g, RING_OFF(input, cons)) + 1);

    /* Reset lowers the line and clears everything. */
    wr(&g, RAM_OFF(int_pending), VDI_PORT_INTERRUPT);
    port_out(&g, VDI_PORT_IO_UPDATE_IRQ, 0);
    g_assert_true(irq_line(&g));
    qtest_system_reset(g.qts);
    g_assert_false(irq_line(&g));
    guest_map(&g);
    g_assert_cmpuint(rd(&g, RAM_OFF(generation)), ==, 0);
    g_assert_cmpuint(rd(&g, RAM_OFF(int_mask)), ==, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, 0);
    g_assert_cmphex(rd(&g, RAM_OFF(magic)), ==, VDI_PORT_MAGIC);
    guest_stop(&g);
}

/* Every malformed input is survived, and the device recovers. */
static void corrupt_last_size(Guest *g, uint32_t size)
{
    uint32_t last = rd(g, RING_OFF(input, prod)) - 1;

    wr(g, PACKET_OFF(input, last) + offsetof(VDIPortPacket, size), size);
}

static void test_malformed(void)
{
    Guest g;
    uint8_t byte = 0;
    uint32_t cons;

    guest_start(&g, NULL);

    /* Packets while disconnected are not consumed. */
    push_packet(&g, 0, &byte, 1);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 1);

    /* A connect empties the rings. */
    guest_connect(&g);
    g_assert_cmpuint(in_used(&g), ==, 0);

    /* A packet of another generation is dropped. */
    push_packet(&g, g.gen + 1, &byte, 1);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 0);

    /* size > payload capacity: dropped, the next packet still flows. */
    push_packet(&g, g.gen, &byte, 0);
    corrupt_last_size(&g, VDI_PORT_PACKET_DATA_SIZE + 1);
    push_packet(&g, g.gen, &byte, 0);
    corrupt_last_size(&g, 0xffffffff);
    push_packet(&g, g.gen, &byte, 1);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 0);
    cons = rd(&g, RING_OFF(input, cons));
    g_assert_cmpuint(cons, ==, 4);

    /* Garbage indices: the device stops using the rings... */
    wr(&g, RING_OFF(input, prod), cons + 1000);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, cons);
    wr(&g, RING_OFF(output, cons), 0x80000000);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    /* ...and the guest cannot move the device's own index. */
    wr(&g, RING_OFF(input, cons), 7);

    /* A reconnect empties the rings from the device's indices: works again. */
    guest_connect(&g);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, cons);
    g_assert_cmpuint(rd(&g, RING_OFF(input, prod)), ==, cons);
    g_assert_cmpuint(rd(&g, RING_OFF(output, cons)), ==,
                     rd(&g, RING_OFF(output, prod)));
    push_packet(&g, g.gen, &byte, 1);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&g), ==, 0);
    g_assert_cmphex(rd(&g, RAM_OFF(magic)), ==, VDI_PORT_MAGIC);
    guest_stop(&g);

    /* Same again from a clean device with sane rings. */
    guest_start(&g, NULL);
    guest_connect(&g);
    wr(&g, RING_OFF(input, prod), 0xdeadbeef);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, 0);
    guest_connect(&g);
    push_packet(&g, g.gen, &byte, 1);
    port_out(&g, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, 1);
    guest_stop(&g);
}

/* Guest -> client: announce, then a clipboard of BIG bytes. */
static void test_guest_to_client(void)
{
    Guest g;
    Client c;
    g_autofree uint8_t *payload = g_malloc(BIG + 4);
    g_autoptr(GByteArray) caps = announce_caps();
    g_autoptr(GByteArray) clip = NULL;
    uint8_t junk[64];
    uint32_t cons0;
    size_t done;

    guest_start(&g, NULL);
    guest_connect(&g);
    client_start(&c, g.spice_sock);
    agent_handshake(&g, &c, caps);

    cons0 = rd(&g, RING_OFF(input, cons));
    /* A stale packet of garbage first: it must not reach spice. */
    memset(junk, 0x7f, sizeof(junk));
    push_packet(&g, g.gen - 1, junk, sizeof(junk));

    *(uint32_t *)payload = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    fill_pattern(payload + 4, BIG, 1);
    clip = agent_message(VD_AGENT_CLIPBOARD, payload, BIG + 4);

    /* Fill the ring before the first NOTIFY: nothing may be lost. */
    done = push_stream(&g, clip->data, clip->len);
    g_assert_cmpuint(in_used(&g), ==, VDI_PORT_RING_SIZE);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, cons0);
    send_stream(&g, &(GByteArray){ .data = clip->data + done,
                                   .len = clip->len - done });
    WAIT_FOR(c.clipboard->len == BIG, "the clipboard on the client");
    g_assert(memcmp(c.clipboard->data, payload + 4, BIG) == 0);
    client_stop(&c);
    guest_stop(&g);
}

/* Client -> guest: a clipboard of BIG bytes through a ring left full. */
static void test_client_to_guest(void)
{
    Guest g;
    Client c;
    g_autofree uint8_t *payload = g_malloc(BIG);
    g_autoptr(GByteArray) caps = announce_caps();
    g_autoptr(GByteArray) clip = NULL;
    gint64 end;
    bool was_full = false;

    guest_start(&g, NULL);
    guest_connect(&g);
    wr(&g, RAM_OFF(int_mask), VDI_PORT_INTERRUPT);
    port_out(&g, VDI_PORT_IO_UPDATE_IRQ, 0);
    client_start(&c, g.spice_sock);
    agent_handshake(&g, &c, caps);

    fill_pattern(payload, BIG, 2);
    spice_main_channel_clipboard_selection_notify(c.main, 0,
        VD_AGENT_CLIPBOARD_UTF8_TEXT, payload, BIG);

    /* Do not consume until the output ring is full. */
    WAIT_FOR(rd(&g, RING_OFF(output, prod)) - rd(&g, RING_OFF(output, cons))
             == VDI_PORT_RING_SIZE, "a full output ring");
    g_assert_cmpuint(rd(&g, RING_OFF(output, notify_on_cons)), ==,
                     rd(&g, RING_OFF(output, cons)) + 1);
    g_assert_true(irq_line(&g));
    end = g_get_monotonic_time() + WAIT_US;
    while (!(clip = find_message(&g, VD_AGENT_CLIPBOARD))) {
        int n = pop_output(&g);

        was_full |= n == VDI_PORT_RING_SIZE;
        wr(&g, RAM_OFF(int_pending), 0);
        port_out(&g, VDI_PORT_IO_UPDATE_IRQ, 0);
        port_out(&g, VDI_PORT_IO_NOTIFY, 0);
        pump(2);
        g_assert(g_get_monotonic_time() < end);
    }
    g_assert_true(was_full);
    g_assert_cmpuint(clip->len, ==, BIG + 4);
    g_assert_cmpuint(*(uint32_t *)clip->data, ==, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    g_assert(memcmp(clip->data + 4, payload, BIG) == 0);
    client_stop(&c);
    guest_stop(&g);
}

static void wait_migration(QTestState *qts)
{
    gint64 end = g_get_monotonic_time() + WAIT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *st = ret ? qdict_get_try_str(ret, "status") : NULL;
        bool done = st && g_str_equal(st, "completed");

        g_assert(!st || !g_str_equal(st, "failed"));
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_assert(g_get_monotonic_time() < end);
        g_usleep(10000);
    }
}

/* Wait for the incoming migration to load, then run the VM. */
static void run_after_load(QTestState *qts)
{
    gint64 end = g_get_monotonic_time() + WAIT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
        const char *st = qdict_get_str(qdict_get_qdict(rsp, "return"),
                                       "status");
        bool paused = g_str_equal(st, "paused");

        qobject_unref(rsp);
        if (paused) {
            qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
            return;
        }
        g_assert(g_get_monotonic_time() < end);
        g_usleep(10000);
    }
}

/*
 * Save on one QEMU, load on another: the agent stays attached there, the
 * generation moves on, old packets are dropped, and what the client sends
 * is tagged with the new generation.
 */
static void test_migration(void)
{
    Guest src, dst;
    Client c;
    g_autofree char *dir = g_dir_make_tmp("vdi-port-XXXXXX", NULL);
    g_autofree char *file = g_strdup_printf("%s/state", dir);
    g_autofree char *incoming = g_strdup_printf("-incoming file:%s", file);
    g_autoptr(GByteArray) caps = announce_caps();
    g_autoptr(GByteArray) clip = NULL;
    uint8_t payload[1000];
    uint32_t old_gen, old_cons;

    guest_start(&src, NULL);
    guest_connect(&src);
    guest_connect(&src);
    old_gen = src.gen;
    send_stream(&src, caps);
    old_cons = rd(&src, RING_OFF(input, cons));
    /* A packet left for the destination, of the old generation. */
    memset(payload, 0x7f, sizeof(payload));
    push_packet(&src, old_gen, payload, 8);
    qtest_qmp_assert_success(src.qts, "{'execute': 'stop'}");
    qtest_qmp_assert_success(src.qts, "{'execute': 'migrate',"
                             " 'arguments': {'uri': %s}}", incoming + 10);
    wait_migration(src.qts);
    guest_stop(&src);

    guest_start(&dst, incoming);
    run_after_load(dst.qts);
    dst.gen = rd(&dst, RAM_OFF(generation));
    g_assert_cmpuint(dst.gen, ==, old_gen + 1);
    /* The old packet was dropped when the VM resumed. */
    port_out(&dst, VDI_PORT_IO_NOTIFY, 0);
    g_assert_cmpuint(in_used(&dst), ==, 0);
    g_assert_cmpuint(rd(&dst, RING_OFF(input, cons)), ==, old_cons + 1);

    /* No connect on this side: the agent is already there. */
    client_start(&c, dst.spice_sock);
    /* The client's capabilities arrive tagged with the new generation. */
    agent_handshake(&dst, &c, caps);
    fill_pattern(payload, sizeof(payload), 3);
    spice_main_channel_clipboard_selection_notify(c.main, 0,
        VD_AGENT_CLIPBOARD_UTF8_TEXT, payload, sizeof(payload));
    WAIT_FOR((pop_output(&dst), port_out(&dst, VDI_PORT_IO_NOTIFY, 0),
              (clip = find_message(&dst, VD_AGENT_CLIPBOARD)) != NULL),
             "the clipboard in the new generation");
    g_assert(memcmp(clip->data + 4, payload, sizeof(payload)) == 0);
    client_stop(&c);
    guest_stop(&dst);
    unlink(file);
    rmdir(dir);
}

/*
 * A guest that keeps the input ring full from a vCPU while the device
 * reads it: real-mode firmware, run by TCG from the reset vector, with the
 * RAM BAR at SPIN_RAM_BASE (the legacy VGA window: PCI memory that real
 * mode reaches).
 *
 *         mov ax, SPIN_RAM_BASE >> 4
 *         mov ds, ax
 *     1:  mov eax, [input.cons]
 *         add eax, VDI_PORT_RING_SIZE
 *         mov [input.prod], eax
 *         jmp 1b
 *
 * Each packet the device pops is replaced at once, by whatever the slots
 * hold: nothing (generation 0, stale), or what the test puts there.
 */
#define SPIN_RAM_BASE       0xa0000
#define SPIN_CONS           RING_OFF(input, cons)
#define SPIN_PROD           RING_OFF(input, prod)
#define SPIN_TIMEOUT_US     (60 * G_USEC_PER_SEC)

static char *spin_firmware(const char *dir)
{
    static const uint8_t code[] = {
        0xb8, 0x00, SPIN_RAM_BASE >> 12,                    /* mov ax */
        0x8e, 0xd8,                                         /* mov ds, ax */
        0x66, 0xa1, SPIN_CONS & 0xff, SPIN_CONS >> 8,       /* 1: mov eax */
        0x66, 0x83, 0xc0, VDI_PORT_RING_SIZE,               /* add eax */
        0x66, 0xa3, SPIN_PROD & 0xff, SPIN_PROD >> 8,       /* mov [], eax */
        0xeb, 0xf2,                                         /* jmp 1b */
    };
    /* At F000:FFF0: jmp near F000:FF00. */
    static const uint8_t reset[] = { 0xe9, 0x0d, 0xff };
    const size_t size = 64 * 1024;
    g_autofree uint8_t *rom = g_malloc(size);
    char *path = g_strdup_printf("%s/spin.bin", dir);

    memset(rom, 0xf4, size);                                /* hlt */
    memcpy(rom + 0xff00, code, sizeof(code));
    memcpy(rom + 0xfff0, reset, sizeof(reset));
    g_assert(g_file_set_contents(path, (char *)rom, size, NULL));
    return path;
}

/*
 * Kick the device until it has taken @n more input packets.  Each kick
 * takes what the ring holds, and more while the vCPU keeps refilling it.
 */
static void spin_kick(Guest *g, uint32_t n)
{
    uint32_t start = rd(g, RING_OFF(input, cons));

    WAIT_FOR((port_out(g, VDI_PORT_IO_NOTIFY, 0),
              rd(g, RING_OFF(input, cons)) - start >= n),
             "the device to take the vCPU's packets");
}

/*
 * The most input packets the device took in one read call of
 * spice-server's, from the vdi_port_to_spice trace in @log (one line per
 * call, ending with the input cons); @cons is the cons before the first.
 */
static uint32_t spin_max_per_read(const char *log, uint32_t cons)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    uint32_t max = 0;

    g_assert(g_file_get_contents(log, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    /* The last element is what follows the last newline. */
    for (int i = 0; lines[i] && lines[i + 1]; i++) {
        const char *p = strstr(lines[i], "input cons ");
        const char *end;
        unsigned int now;

        if (!strstr(lines[i], "vdi_port_to_spice") || !p) {
            continue;
        }
        g_assert_cmpint(qemu_strtoui(p + strlen("input cons "), &end, 10,
                                     &now), ==, 0);
        max = MAX(max, now - cons);
        cons = now;
    }
    return max;
}

static void spin_assert_running(Guest *g)
{
    QDict *rsp = qtest_qmp(g->qts, "{'execute': 'query-status'}");

    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
}

static void test_spinning_guest_body(void)
{
    g_autofree char *dir = g_dir_make_tmp("vdi-port-XXXXXX", NULL);
    g_autofree char *fw = spin_firmware(dir);
    g_autofree char *log = g_strdup_printf("%s/trace.log", dir);
    /* Tracing each dropped packet also makes the device the slower side. */
    g_autofree char *extra = g_strdup_printf(
        "-accel tcg -bios %s -trace vdi_port_to_spice "
        "-trace vdi_port_drop_stale -D %s", fw, log);
    Guest g;
    int i;

    guest_start(&g, extra);
    qpci_config_writel(g.dev, PCI_BASE_ADDRESS_0 +
                       VDI_PORT_RAM_RANGE_INDEX * 4, SPIN_RAM_BASE);
    g.ram.addr = SPIN_RAM_BASE;
    g_assert_cmphex(rd(&g, RAM_OFF(magic)), ==, VDI_PORT_MAGIC);
    g_assert_cmpuint(rd(&g, RING_OFF(input, cons)), ==, 0);
    WAIT_FOR(rd(&g, RING_OFF(input, prod)) == VDI_PORT_RING_SIZE,
             "the vCPU to fill the input ring");

    /*
     * Stale packets: the connect (spice-server reads at once) and each
     * NOTIFY come back after at most a ringful, however fast the vCPU
     * refills the ring.
     */
    guest_connect(&g);
    spin_kick(&g, 16 * VDI_PORT_RING_SIZE);
    spin_assert_running(&g);
    g_assert_cmpuint(spin_max_per_read(log, 0), <=, VDI_PORT_RING_SIZE);

    /* Empty packets of the current generation: the same. */
    for (i = 0; i < VDI_PORT_RING_SIZE; i++) {
        wr(&g, PACKET_OFF(input, i) + offsetof(VDIPortPacket, size), 0);
        wr(&g, PACKET_OFF(input, i) + offsetof(VDIPortPacket, gen), g.gen);
    }
    spin_kick(&g, 16 * VDI_PORT_RING_SIZE);
    spin_assert_running(&g);
    g_assert_cmpuint(spin_max_per_read(log, 0), <=, VDI_PORT_RING_SIZE);

    /* The rings were never broken: stopped, the guest connects again. */
    qtest_qmp_assert_success(g.qts, "{'execute': 'stop'}");
    g_assert_cmpuint(in_used(&g), <=, VDI_PORT_RING_SIZE);
    guest_connect(&g);
    g_assert_cmpuint(in_used(&g), ==, 0);
    guest_stop(&g);
    unlink(log);
    unlink(fw);
    rmdir(dir);
}

/* In a subprocess with a time limit: the bug it checks is a hang. */
static void test_spinning_guest(void)
{
    g_autofree char *sub = g_strdup_printf(
        "/%s/vdi-port/spinning-guest/subprocess", qtest_get_arch());

    g_test_trap_subprocess(sub, SPIN_TIMEOUT_US,
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (!g_test_trap_has_passed()) {
        g_printerr("%s failed%s\n", sub,
                   g_test_trap_reached_timeout() ? " (time limit)" : "");
        g_test_fail();
    }
}

/* Run QEMU with @args; it must fail with @error in its output. */
static void expect_failure(const char *args, const char *error)
{
    g_autofree char *cmd = g_strdup_printf("%s -machine pc -nodefaults "
                                           "-display none -S %s",
                                           g_getenv("QTEST_QEMU_BINARY"), args);
    g_autofree char *out = NULL, *err = NULL;
    g_auto(GStrv) argv = NULL;
    int status;

    g_assert(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                          &out, &err, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!strstr(err, error)) {
        g_error("expected '%s' in: %s", error, err);
    }
}

static void test_one_agent_only(void)
{
    g_autofree char *dir = g_dir_make_tmp("vdi-port-XXXXXX", NULL);
    g_autofree char *spice = g_strdup_printf(
        "-spice unix=on,addr=%s/spice.sock,disable-ticketing=on", dir);
    g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

    a = g_strdup_printf("%s -device vdi-port,id=v1 -device vdi-port,id=v2",
                        spice);
    expect_failure(a, "vdi-port 'v2' cannot provide the SPICE agent channel: "
                   "vdi-port 'v1' already does");
    b = g_strdup_printf("%s -chardev spicevmc,id=ch,name=vdagent "
                        "-device vdi-port", spice);
    expect_failure(b, "chardev 'ch' already does");
    c = g_strdup_printf("%s -chardev spicevmc,id=c1,name=vdagent "
                        "-chardev spicevmc,id=c2,name=vdagent", spice);
    expect_failure(c, "chardev 'c2' cannot provide the SPICE agent channel");
    d = g_strdup_printf("%s -chardev spicevmc,id=c1,name=nosuch", spice);
    expect_failure(d, "Channels it knows: vdagent");
    e = g_strdup("-device vdi-port");
    expect_failure(e, "SPICE is not in use");
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/vdi-port/pci-identity", test_pci_identity);
    qtest_add_func("/vdi-port/layout", test_layout);
    qtest_add_func("/vdi-port/generations", test_generations);
    qtest_add_func("/vdi-port/interrupts-reset", test_interrupts);
    qtest_add_func("/vdi-port/malformed", test_malformed);
    qtest_add_func("/vdi-port/spinning-guest", test_spinning_guest);
    qtest_add_func("/vdi-port/spinning-guest/subprocess",
                   test_spinning_guest_body);
    qtest_add_func("/vdi-port/guest-to-client", test_guest_to_client);
    qtest_add_func("/vdi-port/client-to-guest", test_client_to_guest);
    qtest_add_func("/vdi-port/migration", test_migration);
    qtest_add_func("/vdi-port/one-agent-only", test_one_agent_only);

    return g_test_run();
}
