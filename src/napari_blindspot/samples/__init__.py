"""Synthetic sample data with ground truth (procedural, deterministic, offline): the
fluorescence time-lapse (:mod:`.fluorescence`), the three-channel cell and camera counts
(:mod:`.cells`), napari's File > Open Sample entries (:mod:`.sample_data`) and the demo's
comparison of noisy, denoised and clean (:mod:`.comparison`)."""

from .cells import camera_counts, three_channel_cell
from .fluorescence import Sample, fluorescence_timelapse

__all__ = ["Sample", "camera_counts", "fluorescence_timelapse", "three_channel_cell"]
