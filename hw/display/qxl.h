/*
 * QXL paravirtual display device: state shared by its files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One file per concern, in layers: a file calls only files of its own
 * layer's row or below (docs/specs/qxl.rst draws it;
 * scripts/check-qxl-layers.py checks it).
 *
 *   qxl.c           QOM types, properties, realize, console, VGA ports
 *   qxl-spice.c     the QXLInterface callbacks spice-server calls
 *   ------------------------------------------------------------------
 *   qxl-io.c        I/O port dispatch (sync and async)
 *   qxl-migrate.c   VMState, replay into spice-server after load
 *   ------------------------------------------------------------------
 *   qxl-reset.c     power-on ROM/RAM state, soft and hard reset
 *   ------------------------------------------------------------------
 *   qxl-mode.c      modes (VGA/COMPAT/NATIVE), the primary, VGA fallback
 *   ------------------------------------------------------------------
 *   qxl-ring.c      command, cursor and release rings
 *   qxl-monitors.c  monitors config, guest -> SPICE and client -> guest
 *   qxl-render.c    local rendering of the primary (VNC, GTK, screendump)
 *   ------------------------------------------------------------------
 *   qxl-snapshot.c  host-owned, checked copies of commands, their budget
 *   qxl-drawable.c  the checks and copies of what a drawable points to
 *   qxl-walk.c      reading a command tree into a snapshot (shared)
 *   ------------------------------------------------------------------
 *   qxl-surface.c   surface geometry, the table of surfaces spice holds
 *   qxl-cursor.c    cursor shapes, the cursor of local displays
 *   ------------------------------------------------------------------
 *   qxl-memslot.c   memslots: the one door to guest memory
 *   ------------------------------------------------------------------
 *   qxl-services.c  interrupts, the guest-bug latch, dirty marking
 *   qxl-worker.c    requests to spice-server's worker (spice_qxl_*)
 *
 * Threads.  I/O handlers run on vCPU threads with the BQL.  spice-server's
 * display worker calls the QXLInterface callbacks from its own thread
 * without the BQL.  What the worker side touches, and how:
 *   - the rings in guest RAM: atomics and barriers; the device's ring
 *     indices (cmd_cons, cursor_cons, release_prod) are the worker's alone;
 *   - slots[]: read under slots_lock, which every writer takes;
 *   - the release batch: release_lock; the surface table and cursor_cmd:
 *     track_lock; current_async: async_lock; render state: render_lock;
 *   - the snapshot budget: atomics;
 *   - mode, primary, cmdflags, guest_bug: read only.  vCPU threads change
 *     them while the worker is stopped (reset, migration) or has no
 *     primary; a stale read costs at most one command, which is checked
 *     against the surface table anyway.
 * The IRQ line, timers, console updates and everything else change only
 * in the main loop: worker-side events set bits in int_pending and
 * schedule irq_bh, render_bh, cursor_bh or wakeup_bh.
 */

#ifndef HW_DISPLAY_QXL_H
#define HW_DISPLAY_QXL_H

#include "hw/pci/pci_device.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "ui/console.h"
#include "ui/spice-display.h"
#include "vga_int.h"

#define TYPE_PCI_QXL "pci-qxl"
OBJECT_DECLARE_SIMPLE_TYPE(PCIQXLDevice, PCI_QXL)

/* BAR 4: the whole VRAM, 64-bit, when larger than BAR 1. */
#define QXL_VRAM64_RANGE_INDEX 4

/* Revision 5 is QEMU's: the v12 protocol, no VGA-port soft reset. */
#define QXL_REVISION_QEMU   (QXL_REVISION_STABLE_V12 + 1)
#define QXL_DEFAULT_REVISION QXL_REVISION_QEMU

/* Heads in the ROM's client monitors config. */
#define QXL_MAX_HEADS 64

/* Released resources gathered before the batch is published. */
#define QXL_RELEASE_BATCH 32

