"""A headless SPICE client built on spice-gtk's SpiceClientGLib.

It connects like remote-viewer does, follows the display channels' primary
surfaces and reads their pixels from the client's own canvas: what a user
would see.  Needs Debian's /usr/bin/python3 with python3-gi and
gir1.2-spiceclientglib-2.0.
"""
import ctypes
import struct
import time
import zlib

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib  # noqa: E402

SPICE_SURFACE_FMT_32_xRGB = 32
SPICE_SURFACE_FMT_32_ARGB = 96
VD_AGENT_CLIPBOARD_UTF8_TEXT = 1
SPICE_MOUSE_MODE_CLIENT = 2


class Surface:
    def __init__(self, fmt, width, height, stride, addr):
        self.format, self.width, self.height = fmt, width, height
        self.stride, self.addr = stride, addr

    def read(self):
        return ctypes.string_at(self.addr, self.stride * self.height)


class SpiceProbe:
    def __init__(self, host, port):
        self.session = SpiceClientGLib.Session()
        self.session.set_property("uri", "spice://%s:%d" % (host, port))
        self.session.set_property("enable-audio", False)
        self.primaries = {}          # display channel id -> Surface
        self.primary_history = []    # (channel id, width, height) as created
        self.invalidates = 0
        # Called as hook(channel id, x, y, w, h) on every display update.
        self.invalidate_hooks = []
        self.events = []             # (channel type, channel id, event)
        self.main = None
        self.agent_connected = False
        self.mouse_mode = None
        self.channels = []
        self.display_channels = []
        self.errors = []
        self.clipboard_offer = None  # bytes the client serves as clipboard
        self.clipboard_received = None  # bytes the agent sent
        GObject.Object.connect(self.session, "channel-new", self._channel_new)

    # -- signals ---------------------------------------------------------
    def _channel_new(self, session, channel):
        cid = channel.get_property("channel-id")
        self.channels.append((type(channel).__name__, cid))
        GObject.Object.connect(channel, "channel-event", self._channel_event)
        if isinstance(channel, SpiceClientGLib.MainChannel):
            self.main = channel
            GObject.Object.connect(channel, "main-agent-update", self._agent_update)
            GObject.Object.connect(channel, "main-mouse-update", self._mouse_update)
            GObject.Object.connect(channel, "main-clipboard-selection-grab",
                                   self._agent_grab)
            GObject.Object.connect(channel, "main-clipboard-selection-request",
                                   self._agent_request)
            GObject.Object.connect(channel, "main-clipboard-selection",
                                   self._agent_clipboard)
        if isinstance(channel, SpiceClientGLib.DisplayChannel):
            self.display_channels.append(channel)
            GObject.Object.connect(channel, "display-primary-create",
                                   lambda ch, fmt, w, h, stride, shmid, data:
                                   self._primary_create(cid, fmt, w, h, stride, data))
            GObject.Object.connect(channel, "display-primary-destroy",
                                   lambda ch: self.primaries.pop(cid, None))
            GObject.Object.connect(channel, "display-invalidate",
                                   lambda ch, x, y, w, h:
                                   self._invalidate(cid, x, y, w, h))
            channel.connect()

    def _channel_event(self, channel, event):
        self.events.append((type(channel).__name__,
                            channel.get_property("channel-id"), str(event)))
        if event in (SpiceClientGLib.ChannelEvent.ERROR_CONNECT,
                     SpiceClientGLib.ChannelEvent.ERROR_IO,
                     SpiceClientGLib.ChannelEvent.ERROR_LINK,
                     SpiceClientGLib.ChannelEvent.ERROR_AUTH,
                     SpiceClientGLib.ChannelEvent.ERROR_TLS):
            self.errors.append((type(channel).__name__, str(event)))

    def _primary_create(self, cid, fmt, w, h, stride, data):
        self.primaries[cid] = Surface(fmt, w, h, stride, data)
        self.primary_history.append((cid, w, h))

    def _invalidate(self, cid, x, y, w, h):
        self.invalidates += 1
        for hook in self.invalidate_hooks:
            hook(cid, x, y, w, h)

    def _agent_update(self, channel):
        self.agent_connected = channel.get_property("agent-connected")

    def _mouse_update(self, channel):
        self.mouse_mode = channel.get_property("mouse-mode")

    # The guest's clipboard changed: fetch it as text.
    def _agent_grab(self, channel, selection, types, ntypes):
        channel.clipboard_selection_request(selection, VD_AGENT_CLIPBOARD_UTF8_TEXT)
        return True

    # The guest wants the clipboard the client grabbed: serve it.
    def _agent_request(self, channel, selection, ctype):
        if self.clipboard_offer is None:
            return False
        channel.clipboard_selection_notify(selection, ctype, self.clipboard_offer)
        return True

    def _agent_clipboard(self, channel, selection, ctype, data, size):
        if isinstance(data, int):
            data = ctypes.string_at(data, size)
        self.clipboard_received = bytes(data[:size])

    # -- agent -----------------------------------------------------------
    def send_monitor_config(self, width, height):
        """Ask the guest (through the agent) for one monitor of this size."""
        self.main.update_display_enabled(0, True, False)
        self.main.update_display(0, 0, 0, width, height, False)
        if not self.main.send_monitor_config():
            raise AssertionError("spice-gtk refused to send the monitors config")

    def offer_clipboard(self, data):
        """Grab the guest's clipboard with `data` as UTF-8 text."""
        self.clipboard_offer = data
        self.main.clipboard_selection_grab(0, [VD_AGENT_CLIPBOARD_UTF8_TEXT])

    # -- driving ---------------------------------------------------------
    def connect(self):
        if not self.session.connect():
            raise AssertionError("SPICE session failed to start connecting")
        return self

    def pump(self, seconds):
        """Run the GLib main loop for about `seconds`."""
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not ctx.iteration(False):
                time.sleep(0.005)

    def wait_for(self, predicate, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return
            self.pump(0.05)
        raise AssertionError("SPICE client: %s not seen after %ds (errors: %s)"
                             % (what, timeout, self.errors or "none"))

    def disconnect(self):
        self.session.disconnect()
        self.pump(0.1)

    # -- pixels ----------------------------------------------------------
    def rgb_at(self, cid, x, y, raw=None):
        s = self.primaries[cid]
        raw = raw if raw is not None else s.read()
        b, g, r = raw[y * s.stride + x * 4: y * s.stride + x * 4 + 3]
        return (r, g, b)

    def save_png(self, cid, path):
        s = self.primaries[cid]
        raw = s.read()
        rows = bytearray()
        for y in range(s.height):
            rows.append(0)
            line = raw[y * s.stride: y * s.stride + s.width * 4]
            px = bytearray(s.width * 3)
            px[0::3] = line[2::4]
            px[1::3] = line[1::4]
            px[2::3] = line[0::4]
            rows += px
        write_png(path, s.width, s.height, bytes(rows))


def write_png(path, width, height, filtered_rows):
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(filtered_rows, 6)))
        f.write(chunk(b"IEND", b""))
