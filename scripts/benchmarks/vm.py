"""Benchmarks with the real test guest under TCG and a real SPICE client
(tests/integration/vm.py and spice_client.py, imported as they are).

P1 idle   main-thread CPU of an idle VM (1024x768 VBE graphics and VGA text,
          on qxl-vga in VGA mode and on -vga std) with a client connected,
          and the floor: the same VM with no SPICE and no display at all.
P2 frames frames a client receives per second while tests/guest/bench-draw
          draws full frames / 1 % updates through the guest's DRM driver
          (qxl on qxl-vga; bochs on -vga std, through the framebuffer
          export), and QEMU CPU per delivered frame.
P4 boot   QEMU start to the guest's banner in the client (qxl-vga at
          libvirt's default sizes), and the VM's RSS then.
Migration downtime of a VM drawing full frames at full speed, to a second
          QEMU of the same kind.
"""
import os
import socket
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))

# vm.py is built on QEMU's own python/qemu, from the tree we were built from.
from build_tree import BuildTree  # noqa: E402

BuildTree(os.path.join(TOP, "build")).use_qemu_python()

import pattern  # noqa: E402
from spice_client import SpiceProbe  # noqa: E402
from vm import VM as TestVM, free_tcp_port  # noqa: E402

from .common import alternate, pick, row, summary  # noqa: E402

# libvirt's <video><model type='qxl'/></video> (see shared notes).
QXL_LIBVIRT = ["-device", "qxl-vga,id=video0,max_outputs=1,"
               "ram_size=67108864,vram_size=67108864,vram64_size_mb=0,"
               "vgamem_mb=16"]
STD_VGA = ["-vga", "std", "-global", "VGA.xres=1024", "-global",
           "VGA.yres=768"]
COMMON = ["-display", "none", "-name", "bench,debug-threads=on"]


class Ctx:
    """Where a run's VMs log, which guest they boot, which QEMU runs them."""

    def __init__(self, logroot, guest_dir, binary):
        self.logroot = logroot
        self.guest_dir = guest_dir
        self.qemu_binary = binary


def VM(ctx, name, args, spice=True, memory="512M", append=""):
    """The tests' vm.VM (QEMU's QEMUMachine with our guest), SPICE on a
    loopback TCP port, logging under the run's folder."""
    return TestVM(ctx.qemu_binary, os.path.join(ctx.logroot, name), args,
                  ctx.guest_dir, memory=memory, append=append, spice=spice,
                  spice_port=0 if spice else None)


# ---- /proc ---------------------------------------------------------------

