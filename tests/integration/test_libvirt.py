"""libvirt 9.0 runs our QEMU (issue 10).

Each test starts its own libvirt host(s) (libvirt_hosts.py: libvirtd and
virtlogd in network + mount namespaces, torn down at the end) and a domain
whose <emulator> is our binary: qxl video with ram/vram/vgamem/heads, SPICE
graphics with and without a password and with image/streaming options, a
spicevmc agent channel and SPICE audio.

- test_libvirt_domcapabilities: libvirt sees the same capabilities in our
  binary and in stock QEMU 10.0 (virsh domcapabilities, and the flags of
  libvirt's capability cache), and the same domain started with each gets
  the same QEMU arguments and the same live XML (video sizes read back).
- test_libvirt_spice_password: virsh screenshot shows the guest's banner,
  virsh domdisplay gives the URI (and password) a SPICE client connects
  with; without the password the client is refused; with it the client
  sees exactly what the screenshot shows.
- test_libvirt_agent: the Debian agent guest (spice-vdagent, Xorg) without
  a password: the client sees the picture (equal to virsh screenshot) and
  the agent.
- test_libvirt_migrate: virsh migrate --live between two libvirt hosts
  (two network namespaces, one libvirtd each), there and back, with a
  SPICE client that follows the VM (libvirt hands the destination to
  QEMU with client_migrate_info).
- test_libvirt_migrate_stock_to_ours: the same from a host whose domain
  runs stock QEMU 10.0 to ours (virsh migrate --xml with our <emulator>),
  and back to stock: how a running VM switches without downtime.
- test_libvirt_switch_one_host: on one host libvirt refuses to migrate a
  domain to itself; virsh save + virsh restore --xml switches a running
  domain from stock QEMU to ours and back (paused meanwhile), its state
  kept, its qxl driver drawing on.

The SPICE client runs inside the source host's network namespace (the
hosts' addresses exist only there; the namespaces route to each other), so
it can follow the VM to the other host."""
import json
import os
import re
import subprocess
import time

import pytest

import libvirt_hosts
from libvirt_domain import (SERIAL_DIR, Serial, banner_faults, client_picture,
                            domain_xml, picture_differences, read_png,
                            set_emulator)
from libvirt_hosts import Hosts, in_netns
from spice_client import SPICE_MOUSE_MODE_CLIENT, SpiceProbe

DOMAIN = "lvt-guest"
PASSWORD = "s3same-open"
# Lossless, but not "off": what a libvirt user would pick.
LOSSLESS_OPTS = {"image": "auto_glz", "jpeg": "never", "zlib": "never",
                 "playback": "off", "streaming": "filter"}
PLAIN_OPTS = {"image": "off", "jpeg": "never", "zlib": "never",
              "streaming": "off", "mouse": "client"}
VIDEO = {"ram": 65536, "vram": 32768, "vgamem": 16384, "heads": 2}


@pytest.fixture(autouse=True)
def libvirt_present():
    """Every test here needs libvirt 9.0 (make deps installs it)."""
    why = libvirt_hosts.libvirt_missing()
    if why:
        pytest.skip(why)


def _define_start(host, xml, logdir, fname="domain.xml"):
    path = os.path.join(logdir, fname)
    with open(path, "w") as f:
        f.write(xml)
    host.virsh("define", path)
    host.virsh("start", DOMAIN)


def _serial_path(host):
    return host.path("%s/%s.sock" % (SERIAL_DIR, DOMAIN))


def _qemu_args(host):
    """The QEMU command line libvirt logged for the domain's last start."""
    with open(host.domain_log(DOMAIN), errors="replace") as f:
        text = f.read()
    start = text.rfind("starting up libvirt")
    assert start >= 0, "no start in %s" % host.domain_log(DOMAIN)
    block = text[start:].split("\n", 1)[1]
    args = []
    for line in block.splitlines():
        args.append(line.rstrip(" \\"))
        if not line.endswith("\\"):
            break
    return args


def _spice_uri(host, password=False):
    """virsh domdisplay's URI, split: (host, port, password or None)."""
    args = ["domdisplay", DOMAIN] + (["--include-password"] if password else [])
    uri = host.virsh(*args).strip()
    m = re.fullmatch(r"spice://([^:/?]+):(\d+)(?:\?password=(.*))?", uri)
    assert m, "virsh domdisplay gave %r" % uri
    return m.group(1), int(m.group(2)), m.group(3)


