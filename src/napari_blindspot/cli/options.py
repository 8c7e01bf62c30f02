"""The `blindspot` options: the common ones and the training options, made from the settings'
declarations (:mod:`..engine.settings` and each registered method's own: flag, type, choices,
help and default); a few options set their settings by a rule of their own (:data:`RULED`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..engine import Setting, TrainConfig, method_classes, method_names
from ..engine.defaults import DEFAULT_METHOD, default_plan
from ..engine.methods import declared_setting
from ..engine.settings import BY_NAME, GENERAL

#: One-shot `denoise` trains for this long unless told otherwise (the engine's default plan,
#: the widget's too), so that training plus prediction of a 512x512 frame take about 3 minutes
#: on two CPU cores.
ONE_SHOT_MINUTES = float(default_plan("cpu").time_budget_s or 165.0) / 60.0


#: The settings an option sets by a rule of its own (:func:`.training.config_from_args`):
#: setting -> flag; ``--features``/``--depth`` set each method's network size.
RULED = {"steps": "--steps", "epochs": "--epochs", "time_budget_s": "--minutes", "train_3d": "--3d",
         "axes": "--axes"}
#: The settings every command that reads an image has (:func:`add_common`); the other options
#: of settings are training options (:func:`add_training_options`).
COMMON = ("device", "tile_size")


def flagged_settings() -> list[Setting]:
    """Every declared setting with a command-line flag: the general ones, then each registered
    method's own (a flag several declare, once: its first declaration)."""
    seen: dict[str, Setting] = {}
    for setting in GENERAL + tuple(s for cls in method_classes() for s in cls.settings):
        if setting.flag:
            seen.setdefault(setting.flag, setting)
    return list(seen.values())


def copied_settings() -> list[Setting]:
    """The settings whose option is copied into the configuration as given (all with a flag but
    :data:`RULED`, ``--method`` and the network's size)."""
    network = {name for cls in method_classes() for name in cls.network_size}
    return [s for s in flagged_settings()
            if s.field not in RULED and s.field not in network and s.field != "method"]


def dest(setting: Setting) -> str:
    """The argparse destination of a setting's flag."""
    return str(setting.flag).lstrip("-").replace("-", "_")


def option_fields() -> dict[str, str]:
    """argparse destination -> setting, for every option copied into the settings as given."""
    return {dest(s): s.field for s in copied_settings()}


def option_of() -> dict[str, str]:
    """Setting -> the command-line flag that sets it (for messages)."""
    table: dict[str, str] = {}
    for setting in copied_settings():
        table.setdefault(setting.field, str(setting.flag))
    table.update(RULED)
    for cls in method_classes():
        width, depth = cls.network_size
        table[width], table[depth] = "--features", "--depth"
    return table


def setting_help(setting: Setting) -> str:
    """A setting's option help: its declared help and default; a method's own setting names the
    methods that use it, a general one the methods whose default differs."""
    general = setting.field in BY_NAME
    if general:
        text = setting.help
        own = "".join(f"; {cls.display_name} {cls.defaults[setting.field]}" for cls in method_classes()
                      if setting.field in cls.defaults)
    else:
        users = "/".join(cls.display_name for cls in method_classes()
                         if any(s.flag == setting.flag for s in cls.settings))
        text, own = f"{users}: {setting.help}", ""
    if setting.default is not None:
        text += f" (default {setting.default}{own})"
    return text.replace("%", "%%")


def add_setting_option(g: Any, setting: Setting) -> None:
    """The option of a declared setting: flag, type or choices (a yes/no setting: ``--flag``
    and ``--no-flag``), help and default."""
    kwargs: dict[str, Any] = {"dest": dest(setting), "help": setting_help(setting)}
    if setting.choices:
        kwargs["choices"] = setting.choices
    elif setting.kind == "bool":  # --flag / --no-flag; left out: the configuration's value
        kwargs.update(action=argparse.BooleanOptionalAction, default=None)
    elif setting.kind == "text":
        kwargs["metavar"] = setting.placeholder or None
    else:
        kwargs["type"] = setting.value_type
    g.add_argument(setting.flag, **kwargs)


def _network_help(role: int) -> str:
    """``--features`` (role 0) / ``--depth`` (1): the declared help and each method's default."""
    def declared(cls: Any) -> Setting:
        return declared_setting(cls.network_size[role]) or BY_NAME["unet_depth"]

    defaults = "; ".join(f"{cls.display_name} {cls.defaults.get(declared(cls).field, declared(cls).default)}"
                         for cls in method_classes())
    return f"{declared(method_classes()[0]).help} (default {defaults})".replace("%", "%%")


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The training options of ``train``, ``denoise`` and ``demo``."""
    g = p.add_argument_group("training (one-shot or `train`)")
    g.add_argument("--method", choices=method_names(),
                   help=f"denoising method (default {DEFAULT_METHOD}, or the --config file's): "
                   + " ".join(f"{cls.name}: {cls.help}" for cls in method_classes()).replace("%", "%%"))
    dims = g.add_mutually_exclusive_group()
    dims.add_argument("--3d", dest="three_d", action="store_true", help="train on Z,Y,X patches "
                      "(needs a Z axis; the default for a near-isotropic stack: z-spacing at most "
                      "2x the pixel size, from the file's pixel sizes)")
    dims.add_argument("--2d", dest="two_d", action="store_true", help="train slice by slice (the "
                      "default for anisotropic stacks and stacks without pixel sizes)")
    g.add_argument("--steps", type=int, help=f"gradient steps (default: `train` {TrainConfig().steps}; "
                   f"one-shot `denoise` trains {ONE_SHOT_MINUTES * 60:.0f} s instead)")
    g.add_argument("--epochs", type=int, help="passes over the data")
    g.add_argument("--minutes", type=float, help="wall-clock training budget; --steps/--epochs, if "
                   "also given, cap it")
    for setting in copied_settings():  # the declared settings' options, methods' own last
        if setting.field not in COMMON:
            add_setting_option(g, setting)
    g.add_argument("--features", type=int, help=_network_help(0))
    g.add_argument("--depth", type=int, help=_network_help(1))
    g.add_argument("--config", help="JSON file with training settings (command-line options win)")
    paired = "/".join(cls.display_name for cls in method_classes() if cls.takes_target())
    g.add_argument("--target", help=f"second independent noisy acquisition ({paired})")
    measured = "/".join(cls.display_name for cls in method_classes() if "noise_calibration" in cls.fields())
    g.add_argument("--noise-from", help=f"{measured}: measure the noise against this second acquisition "
                   "of the same scene (same shape) instead of the image alone; it is not trained on")


def add_common(p: argparse.ArgumentParser) -> None:
    """The input and prediction options every command that reads an image has."""
    p.add_argument("--axes", help="axes of the input, e.g. YX, TYX, ZYX, CZYX (default: from TIFF metadata)")
    for name in COMMON:
        add_setting_option(p, BY_NAME[name])
    p.add_argument("--allow-missing-chunks", action="store_true",
                   help="read the chunks a zarr input lacks as its fill value (for writers that leave "
                   "out empty chunks; default: refuse an incomplete store)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="8-fold test-time augmentation, the rotations and their mirror images "
                   "(0.2-0.4 dB better; prediction takes about 3.3x one pass with HQ-SSL 2D, 8x "
                   "with the others; default for one-shot `denoise` of up to 1 megapixel: all 8 "
                   "with HQ-SSL 2D, the 4 rotations otherwise; else off)")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
