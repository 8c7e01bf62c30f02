"""The denoising methods (see :mod:`.base`)."""

from .base import N2V2, Method, Noise2Noise, Noise2Void, get_method

__all__ = ["Method", "N2V2", "Noise2Noise", "Noise2Void", "get_method"]
