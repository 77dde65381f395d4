/*
 * QXL device: every limit the device puts on what a guest may hand it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A value beyond one of these is a guest bug.  They are far above what
 * the Linux, Xorg and Windows drivers send, and low enough that neither
 * the device nor spice-server can be made to allocate without bound.
 * docs/specs/qxl.rst lists them.
 */

#ifndef HW_DISPLAY_QXL_LIMITS_H
#define HW_DISPLAY_QXL_LIMITS_H

/* Longest QXLDataChunk list followed (a loop in a list ends here). */
#define QXL_MAX_CHUNKS              1024

/* Clip rects of one drawable. */
#define QXL_MAX_CLIP_RECTS          4096

/* Bytes of one path (QXLPathSeg headers and points). */
#define QXL_MAX_PATH_BYTES          (1 << 20)

/* Coordinates of a path point, in pixels either way of 0. */
#define QXL_MAX_PATH_COORD          (1 << 15)

/* Lines each Bézier curve of a path is made of. */
#define QXL_BEZIER_STEPS            16

/* Dashes of one styled line. */
#define QXL_MAX_LINE_STYLE          255

/* Bytes of one string (QXLRasterGlyph headers and glyph bits). */
#define QXL_MAX_STRING_BYTES        (1 << 20)

/* Side and area of one image (spice-server makes a pixman image of it). */
#define QXL_MAX_IMAGE_SIDE          16384
#define QXL_MAX_IMAGE_PIXELS        (1u << 24)

/* Bytes of one image's pixel data, bitmap or QUIC stream. */
#define QXL_MAX_IMAGE_BYTES         (256u << 20)

/* Entries of a palette (8-bit indices). */
#define QXL_MAX_PALETTE_ENTRIES     256

/* Side of a surface, in pixels. */
#define QXL_MAX_SURFACE_SIDE        16384

/* Side of a cursor, and bytes of its shape. */
#define QXL_MAX_CURSOR_SIDE         512
#define QXL_MAX_CURSOR_BYTES \
    (QXL_MAX_CURSOR_SIDE * QXL_MAX_CURSOR_SIDE * 4)

/* Text of a QXL_CMD_MESSAGE that is traced (the rest is ignored). */
#define QXL_MAX_MESSAGE_TRACE       256

/*
 * Host memory all live command snapshots of one device may hold (what
 * spice-server has taken and not released yet), unless the
 * x-snapshot-budget-mb property says otherwise: this much, or BAR 0 plus
 * the VRAM, whichever is larger.  One command may take the total past it;
 * then the device takes no command until releases bring it below.
 */
#define QXL_SNAPSHOT_BUDGET_MIN     (64 * MiB)

/* Dropped commands (messages, NOPs) taken in a row before letting go. */
#define QXL_MAX_DROPPED_IN_A_ROW    32

#endif /* HW_DISPLAY_QXL_LIMITS_H */
