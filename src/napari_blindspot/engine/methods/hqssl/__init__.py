"""HQ-SSL and everything only it uses: the method (:mod:`.method`), its blind-spot network
(:mod:`.blindspot`), the noise models (:mod:`.noise`) and their curves (:mod:`.noise_curves`),
the noise calibration from the data (:mod:`.noise_estimate`, :mod:`.noise_refit`), the Gaussian
posterior (:mod:`.posterior`) and the still-scene test for calibrating across frames
(:mod:`.stillness`)."""

from .method import HQSSL

__all__ = ["HQSSL"]
