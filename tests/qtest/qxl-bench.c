/*
 * QXL command ring benchmark: commands through the ring and back through
 * the release ring, as a guest driver that follows the ring protocol
 * pushes them.  Not a test: scripts/bench.py runs it against our QEMU and
 * stock QEMU 10.0 in turn and prints the ratios.
 *
 *   QTEST_QEMU_BINARY=... qxl-bench WORKLOAD COMMANDS [DEVICE-OPTIONS]
 *
 * WORKLOAD is fill (solid fills), copy32 (a 32x32 32 bpp bitmap, which our
 * device leaves in guest memory), copy32big (the same, 256x256) or copy8
 * (a 32x32 8 bpp bitmap with a palette, which our device copies).
 * DEVICE-OPTIONS are appended to "-device qxl-vga".  Prints one JSON
 * object.
 *
 * The producer kicks the device only when prod crosses notify_on_prod; on
 * a full ring it sets notify_on_cons and waits for the DISPLAY interrupt;
 * it empties the release ring as it goes (without walking the chains).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qdict.h"
#include "libqos/qxl.h"

#define RING_SIZE QXL_COMMAND_RING_SIZE
/* Drawables in flight: more than the ring holds, reused in turn. */
#define NUM_DRAWABLES (RING_SIZE * 4)

static uint32_t new_bitmap(QXLDev *q, unsigned bpp, uint32_t side)
{
    const uint32_t w = side, h = side, stride = w * bpp / 8;
    uint32_t img = qxl_alloc(q, sizeof(QXLImage));
    uint32_t data = qxl_alloc(q, stride * h);
    g_autofree uint8_t *pixels = g_malloc(stride * h);
    QXLImage i = {
        .descriptor.type = SPICE_IMAGE_TYPE_BITMAP,
        .descriptor.width = w,
        .descriptor.height = h,
        .bitmap = {
            .format = bpp == 8 ? SPICE_BITMAP_FMT_8BIT
                               : SPICE_BITMAP_FMT_32BIT,
            .flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN,
            .x = w, .y = h, .stride = stride,
            .data = qxl_phys(q, data),
        },
    };

    for (uint32_t n = 0; n < stride * h; n++) {
        pixels[n] = n * 7;
    }
    qxl_bar0_write(q, data, pixels, stride * h);
    if (bpp == 8) {
        uint32_t pal = qxl_alloc(q, sizeof(QXLPalette) + 256 * 4);
        QXLPalette p = { .num_ents = 256 };
        uint32_t ents[256];

        for (int n = 0; n < 256; n++) {
            ents[n] = n * 0x010101;
        }
        qxl_bar0_write(q, pal, &p, sizeof(p));
        qxl_bar0_write(q, pal + sizeof(p), ents, sizeof(ents));
        i.bitmap.palette = qxl_phys(q, pal);
    }
    qxl_bar0_write(q, img, &i, sizeof(i));
    return img;
}

static uint32_t new_copy(QXLDev *q, uint32_t image, int n)
{
    uint32_t off = qxl_alloc(q, sizeof(QXLDrawable));
    QXLRect r = { .left = n % 32, .top = n % 32,
                  .right = n % 32 + 32, .bottom = n % 32 + 32 };
    QXLDrawable d = {
        .release_info.id = qxl_release_id(off),
        .effect = QXL_EFFECT_OPAQUE,
        .type = QXL_DRAW_COPY,
        .bbox = r,
        .clip.type = SPICE_CLIP_TYPE_NONE,
        .surfaces_dest = { -1, -1, -1 },
        .u.copy = {
            .src_bitmap = qxl_phys(q, image),
            .src_area = { .right = 32, .bottom = 32 },
            .rop_descriptor = SPICE_ROPD_OP_PUT,
        },
    };

    qxl_bar0_write(q, off, &d, sizeof(d));
    return off;
}

/* utime + stime of a process or thread, in clock ticks. */
static uint64_t cpu_ticks(const char *stat_path)
{
    g_autofree char *text = NULL;
    unsigned long utime = 0, stime = 0;
    char *p;

    if (!g_file_get_contents(stat_path, &text, NULL, NULL)) {
        return 0;
    }
    p = strrchr(text, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%lu %lu", &utime, &stime) != 2) {
        return 0;
    }
    return utime + stime;
}