def _screenshot(host, logdir, name="screenshot.png"):
    path = os.path.join(logdir, name)
    host.virsh("screenshot", DOMAIN, path)
    return read_png(path)


def _client(addr, port, password=None, audio=False):
    """A SPICE client with every channel linked, as remote-viewer has
    (SpiceProbe links main and display only): the cursor and inputs
    channels and, with audio, playback and record (nothing plays what they
    receive)."""
    from gi.repository import GObject, SpiceClientGLib
    client = SpiceProbe("spice://%s:%d" % (addr, port))
    if password is not None:
        client.session.set_property("password", password)
    client.session.set_property("enable-audio", audio)
    kinds = (SpiceClientGLib.CursorChannel, SpiceClientGLib.InputsChannel,
             SpiceClientGLib.PlaybackChannel, SpiceClientGLib.RecordChannel)

    def channel_new(session, channel):
        if isinstance(channel, kinds):
            SpiceClientGLib.Channel.connect(channel)
    GObject.Object.connect(client.session, "channel-new", channel_new)
    # How the client moves with a migration: "connecting" then "migrating"
    # (seamless), or "switching" (it reconnects after the move).
    client.migration_states = []
    GObject.Object.connect(client.session, "notify::migration-state",
                           lambda session, pspec: client.migration_states.append(
                               session.get_property("migration-state").value_nick))
    return client.connect()


def _close_client(client, logdir, name="client.png"):
    """Keep the client's last picture in the log folder, disconnect."""
    if 0 in client.primaries:
        client.save_png(0, os.path.join(logdir, name))
    client.disconnect()


