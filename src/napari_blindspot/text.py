"""Text shared by the front ends (the command line and the widget): durations, model
summaries, training and denoising progress, learned noise parameters.

Plain functions of engine objects and events; no Qt, no napari, no printing.
"""

from __future__ import annotations

import math

from .engine import (BlindspotError, CompileFallback, ConfigError, DenoisingModel, DivergenceRecovered, DurationWarning, Method,
                     TrainingFinished,
                     TrainingProgress, TrainingStarted, describe_device, method_class, select_device)
from .engine.system.device import interactive_threads

#: How a finished run's ``reason`` reads after "Training ...".
REASON_WORDS = {"completed": "finished", "stopped": "stopped", "time budget": "used its time budget",
                "diverged": "kept diverging; it ended with its best weights",
                "converged": "converged"}


def format_duration(seconds: float | None) -> str:
    """``12 s``, ``4:05`` or ``1:02:03``; ``--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plural(count: int, word: str) -> str:
    """``1 channel``, ``2 channels``, ``1,500 steps``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def display_name(method: str) -> str:
    """The name people read for ``method`` (the name itself for an unknown method)."""
    try:
        return method_class(method).display_name or method
    except ConfigError:
        return method


def training_length(total_steps: int | None, time_budget_s: float | None) -> str:
    """``1,500 steps``, ``5:00`` or ``1,500 steps or 5:00``."""
    parts = ([plural(total_steps, "step")] if total_steps else []) + (
        [format_duration(time_budget_s)] if time_budget_s else [])
    return " or ".join(parts)


def training_started(ev: TrainingStarted) -> str:
    """E.g. ``Training HQ-SSL on CPU, 2 threads for 500 steps: 640 patches per epoch,
    0.12 M parameters.``"""
    length = training_length(ev.total_steps, ev.time_budget_s)
    return (f"Training {display_name(ev.method)} on {ev.device}" + (f" for {length}" if length else "")
            + f": {ev.n_train_patches:,} patch{'' if ev.n_train_patches == 1 else 'es'} per epoch, "
            f"{ev.n_parameters / 1e6:.2f} M parameters." + (f" {ev.channels}" if ev.channels else "")
            + (f" Bright sparse spots: {ev.saturation}." if ev.saturation else "")
            + (f" Weights {ev.start}." if ev.start else ""))


def progress_line(ev: TrainingProgress) -> str:
    """The progress bar's text, e.g. ``step 120 / 1,500 · 10 s · 42 s left``: steps and time
    (an "epoch" of a single image means little)."""
    parts = [f"step {ev.step:,}" + (f" / {ev.total_steps:,}" if ev.total_steps else "")]
    parts.append(format_duration(ev.elapsed_s))
    if ev.eta_s is not None:
        parts.append(f"{format_duration(ev.eta_s)} left")
    return " · ".join(parts)


def loss_line(ev: TrainingProgress) -> str:
    """Losses and learned noise parameters, e.g. ``loss 0.1234 · val 0.1200 · a=0.5 b=3``."""
    parts = [f"loss {ev.train_loss:.4f}"]
    if ev.val_loss is not None:
        parts.append(f"val {ev.val_loss:.4f}")
    if ev.noise:
        parts.append(" ".join(f"{k}={v:.3g}" for k, v in ev.noise.items()))
    return " · ".join(parts)


def noise_text(method: Method, parameters: dict[str, float]) -> str:
    """E.g. ``Measured noise: a = 0.5, b = 3 (variance = a · signal + b)``; empty without
    parameters."""
    return f"{method.parameters_heading}: {method.describe_parameters(parameters)}" if parameters else ""


def divergence_warning(ev: DivergenceRecovered) -> str:
    """A run that diverged and went back, e.g. ``Training diverged at step 374 (non-finite
    gradients ...): it went back to the weights of step 300 and goes on at 0.5x the learning
    rate.``"""
    back = f"the weights of step {ev.restored_step}" if ev.restored_step else "its initial weights"
    return (f"Training diverged at step {ev.step} ({ev.reason}): it went back to {back} and goes "
            f"on at {ev.learning_rate_factor:g}x the learning rate (recovery {ev.recoveries}).")


def compile_fallback(ev: CompileFallback) -> str:
    """Compiling was asked for but could not be used, e.g. ``torch.compile could not be used
    (InductorError: ...): training goes on uncompiled, as fast as without --compile.``"""
    return (f"torch.compile could not be used ({ev.reason}): training goes on uncompiled from "
            f"step {ev.step:,}, at the usual speed; the model is the same kind.")


def duration_warning(ev: DurationWarning, command_line: bool) -> str:
    """A run that will take too long, and what to do, worded for the command line (options)
    or the widget (its settings), e.g. ``Training 1,500 steps will take about 2:25:00 (5.8 s a
    step): train for --minutes 10 instead (about 103 steps at this speed), ...``."""
    patch = "x".join(str(n) for n in ev.patch_shape)
    if command_line:
        budget = f"train with --minutes {ev.suggested_minutes}"
        fewer = f"fewer steps (--steps {ev.steps_in_suggested:,})".replace(",", "")
        smaller = f"smaller patches or batches (--patch-size, --batch-size; now {patch}, batch {ev.batch_size})"
        flat = "2D (without --3d): 3D on a CPU is many times slower"
    else:
        budget = f"set the training length to '{ev.suggested_minutes} minutes'"
        fewer = f"fewer steps ('{ev.steps_in_suggested} steps')"
        smaller = f"a smaller patch or batch size (now {patch}, batch {ev.batch_size})"
        flat = "2D: 3D on a CPU is many times slower"
    options = [fewer, smaller] + ([flat] if ev.three_d_cpu else [])
    text = (f"Training {plural(ev.total_steps, 'step')} will take about {format_duration(ev.projected_s)} "
            f"({ev.seconds_per_step:.2g} s a step): {budget} instead (about "
            f"{plural(ev.steps_in_suggested, 'step')} at this speed), or choose "
            + ", ".join(options[:-1]) + f" or {options[-1]}.")
    return text + ("" if command_line else " Stop, change the settings and Train again.")


