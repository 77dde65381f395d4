"""Live migration of real guests between our QEMU and stock QEMU 10.0,
both ways (issue 10).  Each scenario is a pair of tests, stock_to_ours and
ours_to_stock: qxl-vga in VGA mode (the BIOS's text screen), in native
mode with the Linux qxl driver's banner, while the guest draws, with a
secondary qxl head, there and back, savevm on one and loadvm on the
other, and Xorg's qxl driver (KMS and UMS).  After each move the
destination runs, a SPICE client on it sees the picture, and the guest's
driver keeps drawing.  Also savevm/loadvm of a running guest on our QEMU.

Stock QEMU comes from tests/run.py --stock (scripts/build-stock-qemu.sh);
without it these tests are skipped.  Our binary runs with -trace
qxl_migrate, so the tests can tell which mode the device was in when its
state was saved or loaded."""
import os
import re
import subprocess
import time

import pattern
from guest_display import AGENT_ARGS, banner_mismatches
import test_qxl_xorg as xorg
from xorg_guest import watch_cursor_shapes
from spice_client import SpiceProbe
from test_agent import agent_guest
from vm import VM

MODE_VGA, MODE_NATIVE = 1, 3


def _stock(ctx):
    stock = getattr(ctx, "stock_binary", None)
    if not stock:
        raise ctx.Skip("no stock QEMU given (tests/run.py --stock, "
                       "scripts/build-stock-qemu.sh)")
    if not os.access(stock, os.X_OK):
        raise ctx.Skip("stock QEMU %s is absent" % stock)
    return stock


def _binaries(ctx, direction):
    """(source binary, destination binary) for "stock-to-ours" or
    "ours-to-stock"."""
    stock = _stock(ctx)
    if direction == "stock-to-ours":
        return stock, ctx.qemu_binary
    return ctx.qemu_binary, stock


def _vm(ctx, name, args, binary, **kw):
    if binary == ctx.qemu_binary:
        args = list(args) + ["-trace", "qxl_migrate"]
    return VM(ctx, name, args, qemu_binary=binary, **kw)


def _tail(vm, lines=15):
    path = os.path.join(vm.logdir, "qemu.stderr")
    try:
        with open(path, errors="replace") as f:
            text = [l.rstrip() for l in f if "qxl_migrate" not in l]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _migrate(src, dst, timeout=90):
    """Migrate src to dst (started with -incoming defer) over a Unix
    socket; on failure the error names what each side logged."""
    sock = os.path.join(dst.logdir, "migrate.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
    src.qmp.cmd("migrate", uri="unix:" + sock)
    deadline = time.monotonic() + timeout
    info = {}
    while time.monotonic() < deadline:
        info = src.qmp.cmd("query-migrate")
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            time.sleep(0.5)
            raise AssertionError(
                "migration %s: %s; source (%s) said: %s; destination (%s) "
                "said: %s" % (status, info.get("error-desc", info),
                              os.path.basename(src.qemu_binary), _tail(src),
                              os.path.basename(dst.qemu_binary), _tail(dst)))
        time.sleep(0.2)
    else:
        raise AssertionError("migration not completed after %ds: %s"
                             % (timeout, info))
    # The destination has loaded once it leaves "inmigrate".
    deadline = time.monotonic() + 30
    while True:
        if dst.proc.poll() is not None:
            raise AssertionError("destination QEMU exited (status %d) after "
                                 "migration: %s" % (dst.proc.returncode,
                                                    _tail(dst)))
        st = dst.qmp.cmd("query-status")["status"]
        if st != "inmigrate":
            return st
        if time.monotonic() > deadline:
            raise AssertionError("destination still in %s 30s after the "
                                 "migration completed: %s" % (st, _tail(dst)))
        time.sleep(0.2)


def _wait_running(vm, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        st = vm.qmp.cmd("query-status")["status"]
        if st == "running":
            return
        assert time.monotonic() < deadline, \
            "%s not running %ds after migration (%s): %s" % (
                os.path.basename(vm.qemu_binary), timeout, st, _tail(vm))
        time.sleep(0.2)


def _traced_modes(vm, step):
    """Device modes our QEMU traced (qxl_migrate) at step, by device id."""
    path = os.path.join(vm.logdir, "qemu.stderr")
    with open(path, errors="replace") as f:
        text = f.read()
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
        r"qxl_migrate (\d+) %s mode (\d+)" % step, text)}


