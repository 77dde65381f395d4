"""Migration of a running guest with the real qxl driver between two of our
QEMUs: on the destination a SPICE client sees the same picture, and the
guest's driver keeps drawing through the device."""
import os
import time

import pytest

from guest_display import banner_mismatches
from migration import migrate, wait_running
from spice_client import SpiceProbe


@pytest.mark.timeout(180)
def test_qxl_migration_keeps_picture(new_vm):
    args = ["-vga", "qxl"]
    src = new_vm(args, name="src")
    dst = new_vm(args + ["-incoming", "defer"], name="dst")
    with src, dst:
        src.wait_serial("GUEST: ready", 90)
        assert "GUEST: banner drawn" in src.serial_text
        time.sleep(1)
        migrate(src, dst, timeout=60)
        wait_running(dst)

        client = SpiceProbe(dst.spice_uri).connect()
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
