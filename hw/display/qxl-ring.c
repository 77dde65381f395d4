/*
 * QXL rings: the command and cursor rings the guest produces and
 * spice-server's worker consumes, and the release ring through which used
 * resources go back to the guest in batches.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs in spice-server's worker thread (get/release callbacks), and in the
 * main loop or a vCPU thread for reset and FLUSH_RELEASE.  The ring headers
 * live in guest RAM: each index is read once, checked against the ring's
 * fixed size (the guest's num_items is ignored), and only the copy is used.
 * Every command is checked here before spice-server sees it, because
 * spice-server aborts the VM on some malformed ones.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qxl.h"
#include "trace.h"

/* A ring of the QXLRam header, seen through its fields. */
typedef struct QXLRingView {
    uint32_t *num_items;
    uint32_t *prod;
    uint32_t *notify_on_prod;
    uint32_t *cons;
    uint32_t *notify_on_cons;
    uint32_t size;
} QXLRingView;

/* The header fields are 4-byte aligned inside the page-aligned QXLRam. */
#define QXL_RING_FIELD(r, f) \
    ((uint32_t *)((uint8_t *)(r) + offsetof(typeof(*(r)), f)))
#define QXL_RING_VIEW(r) ((QXLRingView) {                                  \
    .num_items = QXL_RING_FIELD(r, num_items),                            \
    .prod = QXL_RING_FIELD(r, prod),                                      \
    .notify_on_prod = QXL_RING_FIELD(r, notify_on_prod),                  \
    .cons = QXL_RING_FIELD(r, cons),                                      \
    .notify_on_cons = QXL_RING_FIELD(r, notify_on_cons),                  \
    .size = ARRAY_SIZE((r)->items) })

/* More clip rects than any screen needs. */
#define QXL_MAX_CLIP_RECTS (1 << 16)

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
}

/*
 * Take the next item index of a guest-produced ring, or -1 if it is empty.
 * Indices the guest could not have produced are a guest bug.
 */
static int qxl_ring_peek(PCIQXLDevice *d, QXLRingView *r, const char *name)
{
    uint32_t prod = ring_get(r->prod);
    uint32_t cons = ring_get(r->cons);

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
    uint32_t cons = ring_get(r->cons) + 1;

    ring_set(r->cons, cons);
    smp_mb();
    return cons == ring_get(r->notify_on_cons);
}

/* Ask the guest for a wakeup on its next push; true if none is needed. */
static bool qxl_ring_wait(QXLRingView *r)
{
    uint32_t prod = ring_get(r->prod);

    if (prod != ring_get(r->cons)) {
        return false;
    }
    ring_set(r->notify_on_prod, prod + 1);
    smp_mb();
    return ring_get(r->prod) == ring_get(r->cons);
}

static void qxl_ring_dirty(PCIQXLDevice *d, void *ring, size_t size)
{
    qxl_ram_set_dirty(d, ring, size);
}

/* ---- command checks --------------------------------------------------- */

static bool qxl_check_surface_id(PCIQXLDevice *d, uint32_t id,
                                 const char *what)
{
    if (id >= d->num_surfaces) {
        qxl_guest_bug(d, "%s: surface id %u out of range (%d surfaces)",
                      what, id, d->num_surfaces);
        return false;
    }
    return true;
}

static bool qxl_check_rect(PCIQXLDevice *d, const QXLRect *r,
                           const char *what)
{
    int32_t top = le32_to_cpu(r->top), bottom = le32_to_cpu(r->bottom);
    int32_t left = le32_to_cpu(r->left), right = le32_to_cpu(r->right);

    if (top > bottom || left > right) {
        qxl_guest_bug(d, "%s: inverted rect (%d,%d)-(%d,%d)", what,
                      left, top, right, bottom);
        return false;
    }
    return true;
}

static bool qxl_check_drawable(PCIQXLDevice *d, QXLPHYSICAL phys)
{
    QXLDrawable dr;

    if (!qxl_read_guest(d, phys, &dr, sizeof(dr))) {
        qxl_guest_bug(d, "draw command at 0x%" PRIx64 " outside memslots",
                      phys);
        return false;
    }
    if (!qxl_check_surface_id(d, le32_to_cpu(dr.surface_id), "draw")) {
        return false;
    }
    if (dr.type > QXL_DRAW_COMPOSITE) {
        qxl_guest_bug(d, "draw command of unknown type %u", dr.type);
        return false;
    }
    if (le32_to_cpu(dr.clip.type) == SPICE_CLIP_TYPE_RECTS) {
        QXLPHYSICAL clip = le64_to_cpu(dr.clip.data);
        uint32_t num_rects;

        if (!qxl_read_guest(d, clip, &num_rects, sizeof(num_rects)) ||
            le32_to_cpu(num_rects) > QXL_MAX_CLIP_RECTS ||
            !qxl_read_chunks(d, clip + offsetof(QXLClipRects, chunk),
                             le32_to_cpu(num_rects) * sizeof(QXLRect),
                             NULL)) {
            qxl_guest_bug(d, "draw: clip rects at 0x%" PRIx64 " invalid", clip);
            return false;
        }
    }
    for (int i = 0; i < 3; i++) {
        int32_t dest = le32_to_cpu(dr.surfaces_dest[i]);

        if (dest != -1 && !qxl_check_surface_id(d, dest, "draw source")) {
            return false;
        }
    }
    return qxl_check_rect(d, &dr.bbox, "draw bbox");
}

