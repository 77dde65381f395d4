/*
 * QTest for the QXL display device: a hostile guest.  One test per known
 * bug class of QXL and spice-server (see the CVE history in the project
 * notes), named after the class.  Each test checks that
 *   - QEMU stays up (query-status answers "running"),
 *   - the device raises QXL_INTERRUPT_ERROR when the bug is one a device
 *     can detect when it is handed the request (int_pending), and
 *   - QXL_IO_RESET recovers: a valid primary and draw work afterwards.
 * Every test runs in its own subprocess with a time limit, so a crash or
 * hang fails that test only.
 *
 * Results against stock QEMU 10.0.13 + spice-server 0.15.1 (the point of
 * these tests is the device that replaces it).  Stock passes:
 *   error-latch, phys-range/{surface-cmd,cursor-cmd,cursor-shape,
 *   monitors-config}, cursor/{size-overflow,toctou},
 *   ring-garbage/{cmd,cursor,release}, surface-id/{create-cmd,destroy-port},
 *   update-rect/{inverted,negative}, primary/{stride-int32-min,
 *   stride-unaligned,larger-than-vgamem}, command-type/cursor-ring.
 * Stock crashes QEMU (spice-server runs in QEMU's process):
 *   chunks/circular-clip            SIGSEGV after spice-server's "data split
 *                                   in too many chunks" on the clip list
 *   ring-garbage/overfull           SIGTRAP: spice-server "bad command type"
 *                                   on the zeroed (NOP) slots
 *   command-type/cmd-ring           SIGTRAP: same, on type 0x77
 *   surface-id/destroy-wait-secondary  SIGABRT: spice-server asserts
 *                                   surface_id == 0 in destroy_surface_wait
 * Stock stays up but raises no ERROR (QEMU hands the command or request to
 * spice-server, which drops it with a warning the guest never sees):
 *   release-info/{null,out-of-range,bad-slot}, phys-range/drawable,
 *   chunks/circular-cursor, surface-id/{update-area,drawable} (QEMU's check
 *   is "> n_surfaces"), update-rect/huge, draw-rect/huge,
 *   primary/{stride-too-small,bad-format}, surface/stride-too-small,
 *   monitors/{beyond-max-outputs,beyond-64}, command-type/{cursor-cmd,draw}.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqos/qxl.h"

#define SURFACES 200

static const QXLRect rect64 = { .top = 0, .left = 0, .bottom = 64,
                                .right = 64 };

/* A device in NATIVE mode with a 64x64 primary, as a guest driver has it. */
static QXLDev *start_native(void)
{
    g_autofree char *dev = g_strdup_printf("qxl-vga,surfaces=%d,max_outputs=1",
                                           SURFACES);

    return qxl_start_native(dev);
}

/* The bug is detectable: ERROR, still running, RESET recovers. */
static void detected_and_recovers(QXLDev *q)
{
    qxl_assert_guest_bug(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/*
 * The bug is a race the device may win or lose (it may read the good
 * value first): no ERROR required, but no crash and RESET recovers.
 */
static void survives_and_recovers(QXLDev *q)
{
    qxl_assert_alive(q);
    qxl_reset(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

/* Offset of the last bytes of BAR 0: inside the memslot, nothing after. */
static uint32_t bar0_tail(QXLDev *q, uint32_t len)
{
    return q->ram_size - len;
}

/* ---- CVE-2019-12155: release info null or out of range ------------------ */

static void test_release_info_null(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW, 0);
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

static void test_release_info_out_of_range(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW, qxl_phys(q, q->ram_size + 4096));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* A memslot that was never added. */
static void test_release_info_bad_slot(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW, qxl_phys_slot(5, 0x1000));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* ---- CVE-2022-4144: offset valid, offset + size not --------------------- */

static void test_phys_range_drawable(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_DRAW, qxl_phys(q, bar0_tail(q, 16)));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

static void test_phys_range_surface_cmd(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, bar0_tail(q, 16)));
    detected_and_recovers(q);
}

static void test_phys_range_cursor_cmd(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, bar0_tail(q, 16)));
    detected_and_recovers(q);
}

