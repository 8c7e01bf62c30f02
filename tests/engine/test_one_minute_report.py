"""benchmarks/one_minute's report: the tables and the figure from stored results (no training)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

RESULTS = {
    "curve": {
        "fmd_fov01|200": {"noisy": 33.27, "plain": 38.84, "tta8": 39.17, "best_step": 200, "load": 0.1},
        "fmd_fov01|500": {"noisy": 33.27, "plain": 39.3, "tta4": 39.5, "tta8": 39.6, "load": 9.0},
        "fmd_fov02|500": {"noisy": 35.05, "plain": 39.5, "tta4": 39.7, "tta8": 39.8, "load": 9.0},
    },
    "speed": {"s_per_step": 0.1, "prepare_s": 1.0, "predict_s": {"plain": 2.0, "tta4": 8.0, "tta8": 16.0},
              "load": 0.5, "threads": 2, "date": "2026-12-05 00:00"},
}


def test_the_report_writes_the_curve_between_its_markers(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.one_minute_report import quiet_seconds, render_doc

    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nprose\n<!-- generated:one_minute_curve -->\nold\n"
                   "<!-- /generated:one_minute_curve -->\nmore prose\n")
    render_doc(RESULTS, doc, tmp_path / "one_minute.png")
    text = doc.read_text()
    assert "old" not in text and "prose" in text and "more prose" in text
    # the mean over the fields at 500 steps, and the quiet seconds: 1 + 500 * 0.1 + 16
    assert "| 500 | 2 | 39.40 / 53 | 39.60 / 59 | 39.70 / 67 |" in text
    assert quiet_seconds(RESULTS, 500, "tta8") == 67.0
    assert "0.100 s a training step" in text  # the speed block was added at the end
    assert (tmp_path / "one_minute.png").stat().st_size > 0


def test_another_learning_rate_is_set_beside_the_default(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.one_minute_report import lr_table

    assert "no run at another learning rate" in lr_table(RESULTS)
    results = dict(RESULTS, **{"curve_lr0.004": {"fmd_fov01|500": {"tta4": 39.9},
                                                 "fmd_fov02|500": {"tta4": 39.5}}})
    lines = lr_table(results).splitlines()
    assert "| fmd_fov01 | 500 | 0.004 | 39.90 | 39.50 | +0.40 |" in lines
    assert "| fmd_fov02 | 500 | 0.004 | 39.50 | 39.70 | -0.20 |" in lines
    assert lines[-1] == "| **mean** (2 images) | | | **39.70** | | **+0.10** |"


def test_the_oneshot_table_pairs_alone_and_beside(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.one_minute_report import oneshot_table

    field = {"noisy": 33.0, "steps": 500, "wall_s": 59.0, "psnr": 39.5}
    res = {"oneshot": {"startup_s": 2.0, "fmd_fov01": field, "fmd_fov02": {**field, "psnr": 40.5}},
           "oneshot_busy": {"fmd_fov01": {**field, "steps": 250, "wall_s": 65.0, "psnr": 39.0}}}
    text = oneshot_table(res)
    assert "| **mean, all 2 fields** | **33.00** | **500** | **59.0** | **40.00** | — |" in text
    # the beside row compares the same field alone: 500 / 250 steps, 65 / 59 s
    assert "**mean, the 1 fields measured beside** | **33.00** | **500** | **59.0** | **39.50** | **250**" in text
    assert "**2.00** | **1.10** |" in text and "2.0 s of Python" in text


def test_the_warm_start_table_differences(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.warm_start import table

    res = {"prior|500": {"fmd_a": {"tta4": 40.5}, "fmd_b": {"tta4": 39.0},
                         "set12_a": {"tta4": 29.0, "oneshot": 29.1}},
           "prior_v7|500": {"fmd_a": {"tta4": 40.45}, "set12_a": {"tta4": 28.95, "oneshot": 29.05}},
           "prior_v6|500": {"fmd_a": {"tta4": 40.4}, "set12_a": {"tta4": 28.9, "oneshot": 28.95}},
           "keep1|500": {"fmd_a": {"tta4": 40.3}, "set12_a": {"tta4": 28.75, "oneshot": 28.8}},
           "prior_v5|500": {"fmd_a": {"tta4": 60.0}},  # kept in the results, not in the table
           "prior_v4|500": {"fmd_a": {"tta4": 40.28}},
           "prior_v3q|500": {"fmd_a": {"tta4": 40.25}, "set12_a": {"tta4": 28.5}},
           "prior_v2|500": {"fmd_a": {"tta4": 40.2}},
           "prior_v1|500": {"fmd_a": {"tta4": 40.1}},
           "candidate|500": {"fmd_a": {"tta4": 50.0}},  # a candidate's label: not in the table
           "scratch|500": {"fmd_a": {"tta4": 40.0}, "fmd_b": {"tta4": 39.5}, "fmd_c": {"tta4": 30.0},
                           "set12_a": {"tta4": 28.0}}}
    text = table(res, {"set12_a": 29.5, "fmd_b": 38.0})
    assert "50.00" not in text and "60.00" not in text
    assert "| fmd_a | 500 | 40.00 | 40.10 | 40.20 | 40.25 | 40.28 | 40.30 | 40.40 | 40.45 | 40.50 | — | +0.50 | +0.05 | — | — |" in text
    # no one-shot result recorded: BM3D is compared with the four rotations' result
    assert "| fmd_b | 500 | 39.50 | — | — | — | — | — | — | — | 39.00 | — | -0.50 | — | 38.00 | +1.00 |" in text
    assert "| fmd_c | 500 | 30.00 | — | — | — | — | — | — | — | — | — | — | — | — | — |" in text
    # the arms compare at four rotations; BM3D against the shipped one-shot result (29.1)
    assert "| set12_a | 500 | 28.00 | — | — | 28.50 | — | 28.75 | 28.90 | 28.95 | 29.00 | 29.10 | +1.00 | +0.05 | 29.50 | -0.40 |" in text
    assert "| **mean, fmd** (images measured) | 500 | | | | | | | | | | | **+0.00** (2) | **+0.05** (1) | | **+1.00** (1) |" in text
    assert ("| **mean, set12** (images measured) | 500 | | | | | | | | | | | **+1.00** (1) | **+0.05** (1) | | "
            "**-0.40** (1) |") in text
