"""The QXL device against real peers, beyond the basic banner test:
a secondary qxl head, local rendering (screendump without SPICE), a client
monitors config reaching the guest's driver, and VGA-mode text at boot."""
import os
import struct
import time

import pytest

import pattern
from guest_display import boot_and_capture
from spice_client import SpiceProbe
from vm import AGENT_ARGS


@pytest.mark.timeout(150)
def test_qxl_secondary_head(new_vm):
    """The qxl driver binds to both qxl-vga and a secondary qxl; the banner
    drawn on the second framebuffer reaches display channel 1."""
    serial, client = boot_and_capture(
        new_vm, ["-vga", "qxl", "-device", "qxl"] + AGENT_ARGS, cid=1,
        append="fbcon=map:01")
    bound = [l for l in serial.splitlines() if "GUEST: qxl bound" in l]
    assert len(bound) == 2, "qxl bound to %d devices: %s" % (len(bound), bound)



def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P6", "screendump is not a binary PPM"
    w, h = int(parts[1]), int(parts[2])
    return w, h, parts[4][-w * h * 3:]


@pytest.mark.timeout(150)
def test_qxl_screendump_without_spice(new_vm):
    """With VNC instead of SPICE, QEMU's screendump (local rendering of the
    primary) shows the guest's banner."""
    with new_vm(["-vga", "qxl", "-vnc", "none"], spice=False) as vm:
        vm.wait_serial("GUEST: ready", 90)
        assert "GUEST: banner drawn" in vm.serial_text
        path = os.path.join(vm.logdir, "screendump.ppm")
        deadline = time.monotonic() + 30
        while True:
            vm.cmd("screendump", filename=path)
            w, h, px = read_ppm(path)
            bad = []
            if (w, h) != (1024, 768):
                bad = ["screendump is %dx%d" % (w, h)]
            else:
                for x, y, want in pattern.probes():
                    got = tuple(px[(y * w + x) * 3:(y * w + x) * 3 + 3])
                    if got != want:
                        bad.append("(%d,%d) is %s, want %s" % (x, y, got, want))
            if not bad:
                return
            if time.monotonic() > deadline:
                raise AssertionError("screendump differs: " + "; ".join(bad[:5]))
            time.sleep(0.5)



def _octal(data):
    return "".join("\\%03o" % b for b in data)


# VDIChunkHeader (client port, 28 bytes) + VDAgentMessage (protocol 1,
# ANNOUNCE_CAPABILITIES, 8 bytes) + {request 0, caps: mouse state,
# monitors config, reply}.
ANNOUNCE_AGENT = _octal(struct.pack("<II", 1, 28) +
                        struct.pack("<IIQI", 1, 6, 0, 8) +
                        struct.pack("<II", 0, 0x7))


@pytest.mark.timeout(150)
def test_qxl_client_monitors_config_reaches_guest(new_vm):
    """A monitors config sent by the SPICE client reaches the guest's qxl
    driver through the device (ROM + interrupt): its preferred mode becomes
    the size the client asked for."""
    with new_vm(["-vga", "qxl"] + AGENT_ARGS) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            vm.wait_serial("GUEST: ready", 90, pump=client.pump)
            # spice-gtk sends monitors configs only with an agent: a stand-in
            # announces itself and keeps the port open.
            vm.shell("(printf '%s'; sleep 1000000) > "
                     "/dev/virtio-ports/com.redhat.spice.0 &" % ANNOUNCE_AGENT)
            client.wait_for(lambda: client.main is not None and 0 in client.primaries
                            and client.agent_connected,
                            30, "the main channel, display 0 and the agent")
            client.pump(1.0)
            client.main.update_display_enabled(0, True, False)
            client.main.update_display(0, 0, 0, 800, 600, False)
            client.main.send_monitor_config()
            marker = "MODES:"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                vm.shell("echo %s$(head -n1 /sys/class/drm/card0-Virtual-1/modes)"
                         % marker)
                client.pump(1.0)
                if marker + "800x600" in vm.serial_text:
                    return
            raise AssertionError("the guest's preferred mode did not become 800x600;"
                                 " see %s/serial.log" % vm.logdir)
        finally:
            client.disconnect()



@pytest.mark.timeout(120)
def test_qxl_vga_mode_text_at_boot(new_vm):
    """Before the guest's driver takes over, qxl-vga is in VGA mode: the
    BIOS's text screen reaches the client as a 720x400 surface with text."""
    with new_vm(["-vga", "qxl", "-S"]) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            client.wait_for(lambda: client.main is not None, 20, "the main channel")
            client.pump(0.5)
            vm.cmd("cont")
            best = [0]

            def text_seen():
                s = client.primaries.get(0)
                if s is None or (s.width, s.height) != (720, 400):
                    return False
                raw = s.read()
                lit = sum(1 for i in range(0, len(raw), 4 * 7)
                          if raw[i] | raw[i + 1] | raw[i + 2])
                best[0] = max(best[0], lit)
                if lit > 200:
                    client.save_png(0, os.path.join(vm.logdir, "vga-text.png"))
                    return True
                return False
            client.wait_for(text_seen, 60,
                            "a 720x400 text screen with text (best: %d lit probes;"
                            " surfaces seen: %s)" % (best[0], client.primary_history))
        finally:
            client.disconnect()



@pytest.mark.timeout(150)
def test_qxl_reset_returns_to_vga(new_vm):
    """After the guest's driver ran natively, a system reset brings qxl-vga
    back to VGA mode: the client gets the BIOS's text screen again, then
    the guest's native primary once it has booted again."""
    with new_vm(["-vga", "qxl"]) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            vm.wait_serial("GUEST: ready", 90, pump=client.pump)
            client.wait_for(lambda: (0, 1024, 768) in client.primary_history, 30,
                            "the native 1024x768 primary")
            seen = len(client.primary_history)
            vm.cmd("system_reset")
            client.wait_for(lambda: (0, 720, 400) in client.primary_history[seen:],
                            30, "a VGA text screen after the reset (surfaces: %s)"
                            % client.primary_history)
            client.wait_for(lambda: (0, 1024, 768) in client.primary_history[seen:],
                            60, "the native primary after the second boot")
        finally:
            client.disconnect()

