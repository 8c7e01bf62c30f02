"""Benchmarks of napari-blindspot against CAREamics (not part of the installed package).

Entry point: ``python -m benchmarks.run --quick`` (see ``benchmarks/run.py``).
"""
