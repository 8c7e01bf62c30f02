"""Guarding triton's import next to a graphics driver's LLVM (engine/system/native_libs.py).

The crash itself needs the default (CUDA) torch build with triton and a drawn napari canvas:
``tests/test_user_install.py`` runs that in the environment the README's first command makes.
These tests check the decisions with a stand-in triton package.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from napari_blindspot.engine.system import native_libs


@pytest.fixture
def fake_triton(tmp_path, monkeypatch):
    """A package ``triton`` whose ``_C/libtriton.so`` is a file the test chooses."""
    pkg = tmp_path / "triton"
    (pkg / "_C").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(native_libs, "_done", False)
    saved = sys.modules.pop("triton", "absent")
    yield pkg / "_C" / "libtriton.so"
    if saved == "absent":
        sys.modules.pop("triton", None)
    else:
        sys.modules["triton"] = saved


def _a_shared_library() -> Path:
    import ctypes.util

    name = ctypes.util.find_library("z") or ctypes.util.find_library("m")
    for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                   "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/lib"):
        if name and (Path(folder) / name).is_file():
            return Path(folder) / name
    pytest.skip("no shared library found to stand in for libtriton")


def test_foreign_llvm_is_read_from_the_process_maps(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1\n")
    assert native_libs.foreign_llvm_loaded(str(maps))
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert not native_libs.foreign_llvm_loaded(str(maps))
    assert not native_libs.foreign_llvm_loaded(str(tmp_path / "missing"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux dynamic loader")
def test_libtriton_is_loaded_with_its_own_symbols_when_another_llvm_is_there(fake_triton, monkeypatch):
    shutil.copy(_a_shared_library(), fake_triton)
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: True)
    assert native_libs.guard_compiler_imports() == "isolated"
    assert "triton" not in sys.modules or sys.modules["triton"] is not None  # still importable
    assert native_libs.guard_compiler_imports() == "not needed"  # once per process


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux dynamic loader")
def test_triton_is_hidden_when_it_cannot_be_isolated(fake_triton, monkeypatch):
    fake_triton.write_bytes(b"not a shared library")
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: True)
    assert native_libs.guard_compiler_imports() == "hidden"
    with pytest.raises(ImportError):
        import triton  # noqa: F401
    import importlib.util

    assert importlib.util.find_spec("triton") is None  # torch's own checks see no triton


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux dynamic loader")
def test_nothing_is_done_without_another_llvm(fake_triton, monkeypatch):
    fake_triton.write_bytes(b"not a shared library")  # would fail if it were loaded
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: False)
    assert native_libs.guard_compiler_imports() == "not needed"
    assert "triton" not in sys.modules
    # ... and it stays armed: a canvas drawn later is still guarded against
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: True)
    assert native_libs.guard_compiler_imports() == "hidden"


def test_training_guards_before_building_its_optimizer(monkeypatch):
    import numpy as np

    from napari_blindspot.engine import TrainConfig, TrainingRun
    import napari_blindspot.engine.training.loop as training

    calls: list[str] = []
    real_adam = training.torch.optim.Adam

    def guard() -> str:
        calls.append("guard")
        return "not needed"

    def adam(*args, **kwargs):
        calls.append("optimizer")
        return real_adam(*args, **kwargs)

    monkeypatch.setattr(training, "guard_compiler_imports", guard)
    monkeypatch.setattr(training.torch.optim, "Adam", adam)
    run = TrainingRun(np.random.default_rng(0).random((40, 40), np.float32),
                      TrainConfig.for_method("n2v2", axes="YX", steps=1, patch_size=16, batch_size=2,
                                             unet_features=8))
    list(run.events())
    assert calls[:2] == ["guard", "optimizer"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux dynamic loader")
def test_guard_plan_says_what_the_guard_would_do(fake_triton, monkeypatch):
    """`blindspot doctor` reports this; asking changes nothing."""
    fake_triton.write_bytes(b"not a shared library")
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: False)
    assert "would not act here" in native_libs.guard_plan()
    monkeypatch.setattr(native_libs, "foreign_llvm_loaded", lambda: True)
    assert "would act" in native_libs.guard_plan() and str(fake_triton) in native_libs.guard_plan()
    assert "triton" not in sys.modules and not native_libs._done  # nothing was loaded
    fake_triton.unlink()
    assert "no libtriton" in native_libs.guard_plan()
