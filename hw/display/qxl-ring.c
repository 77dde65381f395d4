/*
 * QXL rings: the command and cursor rings the guest produces and
 * spice-server's worker consumes, and the release ring through which used
 * resources go back to the guest in batches.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs in spice-server's worker thread (get/release callbacks), and in the
 * main loop or a vCPU thread for reset and FLUSH_RELEASE.  The ring headers
 * live in guest RAM.  The index the device moves (command and cursor
 * cons, release prod) lives in device state and is only mirrored there;
 * the guest's index is read once per use and checked against the ring's
 * fixed size.  Commands reach spice-server only as snapshots
 * (qxl-snapshot.c).
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qxl-limits.h"
#include "qxl-snapshot.h"
#include "trace.h"

/*
 * A ring of the QXLRam header, seen through its fields.  Of its two
 * indices, one is the guest's (read once per use) and one is the device's
 * (@own, in device state, mirrored to guest RAM for the guest to read).
 */
typedef struct QXLRingView {
    uint32_t *num_items;
    uint32_t *prod;
    uint32_t *notify_on_prod;
    uint32_t *cons;
    uint32_t *notify_on_cons;
    uint32_t *own;
    uint32_t size;
} QXLRingView;

/* The header fields are 4-byte aligned inside the page-aligned QXLRam. */
#define QXL_RING_FIELD(r, f) \
    ((uint32_t *)((uint8_t *)(r) + offsetof(typeof(*(r)), f)))
#define QXL_RING_VIEW(r, o) ((QXLRingView) {                               \
    .num_items = QXL_RING_FIELD(r, num_items),                            \
    .prod = QXL_RING_FIELD(r, prod),                                      \
    .notify_on_prod = QXL_RING_FIELD(r, notify_on_prod),                  \
    .cons = QXL_RING_FIELD(r, cons),                                      \
    .notify_on_cons = QXL_RING_FIELD(r, notify_on_cons),                  \
    .own = (o),                                                           \
    .size = ARRAY_SIZE((r)->items) })

static uint32_t ring_get(uint32_t *field)
{
    return le32_to_cpu(qatomic_read(field));
}

static void ring_set(uint32_t *field, uint32_t val)
{
    qatomic_set(field, cpu_to_le32(val));
}

void qxl_ring_init(PCIQXLDevice *d)
{
    QXLRam *ram = d->ram;

    ram->cmd_ring.num_items = cpu_to_le32(ARRAY_SIZE(ram->cmd_ring.items));
    ram->cursor_ring.num_items =
        cpu_to_le32(ARRAY_SIZE(ram->cursor_ring.items));
    ram->release_ring.num_items =
        cpu_to_le32(ARRAY_SIZE(ram->release_ring.items));
    ram->cmd_ring.notify_on_prod = cpu_to_le32(1);
    ram->cursor_ring.notify_on_prod = cpu_to_le32(1);
    ram->release_ring.notify_on_prod = cpu_to_le32(1);
    d->cmd_cons = 0;
    d->cursor_cons = 0;
    d->release_prod = 0;
}

/*
 * After migration: the device's indices come back from their mirror in
 * guest RAM, which the stream carried.
 */
void qxl_ring_load(PCIQXLDevice *d)
{
    QXLRam *ram = d->ram;

    d->cmd_cons = ring_get(QXL_RING_FIELD(&ram->cmd_ring, cons));
    d->cursor_cons = ring_get(QXL_RING_FIELD(&ram->cursor_ring, cons));
    d->release_prod = ring_get(QXL_RING_FIELD(&ram->release_ring, prod));
}

/*
 * Take the next item index of a guest-produced ring, or -1 if it is empty.
 * Indices the guest could not have produced are a guest bug.
 */
static int qxl_ring_peek(PCIQXLDevice *d, QXLRingView *r, const char *name)
{
    uint32_t prod = ring_get(r->prod);
    uint32_t cons = *r->own;

    if (ring_get(r->num_items) != r->size || prod - cons > r->size) {
        qxl_guest_bug(d, "%s ring: num_items %u prod %u cons %u", name,
                      ring_get(r->num_items), prod, cons);
        return -1;
    }
    if (prod == cons) {
        return -1;
    }
    smp_rmb();  /* the item is read after prod */
    return cons & (r->size - 1);
}

/* Consume the item peeked; true if the guest asked to be notified. */
static bool qxl_ring_pop(QXLRingView *r)
{
    uint32_t cons = ++*r->own;

    ring_set(r->cons, cons);
    smp_mb();   /* cons is visible before notify_on_cons is read */
    return cons == ring_get(r->notify_on_cons);
}

