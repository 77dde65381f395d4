/*
 * vdi-port-bridge: runs in a Linux guest and turns QEMU's VDI port device
 * (-device vdi-port) into a pseudo-terminal, so that the unmodified SPICE
 * guest agent daemon can use it in place of the virtio-serial port:
 *
 *     vdi-port-bridge --link /run/vdi-port-agent &
 *     spice-vdagentd -s /run/vdi-port-agent
 *
 * It needs no kernel driver of its own: the device is bound to
 * uio_pci_generic, the registers (BAR 0, I/O) are reached through sysfs
 * resource0, the rings (BAR 1) through an mmap of resource1, and the
 * interrupt through /dev/uioN (unmasked again through sysfs config).
 * The ABI is in QEMU's include/hw/char/vdi-port.h and
 * docs/specs/vdi-port.rst.
 *
 * Build: cc -O2 -I<qemu>/include/hw/char $(pkg-config --cflags spice-protocol)
 *        -o vdi-port-bridge vdi-port-bridge.c
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "vdi-port.h"

#define OUTBUF_SIZE (VDI_PORT_RING_SIZE * VDI_PORT_PACKET_DATA_SIZE)
#define PCI_COMMAND_OFFSET 4
#define PCI_COMMAND_INTX_DISABLE_BIT 0x400

static int verbose;

typedef struct Bridge {
    int io_fd;                  /* sysfs resource0 */
    int uio_fd;                 /* /dev/uioN */
    int cfg_fd;                 /* sysfs config */
    int pty;                    /* master side */
    int pty_slave;              /* kept open so the master never sees EIO */
    /* The device changes it behind our back: volatile, one access each. */
    volatile VDIPortRam *ram;
    uint32_t gen;
    /* output ring -> pty bytes not yet written */
    uint8_t out[OUTBUF_SIZE];
    size_t out_len, out_pos;
    unsigned long to_device, to_agent;
} Bridge;

static void vsay(const char *fmt, va_list ap)
{
    fputs("vdi-port-bridge: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    exit(1);
}

/* The ring words are shared with the device: one load or store each. */
static uint32_t ld(volatile uint32_t *p)
{
    return le32toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void st(volatile uint32_t *p, uint32_t v) /* device memory */
{
    __atomic_store_n(p, htole32(v), __ATOMIC_RELEASE);
}

static uint32_t port_in(Bridge *b, int port)
{
    uint32_t v;

    if (pread(b->io_fd, &v, 4, port) != 4) {
        die("reading I/O port %d: %s", port, strerror(errno));
    }
    return le32toh(v);
}

static void port_out(Bridge *b, int port, uint32_t v)
{
    v = htole32(v);
    if (pwrite(b->io_fd, &v, 4, port) != 4) {
        die("writing I/O port %d: %s", port, strerror(errno));
    }
}

static int read_hex(const char *path)
{
    char buf[32] = "";
    FILE *f = fopen(path, "r");
    unsigned int v;

    if (!f) {
        return -1;
    }
    if (!fgets(buf, sizeof(buf), f)) {
        buf[0] = 0;
    }
    fclose(f);
    return sscanf(buf, "%x", &v) == 1 ? (int)v : -1;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);

    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0 && verbose) {
            say("%s: %s", path, strerror(errno));
        }
        close(fd);
    }
}

/* The first PCI function with the VDI port's IDs, or NULL. */
static char *find_device(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char *found = NULL;
    char path[512];

    if (!d) {
        die("no /sys/bus/pci/devices: is sysfs mounted?");
    }
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
                 e->d_name);
        if (read_hex(path) != VDI_PORT_VENDOR_ID) {
            continue;
        }
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
                 e->d_name);
        if (read_hex(path) == VDI_PORT_DEVICE_ID) {
            found = strdup(e->d_name);
        }
    }
    closedir(d);
    return found;
}

/* Bind @dev to uio_pci_generic and open /dev/uioN. */
static int open_uio(const char *dev)
{
    char path[512], link[512];
    DIR *d;
    struct dirent *e;
    ssize_t n;
    int fd = -1;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", dev);
    n = readlink(path, link, sizeof(link) - 1);
    link[n > 0 ? n : 0] = 0;
    if (!strstr(link, "uio_pci_generic")) {
        if (system("modprobe uio_pci_generic 2>/dev/null")) {
            /* maybe built in; the sysfs writes below tell */
        }
        if (n > 0) {
            snprintf(path, sizeof(path),
                     "/sys/bus/pci/devices/%s/driver/unbind", dev);
            write_file(path, dev);
        }
        write_file("/sys/bus/pci/drivers/uio_pci_generic/new_id",
                   "1b36 0105");
        write_file("/sys/bus/pci/drivers/uio_pci_generic/bind", dev);
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uio", dev);
    d = opendir(path);
    if (!d) {
        die("%s is not bound to uio_pci_generic (modprobe uio_pci_generic?)",
            dev);
    }
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, "uio", 3)) {
            snprintf(path, sizeof(path), "/dev/%s", e->d_name);
            fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                die("%s: %s", path, strerror(errno));
            }
            break;
        }
    }
    closedir(d);
    if (fd < 0) {
        die("no uio node for %s", dev);
    }
    return fd;
}

