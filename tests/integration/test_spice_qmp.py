"""QMP and HMP of our SPICE binding against stock QEMU 10.0's, on the same
scenario with a real client (spice-gtk): query-spice, the SPICE_CONNECTED,
SPICE_INITIALIZED and SPICE_DISCONNECTED events, info spice, and tickets
(the right password, a wrong one, an expired one, a new one).  Both QEMUs
run the scenario on the same port, one after the other; what differs from
run to run by nature (the client's port, spice-server's random connection
ids, timestamps) is normalised, everything else must be equal field by
field."""
import json
import os
import re
import time

import pytest

from spice_peers import (Qemu, client, free_tcp_port, main_channel_state,
                         SPICE_CHANNEL_MAIN, SPICE_CHANNEL_DISPLAY)

PASSWORD = "s3cret-pw"


class Normaliser:
    """Client ports become "*", connection ids their order of appearance."""

    def __init__(self):
        self.ids = {}

    def __call__(self, obj, key=None):
        if isinstance(obj, dict):
            return {k: self(v, k) for k, v in obj.items()
                    if k != "timestamp"}
        if isinstance(obj, list):
            return [self(v) for v in obj]
        if key == "connection-id":
            return "conn%d" % self.ids.setdefault(obj, len(self.ids))
        return obj


def _client_port_star(info):
    """SpiceBasicInfo of a client: its port is the client's own."""
    if isinstance(info, dict) and "port" in info and "host" in info:
        info = dict(info, port="*")
    return info


def _events(q, norm, pump=None):
    out = []
    for ev in q.qmp.events[:]:
        q.qmp.events.remove(ev)
        if not ev["event"].startswith("SPICE_"):
            continue
        data = dict(ev.get("data", {}))
        if "client" in data:
            data["client"] = _client_port_star(data["client"])
        out.append((ev["event"], norm(data)))
    # Channels connect in parallel: order by event and channel.
    return sorted(out, key=lambda e: (e[0], str(e[1].get("client"))))


def _query(q, norm):
    info = q.qmp.cmd("query-spice")
    info["channels"] = sorted((_client_port_star(c) for c in
                               info.get("channels", [])),
                              key=lambda c: (c["channel-type"],
                                             c["channel-id"]))
    return norm(info)


def _info_spice(q):
    text = q.qmp.hmp("info spice")
    # The client's port and spice-server's connection ids.
    text = re.sub(r"(port=|address: [0-9.]+:)\d+", r"\1*", text)
    text = re.sub(r"(address: 127\.0\.0\.1:)\*", r"\1*", text)
    return re.sub(r"session: -?\d+", "session: *", text)


def _settle(q, probe, seconds=1.0):
    """Let QEMU's events catch up with the client: every channel that
    connected has been initialized or disconnected."""
    probe.pump(seconds)

    def balanced():
        # Each connection (the client's port) initialized or closed.
        with q.qmp.lock:
            evs = [(e["event"], e["data"]["client"]["port"])
                   for e in q.qmp.events if e["event"].startswith("SPICE_")
                   and "client" in e.get("data", {})]
        opened = {p for ev, p in evs if ev == "SPICE_CONNECTED"}
        done = {p for ev, p in evs if ev != "SPICE_CONNECTED"}
        return opened <= done
    try:
        probe.wait_for(balanced, 20, "QEMU's SPICE events")
    except AssertionError as e:
        raise AssertionError("%s; events %s" % (e, q.qmp.event_names()))


def _try(q, port, password):
    """A short client session with this password: "up" (it waited for its
    display, then left) or the error its main channel got.  Returns once
    QEMU reported every channel of it closed."""
    c = client(port, password=password)
    state = main_channel_state(c, 20)
    if state == "up":
        c.wait_for(lambda: 0 in c.primaries, 30, "the display")
    c.disconnect()

    def closed():
        names = q.qmp.event_names()
        return (names.count("SPICE_CONNECTED") ==
                names.count("SPICE_DISCONNECTED"))
    try:
        c.wait_for(closed, 20, "QEMU's SPICE_DISCONNECTED events")
    except AssertionError as e:
        raise AssertionError("%s; events %s" % (e, q.qmp.events)) from None
    return state


