"""``python -m napari_blindspot``: open napari with the denoising widget and the sample data."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m napari_blindspot",
                                     description="Open napari with the napari-blindspot denoising "
                                                 "widget docked and the noisy sample loaded.")
    parser.add_argument("--no-sample", action="store_true", help="do not load the sample data")
    args = parser.parse_args(argv)
    from .engine.errors import BlindspotError
    from .launch import launch

    try:
        launch(sample=not args.no_sample)
    except BlindspotError as exc:
        parser.exit(2, f"napari-blindspot: error: {exc}\n")


if __name__ == "__main__":
    main()
