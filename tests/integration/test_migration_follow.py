"""Live migration with a SPICE client that follows the VM (issue 10).

The guest draws a frame counter through the Linux qxl driver
(tests/guest/fbcounter.c): 64 cells of a 32-row band carry the count and
its complement.  A spice-gtk client connected to the source is told where
the destination is (client_migrate_info) and, with seamless-migration=on,
moves there with the VM.  The client decodes every update of the band it
receives: no frame may be torn or corrupted, the count never goes back,
and it goes on rising on the destination once the source is gone.  The
banner and the guest's monitors config survive too.

test_qxl_migration_client_follows moves once each way between two of our
QEMUs.  The ping-pong runs (100 moves ours <-> ours, 20 ours <-> stock
QEMU 10.0) are long: they run only under "make check-migration"
(QEMU_SPICE_PINGPONG=1)."""
import os
import time

from guest_display import banner_mismatches
from spice_client import SpiceProbe
from vm import VM

BAND_TOP = 384          # fbcounter's band: rows 384..415, under the text
BAND_ROWS = 32
CELLS = 64
FRAME_INTERVAL_MS = 40
FOLLOW_OPTS = VM.TEST_SPICE_OPTS + ",seamless-migration=on"
GUEST_MEMORY = "256M"   # less RAM to move on every hop