def _assert_mode(ctx, src, dst, want, qid=0):
    """The mode device qid was in when migrated, as our side traced it."""
    ours, step = (src, "pre_save") if src.qemu_binary == ctx.qemu_binary \
        else (dst, "post_load")
    modes = _traced_modes(ours, step)
    assert modes.get(qid) == want, \
        "qxl-%d was in mode %s at %s, want %d; see %s/qemu.stderr" % (
            qid, modes.get(qid), step, want, ours.logdir)


def _banner_seen(client, cid, logdir, what, timeout=30):
    try:
        client.wait_for(lambda: not banner_mismatches(client, cid), timeout,
                        "%s on display %d (%s)" % (
                            what, cid, "; ".join(banner_mismatches(client, cid)[:3])))
    finally:
        if cid in client.primaries:
            client.save_png(cid, os.path.join(logdir, "capture-%d.png" % cid))


def _check_destination(dst, heads=(0,), marker="MIGRATED-OK"):
    """On the destination a new SPICE client sees the banner on each head,
    and a console line drawn after migration reaches it."""
    client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
    try:
        for cid in heads:
            _banner_seen(client, cid, dst.logdir,
                         "the banner on the destination (%s)"
                         % os.path.basename(dst.qemu_binary))
        client.pump(0.5)
        inv = client.invalidates
        dst.shell("echo after-migration > /dev/tty1; echo %s" % marker)
        dst.wait_serial(marker, 20, pump=client.pump)
        client.wait_for(lambda: client.invalidates > inv, 20,
                        "drawing on the destination after migration")
        for cid in heads:
            bad = banner_mismatches(client, cid)
            assert not bad, "banner on display %d damaged after drawing: %s" \
                % (cid, "; ".join(bad[:3]))
    finally:
        client.disconnect()


def _pair(ctx, test, direction, args, src_extra=(), **kw):
    """Source and destination (-incoming defer) VMs of one test."""
    s_bin, d_bin = _binaries(ctx, direction)
    src = _vm(ctx, test + "_src", args + list(src_extra), s_bin, **kw)
    dst = _vm(ctx, test + "_dst", args + ["-incoming", "defer"], d_bin, **kw)
    return src, dst


# -- (a) VGA mode ----------------------------------------------------------