static bool qxl_check_update(PCIQXLDevice *d, QXLPHYSICAL phys)
{
    QXLUpdateCmd up;

    if (!qxl_read_guest(d, phys, &up, sizeof(up))) {
        qxl_guest_bug(d, "update command outside memslots");
        return false;
    }
    return qxl_check_surface_id(d, le32_to_cpu(up.surface_id), "update") &&
           qxl_check_rect(d, &up.area, "update area");
}

static bool qxl_check_surface_cmd(PCIQXLDevice *d, QXLPHYSICAL phys)
{
    QXLSurfaceCmd cmd;
    const QXLSurface *s = &cmd.u.surface_create;
    uint32_t width, height, bpp;
    int32_t stride;
    QXLGuestRange r;

    if (!qxl_read_guest(d, phys, &cmd, sizeof(cmd))) {
        qxl_guest_bug(d, "surface command outside memslots");
        return false;
    }
    if (!qxl_check_surface_id(d, le32_to_cpu(cmd.surface_id), "surface")) {
        return false;
    }
    if (cmd.type == QXL_SURFACE_CMD_DESTROY) {
        qxl_track_surface_cmd(d, &cmd, phys);
        return true;
    }
    if (cmd.type != QXL_SURFACE_CMD_CREATE) {
        qxl_guest_bug(d, "surface command of unknown type %u", cmd.type);
        return false;
    }
    if (le32_to_cpu(cmd.surface_id) == 0) {
        qxl_guest_bug(d, "surface command creating surface 0 (primary)");
        return false;
    }
    width = le32_to_cpu(s->width);
    height = le32_to_cpu(s->height);
    stride = le32_to_cpu(s->stride);
    if (!qxl_check_surface_format(le32_to_cpu(s->format), width, height,
                                  stride, &bpp)) {
        qxl_guest_bug(d, "surface %u: bad geometry %ux%u stride %d format %u",
                      le32_to_cpu(cmd.surface_id), width, height, stride,
                      le32_to_cpu(s->format));
        return false;
    }
    if (!qxl_translate(d, le64_to_cpu(s->data),
                       (uint64_t)height * (uint64_t)ABS((int64_t)stride),
                       &r)) {
        qxl_guest_bug(d, "surface %u: memory outside memslots",
                      le32_to_cpu(cmd.surface_id));
        return false;
    }
    qxl_track_surface_cmd(d, &cmd, phys);
    return true;
}

static bool qxl_check_message(PCIQXLDevice *d, QXLPHYSICAL phys)
{
    QXLMessage msg;

    if (!qxl_read_guest(d, phys, &msg, sizeof(msg))) {
        qxl_guest_bug(d, "message command outside memslots");
        return false;
    }
    return true;
}

/* A command-ring command spice-server can safely take. */
bool qxl_check_command(PCIQXLDevice *d, const QXLCommand *cmd)
{
    QXLPHYSICAL data = le64_to_cpu(cmd->data);

    switch (le32_to_cpu(cmd->type)) {
    case QXL_CMD_DRAW:
        return qxl_check_drawable(d, data);
    case QXL_CMD_UPDATE:
        return qxl_check_update(d, data);
    case QXL_CMD_SURFACE:
        return qxl_check_surface_cmd(d, data);
    case QXL_CMD_MESSAGE:
        return qxl_check_message(d, data);
    default:
        /* spice-server aborts on anything else */
        qxl_guest_bug(d, "command of unknown type %u", le32_to_cpu(cmd->type));
        return false;
    }
}

/* ---- command and cursor rings (worker thread) -------------------------- */

bool qxl_ring_get_command(PCIQXLDevice *d, QXLCommandExt *ext)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cmd_ring);
    QXLCommand cmd;
    int idx;

    if (d->guest_bug) {
        return false;
    }
    idx = qxl_ring_peek(d, &r, "command");
    if (idx < 0) {
        return false;
    }
    cmd = d->ram->cmd_ring.items[idx].el;
    if (qxl_ring_pop(&r)) {
        qxl_send_events(d, QXL_INTERRUPT_DISPLAY);
    }
    qxl_ring_dirty(d, &d->ram->cmd_ring, sizeof(d->ram->cmd_ring));
    trace_qxl_ring_command(d->id, le32_to_cpu(cmd.type),
                           le64_to_cpu(cmd.data));
    if (!qxl_check_command(d, &cmd)) {
        return false;
    }
    ext->cmd.data = le64_to_cpu(cmd.data);
    ext->cmd.type = le32_to_cpu(cmd.type);
    ext->cmd.padding = 0;
    ext->group_id = MEMSLOT_GROUP_GUEST;
    ext->flags = d->cmdflags;
    qatomic_inc(&d->commands_since_render);
    return true;
}

