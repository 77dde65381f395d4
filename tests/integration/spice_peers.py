"""Helpers of the SPICE binding tests (test_spice_*.py): QEMU without a
guest (firmware only), run by our binary or stock's, and a SPICE client
with the session settings those tests need (password, TLS, a Unix socket).

A QEMU here boots nothing: SeaBIOS draws its text screen on -vga std and
then waits, which is all a SPICE session needs to show a display.
"""
import json
import os
import queue
import socket
import subprocess
import threading
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GObject, SpiceClientGLib  # noqa: E402

from spice_client import SpiceProbe  # noqa: E402
from vm import free_tcp_port  # noqa: E402

SPICE_CHANNEL_MAIN = 1
SPICE_CHANNEL_DISPLAY = 2
SPICE_CHANNEL_INPUTS = 3
SPICE_CHANNEL_CURSOR = 4


class QMP:
    """A QMP client whose events arrive while nobody asks (a reader
    thread), so that a test can wait for them."""

    def __init__(self, path, deadline):
        while True:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        self.lock = threading.Lock()
        self.events = []
        self.replies = queue.Queue()
        json.loads(self.file.readline())          # greeting
        threading.Thread(target=self._read, daemon=True).start()
        self.cmd("qmp_capabilities")

    def _read(self):
        try:
            for line in self.file:
                msg = json.loads(line)
                if "event" in msg:
                    with self.lock:
                        self.events.append(msg)
                else:
                    self.replies.put(msg)
        except (OSError, ValueError):
            pass                        # QEMU quit or the socket closed
        self.replies.put(None)

    def cmd(self, name, **args):
        return self.cmd_reply(name, **args)["return"]

    def cmd_reply(self, name, **args):
        """The whole reply: {"return": ...} or {"error": ...}."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        reply = self.replies.get(timeout=30)
        if reply is None:
            raise RuntimeError("QMP connection closed during %s" % name)
        if "error" in reply and not getattr(self, "_want_error", False):
            raise RuntimeError("QMP %s failed: %s" % (name, reply["error"]))
        return reply

    def cmd_fds(self, name, fds, **args):
        """A command with file descriptors (SCM_RIGHTS), e.g. getfd."""
        msg = {"execute": name, "arguments": args}
        self.file.flush()
        socket.send_fds(self.sock, [(json.dumps(msg) + "\n").encode()],
                        fds)
        reply = self.replies.get(timeout=30)
        if reply is None or "error" in reply:
            raise RuntimeError("QMP %s failed: %s" % (name, reply))
        return reply["return"]

    def cmd_error(self, name, **args):
        """Run a command that must fail; returns its error."""
        self._want_error = True
        try:
            reply = self.cmd_reply(name, **args)
        finally:
            self._want_error = False
        assert "error" in reply, "QMP %s succeeded: %s" % (name, reply)
        return reply["error"]

    def hmp(self, command):
        return self.cmd("human-monitor-command", **{"command-line": command})

    def take_event(self, name, match=None):
        with self.lock:
            for i, ev in enumerate(self.events):
                if ev["event"] == name and (match is None or match(ev)):
                    return self.events.pop(i)
        return None

    def event_names(self):
        with self.lock:
            return [e["event"] for e in self.events]

    def close(self):
        self.sock.close()


class Qemu:
    """One QEMU process without a guest, QMP on a Unix socket."""

    def __init__(self, logdir, binary, args, machine="q35"):
        """logdir: the test's log folder (the logdir fixture)."""
        self.logdir = logdir
        self.binary = binary
        self.qmp_path = os.path.join(self.logdir, "qmp-%d.sock" % id(self))
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        self.args = [binary, "-machine", machine, "-nodefaults", "-m", "64M",
                     "-display", "none", "-net", "none",
                     "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        self.args += list(args)
        self.proc = None
        self.qmp = None
        self.stderr_path = os.path.join(
            self.logdir, "%s-%d.stderr" % (os.path.basename(binary), id(self)))

    def start(self, timeout=20):
        with open(os.path.join(self.logdir, "cmdline"), "a") as f:
            f.write(" ".join(self.args) + "\n")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr,
                                     stderr=subprocess.STDOUT)
        try:
            self.qmp = QMP(self.qmp_path, time.monotonic() + timeout)
        except OSError:
            raise AssertionError("%s did not start: %s" % (
                self.binary, self.stderr_text())) from None
        return self

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def wait_event(self, name, timeout, pump=None, match=None):
        """Wait for a QMP event and take it from the list; pump() (a SPICE
        client's main loop) runs meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.qmp.take_event(name, match)
            if ev:
                return ev
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError("no QMP event %s after %ds; have %s"
                             % (name, timeout, self.qmp.event_names()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.qmp.cmd("quit")
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()
        if self.qmp:
            self.qmp.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_to_exit(binary, args, timeout=20):
    """Run a QEMU that is expected to refuse its command line; returns
    (exit status, stderr)."""
    p = subprocess.run([binary, "-machine", "none", "-nodefaults",
                        "-display", "none"] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stderr


def client(port=None, host="127.0.0.1", uri=None, password=None,
           tls_port=None, ca_file=None, cert_subject=None):
    """A SpiceProbe, not yet connected, with these session settings."""
    if not uri:
        uri = ("spice://%s:%d" % (host, port) if port else
               "spice://%s?tls-port=%d" % (host, tls_port))
    probe = SpiceProbe(uri)
    s = probe.session
    if password is not None:
        s.set_property("password", password)
    if tls_port:
        s.set_property("tls-port", str(tls_port))
    if ca_file:
        s.set_property("ca-file", ca_file)
    if cert_subject:
        s.set_property("cert-subject", cert_subject)
    return probe


def main_channel_state(probe, timeout):
    """Connect and wait until the main channel is up or failed: returns
    "up" or the name of the error event."""
    result = {}

    def event(channel, ev):
        if ev == SpiceClientGLib.ChannelEvent.OPENED:
            result.setdefault("state", "up")
        elif ev not in (SpiceClientGLib.ChannelEvent.NONE,
                        SpiceClientGLib.ChannelEvent.CLOSED):
            result.setdefault("state", ev.value_nick)

    def new(session, channel):
        if isinstance(channel, SpiceClientGLib.MainChannel):
            GObject.Object.connect(channel, "channel-event", event)

    GObject.Object.connect(probe.session, "channel-new", new)
    probe.connect()
    probe.wait_for(lambda: "state" in result, timeout, "the main channel")
    return result["state"]


__all__ = ["Qemu", "run_to_exit", "client", "main_channel_state",
           "free_tcp_port", "SPICE_CHANNEL_MAIN", "SPICE_CHANNEL_DISPLAY",
           "SPICE_CHANNEL_INPUTS", "SPICE_CHANNEL_CURSOR"]