def _vga_mode(ctx, test, direction):
    """The source shows the BIOS's VGA text screen (qxl-vga in VGA mode,
    no driver yet) and is stopped there; after the move a client on the
    destination sees that text screen, then the destination boots on: the
    driver binds there, draws its banner and keeps drawing."""
    args = ["-vga", "qxl"]
    src, dst = _pair(ctx, test, direction, args, src_extra=["-S"])
    with src, dst:
        client = SpiceProbe("127.0.0.1", src.spice_port).connect()
        try:
            client.wait_for(lambda: client.main is not None, 20, "the main channel")
            client.pump(0.5)
            src.qmp.cmd("cont")

            def text_screen():
                s = client.primaries.get(0)
                if s is None or (s.width, s.height) != (720, 400):
                    return False
                raw = s.read()
                return sum(1 for i in range(0, len(raw), 4 * 7)
                           if raw[i] | raw[i + 1] | raw[i + 2]) > 200
            client.wait_for(text_screen, 60, "the BIOS's text screen on the source")
            src.qmp.cmd("stop")
            client.save_png(0, os.path.join(src.logdir, "vga-text.png"))
        finally:
            client.disconnect()
        assert "GUEST: qxl bound" not in src.serial_text, \
            "the driver bound before the source stopped"
        st = _migrate(src, dst)
        assert st == "paused", "destination is %s, want paused (the source " \
            "was stopped)" % st
        _assert_mode(ctx, src, dst, MODE_VGA)

        # spice-server sends nothing while the VM is stopped: the client
        # connects to the paused destination, which then runs on and shows
        # the migrated text screen until the guest's driver takes over.
        client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
        try:
            client.wait_for(lambda: client.main is not None, 20, "the main channel")
            client.pump(0.5)
            dst.qmp.cmd("cont")
            client.wait_for(lambda: client.primary_history, 30,
                            "a primary surface on the destination")
            assert client.primary_history[0] == (0, 720, 400), \
                "the destination's first surface is %s, not the migrated " \
                "720x400 text screen" % (client.primary_history[0],)
            client.wait_for(text_screen, 30,
                            "the migrated VGA text screen on the destination "
                            "(surfaces: %s)" % client.primary_history)
            client.save_png(0, os.path.join(dst.logdir, "vga-text.png"))
            dst.wait_serial("GUEST: ready", 120, pump=client.pump)
            assert "GUEST: qxl bound" in dst.serial_text, \
                "the qxl driver did not bind on the destination; see %s" \
                % dst.logdir
            assert "GUEST: banner drawn" in dst.serial_text
            _banner_seen(client, 0, dst.logdir, "the banner drawn on the destination")
        finally:
            client.disconnect()
        _check_destination(dst)


# -- (b) native mode, banner drawn -----------------------------------------

def _native(ctx, test, direction):
    args = ["-vga", "qxl"]
    src, dst = _pair(ctx, test, direction, args)
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in src.serial_text
        time.sleep(1)
        st = _migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        _assert_mode(ctx, src, dst, MODE_NATIVE)
        _check_destination(dst)


# -- (c) while the guest draws ---------------------------------------------

# Rows 80..95 of the framebuffer (above the banner, which starts at row
# 448), filled again and again with two different slices of the banner
# (rows 0..15, the colour bars, and rows 64..79, background): each write
# is a damage the driver turns into draw commands.  One write of 16 rows,
# as the guest's init does (Linux 6.1's fbdev drops a one-line write).
DRAW_LOOP = ("(i=0; while :; do dd if=/etc/banner.raw of=/dev/fb0 bs=65536 "
             "count=1 seek=5 skip=$((i % 2 * 4)) 2>/dev/null; "
             "i=$((i + 1)); echo $i > /tmp/draws; done) & "
             "echo DRAWING-STARTED")


def _draw_count(vm, marker):
    """How many times the guest's loop has drawn (the command echo has no
    digits between marker and END, the answer has)."""
    vm.shell("echo %s-$(cat /tmp/draws)-END" % marker)
    # A loaded host can keep a TCG guest's shell from answering for long.
    deadline = time.monotonic() + 60
    while True:
        m = re.findall(r"%s-(\d+)-END" % marker, vm.serial_text)
        if m:
            return int(m[-1])
        assert time.monotonic() < deadline, \
            "no draw count on the serial port of %s" % vm.logdir
        time.sleep(0.1)