def _wait_same_picture(host, client, logdir, timeout=30, what=""):
    """virsh screenshot and the client's picture agree (the client may lag
    behind: compare again until they do)."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        shot = _screenshot(host, logdir)
        client.pump(0.3)
        diff = picture_differences(shot, client_picture(client))
        if diff is None:
            return shot
        n += 1
        if time.monotonic() > deadline:
            if 0 in client.primaries:
                client.save_png(0, os.path.join(logdir, "client.png"))
            raise AssertionError("%sthe client's picture is not virsh "
                                 "screenshot's after %ds (%d tries): %s" % (
                                     what, timeout, n, diff))
        client.pump(0.5)


def _wait_banner(serial, client, logdir, timeout=120):
    serial.wait("GUEST: ready", timeout, pump=client.pump)
    assert "GUEST: qxl bound" in serial.text, \
        "the guest's qxl driver did not bind; see %s/serial.log" % logdir
    assert "GUEST: banner drawn" in serial.text
    # A still screen: no blinking console cursor.
    serial.shell("echo 0 > /sys/class/graphics/fbcon/cursor_blink; "
                 "echo BLINK""-OFF")
    serial.wait("BLINK-OFF", 30, pump=client.pump)


def _channels(host):
    """SPICE channels of clients connected to the domain (query-spice)."""
    out = host.virsh("qemu-monitor-command", DOMAIN,
                     '{"execute":"query-spice"}')
    return json.loads(out)["return"].get("channels", [])


# -- domain capabilities ----------------------------------------------------

def _caps_cache(host, emulator):
    """libvirt's cached probe of emulator: its lines minus those naming the
    binary or its time stamps."""
    d = host.path("/var/cache/libvirt/qemu/capabilities")
    for fname in sorted(os.listdir(d)):
        with open(os.path.join(d, fname)) as f:
            text = f.read()
        if "<emulator>%s</emulator>" % emulator in text:
            return [l for l in text.splitlines() if not re.search(
                r"<(emulator|qemuctime|selfctime|selfvers)>", l)]
    raise AssertionError("no capability cache for %s in %s" % (emulator, d))


@pytest.mark.timeout(120)
def test_libvirt_domcapabilities(build, guest_dir, stock_qemu, logdir):
    """Our binary and stock QEMU 10.0 look the same to libvirt."""
    guest = guest_dir
    stock = stock_qemu
    ours = build.qemu
    with Hosts(logdir) as hosts:
        h = hosts[0]
        caps = {}
        for label, binary in (("ours", ours), ("stock", stock)):
            xml = h.virsh("domcapabilities", "--emulatorbin", binary, "--arch",
                          "x86_64", "--machine", "q35", "--virttype", "qemu")
            with open(os.path.join(logdir, "domcaps-%s.xml" % label), "w") as f:
                f.write(xml)
            caps[label] = xml.replace("<path>%s</path>" % binary, "<path/>")
        assert "<value>qxl</value>" in caps["ours"], "libvirt sees no qxl"
        assert re.search(r"<graphics supported='yes'>.*?<value>spice</value>",
                         caps["ours"], re.S), "libvirt sees no spice"
        assert caps["ours"] == caps["stock"], \
            "virsh domcapabilities differ; see %s/domcaps-*.xml" % logdir
        a, b = _caps_cache(h, ours), _caps_cache(h, stock)
        assert a == b, "libvirt's probes differ: ours has %s, stock %s" % (
            sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5])

        # The same domain with each: same arguments, and the same sizes
        # read back from the QXL device (sizes it must round up).
        video = {"ram": 40000, "vram": 20000, "vgamem": 8192, "heads": 2}
        seen = {}
        for label, binary in (("ours", ours), ("stock", stock)):
            xml = domain_xml(DOMAIN, binary, guest, video=video,
                             password=PASSWORD, spice=LOSSLESS_OPTS)
            path = os.path.join(logdir, "domain-%s.xml" % label)
            with open(path, "w") as f:
                f.write(xml)
            h.virsh("create", path, "--paused")
            live = h.virsh("dumpxml", DOMAIN)
            with open(os.path.join(logdir, "live-%s.xml" % label), "w") as f:
                f.write(live)
            args = [re.sub(r"domain-\d+-", "domain-N-", a)
                    for a in _qemu_args(h) if binary not in a and "uuid" not in a]
            h.virsh("destroy", DOMAIN)
            model = re.search(r"<model type='qxl'[^>]*>", live).group(0)
            seen[label] = (model, args)
        assert seen["ours"][0] == seen["stock"][0], \
            "live video XML: ours %s, stock %s" % (seen["ours"][0], seen["stock"][0])
        assert seen["ours"][1] == seen["stock"][1], \
            "QEMU arguments differ: ours %s, stock %s" % (
                [a for a in seen["ours"][1] if a not in seen["stock"][1]],
                [a for a in seen["stock"][1] if a not in seen["ours"][1]])




# -- one host ---------------------------------------------------------------

@pytest.mark.timeout(150)
def test_libvirt_spice_password(build, guest_dir, logdir):
    """Password-protected SPICE, qxl with sizes and heads, glz/filter
    options, spicevmc, spice audio: screenshot, domdisplay, client."""
    guest = guest_dir
    with Hosts(logdir) as hosts:
        h = hosts[0]
        _define_start(h, domain_xml(DOMAIN, build.qemu, guest,
                                    video=VIDEO, password=PASSWORD,
                                    spice=LOSSLESS_OPTS), logdir)
        serial = Serial(os.path.join(logdir, "serial.log"))
        try:
            serial.connect(_serial_path(h))
            args = " ".join(_qemu_args(h))
            for want in ('"driver":"qxl-vga"', '"max_outputs":2',
                         '"ram_size":67108864', '"vram_size":33554432',
                         '"vgamem_mb":16',
                         "image-compression=auto_glz",
                         "jpeg-wan-compression=never",
                         "zlib-glz-wan-compression=never",
                         "playback-compression=off", "streaming-video=filter",
                         "seamless-migration=on",
                         "-chardev spicevmc,id=charchannel0,name=vdagent",
                         '"name":"com.redhat.spice.0"',
                         '"driver":"spice"', '"driver":"hda-duplex"'):
                assert want in args, "no %s in QEMU's arguments: %s" % (want, args)
            assert "disable-ticketing" not in args
            live = h.virsh("dumpxml", DOMAIN)
            assert re.search(r"<model type='qxl' ram='65536' vram='32768' "
                             r"vgamem='16384' heads='2' primary='yes'/>", live), \
                "live XML video: %s" % re.findall(r"<model type='qxl'[^>]*>", live)

            addr, port, pw = _spice_uri(h)
            assert pw is None, "domdisplay showed the password without asking"
            addr2, port2, pw = _spice_uri(h, password=True)
            assert (addr2, port2, pw) == (addr, port, PASSWORD), \
                "domdisplay --include-password: %s" % ((addr2, port2, pw),)
            with in_netns(h.netns):
                # No password, a wrong one: refused.
                for bad in (None, "wrong"):
                    c = _client(addr, port, bad)
                    try:
                        c.wait_for(lambda: c.errors, 20, "refusal of password %r" % bad)
                        assert any("AUTH" in e for _, e in c.errors), \
                            "password %r: %s" % (bad, c.errors)
                        assert not c.primaries
                    finally:
                        c.disconnect()
                client = _client(addr, port, pw, audio=True)
                try:
                    _wait_banner(serial, client, logdir)
                    shot = _wait_same_picture(h, client, logdir)
                    bad = banner_faults(shot)
                    assert not bad, "virsh screenshot: " + "; ".join(bad[:5])
                    # SPICE audio: playback and record channels linked
                    # (query-spice: 5 playback, 6 record).
                    client.wait_for(lambda: {5, 6} <= {c["channel-type"] for c in
                                                       _channels(h)}, 20,
                                    "the audio channels in query-spice")
                finally:
                    _close_client(client, logdir)
        finally:
            serial.close()




@pytest.mark.timeout(330)
def test_libvirt_agent(build, agent_guest_dir, logdir):
    """The agent guest without a password: the client sees the picture
    (the same as virsh screenshot) and the agent."""
    guest = agent_guest_dir
    with Hosts(logdir) as hosts:
        h = hosts[0]
        _define_start(h, domain_xml(
            DOMAIN, build.qemu, guest, memory_mib=768, append="agent=virtio",
            video={"ram": 65536, "vram": 65536, "vgamem": 16384, "heads": 1},
            spice=PLAIN_OPTS, disk=os.path.join(guest, "rootfs.ext4")), logdir)
        serial = Serial(os.path.join(logdir, "serial.log"))
        try:
            serial.connect(_serial_path(h))
            args = " ".join(_qemu_args(h))
            assert "disable-ticketing=on" in args and "image-compression=off" in args \
                and "streaming-video=off" in args, args
            addr, port, pw = _spice_uri(h, password=True)
            assert pw is None
            with in_netns(h.netns):
                client = _client(addr, port)
                try:
                    serial.wait("GUEST: ready", 240, pump=client.pump)
                    client.wait_for(lambda: client.agent_connected, 60,
                                    "the agent connected")
                    client.wait_for(lambda: client.mouse_mode == SPICE_MOUSE_MODE_CLIENT,
                                    30, "client mouse mode")
                    # X paints its root window a known colour.
                    serial.shell("DISPLAY=:0 xsetroot -solid '#203040' && "
                                 "echo ROOT""-PAINTED")
                    serial.wait("ROOT-PAINTED", 30, pump=client.pump)
                    deadline = time.monotonic() + 60
                    while True:
                        shot = _wait_same_picture(h, client, logdir, timeout=60)
                        w, hgt, rgb = shot
                        mid = (hgt // 2 * w + w // 2) * 3
                        if tuple(rgb[mid:mid + 3]) == (0x20, 0x30, 0x40):
                            break
                        assert time.monotonic() < deadline, \
                            "X's root window is %s, not (32, 48, 64), on the " \
                            "screen" % (tuple(rgb[mid:mid + 3]),)
                        client.pump(0.5)
                finally:
                    client.disconnect()
        finally:
            serial.close()




# -- two hosts: migration ---------------------------------------------------

def _migrate(src, dst, logdir, client, xml=None, timeout=180):
    """virsh migrate --live from src to dst, run on src (where its
    libvirtd listens on TCP); xml: the domain XML for dst.  The client's
    main loop runs meanwhile: it must answer spice-server's "migration
    begins" and connect to the destination while the VM moves."""
    args = ["virsh", "-c", src.tcp_uri, "migrate", "--live", "--verbose",
            "--persistent", "--undefinesource"]
    if xml:
        path = os.path.join(logdir, "migrate-to-%s.xml" % dst.name)
        with open(path, "w") as f:
            f.write(xml)
        args += ["--xml", path, "--persistent-xml", path]
    args += [DOMAIN, dst.tcp_uri]
    start = time.monotonic()
    out = open(os.path.join(logdir, "virsh-migrate.log"), "a+")
    out.write("$ %s\n" % " ".join(args))
    out.flush()
    p = subprocess.Popen(["ip", "netns", "exec", src.netns] + args,
                         stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT)
    try:
        while p.poll() is None:
            if time.monotonic() - start > timeout:
                raise AssertionError("virsh migrate %s -> %s still running "
                                     "after %ds" % (src.name, dst.name, timeout))
            client.pump(0.05)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        out.seek(0)
        text = out.read()
        out.close()
    assert p.returncode == 0, "virsh migrate %s -> %s failed: %s" % (
        src.name, dst.name, text.strip().splitlines()[-1:])
    return time.monotonic() - start