def decode_band(client, cid=0):
    """The count fbcounter drew as the client shows it: an int, None when
    no frame was drawn yet, or "torn" when the band is not one frame."""
    s = client.primaries.get(cid)
    if s is None or s.width < 1024 or s.height < BAND_TOP + BAND_ROWS:
        return None
    raw = s.read()
    words = []
    for row in (BAND_TOP, BAND_TOP + BAND_ROWS // 2, BAND_TOP + BAND_ROWS - 1):
        bits = 0
        for cell in range(CELLS):
            off = row * s.stride + (cell * 16 + 8) * 4
            bright = raw[off] + raw[off + 1] + raw[off + 2]
            bits = (bits << 1) | (bright > 384)
        words.append(bits)
    if words == [0, 0, 0]:
        return None
    hi, lo = words[0] >> 32, words[0] & 0xffffffff
    if len(set(words)) != 1 or hi ^ lo != 0xffffffff:
        return "torn"
    return hi


class FrameWatch:
    """Every update of the band the client receives, decoded."""

    def __init__(self, client, cid=0):
        self.client, self.cid = client, cid
        self.values = []        # counts, in the order received
        self.bad = []           # (index, what) of torn or backward frames
        client.invalidate_hooks.append(self._update)

    def _update(self, cid, x, y, w, h):
        if cid != self.cid or y > BAND_TOP or y + h < BAND_TOP + BAND_ROWS:
            return              # not a whole band: nothing to judge
        v = decode_band(self.client, cid)
        if v is None:
            return
        if v == "torn":
            self.bad.append((len(self.values), "torn frame"))
            return
        if self.values and v < self.values[-1]:
            self.bad.append((len(self.values), "count went back from %d to %d"
                             % (self.values[-1], v)))
        self.values.append(v)

    @property
    def last(self):
        return self.values[-1] if self.values else 0

    def wait_beyond(self, count, timeout, what):
        self.client.wait_for(lambda: self.last > count, timeout,
                             "%s: a frame counter beyond %d (last %d)"
                             % (what, count, self.last))

    def assert_clean(self):
        assert not self.bad, "the client saw %d bad frames of %d, first: %s" % (
            len(self.bad), len(self.values), self.bad[:3])


def _vm(ctx, name, binary, incoming=False):
    # Two outputs: the guest's monitors config then says max_allowed 2,
    # where a client that never got one assumes 1.
    args = ["-device", "qxl-vga,max_outputs=2"] + \
        (["-incoming", "defer"] if incoming else [])
    return VM(ctx, name, args, memory=GUEST_MEMORY, spice_opts=FOLLOW_OPTS,
              qemu_binary=binary)


def _events(vm, name):
    return [e for e in vm.qmp.events if e.get("event") == name]


def _hop(src, dst, client, timeout=120):
    """Migrate src to dst (started with -incoming defer) while the client,
    attached to src, follows it; returns when the destination runs and
    spice-server reported the client's move."""
    sock = os.path.join(dst.logdir, "migrate.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
    src.qmp.cmd("client_migrate_info", protocol="spice",
                hostname="127.0.0.1", port=dst.spice_port)
    src.qmp.cmd("migrate", uri="unix:" + sock)
    deadline = time.monotonic() + timeout
    while True:
        info = src.qmp.cmd("query-migrate")
        status = info.get("status")
        if status == "completed" and _events(src, "SPICE_MIGRATE_COMPLETED"):
            break
        assert status not in ("failed", "cancelled"), \
            "migration %s: %s" % (status, info.get("error-desc", info))
        assert time.monotonic() < deadline, \
            "migration not over after %ds: %s, events %s" % (
                timeout, info, [e["event"] for e in src.qmp.events])
        client.pump(0.1)
    while dst.qmp.cmd("query-status")["status"] != "running":
        assert time.monotonic() < deadline, "the destination does not run"
        client.pump(0.1)


def _start_counter(vm, client):
    vm.wait_serial("GUEST: ready", 120, pump=client.pump)
    assert "GUEST: banner drawn" in vm.serial_text
    vm.shell("fbcounter /dev/fb0 %d %d & echo COUNTER-STARTED"
             % (BAND_TOP, FRAME_INTERVAL_MS))
    vm.wait_serial("COUNTER-STARTED", 30, pump=client.pump)


def _monitors_max(client, cid=0):
    """max_allowed of the last monitors config the client got (spice-gtk
    cannot hand the heads themselves to Python)."""
    for ch in client.display_channels:
        if ch.get_property("channel-id") == cid:
            return ch.get_property("monitors-max")
    return None


def _fresh_view(vm, logname):
    """What a client connecting now sees: (monitors max, banner faults)."""
    client = SpiceProbe("127.0.0.1", vm.spice_port).connect()
    try:
        client.wait_for(lambda: 0 in client.primaries, 30, "a primary")
        client.wait_for(lambda: not banner_mismatches(client, 0), 30,
                        "the banner")
        client.pump(1)
        client.save_png(0, os.path.join(vm.logdir, logname))
        return _monitors_max(client), banner_mismatches(client, 0)
    finally:
        client.disconnect()


def _ping_pong(ctx, name, hops, binaries):
    """hops moves of one running guest between QEMUs taking turns from
    binaries, with one client following it all the way."""
    vms = [_vm(ctx, "%s_0" % name, binaries[0])]
    vms[0].start()
    client = None
    try:
        # spice-server serves one client at a time: a look of our own
        # first, then the client that follows.
        vms[0].wait_serial("GUEST: ready", 120)
        monitors, bad = _fresh_view(vms[0], "before.png")
        assert not bad, "banner wrong before migrating: %s" % bad[:3]
        assert monitors == 2, "the guest's monitors config (max 2) did not " \
            "reach the client: it says %s" % monitors
        client = SpiceProbe("127.0.0.1", vms[0].spice_port)
        frames = FrameWatch(client)
        client.connect()
        _start_counter(vms[0], client)
        frames.wait_beyond(0, 60, "the source")
        for hop in range(1, hops + 1):
            src = vms[-1]
            dst = _vm(ctx, "%s_%d" % (name, hop), binaries[hop % len(binaries)],
                      incoming=True)
            vms.append(dst)
            dst.start()
            before = frames.last
            try:
                _hop(src, dst, client)
            except AssertionError as e:
                raise AssertionError("hop %d (%s -> %s): %s" % (
                    hop, os.path.basename(src.qemu_binary),
                    os.path.basename(dst.qemu_binary), e)) from None
            src.stop()
            src.assert_no_guest_errors()
            # Only the destination is left to draw what the client sees.
            frames.wait_beyond(before, 60, "after hop %d" % hop)
            frames.assert_clean()
        client.pump(1)
        bad = banner_mismatches(client, 0)
        assert not bad, "banner damaged after %d moves: %s" % (hops, bad[:3])
        errors = [e for e in client.events if "ERROR" in e[2]]
        assert not errors, "the client's channels failed: %s" % errors
        client.disconnect()
        client = None
        with open(os.path.join(vms[-1].logdir, "frames.txt"), "w") as f:
            f.write("monitors max %s\nframes %s\n" % (monitors, frames.values))
        # A new client on the last destination gets the guest's monitors
        # config: the destination gave it back to spice-server.
        after, bad = _fresh_view(vms[-1], "after.png")
        assert not bad, "banner wrong for a new client: %s" % bad[:3]
        assert after == monitors, "a new client sees monitors max %s after " \
            "migrating, %s before" % (after, monitors)
        return frames
    finally:
        if client:
            client.disconnect()
        for vm in vms:
            vm.stop()
        vms[-1].assert_no_guest_errors()


def test_qxl_migration_client_follows(ctx):
    """There and back between two of our QEMUs, the client following."""
    frames = _ping_pong(ctx, "test_qxl_migration_client_follows", 2,
                        [ctx.qemu_binary])
    assert len(frames.values) >= 5, "too few frames seen: %s" % frames.values


def _pingpong_hops(ctx, hops):
    """hops, or QEMU_SPICE_PINGPONG_HOPS for a shorter run by hand."""
    if os.environ.get("QEMU_SPICE_PINGPONG") != "1":
        raise ctx.Skip("long: run by make check-migration "
                       "(QEMU_SPICE_PINGPONG=1)")
    return int(os.environ.get("QEMU_SPICE_PINGPONG_HOPS", hops))


def test_qxl_migration_pingpong_ours(ctx):
    """100 moves ours <-> ours under draw load, the client following."""
    _ping_pong(ctx, "test_qxl_migration_pingpong_ours",
               _pingpong_hops(ctx, 100), [ctx.qemu_binary])


def test_qxl_migration_pingpong_stock(ctx):
    """20 moves ours <-> stock QEMU 10.0 under draw load."""
    hops = _pingpong_hops(ctx, 20)
    stock = getattr(ctx, "stock_binary", None)
    if not stock:
        raise ctx.Skip("no stock QEMU given (scripts/build-stock-qemu.sh)")
    _ping_pong(ctx, "test_qxl_migration_pingpong_stock", hops,
               [ctx.qemu_binary, stock])


test_qxl_migration_client_follows.timeout = 300
test_qxl_migration_pingpong_ours.timeout = 2400
test_qxl_migration_pingpong_stock.timeout = 900
