"""Live migration of real guests between our QEMU and stock QEMU 10.0,
both ways (issue 10).  Each scenario is a pair of tests, stock_to_ours and
ours_to_stock: qxl-vga in VGA mode (the BIOS's text screen), in native
mode with the Linux qxl driver's banner, while the guest draws, with a
secondary qxl head, there and back, savevm on one and loadvm on the
other, and Xorg's qxl driver (KMS and UMS).  After each move the
destination runs, a SPICE client on it sees the picture, and the guest's
driver keeps drawing.  Also savevm/loadvm of a running guest on our QEMU.

Stock QEMU comes from pytest's --stock (make check passes what
scripts/build-stock-qemu.sh prints); without it these tests are skipped.
Each scenario runs in both directions: test_qxl_migration_<scenario>
[stock_to_ours] and [ours_to_stock].  Our binary runs with -trace
qxl_migrate, so the tests can tell which mode the device was in when its
state was saved or loaded."""
import os
import re
import subprocess
import time

import pytest

import pattern
from guest_display import banner_mismatches
from migration import migrate, wait_running
import test_qxl_xorg as xorg
from xorg_guest import watch_cursor_shapes
from spice_client import SpiceProbe
from vm import AGENT_ARGS

MODE_VGA, MODE_NATIVE = 1, 3


class Peers:
    """The two QEMUs of a test, ours and stock, as source (src) and
    destination (dst) binaries: the way the test migrates."""

    def __init__(self, new_vm, ours, stock, direction):
        self.new_vm, self.ours = new_vm, ours
        self.src, self.dst = (stock, ours) if direction == "stock_to_ours" \
            else (ours, stock)

    def vm(self, name, args, binary, **kw):
        """A VM (in the log folder `name`) of `binary`; ours traces the
        mode its QXL devices are saved and loaded in."""
        if binary == self.ours:
            args = list(args) + ["-trace", "qxl_migrate"]
        return self.new_vm(args, name=name, binary=binary, **kw)

    def pair(self, args, src_extra=(), **kw):
        """Source and destination (-incoming defer) VMs."""
        return (self.vm("src", args + list(src_extra), self.src, **kw),
                self.vm("dst", args + ["-incoming", "defer"], self.dst, **kw))

    def assert_mode(self, src, dst, want, qid=0):
        """The mode device qid was in when migrated, as our side traced it."""
        ours, step = (src, "pre_save") if src.binary == self.ours \
            else (dst, "post_load")
        modes = _traced_modes(ours, step)
        assert modes.get(qid) == want, \
            "qxl-%d was in mode %s at %s, want %d; see %s" % (
                qid, modes.get(qid), step, want, ours.log_path)


@pytest.fixture(params=["stock_to_ours", "ours_to_stock"])
def peers(request, new_vm, build, stock_qemu):
    return Peers(new_vm, build.qemu, stock_qemu, request.param)


def _traced_modes(vm, step):
    """Device modes our QEMU traced (qxl_migrate) at step, by device id."""
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
        r"qxl_migrate (\d+) %s mode (\d+)" % step, vm.log_text())}


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
    client = SpiceProbe(dst.spice_uri).connect()
    try:
        for cid in heads:
            _banner_seen(client, cid, dst.logdir,
                         "the banner on the destination (%s)"
                         % os.path.basename(dst.binary))
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


# -- (a) VGA mode ----------------------------------------------------------

