"""Shared steps of the tests that run Xorg on a QXL device in the agent
guest (scripts/build-agent-guest.sh): test_qxl_cursor.py and
test_qxl_xorg.py."""
import re

from vm import AGENT_ARGS, agent_guest_drive


def qxl_agent_vm(new_vm, agent_guest_dir, traces, append):
    """The agent guest on -vga qxl, its agent on virtio-serial, with QEMU's
    trace events traces and the kernel command line append: a VM, to start
    with `with`."""
    args = AGENT_ARGS + ["-vga", "qxl"]
    for t in traces:
        args += ["-trace", t]
    args += agent_guest_drive(agent_guest_dir)
    return new_vm(args, memory="768M", guest_dir=agent_guest_dir, append=append)


def guest_numbers(vm, client, tag, commands):
    """Run the shell commands, each printing a number, in the guest's serial
    shell and return those numbers.  tag names the answer on the serial
    port; the quotes keep the typed command, echoed there, from matching."""
    vm.shell('echo %s""-IS %s %s""-END' % (
        tag, " ".join("$(%s)" % c for c in commands), tag))
    vm.wait_serial(tag + "-END", 30, pump=client.pump)
    m = re.search("%s-IS %s %s-END" % (
        re.escape(tag), " ".join([r"(\d+)"] * len(commands)), re.escape(tag)),
        vm.serial_text)
    assert m, "no %s answer from the guest; see %s/serial.log" % (tag, vm.logdir)
    return [int(g) for g in m.groups()]


def watch_cursor_shapes(client):
    """Collect (width, height) of every cursor shape the client's cursor
    channel receives; call before client.connect()."""
    from gi.repository import GObject, SpiceClientGLib

    shapes = []

    def cursor_changed(channel, pspec):
        shape = channel.get_property("cursor")
        if shape is not None:
            shapes.append((shape.width, shape.height))

    def channel_new(session, channel):
        if isinstance(channel, SpiceClientGLib.CursorChannel):
            GObject.Object.connect(channel, "notify::cursor", cursor_changed)
            SpiceClientGLib.Channel.connect(channel)
    GObject.Object.connect(client.session, "channel-new", channel_new)
    return shapes