def threads(pid):
    """{tid: (comm, run ns, context switches)} of a process."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open("%s/%s/comm" % (base, tid)) as f:
                comm = f.read().strip()
            with open("%s/%s/schedstat" % (base, tid)) as f:
                ns = int(f.read().split()[0])
            switches = 0
            with open("%s/%s/status" % (base, tid)) as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        switches += int(line.split()[1])
        except OSError:
            continue
        out[int(tid)] = (comm, ns, switches)
    return out


def cpu_between(pid, before, after, seconds):
    """% of one core per kind of thread: main, worker (SPICE), vcpu, total."""
    pct = {"main": 0.0, "worker": 0.0, "vcpu": 0.0, "total": 0.0,
           "main_wakeups": 0.0}
    for tid, (comm, ns, switches) in after.items():
        d = (ns - before.get(tid, (comm, 0, 0))[1]) / 1e9 / seconds * 100
        pct["total"] += d
        if tid == pid:
            pct["main"] += d
            pct["main_wakeups"] = ((switches - before.get(tid, (0, 0, 0))[2])
                                   / seconds)
        elif "TCG" in comm or comm.startswith("CPU "):
            pct["vcpu"] += d
        elif "SPICE" in comm or "Worker" in comm:
            pct["worker"] += d
    return pct


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# ---- client --------------------------------------------------------------

class FrameCounter(SpiceProbe):
    """A SpiceProbe that counts client updates, and the frames of
    bench-draw: the distinct values of pixel (0, 0) seen after updates."""

    def __init__(self, uri):
        super().__init__(uri)
        self.updates = 0
        self.frames = 0
        self.last = None

    def _channel_new(self, session, channel):
        super()._channel_new(session, channel)
        from gi.repository import GObject, SpiceClientGLib
        if isinstance(channel, SpiceClientGLib.DisplayChannel):
            GObject.Object.connect(channel, "display-invalidate",
                                   self._update)

    def _update(self, channel, x, y, w, h):
        import ctypes
        self.updates += 1
        s = self.primaries.get(0)
        if s is None or x > 0 or y > 0:
            return
        v = ctypes.string_at(s.addr, 4)
        if v != self.last:
            self.last = v
            self.frames += 1


def connect_client(vm, timeout=30):
    c = FrameCounter(vm.spice_uri).connect()
    c.wait_for(lambda: 0 in c.primaries, timeout, "a primary surface")
    return c


# ---- P1 idle -------------------------------------------------------------

P1_CONFIGS = [
    # name, device args, bench= mode, spice
    ("qxl-vga VBE 1024x768", ["-device", "qxl-vga,id=video0"], "vbe", True),
    ("-vga std VBE 1024x768", STD_VGA, "vbe", True),
    ("qxl-vga VGA text", ["-device", "qxl-vga,id=video0"], "text", True),
    ("-vga std VGA text", STD_VGA, "text", True),
    ("floor (no SPICE, no display)", [], "none", False),
]


def idle_once(ctx, name, args, mode, spice, settle, seconds):
    vm = VM(ctx, name, COMMON + args, spice=spice, memory="256M",
            append="rdinit=/bin/bench-init bench=%s" % mode)
    with vm:
        vm.wait_serial("BENCH: ready", 60)
        if "BENCH: ready %s" % mode not in vm.serial_text:
            raise RuntimeError("guest: %s" % vm.serial_text[-200:])
        client = connect_client(vm) if spice else None
        pump = client.pump if client else time.sleep
        pump(settle)
        pid = vm.get_pid()
        u0 = client.updates if client else 0
        b = threads(pid)
        t0 = time.monotonic()
        pump(seconds)
        a = threads(pid)
        pct = cpu_between(pid, b, a, time.monotonic() - t0)
        pct["updates"] = (client.updates - u0) if client else 0
        if client:
            client.disconnect()
        return pct


def run_idle(args, log):
    """Each round runs every configuration on one binary, then on the other
    (alternating which goes first); the display's part is taken within a
    round, against that round's floor of the same binary."""
    log("P1 idle: %d configurations, %d rounds of %ds each"
        % (len(P1_CONFIGS), args.rounds, args.idle_seconds))

    def one(who, r):
        ctx = Ctx(args.logdir, args.guest, args.binary[who])
        res = {}
        for name, dev, mode, spice in P1_CONFIGS:
            x = idle_once(ctx, "idle-%s-%s-%s-%d" % (
                who, dev[1][:3] if dev else "none", mode, r), dev, mode,
                spice, args.settle, args.idle_seconds)
            log("  %s, %s: main %.2f%% (%.0f wakeups/s), worker %.2f%%, "
                "vcpu %.2f%%, %d client updates"
                % (who, name, x["main"], x["main_wakeups"], x["worker"],
                   x["vcpu"], x["updates"]))
            res[name] = x
        floor = res[P1_CONFIGS[-1][0]]
        for name in res:
            res[name]["part"] = res[name]["main"] - floor["main"]
            res[name]["part_wakeups"] = (res[name]["main_wakeups"]
                                         - floor["main_wakeups"])
        return res
    got = alternate(args.rounds, one)

    def runs(who, name, key):
        return [x[name][key] if x else None for x in got[who]]

    rows = []
    floor = P1_CONFIGS[-1][0]
    rows.append(row("P1", "floor: main thread CPU", "% core", "lower",
                    runs("ours", floor, "main"), runs("stock", floor, "main")))
    rows.append(row("P1", "floor: main thread wakeups", "/s", "lower",
                    runs("ours", floor, "main_wakeups"),
                    runs("stock", floor, "main_wakeups")))
    for name, dev, mode, spice in P1_CONFIGS[:-1]:
        rows.append(row("P1", "%s: main thread CPU" % name, "% core", "lower",
                        runs("ours", name, "main"),
                        runs("stock", name, "main")))
        rows.append(row("P1", "%s: display part of main thread CPU" % name,
                        "% core", "lower", runs("ours", name, "part"),
                        runs("stock", name, "part"), goal=("<=", 0.2),
                        note="main thread minus the floor, per round"))
        rows.append(row("P1", "%s: display part of main thread wakeups"
                        % name, "/s", "lower",
                        runs("ours", name, "part_wakeups"),
                        runs("stock", name, "part_wakeups"),
                        goal=("<=", 0.2)))
        rows.append(row("P1", "%s: SPICE worker CPU" % name, "% core",
                        "lower", runs("ours", name, "worker"),
                        runs("stock", name, "worker")))
        rows.append(row("P1", "%s: client updates while idle" % name,
                        "per %ds" % args.idle_seconds, "lower",
                        runs("ours", name, "updates"),
                        runs("stock", name, "updates")))
    return rows


# ---- P2 frames -----------------------------------------------------------

P2_CONFIGS = [
    # name, device args, driver bound line, modes
    ("qxl-vga", QXL_LIBVIRT, "GUEST: qxl bound", ["full", "small"]),
    ("-vga std (export)", STD_VGA, "GUEST: fb bound bochs-drm",
     ["full", "small"]),
]


