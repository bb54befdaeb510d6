"""The built image boots under qemu-system-aarch64 until kiosk.service reports READY.

Minutes of emulation, so opt-in: runs only with ``KIOSK_QEMU_BOOT=1``, a built image (see
test_image.py) and ``qemu-system-aarch64``; otherwise it skips, saying which is missing.
``image_build/qemu-boot.sh`` boots a copy of the image with one drop-in that runs the kiosk
headless on the simulated board; its ExecStartPost= prints a line only after READY=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = Path(os.environ.get("KIOSK_IMAGE", REPO / "image_build/out/kiosk-rpi4-arm64.img"))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KIOSK_QEMU_BOOT") != "1",
                    reason="qemu boot of the image is opt-in: set KIOSK_QEMU_BOOT=1")
@pytest.mark.skipif(not IMAGE.is_file(), reason=f"no built image at {IMAGE}")
@pytest.mark.skipif(shutil.which("qemu-system-aarch64") is None,
                    reason="qemu-system-aarch64 not installed (apt-get install qemu-system-arm)")
@pytest.mark.timeout(1200)
def test_image_boots_to_kiosk_ready_on_the_simulated_board(tmp_path):
    log = tmp_path / "qemu-boot.log"
    result = subprocess.run([str(REPO / "image_build/qemu-boot.sh"), str(IMAGE)],
                            env=dict(os.environ, KIOSK_QEMU_LOG=str(log)),
                            capture_output=True, text=True, timeout=1100)

    assert result.returncode == 0, result.stderr + log.read_text()[-4000:]
    assert "kiosk.service READY=1 received" in log.read_text(errors="replace")
