"""Our spiceport chardev against real peers: a guest process on a
virtio-serial port and a spice-gtk port channel exchange bytes both ways,
and the client sees the port open when the guest opens it."""
import ctypes

import gi
import pytest

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GObject, SpiceClientGLib  # noqa: E402

from spice_client import SpiceProbe  # noqa: E402

PORT = "org.qemu.spice-stack.test.0"
ARGS = [
    "-vga", "qxl", "-device", "virtio-serial",
    "-chardev", "spiceport,id=tp,name=%s" % PORT,
    "-device", "virtserialport,chardev=tp,name=%s" % PORT,
]


class PortWatch:
    """Follows the port channel of one name on a SpiceProbe's session."""

    def __init__(self, probe, name):
        self.name, self.channel = name, None
        self.opened = False
        self.received = bytearray()
        GObject.Object.connect(probe.session, "channel-new", self._new)

    def _new(self, session, channel):
        if not isinstance(channel, SpiceClientGLib.PortChannel):
            return
        GObject.Object.connect(channel, "notify::port-opened", self._opened)
        GObject.Object.connect(channel, "port-data", self._data)
        SpiceClientGLib.Channel.connect(channel)
        self.channel = channel

    def _opened(self, channel, pspec):
        if channel.get_property("port-name") == self.name:
            self.opened = channel.get_property("port-opened")

    def _data(self, channel, data, size):
        if channel.get_property("port-name") == self.name:
            self.received += ctypes.string_at(data, size)


@pytest.mark.timeout(120)
def test_spiceport_both_ways(new_vm):
    with new_vm(ARGS) as vm:
        client = SpiceProbe(vm.spice_uri)
        port = PortWatch(client, PORT)
        client.connect()
        try:
            vm.wait_serial("GUEST: ready", 90, pump=client.pump)
            client.wait_for(lambda: port.channel is not None, 20,
                            "the client's port channel for %s" % PORT)
            assert not port.opened, "port open before the guest opened it"
            # The guest opens the port, reads what comes and sends a line.
            vm.shell("exec 3<>/dev/virtio-ports/%s; (head -c 11 <&3 > /tmp/in;"
                     " echo GOT-$(cat /tmp/in)) & echo guest-to-client >&3"
                     % PORT)
            client.wait_for(lambda: port.opened, 20, "the port opened by the guest")
            client.wait_for(lambda: b"guest-to-client\n" in port.received, 20,
                            "the guest's bytes (got %r)" % bytes(port.received))
            port.channel.write_async(b"from-client", None, None, None)
            vm.wait_serial("GOT-from-client", 20, pump=client.pump)
            vm.shell("exec 3<&-")
            client.wait_for(lambda: not port.opened, 20,
                            "the port closed when the guest closed it")
        finally:
            client.disconnect()

