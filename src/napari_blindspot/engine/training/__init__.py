"""Training: the loop (:mod:`.loop`, :class:`TrainingRun`), the patches it samples
(:mod:`.patches`, :mod:`.data`), what it checks and sets up first (:mod:`.preparation`,
:mod:`.channel_choice`, :mod:`.dimensionality`), the learning-rate schedule (:mod:`.schedule`),
recovery from divergence (:mod:`.divergence`), the projected duration (:mod:`.duration`) and
several processes training one model (:mod:`.distributed`)."""

from .loop import TrainingRun, train, train_model

__all__ = ["TrainingRun", "train", "train_model"]
