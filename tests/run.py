#!/usr/bin/python3
"""Run every test of the project and end with one summary line:

    N passed, N failed, N skipped

1. qtests: each binary built from tests/qtest/ runs with our
   qemu-system-x86_64; its TAP output counts test case by test case.
2. integration tests against real peers: each test_* function of
   tests/integration/test_*.py, with its own time limit; logs of each test
   are kept under build/test-logs/<test>/.

Usage: tests/run.py --build BUILD_DIR --qtests "qxl-test ..." [-k SUBSTRING]
                   [--stock STOCK_QEMU]

--stock names stock QEMU 10.0's qemu-system-x86_64 (the peer of the
migration tests; scripts/build-stock-qemu.sh prints it); the tests that
need it are skipped without it.
"""
import argparse
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
sys.path.insert(0, os.path.join(HERE, "guest"))


class Skip(Exception):
    pass


class Context:
    def __init__(self, build, stock_binary=None):
        self.build = build
        self.qemu_binary = os.path.join(build, "qemu-system-x86_64")
        # Stock QEMU 10.0 (tests/run.py --stock), or None.
        self.stock_binary = stock_binary
        self.guest_dir = os.path.join(build, "guest")
        self.logroot = os.path.join(build, "test-logs")
        self.Skip = Skip

    def logdir(self, name):
        d = os.path.join(self.logroot, name)
        os.makedirs(d, exist_ok=True)
        return d


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def record(self, name, status, detail=""):
        if status == "pass":
            self.passed += 1
        elif status == "skip":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(name)
        print("%-4s %s%s" % (status.upper(), name, (": " + detail) if detail else ""),
              flush=True)


TAP_LINE = re.compile(r"^(not ok|ok)\s+\d+\s*(?:-\s*)?(\S*)(.*)$")


def run_qtest(ctx, res, name, pattern):
    binary = os.path.join(ctx.build, "qemu", "tests", "qtest", name)
    logdir = ctx.logdir("qtest-" + name)
    env = dict(os.environ, QTEST_QEMU_BINARY=ctx.qemu_binary,
               G_TEST_DBUS_DAEMON="/bin/true")
    args = [binary, "--tap", "-k"]
    if pattern:
        args += ["-p", pattern] if pattern.startswith("/") else []
    try:
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        out, code = p.stdout, p.returncode
        err = p.stderr
    except subprocess.TimeoutExpired as e:
        out, code, err = (e.stdout or b"").decode(), -1, "timed out after 600s"
    with open(os.path.join(logdir, "output.log"), "w") as f:
        f.write(out + "\n--- stderr ---\n" + err)
    seen = 0
    for line in out.splitlines():
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen += 1
        tname = "qtest %s %s" % (name, m.group(2))
        if "# SKIP" in m.group(3):
            res.record(tname, "skip", m.group(3).split("# SKIP", 1)[1].strip())
        elif m.group(1) == "ok":
            res.record(tname, "pass")
        else:
            res.record(tname, "fail", "see %s/output.log" % logdir)
    if code != 0 and seen == 0 or code < 0:
        res.record("qtest %s" % name, "fail",
                   "exit status %d; see %s/output.log" % (code, logdir))


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_integration(ctx, res, pattern):
    idir = os.path.join(HERE, "integration")
    for fname in sorted(os.listdir(idir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(idir, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if not attr.startswith("test_") or not callable(fn):
                continue
            name = "%s.%s" % (fname[:-3], attr)
            if pattern and pattern not in name:
                continue
            limit = getattr(fn, "timeout", 120)
            start = time.monotonic()
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(limit)
            try:
                fn(ctx)
                status, detail = "pass", ""
            except Skip as e:
                status, detail = "skip", str(e)
            except Timeout:
                status, detail = "fail", "timed out after %ds; logs in %s" % (
                    limit, os.path.join(ctx.logroot, attr))
            except Exception as e:
                status = "fail"
                detail = "%s: %s" % (type(e).__name__, e)
                with open(os.path.join(ctx.logdir(attr), "traceback.txt"), "w") as f:
                    traceback.print_exc(file=f)
            finally:
                signal.alarm(0)
            res.record(name, status, (detail + " " if detail else "") +
                       "(%.1fs)" % (time.monotonic() - start))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--qtests", default="")
    ap.add_argument("-k", dest="pattern", default="",
                    help="run only tests whose name contains this")
    ap.add_argument("--stock", default="",
                    help="stock QEMU 10.0's qemu-system-x86_64 (migration peer)")
    ap.add_argument("--only", choices=["qtest", "integration"], default=None)
    a = ap.parse_args()
    ctx = Context(os.path.abspath(a.build),
                  os.path.abspath(a.stock) if a.stock else None)
    res = Results()
    if a.only in (None, "qtest"):
        for q in a.qtests.split():
            if a.pattern and a.pattern not in q and not a.pattern.startswith("/"):
                continue
            run_qtest(ctx, res, q, a.pattern)
    if a.only in (None, "integration"):
        run_integration(ctx, res, a.pattern)
    if res.failures:
        print("failed: " + ", ".join(res.failures))
    print("%d passed, %d failed, %d skipped" % (res.passed, res.failed, res.skipped))
    return 1 if res.failed or res.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