/* The cursor command fits, the shape it points to does not. */
static void test_phys_range_cursor_shape(void)
{
    QXLDev *q = start_native();
    uint32_t shape = bar0_tail(q, sizeof(QXLCursor));

    qtest_memset(q->qts, q->ram_addr + shape, 0, sizeof(QXLCursor));
    qxl_bar0_writel(q, shape + offsetof(QXLCursor, header.type),
                    SPICE_CURSOR_TYPE_ALPHA | (32 << 16));  /* width 32 */
    qxl_bar0_writel(q, shape + offsetof(QXLCursor, header.height), 32);
    qxl_bar0_writel(q, shape + offsetof(QXLCursor, data_size), 32 * 32 * 4);
    qxl_bar0_writel(q, shape + offsetof(QXLCursor, chunk.data_size),
                    32 * 32 * 4);
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_set(q, shape)));
    detected_and_recovers(q);
}

static void test_phys_range_monitors_config(void)
{
    QXLDev *q = start_native();
    uint32_t mc = bar0_tail(q, sizeof(QXLMonitorsConfig));

    qxl_bar0_writel(q, mc, 1 | (1 << 16));     /* count 1, heads[] outside */
    QXL_RAM_SET_Q(q, monitors_config, qxl_phys(q, mc));
    qxl_io(q, QXL_IO_MONITORS_CONFIG_ASYNC, 0);
    detected_and_recovers(q);
}

/* ---- CVE-2021-4206: cursor width x height overflow ---------------------- */

static void test_cursor_size_overflow(void)
{
    QXLDev *q = start_native();
    /* 0xffff * 0xffff * 4 wraps a 32-bit int; the data is 256 bytes. */
    uint32_t shape = qxl_new_cursor_shape(q, 0xffff, 0xffff, 256);

    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_set(q, shape)));
    detected_and_recovers(q);
}

/* ---- CVE-2021-4207: cursor fields changed after validation -------------- */

static void test_cursor_toctou(void)
{
    QXLDev *q = start_native();
    uint32_t shape = qxl_new_cursor_shape(q, 32, 32, 32 * 32 * 4);
    int i;

    for (i = 0; i < 8; i++) {
        qxl_bar0_writel(q, shape + offsetof(QXLCursor, chunk.data_size),
                        32 * 32 * 4);
        qxl_bar0_writel(q, shape + offsetof(QXLCursor, header.width),
                        32 | (32 << 16));
        qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
                 qxl_phys(q, qxl_new_cursor_set(q, shape)));
        /* Right after the kick: grow what was (maybe) just validated. */
        qxl_bar0_writel(q, shape + offsetof(QXLCursor, chunk.data_size),
                        0xfffffff0);
        qxl_bar0_writel(q, shape + offsetof(QXLCursor, header.width),
                        0xffffffff);
        /* Either taken as validated, or seen changed: a guest bug. */
        if (!qxl_wait_ring_empty(q, QXL_RING_CURSOR)) {
            g_assert_true(qxl_int_pending(q) & QXL_INTERRUPT_ERROR);
            break;
        }
    }
    survives_and_recovers(q);
}

/* ---- chunk lists -------------------------------------------------------- */

/* A cursor whose data chunk links back to itself. */
static void test_chunks_circular_cursor(void)
{
    QXLDev *q = start_native();
    /* 32x32 ALPHA needs 4 KiB; each trip round the loop brings 64 bytes. */
    uint32_t shape = qxl_new_cursor_shape(q, 32, 32, 64);

    qxl_bar0_writel(q, shape + offsetof(QXLCursor, data_size), 32 * 32 * 4);
    qxl_bar0_writeq(q, shape + offsetof(QXLCursor, chunk.next_chunk),
                    qxl_phys(q, shape + offsetof(QXLCursor, chunk)));
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR,
             qxl_phys(q, qxl_new_cursor_set(q, shape)));
    detected_and_recovers(q);
}

