"""SPICE framebuffer export of a non-QXL console: real guest (Linux bochs
DRM driver on -vga std) + real SPICE client (spice-gtk).

The export's work is counted through its trace events, written by QEMU's
log trace backend to trace.log in the test's log directory:
    spice_fb_draw <display> +<x>+<y> <w>x<h>   one per drawable sent
    spice_fb_refresh_idle <display>            a refresh with nothing dirty
"""
import os
import re

import pytest

import pattern
from guest_display import guest_showing_banner

BOUND = "GUEST: fb bound bochs-drm"
DRAW = re.compile(r"spice_fb_draw (\d+) \+(\d+)\+(\d+) (\d+)x(\d+)$")
IDLE = re.compile(r"spice_fb_refresh_idle (\d+)$")

# The std VGA's EDID offers 1280x800 first; the banner wants 1024x768.
STD_VGA = ["-vga", "std", "-global", "VGA.xres=1024", "-global", "VGA.yres=768"]

# The pixel the one-pixel test changes: inside the banner, on its background.
PX, PY = 700, 601
NEW_RGB = (0x12, 0x34, 0x56)


class TraceLog:
    def __init__(self, logdir):
        self.path = os.path.join(logdir, "trace.log")

    def qemu_args(self):
        return ["-trace", "spice_fb_*", "-D", self.path]

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def since(self, offset):
        """(drawables as (x, y, w, h), number of idle refreshes) logged
        after offset."""
        with open(self.path) as f:
            f.seek(offset)
            lines = f.read().splitlines()
        draws, idle = [], 0
        for line in lines:
            m = DRAW.search(line)
            if m:
                draws.append(tuple(int(v) for v in m.groups()[1:]))
            elif IDLE.search(line):
                idle += 1
        return draws, idle


def quiet_guest(vm, client):
    """Stop the guest's only periodic drawing (fbcon's blinking cursor) and
    give the export time to send what that changed."""
    # $((...)) makes the marker differ from the echoed command line.
    vm.shell("echo 0 > /sys/class/graphics/fbcon/cursor_blink; echo QUIET-$((6*7))")
    vm.wait_serial("QUIET-42", 30, pump=client.pump)
    client.pump(1.0)


@pytest.mark.timeout(150)
def test_fb_export_banner_reaches_client(new_vm, logdir):
    """-vga std: the banner the guest's bochs driver shows reaches a SPICE
    client pixel-exact through the framebuffer export."""
    trace = TraceLog(logdir)
    with guest_showing_banner(new_vm, STD_VGA + trace.qemu_args(),
                              bound=BOUND) as (vm, client):
        assert (0, 1024, 768) in client.primary_history, client.primary_history
        draws, _ = trace.since(0)
        assert draws, "the client saw the banner but no spice_fb_draw was traced"



@pytest.mark.timeout(150)
def test_fb_export_idle_screen_costs_nothing(new_vm, logdir):
    """An unchanged screen makes no drawables: over 3 s of idle refreshes
    the export sends nothing."""
    trace = TraceLog(logdir)
    with guest_showing_banner(new_vm, STD_VGA + trace.qemu_args(),
                              bound=BOUND) as (vm, client):
        quiet_guest(vm, client)
        start = trace.mark()
        client.pump(3.0)
        draws, idle = trace.since(start)
        assert not draws, "idle screen produced drawables: %s" % draws[:10]
        # Refreshes run every 30 ms: proof that the export was looking.
        assert idle >= 20, "only %d idle refreshes traced in 3 s" % idle



@pytest.mark.timeout(150)
def test_fb_export_one_pixel_change(new_vm, logdir):
    """The guest changes one pixel (rewriting four whole scanlines, as
    fbdev needs): the export sends a 1x1 drawable and the client shows the
    new value, its neighbours unchanged."""
    trace = TraceLog(logdir)
    with guest_showing_banner(new_vm, STD_VGA + trace.qemu_args(),
                              bound=BOUND) as (vm, client):
        old = pattern.pixel(PX, PY - pattern.TOP)
        assert old != NEW_RGB
        assert client.rgb_at(0, PX, PY) == old
        quiet_guest(vm, client)
        start = trace.mark()

        # Rows 600..603 are block 150 of 16 KiB; the pixel is at byte
        # 4096 + 700 * 4 = 6896 of it, stored B, G, R, X.
        r, g, b = NEW_RGB
        vm.shell("dd if=/dev/fb0 of=/tmp/blk bs=16384 skip=150 count=1 2>/dev/null;"
                 " printf '\\%03o\\%03o\\%03o\\377' | dd of=/tmp/blk bs=1 seek=6896"
                 " conv=notrunc 2>/dev/null;"
                 " dd if=/tmp/blk of=/dev/fb0 bs=16384 seek=150 2>/dev/null;"
                 " echo PIXEL-$((6*7))" % (b, g, r))
        vm.wait_serial("PIXEL-42", 30, pump=client.pump)
        client.wait_for(lambda: client.rgb_at(0, PX, PY) == NEW_RGB, 10,
                        "pixel (%d,%d) = %s" % (PX, PY, NEW_RGB))
        for x, y in ((PX - 1, PY), (PX + 1, PY), (PX, PY - 1), (PX, PY + 1)):
            want = pattern.pixel(x, y - pattern.TOP)
            assert client.rgb_at(0, x, y) == want, \
                "neighbour (%d,%d) is %s, want %s" % (x, y, client.rgb_at(0, x, y), want)

        client.pump(0.5)
        draws, _ = trace.since(start)
        covering = [d for d in draws
                    if d[0] <= PX < d[0] + d[2] and d[1] <= PY < d[1] + d[3]]
        assert covering, "no drawable covers the pixel: %s" % draws[:10]
        assert covering == [(PX, PY, 1, 1)], \
            "the pixel went out as %s, not as one 1x1 drawable" % covering
        area = sum(w * h for _, _, w, h in draws)
        assert area <= 64 * 64, "%d pixels sent for a one-pixel change: %s" % (area, draws[:10])

