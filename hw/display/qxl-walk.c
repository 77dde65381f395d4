/*
 * QXL command walks: reading a guest command tree into its snapshot.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The helpers qxl-snapshot.c (commands) and qxl-drawable.c (what a
 * drawable points to) build their copies with: host memory charged to the
 * snapshot's budget, reads through the memslot door, chunk lists made
 * flat, and the checks every command shares.  Worker thread (or the main
 * loop during the migration replay), under slots_lock.
 */

#include "qemu/osdep.h"
#include "qxl-limits.h"
#include "qxl-walk.h"
#include "trace.h"

/* Host memory is taken from the allocator in blocks of at least this. */
#define QXL_SNAPSHOT_BLOCK      4096

/* ---- host memory of a snapshot ------------------------------------------ */

/*
 * Host memory for the copy, zeroed up to a page (larger buffers are
 * pixel or chunk data the caller fills); NULL (a guest bug) past the
 * budget.
 */
void *qxl_walk_alloc(QXLWalk *w, uint64_t size, const char *what)
{
    QXLSnapshot *s = w->s;
    void *p;

    size = ROUND_UP(size, 8);
    if (size > s->free_len) {
        uint64_t block = MAX(size, QXL_SNAPSHOT_BLOCK);
        uint8_t *mem;

        if (block > w->budget) {
            qxl_guest_bug(w->d, "%s: command needs more than the snapshot "
                          "budget (%" PRIu64 " bytes)", what,
                          w->d->snapshot_budget);
            return NULL;
        }
        mem = g_try_malloc(block);
        if (!mem) {
            qxl_guest_bug(w->d, "%s: cannot allocate %" PRIu64 " bytes",
                          what, block);
            return NULL;
        }
        w->budget -= block;
        s->bytes += block;
        s->blocks = g_slist_prepend(s->blocks, mem);
        s->free_ptr = mem;
        s->free_len = block;
    }
    p = s->free_ptr;
    s->free_ptr += size;
    s->free_len -= size;
    memset(p, 0, MIN(size, QXL_SNAPSHOT_BLOCK));
    return p;
}

/* ---- reading guest memory (through the door) ---------------------------- */

bool qxl_walk_read(QXLWalk *w, QXLPHYSICAL phys, void *buf, uint64_t size,
                      const char *what)
{
    if (!qxl_read_guest(w->d, phys, buf, size)) {
        qxl_guest_bug(w->d, "%s at 0x%" PRIx64 " (%" PRIu64 " bytes) is not "
                      "inside an active memslot", what, phys, size);
        return false;
    }
    return true;
}

/*
 * Copy a structure of @head_size bytes that ends with the first
 * QXLDataChunk of a list holding @size bytes: the copy is the structure
 * followed by one chunk holding all the data.  Only the list as read here
 * is used: the structure's own chunk header is rebuilt.
 */
void *qxl_walk_chunked(QXLWalk *w, QXLPHYSICAL phys, size_t head_size,
                          uint64_t size, size_t min_size, const char *what)
{
    uint64_t total = MAX(head_size + size, min_size);
    uint8_t *copy = qxl_walk_alloc(w, total, what);
    QXLDataChunk *chunk;

    if (!copy) {
        return NULL;
    }
    memset(copy, 0, head_size);
    memset(copy + head_size + size, 0, total - head_size - size);
    chunk = (QXLDataChunk *)(copy + head_size - sizeof(QXLDataChunk));
    if (!qxl_read_chunks(w->d, phys + head_size - sizeof(QXLDataChunk), size,
                         chunk->data)) {
        qxl_guest_bug(w->d, "%s at 0x%" PRIx64 ": chunk list does not hold "
                      "%" PRIu64 " bytes in at most %d chunks inside "
                      "memslots", what, phys, size, QXL_MAX_CHUNKS);
        return NULL;
    }
    chunk->data_size = size;
    return copy;
}

/* ---- what any command has ---------------------------------------------- */

bool qxl_walk_surface_id(QXLWalk *w, uint32_t id, const char *what)
{
    if (id >= w->d->num_surfaces) {
        qxl_guest_bug(w->d, "%s: surface id %u out of range (%d surfaces)",
                      what, id, w->d->num_surfaces);
        return false;
    }
    return true;
}

bool qxl_walk_rect(QXLWalk *w, const QXLRect *r, const char *what)
{
    if (r->top > r->bottom || r->left > r->right) {
        qxl_guest_bug(w->d, "%s: inverted rect (%d,%d)-(%d,%d)", what,
                      r->left, r->top, r->right, r->bottom);
        return false;
    }
    return true;
}
