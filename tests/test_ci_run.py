"""`.ci/run` on a stand-in repository: how it names a failed first command, and what it leaves.

The README's first command is replaced by one that fails the way a real install fails (a full disk,
an unreachable index, a broken release); the second by ``true``. The run must name the cause in
one line (ENVIRONMENT for the machine, DRIFT for a release), exit non-zero, and remove the fresh
environment it made (each left behind holds ~7 GB of CUDA torch).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or sys.platform == "win32",
                                reason=".ci/run is a bash script for Linux CI")


def run_ci(tmp_path: Path, first: str, second: str = "true") -> tuple[subprocess.CompletedProcess, Path]:
    repo, scratch = tmp_path / "repo", tmp_path / "tmp"
    (repo / ".ci").mkdir(parents=True)
    scratch.mkdir()
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    (repo / ".ci" / "constraints.txt").write_text("pip==0.0.1\n", encoding="utf-8")
    (repo / "README.md").write_text(f"# stand-in\n\n```bash\n{first}\n```\n\n```bash\n{second}\n```\n",
                                    encoding="utf-8")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TMPDIR": str(scratch),
           "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)
    return done, scratch


@pytest.mark.parametrize("log_line, cause", [
    ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",
     "the disk is full"),
    ("WARNING: Retrying after connection broken by 'NewConnectionError(... Temporary failure in name "
     "resolution)'", "the package index could not be reached"),
])
def test_a_machine_fault_is_named_as_such_not_as_drift(tmp_path, log_line, cause):
    done, scratch = run_ci(tmp_path, f"echo \"{log_line}\" >&2; false")
    assert done.returncode == 4, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(".ci/run: ")]
    assert any(line.startswith(".ci/run: ENVIRONMENT: ") and cause in line for line in lines), lines
    assert not any("DRIFT" in line for line in lines)
    assert list(scratch.iterdir()) == []        # the fresh environment is gone


def test_a_broken_release_is_drift_and_the_environment_is_removed(tmp_path):
    done, scratch = run_ci(tmp_path, "echo 'ImportError: cannot import name parse' >&2; false")
    assert done.returncode == 3, done.stderr
    drift = [line for line in done.stderr.splitlines() if line.startswith(".ci/run: DRIFT: ")]
    assert len(drift) == 1 and "pip 0.0.1 -> " in drift[0], done.stderr
    assert list(scratch.iterdir()) == []


def test_the_suites_failure_comes_first(tmp_path):
    done, _ = run_ci(tmp_path, "echo 'No space left on device' >&2; false", second="(exit 7)")
    assert done.returncode == 7
    assert "ENVIRONMENT" in done.stderr


def test_a_working_install_hands_its_python_to_the_suite_and_is_removed(tmp_path):
    fake_doctor = ("printf '#!/bin/sh\\nexit 0\\n' > \"$VIRTUAL_ENV/bin/blindspot\" && "
                   "chmod +x \"$VIRTUAL_ENV/bin/blindspot\"")
    done, scratch = run_ci(tmp_path, fake_doctor,
                           second='"$BLINDSPOT_USER_PYTHON" -c "import sys; assert sys.prefix != sys.base_prefix"')
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DRIFT" not in done.stderr and "ENVIRONMENT" not in done.stderr
    assert list(scratch.iterdir()) == []
