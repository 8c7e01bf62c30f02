"""The denoising methods: the interface (:mod:`.base`), one module per method family
(:mod:`.n2v`, :mod:`.n2n`, :mod:`.hqssl`) and the registry (:mod:`.registry`)."""

from .base import Method, Setting
from .hqssl.method import HQSSL
from .n2n import Noise2Noise
from .n2v.method import N2V2, Noise2Void
from .registry import (REGISTRY, declared_setting, declared_settings, get_method, method_class,
                       method_classes, method_names, users_of)

__all__ = ["HQSSL", "Method", "N2V2", "Noise2Noise", "Noise2Void", "REGISTRY", "Setting",
           "declared_setting", "declared_settings", "get_method", "method_class", "method_classes",
           "method_names", "users_of"]