/* A drawable whose clip rectangle list is a loop of empty chunks. */
static void test_chunks_circular_clip(void)
{
    QXLDev *q = start_native();
    uint32_t d = qxl_new_fill(q, 0, &rect64, 0xff);
    uint32_t clip = qxl_alloc(q, sizeof(QXLClipRects));

    qxl_bar0_writel(q, clip + offsetof(QXLClipRects, num_rects), 1000);
    qxl_bar0_writeq(q, clip + offsetof(QXLClipRects, chunk.next_chunk),
                    qxl_phys(q, clip + offsetof(QXLClipRects, chunk)));
    qxl_bar0_writel(q, d + offsetof(QXLDrawable, clip.type),
                    SPICE_CLIP_TYPE_RECTS);
    qxl_bar0_writeq(q, d + offsetof(QXLDrawable, clip.data),
                    qxl_phys(q, clip));
    qxl_push_draw(q, d);
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* ---- ring indices and sizes are guest memory ---------------------------- */

static void ring_garbage(QXLRingKind kind)
{
    QXLDev *q = start_native();
    uint32_t ring = qxl_ring_off(q, kind);

    /* num_items 0 turns the index mask into ~0: cons 1000 is the index. */
    qxl_bar0_writel(q, ring + offsetof(QXLCommandRing, num_items), 0);
    qxl_bar0_writel(q, ring + offsetof(QXLCommandRing, cons), 1000);
    qxl_bar0_writel(q, ring + offsetof(QXLCommandRing, prod), 1001);
    qxl_io(q, kind == QXL_RING_CMD ? QXL_IO_NOTIFY_CMD
                                   : QXL_IO_NOTIFY_CURSOR, 0);
    detected_and_recovers(q);
}

static void test_ring_garbage_cmd(void)
{
    ring_garbage(QXL_RING_CMD);
}

static void test_ring_garbage_cursor(void)
{
    ring_garbage(QXL_RING_CURSOR);
}

/* The device writes the release ring: its prod and size are guest's too. */
static void test_ring_garbage_release(void)
{
    QXLDev *q = start_native();

    QXL_RAM_SET_L(q, release_ring.num_items, 0);
    QXL_RAM_SET_L(q, release_ring.prod, 100000);
    QXL_RAM_SET_L(q, release_ring.cons, 100000 - 4);
    qxl_push_draw(q, qxl_new_fill(q, 0, &rect64, 0xff));
    qxl_update_area(q, 0, &rect64);
    qxl_io(q, QXL_IO_FLUSH_RELEASE, 0);
    detected_and_recovers(q);
}

/* prod far ahead of cons: more commands than the ring holds. */
static void test_ring_garbage_overfull(void)
{
    QXLDev *q = start_native();

    QXL_RAM_SET_L(q, cmd_ring.prod, 1000);
    qxl_io(q, QXL_IO_NOTIFY_CMD, 0);
    detected_and_recovers(q);
}

/* ---- surface id == n_surfaces (off by one) ------------------------------ */

static void test_surface_id_update_area(void)
{
    QXLDev *q = start_native();

    qxl_update_area(q, SURFACES, &rect64);
    detected_and_recovers(q);
}

static void test_surface_id_create_cmd(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE,
             qxl_phys(q, qxl_new_surface_create(q, SURFACES, 16, 16)));
    detected_and_recovers(q);
}

static void test_surface_id_destroy_port(void)
{
    QXLDev *q = start_native();

    qxl_io(q, QXL_IO_DESTROY_SURFACE_WAIT, SURFACES);
    detected_and_recovers(q);
}

/*
 * A valid secondary surface id: spice-server 0.15 only expects 0 here
 * and aborts on anything else.
 */
static void test_surface_id_destroy_wait_secondary(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE,
             qxl_phys(q, qxl_new_surface_create(q, 1, 16, 16)));
    g_assert_true(qxl_wait_ring_empty(q, QXL_RING_CMD));
    qxl_io(q, QXL_IO_DESTROY_SURFACE_WAIT, 1);
    survives_and_recovers(q);
}

