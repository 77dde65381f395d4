"""Shared steps of the real-guest tests: boot the guest, connect a SPICE
client, and compare what the client shows with the banner the guest drew."""
import contextlib
import os

import pattern
from spice_client import SpiceProbe


def banner_mismatches(client, cid):
    """Probe points of the banner that the client's surface does not show."""
    s = client.primaries.get(cid)
    if s is None or (s.width, s.height) != (1024, 768):
        return ["no 1024x768 primary surface"]
    raw = s.read()
    bad = []
    for x, y, want in pattern.probes():
        got = client.rgb_at(cid, x, y, raw)
        if got != want:
            bad.append("(%d,%d) is %s, want %s" % (x, y, got, want))
    return bad


@contextlib.contextmanager
def guest_showing_banner(new_vm, device_args, cid=0, timeout=60,
                         bound="GUEST: qxl bound", append=""):
    """Boot the guest (new_vm: the fixture), wait for its banner on display
    channel `cid` of a real SPICE client (`bound` must be in the guest's
    log: its display driver bound), save the client's picture as
    capture.png; yields (vm, client) with both still running."""
    with new_vm(device_args, append=append) as vm:
        client = SpiceProbe(vm.spice_uri).connect()
        try:
            vm.wait_serial("GUEST: ready", timeout, pump=client.pump)
            assert bound in vm.serial_text, \
                "no %r: the guest's display driver did not bind; see %s/serial.log" \
                % (bound, vm.logdir)
            assert "GUEST: banner drawn" in vm.serial_text, \
                "the guest did not draw its banner; see %s/serial.log" % vm.logdir
            try:
                client.wait_for(lambda: not banner_mismatches(client, cid), 30,
                                "the guest's banner on display %d" % cid)
            finally:
                if cid in client.primaries:
                    client.save_png(cid, os.path.join(vm.logdir, "capture.png"))
            bad = banner_mismatches(client, cid)
            assert not bad, "client picture differs: " + "; ".join(bad[:5])
            yield vm, client
        finally:
            client.disconnect()


def boot_and_capture(new_vm, device_args, cid=0, timeout=60,
                     bound="GUEST: qxl bound", append=""):
    """guest_showing_banner, then stop; returns the VM's serial log and the
    client."""
    with guest_showing_banner(new_vm, device_args, cid, timeout, bound,
                              append) as (vm, client):
        return vm.serial_text, client
