"""The text the command line and the widget share."""

from __future__ import annotations

import math

from napari_blindspot.engine import TrainingFinished, TrainingProgress, TrainingStarted, get_method
from napari_blindspot.engine.config import TrainConfig
from napari_blindspot.text import (denoising_progress, display_name, finished_progress, format_duration,
                                   loss_line, noise_text, progress_line, training_finished,
                                   training_length, training_started)


def _progress(**changes) -> TrainingProgress:
    values = dict(step=120, total_steps=1500, epoch=3.21, train_loss=0.12345, val_loss=None,
                  best_val_loss=None, learning_rate=1e-3, elapsed_s=10.0, eta_s=42.0, progress=0.08)
    values.update(changes)
    return TrainingProgress(**values)


def test_durations():
    assert format_duration(12.4) == "12 s"
    assert format_duration(245) == "4:05"
    assert format_duration(3723) == "1:02:03"
    assert format_duration(None) == format_duration(math.inf) == "--"


def test_progress_lines():
    assert progress_line(_progress()) == "step 120 / 1,500 · 10 s · 42 s left"
    assert progress_line(_progress(total_steps=None, eta_s=None, elapsed_s=75.0)) == "step 120 · 1:15"
    assert loss_line(_progress(val_loss=0.1, noise={"a": 0.5, "b": 3.0})) == \
        "loss 0.1235 · val 0.1000 · a=0.5 b=3"
    assert denoising_progress(400, 1000, 8.0) == "denoising 40% · 12 s left"
    assert denoising_progress(0, 1000, 0.0) == "denoising 0%"


def test_training_start_and_end():
    started = TrainingStarted("hqssl", "CPU, 2 threads", 500, 300.0, 640, 64, 123_456)
    assert training_length(500, 300.0) == "500 steps or 5:00"
    assert training_started(started) == ("Training HQ-SSL on CPU, 2 threads for 500 steps or 5:00: "
                                         "640 patches per epoch, 0.12 M parameters.")
    finished = TrainingFinished(None, 1500, "time budget", 31.0)
    assert training_finished(finished) == "Training used its time budget after 1,500 steps (31 s)"
    assert finished_progress(finished) == "time budget · 1,500 steps · 31 s"
    assert display_name("n2v2") == "N2V2" and display_name("unknown") == "unknown"


def test_noise_text_asks_the_method():
    hq = get_method(TrainConfig(method="hqssl"))  # a measured curve, kept fixed
    assert noise_text(hq, {"var_min": 2.5, "var_max": 300.0}) == \
        "Measured noise: variance 2.5 to 300 across the brightness (a curve)"
    affine = get_method(TrainConfig(method="hqssl", noise_model="affine", noise_fit="fine-tune"))
    assert noise_text(affine, {"a": 0.5, "b": -3.0}) == \
        "Learned noise: a = 0.5, b = -3 (variance = a · signal + b)"
    gaussian = get_method(TrainConfig(method="hqssl", noise_model="gaussian", noise_fit="joint"))
    assert noise_text(gaussian, {"sigma": 2.0}) == "Learned noise: sigma = 2"
    assert noise_text(hq, {}) == ""


def test_the_loss_plot_says_what_its_curves_are():
    from napari_blindspot.text import loss_help, loss_legend

    assert loss_legend("n2v2") == ("train, masked px", "held-out")
    assert loss_legend("hqssl") == ("train NLL", "held-out NLL")
    assert "masked (blind-spot) pixels" in loss_help("n2v2")
    assert "below zero are normal" in loss_help("hqssl") and "held-out patches" in loss_help("hqssl")
    assert "second noisy acquisition" in loss_help("n2n")


def test_notifications_show_a_short_text():
    from napari_blindspot.engine.model import SLICE_BY_SLICE
    from napari_blindspot.text import NOTICE_CHARS, short_notice

    assert short_notice("Short enough.") == "Short enough."
    warning = "'stack': " + SLICE_BY_SLICE.format(axes="ZYX")
    shown = short_notice(warning)
    assert shown == "'stack': Denoised slice by slice (a 2D model on axes ZYX). (details in the dock)"
    assert len(shown) <= NOTICE_CHARS
    long = "word " * 40
    assert len(short_notice(long)) <= NOTICE_CHARS and short_notice(long).endswith("… (details in the dock)")


def test_yes_no_settings_have_flag_and_no_flag():
    """``--compile``/``--no-compile`` and ``--[no-]stop-when-converged`` (issue 23): left out,
    the default (or the --config file's) holds."""
    from napari_blindspot.cli import build_parser
    from napari_blindspot.cli.training import config_from_args

    def config(*flags: str):
        args = build_parser().parse_args(["train", "in.tif", "-o", "m.safetensors", *flags])
        return config_from_args(args, "YX")

    plain = config()
    assert plain.compile is False and plain.stop_when_converged is True
    changed = config("--compile", "--no-stop-when-converged")
    assert changed.compile is True and changed.stop_when_converged is False


def test_the_converged_and_compile_fallback_texts():
    from napari_blindspot.engine import CompileFallback
    from napari_blindspot.text import compile_fallback, finished_progress

    fin = TrainingFinished(None, 1200, "converged", 75.0)  # type: ignore[arg-type]
    assert training_finished(fin) == "Training converged after 1,200 steps (1:15)"
    assert finished_progress(fin).startswith("converged · 1,200 steps")
    note = compile_fallback(CompileFallback(1, "InductorError: no C++ compiler"))
    assert "(InductorError: no C++ compiler)" in note and "uncompiled" in note
