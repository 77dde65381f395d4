"""Fixtures of the integration tests: the guests, qemu-img, and new_vm,
which makes the test's VMs (vm.VM, QEMU's QEMUMachine with our guest) and
shuts down whatever is left of them when the test ends."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "guest"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # After tests/conftest.py's, which finds the build.  vm.py is built on QEMU's qemu.machine: import it from the QEMU tree
    # the build was configured with.
    config.build_tree.use_qemu_python()


def _guest(path, make_target):
    if not os.path.exists(os.path.join(path, "vmlinux")):
        pytest.fail("no guest in %s: run make %s" % (path, make_target),
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def guest_dir(build):
    """The test guest (scripts/build-guest.sh): kernel and initramfs."""
    return _guest(build.guest, "guest")


@pytest.fixture(scope="session")
def agent_guest_dir(build):
    """The agent guest (scripts/build-agent-guest.sh): Debian with
    spice-vdagent and Xorg on rootfs.ext4."""
    return _guest(build.agent_guest, "agent-guest")


@pytest.fixture(scope="session")
def qemu_img(build, pytestconfig):
    """Our build's qemu-img, or stock QEMU's."""
    stock = pytestconfig.getoption("stock")
    for path in (build.qemu_img,
                 os.path.join(os.path.dirname(stock), "qemu-img") if stock else ""):
        if path and os.access(path, os.X_OK):
            return path
    pytest.skip("no qemu-img (ninja -C build/qemu qemu-img)")


@pytest.fixture
def new_vm(build, guest_dir, logdir):
    """new_vm(args, name=None, binary=None, **kw): a vm.VM of the test
    guest on our QEMU (or `binary`), not started yet, logging to the
    test's log folder (its sub-folder `name` if given); see vm.VM for kw."""
    from vm import VM

    vms = []

    def make(args, name=None, binary=None, **kw):
        kw.setdefault("guest_dir", guest_dir)
        vm = VM(binary or build.qemu, os.path.join(logdir, name) if name else logdir,
                args, **kw)
        vms.append(vm)
        return vm

    yield make
    for vm in vms:
        vm.shutdown()
