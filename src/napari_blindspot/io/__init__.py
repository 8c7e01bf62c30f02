"""Files and napari layer metadata, without Qt: TIFF in/out, layer axes and pixel sizes, the writer."""
