"""Live migration between two VMs (vm.VM), ours or stock QEMU, and the
waits around it; a failure says what each side logged."""
import os
import time


def log_tail(vm, lines=15):
    """The last lines QEMU printed, trace lines of qxl_migrate left out."""
    text = [line for line in vm.log_text().splitlines()
            if "qxl_migrate" not in line]
    return " | ".join(text[-lines:])


def migrate(src, dst, timeout=90):
    """Migrate src to dst (started with -incoming defer) over a Unix
    socket; returns dst's run state once it has loaded."""
    sock = os.path.join(dst.temp_dir, "migrate.sock")
    dst.cmd("migrate-incoming", uri="unix:" + sock)
    src.cmd("migrate", uri="unix:" + sock)
    deadline = time.monotonic() + timeout
    info = {}
    while time.monotonic() < deadline:
        info = src.cmd("query-migrate")
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            time.sleep(0.5)
            raise AssertionError(
                "migration %s: %s; source (%s) said: %s; destination (%s) "
                "said: %s" % (status, info.get("error-desc", info),
                              os.path.basename(src.binary), log_tail(src),
                              os.path.basename(dst.binary), log_tail(dst)))
        time.sleep(0.2)
    else:
        raise AssertionError("migration not completed after %ds: %s"
                             % (timeout, info))
    # The destination has loaded once it leaves "inmigrate".
    deadline = time.monotonic() + 30
    while True:
        if not dst.is_running():
            raise AssertionError("destination QEMU exited (status %s) after "
                                 "migration: %s" % (dst.exitcode(),
                                                    log_tail(dst)))
        st = dst.status()
        if st != "inmigrate":
            return st
        if time.monotonic() > deadline:
            raise AssertionError("destination still in %s 30s after the "
                                 "migration completed: %s" % (st, log_tail(dst)))
        time.sleep(0.2)


def wait_running(vm, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        st = vm.status()
        if st == "running":
            return
        assert time.monotonic() < deadline, \
            "%s not running %ds after migration (%s): %s" % (
                os.path.basename(vm.binary), timeout, st, log_tail(vm))
        time.sleep(0.2)
