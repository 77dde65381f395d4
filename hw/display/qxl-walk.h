/*
 * QXL command snapshots: what the files that build them share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qxl-snapshot.c reads a command and builds its snapshot; qxl-drawable.c
 * checks and copies what a drawable points to.  Both walk the guest's
 * command tree through these helpers, which read guest memory only
 * through the memslot door and charge what they copy to the snapshot.
 */

#ifndef HW_DISPLAY_QXL_WALK_H
#define HW_DISPLAY_QXL_WALK_H

#include "qxl-snapshot.h"

/* Most commands fit in the snapshot itself. */
#define QXL_SNAPSHOT_INLINE     512

struct QXLSnapshot {
    uint64_t guest_id;          /* the guest's release id, read once */
    uint64_t guest_info;        /* its QXLReleaseInfo, as a RAM offset */
    QXLPHYSICAL guest_cmd;      /* the command, for migration tracking */
    uint32_t type;              /* QXL_CMD_* */
    uint64_t bytes;             /* charged to the budget */
    bool dropped;               /* harmless, but not for spice-server */
    bool accepted;              /* its bytes are charged */
    QXLGuestRange surface_mem;  /* a surface create's pixels */
    GSList *blocks;             /* further host memory of this copy */
    uint8_t *free_ptr;
    size_t free_len;
    /* What spice-server parses: it starts with a QXLReleaseInfo. */
    union {
        QXLReleaseInfo release_info;
        QXLDrawable drawable;
        QXLUpdateCmd update;
        QXLSurfaceCmd surface;
        QXLCursorCmd cursor;
        QXLMessage message;
    } root;
    uint8_t arena[QXL_SNAPSHOT_INLINE] QEMU_ALIGNED(8);
};

/* One walk over a guest command tree. */
typedef struct QXLWalk {
    PCIQXLDevice *d;
    QXLSnapshot *s;
    uint64_t budget;            /* bytes this command may still take */
    /* Of a drawable: its target, bbox, sources, self bitmap. */
    uint32_t dst_width, dst_height, dst_format, dst_depth;
    QXLRect bbox;
    int32_t deps[3];            /* surfaces_dest, or -1 */
    bool self_bitmap;
    QXLRect self_area;
} QXLWalk;

void *qxl_walk_alloc(QXLWalk *w, uint64_t size, const char *what);
bool qxl_walk_read(QXLWalk *w, QXLPHYSICAL phys, void *buf, uint64_t size,
                   const char *what);
void *qxl_walk_chunked(QXLWalk *w, QXLPHYSICAL phys, size_t head_size,
                       uint64_t size, size_t min_size, const char *what);
bool qxl_walk_surface_id(QXLWalk *w, uint32_t id, const char *what);
bool qxl_walk_rect(QXLWalk *w, const QXLRect *r, const char *what);

static inline bool qxl_rect_inside(const QXLRect *r, const QXLRect *outer)
{
    return r->left >= outer->left && r->top >= outer->top &&
           r->right <= outer->right && r->bottom <= outer->bottom;
}

/* qxl-drawable.c: a QXL_CMD_DRAW, native or qxl-1 layout. */
bool qxl_walk_drawable(QXLWalk *w, QXLPHYSICAL phys, bool compat);

#endif /* HW_DISPLAY_QXL_WALK_H */
