"""SPICE inputs (ui/spice-input.c) against real peers: a spice-gtk client's
keys, mouse motion, buttons and wheel reach the Linux guest's evdev devices
(read there by tests/guest/guest-io.c), the guest's keyboard LEDs reach the
client, and the mouse mode follows the guest's pointer devices: server
mode with the PS/2 mouse, client mode while the guest drives a
virtio-tablet, server mode again when it lets it go."""
import re
import time

import gi
import pytest

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GObject, SpiceClientGLib  # noqa: E402

from spice_client import SpiceProbe  # noqa: E402

EV_KEY, EV_REL, EV_ABS = 1, 2, 3
REL_X, REL_Y, REL_WHEEL = 0, 1, 8
ABS_X, ABS_Y = 0, 1
BTN_LEFT, BTN_RIGHT, BTN_MIDDLE = 0x110, 0x111, 0x112
KEY_A, KEY_RIGHTCTRL, KEY_KPENTER, KEY_CAPSLOCK, KEY_NUMLOCK = 30, 97, 96, 58, 69
KEY_PAUSE = 119

SPICE_MOUSE_MODE_SERVER, SPICE_MOUSE_MODE_CLIENT = 1, 2
SPICE_MOUSE_BUTTON_LEFT, SPICE_MOUSE_BUTTON_MIDDLE = 1, 2
SPICE_MOUSE_BUTTON_RIGHT, SPICE_MOUSE_BUTTON_UP = 3, 4
SPICE_MOUSE_BUTTON_MASK_LEFT = 1
SPICE_INPUTS_NUM_LOCK, SPICE_INPUTS_CAPS_LOCK = 2, 4

ARGS = ["-machine", "vmport=off", "-vga", "qxl", "-trace", "spice_input_*",
        "-device", "virtio-tablet-pci,id=tablet0"]

EV_LINE = re.compile(r"GUEST: ev (\S+) (\d+) (\d+) (-?\d+)")


class Guest:
    """The guest's shell and its input events."""

    def __init__(self, vm, pump):
        self.vm, self.pump = vm, pump
        self.n = 0
        self.seen = 0       # events already taken

    def run(self, command, timeout=30):
        """Run a shell command; returns its output lines."""
        self.n += 1
        start = len(self.vm.serial_text)
        mark = "END%d" % self.n
        # The shell echoes what it reads: the marker is split there.
        self.vm.shell('%s; echo END""%d' % (command, self.n))
        self.vm.wait_serial(mark + "\r", timeout, pump=self.pump)
        out = self.vm.serial_text[start:]
        return out[:out.rfind(mark)].splitlines()

    def devices(self):
        out = self.run('for e in /sys/class/input/event*; do '
                       'echo "GUEST: dev ${e##*/} $(cat $e/device/name)"; '
                       'done')
        devs = {}
        for line in out:
            m = re.match(r"GUEST: dev (event\d+) (.*)", line.strip())
            if m:
                devs[m.group(2)] = m.group(1)
        return devs

    def events(self):
        """Input events printed since the last call."""
        text = self.vm.serial_text
        evs = [(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))
               for m in EV_LINE.finditer(text, self.seen)]
        self.seen = len(text)
        return evs

    def wait_events(self, pred, timeout, what):
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got += self.events()
            if pred(got):
                return got
            self.pump(0.1)
        raise AssertionError("the guest did not see %s; it saw %s"
                             % (what, got))


def _inputs(client):
    box = {}

    def new(session, channel):
        if isinstance(channel, SpiceClientGLib.InputsChannel):
            box["inputs"] = channel
            SpiceClientGLib.Channel.connect(channel)
    GObject.Object.connect(client.session, "channel-new", new)
    return box


