/*
 * QTest for the QXL display device: the bugs the fuzzer found
 * (tests/qtest/fuzz/qxl_fuzz.c, docs/fuzzing.rst), one test each, written
 * before the fix.  Each runs in its own subprocess with a time limit, so a
 * crash or hang fails that test only.
 *
 * worker-spin/after-guest-bug: fixed in qxl-ring.c (while the device
 * refuses commands, spice-server may sleep).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqos/qxl.h"

static const QXLRect rect64 = { .top = 0, .left = 0, .bottom = 64,
                                .right = 64 };

/*
 * Found by the fuzzer, 2026-11-30.  Once the device latched a guest bug,
 * its get_command returns false, but req_cmd_notification still says
 * "do not wait" while the ring holds commands.  When the bug comes right
 * after a command that was taken in the same pass, spice-server's worker
 * (red_process_display, CMD_RING_POLL_RETRIES 1) polls once more after
 * 10 ms and then retries get_command / req_cmd_notification at once,
 * forever: it spins at 100% and never serves its dispatcher.  The next
 * synchronous call from QEMU's main thread - QXL_IO_RESET, the very
 * recovery the guest is told to do, a system reset, vm stop, migration -
 * blocks for good:
 *
 *   main:  qxl_hard_reset -> qemu_spice_display_stop ->
 *          spice_server_vm_stop -> read()   (waits for the worker)
 *   SPICE Worker (100% CPU): red_process_display ->
 *          qxl_if_req_cmd_notification -> qxl_ring_req_cmd_notification
 *          -> qxl_ring_wait() == false (prod 7, cons 4), again and again
 *
 * A guest bug raised by an I/O port while a command waits on the ring
 * does the same, and so can a used-up snapshot budget.  (Stock QEMU
 * 10.0.13 dies at once on this test: spice-server's "red_process_display:
 * bad command type", SIGTRAP.)
 */
static void test_worker_spin_after_guest_bug(void)
{
    QXLDev *q = qxl_start_native("qxl-vga");

    /*
     * One kick for three commands: a good one (the worker takes it and
     * stays in its loop), a guest bug (an unknown command type), and one
     * more that stays on the ring.
     */
    qxl_push_raw(q, QXL_RING_CMD, QXL_CMD_DRAW,
                 qxl_phys(q, qxl_new_fill(q, 0, &rect64, 0xff)));
    qxl_push_raw(q, QXL_RING_CMD, 0x77,
                 qxl_phys(q, qxl_new_fill(q, 0, &rect64, 0xff)));
    qxl_push_raw(q, QXL_RING_CMD, QXL_CMD_DRAW,
                 qxl_phys(q, qxl_new_fill(q, 0, &rect64, 0xff00)));
    qxl_io(q, QXL_IO_NOTIFY_CMD, 0);
    g_assert_true(qxl_wait_error(q));
    /* Past spice-server's 10 ms poll. */
    g_usleep(100 * 1000);

    /* RESET must come back, and the device draw again. */
    qxl_assert_alive(q);
    qxl_reset(q);
    QXL_ASSERT_NO_ERROR_IRQ(q);
    qxl_assert_draws(q);
    qxl_stop(q);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qxl_test_add("/qxl/fuzz-regress/worker-spin/after-guest-bug",
                 test_worker_spin_after_guest_bug);
    return g_test_run();
}
