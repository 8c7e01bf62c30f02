"""The ``blindspot`` command line (``blindspot = napari_blindspot.cli:main``).

One module per subcommand (:mod:`.train`, :mod:`.denoise`, :mod:`.info`, :mod:`.export`,
:mod:`.doctor`, :mod:`.demo`) and what they share: the options (:mod:`.options`), the checks
before any work (:mod:`.checks`), how a command ends (:mod:`.errors`) and the progress bar
(:mod:`.progress`).  :mod:`.app` builds the parser and runs a command.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
