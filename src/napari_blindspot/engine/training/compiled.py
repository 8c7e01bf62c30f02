"""The opt-in ``torch.compile`` of training (setting ``compile``), with its fallback.

What is compiled is the training loss, ``(batch, generator, channels) -> loss``: the method's
loss on the network (HQ-SSL's calls the network's ``prior``, not its ``forward``, so compiling
the module alone would compile nothing it runs).  The network itself stays the plain module:
validation, previews, the best weights and the saved model use it, so a model file holds its
plain ``state_dict`` (no ``_orig_mod.`` prefixes).  On a CPU, inductor generates C++ (it needs
a C++ compiler); the Mesa/triton guard (:mod:`..system.native_libs`) runs first.

Compiling never ends a run: when this torch has no ``torch.compile``, when wrapping raises, or
when a compiled step raises (inductor compiles at the first step: a missing compiler, an
operation it cannot trace), training goes on with the eager loss, with one log line and a
:class:`~..events.CompileFallback` event that the command line and the widget show.  A step
that failed compiled is taken again eagerly (an error that is not the compiler's then raises as
it would have).  Whether it pays: docs/performance.md ("torch.compile on a 2-core CPU").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import Any

import torch

from ..events import CompileFallback
from ..system.native_libs import guard_compiler_imports

log = logging.getLogger(__name__)

LossFn = Callable[..., torch.Tensor]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class CompiledLoss:
    """The training loss, compiled when ``enabled`` and possible, else (or after a failure) the
    ``eager`` one.  Call it like the loss; :attr:`compiled` says whether the next call compiles.
    ``compiler``: the compile function (default ``torch.compile``; tests give a failing one)."""

    def __init__(self, eager: LossFn, enabled: bool, compiler: Callable[..., Any] | None = None) -> None:
        self.eager = eager
        self._compiled: LossFn | None = None
        #: Why compiling was given up (one line), once, until :meth:`notes` sends it.
        self.failure: str | None = None
        self._sent = False
        if not enabled:
            return
        compile_fn = compiler if compiler is not None else getattr(torch, "compile", None)
        if compile_fn is None:
            self._fail(f"this torch ({torch.__version__}) has no torch.compile")
            return
        try:
            guard_compiler_imports()
            self._compiled = compile_fn(eager)
        except Exception as exc:  # noqa: BLE001  (any failure of the compiler: eager training)
            self._fail(_one_line(exc))

    @property
    def compiled(self) -> bool:
        """Whether calls go through the compiled loss."""
        return self._compiled is not None

    def __call__(self, *args: Any) -> torch.Tensor:
        return (self._compiled or self.eager)(*args)

    def _fail(self, why: str) -> None:
        self._compiled = None
        self.failure = why
        log.warning("torch.compile is not used, training goes on uncompiled: %s", why)

    def fall_back(self, exc: BaseException) -> bool:
        """After ``exc`` was raised by a step: when it went through the compiled loss, use the
        eager one from now on and return True (take the step again); else False (re-raise)."""
        if self._compiled is None:
            return False
        self._fail(_one_line(exc))
        return True

    def notes(self, step: int) -> Generator[CompileFallback, None, None]:
        """The :class:`~..events.CompileFallback` event, once, after compiling was given up."""
        if self.failure is not None and not self._sent:
            self._sent = True
            yield CompileFallback(step, self.failure)


__all__ = ["CompiledLoss"]