def boot_guest(ctx, name, dev, bound, memory="256M", extra=()):
    vm = VM(ctx, name, COMMON + dev + list(extra), memory=memory)
    vm.launch()
    try:
        vm.wait_serial("GUEST: ready", 90)
        if bound not in vm.serial_text:
            raise RuntimeError("no %r in the guest's log" % bound)
        # fbcon's blinking cursor is the guest's only other drawing.
        vm.shell("echo 0 > /sys/class/graphics/fbcon/cursor_blink; "
                 "echo QUIET-$((6*7))")
        vm.wait_serial("QUIET-42", 30)
    except Exception:
        vm.shutdown()
        raise
    return vm


def wait_after(vm, mark, needle, timeout, pump):
    """Wait for needle in the serial log after offset mark."""
    deadline = time.monotonic() + timeout
    while needle not in vm.serial_text[mark:]:
        if time.monotonic() > deadline or not vm.is_running():
            raise RuntimeError("no %r from the guest: %s"
                               % (needle, vm.serial_text[-300:]))
        pump(0.05)


def frames_once(ctx, name, dev, bound, modes, warmup, seconds):
    vm = boot_guest(ctx, name, dev, bound)
    out = {}
    try:
        client = connect_client(vm)
        client.pump(1)
        pid = vm.get_pid()
        for mode in modes:
            mark = len(vm.serial_text)
            vm.shell("bench-draw %s %d" % (mode, int(warmup + seconds + 2)))
            wait_after(vm, mark, "BENCH: drawing %s" % mode, 30, client.pump)
            client.pump(warmup)
            f0, b = client.frames, threads(pid)
            t0 = time.monotonic()
            client.pump(seconds)
            a, f1 = threads(pid), client.frames
            dt = time.monotonic() - t0
            pct = cpu_between(pid, b, a, dt)
            frames = f1 - f0
            wait_after(vm, mark, "BENCH: frames", 60, client.pump)
            tail = vm.serial_text[mark:]
            line = [ln for ln in tail.splitlines()
                    if ln.startswith("BENCH: frames")][-1].split()
            out[mode] = {
                "fps": frames / dt,
                "guest_fps": int(line[2]) / float(line[4]),
                # QEMU less the vCPU thread (the guest's drawing): the
                # display stack's cost.
                "cpu_ms_per_frame": ((pct["total"] - pct["vcpu"]) / 100 * dt
                                     * 1000 / frames if frames else None),
                "cpu_pct": pct["total"],
                "vcpu_pct": pct["vcpu"],
            }
            client.pump(1)
        try:
            out["peak"] = vm.cmd("qom-get", path="/machine/peripheral/"
                                     "video0", property="x-snapshot-peak")
        except Exception:
            out["peak"] = None
        client.disconnect()
    finally:
        vm.shutdown()
    return out


def run_frames(args, log):
    rows = []
    peaks = []
    for name, dev, bound, modes in P2_CONFIGS:
        log("P2 frames: %s (%s), %d rounds of %ds" % (
            name, "/".join(modes), args.rounds, args.frame_seconds))

        def one(who, r, name=name, dev=dev, bound=bound, modes=modes):
            ctx = Ctx(args.logdir, args.guest, args.binary[who])
            res = frames_once(ctx, "frames-%s-%s-%d" % (
                who, "qxl" if "qxl" in name else "std", r), dev, bound,
                modes, args.settle, args.frame_seconds)
            log("  %s: %s" % (who, ", ".join(
                "%s %.1f fps (guest %.1f), %s ms CPU/frame" % (
                    m, res[m]["fps"], res[m]["guest_fps"],
                    "%.1f" % res[m]["cpu_ms_per_frame"]
                    if res[m]["cpu_ms_per_frame"] else "n/a")
                for m in modes)))
            return res
        g = alternate(args.rounds, one)
        if "qxl" in name:
            peaks = [x["peak"] for x in g["ours"] if x and x.get("peak")]
        for m in modes:
            label = "%s, %s" % (name, "full frames" if m == "full"
                                else "1 % updates")
            rows.append(row("P2", "%s: frames to client per s" % label, "",
                            "higher",
                            [x[m]["fps"] if x else None for x in g["ours"]],
                            [x[m]["fps"] if x else None for x in g["stock"]],
                            goal=(">=", 1.2)))
            rows.append(row("P2", "%s: QEMU CPU (less vCPU) per delivered "
                            "frame" % label,
                            "ms", "lower",
                            [x[m]["cpu_ms_per_frame"] if x else None
                             for x in g["ours"]],
                            [x[m]["cpu_ms_per_frame"] if x else None
                             for x in g["stock"]], goal=("<=", 0.8)))
            rows.append(row("P2", "%s: frames the guest drew per s" % label,
                            "", "higher",
                            [x[m]["guest_fps"] if x else None
                             for x in g["ours"]],
                            [x[m]["guest_fps"] if x else None
                             for x in g["stock"]]))
    rows.append(row("Mem", "snapshot budget peak under P2 (qxl-vga)", "KiB",
                    "lower", [p / 1024 for p in peaks], [],
                    note="ours only (x-snapshot-peak)"))
    return rows