def training_finished(ev: TrainingFinished) -> str:
    """E.g. ``Training finished after 1,500 steps (0:31)``."""
    return (f"Training {REASON_WORDS.get(ev.reason, ev.reason)} after {plural(ev.step, 'step')} "
            f"({format_duration(ev.elapsed_s)})")


def finished_progress(ev: TrainingFinished) -> str:
    """The progress bar's text at the end, e.g. ``completed · 1,500 steps · 0:31``."""
    return f"{ev.reason} · {plural(ev.step, 'step')} · {format_duration(ev.elapsed_s)}"


def model_summary(model: DenoisingModel, origin: str = "") -> str:
    """E.g. ``HQ-SSL 2D, 1,500 steps, axes TYX, 1 channel (trained on 'cells')``
    (:meth:`~.engine.model.DenoisingModel.label`)."""
    return model.label() + (f" ({origin})" if origin else "")


def denoising_progress(done: int, total: int, elapsed_s: float) -> str:
    """E.g. ``denoising 40% · 0:12 left``."""
    fraction = done / max(1, total)
    eta = elapsed_s * (1 - fraction) / fraction if fraction > 0 else None
    return f"denoising {fraction:.0%}" + (f" · {format_duration(eta)} left" if eta is not None else "")


def device_line(name: str) -> tuple[str, bool]:
    """``(text, ok)``: the device ``name`` ("auto", "cpu", "cuda:0"…) trains on under an
    interactive front end, or what is wrong with it."""
    try:
        device = select_device(name)
    except BlindspotError as exc:
        return str(exc), False
    if device.type == "cpu":
        return f"Device: CPU, {plural(interactive_threads(), 'thread')} for training", True
    return f"Device: {describe_device(device)}", True


def _loss_kind(method: str) -> str:
    """``"likelihood"`` (a noise model: HQ-SSL), ``"pair"`` (Noise2Noise) or ``"masked"``."""
    try:
        cls = method_class(method)
    except ConfigError:
        return "masked"
    if "noise_model" in cls.fields():
        return "likelihood"
    return "pair" if cls.takes_target() else "masked"


def loss_legend(method: str) -> tuple[str, str]:
    """The loss plot's two legend labels for ``method``: training, validation."""
    return {"likelihood": ("train NLL", "held-out NLL"), "pair": ("train", "held-out"),
            "masked": ("train, masked px", "held-out")}[_loss_kind(method)]


def loss_help(method: str) -> str:
    """What the loss plot's two curves are for ``method``, and why they differ (its tooltip)."""
    kind = _loss_kind(method)
    what = {
        "masked": ("the mean squared error at the masked (blind-spot) pixels, against their own "
                   "noisy values. It includes the noise itself, so it levels off well above zero"),
        "pair": ("the mean squared error against the second noisy acquisition, at every pixel. It "
                 "includes that acquisition's noise, so it levels off well above zero"),
        "likelihood": ("the negative log-likelihood of the noisy pixels under the network's "
                       "prediction and the noise model, per pixel of the normalised image (in "
                       "nats). It is a density, not a distance: values below zero are normal"),
    }[kind]
    return (f"Loss against training step, lower is better: {what}.\n"
            "Blue: the training loss on random (flipped, rotated) patches of the training part, "
            "averaged over the last steps (faint: each report).\n"
            "Orange: the same loss on a fixed set of held-out patches (the last frames, or a band "
            "at the bottom of the image), with the network in evaluation mode; the model with the "
            "best one is kept.\n"
            "The two sit at different levels because they see different pixels: the held-out part "
            "may hold more dark background (weaker noise) or less structure, and training patches "
            "are augmented while the network changes. Compare each curve with itself: both should "
            "fall, then level off.")


def still_scene_hint(frames: int, command_line: bool) -> str:
    """The suggestion for a time-lapse of a still scene (:mod:`.engine.stillness`): measure the
    noise across its frames."""
    how = ("--noise-calibration repeats measures the noise across them" if command_line else
           "for HQ-SSL set 'Measure noise on' to 'repeats of a still scene (T)' (Advanced "
           "settings) to measure the noise across them")
    return (f"The {frames} frames along T look like repeats of a still scene: {how}, which "
            "separates noise from structure better than one image.")


#: A notification (toast) shows about this many characters before it cuts the text.
NOTICE_CHARS = 90


def short_notice(text: str, limit: int = NOTICE_CHARS) -> str:
    """``text`` for a notification that shows only its start: whole when it fits, else its first
    sentence (cut at a word) and a pointer to the whole text in the dock."""
    if len(text) <= limit:
        return text
    tail = " (details in the dock)"
    end = text.find(". ")
    first = text[:end + 1] if 0 < end < limit - len(tail) else text[:limit - len(tail) - 1].rsplit(" ", 1)[0] + "…"
    return first + tail
