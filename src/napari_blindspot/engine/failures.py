"""What the user is told when a job fails: one line that says what went wrong and what to do.

Shared by the command line and the napari widget, so that both say the same thing:
:func:`user_message` turns any exception into that line, :func:`exit_code` into the
``blindspot`` command's exit status (2: bad input or settings; 1: the machine ran short or
something unexpected happened; 130: interrupted).
"""

from __future__ import annotations

from .atomic import _HINTS
from .errors import BlindspotError
from .system.memory import is_out_of_memory, out_of_memory_message


def user_message(exc: BaseException, doing: str, names: dict[str, str] | None = None) -> str:
    """One line for the user about ``exc``, raised while ``doing`` (e.g. "training");
    ``names``: how the front end names the settings to change (see
    :func:`.system.memory.out_of_memory_message`)."""
    if isinstance(exc, BlindspotError):
        return str(exc)
    if is_out_of_memory(exc):
        return out_of_memory_message(exc, doing, names)
    if isinstance(exc, FloatingPointError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        hint = _HINTS.get(exc.errno or 0, exc.strerror or str(exc))
        return f"File error while {doing}{where}: {hint}."
    if isinstance(exc, KeyboardInterrupt):
        return f"Interrupted while {doing}; no file was changed."
    return (f"Unexpected error while {doing}: {type(exc).__name__}: {exc}. "
            "Run again with --verbose (command line) or see the log (napari) for the full "
            "traceback, and please report it.")


def exit_code(exc: BaseException) -> int:
    """The ``blindspot`` exit status for ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, BlindspotError):
        return int(getattr(exc, "exit_code", 2))
    return 1


__all__ = ["exit_code", "user_message"]