@pytest.mark.timeout(240)
def test_qxl_migration_vga_mode(peers):
    """The source shows the BIOS's VGA text screen (qxl-vga in VGA mode,
    no driver yet) and is stopped there; after the move a client on the
    destination sees that text screen, then the destination boots on: the
    driver binds there, draws its banner and keeps drawing."""
    src, dst = peers.pair(["-vga", "qxl"], src_extra=["-S"])
    with src, dst:
        client = SpiceProbe(src.spice_uri).connect()
        try:
            client.wait_for(lambda: client.main is not None, 20, "the main channel")
            client.pump(0.5)
            src.cmd("cont")

            def text_screen():
                s = client.primaries.get(0)
                if s is None or (s.width, s.height) != (720, 400):
                    return False
                raw = s.read()
                return sum(1 for i in range(0, len(raw), 4 * 7)
                           if raw[i] | raw[i + 1] | raw[i + 2]) > 200
            client.wait_for(text_screen, 60, "the BIOS's text screen on the source")
            src.cmd("stop")
            client.save_png(0, os.path.join(src.logdir, "vga-text.png"))
        finally:
            client.disconnect()
        assert "GUEST: qxl bound" not in src.serial_text, \
            "the driver bound before the source stopped"
        st = migrate(src, dst)
        assert st == "paused", "destination is %s, want paused (the source " \
            "was stopped)" % st
        peers.assert_mode(src, dst, MODE_VGA)

        # spice-server sends nothing while the VM is stopped: the client
        # connects to the paused destination, which then runs on and shows
        # the migrated text screen until the guest's driver takes over.
        client = SpiceProbe(dst.spice_uri).connect()
        try:
            client.wait_for(lambda: client.main is not None, 20, "the main channel")
            client.pump(0.5)
            dst.cmd("cont")
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

@pytest.mark.timeout(200)
def test_qxl_migration_native(peers):
    src, dst = peers.pair(["-vga", "qxl"])
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in src.serial_text
        time.sleep(1)
        st = migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        peers.assert_mode(src, dst, MODE_NATIVE)
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
    # A loaded host can keep a TCG guest's shell from answering for long,
    # and its loop from finishing a first drawing (no count yet: ask again).
    deadline = time.monotonic() + 60
    answers = 0
    vm.shell("echo %s-$(cat /tmp/draws)-END" % marker)
    while True:
        m = re.findall(r"%s-(\d*)-END" % marker, vm.serial_text)
        if m and m[-1]:
            return int(m[-1])
        assert time.monotonic() < deadline, \
            "no draw count on the serial port of %s" % vm.logdir
        if len(m) > answers:
            answers = len(m)
            time.sleep(0.5)
            vm.shell("echo %s-$(cat /tmp/draws)-END" % marker)
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_qxl_migration_while_drawing(peers):
    src, dst = peers.pair(["-vga", "qxl"])
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in src.serial_text
        src.shell(DRAW_LOOP)
        src.wait_serial("DRAWING-STARTED", 20)
        time.sleep(2)
        before = _draw_count(src, "SRCDRAWS")
        assert before > 0, "the guest's drawing loop did not draw"
        st = migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        peers.assert_mode(src, dst, MODE_NATIVE)
        # The loop goes on on the destination: it draws more.
        client = SpiceProbe(dst.spice_uri).connect()
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
        client = SpiceProbe(dst.spice_uri).connect()
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


@pytest.mark.timeout(240)
def test_qxl_migration_secondary(peers):
    """qxl-vga plus a secondary qxl (as test_qxl_secondary_head): both heads
    native with the banner; after the move the banner is on both display
    channels of the destination."""
    src, dst = peers.pair(["-vga", "qxl", "-device", "qxl"] + AGENT_ARGS,
                          append="fbcon=map:01")
    with src, dst:
        src.wait_serial("GUEST: ready", 120)
        bound = [l for l in src.serial_text.splitlines() if "GUEST: qxl bound" in l]
        assert len(bound) == 2, "qxl bound to %d devices: %s" % (len(bound), bound)
        assert "GUEST: banner drawn on fb1" in src.serial_text, \
            "no banner on the second head; see %s/serial.log" % src.logdir
        time.sleep(1)
        st = migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        peers.assert_mode(src, dst, MODE_NATIVE, qid=0)
        peers.assert_mode(src, dst, MODE_NATIVE, qid=1)
        _check_destination(dst, heads=(0, 1))


# -- there and back ---------------------------------------------------------

