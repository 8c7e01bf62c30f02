"""Prediction: a whole image with a model, streamed block by block (:mod:`.pipeline`), and the
tiled, blended prediction of one canonical sample it uses (:mod:`.tiling`)."""