/* What feeds SPICE's primary surface (values are in the stream). */
typedef enum QXLDeviceMode {
    QXL_MODE_UNDEFINED,
    QXL_MODE_VGA,
    QXL_MODE_COMPAT,     /* qxl-1 driver: SET_MODE */
    QXL_MODE_NATIVE,     /* CREATE_PRIMARY */
} QXLDeviceMode;

typedef struct QXLGuestSlot {
    /* Guest-visible (migrated): the range the guest asked for. */
    uint32_t active;
    uint64_t guest_start;
    uint64_t guest_end;
    /* Derived at add / post_load. */
    MemoryRegion *mr;
    uint64_t mr_offset;   /* guest_start's offset inside mr */
    uint64_t size;
    uint64_t delta;       /* subtracted from a QXLPHYSICAL's offset */
} QXLGuestSlot;

/* A validated guest range: host pointer and its length. */
typedef struct QXLGuestRange {
    uint8_t *host;
    uint64_t size;
    MemoryRegion *mr;
    uint64_t mr_offset;
} QXLGuestRange;

/* A host-owned, checked copy of a command (qxl-snapshot.c). */
typedef struct QXLSnapshot QXLSnapshot;

/* A secondary surface as spice-server holds it (qxl-snapshot.c). */
typedef struct QXLSurfaceState {
    uint32_t state;
    uint32_t width, height, format;
    QXLGuestRange mem;          /* its pixels, checked at create */
    void *owner;                /* the create command's snapshot */
} QXLSurfaceState;

/*
 * An async request to spice-server's worker carries its own completion
 * (qxl-worker.c): @done runs on the worker's thread when it is over, then
 * the cookie and the host memory it @owns are freed.
 */
typedef struct QXLCookie QXLCookie;
typedef void QXLCookieDone(PCIQXLDevice *d, QXLCookie *c);
struct QXLCookie {
    QXLCookieDone *done;        /* NULL: nothing to do */
    uint32_t io;                /* the guest's async port, if any */
    void *opaque;
    void *owned;                /* what spice-server reads, g_free()d */
};

struct PCIQXLDevice {
    PCIDevice parent_obj;

    /* --- device elements ------------------------------------------- */
    /*
     * The VGA core: for qxl-vga the legacy VGA device; for both, its vram
     * is BAR 0 and vga.vram_size is the "ram_size" property.
     */
    VGACommonState vga;
    QXLInstance sin;                  /* our spice-server instance */
    QemuConsole *con;
    SpiceFbExport *vga_export;        /* qxl-vga in VGA mode */
    uint32_t id;                      /* console index = spice channel id */
    MemoryRegion vram_bar;            /* BAR 4: "qxl.vram" */
    MemoryRegion vram32_bar;          /* BAR 1: alias of its start */
    MemoryRegion rom_bar;             /* BAR 2 */
    MemoryRegion io_bar;              /* BAR 3 */
    PortioList vga_port_list;
    bool vga_ports_added;
    QEMUBH *irq_bh;
    QEMUBH *render_bh;
    QEMUBH *cursor_bh;
    QEMUBH *wakeup_bh;
    VMChangeStateEntry *vmstate_change;

    /* --- configuration (properties) --------------------------------- */
    uint32_t revision;
    uint64_t vram32_size;             /* "vram_size": BAR 1 */
    uint64_t vram_size;               /* BAR 4 / whole VRAM */
    uint32_t ram_size_mb;
    uint32_t vram32_size_mb;
    uint32_t vram_size_mb;            /* "vram64_size_mb" */
    uint32_t vgamem_size_mb;
    uint32_t vgamem_size;             /* bytes: surface 0 area */
    int32_t num_surfaces;
    uint16_t max_outputs;
    uint32_t xres, yres;
    uint32_t debug, guestdebug, cmdlog;
    uint32_t snapshot_budget_mb;      /* "x-snapshot-budget-mb", 0: auto */
    bool snapshot_share_pixels;       /* direct-colour pixels stay in place */

