"""The registry of denoising methods: adding a method is one module and one line here.

The order of :data:`REGISTRY` is the order front ends list the methods in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import Method
from .hqssl.method import HQSSL
from .n2n import Noise2Noise
from .n2v.method import N2V2, Noise2Void

if TYPE_CHECKING:  # pragma: no cover
    from ..config import TrainConfig

REGISTRY: dict[str, type[Method]] = {cls.name: cls for cls in (
    N2V2,
    Noise2Void,
    HQSSL,
    Noise2Noise,
)}


def method_names() -> tuple[str, ...]:
    """The names of the registered methods, in the order front ends list them."""
    return tuple(REGISTRY)


def method_classes() -> tuple[type[Method], ...]:
    """The registered method classes, in the order front ends list them."""
    return tuple(REGISTRY.values())


def method_class(name: str) -> type[Method]:
    """The :class:`Method` subclass called ``name``; :class:`ConfigError` if there is none."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"Invalid setting method={name!r}: choose one of "
                          f"{', '.join(REGISTRY)}") from None


def get_method(config: TrainConfig) -> Method:
    """The :class:`Method` object for ``config.method``."""
    return method_class(config.method)(config)
