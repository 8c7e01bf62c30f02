"""``blindspot doctor``: the software installed here (versions against napari-blindspot's
bounds, an OME-Zarr and a bioimage.io round trip: :mod:`..engine.software_check`), what torch
sees, and whether every method trains and predicts on each accelerator as on the CPU
(:mod:`..engine.gpu_check`).

    blindspot doctor                      # every method, every device: a minute or two
    blindspot doctor --software-only      # versions and round trips: seconds
    blindspot doctor --methods n2v2 --json doctor.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from typing import Any

from .common import info
from ..engine import ConfigError, method_names

MARKS = {True: "PASS", False: "FAIL", None: "    "}


def add_doctor_parser(sub: Any) -> None:
    p = sub.add_parser("doctor", help="report the installed software and torch's devices, and "
                       "check that export, OME-Zarr and training on each GPU work",
                       description="Report the versions of the libraries napari-blindspot uses "
                       "(napari, the Qt binding, pydantic, bioimageio.spec/core, zarr, dask, ...) "
                       "against the versions it needs, each with the fix, and run an OME-Zarr and "
                       "a bioimage.io export round trip; then report the torch build (CPU, CUDA, "
                       "ROCm or MPS), the devices, bfloat16 support and triton, and train and "
                       "predict every method briefly on the CPU and on each accelerator (same "
                       "seed and data) and compare. Exit status 1 when a check fails.")
    p.add_argument("--methods", help=f"comma-separated, out of {','.join(method_names())} "
                   "(default all)")
    p.add_argument("--steps", type=int, default=30, help="training steps per run (default 30)")
    p.add_argument("--software-only", action="store_true",
                   help="only the software report and round trips (seconds), no training")
    p.add_argument("--json", help="also write the checks to this JSON file")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    p.set_defaults(func=cmd_doctor)


def _line(check: Any) -> None:
    print(f"{MARKS[check.passed]}  {check.name}: {check.detail}", flush=True)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..engine.system import gpu_check
    from ..engine.system.software_check import software_checks

    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    unknown = sorted(set(methods or ()) - set(method_names()))
    if unknown:
        raise ConfigError(f"--methods: unknown method(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(method_names())}.")
    if args.steps < 3:
        raise ConfigError(f"--steps {args.steps}: give at least 3 (validation runs every third).")
    if args.json:
        from .checks import check_output

        check_output("--json", args.json, overwrite=True)  # a report: replaced without asking
    info("Software:")
    with contextlib.ExitStack() as stack:
        if not args.verbose:  # bioimageio's and the methods' logs about the check data
            stack.enter_context(_quiet_logs())
        checks = software_checks()
        for check in checks:
            _line(check)
        if args.software_only:
            gpus = "devices not checked (--software-only)"
        else:
            targets = gpu_check.default_targets()
            info("Devices: " + ", ".join(["cpu (float32, the reference)"] + [t.label for t in targets])
                 + f"; {args.steps} training steps per method and device.")
            checks += gpu_check.run_checks(methods, targets, steps=args.steps, progress=_line)
            gpus = "no accelerator here: only the CPU was checked" if not targets else \
                f"compared with the CPU: {', '.join(t.label for t in targets)}"
    passed, failed = gpu_check.summary(checks)
    if failed:
        names = "; ".join(c.name for c in checks if c.passed is False)
        print(f"{failed} of {passed + failed} checks FAILED ({names}); {gpus}.")
    else:
        print(f"All {passed} checks passed; {gpus}.")
    if args.json:
        _write_json(args.json, {"checks": [vars(c) for c in checks], "passed": passed,
                                "failed": failed})
    return 1 if failed else 0


@contextlib.contextmanager
def _quiet_logs():
    loggers = [logging.getLogger(name) for name in ("napari_blindspot", "bioimageio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _write_json(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (:mod:`..engine.atomic`)."""
    from ..engine.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=str)
