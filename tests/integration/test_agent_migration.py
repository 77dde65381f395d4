"""The agent over the VDI port while the VM moves (issue 10).

The agent guest runs Xorg on its qxl driver and Debian's spice-vdagent on
the VDI port (contrib/vdi-port-bridge).  The guest puts a large text on
its clipboard; a spice-gtk client, which follows the VM from one of our
QEMUs to another (seamless migration), asks for it, and the VM moves
while the guest's agent is streaming it through the VDI port's rings.
The client must receive every byte exactly once.  The X cursor and the
picture survive for a new client on the destination."""
import hashlib
import os
import re
import subprocess
import time

from spice_client import SpiceProbe
from test_agent import agent_guest
from test_migration_follow import FOLLOW_OPTS, _hop
from xorg_guest import watch_cursor_shapes
from vm import VM

# Big enough that its trip through the VDI port outlasts a migration.
LINES = 6000000
STREAM = "".join("%d\n" % i for i in range(1, LINES + 1)).encode()


def _qemu_img(ctx):
    path = os.path.join(ctx.build, "qemu", "qemu-img")
    if not os.access(path, os.X_OK):
        raise ctx.Skip("no qemu-img (ninja -C build/qemu qemu-img)")
    return path


def _to_spice(vm):
    """(reads, bytes) spice-server has taken from the VDI port so far."""
    with open(os.path.join(vm.logdir, "qemu.stderr"), errors="replace") as f:
        got = [int(n) for n in re.findall(r"vdi_port_to_spice .* got (\d+);",
                                          f.read())]
    return len(got), sum(got)


def test_vdi_port_agent_migration(ctx):
    name = "test_vdi_port_agent_migration"
    guest = agent_guest(ctx)
    logdir = ctx.logdir(name)
    # Shared storage: one overlay over the guest's root file system.
    disk = os.path.join(logdir, "rootfs.qcow2")
    if os.path.exists(disk):
        os.unlink(disk)
    subprocess.run([_qemu_img(ctx), "create", "-q", "-f", "qcow2", "-F", "raw",
                    "-b", os.path.join(guest, "rootfs.ext4"), disk], check=True)
    args = ["-device", "vdi-port", "-vga", "qxl",
            "-drive", "file=%s,if=virtio,format=qcow2" % disk,
            "-trace", "vdi_port_to_spice", "-trace", "vdi_port_resume*"]
    kw = {"memory": "768M", "guest_dir": guest, "spice_opts": FOLLOW_OPTS,
          "append": "agent=vdi xdriver=qxl"}
    src = VM(ctx, name + "_src", args, **kw)
    dst = VM(ctx, name + "_dst", args + ["-incoming", "defer"], **kw)
    with src, dst:
        client = SpiceProbe("127.0.0.1", src.spice_port).connect()
        try:
            src.wait_serial("GUEST: ready", 180, pump=client.pump)
            client.wait_for(lambda: client.agent_connected, 60,
                            "the agent connected over the VDI port")
            # The session agent, which watches X's clipboard, is up.
            src.wait_serial("received version", 60, pump=client.pump)
            src.shell("DISPLAY=:0 xsetroot -cursor_name left_ptr; "
                      "echo CURSOR-SET")
            src.wait_serial("CURSOR-SET", 30, pump=client.pump)

            # The guest grabs the clipboard; the client asks for the text
            # at once, and the agent starts streaming it.
            reads = _to_spice(src)[0]
            src.shell("seq 1 %d | DISPLAY=:0 xclip -i -selection clipboard"
                      % LINES)
            deadline = time.monotonic() + 60
            while _to_spice(src)[0] < reads + 200:
                assert time.monotonic() < deadline, \
                    "the agent's stream did not start on the VDI port"
                client.pump(0.1)
            assert client.clipboard_received is None, \
                "the whole stream went through before the move: make it longer"
            # Switch over after the first pass, seconds before the stream
            # can end.
            src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": 5000})
            t0 = time.monotonic()
            src_bytes = _to_spice(src)[1]
            _hop(src, dst, client)
            hop_time = time.monotonic() - t0
            info = src.qmp.cmd("query-migrate")
            src.stop()
            client.wait_for(lambda: client.clipboard_received is not None, 120,
                            "the guest's clipboard (%d bytes) after the move"
                            % len(STREAM))
            got = client.clipboard_received
            done_time = time.monotonic() - t0
            assert got == STREAM, \
                "the client got %d bytes (md5 %s), the guest sent %d (md5 %s)" \
                % (len(got), hashlib.md5(got).hexdigest(), len(STREAM),
                   hashlib.md5(STREAM).hexdigest())
            # The stream crossed the move: the destination's VDI port
            # carried the rest of it.
            moved = _to_spice(dst)[1]
            with open(os.path.join(dst.logdir, "hop.txt"), "w") as f:
                f.write("hop %.1fs, %d bytes before it, clipboard after %.1fs;"
                        " %s\n" % (hop_time, src_bytes, done_time, info))
            assert moved > 0, "the stream ended before the migration did"
            with open(os.path.join(dst.logdir, "stream.txt"), "w") as f:
                f.write("%d of %d bytes through the source's port, %d "
                        "through the destination's\n"
                        % (_to_spice(src)[1], len(STREAM), moved))
        finally:
            client.disconnect()

        # A new client on the destination gets the X cursor and the
        # picture: they were given back to spice-server after the move.
        client = SpiceProbe("127.0.0.1", dst.spice_port)
        shapes = watch_cursor_shapes(client)
        client.connect()
        try:
            client.wait_for(lambda: any(w > 0 and h > 0 for w, h in shapes),
                            60, "the X cursor on the destination")
            client.wait_for(lambda: 0 in client.primaries, 30, "a primary")
            client.pump(1)
            client.save_png(0, os.path.join(dst.logdir, "capture.png"))
            s = client.primaries[0]
            assert (s.width, s.height) == (1024, 768), \
                "the destination shows %dx%d" % (s.width, s.height)
            client.wait_for(lambda: client.agent_connected, 60,
                            "the agent on the destination")
        finally:
            client.disconnect()


test_vdi_port_agent_migration.timeout = 600
