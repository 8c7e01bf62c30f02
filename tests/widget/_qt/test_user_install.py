"""The widget trains and denoises in the environment the README's first command makes.

Users get the default torch build (on Linux the CUDA build, with triton), not the small CPU
build the test environment pins.  ``.ci/run`` runs the README's first command in a fresh
virtual environment and points ``BLINDSPOT_USER_PYTHON`` at its interpreter; this test then
runs ``tools/smoke_widget.py`` there, under this session's display (Xvfb with Mesa, whose LLVM
made training crash with triton before ``engine/system/native_libs.py``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

USER_PYTHON = os.environ.get("BLINDSPOT_USER_PYTHON")
SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "smoke_widget.py"

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(not USER_PYTHON, reason="BLINDSPOT_USER_PYTHON is not set: .ci/run sets it to "
                                              "the environment the README's first command makes"),
]


def test_widget_trains_and_denoises_with_the_users_torch_build():
    env = dict(os.environ)
    for name in ("PYTHONPATH", "QT_API", "PYTEST_QT_API"):  # the user environment picks its own
        env.pop(name, None)
    proc = subprocess.run([USER_PYTHON, str(SCRIPT), "--methods", "n2v2,hqssl"], env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "ok   n2v2 on cpu" in proc.stdout and "ok   hqssl on cpu" in proc.stdout, out[-4000:]
