"""Training configuration: one typed dataclass, validated in one place, JSON round trip.

Every setting is declared once (:mod:`.settings` for the general ones, each method's
``settings`` for its own): :class:`TrainConfig` takes its field defaults from the declarations
and :meth:`TrainConfig.validate` checks every declared setting in one loop, plus the few rules
between settings.  A registered method's own setting that is not a field here lives in
``extra``: it reads and sets as an attribute and is stored flat in the JSON, like the fields.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .axes import parse_axes
from .errors import ConfigError
from .methods.hqssl.method import NOISE_CALIBRATIONS, NOISE_FITS, NOISE_MODELS
from .methods.n2v.struct_mask import check_struct_mask
from .methods.registry import declared_setting, declared_settings, method_class, users_of
from .settings import BY_NAME, DEFAULT_METHOD, MAX_SEED, choices_of, maxima_of

#: The method a configuration without a ``method`` key meant (model files of version 1 always
#: store it; this keeps any older JSON loading as it did).
LEGACY_METHOD = "n2v2"

SCHEDULES = BY_NAME["schedule"].choices
CHANNEL_MODES = BY_NAME["channels"].choices
#: Channel modes whose network takes every channel of a patch at once, ``(B, C, *sp)``: joint
#: (one network, C inputs) and separate (C single-channel networks side by side).  The other
#: concrete mode, independent, folds the channels into the batch of one shared network.
ALL_CHANNELS_AT_ONCE = ("joint", "separate")


def network_channels(mode: str, channels: int) -> int:
    """The channels the network of channel mode ``mode`` takes for ``channels`` data channels."""
    return channels if mode in ALL_CHANNELS_AT_ONCE else 1


#: The values of the fields that take one of a few names (the built-in methods' too).
FIELD_CHOICES = choices_of(declared_settings())
#: The largest value of settings that size a resource (network, memory, run time), and why.
MAXIMA, MAXIMA_WHY = maxima_of(declared_settings())


def _default(name: str) -> Any:
    """The declared default of setting ``name``."""
    setting = declared_setting(name)
    assert setting is not None, name
    return setting.default


@dataclass(init=False, repr=False)
class TrainConfig:
    """Everything that defines a training run; stored with the model.

    Lengths are in pixels, times in seconds.  Training length is given by
    ``steps`` (gradient steps), or ``epochs`` (passes over the data, one
    epoch being as many patches as fit into the training data once), or
    ``time_budget_s`` (wall-clock seconds; ``steps``/``epochs`` then cap it).

    The field defaults are the general ones; :meth:`for_method` adds a method's own defaults
    for the device, and :func:`.defaults.default_plan` gives the method and training length
    every front end starts from (its :data:`~.defaults.DEFAULT_METHOD` is ``method``'s default).
    """

    method: str = _default("method")
    axes: str = _default("axes")
    train_3d: bool = _default("train_3d")
    #: "independent", "joint", or "auto": chosen from the data when training starts
    #: (:mod:`.channel_choice`); a trained model's configuration holds the mode it trained with
    #: (a model built by hand from an "auto" configuration counts as independent)
    channels: str = _default("channels")

    patch_size: int = _default("patch_size")
    patch_size_z: int = _default("patch_size_z")
    batch_size: int = _default("batch_size")
    steps: int | None = _default("steps")
    epochs: int | None = _default("epochs")
    time_budget_s: float | None = _default("time_budget_s")
    validation_fraction: float = _default("validation_fraction")
    validation_interval: int = _default("validation_interval")
    #: end early once the validation loss stopped improving (:mod:`.training.convergence`)
    stop_when_converged: bool = _default("stop_when_converged")

    learning_rate: float = _default("learning_rate")
    schedule: str = _default("schedule")
    warmup_fraction: float = _default("warmup_fraction")

    # Noise2Void / N2V2
    mask_fraction: float = _default("mask_fraction")
    mask_radius: int = _default("mask_radius")
    #: structN2V (N2V/N2V2 only): "none", "horizontal" / "vertical" (a line of
    #: ``struct_span`` pixels along X / Y) or a 0/1 pattern such as "010/111/010" (rows
    #: separated by "/", the centre is the blind spot); see :mod:`.struct_mask`
    struct_mask: str = _default("struct_mask")
    struct_span: int = _default("struct_span")
    unet_depth: int = _default("unet_depth")
    unet_features: int = _default("unet_features")

    # HQ-SSL
    hq_depth: int = _default("hq_depth")
    hq_features: int = _default("hq_features")
    noise_model: str = _default("noise_model")
    #: the known Gaussian sigma, in the input's intensity units
    noise_sigma: float | None = _default("noise_sigma")
    #: how training treats the measured noise: kept "fixed", "fine-tune"d in the second half,
    #: learned "joint"ly from the start (the paper's way), or kept fixed and then "refit" with
    #: the trained prior (curve model only), or "auto": kept fixed, then the refit kept only where
    #: thin structure had inflated the image's calibration (methods/hqssl/noise_fit_choice.py; the
    #: calibration is kept with other noise models).  Model files store theirs.
    noise_fit: str = _default("noise_fit")
    #: what the noise is measured on: the "image" itself, "repeats" (the samples are repeated
    #: acquisitions of a still scene) or a "pair" (a second acquisition given to training)
    noise_calibration: str = _default("noise_calibration")

    seed: int = _default("seed")
    device: str = _default("device")
    mixed_precision: bool = _default("mixed_precision")
    num_threads: int | None = _default("num_threads")
    #: wrap the training network in torch.compile (:mod:`.training.compiled`; falls back to eager)
    compile: bool = _default("compile")

    # Prediction defaults (stored so a model file predicts the same way).  On a CPU, tiles of
    # 384 one at a time predicted fastest for N2V2 and HQ-SSL alike (docs/performance.md);
    # ``tile_batch=None`` picks the batch for the device (see :func:`.system.device.default_tile_batch`).
    tile_size: int = _default("tile_size")
    tile_size_z: int = _default("tile_size_z")
    tile_batch: int | None = _default("tile_batch")

    version: int = field(default=_default("version"), repr=False)
    #: The registered methods' own settings that are not fields above, by name (set and read
    #: as attributes; the JSON holds them flat, next to the fields).
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    def __init__(self, **values: Any) -> None:
        """Any setting by name: the fields above, or a registered method's own settings (the
        configuration's method's own ones default to their declared defaults)."""
        own = {k: values.pop(k) for k in list(values) if k not in _FIELDS}
        unknown = [k for k in own if k == "extra" or declared_setting(k) is None]
        if unknown:
            raise TypeError(f"TrainConfig got an unexpected keyword argument {unknown[0]!r}")
        for f in dataclasses.fields(self):
            if f.name != "extra":
                object.__setattr__(self, f.name, values.get(f.name, f.default))
        object.__setattr__(self, "extra", {})
        for setting in _own_settings(self.method):
            self.extra[setting.field] = setting.default
        self.extra.update(own)

    def __repr__(self) -> str:
        shown = [f.name for f in dataclasses.fields(self) if f.repr and f.name != "extra"]
        values = [(name, getattr(self, name)) for name in shown] + list(self.extra.items())
        return f"TrainConfig({', '.join(f'{k}={v!r}' for k, v in values)})"

    def __getattr__(self, name: str) -> Any:
        # only called for names that are not fields: a method's own setting
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        setting = declared_setting(name) if not name.startswith("_") else None
        if setting is None:
            raise AttributeError(f"TrainConfig has no setting {name!r}")
        return setting.default  # another method's setting: its default

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELDS or name == "extra":
            object.__setattr__(self, name, value)
        elif declared_setting(name) is not None:
            self.extra[name] = value
        else:
            raise AttributeError(f"TrainConfig has no setting {name!r}")

    @classmethod
    def setting_names(cls) -> list[str]:
        """The names a configuration (and its JSON) can hold: the fields, then the registered
        methods' own settings."""
        return list(_FIELDS) + [s.field for s in declared_settings() if s.field not in _FIELDS]

    @classmethod
    def for_method(cls, method: str, **overrides: Any) -> "TrainConfig":
        """Defaults tuned for ``method`` on the device it will train on, 2D or 3D
        (:meth:`~.methods.Method.defaults_for`), then ``overrides``."""
        from .system.device import select_device

        try:
            device_type = select_device(overrides.get("device", "auto")).type
        except ConfigError:  # validation names the bad device
            device_type = "cpu"
        values = method_class(method).defaults_for(device_type, bool(overrides.get("train_3d")))
        values.update(overrides)
        return cls(method=method, **values).validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> "TrainConfig":
        """Check every setting; raise :class:`ConfigError` naming the first bad one.

        Each declared setting the configuration holds is checked as declared
        (:meth:`.settings.Setting.problem`); the rules between settings follow.
        """
        def bad(name: str, why: str) -> ConfigError:
            err = ConfigError(f"Invalid setting {name}={getattr(self, name)!r}: {why}")
            err.setting = name  # type: ignore[attr-defined]  # front ends name their own option
            return err

        method = method_class(self.method)
        parse_axes(self.axes)
        if self.train_3d and "Z" not in self.axes.upper():
            raise bad("train_3d", f"3D training needs a Z axis, but axes are {self.axes!r}")
        if self.steps is None and self.epochs is None and self.time_budget_s is None:
            raise ConfigError("Set a training length: steps, epochs or time_budget_s.")
        for setting in declared_settings():
            if setting.field in _FIELDS or setting.field in self.extra:
                in_range = not setting.method_only or setting.field in method.fields()
                why = setting.problem(getattr(self, setting.field), in_range)
                if why:
                    raise bad(setting.field, why)
        for name in self.extra:
            if declared_setting(name) is None:
                raise bad(name, "no registered method has this setting")
        # the rules between settings
        if self.noise_fit == "refit" and self.noise_model != "curve":
            raise bad("noise_fit", "a refit after training needs the 'curve' noise model")
        if self.noise_model == "gaussian-known":
            if self.noise_sigma is None or not self.noise_sigma > 0:
                raise bad("noise_sigma", "a known-sigma Gaussian noise model needs noise_sigma > 0 "
                          "(in the image's intensity units)")
        struct_problem = check_struct_mask(self.struct_mask, self.struct_span)
        if struct_problem:
            raise bad(*struct_problem)
        if self.struct_mask != "none" and "struct_mask" not in method.fields():
            users = " and ".join(c.display_name for c in users_of("struct_mask"))
            raise bad("struct_mask", f"structN2V masks are for {users} only, not "
                      f"{method.display_name}: {method.struct_mask_refusal or 'train with N2V2'}")
        method.validate(self)
        self.axes = self.axes.upper()
        return self

    # ------------------------------------------------------------------ copies and JSON
    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some settings changed."""
        values = self.to_dict()
        if "method" in changes and changes["method"] != self.method:
            # the new method's own settings start at their defaults unless given
            for setting in _own_settings(changes["method"]):
                values.pop(setting.field, None)
        values.update(changes)
        return type(self)(**values).validate()

    def to_dict(self) -> dict[str, Any]:
        """The settings, flat: ``{name: value}`` (the fields, then ``extra``'s)."""
        values = {name: getattr(self, name) for name in _FIELDS}
        values.update(self.extra)
        return values

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = set(cls.setting_names())
        data = dict(data)
        data.setdefault("method", LEGACY_METHOD)  # what a configuration without one meant
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown configuration keys {unknown}; this model may come from a "
                              "newer napari-blindspot: upgrade the package.")
        return cls(**data).validate()

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Configuration is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("Configuration JSON must be an object.")
        return cls.from_dict(data)


#: The names of TrainConfig's fields (``extra`` aside).
_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "extra")


def _own_settings(method: Any) -> list:
    """The settings of ``method`` (a name) that are not TrainConfig fields (none for a name that
    is not registered: validation names it)."""
    try:
        cls = method_class(method)
    except ConfigError:
        return []
    return [s for s in cls.settings if s.field not in _FIELDS]


__all__ = ["CHANNEL_MODES", "DEFAULT_METHOD", "FIELD_CHOICES", "LEGACY_METHOD", "MAXIMA",
           "MAXIMA_WHY", "MAX_SEED", "NOISE_CALIBRATIONS", "NOISE_FITS", "NOISE_MODELS", "SCHEDULES",
           "TrainConfig"]