def _hop(ours, src, dst, client, serial, logdir, emulator, xml=None):
    """Move the running domain from src to dst while the client is
    attached; check it followed and sees the guest go on drawing there."""
    client.migration_states.clear()
    took = _migrate(src, dst, logdir, client, xml)
    assert DOMAIN not in src.virsh("list", "--name"), \
        "the domain still runs on %s" % src.name
    running = dst.virsh("domstate", DOMAIN).strip()
    assert running == "running", "on %s the domain is %s" % (dst.name, running)
    assert emulator in " ".join(_qemu_args(dst)), \
        "%s does not run %s" % (dst.name, emulator)
    label = "ours" if emulator == ours else "stock"
    job = dst.virsh("domjobinfo", "--completed", DOMAIN, check=False).stdout
    downtime = re.search(r"Total downtime:\s*(\d+)\s*ms", job)
    with open(os.path.join(logdir, "hops.txt"), "a") as f:
        f.write("%s -> %s (%s): virsh migrate %.1fs, downtime %s ms, client %s\n"
                % (src.name, dst.name, label, took,
                   downtime.group(1) if downtime else "?",
                   client.migration_states))
    if xml:
        persistent = dst.virsh("dumpxml", "--inactive", DOMAIN)
        assert "<emulator>%s</emulator>" % emulator in persistent, \
            "%s's definition of the domain has another emulator" % dst.name
    # The client followed: its move ended ("none") and it is on the
    # destination's QEMU.  It moves seamlessly ("migrating": connected to
    # the destination while the VM moves) when it has linked all its
    # channels there before the migration ends; when QEMU is faster (a
    # small idle guest moves in under a second here) or the client slow,
    # spice-server tells it to reconnect after the move instead
    # ("switching").  Stock QEMU does the same; hops.txt shows which it was.
    client.wait_for(lambda: client.migration_states[-1:] == ["none"], 30,
                    "the end of the client's move (states %s)"
                    % client.migration_states)
    client.wait_for(lambda: len(_channels(dst)) >= 4, 30,
                    "the client's channels on %s's QEMU (query-spice)" % dst.name)
    # The guest draws on the destination; the client sees it.
    serial.connect(_serial_path(dst))
    inv = client.invalidates
    serial.shell("echo on-%s > /dev/tty1; echo DREW-ON""-%s" % (dst.name, dst.name))
    serial.wait("DREW-ON-%s" % dst.name, 30, pump=client.pump)
    client.wait_for(lambda: client.invalidates > inv, 30,
                    "drawing on %s" % dst.name)
    shot = _wait_same_picture(dst, client, logdir, what="on %s: " % dst.name)
    bad = banner_faults(shot)
    assert not bad, "banner on %s: %s" % (dst.name, "; ".join(bad[:5]))
    errors = [e for e in client.errors]
    assert not errors, "the client's channels failed: %s" % errors


