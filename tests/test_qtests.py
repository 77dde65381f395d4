"""The qtests as pytest tests: one test per GLib test case.

Each tests/qtest/*-test.c is built, with QEMU's own qtests, into
BUILD/qemu/tests/qtest/ (make qtests).  Its cases are listed with the
binary's -l, and each runs alone: `BINARY --tap -p CASE` (and -s for the
cases below CASE, which -p would run too) against our
qemu-system-x86_64.  Select them as any test, e.g. -k cmd-ring or
-k "qxl-guest-bug-test and ring".  The TAP output and stderr of each case
are kept in BUILD/test-logs/<test>/output.log.
"""
import os
import re
import signal
import subprocess

import pytest

from build_tree import TOP

TAP_LINE = re.compile(r"^(not ok|ok)\s+\d+\s+(\S+)(.*)$")
# A whole qtest binary took up to 600 s in the runner before pytest; a
# case that hangs is stopped after as long.
CASE_TIMEOUT = 600


def qtest_names():
    """The qtests: one binary for each tests/qtest/*-test.c."""
    return sorted(f[:-len(".c")] for f in os.listdir(os.path.join(TOP, "tests", "qtest"))
                  if f.endswith("-test.c"))


def qtest_env(build, stock=""):
    """The environment of a qtest: our QEMU, and stock QEMU 10.0 (--stock)
    for the cases that migrate to and from it."""
    env = dict(os.environ, QTEST_QEMU_BINARY=build.qemu,
               G_TEST_DBUS_DAEMON="/bin/true")
    if stock:
        env["QTEST_QEMU_BINARY_STOCK"] = os.path.abspath(stock)
    return env


class Case:
    def __init__(self, binary, path, below=()):
        self.binary, self.path, self.below = binary, path, list(below)


def list_cases(build, name):
    """The Cases of qtest `name`, or the problem why there are none."""
    binary = os.path.join(build.qtest_dir, name)
    if not os.access(binary, os.X_OK):
        return "%s is not built (make qtests)" % binary
    try:
        p = subprocess.run([binary, "-l"], env=qtest_env(build), timeout=60,
                           capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return "%s -l did not finish" % binary
    paths = [line for line in p.stdout.splitlines()
             if line.startswith("/") and "/subprocess" not in line]
    if p.returncode or not paths:
        return "%s -l failed (status %d): %s" % (binary, p.returncode,
                                                p.stderr[-2000:])
    return [Case(binary, path, [o for o in paths if o.startswith(path + "/")])
            for path in paths]


def pytest_generate_tests(metafunc):
    if "qtest_case" not in metafunc.fixturenames:
        return
    params = []
    for name in qtest_names():
        cases = list_cases(metafunc.config.build_tree, name)
        if isinstance(cases, str):
            params.append(pytest.param(cases, id=name))
            continue
        params += [pytest.param(c, id=name + c.path) for c in cases]
    metafunc.parametrize("qtest_case", params)


def run_case(case, env, logdir):
    """Run one case; (its TAP status line or None, exit status, stderr)."""
    args = [case.binary, "--tap", "-p", case.path]
    for other in case.below:
        args += ["-s", other]
    # A session of its own: on a time limit the whole group goes (the
    # binary's subprocesses; its QEMUs die with their parent).
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(os.path.join(logdir, "output.log"), "w") as f:
        f.write("$ %s\n%s\n--- stderr ---\n%s" % (" ".join(args), out, err))
    for line in out.splitlines():
        m = TAP_LINE.match(line)
        if m and m.group(2) == case.path:
            return m, proc.returncode, err
    return None, proc.returncode, err


@pytest.mark.timeout(CASE_TIMEOUT)
def test_qtest(qtest_case, build, logdir, pytestconfig):
    if isinstance(qtest_case, str):
        pytest.fail(qtest_case, pytrace=False)
    tap, status, err = run_case(qtest_case,
                                qtest_env(build, pytestconfig.getoption("stock")),
                                logdir)
    log = os.path.join(logdir, "output.log")
    tail = "\n".join(err.splitlines()[-20:])
    if tap is None:
        pytest.fail("no TAP result for %s (exit status %d); see %s\n%s"
                    % (qtest_case.path, status, log, tail), pytrace=False)
    if tap.group(1) == "not ok":
        pytest.fail("%s failed; see %s\n%s" % (qtest_case.path, log, tail),
                    pytrace=False)
    if "# SKIP" in tap.group(3):
        pytest.skip(tap.group(3).split("# SKIP", 1)[1].strip())
    if status:
        pytest.fail("%s passed, then the binary exited with status %d; see %s"
                    "\n%s" % (qtest_case.path, status, log, tail), pytrace=False)
