"""Model files: save -> load gives the same model; anything else gives a clear error."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers_engine import gaussian_pair, small_config

import napari_blindspot
from napari_blindspot.engine import (BlindspotError, ConfigError, DenoisingModel, ModelFileError,
                                     load_model, save_model, train_model)
from napari_blindspot.engine.model_file import FORMAT, FORMAT_VERSION, read_metadata


def _data(shape=(2, 64, 64)):
    return gaussian_pair(shape, sigma=10.0)[1]


CASES = [
    ("n2v2", {}),
    ("n2v", {}),
    ("hqssl", {"noise_model": "gaussian"}),
    ("hqssl", {"noise_model": "poisson-gaussian"}),
    ("hqssl", {"noise_model": "gaussian-known", "noise_sigma": 10.0}),
    ("hqssl", {"noise_model": "mean-only"}),
    ("n2n", {}),
]


def _trained(method, extra, data, axes="TYX", **kw):
    target = data + np.random.default_rng(5).normal(0, 10, data.shape).astype(np.float32) if method == "n2n" else None
    cfg = small_config(method, axes=axes, steps=4, **extra, **kw)
    return train_model(data, cfg, target=target)


def _assert_same_model(a: DenoisingModel, b: DenoisingModel, data: np.ndarray, axes: str) -> None:
    assert b.config == a.config
    assert b.normalization == a.normalization
    assert b.channels == a.channels
    assert json.loads(json.dumps(b.info)) == json.loads(json.dumps(a.info, default=float))
    assert b.noise_parameters() == pytest.approx(a.noise_parameters())
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k].cpu(), sb[k].cpu()), k
    ra = a.predict(data, axes, uncertainty=True)
    rb = b.predict(data, axes, uncertainty=True)
    assert ra.keys() == rb.keys()
    for k in ra:
        np.testing.assert_array_equal(ra[k], rb[k])


@pytest.mark.parametrize("method,extra", CASES)
def test_save_load_round_trip(tmp_path, method, extra):
    data = _data()
    model = _trained(method, extra, data)
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    assert path.is_file() and not (tmp_path / "model.safetensors.partial").exists()
    loaded = load_model(path, device="cpu")
    _assert_same_model(model, loaded, data, "TYX")
    if method == "hqssl" and extra["noise_model"] != "mean-only":
        params = loaded.noise_parameters()
        assert params and loaded.info["noise"] == pytest.approx(params)
        if extra["noise_model"] == "gaussian-known":
            assert params["sigma"] == pytest.approx(10.0, rel=1e-5)


def test_round_trip_3d_and_joint_channels(tmp_path):
    rng = np.random.default_rng(0)
    data = (100 + 10 * rng.normal(size=(2, 8, 40, 40))).astype(np.float32)
    data[1] += 300
    model = _trained("hqssl", {"noise_model": "poisson-gaussian"}, data, axes="CZYX", train_3d=True,
                     channels="joint", patch_size_z=4, hq_depth=1)
    assert model.net_channels == 2
    model.save(str(tmp_path / "m3d.safetensors"))
    loaded = DenoisingModel.load(str(tmp_path / "m3d.safetensors"), device="cpu")
    _assert_same_model(model, loaded, data, "CZYX")
    assert set(loaded.noise_parameters()) == {"a_c0", "b_c0", "a_c1", "b_c1"}


def test_file_is_plain_safetensors_with_metadata(tmp_path):
    model = _trained("n2v2", {}, _data())
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])  # a JSON header + raw tensor bytes: no pickle
    meta = header["__metadata__"]
    assert meta["format"] == FORMAT and meta["format_version"] == str(FORMAT_VERSION)
    assert meta["package_version"] == napari_blindspot.__version__
    assert json.loads(meta["config"])["method"] == "n2v2"
    assert json.loads(meta["normalization"])["mean"] == pytest.approx(list(model.normalization.mean))
    assert read_metadata(path)["channels"] == "1"


def test_loading_on_unavailable_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is available")
    model = _trained("n2v2", {}, _data())
    save_model(model, tmp_path / "m.safetensors")
    with pytest.raises(ConfigError, match="CUDA"):
        load_model(tmp_path / "m.safetensors", device="cuda")


# ---------------------------------------------------------------- bad files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "good.safetensors"
    save_model(_trained("hqssl", {"noise_model": "gaussian"}, _data()), path)
    return path


def _rewrite(src, dst, meta_changes=None, tensor_changes=None):
    meta = dict(read_metadata(src))
    tensors = load_file(str(src))
    meta.update(meta_changes or {})
    for k, v in (meta_changes or {}).items():
        if v is None:
            del meta[k]
    if tensor_changes:
        tensor_changes(tensors)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def _load_error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path, device="cpu")
    assert isinstance(info.value, BlindspotError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_missing_file(tmp_path):
    assert "does not exist" in _load_error(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n" * 20, b"II*\x00" + bytes(200),
                                     b"\x80\x04\x95" + bytes(100)])
def test_not_a_model_file(tmp_path, content):
    path = tmp_path / "thing.safetensors"
    path.write_bytes(content)
    assert "not a napari-blindspot model" in _load_error(path)


def test_tiff_given_as_model(tmp_path):
    import tifffile

    path = tmp_path / "image.tif"
    tifffile.imwrite(path, np.zeros((32, 32), np.uint16))
    assert "not a napari-blindspot model" in _load_error(path)


def test_truncated_file(tmp_path, saved):
    raw = saved.read_bytes()
    for cut in (len(raw) // 2, 20, len(raw) - 10):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(raw[:cut])
        msg = _load_error(path)
        assert "damaged" in msg


def test_corrupted_header(tmp_path, saved):
    raw = bytearray(saved.read_bytes())
    raw[10:20] = b"#" * 10
    path = tmp_path / "garbled.safetensors"
    path.write_bytes(bytes(raw))
    assert "damaged" in _load_error(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(path), metadata={"format": "pt"})
    msg = _load_error(path)
    assert "safetensors file but not a napari-blindspot model" in msg
    save_file({"weight": torch.zeros(3, 3)}, str(path))  # no metadata at all
    assert "not a napari-blindspot model" in _load_error(path)


def test_incompatible_version(tmp_path, saved):
    path = _rewrite(saved, tmp_path / "v99.safetensors", {"format_version": "99", "package_version": "9.0"})
    msg = _load_error(path)
    assert "version" in msg and "99" in msg and "9.0" in msg


@pytest.mark.parametrize("changes,needle", [
    ({"config": "{broken json"}, "damaged"),
    ({"config": json.dumps({"method": "n2v2", "future_option": 1})}, "damaged"),
    ({"config": None}, "damaged"),
    ({"normalization": "[]"}, "damaged"),
    ({"channels": "two"}, "damaged"),
])
def test_damaged_metadata(tmp_path, saved, changes, needle):
    path = _rewrite(saved, tmp_path / "meta.safetensors", changes)
    assert needle in _load_error(path)


def test_weights_not_matching_config(tmp_path, saved):
    meta = read_metadata(saved)
    cfg = json.loads(meta["config"])
    cfg["hq_features"] = cfg["hq_features"] * 2
    path = _rewrite(saved, tmp_path / "edited.safetensors", {"config": json.dumps(cfg)})
    assert "do not fit" in _load_error(path)

    def drop_one(tensors):
        tensors.pop(sorted(tensors)[0])

    path = _rewrite(saved, tmp_path / "missing.safetensors", tensor_changes=drop_one)
    assert "do not fit" in _load_error(path)
