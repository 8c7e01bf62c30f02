"""The ``blindspot`` command line: train, denoise, inspect models, run the demo.

    blindspot train IMAGE.tif [MORE.tif DIR/ ...] --method n2v2 --axes ZYX -o model.safetensors
    blindspot denoise IMAGE.tif --model model.safetensors -o denoised.tif
    blindspot denoise a.tif b.zarr "dir/*.tif" --model model.safetensors -o outdir/ [--workers 4]
    blindspot denoise IMAGE.tif --method hqssl -o denoised.tif      # one-shot
    blindspot demo --out demo                                       # bundled sample
    blindspot info model.safetensors
    blindspot doctor                                                # GPU check

Each subcommand is a module of this package (:mod:`.train`, :mod:`.denoise`, ...); they drive
the engine's training generator and prediction, and draw their events as a progress bar on
stderr (:mod:`.progress`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import demo
from .denoise import add_denoise_parser
from .doctor import add_doctor_parser
from .errors import run_command
from .export import add_export_parser
from .info import cmd_info
from .train import add_train_parser
from ..launch import launch


def cmd_napari(args: argparse.Namespace) -> int:  # pragma: no cover - opens a window
    launch(sample=not args.no_sample)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blindspot", description="Self-supervised denoising of microscopy images.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_denoise_parser(sub)

    p = sub.add_parser("info", help="describe a saved model")
    p.add_argument("model")
    p.set_defaults(func=cmd_info, verbose=False)

    add_export_parser(sub)
    add_doctor_parser(sub)
    demo.add_demo_parser(sub)

    p = sub.add_parser("napari", help="open napari with the plugin docked and the sample loaded")
    p.add_argument("--no-sample", action="store_true", help="open the viewer without the sample data")
    p.set_defaults(func=cmd_napari, verbose=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        demo.default_steps(args)
    return run_command(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
