"""Real guest (Linux qxl DRM driver) + real SPICE client (spice-gtk)."""
import pytest

from guest_display import boot_and_capture
from vm import AGENT_ARGS


@pytest.mark.timeout(150)
def test_qxl_vga_banner_reaches_client(new_vm):
    """The guest's qxl driver binds to qxl-vga; the banner it draws into its
    framebuffer reaches a SPICE client pixel-exact."""
    serial, client = boot_and_capture(new_vm, ["-vga", "qxl"] + AGENT_ARGS)
    assert (0, 1024, 768) in client.primary_history
