"""Start our qemu-system-x86_64 with the test guest and talk to it.

One VM per test: its serial port (the guest's log and a root shell) is a
Unix socket read by one thread, QMP is a second socket, everything is logged
under the test's log directory, and the process is killed when the test ends.
"""
import json
import os
import socket
import subprocess
import threading
import time


def free_tcp_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect_unix(path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class QMP:
    """A minimal QMP client: one command at a time, events are kept."""

    def __init__(self, path, deadline):
        self.sock = _connect_unix(path, deadline)
        self.file = self.sock.makefile("rw")
        self.events = []
        json.loads(self.file.readline())          # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QMP connection closed during %s" % name)
            reply = json.loads(line)
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError("QMP %s failed: %s" % (name, reply["error"]))
            return reply["return"]

    def hmp(self, command):
        return self.cmd("human-monitor-command", **{"command-line": command})

    def close(self):
        self.sock.close()


class VM:
    # Lossless, uncompressed SPICE output: tests compare pixels exactly.
    TEST_SPICE_OPTS = ("image-compression=off,jpeg-wan-compression=never,"
                       "zlib-glz-wan-compression=never,streaming-video=off")

    def __init__(self, ctx, name, extra_args, spice=True, memory="512M",
                 spice_port=None, spice_opts=TEST_SPICE_OPTS, guest_dir=None,
                 append="", qemu_binary=None):
        self.ctx = ctx
        # Another QEMU than ours (stock QEMU as a migration peer).
        self.qemu_binary = qemu_binary or ctx.qemu_binary
        self.logdir = ctx.logdir(name)
        self.spice_port = (spice_port or free_tcp_port()) if spice else None
        self.serial_path = os.path.join(self.logdir, "serial.sock")
        self.qmp_path = os.path.join(self.logdir, "qmp.sock")
        for p in (self.serial_path, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        guest = guest_dir or ctx.guest_dir
        self.args = [
            self.qemu_binary,
            "-machine", "q35", "-m", memory, "-smp", "1", "-nodefaults",
            "-kernel", os.path.join(guest, "vmlinux"),
            "-initrd", os.path.join(guest, "initrd.gz"),
            "-append", "console=ttyS0 quiet consoleblank=0 " + append,
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % self.serial_path,
            "-serial", "chardev:ser0",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-net", "none",
            # A real guest driver must never be taken for a hostile guest:
            # guest bugs go to qemu.stderr, and stop() fails on any.
            "-d", "guest_errors",
        ]
        if spice:
            opts = "port=%d,addr=127.0.0.1,disable-ticketing=on" % self.spice_port
            self.args += ["-spice", opts + ("," + spice_opts if spice_opts else "")]
        self.args += list(extra_args)
        self.serial_text = ""
        self._serial_lock = threading.Lock()
        self.proc = None
        self.qmp = None

    def start(self, timeout=20):
        with open(os.path.join(self.logdir, "cmdline"), "w") as f:
            f.write(" ".join(self.args) + "\n")
        self.stderr = open(os.path.join(self.logdir, "qemu.stderr"), "w")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            self.serial = _connect_unix(self.serial_path, deadline)
            self.qmp = QMP(self.qmp_path, deadline)
        except OSError:
            raise AssertionError("QEMU did not start; see %s/qemu.stderr"
                                 % self.logdir) from None
        self._serial_log = open(os.path.join(self.logdir, "serial.log"), "w")
        threading.Thread(target=self._read_serial, daemon=True).start()
        return self

    def _read_serial(self):
        while True:
            try:
                data = self.serial.recv(4096)
            except OSError:
                return
            if not data:
                return
            text = data.decode("utf-8", "replace")
            with self._serial_lock:
                self.serial_text += text
            self._serial_log.write(text)
            self._serial_log.flush()

    def wait_serial(self, needle, timeout, pump=None):
        """Wait until the serial log contains needle; pump() runs meanwhile
        (e.g. a SPICE client's main loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._serial_lock:
                if needle in self.serial_text:
                    return
            if self.proc.poll() is not None:
                raise AssertionError("QEMU exited (status %d) while waiting for %r;"
                                     " see %s" % (self.proc.returncode, needle, self.logdir))
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError("no %r on the guest's serial port after %ds; see %s/serial.log"
                             % (needle, timeout, self.logdir))

    def wait_serial_any(self, needles, timeout, pump=None):
        """Wait until the serial log contains one of needles; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._serial_lock:
                for n in needles:
                    if n in self.serial_text:
                        return n
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError("none of %r on the guest's serial port after %ds; "
                             "see %s/serial.log" % (needles, timeout, self.logdir))

    def shell(self, command):
        """Type a command into the guest's serial shell."""
        self.serial.sendall((command + "\n").encode())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                if self.qmp:
                    self.qmp.cmd("quit")
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()
        if self.qmp:
            self.qmp.close()

    def guest_errors(self):
        """Lines QEMU logged about guest errors (-d guest_errors)."""
        path = os.path.join(self.logdir, "qemu.stderr")
        if not os.path.exists(path):
            return []
        with open(path, errors="replace") as f:
            return [l.rstrip() for l in f if "guest bug" in l]

    def assert_no_guest_errors(self):
        errors = self.guest_errors()
        if errors:
            raise AssertionError("the device saw a guest bug from a real "
                                 "driver: %s; see %s/qemu.stderr"
                                 % (errors[0], self.logdir))

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            self.assert_no_guest_errors()