def _scenario(logdir, binary, port):
    """The scenario; returns what QEMU answered and sent, normalised."""
    norm = Normaliser()
    rec = {}
    args = ["-object", "secret,id=pw0,data=%s" % PASSWORD, "-vga", "std",
            "-spice", "port=%d,addr=127.0.0.1,password-secret=pw0,"
            "image-compression=off" % port]
    with Qemu(logdir, binary, args) as q:
        rec["query-spice, no client"] = _query(q, norm)

        # The right password: main and display channels come up.
        good = client(port, password=PASSWORD)
        rec["good password"] = main_channel_state(good, 20)
        good.wait_for(lambda: 0 in good.primaries, 30, "the display")
        _settle(q, good)
        rec["events, good client"] = _events(q, norm)
        rec["query-spice, good client"] = _query(q, norm)
        rec["info spice, good client"] = _info_spice(q)
        # One client at a time (a new one would push this one out).
        good.disconnect()
        good.wait_for(lambda: q.qmp.event_names().count(
            "SPICE_DISCONNECTED") == 2, 20, "both channels closed")
        rec["events, client gone"] = _events(q, norm)
        rec["query-spice, client gone"] = _query(q, norm)

        # A wrong password: refused.
        rec["wrong password"] = _try(q, port, "wrong")
        rec["events, wrong password"] = _events(q, norm)

        # A new password; the old one no longer works, the new one does.
        q.qmp.cmd("set_password", protocol="spice", password="newer",
                  connected="keep")
        rec["old password after set_password"] = _try(q, port, PASSWORD)
        rec["new password"] = _try(q, port, "newer")
        rec["events, set_password"] = _events(q, norm)

        # Expired now: refused; expiry removed: accepted again.
        q.qmp.cmd("expire_password", protocol="spice", time="now")
        rec["expired password"] = _try(q, port, "newer")
        q.qmp.cmd("expire_password", protocol="spice", time="never")
        q.qmp.cmd("set_password", protocol="spice", password="newer")
        rec["password after expire never"] = _try(q, port, "newer")
        # Expiry in the future: still accepted.
        q.qmp.cmd("expire_password", protocol="spice", time="+3600")
        rec["password expiring in an hour"] = _try(q, port, "newer")
        rec["events, expiry"] = _events(q, norm)

        # Errors: unknown protocol, bad time.
        rec["set_password vnc"] = q.qmp.cmd_error(
            "set_password", protocol="vnc", password="x")
        rec["expire_password bad time"] = q.qmp.cmd_error(
            "expire_password", protocol="spice", time="tomorrow")
    return rec


def _scenario_noauth(logdir, binary, port):
    norm = Normaliser()
    rec = {}
    args = ["-vga", "std", "-spice",
            "port=%d,addr=127.0.0.1,disable-ticketing=on" % port]
    with Qemu(logdir, binary, args) as q:
        rec["query-spice"] = _query(q, norm)
        rec["set_password without tickets"] = q.qmp.cmd_error(
            "set_password", protocol="spice", password="x")
        c = client(port)
        rec["connect"] = main_channel_state(c, 20)
        c.wait_for(lambda: 0 in c.primaries, 30, "the display")
        _settle(q, c)
        rec["events"] = _events(q, norm)
        rec["query-spice, client"] = _query(q, norm)
        c.disconnect()
        c.wait_for(lambda: q.qmp.event_names().count(
            "SPICE_DISCONNECTED") == 2, 20, "both channels closed")
        rec["events, client gone"] = _events(q, norm)
    with Qemu(logdir, binary, []) as q:
        rec["query-spice without -spice"] = q.qmp.cmd("query-spice")
        rec["set_password without -spice"] = q.qmp.cmd_error(
            "set_password", protocol="spice", password="x")
    return rec


