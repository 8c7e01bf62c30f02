"""Writes the model files of tests/data/ that stand for models saved by napari-blindspot 0.2.0.

Run once with the 0.2.0 code (main before issue 24's one-declaration settings):
``PYTHONPATH=<0.2.0 checkout>/src OMP_NUM_THREADS=1 python tests/data/make_models_0_2_0.py``.
Each model trains 3 steps of a tiny network on a small synthetic image; next to it the
denoised test image it gives (``*_denoised.npy``), which the loading test compares with.
"""

from __future__ import annotations

import os

import numpy as np

from napari_blindspot.engine import TrainConfig, TrainingRun

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(axes="YX", patch_size=32, batch_size=2, steps=3, validation_interval=2, seed=0,
             device="cpu", num_threads=1, learning_rate=1e-3, tile_size=64)
CONFIGS = {
    "n2v2": dict(method="n2v2", unet_features=4, unet_depth=1, struct_mask="horizontal"),
    "hqssl": dict(method="hqssl", hq_features=4, hq_depth=1, noise_model="curve", noise_fit="fixed"),
}


def test_image() -> np.ndarray:
    """The 40x40 float32 image the models are trained on and tested with."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :40]
    clean = 100 + 50 * np.sin(yy / 6.0) * np.cos(xx / 5.0)
    return (clean + rng.normal(0, 8, clean.shape)).astype(np.float32)


def main() -> None:
    image = test_image()
    for name, values in CONFIGS.items():
        config = TrainConfig(**SMALL, **values).validate()
        run = TrainingRun(image, config)
        for _ in run.events():
            pass
        path = os.path.join(HERE, f"model_0.2.0_{name}.safetensors")
        run.model.save(path)
        np.save(os.path.join(HERE, f"model_0.2.0_{name}_denoised.npy"),
                run.model.predict(image, "YX")["denoised"])


if __name__ == "__main__":
    main()
