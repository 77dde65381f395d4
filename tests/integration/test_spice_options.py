"""-spice options of our SPICE binding (ui/spice-core.c): the same option
list as Debian's packaged QEMU 10.0, every choice of the compression and
streaming options accepted and giving a picture in a real client, a clear
error for every bad value, and -display spice-app starting a viewer."""
import glob
import json
import os
import subprocess
import time

import pytest

from spice_peers import Qemu, client, free_tcp_port, run_to_exit

BASE = "addr=127.0.0.1,disable-ticketing=on"


def _spice_params(binary):
    out = subprocess.run(
        [binary, "-machine", "none", "-nodefaults", "-display", "none",
         "-qmp", "stdio"],
        input='{"execute":"qmp_capabilities"}\n'
              '{"execute":"query-command-line-options",'
              '"arguments":{"option":"spice"}}\n{"execute":"quit"}\n',
        capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        ret = msg.get("return")
        if isinstance(ret, list) and ret and ret[0].get("option") == "spice":
            return ret[0]["parameters"]
    raise AssertionError("no answer to query-command-line-options from %s"
                         % binary)


def test_spice_cmdline_options_as_debian(build, stock_qemu):
    """query-command-line-options for spice: what libvirt probes.  Debian's
    package is stock 10.0 built with OpenGL, which adds gl and rendernode
    (listed first, the list being in reverse order).  A stock build without
    OpenGL lacks exactly those two."""
    ours = _spice_params(build.qemu)
    stock = _spice_params(stock_qemu)
    gl = [{"name": "rendernode", "type": "string"},
          {"name": "gl", "type": "boolean"}]
    debian = stock if stock[:2] == gl else gl + stock
    assert ours == debian, "ours %s\nDebian's %s" % (ours, debian)
    names = [p["name"] for p in ours]
    for opt in ("port", "tls-port", "addr", "ipv4", "ipv6", "unix",
                "password-secret", "disable-ticketing", "sasl",
                "disable-copy-paste", "disable-agent-file-xfer", "x509-dir",
                "x509-key-file", "x509-key-password", "x509-cert-file",
                "x509-cacert-file", "x509-dh-key-file", "tls-ciphers",
                "tls-channel", "plaintext-channel", "image-compression",
                "jpeg-wan-compression", "zlib-glz-wan-compression",
                "streaming-video", "agent-mouse", "playback-compression",
                "seamless-migration", "gl", "rendernode"):
        assert opt in names, "-spice %s missing" % opt


# (options, what the error must say)
BAD = [
    ("image-compression=best",
     ["image-compression=best", "auto_glz, auto_lz, quic, glz, lz, off"]),
    ("jpeg-wan-compression=sometimes",
     ["jpeg-wan-compression=sometimes", "auto, never, always"]),
    ("zlib-glz-wan-compression=yes",
     ["zlib-glz-wan-compression=yes", "auto, never, always"]),
    ("streaming-video=some", ["streaming-video=some", "off, all, filter"]),
    ("port=70000", ["port=70000", "0 to 65535"]),
    ("port=5900,tls-port=99999", ["tls-port=99999", "0 to 65535"]),
    ("port=5900,tls-channel=main", ["tls-channel=main", "tls-port"]),
    ("port=5900,plaintext-channel=video",
     ["plaintext-channel=video", "default, main, display, inputs, cursor"]),
    ("port=5900,password-secret=nosuch", ["password-secret=nosuch"]),
    ("port=5900,ipv4=on,ipv6=on", ["ipv4", "ipv6"]),
    ("unix=on", ["unix=on", "addr"]),
    ("tls-port=5901,x509-dir=/nonexistent",
     ["x509-dir", "/nonexistent/ca-cert.pem"]),
    ("port=5900,disable-ticketing=maybe",
     ["disable-ticketing", "'on' or 'off'"]),
    ("port=5900,colour=blue", ["colour"]),
    ("port=5900,gl=on", ["gl=on", "port"]),
]


def test_spice_bad_values_name_option_and_choices(build):
    """Each bad -spice value ends QEMU with status 1 and a message naming
    the option and, for a choice, the values accepted; never a crash."""
    for opts, want in BAD:
        code, err = run_to_exit(build.qemu, ["-spice", opts])
        assert code == 1, "-spice %s: exit status %d, stderr %r" % (
            opts, code, err)
        for w in want:
            assert w in err, "-spice %s: %r not in %r" % (opts, w, err)


def test_spice_gl_needs_opengl_and_render_node(build):
    """gl=on: refused with port/tls-port (local only, as stock); refused
    with the node it tried when the render node is missing or unusable;
    on a machine with a render node, accepted."""
    code, err = run_to_exit(build.qemu,
                            ["-spice", "port=5900,gl=on"])
    assert code == 1 and "gl=on" in err and "port" in err, err
    code, err = run_to_exit(build.qemu, [
        "-spice", "unix=on,addr=/tmp/x.sock,gl=on,"
        "rendernode=/dev/dri/renderD999"])
    assert code == 1, err
    if "without OpenGL" in err:
        pytest.skip("this build has no OpenGL: " + err.strip())
    assert "cannot open render node /dev/dri/renderD999" in err, err
    nodes = sorted(glob.glob("/dev/dri/renderD*"))
    code, err = run_to_exit(build.qemu, [
        "-spice", "unix=on,addr=/tmp/x.sock,gl=on"])
    if not nodes:
        assert code == 1 and "no DRM render node" in err, err
        # The end-to-end GL path needs a DRM render node.
        pytest.skip("no /dev/dri/renderD* on this machine: option "
                    "handling checked, GL scanout not run")
    assert code == 0 or nodes[0] in err, err


# Every value of each choice option at least once, six QEMUs in all.
CHOICES = [
    ("off", "never", "never", "off"),
    ("auto_glz", "auto", "auto", "all"),
    ("auto_lz", "always", "always", "filter"),
    ("quic", "never", "auto", "off"),
    ("glz", "auto", "always", "all"),
    ("lz", "always", "never", "filter"),
]


def _differing_pixels(w, a, b, skip=frozenset()):
    """Indexes of the pixels where two frames of width w differ (row by
    row: only rows that differ are looked at pixel by pixel)."""
    out = set()
    row = w * 4
    for y in range(len(a) // row):
        ra, rb = a[y * row:(y + 1) * row], b[y * row:(y + 1) * row]
        if ra == rb:
            continue
        out |= {y * w + x for x in range(w)
                if ra[x * 4:x * 4 + 4] != rb[x * 4:x * 4 + 4]} - skip
    return out


def _moving_pixels(frames):
    """Indexes of the pixels that differ between the frames."""
    w, first = frames[0][0], frames[0][2]
    moving = set()
    for f in frames[1:]:
        if f[2] != first:
            moving |= _differing_pixels(w, first, f[2])
    return moving


def _bios_screen(binary, logdir, opts):
    port = free_tcp_port()
    args = ["-vga", "std", "-spice", "port=%d,%s,%s" % (port, BASE, opts)]
    with Qemu(logdir, binary, args) as q:
        info = q.qmp.cmd("query-spice")
        assert info["enabled"] and info["port"] == port, info
        probe = client(port).connect()
        try:
            # SeaBIOS's text screen, once it stopped changing (no boot
            # device: it waits a minute before trying again) but for the
            # blinking text cursor: 15 frames 0.1 s apart where only
            # pixels of one character cell (9x16 at most) change.
            deadline = time.monotonic() + 40
            frames = []
            while time.monotonic() < deadline:
                probe.pump(0.1)
                s = probe.primaries.get(0)
                if not s:
                    continue
                frames = (frames + [(s.width, s.height, s.read())])[-15:]
                if len(frames) < 15 or \
                        len({f[:2] for f in frames}) != 1:
                    continue
                moving = _moving_pixels(frames)
                if len(moving) <= 9 * 16:
                    assert any(frames[-1][2]), "a black screen with " + opts
                    return frames[-1], moving
            raise AssertionError("the screen kept changing with " + opts)
        finally:
            probe.disconnect()


@pytest.mark.timeout(400)
def test_spice_compression_and_streaming_choices(build, logdir):
    """Each image-compression, jpeg-/zlib-glz-wan-compression and
    streaming-video value is accepted and the client gets the same
    picture (all image compressions are lossless; the WAN ones are off on
    a LAN connection)."""
    ref = None
    for img, jpeg, zlib, stream in CHOICES:
        opts = ("image-compression=%s,jpeg-wan-compression=%s,"
                "zlib-glz-wan-compression=%s,streaming-video=%s"
                % (img, jpeg, zlib, stream))
        screen, moving = _bios_screen(build.qemu, logdir, opts)
        if ref is None:
            ref, ref_moving = screen, moving
        assert screen[:2] == ref[:2], "size %s vs %s with %s" % (
            screen[:2], ref[:2], opts)
        # Every pixel but the blinking cursor's.
        skip = moving | ref_moving
        diff = _differing_pixels(screen[0], ref[2], screen[2], skip)
        if diff:
            w = screen[0]
            xs = [p % w for p in diff]
            ys = [p // w for p in diff]
            raise AssertionError(
                "the picture differs with %s: %d pixels in x %d..%d, "
                "y %d..%d" % (opts, len(diff), min(xs), max(xs), min(ys),
                              max(ys)))


VIEWER = """#!/bin/sh
echo "$1" > "%s"
"""


def test_spice_app_starts_viewer(build, logdir):
    """-display spice-app: the desktop's spice+unix handler is started with
    the socket's URI; a client on that socket sees the display, the QMP
    port and the serial console as a port."""
    home = os.path.join(logdir, "xdg")
    apps = os.path.join(home, "data", "applications")
    os.makedirs(apps, exist_ok=True)
    os.makedirs(os.path.join(home, "config"), exist_ok=True)
    run = os.path.join(home, "run")
    os.makedirs(run, mode=0o700, exist_ok=True)
    launched = os.path.join(logdir, "launched-uri")
    if os.path.exists(launched):
        os.unlink(launched)
    viewer = os.path.join(home, "viewer.sh")
    with open(viewer, "w") as f:
        f.write(VIEWER % launched)
    os.chmod(viewer, 0o755)
    with open(os.path.join(apps, "test-viewer.desktop"), "w") as f:
        f.write("[Desktop Entry]\nType=Application\nName=Test viewer\n"
                "Exec=%s %%u\nMimeType=x-scheme-handler/spice+unix;\n"
                "NoDisplay=true\n" % viewer)
    with open(os.path.join(home, "config", "mimeapps.list"), "w") as f:
        f.write("[Default Applications]\n"
                "x-scheme-handler/spice+unix=test-viewer.desktop\n")
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(home, "data"),
               XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_RUNTIME_DIR=run)
    sock = os.path.join(run, "qemu", "appvm", "spice.sock")
    args = [build.qemu, "-machine", "q35", "-nodefaults", "-m", "64M",
            "-net", "none", "-name", "appvm", "-vga", "std",
            "-display", "spice-app", "-serial", "vc"]
    with open(os.path.join(logdir, "qemu.stderr"), "w") as err:
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                stdout=err, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(launched) and time.monotonic() < deadline:
            assert proc.poll() is None, "QEMU exited; see %s" % logdir
            time.sleep(0.1)
        with open(launched) as f:
            uri = f.read().strip()
        assert uri == "spice+unix://" + sock, uri
        probe = client(uri=uri)
        ports = []
        from gi.repository import GObject, SpiceClientGLib

        def new(session, channel):
            if isinstance(channel, SpiceClientGLib.PortChannel):
                GObject.Object.connect(
                    channel, "notify::port-name",
                    lambda ch, p: ports.append(ch.get_property("port-name")))
                SpiceClientGLib.Channel.connect(channel)
        GObject.Object.connect(probe.session, "channel-new", new)
        probe.connect()
        try:
            probe.wait_for(lambda: 0 in probe.primaries, 30, "the display")
            probe.wait_for(lambda: {"org.qemu.monitor.qmp.0",
                                    "org.qemu.console.serial.0"}
                           <= set(ports), 20, "the QMP and serial ports")
        finally:
            probe.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)
    assert not os.path.exists(sock), "the socket outlived QEMU"


@pytest.mark.timeout(120)
def test_spice_gl_scanout_end_to_end(build, logdir):
    """gl=on with a render node: virtio-vga-gl's console (SeaBIOS's screen
    through the 2D path: uploaded into a texture, exported as a dmabuf)
    reaches a local client as a GL scanout, and draws keep coming as the
    client completes them."""
    nodes = sorted(glob.glob("/dev/dri/renderD*"))
    if not nodes:
        pytest.skip("no /dev/dri/renderD* on this machine: the GL "
                    "scanout cannot run here")
    from gi.repository import GObject, SpiceClientGLib
    sock = os.path.join(logdir, "gl.sock")
    args = ["-vga", "none", "-device", "virtio-vga-gl", "-spice",
            "unix=on,addr=%s,disable-ticketing=on,gl=on,rendernode=%s"
            % (sock, nodes[0])]
    with Qemu(logdir, build.qemu, args) as q:
        assert q.qmp.cmd("query-spice")["enabled"]
        probe = client(uri="spice+unix://" + sock)
        seen = {"draws": 0, "scanout": None}

        def draw(channel, x, y, w, h):
            seen["draws"] += 1
            channel.gl_draw_done()

        def scanout(channel, pspec):
            s = channel.get_property("gl-scanout")
            if s:
                seen["scanout"] = (s.fd >= 0, s.width, s.height)

        def new(session, channel):
            if isinstance(channel, SpiceClientGLib.DisplayChannel):
                GObject.Object.connect(channel, "gl-draw", draw)
                GObject.Object.connect(channel, "notify::gl-scanout",
                                       scanout)
        GObject.Object.connect(probe.session, "channel-new", new)
        probe.connect()
        try:
            probe.wait_for(lambda: seen["scanout"] and seen["draws"] >= 2,
                           60, "a GL scanout and draws")
            ok, w, h = seen["scanout"]
            assert ok and w >= 640 and h >= 400, seen
        finally:
            probe.disconnect()
