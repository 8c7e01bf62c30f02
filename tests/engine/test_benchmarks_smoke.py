"""The benchmark entry point runs end to end on a tiny input and writes its Markdown report.

Only the plumbing is checked (``--smoke``: one small crop, a few steps, no CAREamics, no BM3D);
the benchmark itself is never part of the test run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SET12 = REPO.parent / "shared" / "data" / "set12" / "01.png"


def test_smoke_run_writes_the_report(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import run

    out = tmp_path / "bench.md"
    results = tmp_path / "results"
    argv = ["--smoke", "--out", str(out), "--results-dir", str(results)]
    if not SET12.is_file():  # shared data absent: the generated fluorescence stack only
        argv += ["--datasets", "fluo"]
    assert run.main(argv) == 0

    text = out.read_text()
    assert text.startswith("# Benchmarks: napari-blindspot vs CAREamics")
    assert "python -m benchmarks.run --smoke" in text
    for heading in ("## Targets", "## Denoising quality", "## Speed", "## Notes"):
        assert heading in text
    assert "napari-blindspot N2V2" in text
    assert "CAREamics N2V2 | not run" in text  # CAREamics is off in smoke mode
    assert "failed:" not in text

    raw = json.loads((results / "results.json").read_text())
    assert raw["settings"]["mode"] == "smoke"
    datasets = raw["quality"]["datasets"]
    assert datasets
    for d in datasets.values():
        ours = d["rows"]["ours:n2v2"]
        for protocol in ("steps", "time"):
            assert ours[protocol]["n"] >= 1 and math.isfinite(ours[protocol]["psnr"])
        assert math.isfinite(d["rows"]["noisy"]["both"]["psnr"])
    speed = raw["speed"]["rows"]["ours:n2v2"]
    assert speed["patches_per_s"] > 0
    assert speed["predict_image"]["mpix_per_s"] > 0
    assert raw["speed"]["preview"]["rows"]["n2v2"]["first_s"] > 0


def test_engine_speed_prints_a_row_per_method_and_variant(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import engine_speed

    assert engine_speed.main(["--methods", "n2v2", "--steps", "2", "--warmup", "1",
                              "--image", "96"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| n2v2 |")]
    assert [r.split("|")[2].strip() for r in rows] == list(engine_speed.VARIANTS)
    # a rate, printed with two decimals: a loaded machine may print 0.00 (not a timed test)
    assert all(float(r.split("|")[4]) >= 0 for r in rows)


def test_hqssl_posterior_check_reports_posterior_and_prior(monkeypatch, capsys):
    import pytest

    if not SET12.is_file():
        pytest.skip("needs ../shared/data")
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import hqssl_posterior_check

    assert hqssl_posterior_check.main(["--data", "set12", "--image", "01", "--crop", "64",
                                       "--seconds", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    header, row = [c.strip() for c in lines[0].split("|")[2:-1]], lines[1].split("|")[2:-1]
    values = dict(zip(header, (float(v) for v in row)))
    assert {"noisy", "prior mean", "posterior, measured curve (default)",
            "posterior, refit after training"} <= set(values)
    assert all(math.isfinite(v) for v in values.values())


def test_streaming_benchmark_cases_and_report(tmp_path, monkeypatch):
    """benchmarks/streaming.py's measuring and reporting, in-process on a tiny stack (the
    real run starts a process per case and a LocalCluster)."""
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import streaming

    from napari_blindspot.engine import TrainConfig
    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.model import DenoisingModel
    from napari_blindspot.engine.normalization import Normalization

    monkeypatch.setattr(streaming, "SIZE", 64)
    config = TrainConfig.for_method("n2v2", axes="TYX", device="cpu", unet_features=8)
    norm = Normalization((50.0,), (12.0,))
    model = tmp_path / "m.safetensors"
    DenoisingModel(config, get_method(config).build(config, 1, 2, norm), norm, 1).save(str(model))
    stack = tmp_path / "s.tif"
    streaming._make_stack(str(stack), 3)
    records = []
    for case in ("memory", "zarr", "tiff"):
        out = tmp_path / case
        out.mkdir()
        rec = streaming.run_case(case, str(model), str(stack), str(out))
        rec["load_before"] = "0"
        records.append(rec)
        assert rec["frames"] == 3 and rec["mp_per_s"] > 0 and rec["working_mb"] >= 0
    assert (tmp_path / "zarr" / "out.ome.zarr").is_dir() and (tmp_path / "tiff" / "out.tif").is_file()
    text = streaming._report(records, None, "python -m benchmarks.streaming --frames 3")
    assert "| 3 | 0 | zarr |" in text and "## Targets" in text and "working memory < 1/4" in text
