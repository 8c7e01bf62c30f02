"""Training configuration: one typed dataclass, validated in one place, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .axes import parse_axes
from .errors import ConfigError
from .methods.registry import method_class, method_classes
from .methods.n2v.struct_mask import DEFAULT_STRUCT_SPAN, check_struct_mask

#: The default method of every front end (the evidence for it: :mod:`.defaults`).
DEFAULT_METHOD = "hqssl"
#: The method a configuration without a ``method`` key meant (model files of version 1 always
#: store it; this keeps any older JSON loading as it did).
LEGACY_METHOD = "n2v2"

NOISE_MODELS = ("curve", "affine", "gaussian", "gaussian-known", "poisson-gaussian", "mean-only")
NOISE_FITS = ("auto", "fixed", "fine-tune", "joint", "refit")
NOISE_CALIBRATIONS = ("image", "repeats", "pair")
SCHEDULES = ("cosine", "constant")
CHANNEL_MODES = ("auto", "independent", "separate", "joint")
#: Channel modes whose network takes every channel of a patch at once, ``(B, C, *sp)``: joint
#: (one network, C inputs) and separate (C single-channel networks side by side).  The other
#: concrete mode, independent, folds the channels into the batch of one shared network.
ALL_CHANNELS_AT_ONCE = ("joint", "separate")


def network_channels(mode: str, channels: int) -> int:
    """The channels the network of channel mode ``mode`` takes for ``channels`` data channels."""
    return channels if mode in ALL_CHANNELS_AT_ONCE else 1
#: Seeds run from 0 to 2**32 - 4 (numpy and torch generators get seed + 0..3).
MAX_SEED = 2 ** 32 - 3

#: The values of the fields that take one of a few names (front ends offer these).
FIELD_CHOICES = {"noise_model": NOISE_MODELS, "noise_fit": NOISE_FITS,
                 "noise_calibration": NOISE_CALIBRATIONS, "schedule": SCHEDULES,
                 "channels": CHANNEL_MODES}


#: The largest value of settings that size a resource (network, memory, run time), and why.
MAXIMA = {"unet_depth": 8, "hq_depth": 8, "unet_features": 512, "hq_features": 512,
          "steps": 100_000_000, "epochs": 1_000_000}
MAXIMA_WHY = {"unet_depth": "2^8 = 256-pixel poolings; deeper networks see nothing more",
              "hq_depth": "2^8 = 256-pixel poolings; deeper networks see nothing more",
              "unet_features": "wider networks do not fit in memory",
              "hq_features": "wider networks do not fit in memory",
              "steps": "years of training", "epochs": "years of training"}


@dataclass
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

    method: str = DEFAULT_METHOD
    axes: str = "YX"
    train_3d: bool = False
    #: "independent", "joint", or "auto": chosen from the data when training starts
    #: (:mod:`.channel_choice`); a trained model's configuration holds the mode it trained with
    #: (a model built by hand from an "auto" configuration counts as independent)
    channels: str = "auto"

    patch_size: int = 64
    patch_size_z: int = 16
    batch_size: int = 16
    steps: int | None = 1500
    epochs: int | None = None
    time_budget_s: float | None = None
    validation_fraction: float = 0.1
    validation_interval: int = 50

    learning_rate: float = 4e-4
    schedule: str = "cosine"
    warmup_fraction: float = 0.05

    # Noise2Void / N2V2
    mask_fraction: float = 0.002
    mask_radius: int = 2
    #: structN2V (N2V/N2V2 only): "none", "horizontal" / "vertical" (a line of
    #: ``struct_span`` pixels along X / Y) or a 0/1 pattern such as "010/111/010" (rows
    #: separated by "/", the centre is the blind spot); see :mod:`.struct_mask`
    struct_mask: str = "none"
    struct_span: int = DEFAULT_STRUCT_SPAN
    unet_depth: int = 2
    unet_features: int = 32

    # HQ-SSL
    hq_depth: int = 3
    hq_features: int = 16
    noise_model: str = "curve"
    noise_sigma: float | None = None  # known Gaussian sigma, in the input's intensity units
    #: how training treats the measured noise: kept "fixed", "fine-tune"d in the second half,
    #: learned "joint"ly from the start (the paper's way), or kept fixed and then "refit" with
    #: the trained prior (curve model only), or "auto": kept fixed, then the refit kept only where
    #: thin structure had inflated the image's calibration (engine/noise_fit_choice.py; the
    #: calibration is kept with other noise models).  Model files store theirs.
    noise_fit: str = "auto"
    #: what the noise is measured on: the "image" itself, "repeats" (the samples are repeated
    #: acquisitions of a still scene) or a "pair" (a second acquisition given to training)
    noise_calibration: str = "image"

    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    num_threads: int | None = None

    # Prediction defaults (stored so a model file predicts the same way).  On a CPU, tiles of
    # 384 one at a time predicted fastest for N2V2 and HQ-SSL alike (docs/performance.md);
    # ``tile_batch=None`` picks the batch for the device (see :func:`.device.default_tile_batch`).
    tile_size: int = 384
    tile_size_z: int = 32
    tile_batch: int | None = None

    version: int = field(default=1, repr=False)

    # ------------------------------------------------------------------ helpers
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

    def validate(self) -> "TrainConfig":
        """Check every field; raise :class:`ConfigError` naming the first bad one."""
        def bad(name: str, why: str) -> ConfigError:
            err = ConfigError(f"Invalid setting {name}={getattr(self, name)!r}: {why}")
            err.setting = name  # type: ignore[attr-defined]  # front ends name their own option
            return err

        method = method_class(self.method)
        parse_axes(self.axes)
        if self.train_3d and "Z" not in self.axes.upper():
            raise bad("train_3d", f"3D training needs a Z axis, but axes are {self.axes!r}")
        if self.channels not in CHANNEL_MODES:
            raise bad("channels", f"choose one of {', '.join(CHANNEL_MODES)}")
        for name, lo in (("patch_size", 8), ("patch_size_z", 4), ("batch_size", 1),
                         ("unet_depth", 1), ("unet_features", 4), ("hq_depth", 1),
                         ("hq_features", 4), ("validation_interval", 1), ("tile_size", 16),
                         ("tile_size_z", 4), ("mask_radius", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise bad(name, f"must be an integer >= {lo}")
            if name in MAXIMA and value > MAXIMA[name]:
                raise bad(name, f"must be at most {MAXIMA[name]} ({MAXIMA_WHY[name]})")
        for name in ("patch_size", "patch_size_z"):
            if getattr(self, name) % 4:
                raise bad(name, "must be a multiple of 4")
        for name in ("validation_fraction", "learning_rate", "warmup_fraction", "mask_fraction",
                     "time_budget_s", "noise_sigma", "num_threads"):
            value = getattr(self, name)
            optional = name in ("time_budget_s", "noise_sigma", "num_threads")
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(name, "must be a number" + (" or None" if optional else ""))
            if not math.isfinite(value):
                raise bad(name, "must be a finite number" + (" or None" if optional else ""))
        if self.steps is None and self.epochs is None and self.time_budget_s is None:
            raise ConfigError("Set a training length: steps, epochs or time_budget_s.")
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise bad(name, "must be a positive integer or None")
            if value is not None and value > MAXIMA[name]:
                raise bad(name, f"must be at most {MAXIMA[name]:,} ({MAXIMA_WHY[name]}); for a run "
                          "that stops on time, set time_budget_s")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise bad("time_budget_s", "must be a positive number of seconds or None")
        if not 0.0 <= self.validation_fraction < 0.5:
            raise bad("validation_fraction", "must be in [0, 0.5)")
        if not 0.0 < self.learning_rate < 1.0:
            raise bad("learning_rate", "must be in (0, 1)")
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"choose one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise bad("warmup_fraction", "must be in [0, 1)")
        if self.noise_model not in NOISE_MODELS:
            raise bad("noise_model", f"choose one of {', '.join(NOISE_MODELS)}")
        if self.noise_fit not in NOISE_FITS:
            raise bad("noise_fit", f"choose one of {', '.join(NOISE_FITS)}")
        if self.noise_fit == "refit" and self.noise_model != "curve":
            raise bad("noise_fit", "a refit after training needs the 'curve' noise model")
        if self.noise_calibration not in NOISE_CALIBRATIONS:
            raise bad("noise_calibration", f"choose one of {', '.join(NOISE_CALIBRATIONS)}")
        if self.noise_model == "gaussian-known":
            if self.noise_sigma is None or not self.noise_sigma > 0:
                raise bad("noise_sigma", "a known-sigma Gaussian noise model needs noise_sigma > 0 "
                          "(in the image's intensity units)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < MAX_SEED:
            raise bad("seed", f"must be an integer from 0 to {MAX_SEED - 1}")
        if not isinstance(self.device, str) or not self.device:
            raise bad("device", "use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        if self.tile_batch is not None and (not isinstance(self.tile_batch, int)
                                            or isinstance(self.tile_batch, bool) or self.tile_batch < 1):
            raise bad("tile_batch", "must be an integer >= 1, or None for the device's default")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise bad("num_threads", "must be an integer >= 1 or None")
        struct_problem = check_struct_mask(self.struct_mask, self.struct_span)
        if struct_problem:
            raise bad(*struct_problem)
        if self.struct_mask != "none" and "struct_mask" not in method.fields():
            users = " and ".join(c.display_name for c in method_classes() if "struct_mask" in c.fields())
            raise bad("struct_mask", f"structN2V masks are for {users} only, not "
                      f"{method.display_name}: {method.struct_mask_refusal or 'train with N2V2'}")
        method.validate(self)
        self.axes = self.axes.upper()
        return self

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
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
