"""Safety suite, model files and results: a damaged model is refused when it is loaded, with
the one "damaged" message; a prediction that comes out NaN or infinite is an error, not a
file; ``--dtype input`` writes the input's pixel type or refuses before any work."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import tifffile
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from helpers_engine import untrained_model
from helpers_safety import TINY, Workspace, cli, noisy_stack, one_line_error

from napari_blindspot.engine import DataError, ModelFileError, load_model
from napari_blindspot.io.tiff import read_tiff, write_tiff


def tamper(ws: Workspace, *, stats: dict | None = None, weights: Callable | None = None,
           meta: dict | None = None, name: str = "bad.safetensors", tensor: str | None = None) -> str:
    """A copy of the workspace model with changed statistics, weights or metadata."""
    with safe_open(str(ws.model), framework="pt") as f:
        metadata = dict(f.metadata())
    tensors = load_file(str(ws.model))
    if stats is not None:
        norm = json.loads(metadata["normalization"])
        norm.update(stats)
        metadata["normalization"] = json.dumps(norm)
    if weights is not None:
        first = tensor or sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
        tensors[first] = weights(tensors[first].clone())
    metadata.update(meta or {})
    save_file(tensors, str(ws.root / name), metadata=metadata)
    return str(ws.root / name)


def _poison(value: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def apply(t: torch.Tensor) -> torch.Tensor:
        t.view(-1)[0] = value
        return t
    return apply


def _garbage(ws: Workspace) -> str:
    (ws.root / "garbage.safetensors").write_bytes(b"\x13\x37 not a model" * 50)
    return ws.path("garbage.safetensors")


def _truncated(ws: Workspace) -> str:
    data = ws.model.read_bytes()
    (ws.root / "cut.safetensors").write_bytes(data[: len(data) // 2])
    return ws.path("cut.safetensors")


def _plain_safetensors(ws: Workspace) -> str:
    save_file({"w": torch.ones(3)}, str(ws.root / "other.safetensors"))
    return ws.path("other.safetensors")


MODELS: list[tuple[str, Callable[[Workspace], str], tuple[str, ...]]] = [
    ("std-zero", lambda w: tamper(w, stats={"std": [0.0]}), ("damaged", "std [0.0] is not positive")),
    ("std-negative", lambda w: tamper(w, stats={"std": [-5.0]}), ("damaged", "not positive")),
    ("std-nan", lambda w: tamper(w, stats={"std": [float("nan")]}), ("damaged", "not finite")),
    ("std-inf", lambda w: tamper(w, stats={"std": [float("inf")]}), ("damaged", "not finite")),
    ("mean-inf", lambda w: tamper(w, stats={"mean": [float("-inf")]}), ("damaged", "not finite")),
    ("stats-missing", lambda w: tamper(w, stats={"mean": [], "std": []}), ("damaged", "missing")),
    ("weights-nan", lambda w: tamper(w, weights=_poison(float("nan"))), ("damaged", "NaN or infinite")),
    ("weights-inf", lambda w: tamper(w, weights=_poison(float("inf"))), ("damaged", "NaN or infinite")),
    ("weights-wrong-shape", lambda w: tamper(w, weights=lambda t: torch.zeros(3)), ("damaged", "do not fit")),
    ("config-broken", lambda w: tamper(w, meta={"config": "{oops"}), ("damaged", "metadata")),
    ("garbage-bytes", _garbage, ("not a napari-blindspot model file", "damaged")),
    ("truncated-file", _truncated, ("cut.safetensors", "damaged")),
    ("plain-safetensors", _plain_safetensors, ("not a napari-blindspot model",)),
    ("future-format-version", lambda w: tamper(w, meta={"format_version": "9"}), ("format version", "'9'")),
]


@pytest.mark.parametrize("case, make, words", MODELS, ids=[c[0] for c in MODELS])
def test_damaged_model_refused_at_load(ws, capsys, case, make, words):
    path = make(ws)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", path, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 2
    for word in words:
        assert word in line, (word, line)
    ws.assert_unchanged(before)  # and no o.tif
    with pytest.raises(ModelFileError, match=words[0].replace("(", r"\(")):
        load_model(path, device="cpu")
    rc, err = cli(capsys, "info", path)
    assert rc == 2 and words[0] in one_line_error(err)


def test_result_that_overflows_is_an_error_not_a_file(ws, capsys):
    # finite, plausible statistics and finite weights, but weights so large that the
    # network's output overflows float32
    path = tamper(ws, stats={"std": [1e30]}, weights=lambda t: t + 1e30, tensor="head.bias")
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", path, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 2 and "NaN or infinite" in line and "retrain" in line
    ws.assert_unchanged(before)


def test_engine_refuses_a_nan_prediction(monkeypatch):
    model = untrained_model("n2v2")
    monkeypatch.setattr(model.method, "infer", lambda net, x, channels=None: {"denoised": torch.full_like(x, float("nan"))})
    with pytest.raises(DataError, match="NaN or infinite value"):
        model.predict(np.ones((40, 40), np.float32) * 100, "YX")


# ------------------------------------------------------------------ --dtype input
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int8", "int32", "uint32", "float64"])
def test_dtype_input_writes_the_input_type(ws, capsys, dtype):
    data = noisy_stack(dtype=np.float64)
    write_tiff(ws.root / "in.tif", np.clip(data, 0, 250), "TYX", dtype=dtype)
    rc, err = cli(capsys, "denoise", ws.path("in.tif"), "--model", ws.model, "-o", ws.path("o.tif"),
                  "--dtype", "input")
    assert rc == 0, err
    back = read_tiff(ws.root / "o.tif")
    assert back.data.dtype == np.dtype(dtype) and back.axes == "TYX"
    assert f"({dtype} " in err  # the message names the type really written
    assert tifffile.imread(ws.root / "o.tif").dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "int64"])
def test_dtype_input_refused_when_tiff_cannot_hold_it(ws, capsys, dtype):
    tifffile.imwrite(ws.root / "in.tif", noisy_stack().astype(dtype))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.path("in.tif"), "--method", "n2v2", *TINY, "-o", ws.path("o.tif"),
                  "--dtype", "input")
    line = one_line_error(err)
    assert rc == 2 and f"pixel type {dtype}" in line and "--dtype float32" in line
    assert "Training" not in err
    ws.assert_unchanged(before)
