"""How the ``blindspot`` command ends: every error as one line, with an exit code.

``blindspot: error: <what is wrong and how to fix it>`` on stderr, the traceback only with
``--verbose``; exit code 2 for bad input or settings, 1 when the machine ran short (memory,
disk) or something unexpected happened, 130 when interrupted.  SIGTERM (a cluster's time
limit, ``kill``) unwinds like Ctrl-C, so that no file is left half-written
(:mod:`..engine.atomic` removes its temporary files on the way out).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from ..engine.failures import exit_code, user_message


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``func(args)``; report whatever it raises as one line and return the exit code.

    ``args.doing`` (set by the command as it goes: "training", "denoising") names the
    phase in the message; ``args.verbose`` adds the traceback.
    """
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread may set signal handlers
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return func(args)
    except KeyboardInterrupt:
        sys.stderr.write("blindspot: interrupted (no file is left half-written)\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - every error ends as one line, the traceback on -v
        if getattr(args, "verbose", False):
            traceback.print_exception(exc, file=sys.stderr)
        doing = getattr(args, "doing", None) or f"running {args.command}"
        sys.stderr.write(f"blindspot: error: {user_message(exc, doing)}\n")
        return exit_code(exc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["run_command"]
