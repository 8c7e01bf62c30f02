"""napari-blindspot: self-supervised denoising of microscopy data.

The headless engine lives in :mod:`napari_blindspot.engine` (no Qt, no napari);
the command line in :mod:`napari_blindspot.cli`; the napari dock widget in
:mod:`napari_blindspot.widget`.
"""

__version__ = "0.2.0"