# ---- P4 boot and memory --------------------------------------------------

def banner_seen(client):
    s = client.primaries.get(0)
    if s is None or (s.width, s.height) != (1024, 768):
        return False
    raw = s.read()
    return all(client.rgb_at(0, x, y, raw) == want
               for x, y, want in pattern.probes())


def boot_once(ctx, name):
    vm = VM(ctx, name, COMMON + QXL_LIBVIRT, memory="512M")
    t0 = time.monotonic()
    vm.launch()
    try:
        client = FrameCounter(vm.spice_uri).connect()
        client.wait_for(lambda: banner_seen(client), 90,
                        "the guest's banner")
        boot = time.monotonic() - t0
        vm.wait_serial("GUEST: ready", 30, pump=client.pump)
        client.pump(2)
        rss = rss_kib(vm.get_pid()) / 1024
        client.disconnect()
    finally:
        vm.shutdown()
    return {"boot": boot, "rss": rss}


def run_boot(args, log):
    log("P4 boot + memory: qxl-vga at libvirt's sizes, %d rounds"
        % args.rounds)

    def one(who, r):
        ctx = Ctx(args.logdir, args.guest, args.binary[who])
        res = boot_once(ctx, "boot-%s-%d" % (who, r))
        log("  %s: first frame after %.2fs, RSS %.0f MiB"
            % (who, res["boot"], res["rss"]))
        return res
    g = alternate(args.rounds, one)
    return [row("P4", "QEMU start to the banner in the client", "s", "lower",
                pick(g["ours"], "boot"), pick(g["stock"], "boot"),
                goal=("<=", 1.0)),
            row("Mem", "RSS of the booted VM (qxl-vga, libvirt sizes, "
                "512 MiB guest)", "MiB", "lower",
                pick(g["ours"], "rss"), pick(g["stock"], "rss"),
                goal=("<=", 1.0))]


# ---- migration -----------------------------------------------------------

def migrate_once(ctx, name, draw_seconds=3, timeout=90):
    src = boot_guest(ctx, name + "-src", QXL_LIBVIRT, "GUEST: qxl bound",
                     memory="512M")
    port = free_tcp_port()
    dst = VM(ctx, name + "-dst", COMMON + QXL_LIBVIRT + [
        "-incoming", "tcp:127.0.0.1:%d" % port], memory="512M")
    try:
        dst.launch()
        mark = len(src.serial_text)
        src.shell("bench-draw full 0 &")
        wait_after(src, mark, "BENCH: drawing full", 30, time.sleep)
        time.sleep(draw_seconds)
        src.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 30})
        src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        deadline = time.monotonic() + timeout
        while True:
            info = src.cmd("query-migrate")
            st = info.get("status")
            if st == "completed":
                break
            if st in ("failed", "cancelled") or time.monotonic() > deadline:
                src.cmd("migrate_cancel")
                raise RuntimeError("migration %s" % st)
            time.sleep(0.1)
        return {"downtime": info.get("downtime"),
                "total": info.get("total-time"),
                "mib": info.get("ram", {}).get("transferred", 0) / 2**20}
    finally:
        dst.shutdown()
        src.shutdown()


def run_migration(args, log):
    # Downtime varies the most (when the last pass falls): more rounds.
    rounds = args.rounds if args.quick else args.rounds + 2
    log("Migration: a VM drawing full frames, %d rounds" % rounds)

    def one(who, r):
        ctx = Ctx(args.logdir, args.guest, args.binary[who])
        res = migrate_once(ctx, "migrate-%s-%d" % (who, r))
        log("  %s: downtime %s ms, total %s ms, %.0f MiB"
            % (who, res["downtime"], res["total"], res["mib"]))
        return res
    g = alternate(rounds, one)
    return [row("Mig", "downtime, VM drawing at full speed", "ms", "lower",
                pick(g["ours"], "downtime"), pick(g["stock"], "downtime"),
                goal=("<=", 1.0)),
            row("Mig", "total migration time", "ms", "lower",
                pick(g["ours"], "total"), pick(g["stock"], "total")),
            row("Mig", "data sent", "MiB", "lower",
                pick(g["ours"], "mib"), pick(g["stock"], "mib"))]
