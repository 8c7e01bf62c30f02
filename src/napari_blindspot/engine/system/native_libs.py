"""Keep torch's compiler libraries loadable beside a graphics driver's LLVM.

The default torch build on Linux (the CUDA build that ``pip install torch`` gives) comes with
triton, whose extension ``triton/_C/libtriton.so`` carries its own copy of LLVM.  torch imports
triton the first time an optimizer is built (``torch._dynamo`` checks whether triton is there),
even for plain eager training like ours, which never compiles anything.

Mesa's OpenGL drivers (llvmpipe, radeonsi: napari's canvas on virtual machines, remote
desktops, Xvfb and AMD GPUs) load the system ``libLLVM`` with ``RTLD_GLOBAL``.  When libtriton is
loaded after that, the static initialisers of its LLVM bind to the other LLVM's symbols and the
process dies with a segmentation fault (``llvm::DebugCounter`` in libtriton's ``PassBuilder.cpp``
initialiser, seen with Mesa's libLLVM-15 and triton 3.8).  Loading it before the canvas exists
is safe, but a plugin cannot promise that: napari draws before a dock widget is opened.

:func:`guard_compiler_imports` therefore loads libtriton itself, with ``RTLD_DEEPBIND``, so that
its LLVM resolves to its own symbols first; Python's later import of the extension reuses that
handle.  triton stays fully usable (``torch.compile`` works).  Should that load fail, triton is
hidden from this process (``sys.modules["triton"] = None``): torch then behaves as without
triton, which eager training and prediction do not need, instead of crashing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

log = logging.getLogger(__name__)

_done = False


def foreign_llvm_loaded(maps_path: str = "/proc/self/maps") -> bool:
    """Whether a shared ``libLLVM`` (as a Mesa driver loads it) is mapped into this process."""
    try:
        with open(maps_path, encoding="utf-8", errors="replace") as f:
            return any("libLLVM" in line for line in f)
    except OSError:
        return False


def _libtriton_path() -> str | None:
    try:
        spec = importlib.util.find_spec("triton")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = os.path.join(folder, "_C", "libtriton.so")
        if os.path.isfile(candidate):
            return candidate
    return None


def guard_compiler_imports() -> str:
    """Make the later import of triton safe in this process; returns what was done.

    Call before anything that may import ``torch._dynamo`` (building an optimizer).  Cheap
    after the first call.  Returns ``"not needed"`` (not Linux, no triton, triton already
    imported, or no other LLVM loaded), ``"isolated"`` (libtriton loaded with its own LLVM
    first) or ``"hidden"`` (triton made unimportable because isolating it failed).
    """
    global _done
    if _done:
        return "not needed"
    if not sys.platform.startswith("linux") or "triton" in sys.modules:
        _done = True
        return "not needed"
    path = _libtriton_path()
    if path is None:
        _done = True
        return "not needed"
    if not foreign_llvm_loaded():
        # Nothing to clash with yet; a graphics driver loaded later resolves its own LLVM
        # (libtriton's symbols are not global), so the normal import is safe.  Stay armed in
        # case a canvas appears before torch imports triton.
        return "not needed"
    _done = True
    return _isolate(path)


def _isolate(path: str) -> str:
    import ctypes

    try:
        ctypes.CDLL(path, mode=os.RTLD_NOW | getattr(os, "RTLD_DEEPBIND", 0))
    except OSError as exc:
        sys.modules["triton"] = None  # type: ignore[assignment]  # import now raises ImportError
        log.warning("triton could not be loaded beside the graphics driver's LLVM (%s); it is "
                    "disabled in this process (napari-blindspot trains without a compiler).", exc)
        return "hidden"
    log.info("loaded %s with its own LLVM (a graphics driver's LLVM is already loaded)", path)
    return "isolated"


def guard_plan() -> str:
    """What :func:`guard_compiler_imports` did or would do in this process, in words (for
    ``blindspot doctor``; changes nothing)."""
    if not sys.platform.startswith("linux"):
        return "is not needed (only Linux builds load a graphics driver's LLVM this way)"
    if "triton" in sys.modules:
        if sys.modules["triton"] is None:
            return "has hidden triton in this process (isolating it failed)"
        return "has nothing left to do: triton is already loaded in this process"
    path = _libtriton_path()
    if path is None:
        return "finds no libtriton.so: nothing to do"
    if foreign_llvm_loaded():
        return (f"would act: a graphics driver's LLVM is loaded, so it loads {path} with its own "
                "LLVM (RTLD_DEEPBIND) before torch imports triton")
    return ("would not act here (no graphics driver's LLVM is loaded in this process); in napari "
            "on Mesa OpenGL (llvmpipe, radeonsi) it loads libtriton with its own LLVM first")
