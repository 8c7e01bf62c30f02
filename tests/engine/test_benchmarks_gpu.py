"""The GPU session script (benchmarks/gpu.py): its pieces that decide what runs there, checked
here (the whole `run --smoke` takes a minute or two and is run by hand: docs/benchmarks.md)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import gpu

    return gpu


def test_dependencies_follow_the_gpu_machines_markers(tmp_path, monkeypatch):
    gpu = _gpu(monkeypatch)
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("demo-1.0.dist-info/METADATA", "\n".join([
            "Metadata-Version: 2.1", "Name: demo", "Version: 1.0",
            "Requires-Dist: pydantic<=2.14.1,>=2.11",
            "Requires-Dist: win32-setctime>=1.0; sys_platform == 'win32'",
            "Requires-Dist: contextvars==2.4; python_version < '3.7'",
            "Requires-Dist: wandb; extra == 'wandb'",
            "Requires-Dist: typing-extensions>=4; python_version < '3.13'",
        ]))
    assert gpu._requires(wheel) == ["pydantic<=2.14.1,>=2.11", "typing-extensions>=4"]
    assert gpu._name("bioimageio_core<=0.11.0,>=0.9.0") == "bioimageio-core"


def test_steps_are_timed_stopped_and_skipped(tmp_path, monkeypatch):
    gpu = _gpu(monkeypatch)
    monkeypatch.setattr(gpu.Session, "MIN_STEP_S", 0.2)
    monkeypatch.setattr(gpu.tempfile, "tempdir", str(tmp_path))  # its scratch folder: not left in /tmp
    session = gpu.Session(tmp_path, minutes=0.05, smoke=True)  # 3 s for everything
    assert session.tmp.parent == tmp_path
    rc, text = session.step("ok", [sys.executable, "-c", "print('hello')"], 10)
    assert rc == 0 and "hello" in text
    rc, text = session.step("slow", [sys.executable, "-c", "import time; time.sleep(30)"], 1.0)
    assert rc is None and "stopped after 1 s" in text
    session.deadline = 0.0
    assert session.step("late", [sys.executable, "-c", "pass"], 10) == (None, "")
    assert session.results["late"]["skipped"]
    assert session.results["ok"]["exit"] == 0 and session.results["slow"]["exit"] is None
    session.log.close()
    assert "== slow: exit None" in (tmp_path / "gpu.log").read_text()
