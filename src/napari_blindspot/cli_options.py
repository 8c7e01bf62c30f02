"""The `blindspot` options: the common ones and the training options, with each registered
method's own settings (their flags and help come from the methods)."""

from __future__ import annotations

import argparse
from typing import Any

from .engine import Setting, TrainConfig, method_classes, method_names
from .engine.defaults import DEFAULT_METHOD, default_plan

#: One-shot `denoise` trains for this long unless told otherwise (the engine's default plan,
#: the widget's too), so that training plus prediction of a 512x512 frame take about 3 minutes
#: on two CPU cores.
ONE_SHOT_MINUTES = float(default_plan("cpu").time_budget_s or 165.0) / 60.0


def method_settings() -> list[Setting]:
    """The registered methods' own settings that have a command-line flag (each flag once)."""
    seen: dict[str, Setting] = {}
    for cls in method_classes():
        for setting in cls.settings:
            if setting.flag:
                seen.setdefault(setting.flag, setting)
    return list(seen.values())


def dest(setting: Setting) -> str:
    """The argparse destination of a method setting's flag."""
    return str(setting.flag).lstrip("-").replace("-", "_")


def add_method_setting(g: Any, setting: Setting) -> None:
    """The option of a method setting, its help naming the methods that use it."""
    users = "/".join(cls.display_name for cls in method_classes()
                     if any(s.flag == setting.flag for s in cls.settings))
    default = setting.default
    extra = f" (default {default})" if default is not None else ""
    kwargs: dict[str, Any] = {"dest": dest(setting),
                              "help": f"{users}: {setting.help}{extra}".replace("%", "%%")}
    if setting.kind == "choice":
        kwargs["choices"] = setting.choices
    elif setting.kind == "text":
        kwargs["metavar"] = setting.placeholder or None
    else:
        kwargs["type"] = int if setting.kind == "int" else float
    g.add_argument(setting.flag, **kwargs)


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
    g.add_argument("--patch-size", type=int, help=f"side of the square training patches in pixels "
                   f"(default {TrainConfig().patch_size}; a multiple of 4)")
    g.add_argument("--patch-size-z", type=int, help=f"depth of the training patches in Z, with --3d "
                   f"(default {TrainConfig().patch_size_z}; a multiple of 4)")
    g.add_argument("--batch-size", type=int, help=f"patches per training step (default "
                   f"{TrainConfig().batch_size}" + "".join(
                       f"; {cls.display_name} {cls.defaults['batch_size']}" for cls in method_classes()
                       if "batch_size" in cls.defaults) + ")")
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--features", type=int, help="network width (first level)")
    g.add_argument("--depth", type=int, help="network depth (number of poolings)")
    for setting in method_settings():
        add_method_setting(g, setting)
    g.add_argument("--channels", choices=("auto", "independent", "joint"),
                   help="auto (default): measured from the data (each channel's noise, the signal "
                   "correlation between channels; said when training starts), then independent, "
                   "which measured better than joint for different and for same structures; "
                   "independent: one network for every channel, each channel a sample; "
                   "joint: channels are denoised together and may inform each other")
    g.add_argument("--validation-fraction", type=float,
                   help="share of the data held out to pick the best model (default 0.1)")
    g.add_argument("--seed", type=int, help="random seed: the same seed and settings give the same "
                   "model (default 0)")
    g.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    g.add_argument("--config", help="JSON file with training settings (command-line options win)")
    paired = "/".join(cls.display_name for cls in method_classes() if cls.takes_target())
    g.add_argument("--target", help=f"second independent noisy acquisition ({paired})")
    measured = "/".join(cls.display_name for cls in method_classes() if "noise_calibration" in cls.fields())
    g.add_argument("--noise-from", help=f"{measured}: measure the noise against this second acquisition "
                   "of the same scene (same shape) instead of the image alone; it is not trained on")


def add_common(p: argparse.ArgumentParser) -> None:
    """The input and prediction options every command that reads an image has."""
    p.add_argument("--axes", help="axes of the input, e.g. YX, TYX, ZYX, CZYX (default: from TIFF metadata)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--tile-size", type=int, help="prediction tile size in pixels (default 384; smaller uses less memory)")
    p.add_argument("--allow-missing-chunks", action="store_true",
                   help="read the chunks a zarr input lacks as its fill value (for writers that leave "
                   "out empty chunks; default: refuse an incomplete store)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="8-fold test-time augmentation (8x slower prediction, 0.2-0.4 dB better; "
                   "default: on for one-shot `denoise` of images up to 1 megapixel, else off)")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
