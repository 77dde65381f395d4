/*
 * SPICE display export: the parts of QEMU's SPICE binding that display
 * devices share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two users:
 *  - any graphic console without a QXL device (-vga std, virtio-gpu 2D,
 *    ramfb, ...): qemu_spice_display_init() gives each one its own
 *    QXLInstance whose commands come from a framebuffer export;
 *  - qxl-vga while it is in VGA mode: the QXL device's own QXLInstance
 *    forwards its command callbacks to the export while VGA is active.
 *
 * A framebuffer export turns the changed areas of a console's
 * DisplaySurface into SPICE drawables.  It is driven by the console's
 * dirty tracking (dpy_gfx_update): rows reported dirty are compared with a
 * mirror to find the columns that really changed, and only those are
 * copied.  An unchanged screen therefore costs nothing per refresh.
 *
 * Threads: the export's DisplayChangeListener and start/stop run in the
 * main loop with the BQL; the *_get_command, *_get_cursor_command and
 * *_release functions are called by spice-server's worker thread, without
 * the BQL, and only touch the export's queues under its lock.
 */

#ifndef UI_SPICE_DISPLAY_H
#define UI_SPICE_DISPLAY_H

#include <spice.h>
#include <spice/qxl_dev.h>

#include "ui/console.h"

/* SPICE OpenGL displays (-spice gl=on), ui/spice-gl.c. */
#if defined(CONFIG_OPENGL) && defined(CONFIG_GBM)
#define HAVE_SPICE_GL 1
#endif

/* Memslot geometry every QXLInstance of ours reports to spice-server. */
#define NUM_MEMSLOTS            8
#define MEMSLOT_GENERATION_BITS 8
#define MEMSLOT_SLOT_BITS       8

/*
 * Group HOST holds QEMU's own memory (one identity slot, id 0): drawables
 * and cursors that QEMU makes.  Group GUEST holds the guest's memslots.
 */
#define MEMSLOT_GROUP_HOST  0
#define MEMSLOT_GROUP_GUEST 1
#define NUM_MEMSLOTS_GROUPS 2

/*
 * Kept as an opaque name because ui/spice-core.c (stock) declares
 * qemu_spice_display_is_running() with it.
 */
typedef struct SimpleSpiceDisplay SimpleSpiceDisplay;

void qemu_spice_display_start(void);
void qemu_spice_display_stop(void);
int qemu_spice_display_is_running(SimpleSpiceDisplay *ssd);

/*
 * Add the HOST group's identity memslot (slot 0, the whole address space)
 * to @qxl's worker.  Needed once after the interface is added and after
 * every spice_qxl_reset_memslots().
 */
void qemu_spice_add_host_memslot(QXLInstance *qxl);

/*
 * A display device's QXLInstance in and out of spice-server, for devices
 * that can be unplugged.  add: as qemu_spice_add_display_interface(), also
 * for a console whose previous display was removed.  remove: spice-server
 * stops and joins the instance's worker thread and closes its channels;
 * on return it no longer calls or holds @qxl.  Main loop.
 */
int qemu_spice_add_display(QXLInstance *qxl, QemuConsole *con);
void qemu_spice_remove_display(QXLInstance *qxl, QemuConsole *con);

/*
 * QXLInterface.get_init_info of displays without a guest driver: our
 * memslot geometry, one surface.
 */
void qemu_spice_display_get_init_info(QXLInstance *qxl, QXLDevInitInfo *info);

/*
 * The client's monitors config for the display of @con, channel @qid:
 * that head's size as @con's UI info.  QXLInterface.client_monitors_config
 * of displays without a guest driver.  Main loop, where spice-server
 * calls that.
 */
int qemu_spice_client_monitors_config(QemuConsole *con, int qid,
                                      VDAgentMonitorsConfig *mc);

#ifdef HAVE_SPICE_GL
/*
 * With gl=on: a SPICE OpenGL display for @con instead of a framebuffer
 * export.  Main loop, after egl_init().
 */
bool qemu_spice_gl_display_add(QemuConsole *con, Error **errp);
#endif

typedef struct SpiceFbExport SpiceFbExport;

/*
 * Create an export of @con's surface through @qxl, whose interface must
 * already be added to the server.  It registers a DisplayChangeListener on
 * @con but produces nothing until spice_fb_export_start().  Main loop.
 */
SpiceFbExport *spice_fb_export_new(QemuConsole *con, QXLInstance *qxl);
void spice_fb_export_free(SpiceFbExport *fb);

/*
 * start: create SPICE primary surface 0 from the console's current surface
 * and send it whole; from then on follow its changes.
 * stop: drop queued updates and destroy the primary.
 * Both are idempotent.  Main loop.
 */
void spice_fb_export_start(SpiceFbExport *fb);
void spice_fb_export_stop(SpiceFbExport *fb);
bool spice_fb_export_is_started(SpiceFbExport *fb);

/* Worker thread: QXLInterface.get_command / get_cursor_command. */
bool spice_fb_export_get_command(SpiceFbExport *fb, QXLCommandExt *ext);
bool spice_fb_export_get_cursor_command(SpiceFbExport *fb, QXLCommandExt *ext);
/*
 * Worker thread: QXLInterface.release_resource for a command this export
 * made (group MEMSLOT_GROUP_HOST).
 */
void spice_fb_export_release(SpiceFbExport *fb, QXLReleaseInfoExt release);

#endif /* UI_SPICE_DISPLAY_H */
