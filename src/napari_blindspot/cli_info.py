"""`blindspot info`: what a model file holds, its noise model and noise curve included."""

from __future__ import annotations

import argparse
from typing import Any

from . import cli_checks as checks
from .engine import DenoisingModel, load_model
from .text import model_summary, struct_mask_text


def model_label(model: Any) -> str:
    """The model summary of napari-blindspot models; foreign bioimage.io models name themselves."""
    return model_summary(model) if hasattr(model, "config") else model.label()


def cmd_info(args: argparse.Namespace) -> int:
    checks.check_input("MODEL", args.model)
    model = load_model(args.model, device="cpu", describe_only=True)  # described, never run
    if not hasattr(model, "config"):
        print(f"{model_label(model)} from {args.model}\naxes: {' '.join(model.input_axes)}"
              f"\nchannels: {model.channels}")
        return 0
    c = model.config
    print(f"model: {model_summary(model)}")
    print(f"method: {c.method}\naxes: {c.axes} ({'3D' if c.train_3d else '2D'} training)")
    print(f"channels: {model.channels} ({c.channels})")
    print(f"steps trained: {model.info.get('steps')}  best validation loss: {model.info.get('best_val_loss')}")
    if "struct_mask" in model.method.fields():
        print(f"structN2V mask: {struct_mask_text(c.struct_mask, c.struct_span)}")
    if "noise_model" in model.method.fields():
        _print_noise(model)
    print(f"normalisation mean: {model.normalization.mean}  std: {model.normalization.std}")
    return 0


NOISE_FIT_WORDS = {"fixed": "kept fixed during training", "fine-tune": "fine-tuned in the second half "
                   "of training", "joint": "learned with the network",
                   "refit": "kept fixed during training, refit with the trained prior after it",
                   "auto": "kept fixed during training, refit with the trained prior after it "
                   "only where thin structure had inflated the measurement"}


def _print_noise(model: DenoisingModel) -> None:
    c = model.config
    cals = model.info.get("noise_calibration") or []
    source = {"image": "measured on the image", "repeats": "measured across repeated acquisitions"}.get(
        cals[0]["source"] if cals else "", "not measured (a model file of napari-blindspot 0.1)")
    known = c.noise_model == "gaussian-known"
    print(f"noise model: {c.noise_model}" + ("" if c.noise_model == "mean-only" else
          f" ({'given' if known else source}, {NOISE_FIT_WORDS.get(c.noise_fit, c.noise_fit)})"))
    for k, v in model.noise_parameters().items():
        print(f"noise {k}: {v:.6g}")
    for ch in range(model.channels):
        curve = model.noise_curve(ch)
        if curve is None:
            return
        print(f"noise curve{f' of channel {ch}' if model.channels > 1 else ''} "
              "(variance against the clean signal, intensity units):")
        extra_columns = [k for k in ("measured", "refit") if k in curve]
        print("  signal     model" + "".join(f" {k:>10s}" for k in extra_columns))
        for i, (x, v) in enumerate(zip(curve["signal"], curve["variance"])):
            print(f"  {x:8.4g} {v:9.4g}" + "".join(f" {curve[k][i]:10.4g}" for k in extra_columns))
        for warning in (cals[ch].get("warnings", []) if ch < len(cals) else []):
            print(f"  warning: {warning}")
