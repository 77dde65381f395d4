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

from build_tree import BuildTree  # noqa: E402

BUILD = BuildTree(os.path.join(top, "build"))
BUILD.use_qemu_python()

from guest_display import banner_mismatches  # noqa: E402
from spice_client import SpiceProbe  # noqa: E402
from vm import AGENT_ARGS, VM  # noqa: E402

PORT = int(os.environ.get("DEMO_SPICE_PORT", "5930"))


def _stop(signum, frame):
    raise KeyboardInterrupt


def main():
    # A plain kill stops the VM too.
    signal.signal(signal.SIGTERM, _stop)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            sys.exit("demo: 127.0.0.1:%d is in use (another demo running?). "
                     "Stop it, or set DEMO_SPICE_PORT." % PORT)
    vm = VM(BUILD.qemu, os.path.join(BUILD.dir, "demo"), ["-vga", "qxl"] + AGENT_ARGS,
            guest_dir=BUILD.guest, spice_port=PORT, spice_opts="")
    vm.launch()
    print("demo: guest booting; logs in %s" % vm.logdir)
    print("demo: connect a SPICE client:  remote-viewer %s" % vm.spice_uri)
    client = SpiceProbe(vm.spice_uri).connect()
    try:
        vm.wait_serial("GUEST: ready", 120, pump=client.pump)
        client.wait_for(lambda: not banner_mismatches(client, 0), 30, "the banner")
        client.pump(1.0)
        out = os.path.join(BUILD.dir, "demo-screen.png")
        client.save_png(0, out)
        print("demo: the guest is up; what a client sees is saved in %s" % out)
    except AssertionError as e:
        print("demo: %s" % e, file=sys.stderr)
    finally:
        client.disconnect()
    print("demo: running until stopped (Ctrl-C)")
    try:
        while vm.is_running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        vm.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
