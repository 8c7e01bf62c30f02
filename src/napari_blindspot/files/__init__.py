"""Images on disk, many at a time: which inputs and outputs (:mod:`.batch`), prediction
streamed straight into files (:mod:`.streaming`) and on a dask cluster (:mod:`.cluster`).

Headless (no Qt, no napari); the command line and the widget both use it.
"""