bool qxl_ring_get_cursor_command(PCIQXLDevice *d, QXLCommandExt *ext)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cursor_ring);
    QXLCursorCmd cursor;
    QXLCommand cmd;
    int idx;

    if (d->guest_bug) {
        return false;
    }
    idx = qxl_ring_peek(d, &r, "cursor");
    if (idx < 0) {
        return false;
    }
    cmd = d->ram->cursor_ring.items[idx].el;
    if (qxl_ring_pop(&r)) {
        qxl_send_events(d, QXL_INTERRUPT_CURSOR);
    }
    qxl_ring_dirty(d, &d->ram->cursor_ring, sizeof(d->ram->cursor_ring));
    trace_qxl_ring_cursor(d->id, le32_to_cpu(cmd.type),
                          le64_to_cpu(cmd.data));
    if (le32_to_cpu(cmd.type) != QXL_CMD_CURSOR) {
        qxl_guest_bug(d, "cursor ring: command of type %u",
                      le32_to_cpu(cmd.type));
        return false;
    }
    if (!qxl_check_cursor_cmd(d, le64_to_cpu(cmd.data), &cursor)) {
        return false;
    }
    ext->cmd.data = le64_to_cpu(cmd.data);
    ext->cmd.type = QXL_CMD_CURSOR;
    ext->cmd.padding = 0;
    ext->group_id = MEMSLOT_GROUP_GUEST;
    ext->flags = d->cmdflags;
    return true;
}

bool qxl_ring_req_cmd_notification(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cmd_ring);
    bool wait = qxl_ring_wait(&r);

    qxl_ring_dirty(d, &d->ram->cmd_ring, sizeof(d->ram->cmd_ring));
    return wait;
}

bool qxl_ring_req_cursor_notification(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->cursor_ring);
    bool wait = qxl_ring_wait(&r);

    qxl_ring_dirty(d, &d->ram->cursor_ring, sizeof(d->ram->cursor_ring));
    return wait;
}

bool qxl_rings_empty(PCIQXLDevice *d)
{
    QXLRam *ram = d->ram;

    QXLRingView cmd = QXL_RING_VIEW(&ram->cmd_ring);
    QXLRingView cursor = QXL_RING_VIEW(&ram->cursor_ring);

    return ring_get(cmd.prod) == ring_get(cmd.cons) &&
           ring_get(cursor.prod) == ring_get(cursor.cons);
}

/* ---- release ring ------------------------------------------------------ */

/*
 * Released ids are chained into a batch: the open ring slot holds the
 * first id, each QXLReleaseInfo's "next" the following one.  The batch is
 * published when it is QXL_RELEASE_BATCH long, or when forced.
 */

bool qxl_ring_release_empty(PCIQXLDevice *d)
{
    QXLRingView r = QXL_RING_VIEW(&d->ram->release_ring);

    return ring_get(r.prod) == ring_get(r.cons);
}

/* Called with release_lock held. */
static int qxl_ring_publish_locked(PCIQXLDevice *d)
{
    QXLReleaseRing *ring = &d->ram->release_ring;
    QXLRingView r = QXL_RING_VIEW(&d->ram->release_ring);
    uint32_t prod = ring_get(r.prod), cons = ring_get(r.cons);
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
    prod++;
    ring_set(r.prod, prod);
    smp_mb();
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

void qxl_ring_release(PCIQXLDevice *d, QXLReleaseInfoExt ext)
{
    QXLReleaseRing *ring = &d->ram->release_ring;
    uint64_t offset, id;
    QXLReleaseInfo *info = ext.info;

    if (ext.group_id == MEMSLOT_GROUP_HOST) {
        if (d->vga_export) {
            spice_fb_export_release(d->vga_export, ext);
        }
        return;
    }
    if (!info || !qxl_host_ptr_in_ram(d, info, sizeof(*info), &offset) ||
        offset > UINT32_MAX) {
        qxl_guest_bug(d, "release of a resource outside the device's RAM");
        return;
    }
    id = le64_to_cpu(qatomic_read(&info->id));
    trace_qxl_ring_release(d->id, id);

    qemu_mutex_lock(&d->release_lock);
    if (d->num_free_res == 0) {
        uint32_t prod = ring_get(QXL_RING_FIELD(&d->ram->release_ring, prod));

        ring->items[prod & (ARRAY_SIZE(ring->items) - 1)].el =
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
