"""bioimage.io packages: export passes bioimageio.core's model test, the exported network gives
napari-blindspot's prediction, packages load back (CLI and engine), foreign packages run.

These tests need the ``bioimageio`` extra (bioimageio.spec and bioimageio.core) and are
skipped without it; ``test_bioimageio_missing.py`` checks the behaviour without it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers_bioimageio import foreign_package
from helpers_engine import gaussian_pair, untrained_model
from napari_blindspot.cli import main
from napari_blindspot.engine import DenoisingModel, load_model
from napari_blindspot.io.tiff import write_tiff

core = pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")
from napari_blindspot.engine.bioimageio import export_package  # noqa: E402
from napari_blindspot.engine.bioimageio.foreign import BioimageioModel  # noqa: E402


def _float32(model: DenoisingModel) -> DenoisingModel:
    return DenoisingModel(model.config.replace(mixed_precision=False), model.net, model.normalization,
                          model.channels, model.info)


def _test_tensors(package: Path) -> dict[str, np.ndarray]:
    import io

    with zipfile.ZipFile(package) as z:
        return {n[:-4]: np.load(io.BytesIO(z.read(n))) for n in z.namelist() if n.endswith(".npy")}


CASES = {  # method, image channels, configuration
    "hqssl": ("hqssl", 1, dict(hq_depth=1, noise_model="poisson-gaussian")),
    "hqssl-curve": ("hqssl", 1, dict(hq_depth=1, noise_model="curve")),
    "n2v2-2ch": ("n2v2", 2, dict(unet_depth=1)),
    "hqssl-joint-2ch": ("hqssl", 2, dict(hq_depth=1, channels="joint")),
    # one network per channel
    "n2v2-separate-2ch": ("n2v2", 2, dict(unet_depth=1, channels="separate")),
    "hqssl-separate-2ch": ("hqssl", 2, dict(hq_depth=1, channels="separate")),
    # one noise parameter set per data channel, chosen per folded image
    "hqssl-curve-2ch": ("hqssl", 2, dict(hq_depth=1, noise_model="curve")),
}


def _model(case: str) -> DenoisingModel:
    from helpers_engine import small_config
    from napari_blindspot.engine.config import network_channels
    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.normalization import Normalization

    method, channels, overrides = CASES[case]
    config = small_config(method, axes="CYX" if channels > 1 else "YX", **overrides)
    normalization = Normalization((100.0, 120.0)[:channels], (20.0, 25.0)[:channels])
    torch.manual_seed(0)
    net = get_method(config).build(config, network_channels(config.channels, channels), 2,
                                   normalization)
    return DenoisingModel(config, net, normalization, channels)


@pytest.mark.parametrize("case", list(CASES))
def test_export_passes_bioimageio_core_and_matches_predict(case, tmp_path):
    model = _model(case)
    _, noisy = gaussian_pair((model.channels, 70, 90), seed=2)
    axes = "CYX" if model.channels > 1 else "YX"
    image = noisy if model.channels > 1 else noisy[0]
    result = export_package(model, tmp_path / "m.zip", sample=image, sample_axes=axes)
    # export ran bioimageio.core's own model test (test_model) on the file it then renamed
    assert result.path.is_file() and result.test_status == "passed"
    assert not list(tmp_path.glob("*.partial*"))
    # TorchScript where the traced network reproduces the Python one: the U-Nets and
    # single-channel and separate-channel HQ-SSL; not where the noise model picks parameters
    # per image or the joint-channel covariance maths bakes in shapes
    traceable = (model.channels == 1 or model.config.method != "hqssl"
                 or model.config.channels == "separate")
    assert ("torchscript" in result.weights) == traceable, result.torchscript_note
    if not traceable:
        assert result.torchscript_note.startswith("not included")

    tensors = _test_tensors(result.path)
    x = tensors["test_input"]
    assert x.shape[:2] == (1, model.channels) and x.dtype == np.float32
    crop = x[0] if model.channels > 1 else x[0, 0]
    assert any(np.array_equal(crop, image[..., i:i + crop.shape[-2], j:j + crop.shape[-1]])
               for i in range(70 - crop.shape[-2] + 1) for j in range(90 - crop.shape[-1] + 1))
    want = _float32(model).predict(crop, axes, uncertainty=True)
    np.testing.assert_allclose(tensors["test_output_denoised"][0].reshape(want["denoised"].shape),
                               want["denoised"], rtol=1e-5, atol=1e-3)
    # a consumer running the package (bioimageio.core pads the image by the halo, with the
    # package's padding) gets napari-blindspot's prediction away from the border
    descr = core.load_description(result.path)
    out = core.predict(model=descr, inputs=x)
    halo = descr.outputs[0].axes[-1].halo
    inner = (Ellipsis, slice(halo, -halo), slice(halo, -halo))
    for key, ref in (("denoised", "denoised"), ("uncertainty", "uncertainty")):
        if ref not in want:
            assert key not in [str(t.id) for t in descr.outputs]
            continue
        got = np.asarray(out.members[key].data)[0].reshape(want[ref].shape)
        np.testing.assert_allclose(got[inner], want[ref][inner], rtol=1e-4, atol=1e-3)


def test_package_loads_back_as_the_same_model(tmp_path):
    model = _model("hqssl")
    model.info["steps"] = 7
    _, noisy = gaussian_pair((2, 72, 72), seed=4)
    package = export_package(model, tmp_path / "m.zip", sample=noisy, sample_axes="TYX", test=False).path
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(package).extractall(folder)
    want = model.predict(noisy, "TYX", uncertainty=True)
    for source in (package, folder, folder / "rdf.yaml"):
        back = load_model(source, device="cpu")
        assert isinstance(back, DenoisingModel)
        assert back.config == model.config and back.normalization == model.normalization
        assert back.info["steps"] == 7
        got = back.predict(noisy, "TYX", uncertainty=True)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])


def test_export_without_sample_uses_scaled_synthetic_image(tmp_path):
    model = untrained_model("n2v2", channels=2, unet_depth=1, mean=500.0, std=40.0)
    result = export_package(model, tmp_path / "m.zip", test=False, torchscript=False)
    assert "synthetic" in result.test_input and result.weights == ["pytorch_state_dict"]
    x = _test_tensors(result.path)["test_input"]
    assert x.shape[:2] == (1, 2)
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 500.0, rtol=1e-3)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 40.0, rtol=1e-3)
    with zipfile.ZipFile(result.path) as z:
        readme = z.read("README.md").decode()
        names = set(z.namelist())
    assert "synthetic" in readme and "arxiv.org/abs/2211.08512" in readme
    assert {"cover.png", "rdf.yaml", "weights.pt", "sample_input.tif"} <= names
    assert "weights_torchscript.pt" not in names


def test_3d_model_exports_and_passes(tmp_path):
    model = untrained_model("n2v2", ndim=3, unet_depth=1)
    _, noisy = gaussian_pair((12, 40, 40), seed=5)
    result = export_package(model, tmp_path / "m.zip", sample=noisy, sample_axes="ZYX")
    assert result.test_status == "passed"
    descr = core.load_description(result.path)
    assert [str(a.id) for a in descr.inputs[0].axes] == ["batch", "channel", "z", "y", "x"]


def test_bad_requests_are_refused_and_nothing_is_written(tmp_path):
    from napari_blindspot.engine import BlindspotError

    model = _model("hqssl")
    with pytest.raises(BlindspotError, match="must end in .zip"):
        export_package(model, tmp_path / "m.tar", test=False)
    with pytest.raises(BlindspotError, match="smaller than"):
        export_package(model, tmp_path / "m.zip", sample=np.ones((16, 16), np.float32), sample_axes="YX")
    with pytest.raises(BlindspotError, match="channel"):
        export_package(model, tmp_path / "m.zip", sample=np.ones((2, 64, 64), np.float32),
                       sample_axes="CYX")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_denoise_and_info(tmp_path, capsys):
    model = _model("hqssl")
    model_file, package = tmp_path / "m.safetensors", tmp_path / "m.zip"
    model.save(str(model_file))
    _, noisy = gaussian_pair((2, 64, 64), seed=6)
    image = tmp_path / "noisy.tif"
    write_tiff(image, noisy, "TYX")
    assert main(["export", str(model_file), "-o", str(package), "--sample", str(image),
                 "--author", "A. Person", "--name", "tiny hqssl"]) == 0
    err = capsys.readouterr().err
    assert "model test: passed" in err and "a crop of noisy.tif" in err
    assert main(["export", str(model_file), "-o", str(package)]) == 2
    assert "already exists" in capsys.readouterr().err
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    assert main(["denoise", str(image), "--model", str(model_file), "-o", str(a)]) == 0
    assert main(["denoise", str(image), "--model", str(package), "-o", str(b)]) == 0
    import tifffile

    np.testing.assert_array_equal(tifffile.imread(a), tifffile.imread(b))
    capsys.readouterr()
    assert main(["info", str(package)]) == 0
    assert "method: hqssl" in capsys.readouterr().out
    descr = core.load_description(package)
    assert descr.name == "tiny hqssl" and [a.name for a in descr.authors] == ["A. Person"]


# ---------------------------------------------------------------- packages from elsewhere
def test_foreign_package_runs_through_bioimageio_core(tmp_path, capsys):
    package, weight = foreign_package(tmp_path)
    model = load_model(package, device="cpu", trust_code=True)  # its architecture is its smooth.py
    assert isinstance(model, BioimageioModel) and not model.has_uncertainty
    stack = np.random.default_rng(1).normal(size=(3, 48, 32)).astype(np.float32)
    got = model.predict(stack, "TYX")["denoised"]
    want = torch.nn.functional.conv2d(torch.from_numpy(stack[:, None]), weight, padding=1)[:, 0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    from napari_blindspot.engine.denoiser import Denoiser
    from napari_blindspot.files.streaming import predict_to_file
    from napari_blindspot.io.image import open_image

    assert isinstance(model, Denoiser) and not model.native  # the same protocol as ours
    assert model.describe() == [f"bioimage.io model 'smooth' from {package}", "axes: batch channel y x",
                                "channels: 1"]
    written = predict_to_file(model, stack, str(tmp_path / "s.ome.zarr"), axes="TYX")["denoised"]
    np.testing.assert_array_equal(np.asarray(open_image(written).data), got)  # whole, in memory
    image = tmp_path / "stack.tif"
    write_tiff(image, stack, "TYX")
    out = tmp_path / "o.tif"
    assert main(["denoise", str(image), "--model", str(package), "-o", str(out), "--trust-code"]) == 0
    assert "bioimage.io model 'smooth'" in capsys.readouterr().err
    assert main(["denoise", str(image), "--model", str(package), "-o", str(out), "--tta",
                 "--overwrite", "--trust-code"]) == 2
    assert "napari-blindspot models only" in capsys.readouterr().err
    assert main(["export", str(package), "-o", str(tmp_path / "again.zip")]) == 2
    assert "not a napari-blindspot model" in capsys.readouterr().err


def test_not_a_package_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    image = tmp_path / "x.tif"
    write_tiff(image, np.zeros((32, 32), np.float32), "YX")
    assert main(["denoise", str(image), "--model", str(bad), "-o", str(tmp_path / "o.tif")]) == 2
    assert "not a readable bioimage.io package" in capsys.readouterr().err
    assert main(["denoise", str(image), "--model", str(tmp_path / "none.zip"), "-o",
                 str(tmp_path / "o.tif")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_package_metadata_round_trips_as_json(tmp_path):
    model = _model("hqssl")
    package = export_package(model, tmp_path / "m.zip", test=False).path
    descr = core.load_description(package)
    section = descr.config.model_extra["napari_blindspot"]
    assert json.loads(json.dumps(section))["config"]["method"] == "hqssl"
    assert descr.cite[0].url is not None and "1901.10277" in str(descr.cite[0].url)
