"""pytest set-up shared by the qtests (test_qtests.py) and the integration
tests (integration/): the build under test, stock QEMU, per-test logs.

Options:
  --build-dir DIR  the build to test (default: build/ of this checkout);
                   make check passes its BUILD
  --stock BINARY   stock QEMU 10.0's qemu-system-x86_64, the peer of the
                   migration tests (scripts/build-stock-qemu.sh prints it);
                   the tests that need it are skipped without it
  --long           also run the tests marked long (pytest.mark.long: the
                   migration ping-pong runs, make check-migration)

Each test that asks for `logdir` gets an empty BUILD/test-logs/<test>/;
when it fails, pytest's report of the failure is saved there too, as
failure.txt.
"""
import os
import re
import shutil

import pytest

from build_tree import TOP, BuildTree


def pytest_addoption(parser):
    group = parser.getgroup("spice-stack")
    group.addoption("--build-dir", default=os.path.join(TOP, "build"),
                    help="the build to test (default: %(default)s)")
    group.addoption("--stock", default="", metavar="BINARY",
                    help="stock QEMU 10.0's qemu-system-x86_64, the peer "
                    "of the migration tests (scripts/build-stock-qemu.sh)")
    group.addoption("--long", action="store_true",
                    help="run the tests marked long too (make "
                    "check-migration)")


def pytest_configure(config):
    config.build_tree = BuildTree(config.getoption("build_dir"))


def pytest_collection_modifyitems(config, items):
    if config.getoption("long"):
        return
    skip = pytest.mark.skip(reason="long: runs with --long (make check-migration)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def build(pytestconfig):
    """The BuildTree under test."""
    return pytestconfig.build_tree


def _stock(pytestconfig):
    """Stock QEMU's binary, or None and why there is none."""
    path = pytestconfig.getoption("stock")
    if not path:
        return None, ("no stock QEMU given (--stock; "
                      "scripts/build-stock-qemu.sh prints it)")
    if not os.access(path, os.X_OK):
        return None, "stock QEMU %s is absent" % path
    return os.path.abspath(path), None


@pytest.fixture(scope="session")
def stock_qemu(pytestconfig):
    """Stock QEMU 10.0's binary; the test is skipped without it."""
    path, why = _stock(pytestconfig)
    if not path:
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def stock_qemu_if_given(pytestconfig):
    """Stock QEMU 10.0's binary, or None: for a test whose own checks run
    without it and that compares with stock when it can."""
    return _stock(pytestconfig)[0]


def log_name(item):
    """The test's folder name under test-logs/: its name, with brackets
    and slashes of parameters turned into dashes."""
    return re.sub(r"[^\w.+-]+", "-", item.name).strip("-")


@pytest.fixture
def logdir(request, build):
    """BUILD/test-logs/<test>/, emptied for this run."""
    path = os.path.join(build.logroot, log_name(request.node))
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    path = getattr(item, "funcargs", {}).get("logdir")
    if report.failed and path and os.path.isdir(path):
        with open(os.path.join(path, "failure.txt"), "a") as f:
            f.write("%s (%s)\n%s\n" % (item.nodeid, report.when,
                                       report.longreprtext))
