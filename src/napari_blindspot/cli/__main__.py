"""``python -m napari_blindspot.cli ...`` (as torchrun starts it): the ``blindspot`` command."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
