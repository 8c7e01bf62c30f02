"""The headless denoising engine: numpy + torch + safetensors, never Qt or napari.

Typical use::

    from napari_blindspot.engine import TrainConfig, TrainingRun
    run = TrainingRun(stack, TrainConfig(method="hqssl", axes="TYX"))
    for event in run.events():
        ...                      # TrainingStarted, TrainingProgress, Preview, TrainingFinished
    denoised = run.model.denoise(stack)
"""

from .axes import CanonicalView, check_axes, guess_axes, parse_axes
from .config import NOISE_MODELS, TrainConfig
from .system.device import available_devices, describe_device, select_device
from .errors import AxesError, BlindspotError, ConfigError, DataError, ModelFileError
from .events import CompileFallback, DivergenceRecovered, DurationWarning, NoiseCurves, Preview, PredictionProgress, TrainingFinished, TrainingProgress, TrainingStarted
from .methods import Method, Setting, get_method, method_class, method_classes, method_names
from .loading import load_model
from .model import DenoisingModel
from .model_file import save_model
from .training.loop import TrainingRun, train, train_model

#: The names of the built-in methods (:func:`method_names` also lists methods registered later).
METHODS = method_names()

__all__ = [
    "AxesError", "BlindspotError", "CompileFallback", "DivergenceRecovered", "DurationWarning", "NoiseCurves", "CanonicalView", "ConfigError", "DataError", "DenoisingModel",
    "METHODS", "Method", "ModelFileError", "NOISE_MODELS", "PredictionProgress", "Preview",
    "Setting", "TrainConfig", "TrainingFinished", "TrainingProgress", "TrainingRun",
    "TrainingStarted", "available_devices", "check_axes", "describe_device", "get_method",
    "guess_axes", "load_model", "method_class", "method_classes", "method_names", "parse_axes",
    "save_model", "select_device", "train", "train_model",
]