def _migration_test(build, guest_dir, logdir, first_emulator, hops):
    """Define and start the domain on host a with first_emulator, attach a
    client, then make the hops: (from, to, emulator on arrival)."""
    guest = guest_dir
    if os.path.exists(os.path.join(logdir, "hops.txt")):
        os.unlink(os.path.join(logdir, "hops.txt"))
    with Hosts(logdir, two=True) as hosts:
        a = hosts[0]
        xml = domain_xml(DOMAIN, first_emulator, guest, memory_mib=256,
                         video=VIDEO, password=PASSWORD, spice=LOSSLESS_OPTS)
        _define_start(a, xml, logdir)
        serial = Serial(os.path.join(logdir, "serial.log"))
        try:
            serial.connect(_serial_path(a))
            addr, port, pw = _spice_uri(a, password=True)
            with in_netns(a.netns):
                client = _client(addr, port, pw)
                try:
                    _wait_banner(serial, client, logdir)
                    _wait_same_picture(a, client, logdir)
                    current = first_emulator
                    for src, dst, emulator in hops:
                        src, dst = hosts[src], hosts[dst]
                        new = None
                        if emulator != current:
                            # The source's live XML with another emulator.
                            new = set_emulator(src.virsh(
                                "dumpxml", "--migratable", "--security-info",
                                DOMAIN), emulator)
                        _hop(build.qemu, src, dst, client, serial, logdir, emulator, new)
                        current = emulator
                finally:
                    _close_client(client, logdir)
        finally:
            serial.close()


