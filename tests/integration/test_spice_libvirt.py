"""libvirt's capability probe of our binary and of stock QEMU 10.0: the same
`virsh domcapabilities` and the same capability flags.  Both are built
with OpenGL, as Debian's package; a stock build without it lacks exactly
what OpenGL adds (libvirt finds gl and rendernode in
query-command-line-options, and the egl-headless display), which is then
added to stock's answer to make Debian's.  libvirt 9.0's embedded QEMU
driver (qemu:///embed) probes each binary in a private root, with no
daemon."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

OPENGL_FLAGS = {"spice-gl", "spice-rendernode", "egl-headless",
                "egl-headless.rendernode"}
OPENGL_GRAPHICS = "        <value>egl-headless</value>\n"


def _probe(binary, logdir, who):
    # A short root: libvirt puts QMP's Unix socket under it.
    root = tempfile.mkdtemp(prefix="lv-")
    try:
        return _probe_in(binary, root, logdir, who)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _probe_in(binary, root, logdir, who):
    p = subprocess.run(
        ["virsh", "-c", "qemu:///embed?root=%s" % root, "domcapabilities",
         "--emulatorbin", binary, "--arch", "x86_64", "--machine", "q35",
         "--virttype", "qemu"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "virsh domcapabilities for %s: %s" % (
        binary, p.stderr)
    domcaps = p.stdout.replace(binary, "EMULATOR")
    caps = glob.glob(os.path.join(root, "cache", "qemu", "capabilities",
                                  "*.xml"))
    assert len(caps) == 1, caps
    with open(caps[0]) as f:
        text = f.read()
    for name, data in (("domcapabilities", domcaps), ("qemucaps", text)):
        with open(os.path.join(logdir, "%s-%s.xml" % (who, name)), "w") as f:
            f.write(data)
    flags = set(re.findall(r"<flag name='([^']+)'/>", text))
    return domcaps, flags


@pytest.mark.timeout(240)
def test_spice_libvirt_capabilities_as_stock(build, stock_qemu, logdir):
    if not shutil.which("virsh"):
        pytest.skip("needs virsh (libvirt-clients, "
                    "libvirt-daemon-driver-qemu)")
    ours = _probe(os.path.realpath(build.qemu), logdir, "ours")
    stock = _probe(os.path.realpath(stock_qemu), logdir, "stock")
    debian_domcaps, debian_flags = stock
    if "spice-gl" not in stock[1]:
        # Stock built without OpenGL: what Debian's build adds.
        debian_flags = stock[1] | OPENGL_FLAGS
        debian_domcaps = stock[0].replace(
            "        <value>spice</value>\n",
            "        <value>spice</value>\n" + OPENGL_GRAPHICS)
    assert ours[0] == debian_domcaps, "domcapabilities differ; see %s" % \
        logdir
    assert "<value>spice</value>" in ours[0]
    assert ours[1] == debian_flags, "flags: ours only %s, Debian's only %s" \
        % (sorted(ours[1] - debian_flags), sorted(debian_flags - ours[1]))
    for flag in ("spice", "qxl", "spice-gl",
                 "spice-rendernode"):
        assert flag in ours[1], flag
