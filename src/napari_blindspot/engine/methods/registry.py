"""The registry of denoising methods: adding a method is one module and one line here.

The order of :data:`REGISTRY` is the order front ends list the methods in.  The registry also
collects the settings the methods declare (:func:`declared_settings`): with the general ones
of :mod:`..settings`, every setting a configuration can hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..settings import GENERAL, Setting
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


def declared_settings() -> tuple[Setting, ...]:
    """Every setting a configuration can hold: the general ones (:data:`..settings.GENERAL`),
    then the registered methods' own, in the registry's order (a setting several methods
    share, such as N2V's and N2V2's mask, once: its first declaration)."""
    seen = {s.field: s for s in GENERAL}
    for cls in REGISTRY.values():
        for setting in cls.settings:
            seen.setdefault(setting.field, setting)
    return tuple(seen.values())


def declared_setting(name: str) -> Setting | None:
    """The declaration of setting ``name`` (None: no registered method has it)."""
    return next((s for s in declared_settings() if s.field == name), None)


def users_of(name: str) -> tuple[type[Method], ...]:
    """The registered methods that use setting ``name`` (their own or their network's)."""
    return tuple(cls for cls in REGISTRY.values() if name in cls.fields())


def get_method(config: TrainConfig) -> Method:
    """The :class:`Method` object for ``config.method``."""
    return method_class(config.method)(config)