/* Nanoseconds a thread has run (its /proc schedstat). */
static uint64_t run_ns(const char *schedstat_path)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(schedstat_path, &text, NULL, NULL)) {
        return 0;
    }
    return g_ascii_strtoull(text, NULL, 10);
}

/* The /proc schedstat file of spice-server's display worker thread. */
static char *worker_stat(pid_t pid)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", pid);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *tid;
    char *found = NULL;

    while (d && !found && (tid = g_dir_read_name(d))) {
        g_autofree char *comm_path = g_strdup_printf("%s/%s/comm", dir, tid);
        g_autofree char *comm = NULL;

        if (g_file_get_contents(comm_path, &comm, NULL, NULL) &&
            g_str_has_prefix(comm, "SPICE Worker")) {
            found = g_strdup_printf("%s/%s/schedstat", dir, tid);
        }
    }
    if (d) {
        g_dir_close(d);
    }
    return found;
}

static int64_t qom_get_or(QXLDev *q, const char *prop, int64_t dflt)
{
    QDict *rsp = qtest_qmp(q->qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': '/machine/peripheral/qxl0', "
                           "'property': %s } }", prop);
    int64_t v = qdict_haskey(rsp, "return") ? qdict_get_int(rsp, "return")
                                            : dflt;

    qobject_unref(rsp);
    return v;
}

/* Wait (briefly polling) for a DISPLAY interrupt; false on timeout. */
static bool wait_display(QXLDev *q)
{
    gint64 end = g_get_monotonic_time() + QXL_WAIT_US;

    while (!(qxl_int_pending(q) & QXL_INTERRUPT_DISPLAY)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(20);
    }
    return true;
}