def _compare(logdir, ours, stock):
    for who, rec in (("ours", ours), ("stock", stock)):
        with open(os.path.join(logdir, "%s.json" % who), "w") as f:
            json.dump(rec, f, indent=1, sort_keys=True, default=str)
    diffs = []
    for k in stock:
        if ours.get(k) != stock[k]:
            diffs.append("%s:\n  ours  %s\n  stock %s" % (k, ours.get(k),
                                                         stock[k]))
    assert not diffs, "differences with stock QEMU 10.0:\n" + "\n".join(diffs)


@pytest.mark.timeout(300)
def test_spice_qmp_tickets_as_stock(build, stock_qemu, logdir):
    """Tickets: right, wrong, replaced, expired; query-spice, info spice and
    the events along the way, equal to stock's field by field."""
    port = free_tcp_port()
    ours = _scenario(logdir, build.qemu, port)
    stock = _scenario(logdir, stock_qemu, port)
    # What the tickets must do, whatever stock does.
    assert ours["good password"] == "up", ours["good password"]
    assert ours["wrong password"] == "error-auth", ours["wrong password"]
    assert ours["old password after set_password"] == "error-auth"
    assert ours["new password"] == "up"
    assert ours["expired password"] == "error-auth"
    assert ours["password after expire never"] == "up"
    assert ours["password expiring in an hour"] == "up"
    q = ours["query-spice, good client"]
    assert q["enabled"] and q["auth"] == "spice" and q["host"] == "127.0.0.1"
    assert {(c["channel-type"], c["channel-id"]) for c in q["channels"]} >= {
        (SPICE_CHANNEL_MAIN, 0), (SPICE_CHANNEL_DISPLAY, 0)}, q
    _compare(logdir, ours, stock)


def test_spice_qmp_noauth_as_stock(build, stock_qemu, logdir):
    """disable-ticketing, and QEMU without -spice: the same answers and
    errors as stock."""
    port = free_tcp_port()
    ours = _scenario_noauth(logdir, build.qemu, port)
    stock = _scenario_noauth(logdir, stock_qemu, port)
    assert ours["connect"] == "up"
    assert ours["query-spice"]["auth"] == "none"
    _compare(logdir, ours, stock)


def _migration(logdir, binary, ports):
    """A client on the source follows the VM to the destination
    (client_migrate_info, then migrate); returns what both QEMUs said."""
    norm = Normaliser()
    rec = {}
    src_port, dst_port = ports
    sock = os.path.join(logdir, "migrate-%s.sock" % id(rec))
    common = ["-vga", "std"]
    opts = "addr=127.0.0.1,disable-ticketing=on,seamless-migration=on"
    dst = Qemu(logdir, binary, common + [
        "-spice", "port=%d,%s" % (dst_port, opts),
        "-incoming", "unix:" + sock]).start()
    try:
        with Qemu(logdir, binary, common + [
                "-spice", "port=%d,%s" % (src_port, opts)]) as src:
            c = client(src_port)
            rec["connect"] = main_channel_state(c, 20)
            c.wait_for(lambda: 0 in c.primaries, 30, "the display")
            _settle(src, c)
            _events(src, norm)
            rec["client_migrate_info"] = src.qmp.cmd(
                "client_migrate_info", protocol="spice",
                hostname="127.0.0.1", port=dst_port)
            rec["client_migrate_info, no port"] = src.qmp.cmd_error(
                "client_migrate_info", protocol="spice",
                hostname="127.0.0.1")
            src.qmp.cmd("migrate", uri="unix:" + sock)
            src.wait_event("SPICE_MIGRATE_COMPLETED", 60, pump=c.pump)
            rec["source query-spice"] = _query(src, norm)
            dst.wait_event("SPICE_INITIALIZED", 30, pump=c.pump,
                           match=lambda e: e["data"]["client"]
                           ["channel-type"] == SPICE_CHANNEL_DISPLAY)
            _settle(dst, c)
            # How many times the client connects during the move depends
            # on timing: compare each distinct event.
            evs = _events(dst, norm)
            rec["destination events"] = [e for i, e in enumerate(evs)
                                         if e not in evs[:i]]
            rec["destination query-spice"] = _query(dst, norm)
            c.disconnect()
    finally:
        dst.stop()
    return rec


