"""``blindspot export``: write a trained model as a bioimage.io (BioImage Model Zoo) package.

    blindspot export model.safetensors -o model.zip --sample image.tif --author "A. Person"
"""

from __future__ import annotations

import argparse
import os

from ..engine import BlindspotError, load_model

LICENSE_DEFAULT = "CC-BY-4.0"


def cmd_export(args: argparse.Namespace) -> int:
    from .common import info, read_input as _read
    from ..engine.bioimageio import export_package, require
    from ..engine.bioimageio.documentation import PROJECT_URL

    from . import checks

    require("bioimageio.spec", *(() if args.no_test else ("bioimageio.core",)))
    checks.check_paths([("MODEL", args.model), ("--sample", args.sample)], [("-o", args.output)],
                       args.overwrite)
    model = load_model(args.model, device="cpu", describe_only=True)  # only ours are exported
    if not model.native:
        raise BlindspotError(f"{args.model!r} is not a napari-blindspot model; only those can be exported.")
    sample = _read(args.sample, args.axes, allow_missing_chunks=getattr(
        args, "allow_missing_chunks", False)) if args.sample else None
    if sample is None:
        info("No --sample image given: the package's test input is a synthetic noisy fluorescence "
             "image scaled to the training data's statistics (give --sample image.tif to use yours).")
    info("Exporting" + (" and running bioimageio.core's model test" if not args.no_test else "") + " ...")
    result = export_package(
        model, args.output, sample=None if sample is None else sample.data,
        sample_axes=None if sample is None else sample.axes,
        sample_name=os.path.basename(args.sample) if args.sample else "the sample image",
        name=args.name, authors=args.author, license=args.license, git_repo=PROJECT_URL,
        torchscript=not args.no_torchscript, test=not args.no_test)
    info(f"Test input: {result.test_input}.")
    info(f"Weights: {', '.join(result.weights)}; TorchScript {result.torchscript_note}")
    if result.test_status:
        info(f"bioimageio.core model test: {result.test_status}.")
    info(f"Wrote {result.path}.")
    return 0


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a model as a bioimage.io (BioImage Model Zoo) package",
                       description="Write MODEL as a bioimage.io model package (.zip) for Fiji/deepImageJ, "
                       "QuPath, ilastik and bioimageio.core. Needs the bioimageio extra: "
                       'pip install "napari-blindspot[bioimageio]".')
    p.add_argument("model", help="a model saved by `blindspot train` (.safetensors)")
    p.add_argument("-o", "--output", required=True, help="package to write (.zip)")
    p.add_argument("--sample", help="TIFF like the training data: a crop of it becomes the package's "
                   "test input (default: a synthetic image scaled to the training statistics)")
    p.add_argument("--axes", help="axes of --sample (default: from its TIFF metadata)")
    p.add_argument("--name", help="model name (default: napari-blindspot <method>)")
    p.add_argument("--author", action="append", help="author name (repeat for several)")
    p.add_argument("--license", default=LICENSE_DEFAULT,
                   help=f"SPDX licence of the model weights (default {LICENSE_DEFAULT})")
    p.add_argument("--no-torchscript", action="store_true", help="only pytorch_state_dict weights")
    p.add_argument("--no-test", action="store_true", help="skip bioimageio.core's model test")
    p.add_argument("--overwrite", action="store_true", help="replace an existing package")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    p.set_defaults(func=cmd_export)
