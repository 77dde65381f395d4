#!/usr/bin/python3
"""The demo: boot the demo guest on our QEMU with a qxl-vga display exported
over SPICE on 127.0.0.1:5930, save what a SPICE client sees to
build/demo-screen.png, and keep running until stopped (Ctrl-C)."""
import os
import signal
import socket
import sys
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests"))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
sys.path.insert(0, os.path.join(top, "tests", "guest"))

from run import Context  # noqa: E402
from guest_display import AGENT_ARGS, banner_mismatches  # noqa: E402
from spice_client import SpiceProbe  # noqa: E402
from vm import VM  # noqa: E402

PORT = int(os.environ.get("DEMO_SPICE_PORT", "5930"))


def _stop(signum, frame):
    raise KeyboardInterrupt


def main():
    # A plain kill stops the VM too.
    signal.signal(signal.SIGTERM, _stop)
    build = os.path.join(top, "build")
    ctx = Context(build)
    ctx.logroot = build
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            sys.exit("demo: 127.0.0.1:%d is in use (another demo running?). "
                     "Stop it, or set DEMO_SPICE_PORT." % PORT)
    vm = VM(ctx, "demo", ["-vga", "qxl"] + AGENT_ARGS, spice_port=PORT, spice_opts="")
    vm.start()
    print("demo: guest booting; logs in %s" % vm.logdir)
    print("demo: connect a SPICE client:  remote-viewer spice://127.0.0.1:%d" % PORT)
    client = SpiceProbe("127.0.0.1", PORT).connect()
    try:
        vm.wait_serial("GUEST: ready", 120, pump=client.pump)
        client.wait_for(lambda: not banner_mismatches(client, 0), 30, "the banner")
        client.pump(1.0)
        out = os.path.join(build, "demo-screen.png")
        client.save_png(0, out)
        print("demo: the guest is up; what a client sees is saved in %s" % out)
    except AssertionError as e:
        print("demo: %s" % e, file=sys.stderr)
    finally:
        client.disconnect()
    print("demo: running until stopped (Ctrl-C)")
    try:
        while vm.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        vm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