def _while_drawing(ctx, test, direction):
    args = ["-vga", "qxl"]
    src, dst = _pair(ctx, test, direction, args)
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in src.serial_text
        src.shell(DRAW_LOOP)
        src.wait_serial("DRAWING-STARTED", 20)
        time.sleep(2)
        before = _draw_count(src, "SRCDRAWS")
        assert before > 0, "the guest's drawing loop did not draw"
        st = _migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        _assert_mode(ctx, src, dst, MODE_NATIVE)
        # The loop goes on on the destination: it draws more.
        client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
        try:
            _banner_seen(client, 0, dst.logdir, "the banner on the destination")
            # Both of the loop's pictures reach the client: it draws on.
            _both_pictures_seen(client, "the destination")
        finally:
            client.disconnect()
        time.sleep(1)
        n1 = _draw_count(dst, "DSTDRAWS1")
        time.sleep(2)
        n2 = _draw_count(dst, "DSTDRAWS2")
        assert n2 > n1 >= before, \
            "the drawing loop stalled on the destination (%d, %d, %d)" % (
                before, n1, n2)
        dst.shell("kill %1; sleep 0.5; echo LOOP-STOPPED")
        dst.wait_serial("LOOP-STOPPED", 20)
        # What the loop drew last is what a client on the destination sees.
        client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
        try:
            client.wait_for(lambda: _band_slice(client) is not None, 20,
                            "the loop's last picture in rows 80..95 (%s)"
                            % _band_slice(client, report=True))
        finally:
            if 0 in client.primaries:
                client.save_png(0, os.path.join(dst.logdir, "capture-stopped.png"))
            client.disconnect()
        _check_destination(dst)


def _band_slice(client, report=False):
    """Which banner slice (0 or 64) rows 80..95 show, or None."""
    s = client.primaries.get(0)
    if s is None or (s.width, s.height) != (1024, 768):
        return "no 1024x768 primary" if report else None
    raw = s.read()
    got = [client.rgb_at(0, x, y, raw) for y in (80, 87, 95)
           for x in range(64, 1024, 128)]
    for skip in (0, 64):
        want = [pattern.pixel(x, skip + y - 80) for y in (80, 87, 95)
                for x in range(64, 1024, 128)]
        if got == want:
            return skip
    return ("rows 80..95 show %s" % got[:8]) if report else None


# -- secondary head --------------------------------------------------------

def _both_pictures_seen(client, where):
    """Both pictures of the guest's drawing loop reach the client."""
    seen = set()

    def both_slices():
        band = _band_slice(client)
        if band is not None:
            seen.add(band)
        return len(seen) == 2
    client.wait_for(both_slices, 20, "both pictures of the drawing loop on "
                    "%s (seen: %s)" % (where, seen))


def _secondary(ctx, test, direction):
    """qxl-vga plus a secondary qxl (as test_qxl_secondary_head): both heads
    native with the banner; after the move the banner is on both display
    channels of the destination."""
    args = ["-vga", "qxl", "-device", "qxl"] + AGENT_ARGS
    src, dst = _pair(ctx, test, direction, args, append="fbcon=map:01")
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        bound = [l for l in src.serial_text.splitlines() if "GUEST: qxl bound" in l]
        assert len(bound) == 2, "qxl bound to %d devices: %s" % (len(bound), bound)
        assert "GUEST: banner drawn on fb1" in src.serial_text, \
            "no banner on the second head; see %s/serial.log" % src.logdir
        time.sleep(1)
        st = _migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        _assert_mode(ctx, src, dst, MODE_NATIVE, qid=0)
        _assert_mode(ctx, src, dst, MODE_NATIVE, qid=1)
        _check_destination(dst, heads=(0, 1))


# -- there and back ---------------------------------------------------------

def _round_trip(ctx, test, direction):
    """While the guest draws: to the other QEMU and back again (what one
    side loaded, it saves again for the other)."""
    there, back = _binaries(ctx, direction)
    args = ["-vga", "qxl"]
    incoming = ["-incoming", "defer"]
    vm1 = _vm(ctx, test + "_1", args, there)
    vm2 = _vm(ctx, test + "_2", args + incoming, back)
    vm3 = _vm(ctx, test + "_3", args + incoming, there)
    with vm1, vm2, vm3:
        vm1.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in vm1.serial_text
        vm1.shell(DRAW_LOOP)
        vm1.wait_serial("DRAWING-STARTED", 20)
        time.sleep(1)
        for src, dst in ((vm1, vm2), (vm2, vm3)):
            st = _migrate(src, dst)
            assert st == "running", "%s is %s after migration" % (
                os.path.basename(dst.logdir), st)
            _assert_mode(ctx, src, dst, MODE_NATIVE)
            client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
            try:
                _banner_seen(client, 0, dst.logdir, "the banner on %s"
                             % os.path.basename(dst.logdir))
                _both_pictures_seen(client, os.path.basename(dst.logdir))
            finally:
                client.disconnect()
        vm3.shell("kill %1; sleep 0.5; echo LOOP-STOPPED")
        vm3.wait_serial("LOOP-STOPPED", 20)
        _check_destination(vm3)