@pytest.mark.timeout(240)
def test_spice_qmp_migration_as_stock(build, stock_qemu, logdir):
    """client_migrate_info and migration: the client moves to the
    destination, the source says SPICE_MIGRATE_COMPLETED and query-spice
    there says migrated; the same as stock (stock to stock)."""
    ports = (free_tcp_port(), free_tcp_port())
    ours = _migration(logdir, build.qemu, ports)
    stock = _migration(logdir, stock_qemu, ports)
    assert ours["source query-spice"]["migrated"] is True, ours
    assert ours["destination query-spice"]["channels"], ours
    _compare(logdir, ours, stock)


def _add_client_session(logdir, binary):
    """A client whose every channel is a socket handed to QEMU with
    getfd + add_client (no listening port at all).  A plain spice-gtk
    session: its channels ask for their socket ("open-fd") when they
    connect."""
    import socket as so
    from gi.repository import GLib, GObject, SpiceClientGLib

    with Qemu(logdir, binary, ["-vga", "std", "-spice",
                                  "disable-ticketing=on"]) as q:
        keep = []
        shown = []
        done = []

        def hand_over():
            ours, theirs = so.socketpair()
            keep.append(1)
            fdname = "spice%d" % len(keep)
            with theirs:        # QEMU gets its own copy
                q.qmp.cmd_fds("getfd", [theirs.fileno()], fdname=fdname)
            q.qmp.cmd("add_client", protocol="spice", fdname=fdname,
                      skipauth=True)
            return ours.detach()        # spice-gtk's from now on

        def open_fd(channel, tls):
            if not done:        # not for channels of a session that ended
                channel.open_fd(hand_over())

        def new(session, channel):
            GObject.Object.connect(channel, "open-fd", open_fd)
            if isinstance(channel, SpiceClientGLib.DisplayChannel):
                GObject.Object.connect(channel, "display-primary-create",
                                       lambda *a: shown.append(a[2:4]))
                channel.connect()

        session = SpiceClientGLib.Session()
        session.set_property("client-sockets", True)
        GObject.Object.connect(session, "channel-new", new)
        assert session.open_fd(hand_over()), "open_fd failed"

        def pump_until(pred, timeout, what):
            ctxt = GLib.MainContext.default()
            end = time.monotonic() + timeout
            while not pred():
                assert time.monotonic() < end, what + " not seen"
                if not ctxt.iteration(False):
                    time.sleep(0.01)
        pump_until(lambda: shown, 30, "the display")
        pump_until(lambda: len(q.qmp.cmd("query-spice")["channels"]) >= 2,
                   10, "main and display in query-spice")
        chans = sorted((c["channel-type"], c["channel-id"], c["tls"])
                       for c in q.qmp.cmd("query-spice")["channels"])
        err = q.qmp.cmd_error("add_client", protocol="spice",
                              fdname="nosuch")
        done.append(True)
        session.disconnect()
        end = time.monotonic() + 1
        while time.monotonic() < end:
            GLib.MainContext.default().iteration(False)
        return chans, err


def test_spice_qmp_add_client_as_stock(build, stock_qemu_if_given, logdir):
    """add_client: channels on sockets QEMU got with getfd work; an unknown
    fd name is an error; as stock."""
    ours = _add_client_session(logdir, build.qemu)
    assert ours[0] == [(SPICE_CHANNEL_MAIN, 0, False),
                       (SPICE_CHANNEL_DISPLAY, 0, False)], ours
    if stock_qemu_if_given:
        # Stock's addresses of Unix sockets are whatever its stack held:
        # compared without them.
        stock = _add_client_session(logdir, stock_qemu_if_given)
        assert ours == stock, (ours, stock)
