"""The QXL cursor ring against real peers: Xorg (modesetting on the Linux
qxl driver) in the agent guest sets a hardware cursor; our device checks
the command and spice-server hands the shape to a spice-gtk client."""
import pytest

from spice_client import SpiceProbe
from xorg_guest import qxl_agent_vm, watch_cursor_shapes


@pytest.mark.timeout(300)
def test_qxl_hardware_cursor_reaches_client(new_vm, agent_guest_dir):
    with qxl_agent_vm(new_vm, agent_guest_dir,
                      ["qxl_cursor", "qxl_ring_cursor", "qxl_guest_bug"],
                      "agent=virtio") as vm:
        client = SpiceProbe(vm.spice_uri)
        shapes = watch_cursor_shapes(client)
        client.connect()
        try:
            vm.wait_serial("GUEST: ready", 150, pump=client.pump)
            # An X client defines the root window's cursor.
            vm.shell("DISPLAY=:0 xsetroot -cursor_name left_ptr; echo CURSOR-SET")
            vm.wait_serial("CURSOR-SET", 30, pump=client.pump)
            client.wait_for(lambda: any(w > 0 and h > 0 for w, h in shapes), 60,
                            "a cursor shape from the guest's X server "
                            "(shapes seen: %s)" % shapes)
            # The device checked the real driver's cursor commands and found
            # nothing wrong with them.
            log = vm.log_text()
            assert "qxl_cursor " in log, "no cursor command went through the device"
            assert "qxl_guest_bug" not in log, "the device flagged the guest: " + log
        finally:
            client.disconnect()