# -- savevm on one, loadvm on the other --------------------------------------

def _savevm_cross(ctx, test, direction):
    """savevm of a running guest on one QEMU, then the other starts from
    that snapshot (-loadvm): it runs, shows the banner and draws."""
    saver, loader = _binaries(ctx, direction)
    disk = os.path.join(ctx.logdir(test), "disk.qcow2")
    if os.path.exists(disk):
        os.unlink(disk)
    subprocess.run([_qemu_img(ctx), "create", "-q", "-f", "qcow2", disk, "64M"],
                   check=True)
    args = ["-vga", "qxl",
            "-drive", "if=none,id=disk0,file=%s,format=qcow2" % disk,
            "-device", "virtio-blk-pci,drive=disk0"]
    with _vm(ctx, test + "_save", args, saver) as vm:
        vm.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in vm.serial_text
        time.sleep(1)
        out = vm.qmp.hmp("savevm snap1")
        assert not out.strip(), "savevm on %s: %s" % (
            os.path.basename(vm.qemu_binary), out)
        if saver == ctx.qemu_binary:
            assert _traced_modes(vm, "pre_save").get(0) == MODE_NATIVE
    with _vm(ctx, test + "_load", args + ["-loadvm", "snap1"], loader) as vm:
        _wait_running(vm)
        if loader == ctx.qemu_binary:
            assert _traced_modes(vm, "post_load").get(0) == MODE_NATIVE, \
                "no native-mode load traced; see %s/qemu.stderr" % vm.logdir
        _check_destination(vm, marker="LOADVM-OK")


# -- Xorg's qxl driver -------------------------------------------------------

def _xorg_scene(vm, client, exact, texts, what):
    """Wait for xdraw's scene (its marker drawn last) on the client and
    check it as test_qxl_xorg.py does."""
    mx, my = xorg.MARKER_RECT[:2]
    client.wait_for(
        lambda: 0 in client.primaries and
        client.primaries[0].width >= xorg.WIN_W and
        client.primaries[0].height >= xorg.WIN_H and
        client.rgb_at(0, mx + 10, my + 10) == (0x12, 0xab, 0x34),
        60, "xdraw's marker %s" % what)
    assert len(texts) == 2, "xdraw reported texts %s" % texts
    deadline = time.monotonic() + 20
    while True:
        problems = xorg.check_scene(xorg.window_pixels(client), texts, exact)
        if not problems or time.monotonic() > deadline:
            break
        client.pump(1)
    client.save_png(0, os.path.join(vm.logdir, "capture.png"))
    assert not problems, "the client's picture %s is wrong: %s" % (
        what, "; ".join(problems[:5]))


