"""`blindspot train` and `denoise` on several files: globs, folders, mixed sizes, a bad file
reported while the others go on, outputs planned before any work."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.files.batch import expand_inputs, plan_outputs
from napari_blindspot.cli import main
from napari_blindspot.engine import BlindspotError, load_model
from napari_blindspot.io.image import open_image
from napari_blindspot.io.tiff import write_tiff

TINY = ["--steps", "6", "--patch-size", "32", "--batch-size", "2", "--features", "8"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    rng = np.random.default_rng(0)
    write_tiff(d / "a.tif", rng.poisson(40, (3, 64, 72)).astype(np.uint16), "TYX", dtype=np.uint16,
               pixel_size={"X": 0.3, "Y": 0.3})
    write_tiff(d / "b.tif", rng.poisson(60, (80, 96)).astype(np.uint16), "YX", dtype=np.uint16)
    (d / "broken.tif").write_bytes(b"not a tiff at all")
    (d / "notes.txt").write_text("ignored")
    return d


@pytest.fixture(scope="module")
def model_path(folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    assert main(["train", str(folder / "a.tif"), str(folder / "b.tif"), "--method", "n2v2",
                 "-o", str(path), *TINY]) == 0
    return path


def test_inputs_from_files_folders_and_globs(folder):
    found, problems = expand_inputs([str(folder), str(folder / "a.tif"), str(folder / "*.tif"),
                                     str(folder / "missing.tif"), str(folder / "*.png")])
    assert [p.rsplit("/", 1)[1] for p in found] == ["a.tif", "b.tif", "broken.tif"]
    assert len(problems) == 2 and "no such file" in problems[0] and "matches no" in problems[1]


def test_outputs_are_planned_before_work(folder, tmp_path):
    a, b = str(folder / "a.tif"), str(folder / "b.tif")
    jobs = plan_outputs([a, b], str(tmp_path / "out"), uncertainty=str(tmp_path / "unc"), fmt="zarr")
    assert jobs[0].outputs == {"denoised": str(tmp_path / "out" / "a_denoised.ome.zarr"),
                               "uncertainty": str(tmp_path / "unc" / "a_uncertainty.ome.zarr")}
    assert plan_outputs([a], str(tmp_path / "x.tif"))[0].outputs == {"denoised": str(tmp_path / "x.tif")}
    with pytest.raises(BlindspotError, match="is the input image"):
        plan_outputs([a], a)
    (tmp_path / "other").mkdir()
    write_tiff(tmp_path / "other" / "a.tif", np.zeros((8, 8), np.uint16), "YX")
    with pytest.raises(BlindspotError, match="would both write"):
        plan_outputs([a, str(tmp_path / "other" / "a.tif")], str(tmp_path / "out"))


def test_train_on_several_files_skips_a_bad_one(folder, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    rc = main(["train", str(folder), "--method", "n2v2", "-o", str(out), *TINY])
    err = capsys.readouterr().err
    assert rc == 1 and out.is_file()  # trained on the readable two, and said what was skipped
    assert "skipped" in err and "broken.tif" in err and "one model on 2 images" in err
    model = load_model(str(out), device="cpu")
    a = open_image(folder / "a.tif").data
    b = open_image(folder / "b.tif").data
    pooled = np.concatenate([np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()])
    assert model.normalization.mean[0] == pytest.approx(pooled.mean(), rel=1e-6)


def test_denoise_many_files_reports_the_bad_one_and_summarises(folder, model_path, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["denoise", str(folder / "*.tif"), "--model", str(model_path), "-o", str(out),
               "--format", "zarr"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "[1/3]" in err and "[2/3]" in err and "Failed: " in err
    assert "Denoised 2 of 3 file(s)" in err and "broken.tif" in err.splitlines()[-1]
    model = load_model(str(model_path), device="cpu")
    for name, axes in (("a", "TYX"), ("b", "YX")):
        image = open_image(folder / f"{name}.tif")
        back = open_image(out / f"{name}_denoised.ome.zarr")
        assert back.axes == axes
        np.testing.assert_array_equal(back.data[:], model.predict(image.data, axes)["denoised"])
    assert open_image(out / "a_denoised.ome.zarr").pixel_size["X"] == pytest.approx(0.3)


def test_one_shot_on_several_files_trains_one_model(folder, tmp_path, capsys):
    rc = main(["denoise", str(folder / "a.tif"), str(folder / "b.tif"), "--method", "n2v2",
               "-o", str(tmp_path / "o") + "/", "--dtype", "input", *TINY])
    assert rc == 0
    assert open_image(tmp_path / "o" / "b_denoised.tif").data.dtype == np.uint16
    err = capsys.readouterr().err
    assert "one model on 2 images" in err
    assert "One model for all 2 images" in err and "each with its own command" in err  # and why


def test_paths_are_classified_once_into_a_description(tmp_path):
    from napari_blindspot.files.paths import classify_input, classify_output

    tif = tmp_path / "a.tif"
    tif.write_bytes(b"x")
    store = tmp_path / "b.zarr"
    store.mkdir()
    folder = tmp_path / "dir"
    folder.mkdir()
    kinds = {str(tif): "tiff", str(store): "ome-zarr", str(folder): "folder",
             str(tmp_path / "*.tif"): "pattern", str(tmp_path / "none.tif"): "missing"}
    for path, kind in kinds.items():
        entry = classify_input(path)
        assert (entry.path, entry.kind) == (path, kind)
    assert classify_input(str(tif)).is_image and not classify_input(str(folder)).is_image
    assert classify_output(str(folder)).kind == "folder"
    assert classify_output(str(tmp_path / "new") + "/").is_folder
    assert classify_output(str(tmp_path / "o.ome.zarr")).kind == "ome-zarr"
    assert classify_output(str(tmp_path / "o.tif")).kind == "tiff"
    # expand_inputs and plan_outputs take the descriptions (or plain paths) alike
    entries = [classify_input(p) for p in kinds]
    assert expand_inputs(entries) == expand_inputs(list(kinds))
    out = classify_output(str(tmp_path / "out") + "/")
    assert plan_outputs([str(tif)], out)[0].outputs == plan_outputs([str(tif)], out.path)[0].outputs


def test_one_table_names_the_option_of_each_setting():
    from napari_blindspot.cli.options import option_fields, option_of

    flags = option_of()
    assert flags["learning_rate"] == "--lr" and flags["num_threads"] == "--threads"
    assert flags["hq_features"] == flags["unet_features"] == "--features"
    assert flags["time_budget_s"] == "--minutes"
    assert option_fields()["lr"] == "learning_rate"
    assert all(flags[field].lstrip("-").replace("-", "_") == arg for arg, field in option_fields().items())
