"""Fixtures of the widget tests: a napari viewer model (no window) and the controller on it,
running its jobs at once (:func:`~napari_blindspot.widget.jobs.run_now`)."""

from __future__ import annotations

import pytest

napari = pytest.importorskip("napari")


@pytest.fixture
def viewer_model():
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def controller(viewer_model):
    from napari_blindspot.widget.controller import DenoiseController
    from napari_blindspot.widget.jobs import run_now

    controller = DenoiseController(viewer_model, run_now)
    yield controller
    controller.shutdown()
