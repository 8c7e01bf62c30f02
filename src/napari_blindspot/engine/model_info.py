"""What a napari-blindspot model holds, as text: its one-line summary and the lines
``blindspot info`` prints (settings, noise model and noise curves, normalisation).  Used by
:meth:`~.model.DenoisingModel.label` and :meth:`~.model.DenoisingModel.describe`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .methods.n2v.struct_mask import struct_mask_text

if TYPE_CHECKING:
    from .model import DenoisingModel

#: How each way of fitting the noise model reads.
NOISE_FIT_WORDS = {"fixed": "kept fixed during training", "fine-tune": "fine-tuned in the second half "
                   "of training", "joint": "learned with the network",
                   "refit": "kept fixed during training, refit with the trained prior after it",
                   "auto": "kept fixed during training, refit with the trained prior after it "
                   "only where thin structure had inflated the measurement"}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def summary(model: DenoisingModel) -> str:
    """E.g. ``HQ-SSL 2D, 1,500 steps, axes TYX, 1 channel``."""
    cfg = model.config
    steps = int(model.info.get("steps", 0) or 0)
    name = model.method.display_name or cfg.method
    return (f"{name} {'3D' if cfg.train_3d else '2D'}, {_plural(steps, 'step')}, "
            f"axes {cfg.axes}, {_plural(model.channels, 'channel')}")


def describe(model: DenoisingModel) -> list[str]:
    """The lines ``blindspot info`` prints about ``model``."""
    c = model.config
    lines = [f"model: {summary(model)}",
             f"method: {c.method}", f"axes: {c.axes} ({'3D' if c.train_3d else '2D'} training)",
             f"channels: {model.channels} ({c.channels})",
             f"steps trained: {model.info.get('steps')}  best validation loss: "
             f"{model.info.get('best_val_loss')}"]
    if "struct_mask" in model.method.fields():
        lines.append(f"structN2V mask: {struct_mask_text(c.struct_mask, c.struct_span)}")
    if "noise_model" in model.method.fields():
        lines += _noise_lines(model)
    lines.append(f"normalisation mean: {model.normalization.mean}  std: {model.normalization.std}")
    lines += [f"saturation level: {line}" for line in model.normalization.messages()]
    return lines


def _noise_lines(model: DenoisingModel) -> list[str]:
    c = model.config
    cals = model.info.get("noise_calibration") or []
    source = {"image": "measured on the image", "repeats": "measured across repeated acquisitions"}.get(
        cals[0]["source"] if cals else "", "not measured (a model file of napari-blindspot 0.1)")
    known = c.noise_model == "gaussian-known"
    lines = [f"noise model: {c.noise_model}" + ("" if c.noise_model == "mean-only" else
             f" ({'given' if known else source}, {NOISE_FIT_WORDS.get(c.noise_fit, c.noise_fit)})")]
    lines += [f"noise {k}: {v:.6g}" for k, v in model.noise_parameters().items()]
    for ch in range(model.channels):
        curve = model.noise_curve(ch)
        if curve is None:
            break
        lines.append(f"noise curve{f' of channel {ch}' if model.channels > 1 else ''} "
                     "(variance against the clean signal, intensity units):")
        extra_columns = [k for k in ("measured", "refit") if k in curve]
        lines.append("  signal     model" + "".join(f" {k:>10s}" for k in extra_columns))
        for i, (x, v) in enumerate(zip(curve["signal"], curve["variance"])):
            lines.append(f"  {x:8.4g} {v:9.4g}" + "".join(f" {curve[k][i]:10.4g}" for k in extra_columns))
        lines += [f"  warning: {w}" for w in (cals[ch].get("warnings", []) if ch < len(cals) else [])]
    return lines


__all__ = ["NOISE_FIT_WORDS", "describe", "summary"]
