"""A method added as one module plus one registry line (tests/toy_method.py, the ``toy_method``
fixture) reaches the configuration, training, model files and the command line (its name, help,
flags and their checks), its own setting too, with no other change."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.cli import main
from napari_blindspot.engine import TrainConfig, load_model, method_names
from napari_blindspot.io.tiff import write_tiff


def test_toy_method_is_in_the_help_and_trains_from_the_command_line(toy_method, tmp_path, capsys):
    assert "toy" in method_names()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "toy: A toy method of the tests" in help_text
    assert "--toy-fraction" in help_text and "Toy smoother: a share the toy method is given" in help_text
    # its own setting, which no TrainConfig field holds: option, help and default from its declaration
    assert "--toy-weight TOY_WEIGHT Toy smoother: how strongly the toy's loss pulls the output to " \
        "the noisy input (default 0.5)" in help_text
    assert TrainConfig.for_method("toy").batch_size == 2  # the method's defaults

    image = tmp_path / "noisy.tif"
    rng = np.random.default_rng(0)
    write_tiff(image, (100 + 10 * rng.standard_normal((2, 48, 48))).astype(np.float32), "TYX")
    model_path = tmp_path / "toy.safetensors"
    assert main(["train", str(image), "--method", "toy", "--steps", "3", "--patch-size", "32",
                 "--toy-fraction", "0.01", "--toy-weight", "0.25", "-o", str(model_path)]) == 0
    model = load_model(str(model_path), device="cpu")
    assert model.config.method == "toy" and model.config.mask_fraction == 0.01
    assert model.config.toy_weight == 0.25  # stored flat in the model file's JSON, read back
    assert TrainConfig.from_json(model.config.to_json()) == model.config
    assert main(["info", str(model_path)]) == 0
    assert "method: toy" in capsys.readouterr().out


def test_the_toy_setting_is_checked_from_its_declaration(toy_method, tmp_path, capsys):
    image = tmp_path / "noisy.tif"
    write_tiff(image, np.random.default_rng(0).normal(100, 10, (2, 48, 48)).astype(np.float32), "TYX")
    assert main(["train", str(image), "--method", "toy", "--toy-weight", "2",
                 "-o", str(tmp_path / "toy.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "--toy-weight" in err and "(0, 1]" in err
    assert not (tmp_path / "toy.safetensors").exists()


def test_without_the_registry_line_the_method_is_unknown(tmp_path, capsys):
    assert "toy" not in method_names()
    with pytest.raises(SystemExit) as exit_info:
        main(["denoise", str(tmp_path / "x.tif"), "--method", "toy", "-o", str(tmp_path / "o.tif")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'toy'" in capsys.readouterr().err
