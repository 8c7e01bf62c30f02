"""The engine's :class:`~napari_blindspot.engine.TrainingRun` for a :class:`~.state.TrainRequest`,
without Qt: its config (a continued model keeps its network's settings; threads for an
interactive session) and the layers it trains on (several selected image layers: one model on all
of them; methods that take a second acquisition: the picked pair)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import DenoisingModel, TrainConfig, TrainingRun, method_class
from ..engine.system.device import interactive_threads
from .layers import Source, layer_data, selected_sources
from .preview import first_preview_step
from .state import TrainRequest


def training_config(request: TrainRequest, source: Source, model: DenoisingModel | None) -> TrainConfig:
    """The config of a run on ``source`` (``model``: the model to continue; None: a new one)."""
    settings = dict(request.settings, num_threads=interactive_threads())
    if model is not None:
        old = model.config
        settings.update({f: getattr(old, f) for f in model.method.network_fields(old)})
        return TrainConfig.for_method(settings.pop("method"), axes=source.axes, **settings)
    return TrainConfig.for_method(request.method, axes=source.axes,
                                  train_3d=request.train_3d and "Z" in source.axes, **settings)


@dataclass(frozen=True)
class PlannedRun:
    """A training run, not started yet, and what it trains on."""

    run: TrainingRun
    config: TrainConfig
    #: The picked layer (its result is denoised first).
    source: Source
    #: Every layer trained on, the picked one first.
    sources: list[Source]


def plan_training(viewer: Any, request: TrainRequest, model: DenoisingModel | None,
                  preview_interval_s: float) -> PlannedRun:
    """The run ``request`` asks for on ``viewer``'s layers (``model``: the model to continue;
    None: a new one; ``preview_interval_s``: seconds between the run's previews).

    Raises :class:`~.layers.LayerError` (or a config error) for a layer or setting that cannot be
    trained on.
    """
    source = Source.from_layer(request.layer, request.axes)
    config = training_config(request, source, model)
    method = method_class(config.method)
    target = layer_data(request.target) if method.takes_target() and request.target is not None else None
    # several image layers selected: one model on all of them (Noise2Noise: one pair)
    sources = [source] if method.takes_target() else \
        selected_sources(viewer, request.layer, request.axes)
    if source.layer not in [s.layer for s in sources]:
        sources = [source]
    sources.sort(key=lambda s: s.layer is not source.layer)  # the picked layer first
    if len(sources) > 1:
        run = TrainingRun([s.data for s in sources], config, axes=[s.axes for s in sources],
                          initial=model, preview_interval_s=preview_interval_s)
    else:
        run = TrainingRun(source.data, config, target=target, initial=model,
                          preview_interval_s=preview_interval_s)
    run.preview_from_step = first_preview_step(run.total_steps)  # no preview computed to be hidden
    return PlannedRun(run, config, source, sources)
