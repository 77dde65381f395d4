"""Migration of a running guest with the real qxl driver between two of our
QEMUs: on the destination a SPICE client sees the same picture, and the
guest's driver keeps drawing through the device."""
import os
import time

from guest_display import banner_mismatches
from spice_client import SpiceProbe
from vm import VM


def _wait_status(qmp, want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = qmp.cmd("query-migrate")
        if info.get("status") == want:
            return info
        if info.get("status") == "failed":
            raise AssertionError("migration failed: %s" % info)
        time.sleep(0.2)
    raise AssertionError("migration not %s after %ds: %s" % (want, timeout, info))


def test_qxl_migration_keeps_picture(ctx):
    args = ["-vga", "qxl"]
    src = VM(ctx, "test_qxl_migration_src", args)
    dst = VM(ctx, "test_qxl_migration_dst", args + ["-incoming", "defer"])
    sock = os.path.join(dst.logdir, "migrate.sock")
    with src, dst:
        src.wait_serial("GUEST: ready", 90)
        assert "GUEST: banner drawn" in src.serial_text
        time.sleep(1)
        dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
        src.qmp.cmd("migrate", uri="unix:" + sock)
        _wait_status(src.qmp, "completed", 60)
        deadline = time.monotonic() + 20
        while dst.qmp.cmd("query-status")["status"] != "running":
            assert time.monotonic() < deadline, "destination did not run"
            time.sleep(0.2)

        client = SpiceProbe("127.0.0.1", dst.spice_port).connect()
        try:
            try:
                client.wait_for(lambda: not banner_mismatches(client, 0), 30,
                                "the banner on the destination")
            finally:
                if 0 in client.primaries:
                    client.save_png(0, os.path.join(dst.logdir, "capture.png"))
            # The driver keeps drawing after the move: a console line.
            dst.shell("echo after-migration > /dev/tty1; echo MIGRATED-OK")
            dst.wait_serial("MIGRATED-OK", 20, pump=client.pump)
            inv = client.invalidates
            client.wait_for(lambda: client.invalidates > inv, 20,
                            "drawing on the destination after migration")
        finally:
            client.disconnect()


test_qxl_migration_keeps_picture.timeout = 180