@pytest.mark.timeout(300)
def test_qxl_migration_round_trip(peers):
    """While the guest draws: to the other QEMU and back again (what one
    side loaded, it saves again for the other)."""
    there, back = peers.src, peers.dst
    args = ["-vga", "qxl"]
    incoming = ["-incoming", "defer"]
    vm1 = peers.vm("vm1", args, there)
    vm2 = peers.vm("vm2", args + incoming, back)
    vm3 = peers.vm("vm3", args + incoming, there)
    with vm1, vm2, vm3:
        vm1.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in vm1.serial_text
        vm1.shell(DRAW_LOOP)
        vm1.wait_serial("DRAWING-STARTED", 20)
        time.sleep(1)
        for src, dst in ((vm1, vm2), (vm2, vm3)):
            st = migrate(src, dst)
            assert st == "running", "%s is %s after migration" % (
                os.path.basename(dst.logdir), st)
            peers.assert_mode(src, dst, MODE_NATIVE)
            client = SpiceProbe(dst.spice_uri).connect()
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

def _scratch_disk_args(qemu_img, logdir):
    """A new, empty qcow2 disk for savevm, and the arguments that attach it."""
    disk = os.path.join(logdir, "disk.qcow2")
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", disk, "64M"],
                   check=True)
    return ["-drive", "if=none,id=disk0,file=%s,format=qcow2" % disk,
            "-device", "virtio-blk-pci,drive=disk0"]


@pytest.mark.timeout(240)
def test_qxl_migration_savevm_cross(peers, qemu_img, logdir):
    """savevm of a running guest on one QEMU, then the other starts from
    that snapshot (-loadvm): it runs, shows the banner and draws."""
    saver, loader = peers.src, peers.dst
    args = ["-vga", "qxl"] + _scratch_disk_args(qemu_img, logdir)
    with peers.vm("save", args, saver) as vm:
        vm.wait_serial("GUEST: ready", 120)
        assert "GUEST: banner drawn" in vm.serial_text
        time.sleep(1)
        out = vm.hmp("savevm snap1")
        assert not out.strip(), "savevm on %s: %s" % (
            os.path.basename(vm.binary), out)
        if saver == peers.ours:
            assert _traced_modes(vm, "pre_save").get(0) == MODE_NATIVE
    with peers.vm("load", args + ["-loadvm", "snap1"], loader) as vm:
        wait_running(vm)
        if loader == peers.ours:
            assert _traced_modes(vm, "post_load").get(0) == MODE_NATIVE, \
                "no native-mode load traced; see %s" % vm.log_path
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


