"""The sample data opens in a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

pytestmark = pytest.mark.gui


def test_sample_opens_in_the_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-blindspot", "fluorescence")
    viewer.open_sample("napari-blindspot", "fluorescence_clean")
    noisy, clean = viewer.layers["fluorescence (noisy)"], viewer.layers["fluorescence (clean)"]
    assert noisy.data.shape == clean.data.shape == (8, 256, 256)
    np.testing.assert_allclose(noisy.scale, (1.0, 1.0, 1.0))  # synthetic: no physical pixel size
    assert {str(u) for u in noisy.units} == {"pixel"}