/* Ask the guest for a wakeup on its next push; true if none is needed. */
static bool qxl_ring_wait(QXLRingView *r)
{
    uint32_t cons = *r->own;

    if (ring_get(r->prod) != cons) {
        return false;
    }
    ring_set(r->notify_on_prod, cons + 1);
    smp_mb();   /* notify_on_prod is visible before prod is read again */
    return ring_get(r->prod) == cons;
}

static void qxl_ring_dirty(PCIQXLDevice *d, void *ring, size_t size)
{
    qxl_ram_set_dirty(d, ring, size);
}

/* ---- command and cursor rings (worker thread) -------------------------- */

/*
 * Hand spice-server the next command of a ring, as a snapshot.  Dropped
 * commands (messages, NOPs, drawables for surfaces that do not exist) are
 * released here: spice-server never sees them.  While the snapshot budget
 * is used up, nothing is taken: the release that frees enough wakes the
 * worker again.
 */
static bool qxl_ring_take(PCIQXLDevice *d, QXLRingView *r, void *ring,
                          size_t ring_size, QXLCommand *items, bool cursor,
                          QXLCommandExt *ext)
{
    for (int n = 0; n < QXL_MAX_DROPPED_IN_A_ROW; n++) {
        QXLSnapshot *s;
        QXLCommand cmd;
        int idx;

        if (d->guest_bug) {
            return false;
        }
        if (qxl_snapshot_budget_full(d)) {
            qatomic_set(&d->snapshot_waiting, true);
            trace_qxl_snapshot_budget_full(d->id,
                                           qatomic_read(&d->snapshot_bytes));
            return false;
        }
        idx = qxl_ring_peek(d, r, cursor ? "cursor" : "command");
        if (idx < 0) {
            /*
             * Empty: ask for the guest's next push now (and look again if
             * one came in meanwhile).  spice-server asks only later, after
             * a 10 ms poll, and never after commands the device dropped;
             * a guest filling the ring in between would wait for that
             * poll, or forever.
             */
            bool wait = qxl_ring_wait(r);

            qxl_ring_dirty(d, ring, ring_size);
            if (!wait) {
                continue;
            }
            return false;
        }
        cmd = items[idx];
        if (qxl_ring_pop(r)) {
            qxl_send_events(d, cursor ? QXL_INTERRUPT_CURSOR
                                      : QXL_INTERRUPT_DISPLAY);
        }
        qxl_ring_dirty(d, ring, ring_size);
        trace_qxl_ring_command(d->id, cursor, cmd.type, cmd.data);

        s = qxl_snapshot_take(d, &cmd, cursor, ext);
        if (!s) {
            return false;
        }
        if (qxl_snapshot_dropped(s)) {
            trace_qxl_ring_dropped(d->id, cmd.type, cmd.data);
            qxl_ring_release_snapshot(d, s);
            continue;
        }
        qxl_snapshot_accept(d, s);
        if (!cursor) {
            qatomic_inc(&d->commands_since_render);
        }
        return true;
    }
    /* More to drop: let the worker go, and come back from the main loop. */
    qemu_bh_schedule(d->wakeup_bh);
    return false;
}

bool qxl_ring_get_command(PCIQXLDevice *d, QXLCommandExt *ext)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cmd_ring, &d->cmd_cons);

    return qxl_ring_take(d, &r, &d->ram->cmd_ring, sizeof(d->ram->cmd_ring),
                         &d->ram->cmd_ring.items[0].el, false, ext);
}

bool qxl_ring_get_cursor_command(PCIQXLDevice *d, QXLCommandExt *ext)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cursor_ring, &d->cursor_cons);

    return qxl_ring_take(d, &r, &d->ram->cursor_ring,
                         sizeof(d->ram->cursor_ring),
                         &d->ram->cursor_ring.items[0].el, true, ext);
}

/*
 * spice-server asks whether it may sleep until notified.  While the
 * device refuses commands (a guest bug, a full budget) it must say yes
 * even with commands in the ring: spice-server would call get_command
 * again and again otherwise.  RESET, or the release that frees budget,
 * wakes the worker.
 */
static bool qxl_ring_refusing(PCIQXLDevice *d)
{
    return d->guest_bug || qxl_snapshot_budget_full(d);
}

bool qxl_ring_req_cmd_notification(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cmd_ring, &d->cmd_cons);
    bool wait;

    if (qxl_ring_refusing(d)) {
        return true;
    }
    wait = qxl_ring_wait(&r);
    qxl_ring_dirty(d, &d->ram->cmd_ring, sizeof(d->ram->cmd_ring));
    return wait;
}

bool qxl_ring_req_cursor_notification(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cursor_ring, &d->cursor_cons);
    bool wait;

    if (qxl_ring_refusing(d)) {
        return true;
    }
    wait = qxl_ring_wait(&r);
    qxl_ring_dirty(d, &d->ram->cursor_ring, sizeof(d->ram->cursor_ring));
    return wait;
}

