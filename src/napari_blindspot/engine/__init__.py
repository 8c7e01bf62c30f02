"""The headless denoising engine: numpy + torch + tifffile, never Qt or napari.

Typical use::

    from napari_blindspot.engine import TrainConfig, TrainingRun
    run = TrainingRun(stack, TrainConfig(method="hqssl", axes="TYX"))
    for event in run.events():
        ...                      # TrainingProgress, Preview, TrainingFinished
    denoised = run.model.denoise(stack)
"""

from .axes import CanonicalView, check_axes, guess_axes, parse_axes
from .config import METHOD_HELP, METHODS, NOISE_MODELS, TrainConfig
from .device import available_devices, describe_device, select_device
from .errors import AxesError, BlindspotError, ConfigError, DataError, ModelFileError
from .events import Preview, PredictionProgress, TrainingFinished, TrainingProgress, TrainingStarted
from .model import DenoisingModel
from .model_file import load_model, save_model
from .training import TrainingRun, train, train_model

__all__ = [
    "AxesError", "BlindspotError", "CanonicalView", "ConfigError", "DataError", "DenoisingModel",
    "METHODS", "METHOD_HELP", "ModelFileError", "NOISE_MODELS", "PredictionProgress", "Preview",
    "TrainConfig", "TrainingFinished", "TrainingProgress", "TrainingRun", "TrainingStarted",
    "available_devices", "check_axes", "describe_device", "guess_axes", "load_model", "parse_axes",
    "save_model", "select_device", "train", "train_model",
]
