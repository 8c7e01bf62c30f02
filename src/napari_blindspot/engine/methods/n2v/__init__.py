"""The Noise2Void family (N2V, N2V2): the method (:mod:`.method`), the blind-spot masking of
training patches (:mod:`.masking`) and structN2V's masks (:mod:`.struct_mask`)."""

from .method import N2V2, Noise2Void

__all__ = ["N2V2", "Noise2Void"]
