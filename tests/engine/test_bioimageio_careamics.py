"""A Noise2Void model exported by CAREamics loads and predicts as CAREamics does.

Needs ``careamics`` (its package's architecture is ``careamics.models.unet.UNet``, imported
by bioimageio.core) and the ``bioimageio`` extra; skipped without them.  Slow: it trains
CAREamics for two steps.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")
pytest.importorskip("careamics", reason="needs careamics")

from napari_blindspot.engine import load_model  # noqa: E402
from napari_blindspot.engine.bioimageio.foreign import BioimageioModel  # noqa: E402


@pytest.mark.slow
def test_careamics_n2v_package_predicts_like_careamics(tmp_path):
    import torch
    from careamics.careamist import CAREamist
    from careamics.config.factories import create_n2v_config
    from careamics.model_io.bmz_io import load_from_bmz

    config = create_n2v_config(experiment_name="tiny", data_type="array", axes="YX",
                               patch_size=[64, 64], batch_size=4, num_epochs=1, num_steps=2,
                               n_val_patches=2)
    train = (100 + 20 * np.random.default_rng(0).normal(size=(256, 256))).astype(np.float32)
    careamist = CAREamist(config, work_dir=tmp_path / "work")
    careamist.train(train_data=train)
    package = tmp_path / "n2v.zip"
    careamist.export_to_bmz(path_to_archive=package, friendly_model_name="tiny_n2v",
                            input_array=train[:64, :64], authors=[{"name": "Test"}],
                            general_description="tiny", data_description="noise")

    cfg, module = load_from_bmz(package)
    mean = cfg.data_config.normalization.input_means[0]
    std = cfg.data_config.normalization.input_stds[0]
    x = train[:96, :128]
    with torch.no_grad():
        want = module.model.eval()(torch.from_numpy(((x - mean) / std)[None, None]))[0, 0].numpy()
    want = want * std + mean

    model = load_model(package, device="cpu", trust_code=True)  # it imports careamics' UNet
    assert isinstance(model, BioimageioModel)
    got = model.predict(np.stack([x, x]), "TYX")["denoised"]
    np.testing.assert_allclose(got[1], want, rtol=1e-4, atol=1e-3)
