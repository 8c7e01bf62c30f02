"""The training generator: every front end (CLI, napari widget, tests) iterates it.

>>> run = TrainingRun(image, TrainConfig(method="n2v2", axes="TYX"))   # doctest: +SKIP
>>> for event in run.events():                                        # doctest: +SKIP
...     print(event)
>>> model = run.model                                                  # doctest: +SKIP

:meth:`TrainingRun.events` yields typed events (:mod:`.events`) and returns the
trained model; :meth:`TrainingRun.stop` (from the same or another thread) ends
training after the current step, and closing the generator does too; in every
case :attr:`TrainingRun.model` holds the best model so far.  No threads, no prints.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from .distributed import SingleProcess
from ..system.device import (autocast, autocast_dtype, configure_threads, describe_device, place_network,
                     select_device)
from .divergence import DivergenceGuard, gave_up_message
from .duration import DurationWatch
from ..errors import DataError
from ..events import NoiseCurves, TrainingFinished, TrainingStarted, run_to_end
from ..methods.registry import get_method
from ..system.native_libs import guard_compiler_imports
from ..system.threads import ThreadTuner
from ..model import DenoisingModel
from ..methods.hqssl.noise_curves import ChannelNoiseCurve, channel_curves
from ..normalization import Normalization, compute_normalization
from .patches import count_patches, patch_shape_for
from .schedule import learning_rate  # noqa: F401  (imported from here by earlier code)
from .data import build_samplers, image_groups
from .checkpoints import after_gradients, snapshot, validate_and_keep_best
from .compiled import CompiledLoss
from .convergence import ConvergenceRule
from .report import PROGRESS_INTERVAL_S, Reporter  # noqa: F401  (its old home)
from .step import take_step
from .preparation import (check_continuable, check_step_memory, fit_default_patch,
                             noise_reference_view, resolve_channels, validation_batch,
                             validation_size)

log = logging.getLogger(__name__)


class TrainingRun:
    """One training run over ``data`` (any array-like) with ``config``.

    Building a run is cheap: it checks the settings, the shapes and the model to continue,
    and raises what is wrong at once.  The heavy preparation (reading the data's statistics
    and validation patches, building the network) runs at the start of :meth:`events` (or
    earlier with :meth:`prepare`), so a front end can build the run on its own thread and
    iterate it on a worker.

    Parameters
    ----------
    data
        The noisy image, axes ``config.axes``; any real dtype.  Or a list of images (of any
        shapes, the same channels) to train one model on: patches are drawn from all of them,
        each pixel equally likely, and the normalisation and HQ-SSL's noise calibration are
        measured on all of them pooled (one model applies one normalisation and one noise
        model, in intensity units, to every image it denoises).
    axes
        With a list of images: the axes of each (default ``config.axes`` for all).
    config
        Training settings (validated here).
    target
        Noise2Noise only: a second, independent noisy acquisition, same shape (with a list
        of images: a list of targets, one per image).
    noise_reference
        HQ-SSL with ``noise_calibration="pair"``: a second acquisition of the same scene, same
        shape, the noise is measured against (it is not trained on).
    initial
        A model to continue training (its normalisation is kept).
    preview
        A raw canonical block ``(C, [Z,] Y, X)`` (for independent-channel models a
        single channel ``(1, ...)``, see ``preview_channel``) to denoise every
        ``preview_interval_s`` seconds; change it with :meth:`set_preview`.
    preview_from_step
        No preview before this step (an untrained network's output is no use to show); the
        first one comes at that step, without waiting for the interval.
    max_threads
        On a CPU with ``config.num_threads`` None: the most threads the run may use (default all
        cores); it picks the fastest count up to that while it runs (:mod:`.threads`).
    distributed
        This process's rank when several train together (:func:`.distributed.process_group`);
        it chooses the device.  None: one process.
    """

    def __init__(self, data: Any, config: TrainConfig, *, axes: list[str] | None = None,
                 target: Any = None,
                 noise_reference: Any = None, initial: DenoisingModel | None = None,
                 preview: np.ndarray | None = None, preview_channel: int | None = None,
                 preview_interval_s: float = 5.0, preview_from_step: int = 0,
                 max_threads: int | None = None,
                 distributed: SingleProcess | None = None) -> None:
        # Cheap checks only (settings, shapes, the model to continue): a front end builds the
        # run on its own thread and reports these at once.  Reading the data (statistics,
        # NaN/inf, validation patches) and building the network happen in prepare().
        self.config = config = copy.deepcopy(config).validate()
        self.method = get_method(config)
        images = list(data) if isinstance(data, (list, tuple)) else [data]
        self.groups = image_groups(images, target, axes, config, self.method)
        if len(images) > 1 and noise_reference is not None:
            raise DataError("A second acquisition for the noise calibration works with one image only.")
        data = images[0]
        self.view = self.groups[0][0]
        self._views = self.groups[0]
        self._reference = noise_reference_view(self.method, config, data, noise_reference)
        self.config = config = fit_default_patch(self.method, self.view, config)
        # channels="auto": measured from the data (how, for the user: channel_choice) or continued;
        # separate channels: the time budget is per channel (the model keeps the one asked for)
        self._asked_budget = config.time_budget_s
        config, self.channel_choice = resolve_channels(config, self.view, initial)
        self.config = config
        self.patch_shape = patch_shape_for(self.view, config.patch_size, config.patch_size_z)
        for group in self.groups[1:]:
            patch_shape_for(group[0], config.patch_size, config.patch_size_z)
        self.dist = distributed or SingleProcess()
        self.device = (self.dist.device if self.dist.device is not None
                       else select_device(config.device))
        self.max_threads = max_threads
        self.threads: ThreadTuner | None = None
        if initial is not None:
            check_continuable(initial, config, self.view.n_channels)
        self.initial = initial
        #: Steps the model had been trained for before this run (0 for a new model).
        self.steps_done_before = int(initial.info.get("steps", 0) or 0) if initial is not None else 0
        independent = config.channels == "independent"
        self.net_channels = 1 if independent else self.view.n_channels
        #: Patches a step trains on: independent channels get batch_size of every channel, as
        #: many as one channel alone (or a joint run) gets
        self.step_patches = config.batch_size * (self.view.n_channels if independent else 1)
        self.epoch_patches = sum(count_patches(g[0], self.patch_shape, independent) for g in self.groups)
        self.steps_per_epoch = max(1, math.ceil(self.epoch_patches
                                                / (self.step_patches * self.dist.world_size)))
        self.total_steps = self._total_steps()

        # set by prepare()
        self.normalization: Normalization | None = initial.normalization if initial is not None else None
        self.net: nn.Module | None = None
        self.val_batch: torch.Tensor | None = None
        self.val_channels: torch.Tensor | None = None
        #: What the method measured before training (HQ-SSL: the noise calibrations).
        self.calibrations: list = list(initial.info.get("noise_calibration", [])) if initial else []
        self.start_note = ""  # where the weights started (a prior), in words
        self.prepared = False

        self._guard = DivergenceGuard()
        self.convergence = ConvergenceRule(enabled=config.stop_when_converged)
        self._stop = False
        self._preview_now = False
        self._preview_request = (preview, preview_channel)
        self.preview_interval_s = preview_interval_s
        self.preview_from_step = int(preview_from_step)
        self.best_val: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_step = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._model: DenoisingModel | None = None

    def prepare(self) -> None:
        """Read what training needs from the data and build the network and optimizer.

        :meth:`events` starts with this (it runs once); it takes a while on large images, so
        front ends call it, through :meth:`events`, on their worker thread.
        """
        if self.prepared:
            return
        c, views, initial = self.config, self._views, self.initial
        if self.device.type == "cpu":
            share = self.dist.cpu_threads()  # ranks on one node share its cores
            if c.num_threads is None and share is None:  # adapts to the load, up to max_threads
                self.threads = ThreadTuner(self.max_threads)
            else:
                configure_threads(c.num_threads or share)
        torch.manual_seed(c.seed)  # the same initial network on every rank
        sample_seed, mask_seed = self.dist.rank_seeds(c.seed)
        self.rng = np.random.default_rng(sample_seed)
        self.generator = torch.Generator().manual_seed(mask_seed)
        normalization = self.normalization
        if normalization is None:
            normalization = compute_normalization([g[0] for g in self.groups])
            for line in normalization.messages():  # bright sparse spots: a saturation level
                log.info("%s", line)
        for group in self.groups:
            if len(group) == 2:  # checks the target for NaN/inf and constant data
                compute_normalization(group[1], saturation=False)
        independent = c.channels == "independent"
        self.sampler, weights, val_samplers = build_samplers(
            self.groups, normalization, self.patch_shape, c.validation_fraction, self.rng, c.seed,
            independent)
        if initial is not None:
            net = place_network(copy.deepcopy(initial.net), self.device, self.view.ndim_spatial)
            self.start_note = self.method.continue_weights(initial.info)
        else:
            net = place_network(self.method.build(c, self.net_channels, self.view.ndim_spatial,
                                                  normalization),
                                self.device, self.view.ndim_spatial)
            self.start_note = self.method.start_weights(net)
            views = self.view if len(self.groups) == 1 else [g[0] for g in self.groups]
            self.calibrations = self.method.calibrate(net, views, normalization, independent,
                                                      self._reference)
        self.amp_dtype = autocast_dtype(self.device) if c.mixed_precision else None
        n_val = validation_size(c.validation_fraction, self.epoch_patches)
        self.memory = check_step_memory(self.method, net, c, self.net_channels, len(self._views),
                                        self.patch_shape, self.device, self._autocast,
                                        n_val if val_samplers else 0, self.step_patches)
        if val_samplers:
            self.val_batch, self.val_channels = validation_batch(val_samplers, weights, n_val)
        guard_compiler_imports()  # building an optimizer imports torch._dynamo, and with it triton
        self.optimizer = torch.optim.Adam(self.method.param_groups(net, c.learning_rate),
                                          lr=c.learning_rate)
        self.scaler = torch.amp.GradScaler("cuda", enabled=(self.device.type == "cuda"
                                                            and self.amp_dtype == torch.float16))
        self._loss = CompiledLoss(self.dist.training_loss(self.method, net),  # after the optimizer
                                  c.compile)  # froze what stays; the network itself stays plain
        self.normalization, self.net = normalization, net
        self._guard.start(net)
        self.prepared = True

    # ----------------------------------------------------------- control
    def stop(self) -> None:
        """Ask the run to end after the current step (thread-safe)."""
        self._stop = True

    def set_preview(self, block: np.ndarray | None, channel: int | None = None) -> None:
        """Change the block previewed during training (see the class docstring)."""
        self._preview_request = (block, channel)  # one assignment: safe across threads

    def request_preview(self) -> None:
        """Send a preview after the current step instead of waiting for the interval."""
        self._preview_now = True

    def noise_curves(self) -> list[ChannelNoiseCurve]:
        """The noise model's curves now, one per data channel, with the calibration's points
        (after :meth:`prepare`; [] for methods without a noise model)."""
        if not self.prepared:
            raise RuntimeError("The run has not started: prepare() it first.")
        return channel_curves(getattr(self.net, "noise", None), self.normalization,
                              self.calibrations, self.view.n_channels)

    @property
    def skipped_steps(self) -> int:
        """Steps skipped because their gradients were not finite (see :mod:`.divergence`)."""
        return self._guard.skipped

    @property
    def recoveries(self) -> int:
        """How often the run diverged and went back to earlier weights (:mod:`.divergence`)."""
        return self._guard.recoveries

    @property
    def model(self) -> DenoisingModel:
        """The best model so far (by validation loss), or the current one (after :meth:`prepare`)."""
        if self._model is None:
            if not self.prepared:
                raise RuntimeError("The run has not started: there is no model yet.")
            self._model = self._snapshot(final=True)
        return self._model

    # ----------------------------------------------------------- internals
    def _total_steps(self) -> int | None:
        c = self.config
        if c.epochs is not None:
            return c.epochs * self.steps_per_epoch
        return c.steps

    def _progress(self, elapsed: float) -> float:
        c = self.config
        parts = []
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if c.time_budget_s:
            parts.append(elapsed / c.time_budget_s)
        return min(1.0, max(parts)) if parts else 0.0

    def _autocast(self) -> Any:
        return autocast(self.device, self.amp_dtype)

    def _validate(self) -> float:
        assert self.val_batch is not None
        self.dist.broadcast_buffers(self.net)  # every rank validates rank 0's statistics
        self.net.eval()
        gen = torch.Generator().manual_seed(self.config.seed + 3)
        losses = []
        with torch.no_grad(), self._autocast():
            for i in range(0, self.val_batch.shape[1], self.config.batch_size):
                chunk = self.val_batch[:, i:i + self.config.batch_size].to(self.device)
                channels = (None if self.val_channels is None
                            else self.val_channels[i:i + self.config.batch_size])
                losses.append(float(self.method.loss(self.net, chunk, gen, channels)) * chunk.shape[1])
        self.net.train()
        return self.dist.mean(sum(losses) / self.val_batch.shape[1])

    def _snapshot(self, final: bool) -> DenoisingModel:
        return snapshot(self, final)

    # ----------------------------------------------------------- the loop
    def events(self) -> Generator[Any, None, DenoisingModel]:
        """Prepare (see :meth:`prepare`), then train, yielding events; return the (best) model.
        See the module docstring.  One step: :mod:`.step`; validation and the best
        weights: :mod:`.checkpoints`; progress and previews: :mod:`.report`."""
        self.prepare()
        c = self.config
        n_params = sum(p.numel() for p in self.net.parameters())
        yield TrainingStarted(c.method, describe_device(self.device), self.total_steps, c.time_budget_s,
                              self.epoch_patches, 0 if self.val_batch is None else self.val_batch.shape[1],
                              n_params, "" if self.channel_choice is None or self.view.n_channels == 1
                              else self.channel_choice.message(),
                              "; ".join(self.normalization.messages()), self.start_note)
        curves = self.noise_curves()
        if curves:
            yield NoiseCurves(0, tuple(curves))
        watch = DurationWatch(self.total_steps, c.time_budget_s, batch_size=c.batch_size,
                              three_d_cpu=self.device.type == "cpu" and c.train_3d,
                              patch_shape=self.patch_shape)
        start = time.perf_counter()
        report = Reporter(self, start, bool(curves))
        val_loss: float | None = None
        reason = "completed"
        self.net.train()
        try:
            while True:
                elapsed, stop = self.dist.agree(time.perf_counter() - start, self._stop)
                if stop:
                    reason = "stopped"
                    break
                if self.total_steps is not None and self.step >= self.total_steps:
                    break
                if c.time_budget_s is not None and elapsed >= c.time_budget_s:
                    reason = "time budget"
                    break
                lr, loss = take_step(self, self._progress(elapsed))
                yield from self._loss.notes(self.step)
                report.add_loss(loss)
                if (yield from after_gradients(self)):
                    reason = "diverged"
                    break
                now = time.perf_counter()
                slow = watch.step_done(self.step, now, now - start)
                if slow is not None:
                    log.info("%d steps projected to take %.0f s (%.2f s a step)", slow.total_steps,
                             slow.projected_s, slow.seconds_per_step)
                    yield slow
                done = self.total_steps is not None and self.step >= self.total_steps
                validated, val_loss, gave_up = yield from validate_and_keep_best(self, done, val_loss)
                if gave_up:
                    reason = "diverged"
                    break
                yield from report.after_step(now, lr, val_loss, validated, done)
                # elapsed: the time every rank agreed on (they all stop at the same step)
                if validated and not done and self.convergence.update(val_loss, self._progress(elapsed)):
                    reason = "converged"  # the best weights are kept, as at any end
                    break
        except GeneratorExit:
            reason = "stopped"
            self._model = self._snapshot(final=True)
            raise
        finally:
            if self.threads is not None:
                self.threads.restore()  # prediction tunes anew, from all the threads allowed
        if reason == "diverged" and self.best_state is None:
            raise FloatingPointError(gave_up_message(self.step, self._guard.recoveries))
        self.dist.broadcast_buffers(self.net)  # every rank ends with the same model
        self._model = self._snapshot(final=True)
        log.info("training %s after %d steps (%.1f s)", reason, self.step, time.perf_counter() - start)
        yield TrainingFinished(self._model, self.step, reason, time.perf_counter() - start)
        return self._model


def train(data: Any, config: TrainConfig, **kwargs: Any) -> Generator[Any, None, DenoisingModel]:
    """Generator form of :class:`TrainingRun`: ``model = yield from train(data, config)``."""
    run = TrainingRun(data, config, **kwargs)
    return (yield from run.events())


def train_model(data: Any, config: TrainConfig, **kwargs: Any) -> DenoisingModel:
    """Train to the end without events (scripts, tests); returns the model."""
    gen = train(data, config, **kwargs)
    return run_to_end(gen)
