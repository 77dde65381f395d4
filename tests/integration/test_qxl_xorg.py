"""Xorg's own qxl driver (xserver-xorg-video-qxl) draws through the
device's command checks to a spice-gtk client, in both of its modes: KMS
(on the Linux qxl DRM driver, what a distribution runs) and UMS (the kernel
driver kept out; Xorg's driver programs the device itself and keeps its
pixmaps in device surfaces).

In the agent guest the X client tests/guest/xdraw.c draws a known scene:
with core X11 requests fills, a 32-bit XPutImage, XCopyArea within the
window (once onto itself) and from a Pixmap, a 1-bit Pixmap through
XCopyPlane and as an opaque stipple, core-font text (XDrawString,
XDrawImageString) and lines (XDrawLine, XDrawLines, XDrawRectangle; width 0
and wider; solid, on-off and double dashed); with Render an ARGB image
over the window, a colour through an A8 mask and A8 glyphs.  The driver
turns them into QXL commands: fills, bitmap uploads, copies (in UMS also
from surfaces), COPY_BITS and, in UMS, composites; core text and lines it
renders itself and uploads, it never sends TEXT or STROKE.  Every command
is copied and checked by the device before spice-server sees it.  The
client must then show:

- exactly the expected pixels everywhere outside the text and the lines
  (background, fills, the image, the copies, the 1-bit planes), and the
  Render results within 2 per channel of pixman's;
- in a line's box: its colour along it (all along it for thin lines, its
  whole core for wide ones, dashes of about the right length), nothing
  else far from it;
- in a text's box: each non-blank character has foreground pixels in its
  cell, nothing but foreground or background there (XDrawImageString: its
  whole box is foreground or its background colour);

in UMS no Render composite may have fallen back to software, and QEMU must
stay up with no guest bug logged (vm.py checks qemu.log).
"""
import array
import math
import os
import re
import time

import pytest

from spice_client import SpiceProbe
from xorg_guest import guest_numbers, qxl_agent_vm

# The scene of tests/guest/xdraw.c (same names, same numbers).
WIN_W, WIN_H = 720, 520
BG = 0x203040
FILL1, FILL2 = 0xc03020, 0x30d0a0
PIX_BG, PIX_FILL = 0x8040c0, 0xe0e0e0
PLANE_FG, PLANE_BG = 0xf0f000, 0x0000c0
STIP_FG, STIP_BG = 0x10a010, 0xa01010
TEXT_FG = 0xffff00
ITEXT_FG, ITEXT_BG = 0x00ff80, 0x4000a0
LINE0, LINE_WIDE = 0xff4040, 0x40ff40
POLY0, POLY3 = 0x4080ff, 0xffa0ff
RECT0, RECT5 = 0xffffff, 0x00ffff
DASH0 = 0xffc000
DDASH_FG, DDASH_BG = 0xff00ff, 0x00c0c0
MARKER = 0x12ab34
IMG_W, IMG_H = 64, 48
PIXMAP_W, PIXMAP_H = 96, 64
BITMAP_W, BITMAP_H = 48, 32
MARKER_RECT = (WIN_W - 30, WIN_H - 30, 20, 20)
RENDER_BG = 0x305070
MASK_SRC, GLYPH_SRC = 0xffff8000, 0xff40e0c0
ARGB_W, ARGB_H = 64, 32
GLYPH_W, GLYPH_H, GLYPH_ADVANCE = 12, 16, 14
# Render results may differ from pixman's own rounding by this much a
# channel (a driver or spice-server may composite in steps).
RENDER_TOLERANCE = 2


def pattern(x, y):
    return (((x * 4) & 0xff) << 16) | (((y * 5) & 0xff) << 8) | (((x ^ y) * 3) & 0xff)


def bit(x, y):
    return (x * 7 + y * 3) % 5 < 2 or x == y