def _xorg(peers, agent_guest_dir, qemu_img, logdir, kms):
    """Xorg on its qxl driver (KMS, or UMS: the driver programs the device
    itself and keeps pixmaps in device surfaces, so live surfaces and a
    cursor travel in the stream) draws test_qxl_xorg.py's scene; after the
    move the destination's client shows it exactly, and a new xdraw draws
    it again there."""
    s_bin, d_bin = peers.src, peers.dst
    # Shared storage: one overlay over the guest's root file system.
    disk = os.path.join(logdir, "rootfs.qcow2")
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-F", "raw",
                    "-b", os.path.join(agent_guest_dir, "rootfs.ext4"), disk],
                   check=True)
    args = AGENT_ARGS + [
        "-vga", "qxl",
        "-drive", "file=%s,if=virtio,format=qcow2" % disk,
    ]
    append = "agent=virtio " + (
        "xdriver=qxl" if kms else "xdriver=qxl-ums module_blacklist=qxl")
    kw = {"memory": "768M", "guest_dir": agent_guest_dir, "append": append}
    src = peers.vm("src", args, s_bin, **kw)
    # Our destination traces what it replays into spice-server on load.
    replay = ["-trace", "qxl_ring_command", "-trace", "qxl_snapshot_take",
              "-trace", "qxl_monitors_guest"] if d_bin == peers.ours else []
    dst = peers.vm("dst", args + ["-incoming", "defer"] + replay, d_bin, **kw)
    exact = xorg.exact_scene()
    with src, dst:
        client = SpiceProbe(src.spice_uri).connect()
        try:
            src.wait_serial("GUEST: ready", 150, pump=client.pump)
            # A hardware cursor: its last command travels in the stream.
            src.shell("DISPLAY=:0 xsetroot -cursor_name left_ptr; "
                      "echo CURSOR\"\"-SET")
            src.wait_serial("CURSOR-SET", 30, pump=client.pump)
            src.shell("DISPLAY=:0 xdraw >/dev/ttyS0 2>&1 &")
            src.wait_serial(["XDRAW: done", "XDRAW: error"], 120,
                            pump=client.pump)
            assert "XDRAW: error" not in src.serial_text, \
                "xdraw failed; see %s/serial.log" % src.logdir
            texts = xorg.parse_texts(src.serial_text)
            _xorg_scene(src, client, exact, texts, "on the source")
        finally:
            client.disconnect()
        st = migrate(src, dst)
        assert st == "running", "destination is %s after migration" % st
        peers.assert_mode(src, dst, MODE_NATIVE)
        if replay:
            # What our destination gave back to spice-server on load: the
            # live surfaces (in UMS the driver's pixmaps), the cursor and
            # the guest's monitors config.
            got = _replayed(dst)
            assert got["surface"] >= (2 if not kms else 1) and \
                got["cursor"] == 1 and got["monitors"] == 1, \
                "replayed on load: %s; see %s" % (got, dst.log_path)
        client = SpiceProbe(dst.spice_uri)
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
            dst.wait_serial(["XDRAW: done", "XDRAW: error"], 120,
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
    after = vm.log_text().split("post_load", 1)[1].split("qxl_ring_command", 1)[0]
    return {
        "surface": len(re.findall(r"qxl_snapshot_take 0 type 5 ", after)),
        "cursor": len(re.findall(r"qxl_snapshot_take 0 type 3 ", after)),
        "monitors": len(re.findall(r"qxl_monitors_guest 0 ", after)),
    }


@pytest.mark.timeout(400)
def test_qxl_migration_xorg_kms(peers, agent_guest_dir, qemu_img, logdir):
    _xorg(peers, agent_guest_dir, qemu_img, logdir, kms=True)


@pytest.mark.timeout(400)
def test_qxl_migration_xorg_ums(peers, agent_guest_dir, qemu_img, logdir):
    _xorg(peers, agent_guest_dir, qemu_img, logdir, kms=False)


# -- savevm / loadvm -------------------------------------------------------

@pytest.mark.timeout(200)
def test_qxl_savevm_loadvm_running_guest(new_vm, qemu_img, logdir):
    """savevm of a running guest on our QEMU, the picture changed, loadvm:
    the banner is back, and the guest runs and draws."""
    args = ["-vga", "qxl", "-trace", "qxl_migrate"] + \
        _scratch_disk_args(qemu_img, logdir)
    with new_vm(args) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            vm.wait_serial("GUEST: ready", 120, pump=client.pump)
            assert "GUEST: banner drawn" in vm.serial_text
            _banner_seen(client, 0, vm.logdir, "the banner before savevm")
            out = vm.hmp("savevm snap1")
            assert not out.strip(), "savevm: %s" % out
            snaps = vm.hmp("info snapshots")
            assert "snap1" in snaps, "no snap1 after savevm: %s" % snaps
            # Change the picture: the banner's rows filled with zeros.
            vm.shell("dd if=/dev/zero of=/dev/fb0 bs=65536 seek=28 count=16 "
                     "2>/dev/null; echo WIPED")
            vm.wait_serial("WIPED", 20, pump=client.pump)
            client.wait_for(lambda: len(banner_mismatches(client, 0)) > 400, 20,
                            "the wiped banner")
            out = vm.hmp("loadvm snap1")
            assert not out.strip(), "loadvm: %s" % out
            st = vm.status()
            assert st == "running", "after loadvm the VM is %s" % st
            assert _traced_modes(vm, "post_load").get(0) == MODE_NATIVE, \
                "no native-mode load traced; see %s" % vm.log_path
            _banner_seen(client, 0, vm.logdir, "the banner back after loadvm")
        finally:
            client.disconnect()
        _check_destination(vm, marker="LOADVM-OK")