int main(int argc, char **argv)
{
    const uint32_t ring = offsetof(QXLRam, cmd_ring);
    const uint32_t rel = offsetof(QXLRam, release_ring);
    uint64_t phys[NUM_DRAWABLES];
    uint32_t prod, sent = 0, count, waits = 0;
    gint64 waited = 0;
    uint64_t ticks0, wticks0 = 0, ticks, wticks = 0;
    g_autofree char *wstat = NULL;
    g_autofree char *pstat = NULL;
    const char *workload;
    int64_t taken0, taken;
    gint64 t0, t1;
    QXLDev *q;
    g_autofree char *device = NULL;

    if (argc != 3 && argc != 4) {
        g_printerr("usage: %s fill|copy32|copy32big|copy8 COMMANDS "
                   "[DEVICE-OPTIONS]\n", argv[0]);
        return 2;
    }
    workload = argv[1];
    count = atoi(argv[2]);
    device = g_strdup_printf("qxl-vga%s%s", argc == 4 ? "," : "",
                             argc == 4 ? argv[3] : "");

    q = qxl_start_native(device);
    if (!strcmp(workload, "fill")) {
        for (int n = 0; n < NUM_DRAWABLES; n++) {
            QXLRect r = { .left = n % 48, .top = n % 48,
                          .right = n % 48 + 16, .bottom = n % 48 + 16 };

            phys[n] = qxl_phys(q, qxl_new_fill(q, 0, &r, n * 0x10101));
        }
    } else if (!strcmp(workload, "copy32") || !strcmp(workload, "copy8") ||
               !strcmp(workload, "copy32big")) {
        uint32_t img = new_bitmap(q, workload[4] == '8' ? 8 : 32,
                                  strstr(workload, "big") ? 256 : 32);

        for (int n = 0; n < NUM_DRAWABLES; n++) {
            phys[n] = qxl_phys(q, new_copy(q, img, n));
        }
    } else {
        g_printerr("unknown workload %s\n", workload);
        return 2;
    }

    pstat = g_strdup_printf("/proc/%d/stat", qtest_pid(q->qts));
    wstat = worker_stat(qtest_pid(q->qts));
    taken0 = qom_get_or(q, "x-snapshot-taken", -1);
    prod = qxl_bar0_readl(q, q->ram_header + ring +
                          offsetof(QXLCommandRing, prod));
    ticks0 = cpu_ticks(pstat);
    if (wstat) {
        wticks0 = run_ns(wstat);
    }
    t0 = g_get_monotonic_time();

    while (sent < count) {
        uint32_t cons = qxl_bar0_readl(q, q->ram_header + ring +
                                       offsetof(QXLCommandRing, cons));
        uint32_t batch = MIN(RING_SIZE - (prod - cons), count - sent);
        uint32_t rprod, notify;
        QXLCommand items[RING_SIZE];

        if (batch == 0) {
            /* Full: ask for DISPLAY once half of the ring is free. */
            qxl_ack_irq(q, QXL_INTERRUPT_DISPLAY);
            qxl_bar0_writel(q, q->ram_header + ring +
                            offsetof(QXLCommandRing, notify_on_cons),
                            cons + RING_SIZE / 2);
            cons = qxl_bar0_readl(q, q->ram_header + ring +
                                  offsetof(QXLCommandRing, cons));
            if (prod - cons == RING_SIZE) {
                gint64 w0 = g_get_monotonic_time();
                bool ok = wait_display(q);

                waits++;
                waited += g_get_monotonic_time() - w0;
                if (!ok) {
                    g_printerr("the device stopped taking commands\n");
                    return 1;
                }
            }
            continue;
        }
        for (uint32_t i = 0; i < batch; i++) {
            items[i] = (QXLCommand) {
                .data = phys[(sent + i) % NUM_DRAWABLES],
                .type = QXL_CMD_DRAW,
            };
        }
        for (uint32_t i = 0; i < batch;) {
            uint32_t at = (prod + i) % RING_SIZE;
            uint32_t n = MIN(batch - i, RING_SIZE - at);

            qxl_bar0_write(q, q->ram_header + ring +
                           offsetof(QXLCommandRing, items) +
                           at * sizeof(QXLCommand), &items[i],
                           n * sizeof(QXLCommand));
            i += n;
        }
        prod += batch;
        sent += batch;
        qxl_bar0_writel(q, q->ram_header + ring +
                        offsetof(QXLCommandRing, prod), prod);
        notify = qxl_bar0_readl(q, q->ram_header + ring +
                                offsetof(QXLCommandRing, notify_on_prod));
        if (notify - (prod - batch) - 1 < batch) {
            qxl_io(q, QXL_IO_NOTIFY_CMD, 0);
        }
        /* Take whatever releases were published; ids are not needed. */
        rprod = qxl_bar0_readl(q, q->ram_header + rel +
                               offsetof(QXLReleaseRing, prod));
        qxl_bar0_writel(q, q->ram_header + rel +
                        offsetof(QXLReleaseRing, cons), rprod);
    }
    if (!qxl_wait_ring_empty(q, QXL_RING_CMD)) {
        g_printerr("the ring did not drain\n");
        return 1;
    }
    t1 = g_get_monotonic_time();
    ticks = cpu_ticks(pstat) - ticks0;
    if (wstat) {
        wticks = run_ns(wstat) - wticks0;
    }
    taken = qom_get_or(q, "x-snapshot-taken", -1);

    printf("{\"workload\": \"%s\", \"commands\": %u, \"seconds\": %.6f, "
           "\"commands_per_second\": %.1f, \"qemu_cpu_us_per_command\": %.3f, "
           "\"worker_cpu_us_per_command\": %.3f, \"full_ring_waits\": %u, "
           "\"full_ring_wait_seconds\": %.6f, "
           "\"snapshot_bytes_per_command\": %.1f}\n",
           workload, count, (t1 - t0) / 1e6,
           count / ((t1 - t0) / 1e6),
           ticks * 1e6 / sysconf(_SC_CLK_TCK) / count,
           wstat ? wticks / 1e3 / count : -1.0,
           waits, waited / 1e6,
           taken0 < 0 ? -1.0 : (double)(taken - taken0) / count);
    qxl_stop(q);
    return 0;
}
