"""Settings declared once (engine/settings.py and each method's ``settings``): TrainConfig's
fields, defaults and validation come from the declarations; a method's own setting that is not
a field lives in the configuration's ``extra`` values, flat in the JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from napari_blindspot.engine import ConfigError, TrainConfig
from napari_blindspot.engine.methods import declared_setting, declared_settings, method_classes
from napari_blindspot.engine.settings import GENERAL, Setting


def test_every_field_is_declared_once_with_its_default():
    fields = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name != "extra"}
    declared = {s.field: s for s in declared_settings()}
    assert set(fields) <= set(declared)
    assert len({s.field for s in GENERAL}) == len(GENERAL)
    for name, f in fields.items():
        assert f.default == declared[name].default, name
    for cls in method_classes():  # a method's own settings have a default that validates
        for setting in cls.settings:
            config = TrainConfig.for_method(cls.name, **{setting.field: setting.default})
            assert getattr(config, setting.field) == setting.default


def test_the_command_line_and_the_engine_have_one_default_method():
    from napari_blindspot.cli.options import DEFAULT_METHOD as CLI_DEFAULT
    from napari_blindspot.engine.defaults import DEFAULT_METHOD

    assert CLI_DEFAULT == DEFAULT_METHOD == TrainConfig().method == declared_setting("method").default


@pytest.mark.parametrize("setting, value, message", [
    (Setting("a", "", "", kind="int", minimum=8, maximum=64, why="too big", multiple_of=4), 6,
     "must be an integer >= 8"),
    (Setting("a", "", "", kind="int", minimum=8, maximum=64, why="too big", multiple_of=4), 65,
     "must be at most 64 (too big)"),
    (Setting("a", "", "", kind="int", minimum=8, maximum=64, why="too big", multiple_of=4), 10,
     "must be a multiple of 4"),
    (Setting("a", "", "", kind="int", minimum=1, optional=True), 1.5, "must be an integer >= 1 or None"),
    (Setting("a", "", "", minimum=0.0, maximum=0.5, open_maximum=True), 0.5, "must be in [0, 0.5)"),
    (Setting("a", "", "", minimum=0.0, maximum=1.0, open_minimum=True), "x", "must be a number"),
    (Setting("a", "", "", kind="optional-float"), float("nan"), "must be a finite number or None"),
    (Setting("a", "", "", kind="choice", choices=("p", "q")), "r", "choose one of p, q"),
])
def test_a_declaration_says_what_is_wrong(setting, value, message):
    assert setting.problem(value) == message


def test_a_method_setting_only_ranges_for_its_methods():
    # N2V's mask share: its range holds for the N2V family, its type for every method
    with pytest.raises(ConfigError, match=r"mask_fraction=0.3: must be in \(0, 0.25\]; N2V uses"):
        TrainConfig(method="n2v2", mask_fraction=0.3).validate()
    assert TrainConfig(method="hqssl", mask_fraction=0.3).validate().mask_fraction == 0.3
    with pytest.raises(ConfigError, match="mask_fraction='x': must be a number"):
        TrainConfig(method="hqssl", mask_fraction="x").validate()


def test_an_open_bound_leaves_the_editor_one_step_inside():
    mask = declared_setting("mask_fraction")
    assert mask.editor_bounds(100.0) == pytest.approx((0.01, 25.0))  # percent
    assert declared_setting("validation_fraction").editor_bounds() == (0.0, 0.45)  # as declared


def test_a_methods_own_setting_lives_in_extra_and_the_json_is_flat(toy_method):
    config = TrainConfig.for_method("toy", steps=3)
    assert config.toy_weight == 0.5 and config.extra == {"toy_weight": 0.5}  # declared default
    config = config.replace(toy_weight=0.25)
    data = json.loads(config.to_json())
    assert data["toy_weight"] == 0.25 and "extra" not in data
    back = TrainConfig.from_json(config.to_json())
    assert back == config and back.toy_weight == 0.25
    assert "toy_weight=0.25" in repr(config)
    config.toy_weight = 0.75  # set as an attribute
    assert config.extra["toy_weight"] == 0.75
    with pytest.raises(ConfigError, match=r"Invalid setting toy_weight=2: must be in \(0, 1\]"):
        config.replace(toy_weight=2)
    # another method's configuration reads the toy's setting as its default, stores none
    other = config.replace(method="n2v2")
    assert other.extra == {"toy_weight": 0.75} and TrainConfig(method="n2v2").toy_weight == 0.5
    assert "toy_weight" not in TrainConfig(method="n2v2").to_dict()


def test_without_its_method_a_setting_is_unknown():
    with pytest.raises(ConfigError, match="Unknown configuration keys .'toy_weight'."):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "toy_weight": 0.5})
    with pytest.raises(TypeError, match="toy_weight"):
        TrainConfig(toy_weight=0.5)
    with pytest.raises(AttributeError, match="toy_weight"):
        TrainConfig().toy_weight  # noqa: B018