    /* --- ROM and RAM header (host views of device memory) ------------ */
    QXLRom *rom;
    uint32_t rom_size;
    uint32_t num_modes;               /* published (vgamem-filtered) */
    QXLRam *ram;
    uint32_t ram_header_offset;
    uint32_t num_pages;
    /* ROM fields that survive a reset. */
    uint32_t rom_compression_level;
    uint32_t rom_mode;                /* COMPAT mode index */

    /* --- guest-visible state (migrated) ------------------------------ */
    uint32_t mode;                    /* QXLDeviceMode */
    QXLGuestSlot slots[NUM_MEMSLOTS];
    QXLSurfaceCreate primary;         /* as created, validated */
    uint64_t *surface_cmds;           /* tracked QXL_CMD_SURFACE creates */
    uint64_t cursor_cmd;              /* last QXL_CURSOR_SET/HIDE */
    uint64_t guest_monitors_config;
    uint32_t num_free_res;            /* released ids in the open batch */
    uint32_t last_release_offset;     /* BAR 0 offset of its tail, or 0 */
    int32_t num_memslots;             /* NUM_MEMSLOTS, in the stream */
    uint32_t unique;                  /* stream field of stock's export */

    /* --- runtime state (not migrated) -------------------------------- */
    /* Ring indices the device moves; guest RAM has a mirror (qxl-ring.c). */
    uint32_t cmd_cons;
    uint32_t cursor_cons;
    uint32_t release_prod;
    QemuMutex slots_lock;             /* slots[] against the worker */
    QXLSurfaceState *surfaces;        /* under track_lock */
    /* Command snapshots (qxl-snapshot.c): bytes live, peak, budget. */
    uint64_t snapshot_bytes;
    uint64_t snapshot_peak;
    uint64_t snapshot_budget;
    uint64_t snapshot_taken;          /* bytes ever taken, for benchmarks */
    bool snapshot_waiting;            /* the worker waits for releases */
    bool guest_bug;
    bool spice_added;
    uint32_t cmdflags;                /* QXL_COMMAND_FLAG_COMPAT... */
    QemuMutex track_lock;
    QemuMutex release_lock;
    bool oom_running;
    QemuMutex async_lock;
    int32_t current_async;            /* port, or -1 */
    uint32_t primary_head_width;      /* guest monitors config head 0 */
    uint32_t primary_head_height;

    /* Local rendering (qxl-render.c), main loop + render_lock. */
    QemuMutex render_lock;
    bool render_resized;
    uint32_t render_pending;          /* outstanding RENDER cookies */
    uint32_t commands_since_render;
    int num_dirty_rects;
    QXLRect dirty_rects[32];
    DisplaySurface *render_surface;

    /* Cursor for local displays (qxl-cursor.c), under render_lock. */
    QEMUCursor *pending_cursor;
    int cursor_x, cursor_y;
    bool cursor_moved;
};

/* ---- bottom: qxl-services.c, qxl-worker.c ----------------------------- */

