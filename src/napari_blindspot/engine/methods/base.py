"""The interface of a denoising method, and how a method describes the settings it uses.

All tensors here are in normalised intensity units, shape ``(B, C, *spatial)``.
A new method is one module with a :class:`Method` subclass plus one line in
:mod:`.registry`: configuration, training, tiling, model files, the CLI and the widget ask
the method (through the registry) for everything that differs between methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ..errors import DataError
from ..settings import Setting

if TYPE_CHECKING:  # pragma: no cover
    from ..axes import CanonicalView
    from ..config import TrainConfig
    from ..normalization import Normalization

#: Settings every method's network has: fixed when training continues.
COMMON_NETWORK_FIELDS = ("method", "train_3d", "channels")


class Method:
    """Interface of a denoising method.

    Class attributes describe the method to the front ends; an instance (made from a
    validated configuration by :func:`.registry.get_method`) builds its network, computes
    batch losses and denoises.
    """

    #: The name in configurations, model files and on the command line.
    name: ClassVar[str] = ""
    #: The name shown to people.
    display_name: ClassVar[str] = ""
    #: One paragraph for the command line's help and the widget: what it does, when to use it.
    help: ClassVar[str] = ""
    #: One short line for the widget, under the method's name (the paragraph is its tooltip).
    tagline: ClassVar[str] = ""
    #: The name in titles of exported packages (default :attr:`display_name`).
    full_name: ClassVar[str] = ""
    #: The papers to cite, as ``(reference, url)``.
    citations: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: :class:`TrainConfig` values that differ from the general defaults for this method.
    defaults: ClassVar[dict[str, Any]] = {}
    #: ... and on top of those on a GPU (CUDA or Apple MPS), where larger networks fit the time.
    gpu_defaults: ClassVar[dict[str, Any]] = {}
    #: ... and for 3D training on a CPU, where a 3D step costs tens of 2D ones.
    cpu_3d_defaults: ClassVar[dict[str, Any]] = {}
    #: The method's own settings (beyond the general ones of :mod:`..settings` and
    #: :attr:`network_size`), each with its default, range, flag, help and widget label: the
    #: configuration, the command line and the widget take them from here.  A setting that is
    #: not a :class:`TrainConfig` field lives in the configuration's ``extra`` values.
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: The configuration fields holding the network's width (first level) and depth.
    network_size: ClassVar[tuple[str, str]] = ("unet_features", "unet_depth")
    #: Number of aligned arrays a training batch holds (2: a second acquisition, the target).
    n_views: ClassVar[int] = 1
    #: Whether prediction can also return a per-pixel posterior standard deviation.
    gives_uncertainty: ClassVar[bool] = False
    #: How prediction pads images to the network's size multiple (``"reflect"`` or ``"zeros"``).
    pad_mode: ClassVar[str] = "reflect"
    #: Why this method refuses a structN2V mask and what to use instead (methods without the
    #: ``struct_mask`` setting); one sentence fragment for the configuration's error.
    struct_mask_refusal: ClassVar[str] = "train with N2V2 (method n2v2) and the struct mask instead"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    # ------------------------------------------------------------ description
    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The configuration fields only some methods use that this one does."""
        return cls.network_size + tuple(s.field for s in cls.settings)

    @classmethod
    def defaults_for(cls, device_type: str, train_3d: bool) -> dict[str, Any]:
        """The defaults for a device type (``"cpu"``, ``"cuda"``, ``"mps"``) and dimensionality."""
        values = dict(cls.defaults)
        if device_type in ("cuda", "mps"):
            values.update(cls.gpu_defaults)
        elif train_3d:
            values.update(cls.cpu_3d_defaults)
        return values

    @classmethod
    def takes_target(cls) -> bool:
        """Whether training needs a second acquisition of the same scene."""
        return cls.n_views == 2

    @classmethod
    def network_fields(cls, config: TrainConfig) -> tuple[str, ...]:
        """The settings that define the network (fixed when continuing training)."""
        return COMMON_NETWORK_FIELDS + cls.network_size

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        """Checks of this method's own settings; raise :class:`ConfigError` (default none)."""

    @classmethod
    def check_inputs(cls, data: Any, target: Any) -> None:
        """Check the training inputs (``target``: the second acquisition, or None)."""
        if target is not None:
            raise DataError(f"A target image is only used by Noise2Noise, not {cls.name!r}.")

    @classmethod
    def check_noise_reference(cls, config: TrainConfig, data: Any, reference: Any) -> None:
        """Check a second acquisition given to measure the noise against (None: none given)."""
        if reference is not None:
            raise DataError("A second acquisition for the noise calibration is only used by HQ-SSL "
                            "with noise_calibration='pair'.")

    @classmethod
    def title(cls) -> str:
        """The method's name in titles (:attr:`full_name`, else :attr:`display_name`)."""
        return cls.full_name or cls.display_name

    def network_summary(self) -> str:
        """What the network does, completing "The network ..." (exported packages' descriptions)."""
        return "denoises the image"

    @property
    def has_uncertainty(self) -> bool:
        """Whether this configuration's prediction returns an uncertainty map."""
        return self.gives_uncertainty

    @property
    def parameters_heading(self) -> str:
        """What :meth:`describe_parameters` describes, e.g. ``Learned noise``."""
        return "Learned parameters"

    def describe_parameters(self, parameters: dict[str, float]) -> str:
        """Learned parameters (from :meth:`noise_parameters`) in words, e.g. ``a = 0.1, b = 2``."""
        return ", ".join(f"{k} = {v:.3g}" for k, v in parameters.items())

    # ------------------------------------------------------------ network
    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        """The network for ``channels`` channels in ``ndim`` spatial dimensions.

        ``normalization`` (the training data's statistics) lets noise models express
        user-given noise levels in normalised units; it is None when loading a file.
        With ``config.channels == "separate"`` and several channels: one single-channel network
        per channel side by side (:func:`..nets.per_channel.build_per_channel`), and the loss
        made the sum of the channels' (:func:`..nets.per_channel.channels_summed`).
        """
        raise NotImplementedError

    def start_weights(self, net: nn.Module) -> str:
        """Before a fresh training (not a resumed one): give ``net`` other starting weights than
        its random ones, e.g. a prior trained ahead of time; returns what was done, in words for
        the user ('' for nothing, the default)."""
        return ""

    def continue_weights(self, info: dict[str, Any]) -> str:
        """Before a resumed training of a model whose ``info`` is given: how its weights
        started, in words for the user, kept with the model ('' for nothing, the default)."""
        return ""

    def calibrate(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
                  independent_channels: bool, reference: CanonicalView | None = None) -> list:
        """Data-driven initialisation before training (e.g. noise levels); returns what was
        measured (stored with the model), default nothing.  ``view`` may be a list of views
        (several images trained on together: measure on all of them, pooled).
        ``reference``: a second acquisition."""
        return []

    def finish(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
               independent_channels: bool) -> list:
        """After training, on the final network: what the method measures then (stored with the
        model), default nothing."""
        return []

    def before_step(self, net: nn.Module, progress: float) -> None:
        """Called before every training step with the progress in [0, 1]; default nothing."""

    def param_groups(self, net: nn.Module, lr: float) -> list[dict]:
        """Optimizer parameter groups (each with its ``lr_scale``)."""
        return [{"params": list(net.parameters()), "lr_scale": 1.0}]

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        """Scalar loss of ``batch`` ``(V, B, C, *sp)``; randomness only from ``generator``.

        ``channels`` ``(B,)``: the data channel of each patch with independent channels, else None.
        """
        raise NotImplementedError

    def infer(self, net: nn.Module, x: torch.Tensor,
              channels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Denoise ``x``: ``{"denoised": ..., ["std": ...]}``, same shape as ``x``."""
        return {"denoised": net(x)}

    @classmethod
    def shares_tta(cls, config: TrainConfig) -> bool:
        """Whether :meth:`infer_tta` shares network passes between the transforms for a model
        of ``config`` (then a test-time augmentation costs less than a pass per transform)."""
        return False

    def infer_tta(self, net: nn.Module, x: torch.Tensor, transforms: tuple[tuple[int, bool], ...],
                  channels: torch.Tensor | None = None) -> dict[str, torch.Tensor] | None:
        """:meth:`infer` averaged over the test-time ``transforms`` (``(quarter turns,
        mirrored)`` of the YX plane) when the method has a faster way than one :meth:`infer`
        per transform; None (the default) to transform the input and infer each."""
        return None

    def noise_parameters(self, net: nn.Module, normalization: Normalization) -> dict[str, float]:
        """Learned noise parameters in the image's intensity units (empty if none)."""
        return {}

    def size_multiple(self, config: TrainConfig) -> int:
        """Spatial sizes the network needs (it pads internally, tiles are aligned to this)."""
        return 2 ** getattr(config, self.network_size[1])

    def receptive_radius(self, config: TrainConfig) -> int:
        """Pixels of context each output pixel depends on (bounds the tile overlap)."""
        d = getattr(config, self.network_size[1])
        # two 3x3 convs per level down and up, at scale 2**level, plus pooling/blur
        return int(2 * sum(2 ** lvl for lvl in range(d)) * 2 + 2 * 2 ** d + 2 * 2 ** d)