/* ---- release ring ------------------------------------------------------ */

/*
 * Released ids are chained into a batch: the open ring slot holds the
 * first id, each QXLReleaseInfo's "next" the following one.  The batch is
 * published when it is QXL_RELEASE_BATCH long, or when forced.
 */

bool qxl_ring_release_empty(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->release_ring, &d->release_prod);

    return *r.own == ring_get(r.cons);
}

/* Called with release_lock held. */
static int qxl_ring_publish_locked(PCIQXLDevice *d)
{
    QXLReleaseRing *ring = &d->ram->release_ring;
    QXLRingView r = QXL_RING_VIEW(&d->ram->release_ring, &d->release_prod);
    uint32_t prod = *r.own, cons = ring_get(r.cons);
    int published = d->num_free_res;

    if (!published) {
        return 0;
    }
    if (ring_get(r.num_items) != r.size || prod - cons > r.size) {
        qxl_guest_bug(d, "release ring: prod %u cons %u", prod, cons);
        return 0;
    }
    if (prod - cons + 1 >= r.size) {
        /* No free slot to open next: keep batching. */
        trace_qxl_ring_release_full(d->id, prod, cons);
        return 0;
    }
    prod = ++*r.own;
    ring_set(r.prod, prod);
    smp_mb();   /* prod is visible before the next slot is opened */
    ring->items[prod & (r.size - 1)].el = 0;
    d->num_free_res = 0;
    d->last_release_offset = 0;
    qxl_ring_dirty(d, ring, sizeof(*ring));
    trace_qxl_ring_release_publish(d->id, prod, published);
    if (prod == ring_get(r.notify_on_prod)) {
        qxl_send_events(d, QXL_INTERRUPT_DISPLAY);
    }
    return published;
}

/*
 * Give the guest back the resource of snapshot @s, and free the snapshot.
 * Its release id goes into the open batch, through the QXLReleaseInfo it
 * came with (whose place in device memory was checked when it was taken).
 */
void qxl_ring_release_snapshot(PCIQXLDevice *d, QXLSnapshot *s)
{
    QXLReleaseRing *ring = &d->ram->release_ring;
    uint64_t id = qxl_snapshot_guest_id(s);
    uint64_t offset = qxl_snapshot_guest_info(s);
    QXLReleaseInfo *info = qxl_ram_offset_to_host(d, offset);

    qxl_snapshot_free(d, s);
    trace_qxl_ring_release(d->id, id);

    qemu_mutex_lock(&d->release_lock);
    if (d->num_free_res == 0) {
        ring->items[d->release_prod & (ARRAY_SIZE(ring->items) - 1)].el =
            cpu_to_le64(id);
        qxl_ring_dirty(d, ring, sizeof(*ring));
    } else {
        QXLReleaseInfo *last = qxl_ram_offset_to_host(d,
                                                      d->last_release_offset);

        qatomic_set(&last->next, cpu_to_le64(id));
        qxl_ram_set_dirty(d, last, sizeof(*last));
    }
    qatomic_set(&info->next, 0);
    qxl_ram_set_dirty(d, info, sizeof(*info));
    d->last_release_offset = offset;
    d->num_free_res++;
    if (d->num_free_res >= QXL_RELEASE_BATCH && !d->oom_running) {
        qxl_ring_publish_locked(d);
    }
    qemu_mutex_unlock(&d->release_lock);

    /* The worker stopped taking commands on a full budget: wake it. */
    if (qatomic_read(&d->snapshot_waiting) && !qxl_snapshot_budget_full(d)) {
        qatomic_set(&d->snapshot_waiting, false);
        qemu_bh_schedule(d->wakeup_bh);
    }
}

/* Worker thread: spice-server is done with a command it was given. */
void qxl_ring_release(PCIQXLDevice *d, QXLReleaseInfoExt ext)
{
    QXLSnapshot *s = qxl_snapshot_from_release(ext);

    if (s) {
        qxl_ring_release_snapshot(d, s);
    } else if (d->vga_export) {
        /* Not ours: one of the framebuffer export's commands. */
        spice_fb_export_release(d->vga_export, ext);
    }
}

/*
 * Publish the open batch if it is full, or whatever it holds if @force;
 * returns how many resources were published.
 */
int qxl_ring_flush_release(PCIQXLDevice *d, bool force)
{
    int n = 0;

    qemu_mutex_lock(&d->release_lock);
    if (force || d->num_free_res >= QXL_RELEASE_BATCH) {
        n = qxl_ring_publish_locked(d);
    }
    qemu_mutex_unlock(&d->release_lock);
    return n;
}
