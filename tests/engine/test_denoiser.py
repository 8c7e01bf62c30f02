"""Both model kinds are :class:`~napari_blindspot.engine.denoiser.Denoiser`s: callers use the
protocol's members, never the model's class (issue 24)."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import numpy as np

import napari_blindspot
from helpers_engine import untrained_model
from napari_blindspot.engine.bioimageio.foreign import BioimageioModel
from napari_blindspot.engine.denoiser import Denoiser
from napari_blindspot.files.streaming import predict_to_file

ROOT = Path(napari_blindspot.__file__).resolve().parent


def _members() -> set[str]:
    get = getattr(typing, "get_protocol_members", None)
    return set(get(Denoiser)) if get else set(typing._get_protocol_attrs(Denoiser))  # 3.11, 3.12


def test_both_kinds_have_every_member():
    members = _members()
    assert {"native", "label", "describe", "view", "predict_stream", "predict_iter"} <= members
    instance_only = {"channels", "info"}  # set in __init__ (the foreign model) or fields
    for cls in (BioimageioModel,):
        missing = [m for m in members - instance_only if not hasattr(cls, m)]
        assert not missing, f"{cls.__name__} lacks {missing}"
    assert BioimageioModel.native is False


def test_our_model_is_a_denoiser(tmp_path):
    model = untrained_model()
    assert isinstance(model, Denoiser) and model.native
    assert model.label().startswith(model.method.display_name)
    lines = model.describe()
    assert lines[0] == f"model: {model.label()}" and lines[-1].startswith("normalisation mean")
    image = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    out = predict_to_file(model, image, str(tmp_path / "o.tif"), axes="TYX")
    assert set(out) == {"denoised"}


def test_callers_do_not_ask_which_kind_a_model_is():
    """No ``isinstance(model, ...)``/``hasattr(model, ...)`` on a model in the front ends and
    the file pipeline."""
    found = []
    for folder in ("cli", "files", "widget"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                        node.func.id in ("isinstance", "hasattr") and node.args:
                    target = ast.unparse(node.args[0])
                    if target.split(".")[-1] == "model" or "DenoisingModel" in ast.unparse(node):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found
