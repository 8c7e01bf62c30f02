"""Every training setting, declared once: name, type, default, range (and why), choices,
command-line flag, help and widget label.

A :class:`Setting` is one declaration.  :data:`GENERAL` declares the settings every method
shares; each method declares its own in ``Method.settings`` (:mod:`.methods.base`), and the
registry collects them (:func:`.methods.registry.declared_settings`).  From these:

* :class:`~.config.TrainConfig` takes its field defaults and its validation (:func:`problem`,
  one loop; the few rules between settings stay explicit there);
* the command line makes its options and checks (flag, type, choices, help, limits);
* the widget makes its editors (label, range, step, choices' labels, help as tooltip).

A method's own setting that is not a TrainConfig field lives in the configuration's
``extra`` values, reads as an attribute and is stored flat in the model file's JSON like any
other setting.  This module imports nothing of the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: The default method of every front end (the evidence for it: :mod:`.defaults`).
DEFAULT_METHOD = "hqssl"
#: Seeds run from 0 to 2**32 - 4 (numpy and torch generators get seed + 0..3).
MAX_SEED = 2 ** 32 - 3
#: Kinds of setting (how the value is typed and edited; see :class:`Setting`).
KINDS = ("int", "float", "percent", "optional-float", "choice", "text", "bool")
#: Far beyond the memory of any machine: the largest batch, patch and tile (pixels).
BEYOND_MEMORY = "far beyond any memory"


@dataclass(frozen=True)
class Setting:
    """One training setting (a :class:`~.config.TrainConfig` value), declared for every use.

    ``kind`` types and edits it: ``"int"``, ``"float"``, ``"percent"`` (a fraction the
    widget shows in percent), ``"choice"`` (one of ``choices``; ``labels`` names them),
    ``"optional-float"`` (empty means None), ``"text"`` (free text; ``labels`` lists
    suggested values) or ``"bool"``.  ``optional``: None is allowed (``"optional-float"``
    always is).  ``minimum``/``maximum`` bound the value (``open_minimum``/``open_maximum``:
    the bound itself excluded), ``why`` says why the maximum (errors say it) and ``hint`` is
    added to a range error.  ``rule`` replaces the generated error text (for an integer, that
    of a wrong type or a value under the minimum; otherwise that of a value out of range).
    ``validated=False``: checked elsewhere (between settings, in :meth:`TrainConfig.validate`
    or a method's ``validate``).  ``method_only``: the range is checked only for the methods
    that declare the setting (its type always).

    Front ends: ``flag`` is its command-line option (None: none), ``help`` its help (and the
    widget's tooltip), ``label`` its widget label; ``widget``: the row of a general setting in
    the widget's advanced section (1 first; 0: not there; a method's own settings always show
    in its panel).  ``step``,
    ``decimals``, ``placeholder``, ``note`` (a sentence shown next to the editor) and
    ``editor_range`` (where the widget offers less than the valid range) shape the editor;
    ``only_if`` ``(field, value)``: the setting matters only while that other field has that
    value (or one of the values, for a tuple).
    """

    field: str
    label: str
    help: str
    kind: str = "float"
    flag: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    decimals: int = 2
    labels: tuple[tuple[str, str], ...] = ()
    only_if: tuple[str, Any] | None = None
    placeholder: str = ""
    note: str = ""
    default: Any = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    open_minimum: bool = False
    open_maximum: bool = False
    multiple_of: int | None = None
    why: str = ""
    hint: str = ""
    rule: str = ""
    validated: bool = True
    method_only: bool = False
    widget: int = 0
    editor_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Setting {self.field}: kind {self.kind!r} is not one of {KINDS}")

    # ------------------------------------------------------------------ description
    @property
    def nullable(self) -> bool:
        """Whether None is a valid value."""
        return self.optional or self.kind == "optional-float"

    @property
    def value_type(self) -> type:
        """The Python type of a value: int, float, str or bool."""
        return {"int": int, "float": float, "percent": float, "optional-float": float,
                "bool": bool}.get(self.kind, str)

    def applies(self, value: Any) -> bool:
        """Whether this setting matters while its ``only_if`` field holds ``value``."""
        if self.only_if is None:
            return True
        wanted = self.only_if[1]
        return value in wanted if isinstance(wanted, tuple) else value == wanted

    def label_of(self, value: str) -> str:
        """The label of choice ``value`` (the value itself when it has none)."""
        return dict(self.labels).get(value, value)

    def interval(self) -> str:
        """The valid range in words, e.g. ``(0, 1)`` or ``[0, 0.5)``."""
        return (f"{'(' if self.open_minimum else '['}{self.minimum:g}, {self.maximum:g}"
                f"{')' if self.open_maximum else ']'}")

    def editor_bounds(self, scale: float = 1.0) -> tuple[float | None, float | None]:
        """The range an editor offers, in its units (``scale``: 100 for percent); an open
        bound moves by the smallest step the editor shows."""
        if self.editor_range is not None:
            return self.editor_range[0] * scale, self.editor_range[1] * scale
        tick = 1.0 if self.kind == "int" else 10.0 ** -self.decimals
        lo = None if self.minimum is None else self.minimum * scale + (tick if self.open_minimum else 0)
        hi = None if self.maximum is None else self.maximum * scale - (tick if self.open_maximum else 0)
        return lo, hi

    # ------------------------------------------------------------------ validation
    def problem(self, value: Any, in_range: bool = True) -> str | None:
        """Why ``value`` is not valid (the text after ``Invalid setting name=value:``), or
        None.  ``in_range=False``: check the type only (see ``method_only``)."""
        if not self.validated or self.kind == "bool" or (value is None and self.nullable):
            return None
        if self.kind == "int":
            return self._int_problem(value, in_range)
        if self.kind in ("choice", "text"):
            ok = value in self.choices if self.choices else isinstance(value, str) and bool(value)
            return None if ok else (self.rule or f"choose one of {', '.join(self.choices)}")
        return self._number_problem(value, in_range)

    def _int_problem(self, value: Any, in_range: bool) -> str | None:
        low = self.rule or (f"must be an integer >= {self.minimum:g}"
                            + (" or None" if self.nullable else ""))
        if value is None or not isinstance(value, int) or isinstance(value, bool):
            return low
        if not in_range:
            return None
        if self.minimum is not None and value < self.minimum:
            return low
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum:,} ({self.why}){self.hint}" if self.why else low
        if self.multiple_of and value % self.multiple_of:
            return f"must be a multiple of {self.multiple_of}"
        return None

    def _number_problem(self, value: Any, in_range: bool) -> str | None:
        none = " or None" if self.nullable else ""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number{none}"
        if not math.isfinite(value):
            return f"must be a finite number{none}"
        if not in_range:
            return None
        low = self.minimum is not None and (value <= self.minimum if self.open_minimum
                                            else value < self.minimum)
        high = self.maximum is not None and (value >= self.maximum if self.open_maximum
                                             else value > self.maximum)
        if low or high:
            return (self.rule or f"must be in {self.interval()}") + self.hint
        return None


def _int(name: str, label: str, help: str, default: Any, minimum: int, **more: Any) -> Setting:
    return Setting(name, label, help, kind="int", default=default, minimum=minimum, **more)


_DEPTH_WHY = "2^8 = 256-pixel poolings; deeper networks see nothing more"
_WIDTH_WHY = "wider networks do not fit in memory"
_TRAINING_YEARS = "years of training"

#: The settings every method shares, in the order of :class:`~.config.TrainConfig`'s fields
#: (their defaults are TrainConfig's).  The network's width and depth fields are here too:
#: each method names its pair (``Method.network_size``), the command line sets them with
#: ``--features``/``--depth``.
GENERAL: tuple[Setting, ...] = (
    Setting("method", "", "denoising method", kind="choice", flag="--method", default=DEFAULT_METHOD,
            validated=False),  # checked against the registry of methods
    Setting("axes", "", "axes of the input, e.g. YX, TYX, ZYX, CZYX", kind="text", flag="--axes",
            default="YX", validated=False),  # parse_axes names the problem
    Setting("train_3d", "", "train on Z,Y,X patches (needs a Z axis)", kind="bool", flag="--3d",
            default=False),
    Setting("channels", "Channels", "auto: measured from the data (each channel's noise, the "
            "signal correlation between channels; said when training starts): independent when the "
            "channels show the same structure, else separate; independent: one network shared by "
            "every channel, each channel a sample; separate: one network per channel, each trained "
            "as it would be alone (a time budget is then per channel); joint: channels are denoised "
            "together and may inform each other", kind="choice", flag="--channels", default="auto",
            choices=("auto", "independent", "separate", "joint"), widget=4,
            labels=(("auto", "auto (from the data)"),
                    ("independent", "independent (one shared network)"),
                    ("separate", "separate (a network per channel)"))),
    _int("patch_size", "Patch size", "side of the square training patches in pixels (a multiple of "
         "4); larger patches see more context but need more memory", 64, 8, flag="--patch-size",
         maximum=8192, why=BEYOND_MEMORY, multiple_of=4, step=16, editor_range=(8, 1024)),
    _int("patch_size_z", "Z", "depth of the training patches in Z, with 3D training (a multiple of "
         "4)", 16, 4, flag="--patch-size-z", maximum=2048, why=BEYOND_MEMORY, multiple_of=4, step=4,
         editor_range=(4, 256)),
    _int("batch_size", "Batch size", "patches per training step; lower it if the memory runs out",
         16, 1, flag="--batch-size", maximum=1 << 16, why=BEYOND_MEMORY, editor_range=(1, 1024)),
    _int("steps", "", "gradient steps", 1500, 1, flag="--steps", optional=True, maximum=100_000_000,
         why=_TRAINING_YEARS, hint="; for a run that stops on time, set time_budget_s",
         rule="must be a positive integer or None"),
    _int("epochs", "", "passes over the data", None, 1, flag="--epochs", optional=True,
         maximum=1_000_000, why=_TRAINING_YEARS,
         hint="; for a run that stops on time, set time_budget_s",
         rule="must be a positive integer or None"),
    Setting("time_budget_s", "", "wall-clock training budget in seconds; steps/epochs, if also "
            "given, cap it", kind="optional-float", minimum=0.0, open_minimum=True,
            rule="must be a positive number of seconds or None"),
    Setting("validation_fraction", "Validation", "share of the data held out to compute the "
            "validation loss; the model with the best validation loss is kept",
            flag="--validation-fraction", default=0.1, minimum=0.0, maximum=0.5, open_maximum=True,
            step=0.05, widget=1, editor_range=(0.0, 0.45)),
    _int("validation_interval", "", "training steps between validation losses", 50, 1),
    Setting("stop_when_converged", "Stop when converged", "end training early once the "
            "validation loss has stopped improving (never before half the run; the best weights "
            "are kept)", kind="bool", flag="--stop-when-converged", default=True, widget=6),
    Setting("learning_rate", "Learning rate", "peak learning rate (warm-up, then cosine decay)",
            flag="--lr", default=4e-4, minimum=0.0, maximum=1.0, open_minimum=True,
            open_maximum=True),
    Setting("schedule", "", "learning-rate schedule after the warm-up", kind="choice",
            default="cosine", choices=("cosine", "constant")),
    Setting("warmup_fraction", "", "share of the training the learning rate warms up in",
            default=0.05, minimum=0.0, maximum=1.0, open_maximum=True),
    # Noise2Void / N2V2 (the family's own settings are declared in methods/n2v.py)
    _int("mask_radius", "", "radius of the window a masked pixel's replacement is taken from", 2, 1),
    _int("unet_depth", "Network depth", "levels of the network (number of poolings); more levels "
         "see more context", 2, 1, flag="--depth", maximum=8, why=_DEPTH_WHY,
         editor_range=(1, 6)),
    _int("unet_features", "Network width", "features in the first network layer (doubled at "
         "every level); smaller is faster, larger may denoise better", 32, 4, flag="--features",
         maximum=512, why=_WIDTH_WHY, step=4, editor_range=(4, 256)),
    # HQ-SSL (its noise settings are declared in methods/hqssl.py)
    _int("hq_depth", "Network depth", "levels of the network (number of poolings); more levels "
         "see more context", 3, 1, flag="--depth", maximum=8, why=_DEPTH_WHY, editor_range=(1, 6)),
    _int("hq_features", "Network width", "features in the first network layer (doubled at every "
         "level); smaller is faster, larger may denoise better", 16, 4, flag="--features",
         maximum=512, why=_WIDTH_WHY, step=4, editor_range=(4, 256)),
    _int("seed", "Seed", "random seed: the same seed and settings give the same model (on the "
         "same device)", 0, 0, flag="--seed", maximum=MAX_SEED - 1,
         rule=f"must be an integer from 0 to {MAX_SEED - 1}", widget=2,
         editor_range=(0, 2 ** 31 - 1)),
    Setting("device", "Device", "auto, cpu, cuda, cuda:N or mps", kind="text", flag="--device",
            default="auto", rule="use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'", widget=3),
    Setting("mixed_precision", "", "bfloat16 mixed precision where the device has it", kind="bool",
            default=True),
    _int("num_threads", "", "CPU threads (default: all cores)", None, 1, flag="--threads",
         optional=True),
    Setting("compile", "Compile", "compile the training network with torch.compile (slow to "
            "start; without a working compiler training goes on uncompiled and says so)",
            kind="bool", flag="--compile", default=False, widget=7),
    _int("tile_size", "Tile size", "denoising works on tiles of this size (pixels); lower it if "
         "the memory runs out while denoising", 384, 16, flag="--tile-size", maximum=1 << 16,
         why="larger tiles than any image", step=64, widget=5, editor_range=(32, 8192)),
    _int("tile_size_z", "", "depth of the prediction tiles in Z (pixels)", 32, 4),
    _int("tile_batch", "", "tiles predicted at once (None: the device's default)", None, 1,
         optional=True, rule="must be an integer >= 1, or None for the device's default"),
    Setting("version", "", "the configuration's format", kind="int", default=1, validated=False),
)

#: The shared settings by name.
BY_NAME: dict[str, Setting] = {s.field: s for s in GENERAL}


def default(name: str) -> Any:
    """The declared default of the general setting ``name`` (TrainConfig's field default)."""
    return BY_NAME[name].default


def choices_of(declarations: tuple[Setting, ...] | list[Setting]) -> dict[str, tuple[str, ...]]:
    """``{field: choices}`` of the settings among ``declarations`` that take one of a few names."""
    return {s.field: s.choices for s in declarations if s.choices}


def maxima_of(declarations: tuple[Setting, ...] | list[Setting]) -> tuple[dict[str, float], dict[str, str]]:
    """``({field: maximum}, {field: why})`` of the settings with a maximum and its reason."""
    bounded = [s for s in declarations if s.maximum is not None and s.why]
    return {s.field: s.maximum for s in bounded}, {s.field: s.why for s in bounded}


__all__ = ["BEYOND_MEMORY", "BY_NAME", "DEFAULT_METHOD", "GENERAL", "KINDS", "MAX_SEED", "Setting",
           "choices_of", "default", "maxima_of"]