def _xorg(ctx, test, direction, kms):
    """Xorg on its qxl driver (KMS, or UMS: the driver programs the device
    itself and keeps pixmaps in device surfaces, so live surfaces and a
    cursor travel in the stream) draws test_qxl_xorg.py's scene; after the
    move the destination's client shows it exactly, and a new xdraw draws
    it again there."""
    s_bin, d_bin = _binaries(ctx, direction)
    guest = agent_guest(ctx)
    logdir = ctx.logdir(test)
    # Shared storage: one overlay over the guest's root file system.
    disk = os.path.join(logdir, "rootfs.qcow2")
    if os.path.exists(disk):
        os.unlink(disk)
    subprocess.run([_qemu_img(ctx), "create", "-q", "-f", "qcow2", "-F", "raw",
                    "-b", os.path.join(guest, "rootfs.ext4"), disk], check=True)
    args = AGENT_ARGS + [
        "-vga", "qxl",
        "-drive", "file=%s,if=virtio,format=qcow2" % disk,
    ]
    append = "agent=virtio " + (
        "xdriver=qxl" if kms else "xdriver=qxl-ums module_blacklist=qxl")
    kw = {"memory": "768M", "guest_dir": guest, "append": append}
    src = _vm(ctx, test + "_src", args, s_bin, **kw)
    # Our destination traces what it replays into spice-server on load.
    replay = ["-trace", "qxl_ring_command", "-trace", "qxl_snapshot_take",
              "-trace", "qxl_monitors_guest"] if d_bin == ctx.qemu_binary else []
    dst = _vm(ctx, test + "_dst", args + ["-incoming", "defer"] + replay,
              d_bin, **kw)
    exact = xorg.exact_scene()
    with src, dst:
        client = SpiceProbe("127.0.0.1", src.spice_port).connect()
        try:
            src.wait_serial("GUEST: ready", 150, pump=client.pump)
            # A hardware cursor: its last command travels in the stream.
            src.shell("DISPLAY=:0 xsetroot -cursor_name left_ptr; "
                      "echo CURSOR\"\"-SET")
            src.wait_serial("CURSOR-SET", 30, pump=client.pump)
            src.shell("DISPLAY=:0 xdraw >/dev/ttyS0 2>&1 &")
            src.wait_serial_any(["XDRAW: done", "XDRAW: error"], 120,
                                pump=client.pump)
            assert "XDRAW: error" not in src.serial_text, \
                "xdraw failed; see %s/serial.log" % src.logdir
            texts = xorg.parse_texts(src.serial_text)
            _xorg_scene(src, client, exact, texts, "on the source")
        finally:
            client.disconnect()
        st = _migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        _assert_mode(ctx, src, dst, MODE_NATIVE)
        if replay:
            # What our destination gave back to spice-server on load: the
            # live surfaces (in UMS the driver's pixmaps), the cursor and
            # the guest's monitors config.
            got = _replayed(dst)
            assert got["surface"] >= (2 if not kms else 1) and \
                got["cursor"] == 1 and got["monitors"] == 1, \
                "replayed on load: %s; see %s/qemu.stderr" % (got, dst.logdir)
        client = SpiceProbe("127.0.0.1", dst.spice_port)
        shapes = watch_cursor_shapes(client)
        client.connect()
        try:
            _xorg_scene(dst, client, exact, texts, "on the destination")
            # The cursor the guest set on the source, without a new command.
            client.wait_for(lambda: any(w > 0 and h > 0 for w, h in shapes), 30,
                            "the guest's cursor on the destination (shapes "
                            "seen: %s)" % shapes)
            # The driver keeps drawing: xdraw again, from a new window.
            inv = client.invalidates
            dst.shell("kill %1; sleep 1; DISPLAY=:0 xdraw >/dev/ttyS0 2>&1 &")
            dst.wait_serial_any(["XDRAW: done", "XDRAW: error"], 120,
                                pump=client.pump)
            assert "XDRAW: error" not in dst.serial_text, \
                "xdraw failed on the destination; see %s/serial.log" % dst.logdir
            assert client.invalidates > inv, "nothing drawn on the destination"
            # (The same texts as the first time: xdraw's lines on the
            # serial port may now share it with the shell's prompt.)
            _xorg_scene(dst, client, exact, texts,
                        "drawn again on the destination")
        finally:
            client.disconnect()


def _replayed(vm):
    """Commands our QEMU took again in post_load (traced before the first
    command from the rings)."""
    with open(os.path.join(vm.logdir, "qemu.stderr"), errors="replace") as f:
        text = f.read()
    after = text.split("post_load", 1)[1].split("qxl_ring_command", 1)[0]
    return {
        "surface": len(re.findall(r"qxl_snapshot_take 0 type 5 ", after)),
        "cursor": len(re.findall(r"qxl_snapshot_take 0 type 3 ", after)),
        "monitors": len(re.findall(r"qxl_monitors_guest 0 ", after)),
    }


