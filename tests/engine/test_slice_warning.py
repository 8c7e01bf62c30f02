"""A 2D model applied to data with a Z axis says it denoises slice by slice (logged once, and
:meth:`DenoisingModel.slice_warning` for front ends); a 3D model on data without Z is refused."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from napari_blindspot.engine import AxesError

from helpers_engine import untrained_model


def test_2d_model_on_zyx_warns_once_and_not_on_tyx(caplog) -> None:
    model = untrained_model("n2v2", axes="TYX")
    stack = np.random.default_rng(0).normal(100, 20, (3, 40, 40)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="napari_blindspot"):
        model.denoise(stack, "TYX")
    assert not [r for r in caplog.records if "slice by slice" in r.getMessage()]
    assert model.slice_warning("TYX") is None and model.slice_warning("CYX") is None
    with caplog.at_level(logging.WARNING, logger="napari_blindspot"):
        model.denoise(stack, "ZYX")
        model.denoise(stack, "ZYX")
    found = [r for r in caplog.records if "slice by slice" in r.getMessage()]
    assert len(found) == 1 and found[0].levelno == logging.WARNING
    assert "--3d" in found[0].getMessage() and "ZYX" in found[0].getMessage()
    assert model.slice_warning("zyx") == found[0].getMessage()


def test_3d_model_warns_nothing_on_zyx_and_refuses_data_without_z(caplog) -> None:
    model = untrained_model("n2v2", ndim=3)
    assert model.slice_warning("ZYX") is None and model.slice_warning() is None
    with pytest.raises(AxesError, match="3D.*no Z axis.*'TYX'.*2D model"):
        model.denoise(np.zeros((3, 40, 40), np.float32), "TYX")


def test_the_note_names_the_prior_only_for_a_model_that_started_from_it() -> None:
    model = untrained_model("n2v2", axes="ZYX")
    assert "prior" not in model.slice_warning("ZYX")
    model.info["warm_start"] = "Weights started from the trained prior, fine-tuned at a learning rate of 0.0005"
    note = model.slice_warning("ZYX")
    assert note.startswith("Denoised slice by slice") and "started from the trained prior" in note
    assert "a tenth of the CPU time" in note