void qxl_send_events(PCIQXLDevice *d, uint32_t events);
void qxl_update_irq(PCIQXLDevice *d);
void qxl_irq_bh(void *opaque);
void qxl_guest_bug(PCIQXLDevice *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void qxl_rom_set_dirty(PCIQXLDevice *d);
void qxl_ram_set_dirty(PCIQXLDevice *d, void *ptr, size_t size);

/* A NULL cookie makes a request synchronous. */
QXLCookie *qxl_cookie_new(QXLCookieDone *done, uint32_t io, void *opaque);
void qxl_cookie_free(QXLCookie *c);
void qxl_cookie_complete(PCIQXLDevice *d, uint64_t token);
void qxl_spice_wakeup(PCIQXLDevice *d);
void qxl_spice_oom(PCIQXLDevice *d);
void qxl_spice_reset(PCIQXLDevice *d);
void qxl_spice_update_area(PCIQXLDevice *d, uint32_t surface_id,
                           QXLRect *area, bool clear_dirty, QXLCookie *c);
void qxl_spice_create_primary(PCIQXLDevice *d, QXLDevSurfaceCreate *s,
                              QXLCookie *c);
void qxl_spice_destroy_primary(PCIQXLDevice *d, QXLCookie *c);
void qxl_spice_destroy_surface(PCIQXLDevice *d, uint32_t id, QXLCookie *c);
void qxl_spice_destroy_surfaces(PCIQXLDevice *d, QXLCookie *c);
void qxl_spice_flush_surfaces(PCIQXLDevice *d, QXLCookie *c);
void qxl_spice_loadvm_commands(PCIQXLDevice *d, QXLCommandExt *cmds,
                               uint32_t n);
void qxl_spice_monitors_config(PCIQXLDevice *d, QXLMonitorsConfig *config,
                               QXLCookie *c);
void qxl_spice_driver_unload(PCIQXLDevice *d);
void qxl_spice_set_device_info(PCIQXLDevice *d, const char *address);

/* ---- qxl-memslot.c: every guest pointer goes through these ------------ */

bool qxl_memslot_add(PCIQXLDevice *d, uint32_t slot_id, uint64_t guest_start,
                     uint64_t guest_end, uint64_t delta);
void qxl_memslot_del(PCIQXLDevice *d, uint32_t slot_id);
void qxl_memslots_reset(PCIQXLDevice *d);
bool qxl_memslot_restore(PCIQXLDevice *d, uint32_t slot_id);
bool qxl_translate(PCIQXLDevice *d, QXLPHYSICAL phys, uint64_t size,
                   QXLGuestRange *out);
bool qxl_read_guest(PCIQXLDevice *d, QXLPHYSICAL phys, void *buf,
                    uint64_t size);
bool qxl_read_chunks(PCIQXLDevice *d, QXLPHYSICAL first, uint64_t size,
                     uint8_t *buf);
bool qxl_map_single_chunk(PCIQXLDevice *d, QXLPHYSICAL first, uint64_t size,
                          QXLGuestRange *out);
void qxl_guest_range_set_dirty(const QXLGuestRange *r);
bool qxl_host_ptr_in_ram(PCIQXLDevice *d, const void *ptr, uint64_t size,
                         uint64_t *ram_offset);
void *qxl_ram_offset_to_host(PCIQXLDevice *d, uint64_t ram_offset);

/*
 * ---- qxl-surface.c: geometry, and the secondary surfaces spice-server
 * holds.  One is LIVE from the accepted command that creates it, DYING
 * once a command or port destroys it, and FREE again only when
 * spice-server releases its create command (it frees the surface then).
 */
enum {
    QXL_SURFACE_FREE,
    QXL_SURFACE_LIVE,
    QXL_SURFACE_DYING,
};
void qxl_surfaces_init(PCIQXLDevice *d);
void qxl_surfaces_cleanup(PCIQXLDevice *d);
bool qxl_surface_held(PCIQXLDevice *d, uint32_t surface_id,
                      QXLSurfaceState *out);
bool qxl_surface_size(PCIQXLDevice *d, uint32_t surface_id, uint32_t *width,
                      uint32_t *height);
uint32_t qxl_surface_depth(uint32_t format);
uint32_t qxl_surface_life(PCIQXLDevice *d, uint32_t id);
void qxl_surface_track_create(PCIQXLDevice *d, uint32_t id,
                              const QXLSurfaceState *st, QXLPHYSICAL cmd);
void qxl_surface_track_destroy(PCIQXLDevice *d, uint32_t id);
void qxl_surface_track_release(PCIQXLDevice *d, uint32_t id, void *owner);
void qxl_surfaces_destroyed(PCIQXLDevice *d, uint32_t surface_id);
void qxl_surfaces_set_dirty(PCIQXLDevice *d);
bool qxl_check_surface_format(uint32_t format, uint32_t width,
                              uint32_t height, int32_t stride,
                              uint32_t *bpp);
void qxl_track_reset(PCIQXLDevice *d);

/* ---- qxl-cursor.c ------------------------------------------------------ */

bool qxl_cursor_shape_size(PCIQXLDevice *d, const QXLCursorHeader *h,
                           uint32_t data_size, uint64_t *size);
void qxl_cursor_accept(PCIQXLDevice *d, const QXLCursorCmd *cmd,
                       QXLPHYSICAL guest_cmd);
void qxl_cursor_reset(PCIQXLDevice *d);
void qxl_cursor_bh(void *opaque);

/* qxl-snapshot.c, qxl-drawable.c, qxl-walk.c: see qxl-snapshot.h. */

/* ---- qxl-ring.c -------------------------------------------------------- */

bool qxl_ring_get_command(PCIQXLDevice *d, QXLCommandExt *ext);
bool qxl_ring_get_cursor_command(PCIQXLDevice *d, QXLCommandExt *ext);
bool qxl_ring_req_cmd_notification(PCIQXLDevice *d);
bool qxl_ring_req_cursor_notification(PCIQXLDevice *d);
void qxl_ring_release(PCIQXLDevice *d, QXLReleaseInfoExt ext);
void qxl_ring_release_snapshot(PCIQXLDevice *d, QXLSnapshot *s);
int qxl_ring_flush_release(PCIQXLDevice *d, bool force);
bool qxl_ring_release_empty(PCIQXLDevice *d);
void qxl_ring_init(PCIQXLDevice *d);
void qxl_ring_load(PCIQXLDevice *d);

/* ---- qxl-monitors.c ---------------------------------------------------- */

void qxl_rom_client_monitors_init(PCIQXLDevice *d);
int qxl_client_monitors_config(PCIQXLDevice *d, VDAgentMonitorsConfig *mc);
bool qxl_guest_monitors_config(PCIQXLDevice *d, QXLCookie *c);
void qxl_guest_monitors_config_replay(PCIQXLDevice *d);

/* ---- qxl-render.c ------------------------------------------------------ */

void qxl_render_update(PCIQXLDevice *d);
void qxl_render_resize(PCIQXLDevice *d);
void qxl_render_area_done(PCIQXLDevice *d, uint32_t surface_id,
                          const QXLRect *rects, uint32_t n);
void qxl_render_bh(void *opaque);

/* ---- qxl-mode.c -------------------------------------------------------- */

uint32_t qxl_build_modes(QXLModes *modes, uint32_t vgamem, uint32_t max);
uint32_t qxl_modes_max(void);
bool qxl_create_primary(PCIQXLDevice *d, QXLCookie *c, bool loadvm);
void qxl_destroy_primary(PCIQXLDevice *d, QXLCookie *c);
bool qxl_set_mode_check(PCIQXLDevice *d, uint32_t index);
bool qxl_set_mode(PCIQXLDevice *d, uint32_t index, bool loadvm);
void qxl_enter_vga_mode(PCIQXLDevice *d);
void qxl_exit_vga_mode(PCIQXLDevice *d);

/* ---- qxl-reset.c ------------------------------------------------------- */

void qxl_reset_state(PCIQXLDevice *d);
void qxl_soft_reset(PCIQXLDevice *d);
void qxl_hard_reset(PCIQXLDevice *d, bool loadvm);

/* ---- qxl-io.c, qxl-migrate.c ------------------------------------------- */

extern const MemoryRegionOps qxl_io_ops;
extern const VMStateDescription vmstate_qxl;
void qxl_dirty_for_migration(PCIQXLDevice *d);

/* ---- top: qxl-spice.c -------------------------------------------------- */

extern const QXLInterface qxl_interface;

#endif /* HW_DISPLAY_QXL_H */