static void open_pty(Bridge *b, const char *link)
{
    struct termios t;
    char *name;

    b->pty = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (b->pty < 0 || grantpt(b->pty) || unlockpt(b->pty)) {
        die("cannot create a pty: %s", strerror(errno));
    }
    name = ptsname(b->pty);
    b->pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (b->pty_slave < 0 || tcgetattr(b->pty_slave, &t)) {
        die("%s: %s", name, strerror(errno));
    }
    /* The agent protocol is binary: no line discipline at all. */
    cfmakeraw(&t);
    tcsetattr(b->pty_slave, TCSANOW, &t);
    unlink(link);
    if (symlink(name, link)) {
        die("symlink %s -> %s: %s", link, name, strerror(errno));
    }
    say("agent port %s -> %s", link, name);
}

/* A new generation appeared (connect or migration): adopt it. */
static void check_generation(Bridge *b)
{
    uint32_t gen = ld(&b->ram->generation);

    if (gen != b->gen) {
        say("generation %u -> %u", b->gen, gen);
        b->gen = gen;
    }
}

/* pty -> input ring.  Returns true if packets were produced. */
static bool fill_input(Bridge *b)
{
    volatile VDIPortRing *r = &b->ram->input;   /* device memory */
    bool produced = false;

    for (;;) {
        uint32_t prod = ld(&r->prod), cons = ld(&r->cons);
        volatile VDIPortPacket *p;              /* device memory */
        uint8_t buf[VDI_PORT_PACKET_DATA_SIZE];
        ssize_t n;

        if (prod - cons >= VDI_PORT_RING_SIZE) {
            /* Full: have the device interrupt us when it frees a slot. */
            st(&r->notify_on_cons, cons + 1);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (ld(&r->prod) - ld(&r->cons) >= VDI_PORT_RING_SIZE) {
                break;
            }
            continue;
        }
        n = read(b->pty, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                die("reading the pty: %s", strerror(errno));
            }
            break;
        }
        p = &r->items[prod % VDI_PORT_RING_SIZE].el;
        memcpy((void *)p->data, buf, n);
        st(&p->gen, b->gen);
        st(&p->size, n);
        st(&r->prod, prod + 1);
        b->to_device += n;
        produced = true;
    }
    return produced;
}

static bool input_full(Bridge *b)
{
    return ld(&b->ram->input.prod) - ld(&b->ram->input.cons) >=
           VDI_PORT_RING_SIZE;
}

/* output ring -> out[]; returns true if packets were consumed. */
static bool drain_output(Bridge *b)
{
    volatile VDIPortRing *r = &b->ram->output;  /* device memory */
    bool consumed = false;

    for (;;) {
        uint32_t cons = ld(&r->cons), prod = ld(&r->prod);
        volatile VDIPortPacket *p;              /* device memory */
        uint32_t gen, size;

        if (prod == cons) {
            /* Empty: have the device interrupt us with the next packet. */
            st(&r->notify_on_prod, cons + 1);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (ld(&r->prod) == cons) {
                break;
            }
            continue;
        }
        if (prod - cons > VDI_PORT_RING_SIZE) {
            die("output ring indices out of range (%u, %u)", prod, cons);
        }
        p = &r->items[cons % VDI_PORT_RING_SIZE].el;
        gen = ld(&p->gen);
        size = ld(&p->size);
        if (size > VDI_PORT_PACKET_DATA_SIZE) {
            die("output packet of %u bytes", size);
        }
        if (gen == b->gen) {
            if (b->out_len + size > sizeof(b->out)) {
                break;      /* the pty is slow: leave it in the ring */
            }
            memcpy(b->out + b->out_len, (const void *)p->data, size);
            b->out_len += size;
        } else if (verbose) {
            say("dropped a packet of generation %u", gen);
        }
        st(&r->cons, cons + 1);
        consumed = true;
    }
    return consumed;
}

