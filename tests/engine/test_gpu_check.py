"""The GPU check (engine/system/gpu_check.py, `blindspot doctor`) on a machine without a GPU: the CPU
part runs, and the comparison logic, with the CPU in bfloat16 standing in for a GPU."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
import torch

from napari_blindspot.cli import main
from napari_blindspot.engine.system import device as device_module
from napari_blindspot.engine.system import gpu_check
from napari_blindspot.engine.system.gpu_check import (TOLERANCES, Target, compare_losses,
                                               compare_predictions)
from napari_blindspot.engine.system.native_libs import guard_plan

SMALL = dict(unet_features=8, hq_features=4, hq_depth=2, patch_size=32, batch_size=4, num_threads=1)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny_data():
    return gpu_check.check_data(frames=2, size=64)


def test_compare_predictions_within_and_beyond_tolerance():
    rng = np.random.default_rng(0)
    ref = rng.normal(100, 10, (2, 32, 32)).astype(np.float32)
    tol = TOLERANCES["bfloat16"]
    ok, figures = compare_predictions(ref, ref + 0.01, tol, scale=10.0)
    assert ok and figures["max_diff"] == pytest.approx(0.001, rel=1e-3)
    bad = ref.copy()
    bad[0, 0, 0] += 5.0  # one pixel half a standard deviation off
    ok, figures = compare_predictions(ref, bad, tol, scale=10.0)
    assert not ok and figures["max_diff"] == pytest.approx(0.5, rel=1e-3)
    ok, _ = compare_predictions(ref, ref + 0.5, tol, scale=10.0)  # a bias of 0.05 std everywhere
    assert not ok
    nan = ref.copy()
    nan[1, 2, 3] = np.nan
    assert not compare_predictions(ref, nan, tol, scale=10.0)[0]
    assert not compare_predictions(ref, ref[:1], tol, scale=10.0)[0]
    assert not compare_predictions(ref, ref + 0.05, TOLERANCES["float32"], scale=10.0)[0]


def test_compare_losses():
    ref = {10: 0.5, 20: 0.4, 30: -0.02}
    tol = TOLERANCES["tf32"]
    assert compare_losses(ref, {10: 0.5001, 20: 0.4002, 30: -0.021}, tol)[0]
    assert not compare_losses(ref, {10: 0.5, 20: 0.45, 30: -0.02}, tol)[0]
    assert not compare_losses(ref, {10: 0.5, 20: 0.4}, tol)[0]  # a step missing
    assert not compare_losses(ref, {10: 0.5, 20: float("nan"), 30: -0.02}, tol)[0]


def test_targets_and_precisions(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    assert Target(CPU, True).precision == "float32"
    if not torch.cuda.is_available():
        assert gpu_check.default_targets() == []
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    assert Target(CPU, True).precision == "bfloat16"
    assert Target(CPU, True) in gpu_check.default_targets()


def test_facts_name_the_build_and_the_triton_guard():
    facts = gpu_check.facts()
    text = "\n".join(f"{c.name}: {c.detail}" for c in facts)
    assert torch.__version__ in text and "device cpu" in text and "bfloat16" in text
    assert ("CPU only" in text) == (not torch.version.cuda and not getattr(torch.version, "hip", None)
                                    and not torch.backends.mps.is_built())
    assert "triton" in text
    assert guard_plan()  # says something on every platform


def test_cpu_bfloat16_stands_in_for_a_gpu(monkeypatch, tiny_data):
    """Every method on the CPU in float32 and in bfloat16 (the GPUs' mixed precision): the
    checks pass with the tolerances, and fail when bfloat16 is judged with float32's."""
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    seen = []
    checks = gpu_check.run_checks(targets=[Target(CPU, True)], steps=12, progress=seen.append,
                                  data=tiny_data, **SMALL)
    assert seen == checks
    runs = [c for c in checks if c.passed is not None]
    assert len(runs) == 2 * len(gpu_check.method_names())
    assert all(c.passed for c in runs), [(c.name, c.detail) for c in runs if not c.passed]
    compared = [c for c in runs if "vs the CPU" in c.name]
    assert all(0 < c.figures["max_diff"] <= TOLERANCES["bfloat16"].max_diff for c in compared)
    assert any(c.figures["max_diff"] > TOLERANCES["float32"].max_diff for c in compared)
    assert gpu_check.summary(checks) == (len(runs), 0)


def test_doctor_command_reports_the_cpu_part(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    small = gpu_check.check_data(frames=2, size=64)
    monkeypatch.setattr(gpu_check, "run_checks",
                        functools.partial(gpu_check.run_checks, data=small, **SMALL))
    out = tmp_path / "doctor.json"
    rc = main(["doctor", "--methods", "n2v2,hqssl", "--steps", "3", "--json", str(out)])
    text = capsys.readouterr().out
    if torch.cuda.is_available():  # pragma: no cover - a GPU machine checks the GPU too
        assert "cuda:0" in text
    else:
        assert rc == 0
        assert "PASS  n2v2 on the CPU (float32)" in text and "PASS  hqssl on the CPU" in text
        # the software report (versions, round trips) and the two CPU training checks
        assert re.search(r"All \d+ checks passed; no accelerator here: only the CPU was checked\.", text)
        assert "PASS  bioimage.io export round trip" in text or "bioimage.io export round trip: skipped" in text
    assert "torch: torch " in text and "triton:" in text
    report = json.loads(out.read_text())
    assert report["failed"] == 0 or torch.cuda.is_available()
    assert not list(tmp_path.glob("*.partial"))


def test_doctor_refuses_unknown_methods(capsys):
    assert main(["doctor", "--methods", "n2v3"]) == 2
    assert "unknown method(s) n2v3" in capsys.readouterr().err