@pytest.mark.timeout(240)
def test_spice_keyboard_mouse_leds_mouse_mode(new_vm):
    with new_vm(ARGS) as vm:
        client = SpiceProbe(vm.spice_uri)
        box = _inputs(client)
        client.connect()
        vm.wait_serial("GUEST: ready", 90, pump=client.pump)
        client.wait_for(lambda: "inputs" in box and client.main, 20,
                        "the inputs channel")
        inputs = box["inputs"]
        g = Guest(vm, client.pump)
        g.run("modprobe evdev; modprobe psmouse")
        devs = {}

        def found():
            devs.update(g.devices())
            return any("keyboard" in n for n in devs) and \
                any("Mouse" in n for n in devs)
        deadline = time.monotonic() + 30
        while not found() and time.monotonic() < deadline:
            client.pump(0.5)
        kbd = next(v for k, v in devs.items() if "keyboard" in k)
        mouse = next(v for k, v in devs.items() if "Mouse" in k)
        vm.shell("guest-io events /dev/input/%s /dev/input/%s &"
                 % (kbd, mouse))
        vm.wait_serial("GUEST: events ready", 20, pump=client.pump)
        g.events()

        # Server mouse mode with the PS/2 mouse alone.
        client.wait_for(lambda: client.mouse_mode ==
                        SPICE_MOUSE_MODE_SERVER, 20, "server mouse mode")

        # Keys: plain, extended (0xe0 prefix), press then release.
        for sc in (0x1e, 0x11d, 0x11c):
            inputs.key_press_and_release(sc)
        evs = g.wait_events(
            lambda e: len([x for x in e if x[1] == EV_KEY]) >= 6, 20,
            "three keys pressed and released")
        keys = [(x[2], x[3]) for x in evs if x[0] == kbd and x[1] == EV_KEY]
        assert keys == [(KEY_A, 1), (KEY_A, 0), (KEY_RIGHTCTRL, 1),
                        (KEY_RIGHTCTRL, 0), (KEY_KPENTER, 1),
                        (KEY_KPENTER, 0)], keys

        # Relative motion, a button, two wheel steps.  One at a time: the
        # PS/2 mouse holds 4 packets until the guest reads them.
        inputs.motion(7, -5, 0)
        evs = g.wait_events(lambda e: sum(x[3] for x in e if x[1:3] ==
                                          (EV_REL, REL_X)) == 7, 20,
                            "motion")
        inputs.button_press(SPICE_MOUSE_BUTTON_LEFT,
                            SPICE_MOUSE_BUTTON_MASK_LEFT)
        inputs.button_release(SPICE_MOUSE_BUTTON_LEFT, 0)
        evs += g.wait_events(lambda e: (EV_KEY, BTN_LEFT, 0) in
                             [x[1:4] for x in e], 20, "a click")
        for i in range(2):
            inputs.button_press(SPICE_MOUSE_BUTTON_UP, 0)
            inputs.button_release(SPICE_MOUSE_BUTTON_UP, 0)
            evs += g.wait_events(lambda e: (EV_REL, REL_WHEEL) in
                                 [x[1:3] for x in e], 20,
                                 "wheel step %d" % (i + 1))
        rel = [x for x in evs if x[0] == mouse]
        dx = sum(x[3] for x in rel if x[1:3] == (EV_REL, REL_X))
        dy = sum(x[3] for x in rel if x[1:3] == (EV_REL, REL_Y))
        assert (dx, dy) == (7, -5), "motion %s" % rel
        assert [x[3] for x in rel if x[1:3] == (EV_KEY, BTN_LEFT)] == [1, 0]
        assert [x[3] for x in rel if x[1:3] == (EV_REL, REL_WHEEL)] == [1, 1]

        # LEDs: Caps Lock and Num Lock toggle the guest's LEDs, which come
        # back to the client.
        inputs.key_press_and_release(0x3a)
        client.wait_for(lambda: inputs.get_property("key-modifiers") &
                        SPICE_INPUTS_CAPS_LOCK, 20, "the Caps Lock LED on")
        inputs.key_press_and_release(0x45)
        client.wait_for(lambda: inputs.get_property("key-modifiers") ==
                        SPICE_INPUTS_CAPS_LOCK | SPICE_INPUTS_NUM_LOCK, 20,
                        "Caps Lock and Num Lock LEDs on")
        inputs.key_press_and_release(0x3a)
        inputs.key_press_and_release(0x45)
        client.wait_for(lambda: inputs.get_property("key-modifiers") == 0,
                        20, "the LEDs off")

        # The guest drives the virtio tablet: client mouse mode, absolute
        # positions.
        g.run("modprobe virtio_input")
        client.wait_for(lambda: client.mouse_mode ==
                        SPICE_MOUSE_MODE_CLIENT, 20, "client mouse mode")
        tablet = None
        deadline = time.monotonic() + 20
        while tablet is None and time.monotonic() < deadline:
            tablet = g.devices().get("QEMU Virtio Tablet")
            client.pump(0.3)
        assert tablet, "no virtio tablet in the guest"
        vm.shell("guest-io events /dev/input/%s &" % tablet)
        client.wait_for(lambda: vm.serial_text.count("GUEST: events ready")
                        == 2, 20, "the guest reading the tablet")
        client.pump(0.5)
        g.events()
        inputs.position(512, 384, 0, 0)
        evs = g.wait_events(
            lambda e: any(x[0] == tablet and x[1:3] == (EV_ABS, ABS_Y)
                          for x in e), 20, "an absolute position")
        absx = [x[3] for x in evs if x[0] == tablet and x[1:3] ==
                (EV_ABS, ABS_X)]
        absy = [x[3] for x in evs if x[0] == tablet and x[1:3] ==
                (EV_ABS, ABS_Y)]
        # 512 of 1024 and 384 of 768: the middle of 0..32767.
        assert absx and abs(absx[-1] - 16384) <= 40, absx
        assert absy and abs(absy[-1] - 16384) <= 40, absy

        # The guest lets the tablet go: server mode again.
        g.run("rmmod virtio_input")
        client.wait_for(lambda: client.mouse_mode ==
                        SPICE_MOUSE_MODE_SERVER, 20,
                        "server mouse mode after the tablet left")
        client.disconnect()