static void test_surface_id_drawable(void)
{
    QXLDev *q = start_native();

    qxl_push_draw(q, qxl_new_fill(q, SURFACES, &rect64, 0xff));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* ---- update rect -------------------------------------------------------- */

static void update_rect(int32_t top, int32_t left, int32_t bottom,
                        int32_t right)
{
    QXLDev *q = start_native();
    QXLRect r = { .top = top, .left = left, .bottom = bottom,
                  .right = right };

    qxl_update_area(q, 0, &r);
    detected_and_recovers(q);
}

static void test_update_rect_inverted(void)
{
    update_rect(32, 32, 16, 16);
}

static void test_update_rect_negative(void)
{
    update_rect(-16, -16, 16, 16);
}

static void test_update_rect_huge(void)
{
    update_rect(0, 0, INT32_MAX, INT32_MAX);
}

/* A drawable whose bounding box is inverted and far outside the surface. */
static void test_draw_rect_huge(void)
{
    QXLDev *q = start_native();
    QXLRect r = { .top = INT32_MAX - 1, .left = INT32_MIN,
                  .bottom = INT32_MIN, .right = INT32_MAX };

    qxl_push_draw(q, qxl_new_fill(q, 0, &r, 0xff));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* ---- primary surface parameters ----------------------------------------- */

static void bad_primary(uint32_t width, uint32_t height, int32_t stride,
                        uint32_t format)
{
    g_autofree char *dev = g_strdup_printf("qxl-vga,surfaces=%d", SURFACES);
    QXLDev *q = qxl_start(dev, NULL);

    qxl_setup(q);
    qxl_set_primary(q, width, height, stride, format);
    qxl_io(q, QXL_IO_CREATE_PRIMARY, 0);
    /* A draw on it must not touch memory the stride does not cover. */
    qxl_push_draw(q, qxl_new_fill(q, 0, &rect64, 0xff));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

static void test_primary_stride_too_small(void)
{
    bad_primary(1024, 16, 4, SPICE_SURFACE_FMT_32_xRGB);
}

static void test_primary_stride_int32_min(void)
{
    bad_primary(64, 64, INT32_MIN, SPICE_SURFACE_FMT_32_xRGB);
}

static void test_primary_stride_unaligned(void)
{
    bad_primary(64, 64, 64 * 4 + 2, SPICE_SURFACE_FMT_32_xRGB);
}

static void test_primary_larger_than_vgamem(void)
{
    bad_primary(4096, 4096, 4096 * 4, SPICE_SURFACE_FMT_32_xRGB);
}

static void test_primary_bad_format(void)
{
    bad_primary(64, 64, 64 * 4, 0x7f);
}

/* A secondary surface with a stride too small for its width. */
static void test_surface_stride_too_small(void)
{
    QXLDev *q = start_native();
    uint32_t c = qxl_new_surface_create(q, 1, 64, 64);

    qxl_bar0_writel(q, c + offsetof(QXLSurfaceCmd, u.surface_create.stride),
                    4);
    qxl_push(q, QXL_RING_CMD, QXL_CMD_SURFACE, qxl_phys(q, c));
    qxl_push_draw(q, qxl_new_fill(q, 1, &rect64, 0xff));
    qxl_update_area(q, 1, &rect64);
    detected_and_recovers(q);
}

/* ---- monitors config ---------------------------------------------------- */

static void monitors_config(uint16_t count, uint16_t max_allowed)
{
    QXLDev *q = start_native();

    qxl_new_monitors_config(q, count, max_allowed);
    qxl_io(q, QXL_IO_MONITORS_CONFIG_ASYNC, 0);
    detected_and_recovers(q);
}

/* max_outputs=1, the guest sends two heads. */
static void test_monitors_beyond_max_outputs(void)
{
    monitors_config(2, 2);
}

/* More heads than the 64 of the ROM's client config. */
static void test_monitors_beyond_64(void)
{
    monitors_config(65, 0);
}

/* ---- command type ------------------------------------------------------- */

static void test_unknown_command_type(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CMD, 0x77,
             qxl_phys(q, qxl_new_fill(q, 0, &rect64, 0xff)));
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* Only QXL_CMD_CURSOR belongs on the cursor ring. */
static void test_unknown_command_type_cursor(void)
{
    QXLDev *q = start_native();

    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_DRAW,
             qxl_phys(q, qxl_new_fill(q, 0, &rect64, 0xff)));
    detected_and_recovers(q);
}

static void test_unknown_cursor_cmd_type(void)
{
    QXLDev *q = start_native();
    uint32_t c = qxl_new_cursor_move(q, 0, 0);

    qtest_writeb(q->qts, q->ram_addr + c + offsetof(QXLCursorCmd, type), 0x66);
    qxl_push(q, QXL_RING_CURSOR, QXL_CMD_CURSOR, qxl_phys(q, c));
    detected_and_recovers(q);
}

static void test_unknown_draw_type(void)
{
    QXLDev *q = start_native();
    uint32_t d = qxl_new_fill(q, 0, &rect64, 0xff);

    qtest_writeb(q->qts, q->ram_addr + d + offsetof(QXLDrawable, type), 0x55);
    qxl_push_draw(q, d);
    qxl_update_area(q, 0, &rect64);
    detected_and_recovers(q);
}

/* ---- the ERROR latch ---------------------------------------------------- */

/* After a guest bug only RESET is obeyed, until RESET. */
static void test_error_latch(void)
{
    QXLDev *q = start_native();

    qxl_io(q, QXL_IO_MEMSLOT_ADD, 8);
    g_assert_true(qxl_wait_error(q));
    /* Ignored while latched: no IO_CMD for an async port. */
    qxl_ack_irq(q, ~0u);
    qxl_io(q, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
    g_usleep(100 * 1000);
    g_assert_cmphex(qxl_int_pending(q) & QXL_INTERRUPT_IO_CMD, ==, 0);
    survives_and_recovers(q);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *path;
        void (*fn)(void);
    } tests[] = {
        { "release-info/null", test_release_info_null },
        { "release-info/out-of-range", test_release_info_out_of_range },
        { "release-info/bad-slot", test_release_info_bad_slot },
        { "phys-range/drawable", test_phys_range_drawable },
        { "phys-range/surface-cmd", test_phys_range_surface_cmd },
        { "phys-range/cursor-cmd", test_phys_range_cursor_cmd },
        { "phys-range/cursor-shape", test_phys_range_cursor_shape },
        { "phys-range/monitors-config", test_phys_range_monitors_config },
        { "cursor/size-overflow", test_cursor_size_overflow },
        { "cursor/toctou", test_cursor_toctou },
        { "chunks/circular-cursor", test_chunks_circular_cursor },
        { "chunks/circular-clip", test_chunks_circular_clip },
        { "ring-garbage/cmd", test_ring_garbage_cmd },
        { "ring-garbage/cursor", test_ring_garbage_cursor },
        { "ring-garbage/release", test_ring_garbage_release },
        { "ring-garbage/overfull", test_ring_garbage_overfull },
        { "surface-id/update-area", test_surface_id_update_area },
        { "surface-id/create-cmd", test_surface_id_create_cmd },
        { "surface-id/destroy-port", test_surface_id_destroy_port },
        { "surface-id/drawable", test_surface_id_drawable },
        { "surface-id/destroy-wait-secondary",
          test_surface_id_destroy_wait_secondary },
        { "update-rect/inverted", test_update_rect_inverted },
        { "update-rect/negative", test_update_rect_negative },
        { "update-rect/huge", test_update_rect_huge },
        { "draw-rect/huge", test_draw_rect_huge },
        { "primary/stride-too-small", test_primary_stride_too_small },
        { "primary/stride-int32-min", test_primary_stride_int32_min },
        { "primary/stride-unaligned", test_primary_stride_unaligned },
        { "primary/larger-than-vgamem", test_primary_larger_than_vgamem },
        { "primary/bad-format", test_primary_bad_format },
        { "surface/stride-too-small", test_surface_stride_too_small },
        { "monitors/beyond-max-outputs", test_monitors_beyond_max_outputs },
        { "monitors/beyond-64", test_monitors_beyond_64 },
        { "command-type/cmd-ring", test_unknown_command_type },
        { "command-type/cursor-ring", test_unknown_command_type_cursor },
        { "command-type/cursor-cmd", test_unknown_cursor_cmd_type },
        { "command-type/draw", test_unknown_draw_type },
        { "error-latch", test_error_latch },
    };
    int i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(tests); i++) {
        g_autofree char *path = g_strdup_printf("/qxl/guest-bug/%s",
                                                tests[i].path);
        qxl_test_add(path, tests[i].fn);
    }
    return g_test_run();
}
