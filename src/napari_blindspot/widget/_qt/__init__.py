"""The widget's Qt views: the dock (:mod:`.dock`), its sections, plots and panels, and the napari
worker runner (:mod:`.worker`).  Only this package imports Qt; the controller and its state (the
modules one level up) do not."""
