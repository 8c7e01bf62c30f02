"""Prediction: tiled, blended, streamed prediction of a canonical sample (:mod:`.tiling`)."""