static void flush_pty(Bridge *b)
{
    while (b->out_pos < b->out_len) {
        ssize_t n = write(b->pty, b->out + b->out_pos,
                          b->out_len - b->out_pos);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            die("writing the pty: %s", strerror(errno));
        }
        b->out_pos += n;
        b->to_agent += n;
    }
    if (b->out_pos == b->out_len) {
        b->out_pos = b->out_len = 0;
    } else if (b->out_pos > sizeof(b->out) / 2) {
        memmove(b->out, b->out + b->out_pos, b->out_len - b->out_pos);
        b->out_len -= b->out_pos;
        b->out_pos = 0;
    }
}

static void ack_interrupt(Bridge *b)
{
    uint32_t count;
    uint16_t cmd;

    if (read(b->uio_fd, &count, 4) != 4) {
        return;
    }
    st(&b->ram->int_pending, 0);
    port_out(b, VDI_PORT_IO_UPDATE_IRQ, 0);
    /*
     * uio_pci_generic masked INTx (PCI_COMMAND bit 10) when it fired:
     * unmask it in config space, as its documentation says.
     */
    if (pread(b->cfg_fd, &cmd, 2, PCI_COMMAND_OFFSET) != 2) {
        die("reading PCI_COMMAND: %s", strerror(errno));
    }
    cmd = htole16(le16toh(cmd) & ~PCI_COMMAND_INTX_DISABLE_BIT);
    if (pwrite(b->cfg_fd, &cmd, 2, PCI_COMMAND_OFFSET) != 2) {
        die("re-enabling the interrupt: %s", strerror(errno));
    }
}

static void usage(void)
{
    fprintf(stderr,
            "Usage: vdi-port-bridge [--device DDDD:BB:DD.F] [--link PATH] [-v]\n"
            "  --link PATH   where to put the agent's port (default\n"
            "                /run/vdi-port-agent); start spice-vdagentd with\n"
            "                -s PATH\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'D' },
        { "link", required_argument, NULL, 'l' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { }
    };
    const char *link = "/run/vdi-port-agent";
    char *dev = NULL;
    char path[512];
    Bridge *b = calloc(1, sizeof(*b));
    int ram_fd, c;
    void *map;

    while ((c = getopt_long(argc, argv, "D:l:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            dev = optarg;
            break;
        case 'l':
            link = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            usage();
        }
    }
    if (!dev) {
        dev = find_device();
    }
    if (!dev) {
        die("no VDI port device (PCI 1b36:0105) found");
    }
    b->uio_fd = open_uio(dev);
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", dev);
    b->io_fd = open(path, O_RDWR | O_CLOEXEC);
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", dev);
    b->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
    if (b->cfg_fd < 0) {
        die("%s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource1", dev);
    ram_fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
    if (b->io_fd < 0 || ram_fd < 0) {
        die("%s: %s", path, strerror(errno));
    }
    map = mmap(NULL, VDI_PORT_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
               ram_fd, 0);
    if (map == MAP_FAILED) {
        die("mmap of BAR 1: %s", strerror(errno));
    }
    b->ram = map;
    if (ld(&b->ram->magic) != VDI_PORT_MAGIC) {
        die("bad magic 0x%x in BAR 1", ld(&b->ram->magic));
    }
    open_pty(b, link);

    /* A previous bridge may have left the device connected. */
    port_out(b, VDI_PORT_IO_CONNECTION, 0);
    b->gen = port_in(b, VDI_PORT_IO_CONNECTION);
    if (!b->gen) {
        die("connect failed");
    }
    st(&b->ram->int_mask, VDI_PORT_INTERRUPT);
    port_out(b, VDI_PORT_IO_UPDATE_IRQ, 0);
    say("connected to %s, generation %u", dev, b->gen);

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = b->uio_fd, .events = POLLIN },
            { .fd = b->pty, .events = 0 },
        };
        bool kick;

        if (!input_full(b)) {
            pfd[1].events |= POLLIN;
        }
        if (b->out_len) {
            pfd[1].events |= POLLOUT;
        }
        if (poll(pfd, 2, 1000) < 0 && errno != EINTR) {
            die("poll: %s", strerror(errno));
        }
        if (pfd[0].revents & POLLIN) {
            ack_interrupt(b);
        }
        check_generation(b);
        kick = fill_input(b);
        kick |= drain_output(b);
        flush_pty(b);
        kick |= drain_output(b);
        if (kick) {
            port_out(b, VDI_PORT_IO_NOTIFY, 0);
        }
        if (verbose > 0 && kick) {
            say("to device %lu, to agent %lu bytes", b->to_device,
                b->to_agent);
        }
    }
}
