"""A test guest as a libvirt domain: its XML, its serial console, the
pictures virsh screenshot and a SPICE client see (test_libvirt.py)."""
import os
import re
import socket
import struct
import threading
import time
import zlib
from xml.sax.saxutils import escape

SERIAL_DIR = "/var/lib/libvirt/serial"      # inside a host (libvirt_hosts)


def domain_xml(name, emulator, guest_dir, *, memory_mib=512, append="",
               video=None, password=None, spice=None, agent=True, audio=True,
               disk=None, uuid=None):
    """Domain XML for the test guest (kernel + initramfs of guest_dir).

    video: attributes of <model type='qxl'/> (ram, vram, vgamem in KiB,
    heads); spice: {"image": ..., "jpeg": ..., "zlib": ..., "playback":
    ..., "streaming": ...} child elements of <graphics>; disk: a raw image,
    a virtio disk that is <transient/> (writes go to an overlay)."""
    video = video or {}
    spice = spice or {}
    model = "".join(" %s='%s'" % (k, v) for k, v in video.items())
    gattr = " passwd='%s'" % escape(password) if password else ""
    gchildren = ""
    for elem, attr in (("image", "compression"), ("jpeg", "compression"),
                       ("zlib", "compression"), ("playback", "compression"),
                       ("streaming", "mode"), ("mouse", "mode")):
        if elem in spice:
            gchildren += "<%s %s='%s'/>" % (elem, attr, spice[elem])
    devices = [
        "<emulator>%s</emulator>" % escape(emulator),
        "<serial type='unix'><source mode='bind' path='%s/%s.sock'/>"
        "<target port='0'/></serial>" % (SERIAL_DIR, name),
        "<graphics type='spice' autoport='yes'%s>%s</graphics>" % (gattr, gchildren),
        "<video><model type='qxl'%s primary='yes'/></video>" % model,
        "<controller type='usb' model='none'/>",
        "<memballoon model='none'/>",
    ]
    if agent:
        devices.append("<channel type='spicevmc'><target type='virtio' "
                       "name='com.redhat.spice.0'/></channel>")
    if audio:
        devices.append("<sound model='ich9'><audio id='1'/></sound>")
        devices.append("<audio id='1' type='spice'/>")
    if disk:
        devices.append("<disk type='file' device='disk'><driver name='qemu' "
                       "type='raw'/><source file='%s'/><target dev='vda' "
                       "bus='virtio'/><transient/></disk>" % escape(disk))
    return """<domain type='qemu'>
  <name>%(name)s</name>%(uuid)s
  <memory unit='MiB'>%(mem)d</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%(kernel)s</kernel>
    <initrd>%(initrd)s</initrd>
    <cmdline>console=ttyS0 quiet consoleblank=0 %(append)s</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    %(devices)s
  </devices>
</domain>
""" % dict(name=name, mem=memory_mib, append=escape(append),
           uuid="\n  <uuid>%s</uuid>" % uuid if uuid else "",
           kernel=escape(os.path.join(guest_dir, "vmlinux")),
           initrd=escape(os.path.join(guest_dir, "initrd.gz")),
           devices="\n    ".join(devices))


def set_emulator(xml, emulator):
    """The same domain XML with another <emulator>."""
    new, n = re.subn(r"<emulator>[^<]*</emulator>",
                     "<emulator>%s</emulator>" % escape(emulator), xml)
    assert n == 1, "no <emulator> in the domain XML"
    return new


class Serial:
    """The guest's serial console through libvirt's Unix socket: one reader
    thread, the text kept and logged; reconnect() after a migration."""

    def __init__(self, logpath):
        self.text = ""
        self.sock = None
        self._lock = threading.Lock()
        self._log = open(logpath, "a")

    def connect(self, path, timeout=20):
        if self.sock:
            self.sock.close()
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise AssertionError("no serial socket %s after %ds"
                                         % (path, timeout)) from None
                time.sleep(0.1)
        self.sock = s
        threading.Thread(target=self._read, args=(s,), daemon=True).start()
        return self

    def _read(self, s):
        while True:
            try:
                data = s.recv(4096)
            except OSError:
                return
            if not data:
                return
            text = data.decode("utf-8", "replace")
            with self._lock:
                self.text += text
            self._log.write(text)
            self._log.flush()

    def wait(self, needle, timeout, pump=None, what="the guest's serial port"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if needle in self.text:
                    return
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError("no %r on %s after %ds" % (needle, what, timeout))

    def shell(self, command):
        self.sock.sendall((command + "\n").encode())

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        self._log.close()


# -- pictures: (width, height, RGB bytes row after row) ---------------------

def read_png(path):
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what QEMU's screendump
    writes for virsh screenshot)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6) and not interlace, \
        "unexpected PNG format (depth %d, colour type %d)" % (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        prev = line
        if bpp == 4:
            rgb = bytearray(w * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            line = rgb
        out += line
    return w, h, bytes(out)


def client_picture(client, cid=0):
    """What the SPICE client shows on display cid, as (w, h, RGB)."""
    s = client.primaries.get(cid)
    if s is None:
        return None
    raw = s.read()
    out = bytearray()
    for y in range(s.height):
        line = raw[y * s.stride:y * s.stride + s.width * 4]
        px = bytearray(s.width * 3)
        px[0::3], px[1::3], px[2::3] = line[2::4], line[1::4], line[0::4]
        out += px
    return s.width, s.height, bytes(out)


def picture_differences(a, b):
    """How two pictures differ, in words, or None if they are the same."""
    if a is None or b is None:
        return "no picture"
    if a[:2] != b[:2]:
        return "size %dx%d vs %dx%d" % (a[0], a[1], b[0], b[1])
    if a[2] == b[2]:
        return None
    w = a[0]
    diff = [i // 3 for i in range(0, len(a[2]), 3) if a[2][i:i + 3] != b[2][i:i + 3]]
    first = diff[0]
    return "%d pixels differ, first at (%d,%d): %s vs %s" % (
        len(diff), first % w, first // w, tuple(a[2][first * 3:first * 3 + 3]),
        tuple(b[2][first * 3:first * 3 + 3]))


def banner_faults(picture):
    """Probe points of the guest's banner (pattern.py) the picture lacks."""
    import pattern
    if picture is None or picture[:2] != (1024, 768):
        return ["no 1024x768 picture"]
    w, _, rgb = picture
    bad = []
    for x, y, want in pattern.probes():
        got = tuple(rgb[(y * w + x) * 3:(y * w + x) * 3 + 3])
        if got != want:
            bad.append("(%d,%d) is %s, want %s" % (x, y, got, want))
    return bad
