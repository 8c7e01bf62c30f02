"""Model files saved by napari-blindspot 0.2.0 (tests/data/, made by make_models_0_2_0.py) load
with their flat JSON configuration and denoise exactly as they did."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from napari_blindspot.engine import TrainConfig, load_model

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def _maker():
    spec = importlib.util.spec_from_file_location("make_models_0_2_0",
                                                  os.path.join(DATA, "make_models_0_2_0.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_a_0_2_0_model_file_loads_and_denoises_the_same(method):
    maker = _maker()
    model = load_model(os.path.join(DATA, f"model_0.2.0_{method}.safetensors"), device="cpu")
    # a trained model holds the channel mode it trained with ("auto" chose independent); the
    # file stores every setting, 0.2.0's defaults too (noise_fit "fixed", since then "auto")
    values = {**maker.SMALL, "noise_fit": "fixed", **maker.CONFIGS[method], "channels": "independent"}
    want = TrainConfig(**values).validate()
    assert model.config == want
    assert model.config.to_dict() == want.to_dict()  # flat: one key per setting
    expected = np.load(os.path.join(DATA, f"model_0.2.0_{method}_denoised.npy"))
    denoised = model.predict(maker.test_image(), "YX")["denoised"]
    np.testing.assert_allclose(denoised, expected, rtol=1e-5, atol=1e-4)
