"""`blindspot info`: what a model file holds, its noise model and noise curve included
(:meth:`~..engine.denoiser.Denoiser.describe`: a napari-blindspot model or a bioimage.io
package from another tool)."""

from __future__ import annotations

import argparse

from . import checks
from ..engine import load_model


def cmd_info(args: argparse.Namespace) -> int:
    checks.check_input("MODEL", args.model)
    model = load_model(args.model, device="cpu", describe_only=True)  # described, never run
    print("\n".join(model.describe()))
    return 0
