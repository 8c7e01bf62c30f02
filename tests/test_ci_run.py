"""`.ci/run` on a stand-in repository: how it names a failed first command, and what it leaves.

The README's first command is replaced by one that fails the way a real install fails (a full disk,
an unreachable index, a broken release); the second by ``true``. The run must name the cause in
one line (ENVIRONMENT for the machine, DRIFT for a release), exit non-zero, and remove the fresh
environment it made (each left behind holds ~7 GB of CUDA torch), unless told where to keep one.
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


def run_ci(tmp_path: Path, first: str, second: str = "true",
           extra_env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    repo, scratch = tmp_path / "repo", tmp_path / "tmp"
    (repo / ".ci").mkdir(parents=True)
    scratch.mkdir()
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    (repo / ".ci" / "constraints.txt").write_text("pip==0.0.1\n", encoding="utf-8")
    (repo / "README.md").write_text(f"# stand-in\n\n```bash\n{first}\n```\n\n```bash\n{second}\n```\n",
                                    encoding="utf-8")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TMPDIR": str(scratch),
           "HOME": str(tmp_path), **(extra_env or {})}
    done = subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)
    return done, scratch


OFFLINE = ("echo \"WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError("
           "Temporary failure in name resolution)': /simple/torch/\"; "
           "echo 'ERROR: Could not find a version that satisfies the requirement torch (from versions: none)' >&2; "
           "echo 'ERROR: No matching distribution found for torch' >&2; false")


@pytest.mark.parametrize("first, cause", [
    ("echo 'ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device' >&2; "
     "false", "the disk is full"),
    (OFFLINE, "pip could not reach the package index"),
])
def test_a_machine_fault_is_named_as_such_not_as_drift(tmp_path, first, cause):
    done, scratch = run_ci(tmp_path, first)
    assert done.returncode == 75, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(".ci/run: ")]
    assert any(line.startswith(".ci/run: ENVIRONMENT: ") and cause in line for line in lines), lines
    assert not any("DRIFT" in line for line in lines)
    assert list(scratch.iterdir()) == []        # the fresh environment is gone


def failure_cause(tmp_path: Path, log: str, free_gb: str = "50") -> str:
    """``.ci/run``'s own failure_cause, sourced, on a stage-1 log."""
    (tmp_path / "stage1.log").write_text(log, encoding="utf-8")
    script = f'source "{ROOT / ".ci" / "run"}" && failure_cause "{tmp_path / "stage1.log"}" "{free_gb}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def test_failure_cause_reads_what_pip_gave_up_on(tmp_path):
    retry = ("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after "
             "connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='pypi.org', port=443)\")': "
             "/simple/numpy/\n")
    # a blip that pip retried past, then a real failure later (the demo): not the machine's
    assert failure_cause(tmp_path, retry + "Successfully installed numpy-2.4.6\nImportError: boom\n") == ""
    # a release or requirement that does not exist, with the network fine: not the machine's
    assert failure_cause(tmp_path, "ERROR: No matching distribution found for torch==99\n") == ""
    # pip gave up because it was offline
    assert failure_cause(tmp_path, retry + "ERROR: No matching distribution found for numpy\n") == "network"
    assert failure_cause(tmp_path, "OSError: [Errno 122] Disk quota exceeded\n") == "disk"
    # the log may not reach a full disk: the free space says it
    assert failure_cause(tmp_path, "", free_gb="0") == "disk"
    assert failure_cause(tmp_path, "", free_gb="") == ""


def test_sourcing_changes_no_shell_option(tmp_path):
    script = f'set +euo pipefail; before="$-"; source "{ROOT / ".ci" / "run"}"; [ "$-" = "$before" ] && ' \
             '! shopt -oq pipefail && echo same'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "same", done.stderr


def test_a_broken_release_is_drift_and_the_environment_is_removed(tmp_path):
    done, scratch = run_ci(tmp_path, "echo 'ImportError: cannot import name parse' >&2; false")
    assert done.returncode == 3, done.stderr
    drift = [line for line in done.stderr.splitlines() if line.startswith(".ci/run: DRIFT: ")]
    assert len(drift) == 1 and "pip 0.0.1 -> " in drift[0], done.stderr
    assert list(scratch.iterdir()) == []


def test_the_suites_failure_comes_first(tmp_path):  # pytest's own codes (1-5) stay readable
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


def test_an_environment_named_by_the_caller_is_kept(tmp_path):
    keep = tmp_path / "keep" / "user-env"
    fake_doctor = ("printf '#!/bin/sh\\nexit 0\\n' > \"$VIRTUAL_ENV/bin/blindspot\" && "
                   "chmod +x \"$VIRTUAL_ENV/bin/blindspot\"")
    done, scratch = run_ci(tmp_path, fake_doctor, extra_env={"BLINDSPOT_CI_USER_ENV": str(keep)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (keep / "bin" / "python").exists()
    assert list(scratch.iterdir()) == []