def argb(x, y):
    a = (x * 4) & 0xff
    return (a << 24) | (a << 16) | ((a * y // 31) << 8) | (a // 2)


def mask_alpha(x, y):
    return (x * 4 + y * 2) % 256


def glyph_alpha(i, x, y):
    return ((x + i * 5) * 20 + y * 7) % 256 if (x + y + i) % 3 else 0


def mul_un8(a, b):
    """pixman's a * b / 255, rounded."""
    t = a * b + 0x80
    return ((t >> 8) + t) >> 8


def over(src, alpha, dst):
    """Premultiplied src (0xAARRGGBB) IN alpha, OVER an opaque dst."""
    s = [mul_un8((src >> sh) & 0xff, alpha) for sh in (24, 16, 8, 0)]
    return sum((s[i] + mul_un8((dst >> sh) & 0xff, 255 - s[0])) << sh
               for i, sh in ((1, 16), (2, 8), (3, 0)))


# ---- the exact part: everything but text and lines -------------------------

class Canvas:
    def __init__(self, w, h, colour):
        self.w, self.h = w, h
        self.px = [colour] * (w * h)
        self.tolerance = bytearray(w * h)

    def fill(self, x, y, w, h, colour):
        for yy in range(y, y + h):
            self.px[yy * self.w + x: yy * self.w + x + w] = [colour] * w

    def put(self, x, y, w, h, fn):
        for yy in range(h):
            for xx in range(w):
                self.px[(y + yy) * self.w + x + xx] = fn(xx, yy)

    def composite(self, x, y, w, h, fn):
        """fn(x, y, dst) of each pixel; its result only near pixman's."""
        for yy in range(h):
            for xx in range(w):
                i = (y + yy) * self.w + x + xx
                self.px[i] = fn(xx, yy, self.px[i])
                self.tolerance[i] = RENDER_TOLERANCE

    def copy_from(self, src, sx, sy, w, h, dx, dy):
        block = [src.px[(sy + yy) * src.w + sx: (sy + yy) * src.w + sx + w]
                 for yy in range(h)]
        for yy in range(h):
            self.px[(dy + yy) * self.w + dx: (dy + yy) * self.w + dx + w] = block[yy]


def exact_scene():
    c = Canvas(WIN_W, WIN_H, BG)
    c.fill(20, 20, 100, 60, FILL1)
    c.fill(30, 30, 20, 20, FILL2)
    c.put(140, 20, IMG_W, IMG_H, pattern)
    c.copy_from(c, 140, 20, IMG_W, IMG_H, 220, 20)
    c.copy_from(c, 220, 20, IMG_W, IMG_H, 226, 26)
    pm = Canvas(PIXMAP_W, PIXMAP_H, PIX_BG)
    pm.fill(10, 10, 30, 20, PIX_FILL)
    pm.put(50, 30, 32, 24, pattern)
    c.copy_from(pm, 0, 0, PIXMAP_W, PIXMAP_H, 310, 20)
    c.copy_from(pm, 40, 20, 56, 44, 420, 20)
    c.put(490, 20, BITMAP_W, BITMAP_H,
          lambda x, y: PLANE_FG if bit(x, y) else PLANE_BG)
    c.put(550, 20, 100, 40,
          lambda x, y: STIP_FG if bit(x % BITMAP_W, y % BITMAP_H) else STIP_BG)
    c.fill(20, 400, ARGB_W, ARGB_H, RENDER_BG)
    c.fill(100, 400, ARGB_W, ARGB_H, RENDER_BG)
    c.fill(180, 400, 3 * GLYPH_ADVANCE, GLYPH_H, RENDER_BG)
    c.composite(20, 400, ARGB_W, ARGB_H, lambda x, y, d: over(argb(x, y), 255, d))
    c.composite(100, 400, ARGB_W, ARGB_H,
                lambda x, y, d: over(MASK_SRC, mask_alpha(x, y), d))
    c.composite(180, 400, 3 * GLYPH_ADVANCE, GLYPH_H,
                lambda x, y, d: over(GLYPH_SRC, glyph_alpha(
                    x // GLYPH_ADVANCE, x % GLYPH_ADVANCE, y)
                    if x % GLYPH_ADVANCE < GLYPH_W else 0, d))
    c.fill(*MARKER_RECT, MARKER)
    return c


# ---- the loose part: text and lines ------------------------------------------

def seg_distance(px, py, x0, y0, x1, y1):
    """Distance of (px, py) from the segment, and where along it (0..1)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = ((px - x0) * dx + (py - y0) * dy) / length2
    tc = min(1.0, max(0.0, t))
    return math.hypot(px - (x0 + tc * dx), py - (y0 + tc * dy)), t


class Lines:
    """Connected segments drawn with one GC.  X puts pixel centres on
    integer coordinates; a wide line covers width/2 either side of its
    spine, a thin one the pixels nearest it."""

    def __init__(self, name, points, width, fg, bg2=None, dashes=None):
        self.name, self.points, self.width = name, points, width
        self.fg, self.bg2, self.dashes = fg, bg2, dashes
        self.segs = list(zip(points, points[1:]))
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        grow = int(width / 2 + 2)
        self.box = (min(xs) - grow, min(ys) - grow, max(xs) + grow + 1,
                    max(ys) + grow + 1)

    def check(self, pix, problems):
        colours = {self.fg} | ({self.bg2} if self.bg2 is not None else set())
        half = self.width / 2
        x0, y0, x1, y1 = self.box
        seen = {c: 0 for c in colours}
        bad_far = bad_core = 0
        first = []
        for y in range(y0, y1):
            for x in range(x0, x1):
                p = pix(x, y)
                dists = [seg_distance(x, y, *a, *b) for a, b in self.segs]
                d = min(dd for dd, _ in dists)
                core = self.width >= 3 and any(
                    dd <= half - 1 and 1 / math.dist(a, b) <= t <= 1 - 1 / math.dist(a, b)
                    for (dd, t), (a, b) in zip(dists, self.segs))
                if p in seen:
                    seen[p] += 1
                if d > half + 1.5:
                    if p != BG:
                        bad_far += 1
                        first.append("(%d,%d)=%06x far from it" % (x, y, p))
                elif core and p not in colours:
                    bad_core += 1
                    first.append("(%d,%d)=%06x inside it" % (x, y, p))
                elif p not in colours and p != BG:
                    bad_far += 1
                    first.append("(%d,%d)=%06x on its edge" % (x, y, p))
        if bad_far or bad_core:
            problems.append("%s: %d pixels of another colour near it, %d "
                            "missing inside it; first %s" % (
                                self.name, bad_far, bad_core, first[:4]))
        for c, n in seen.items():
            if n == 0:
                problems.append("%s: no pixel of colour %06x" % (self.name, c))
        if self.width == 0:
            self.check_thin(pix, problems)

    def check_thin(self, pix, problems):
        """Along a thin line, each step of its major axis has its colour
        within a pixel of the spine (dashes: runs of about the dash)."""
        for (ax, ay), (bx, by) in self.segs:
            steps = max(abs(bx - ax), abs(by - ay))
            run = []
            for i in range(1, steps):
                cx = round(ax + (bx - ax) * i / steps)
                cy = round(ay + (by - ay) * i / steps)
                if abs(bx - ax) >= abs(by - ay):
                    near = [pix(cx, y) for y in (cy - 1, cy, cy + 1)]
                else:
                    near = [pix(x, cy) for x in (cx - 1, cx, cx + 1)]
                run.append(self.fg in near)
            if not self.dashes:
                missing = [i for i, ok in enumerate(run, 1) if not ok]
                if missing:
                    problems.append("%s: segment (%d,%d)-(%d,%d) has no pixel of "
                                    "its colour at step(s) %s" % (
                                        self.name, ax, ay, bx, by, missing[:8]))
                continue
            # Run lengths of dash and gap, the first and last left out.
            runs = []
            for ok in run:
                if runs and runs[-1][0] == ok:
                    runs[-1][1] += 1
                else:
                    runs.append([ok, 1])
            on, off = self.dashes
            wrong = [(ok, n) for ok, n in runs[1:-1]
                     if abs(n - (on if ok else off)) > 1]
            if len(runs) < 10 or wrong:
                problems.append("%s: dashes of %s, gaps of %s pixels expected; "
                                "runs %s" % (self.name, on, off, runs))


class Text:
    """A core-font string as xdraw.c reported it."""

    def __init__(self, fields):
        (self.name, x, y, self.advance, self.ascent, self.descent, lb, rb,
         ink_asc, ink_desc, self.width) = [fields[0]] + [int(f) for f in fields[1:11]]
        self.x, self.y = x, y
        self.string = " ".join(fields[11:])
        self.image = self.name == "image"
        self.fg = ITEXT_FG if self.image else TEXT_FG
        top = y - max(self.ascent, ink_asc)
        bottom = y + max(self.descent, ink_desc)
        self.box = (x + min(0, lb), top, x + max(self.width, rb), bottom)
        # XDrawImageString fills exactly this with its background.
        self.back = (x, y - self.ascent, x + self.width, y + self.descent)

    def check(self, pix, problems):
        x0, y0, x1, y1 = self.box
        bad = []
        for y in range(y0, y1):
            for x in range(x0, x1):
                p = pix(x, y)
                bx0, by0, bx1, by1 = self.back
                in_back = bx0 <= x < bx1 and by0 <= y < by1
                if self.image and in_back:
                    ok = p in (self.fg, ITEXT_BG)
                else:
                    ok = p in (self.fg, BG)
                if not ok:
                    bad.append("(%d,%d)=%06x" % (x, y, p))
        if bad:
            problems.append("text %r: %d pixels neither its colour nor its "
                            "background, first %s" % (self.string, len(bad), bad[:4]))
        empty = []
        for i, ch in enumerate(self.string):
            if ch == " ":
                continue
            cx = self.x + i * self.advance
            if not any(pix(x, y) == self.fg
                       for y in range(self.y - self.ascent, self.y + self.descent)
                       for x in range(cx, cx + self.advance)):
                empty.append("%d:%r" % (i, ch))
        if empty:
            problems.append("text %r: no pixel of its colour in the cell of "
                            "character(s) %s" % (self.string, ", ".join(empty)))


def loose_elements(texts):
    return texts + [
        Lines("XDrawLine width 0", [(20, 220), (180, 280)], 0, LINE0),
        Lines("XDrawLine width 6", [(200, 220), (340, 280)], 6, LINE_WIDE),
        Lines("XDrawLines width 0",
              [(360, 220), (420, 280), (480, 220), (540, 280)], 0, POLY0),
        Lines("XDrawLines width 3",
              [(560, 220), (700, 220), (700, 280), (560, 280)], 3, POLY3),
        Lines("XDrawRectangle width 0",
              [(20, 300), (140, 300), (140, 360), (20, 360), (20, 300)], 0, RECT0),
        Lines("XDrawRectangle width 5",
              [(160, 300), (280, 300), (280, 360), (160, 360), (160, 300)], 5, RECT5),
        Lines("on-off dashed line width 0", [(300, 320), (500, 320)], 0, DASH0,
              dashes=(6, 4)),
        Lines("double dashed line width 3", [(300, 340), (500, 370)], 3,
              DDASH_FG, bg2=DDASH_BG),
    ]


def check_scene(pixels, texts, exact=None):
    """Problems with the window's pixels (0xRRGGBB, row by row); [] if
    it is right."""
    exact = exact or exact_scene()
    elements = loose_elements(texts)

    def pix(x, y):
        return pixels[y * WIN_W + x]

    problems = []
    loose = bytearray(WIN_W * WIN_H)
    for e in elements:
        x0, y0, x1, y1 = e.box
        for y in range(y0, y1):
            loose[y * WIN_W + x0: y * WIN_W + x1] = b"\1" * (x1 - x0)
        e.check(pix, problems)
    want, tolerance = exact.px, exact.tolerance
    wrong = [i for i in range(WIN_W * WIN_H)
             if not loose[i] and pixels[i] != want[i] and (
                 not tolerance[i] or max(
                     abs(((pixels[i] >> sh) & 0xff) - ((want[i] >> sh) & 0xff))
                     for sh in (16, 8, 0)) > tolerance[i])]
    if wrong:
        problems.insert(0, "%d pixels outside text and lines differ, first %s" % (
            len(wrong), ["(%d,%d)=%06x not %06x" % (i % WIN_W, i // WIN_W,
                                                   pixels[i], want[i])
                         for i in wrong[:6]]))
    return problems


def window_pixels(client):
    s = client.primaries[0]
    raw = s.read()
    out = array.array("I")
    for y in range(WIN_H):
        out.frombytes(raw[y * s.stride: y * s.stride + WIN_W * 4])
    return [p & 0xffffff for p in out]


def parse_texts(serial):
    texts = {}
    for line in serial.splitlines():
        if line.startswith("XDRAW: text "):
            fields = line.strip().split(" ")[2:]
            texts[fields[0]] = Text(fields)
    return list(texts.values())


# ---- the tests ---------------------------------------------------------------

# QXLCommand types, as the device traces them.
CMD_NAMES = {1: "draw", 2: "update", 3: "cursor", 4: "message", 5: "surface"}


def command_counts(log):
    """Commands the device took from each ring, by type, from its trace."""
    counts = {}
    for m in re.finditer(r"qxl_ring_command \S+ cursor ring (\d) type (\d+)",
                         log):
        key = ("cursor " if m.group(1) == "1" else "") + \
            CMD_NAMES.get(int(m.group(2)), m.group(2))
        counts[key] = counts.get(key, 0) + 1
    return counts


def run_scene(new_vm, agent_guest_dir, kms):
    """Boot the agent guest with Xorg on its qxl driver, in KMS mode (on the
    kernel's qxl DRM driver) or UMS mode (the kernel's driver kept out:
    Xorg's driver programs the device itself), draw the scene, check it."""
    append = "agent=virtio " + (
        "xdriver=qxl" if kms else "xdriver=qxl-ums module_blacklist=qxl")
    exact = exact_scene()
    with qxl_agent_vm(new_vm, agent_guest_dir,
                      ["qxl_guest_bug", "qxl_ring_command", "qxl_io_update_area"],
                      append) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            vm.wait_serial("GUEST: ready", 150, pump=client.pump)
            # Xorg runs on its qxl driver, not on modesetting, and on the
            # kernel's DRM device or not.
            qxl_lines, modeset_lines, cards = guest_numbers(
                vm, client, "XORG-DRIVER",
                ["grep -c 'qxl(0)' /var/log/Xorg.0.log",
                 "grep -c 'modeset(0)' /var/log/Xorg.0.log",
                 "ls /dev/dri 2>/dev/null | grep -c card"])
            assert qxl_lines and not modeset_lines, (
                "Xorg is not on its qxl driver (lines of qxl(0), modeset(0) in "
                "Xorg.0.log: %d, %d)" % (qxl_lines, modeset_lines))
            assert bool(cards) == kms, (
                "%d DRM devices in the guest, %s expected" % (
                    cards, "one" if kms else "none"))

            vm.shell("DISPLAY=:0 xdraw >/dev/ttyS0 2>&1 &")
            vm.wait_serial(["XDRAW: done", "XDRAW: error"], 120,
                           pump=client.pump)
            assert "XDRAW: error" not in vm.serial_text, (
                "xdraw failed; see %s/serial.log" % vm.logdir)
            texts = parse_texts(vm.serial_text)
            assert len(texts) == 2, "xdraw reported texts %s" % texts

            # The marker is drawn last; then the picture must settle on the
            # expected one.
            mx, my = MARKER_RECT[:2]
            client.wait_for(
                lambda: 0 in client.primaries and
                client.primaries[0].width >= WIN_W and
                client.primaries[0].height >= WIN_H and
                client.rgb_at(0, mx + 10, my + 10) == (0x12, 0xab, 0x34),
                120, "the scene's last drawing (the marker)")
            deadline = time.monotonic() + 20
            while True:
                problems = check_scene(window_pixels(client), texts, exact)
                if not problems or time.monotonic() > deadline:
                    break
                client.pump(1)
            client.save_png(0, os.path.join(vm.logdir, "capture.png"))
            assert not problems, "the client's picture is wrong: %s" % (
                "; ".join(problems))

            if not kms:
                # The Render composites went to the device as QXL composite
                # commands (the driver needs a client that can draw them),
                # not through a software fallback.
                composite, no_composite, fallbacks = guest_numbers(
                    vm, client, "XORG-FALLBACKS",
                    ["grep -c 'Composite fallback' /tmp/xorg.out",
                     "grep -c 'No composite' /tmp/xorg.out",
                     "grep -c 'fallback' /tmp/xorg.out"])
                assert fallbacks, (
                    "Xorg logged no fallback at all: are Render fallbacks "
                    "logged? (%d, %d, %d)" % (composite, no_composite,
                                              fallbacks))
                assert not composite and not no_composite, (
                    "Render composites fell back to software (%d composite "
                    "fallbacks, %d 'No composite'): they did not reach the "
                    "device" % (composite, no_composite))

            assert vm.is_running(), "QEMU exited"
            assert vm.status() == "running"
            counts = command_counts(vm.log_text())
            with open(os.path.join(vm.logdir, "commands.txt"), "w") as f:
                f.write("".join("%s %d\n" % kv for kv in sorted(counts.items())))
            assert counts.get("draw", 0) > 0, (
                "no draw command went through the device: %s" % counts)
        finally:
            client.disconnect()


@pytest.mark.timeout(300)
def test_qxl_xorg_kms(new_vm, agent_guest_dir):
    """Xorg's qxl driver on the kernel's qxl DRM driver (what a distribution
    runs): pixmaps in guest memory, uploads and copies as QXL commands."""
    run_scene(new_vm, agent_guest_dir, kms=True)


@pytest.mark.timeout(300)
def test_qxl_xorg_ums(new_vm, agent_guest_dir):
    """Xorg's qxl driver driving the device itself (no kernel driver):
    pixmaps as device surfaces, copies between surfaces."""
    run_scene(new_vm, agent_guest_dir, kms=False)
