"""A VM of the test guest: QEMU's own qemu.machine.QEMUMachine (QMP, the
process, its log), with what is ours: the guest's kernel, initramfs and
command line, its serial console (read into a log and into serial_text,
which the tests wait on, and a root shell), SPICE with lossless output,
and the check that the device took no real driver for a buggy guest.

SPICE listens on a loopback TCP port, not on a UNIX socket: a test's
client reads only while the test pumps it, and at a system reset or
savevm spice-server 0.15 (stock QEMU's too) waits, with QEMU's main loop,
for what it has queued to be sent; a UNIX socket's small buffer then
fills, spice-server gives up ("wait_all_sent: timeout") and that client
often gets nothing more.

Files in the VM's log folder: cmdline, qemu.log (QEMU's stdout and
stderr), serial.log.
"""
import os
import socket
import tempfile
import threading
import time

from qemu.machine import QEMUMachine
from qemu.machine.machine import AbnormalShutdown

# The SPICE agent's channel as libvirt sets it up: virtio-serial port
# com.redhat.spice.0 on our spicevmc chardev.
AGENT_ARGS = [
    "-device", "virtio-serial",
    "-chardev", "spicevmc,id=vdagent,name=vdagent",
    "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0",
]


def agent_guest_drive(agent_guest_dir):
    """The agent guest's root file system, its changes thrown away."""
    return ["-drive", "file=%s,if=virtio,format=raw,snapshot=on"
            % os.path.join(agent_guest_dir, "rootfs.ext4")]


# Lossless, uncompressed SPICE output: tests compare pixels exactly.
TEST_SPICE_OPTS = ("image-compression=off,jpeg-wan-compression=never,"
                   "zlib-glz-wan-compression=never,streaming-video=off")


def free_tcp_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VM(QEMUMachine):
    def __init__(self, binary, logdir, args, guest_dir, memory="512M",
                 append="", spice=True, spice_opts=TEST_SPICE_OPTS,
                 spice_port=None):
        """binary: the QEMU to run (ours or stock); args: the test's QEMU
        arguments; guest_dir: vmlinux and initrd.gz of the guest; spice:
        SPICE on 127.0.0.1:spice_port (default: a free port)."""
        os.makedirs(logdir, exist_ok=True)
        super().__init__(binary, name="qemu", log_dir=logdir,
                         base_temp_dir=tempfile.gettempdir())
        self.logdir = logdir
        self.log_path = os.path.join(logdir, "qemu.log")
        self.set_machine("q35")
        self.set_console()
        self.add_args(
            "-m", memory, "-smp", "1", "-nodefaults",
            "-kernel", os.path.join(guest_dir, "vmlinux"),
            "-initrd", os.path.join(guest_dir, "initrd.gz"),
            "-append", "console=ttyS0 quiet consoleblank=0 " + append,
            "-net", "none",
            # A real guest driver must never be taken for a hostile guest:
            # guest bugs go to qemu.log, and leaving `with` fails on any.
            "-d", "guest_errors")
        self._spice_opts = spice_opts
        self.spice_port = (spice_port or free_tcp_port()) if spice else None
        self.args.extend(args)
        self.serial_text = ""
        self._serial_lock = threading.Lock()
        self._events_seen = []

    # -- SPICE -----------------------------------------------------------
    @property
    def spice_uri(self):
        """Where a SPICE client connects (spice_client.SpiceProbe)."""
        return "spice://127.0.0.1:%d" % self.spice_port

    @property
    def _base_args(self):
        args = super()._base_args
        if self.spice_port:
            opts = "port=%d,addr=127.0.0.1,disable-ticketing=on" % self.spice_port
            if self._spice_opts:
                opts += "," + self._spice_opts
            args += ["-spice", opts]
        return args

    # -- process ---------------------------------------------------------
    def launch(self):
        try:
            super().launch()
        finally:
            with open(os.path.join(self.logdir, "cmdline"), "w") as f:
                f.write(" ".join(self._qemu_full_args) + "\n")
        self._serial = self.console_socket
        self._serial_log = open(os.path.join(self.logdir, "serial.log"), "w")
        threading.Thread(target=self._read_serial, args=(self._serial,),
                         daemon=True).start()
        return self

    def shutdown(self, hard=False, timeout=10):
        """Quit QEMU (killed if it does not), whatever state it is in."""
        try:
            super().shutdown(hard=hard, timeout=timeout)
        except AbnormalShutdown:
            pass

    def __enter__(self):
        return self.launch()

    def __exit__(self, exc_type, *exc):
        self.shutdown()
        if exc_type is None:
            self.assert_no_guest_errors()

    def events_seen(self, name=None):
        """The QMP events QEMU sent so far (all, or those called name)."""
        self._events_seen += self.get_qmp_events()
        return [e for e in self._events_seen if name in (None, e["event"])]

    def hmp(self, command):
        return self.cmd("human-monitor-command", command_line=command)

    def status(self):
        return self.cmd("query-status")["status"]

    def log_text(self):
        """What QEMU printed so far (qemu.log)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- serial console --------------------------------------------------
    def _read_serial(self, sock):
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                break
            if not data:
                break
            text = data.decode("utf-8", "replace")
            with self._serial_lock:
                self.serial_text += text
            self._serial_log.write(text)
            self._serial_log.flush()
        self._serial_log.close()

    def wait_serial(self, needles, timeout, pump=None):
        """Wait until the serial log contains needles (a string) or one of
        them (a list); returns the one seen.  pump(seconds) runs meanwhile
        (e.g. a SPICE client's main loop)."""
        if isinstance(needles, str):
            needles = [needles]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._serial_lock:
                for n in needles:
                    if n in self.serial_text:
                        return n
            if not self.is_running():
                raise AssertionError("QEMU exited (status %s) while waiting for "
                                     "%s; see %s" % (self.exitcode(),
                                                     " or ".join(map(repr, needles)),
                                                     self.logdir))
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError("no %s on the guest's serial port after %ds; see "
                             "%s/serial.log" % (" or ".join(map(repr, needles)),
                                                timeout, self.logdir))

    def shell(self, command):
        """Type a command into the guest's serial shell."""
        self._serial.sendall((command + "\n").encode())

    # -- guest bugs ------------------------------------------------------
    def guest_errors(self):
        """Lines QEMU logged about guest errors (-d guest_errors)."""
        return [line for line in self.log_text().splitlines()
                if "guest bug" in line]

    def assert_no_guest_errors(self):
        errors = self.guest_errors()
        if errors:
            raise AssertionError("the device saw a guest bug from a real "
                                 "driver: %s; see %s" % (errors[0], self.log_path))