@pytest.mark.timeout(200)
def test_libvirt_migrate(build, guest_dir, logdir):
    """Our QEMU on both hosts: a -> b -> a, the client following."""
    ours = build.qemu
    _migration_test(build, guest_dir, logdir, ours,
                    [(0, 1, ours), (1, 0, ours)])


@pytest.mark.timeout(200)
def test_libvirt_migrate_stock_to_ours(build, guest_dir, stock_qemu, logdir):
    """Stock QEMU on host a to ours on host b (virsh migrate --xml), and
    back to stock, the client following."""
    stock = stock_qemu
    _migration_test(build, guest_dir, logdir, stock,
                    [(0, 1, build.qemu), (1, 0, stock)])




# -- one host: switching emulators ------------------------------------------

def _restored_guest_draws(h, serial, logdir, tag):
    """After a restore: the guest's shell answers, its qxl driver draws the
    banner again and a new client sees it, as virsh screenshot does.

    (What the guest drew before the save is not on the screen after the
    restore, with stock QEMU as with ours: libvirt pauses the VM before
    saving it, and a paused QXL device's memory lacks what spice-server had
    not rendered yet; virsh screenshot of a paused domain shows the same.)"""
    addr, port, _ = _spice_uri(h)
    client = _client(addr, port)
    try:
        serial.shell("dd if=/etc/banner.raw of=/dev/fb0 bs=65536 seek=28 "
                     "2>/dev/null; echo DREW""-%s" % tag)
        serial.wait("DREW-%s" % tag, 30, pump=client.pump)
        client.wait_for(lambda: not banner_faults(client_picture(client)), 30,
                        "the banner drawn %s" % tag)
        _wait_same_picture(h, client, logdir, what="%s: " % tag)
    finally:
        _close_client(client, logdir, "client-%s.png" % tag)


@pytest.mark.timeout(200)
def test_libvirt_switch_one_host(build, guest_dir, stock_qemu, logdir):
    """One host: stock QEMU -> ours -> stock with virsh save / restore
    --xml (virsh migrate to the same host is refused)."""
    guest = guest_dir
    stock = stock_qemu
    ours = build.qemu
    if os.path.exists(os.path.join(logdir, "switches.txt")):
        os.unlink(os.path.join(logdir, "switches.txt"))
    with Hosts(logdir) as hosts:
        h = hosts[0]
        _define_start(h, domain_xml(DOMAIN, stock, guest, memory_mib=256,
                                    video=VIDEO, spice=PLAIN_OPTS), logdir)
        serial = Serial(os.path.join(logdir, "serial.log"))
        try:
            serial.connect(_serial_path(h))
            with in_netns(h.netns):
                addr, port, _ = _spice_uri(h)
                client = _client(addr, port)
                try:
                    _wait_banner(serial, client, logdir)
                finally:
                    client.disconnect()
                p = h.virsh("migrate", "--live", DOMAIN, h.uri, check=False)
                assert p.returncode != 0 and \
                    "Attempt to migrate guest to the same host" in p.stderr, \
                    "virsh migrate to the same host: %s" % (p.stderr or p.stdout)
                image = "/var/lib/libvirt/switch.save"     # inside the host
                for emulator, tag in ((ours, "ours"), (stock, "stock")):
                    start = time.monotonic()
                    h.virsh("save", DOMAIN, image, "--running")
                    xml = set_emulator(h.virsh("save-image-dumpxml", image,
                                               "--security-info"), emulator)
                    path = os.path.join(logdir, "restore-%s.xml" % tag)
                    with open(path, "w") as f:
                        f.write(xml)
                    h.virsh("restore", image, "--xml", path, "--running")
                    took = time.monotonic() - start
                    # The definition too, for the next start.
                    h.virsh("define", path)
                    os.unlink(h.path(image))
                    with open(os.path.join(logdir, "switches.txt"), "a") as f:
                        f.write("to %s: save + restore %.1fs\n" % (tag, took))
                    assert emulator in " ".join(_qemu_args(h)), \
                        "the restored domain does not run %s" % emulator
                    assert "<emulator>%s</emulator>" % emulator in \
                        h.virsh("dumpxml", "--inactive", DOMAIN)
                    serial.connect(_serial_path(h))
                    _restored_guest_draws(h, serial, logdir, "on-" + tag)
        finally:
            serial.close()