def _xorg_kms(ctx, test, direction):
    _xorg(ctx, test, direction, kms=True)


def _xorg_ums(ctx, test, direction):
    _xorg(ctx, test, direction, kms=False)


def _make(fn, direction, timeout):
    name = "test_qxl_migration_%s_%s" % (
        direction.replace("-", "_"), fn.__name__.lstrip("_"))

    def test(ctx):
        fn(ctx, name, direction)
    test.__name__ = name
    test.__doc__ = fn.__doc__
    test.timeout = timeout
    return name, test


for _fn, _timeout in ((_vga_mode, 240), (_native, 200),
                      (_while_drawing, 240), (_secondary, 240),
                      (_round_trip, 300), (_savevm_cross, 240),
                      (_xorg_kms, 400), (_xorg_ums, 400)):
    for _direction in ("stock-to-ours", "ours-to-stock"):
        _name, _test = _make(_fn, _direction, _timeout)
        globals()[_name] = _test


# -- savevm / loadvm -------------------------------------------------------

def _qemu_img(ctx):
    for path in (os.path.join(ctx.build, "qemu", "qemu-img"),
                 os.path.join(os.path.dirname(ctx.stock_binary or "/"), "qemu-img")):
        if os.access(path, os.X_OK):
            return path
    raise ctx.Skip("no qemu-img (ninja -C build/qemu qemu-img)")


def test_qxl_savevm_loadvm_running_guest(ctx):
    """savevm of a running guest on our QEMU, the picture changed, loadvm:
    the banner is back, and the guest runs and draws."""
    name = "test_qxl_savevm_loadvm_running_guest"
    logdir = ctx.logdir(name)
    disk = os.path.join(logdir, "disk.qcow2")
    if os.path.exists(disk):
        os.unlink(disk)
    subprocess.run([_qemu_img(ctx), "create", "-q", "-f", "qcow2", disk, "64M"],
                   check=True)
    args = ["-vga", "qxl",
            "-drive", "if=none,id=disk0,file=%s,format=qcow2" % disk,
            "-device", "virtio-blk-pci,drive=disk0",
            "-trace", "qxl_migrate"]
    with VM(ctx, name, args) as vm:
        client = SpiceProbe("127.0.0.1", vm.spice_port).connect()
        try:
            vm.wait_serial("GUEST: ready", 120, pump=client.pump)
            assert "GUEST: banner drawn" in vm.serial_text
            _banner_seen(client, 0, vm.logdir, "the banner before savevm")
            out = vm.qmp.hmp("savevm snap1")
            assert not out.strip(), "savevm: %s" % out
            snaps = vm.qmp.hmp("info snapshots")
            assert "snap1" in snaps, "no snap1 after savevm: %s" % snaps
            # Change the picture: the banner's rows filled with zeros.
            vm.shell("dd if=/dev/zero of=/dev/fb0 bs=65536 seek=28 count=16 "
                     "2>/dev/null; echo WIPED")
            vm.wait_serial("WIPED", 20, pump=client.pump)
            client.wait_for(lambda: len(banner_mismatches(client, 0)) > 400, 20,
                            "the wiped banner")
            out = vm.qmp.hmp("loadvm snap1")
            assert not out.strip(), "loadvm: %s" % out
            st = vm.qmp.cmd("query-status")["status"]
            assert st == "running", "after loadvm the VM is %s" % st
            assert _traced_modes(vm, "post_load").get(0) == MODE_NATIVE, \
                "no native-mode load traced; see %s/qemu.stderr" % vm.logdir
            _banner_seen(client, 0, vm.logdir, "the banner back after loadvm")
        finally:
            client.disconnect()
        _check_destination(vm, marker="LOADVM-OK")


test_qxl_savevm_loadvm_running_guest.timeout = 200
