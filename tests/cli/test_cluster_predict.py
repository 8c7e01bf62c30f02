"""Prediction on a dask.distributed LocalCluster of 2 workers: bit-identical to one process,
for many files and for one image cut into row ranges."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")

from napari_blindspot.files.batch import denoise_files, plan_outputs  # noqa: E402
from napari_blindspot.cli import main  # noqa: E402
from napari_blindspot.files.cluster import denoise_distributed, plan_units  # noqa: E402
from napari_blindspot.engine import TrainConfig, load_model  # noqa: E402
from napari_blindspot.engine.methods import get_method  # noqa: E402
from napari_blindspot.engine.model import DenoisingModel  # noqa: E402
from napari_blindspot.engine.normalization import Normalization  # noqa: E402
from napari_blindspot.io.image import open_image  # noqa: E402
from napari_blindspot.io.tiff import write_tiff  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import torch

    config = TrainConfig(method="n2v2", axes="TYX", unet_features=8, unet_depth=2, device="cpu",
                         tile_size=128).validate()
    torch.manual_seed(0)
    net = get_method(config).build(config, 1, 2, Normalization((50.0,), (10.0,)))
    path = tmp_path_factory.mktemp("dmodel") / "m.safetensors"
    DenoisingModel(config, net, Normalization((50.0,), (10.0,)), 1).save(str(path))
    return path


def test_two_workers_give_bit_identical_results(model, tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for k, shape in enumerate([(3, 90, 100), (2, 520, 300), (2, 64, 64)]):
        p = tmp_path / f"in{k}.tif"
        write_tiff(p, (rng.random(shape) * 100).astype(np.float32), "TYX")
        paths.append(str(p))
    m = load_model(str(model), device="cpu")
    one = plan_outputs(paths, str(tmp_path / "one") + "/", fmt="zarr")
    two = plan_outputs(paths, str(tmp_path / "two") + "/", fmt="tiff")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    for _ in denoise_files(m, one):
        pass
    # small tasks: the big frame is cut into row ranges, the others into groups of frames
    assert len(plan_units(m, m.view(open_image(paths[1]).data, "TYX"), task_pixels=50_000)) > 1
    summary = denoise_distributed(m, two, workers=2, task_pixels=50_000)
    assert summary.ok and len(summary.done) == 3
    for a, b in zip(one, two):
        np.testing.assert_array_equal(np.asarray(open_image(b.outputs["denoised"]).data),
                                      open_image(a.outputs["denoised"]).data[:])


def test_cli_workers_report_a_bad_file(model, tmp_path, capsys):
    write_tiff(tmp_path / "ok.tif", np.random.default_rng(2).random((2, 64, 64)).astype(np.float32), "TYX")
    write_tiff(tmp_path / "wrong.tif", np.zeros((2, 3, 64, 64), np.float32), "TCYX")  # 3 channels
    rc = main(["denoise", str(tmp_path / "ok.tif"), str(tmp_path / "wrong.tif"), "--model", str(model),
               "-o", str(tmp_path / "out"), "--workers", "2"])
    err = capsys.readouterr().err
    assert rc == 1 and (tmp_path / "out" / "ok_denoised.tif").is_file(), err
    assert "Denoised 1 of 2 file(s)" in err and "the image has 3" in err
