"""The build under test: where its binaries, guests and logs are, and the
QEMU source tree it was configured with (./configure writes QEMU_SRC to
BUILD/config.mk), whose Python library (qemu.machine, qemu.qmp) starts
and drives our VMs."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BuildTree:
    def __init__(self, path):
        self.dir = os.path.abspath(path)
        self.qemu = os.path.join(self.dir, "qemu-system-x86_64")
        self.qemu_img = os.path.join(self.dir, "qemu", "qemu-img")
        self.qtest_dir = os.path.join(self.dir, "qemu", "tests", "qtest")
        self.guest = os.path.join(self.dir, "guest")
        self.agent_guest = os.path.join(self.dir, "agent-guest")
        self.logroot = os.path.join(self.dir, "test-logs")
        self.config = {}
        try:
            with open(os.path.join(self.dir, "config.mk")) as f:
                for line in f:
                    name, sep, value = line.partition(":=")
                    if sep and not line.startswith("#"):
                        self.config[name.strip()] = value.strip()
        except OSError:
            pass
        self.qemu_src = self.config.get("QEMU_SRC", "")

    def use_qemu_python(self):
        """Make QEMU's python/ folder importable (qemu.machine, qemu.qmp)."""
        path = os.path.join(self.qemu_src, "python")
        if not os.path.isdir(os.path.join(path, "qemu", "machine")):
            raise RuntimeError("no QEMU source tree with python/qemu/machine "
                               "for %s (QEMU_SRC in its config.mk: %r); run "
                               "./configure" % (self.dir, self.qemu_src))
        if path not in sys.path:
            sys.path.insert(0, path)
