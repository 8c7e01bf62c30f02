"""The widget's model files without Qt: save, load (napari-blindspot files and bioimage.io
packages) and export to bioimage.io.

:class:`ModelFiles` is a part of :class:`~.controller.DenoiseController` (its ``files``), given
what it uses explicitly: the viewer, the controller's state, messages and job starter, its
current model and how it adopts a loaded one.  A loaded model is either a
:class:`~..engine.DenoisingModel` (a ``.safetensors`` file, or a bioimage.io package that
napari-blindspot exported: the same model) or a :class:`~..engine.bioimageio.foreign.BioimageioModel`
(a package from another tool, e.g. CAREamics), which can denoise but not be trained further,
saved or exported again.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from ..engine import DenoisingModel, load_model
from ..engine.bioimageio.trust import CodeRefused
from ..text import model_summary
from .jobs import Failed, Job, Reporter, guarded
from .layers import LayerError, Source, result_kind
from .state import ControllerState, JobState

log = logging.getLogger(__name__)

#: ``ask() -> path or None``: how the view asks the user for a file (None: cancelled).
AskPath = Callable[[], "str | None"]
#: ``confirm(question) -> bool``: how the view asks the user to allow something (a package
#: that runs its own code); without one, nothing is allowed.
Confirm = Callable[[str], bool]
#: ``start(state, events, on_event, on_done) -> Job``: how the controller starts a job (its
#: runner, in ``state``; ``on_done(result)`` once it ends).
StartJob = Callable[[JobState, Generator[Any, None, Any], Callable[[Any], None], Callable[[Any], None]],
                    Job]


def describe_model(model: Any, origin: str = "") -> str:
    """The model line the widget shows, e.g. ``Model: N2V2 2D, 4 steps, axes TYX, 1 channel (…).``"""
    if model.native:
        return f"Model: {model_summary(model, origin)}."
    axes = "".join(model.space).upper()
    return f"Model: {model.label()}, axes {axes}, {model.channels} channel(s)" + (
        f" ({origin})." if origin else ".")


def package_path(chosen: str | Path, confirmed: bool) -> Path:
    """The ``.zip`` to write for the user's choice ``chosen``.

    ``confirmed``: the user chose ``chosen`` in a save dialog, which asked before replacing an
    existing file; any other existing file (``.zip`` added to the name, or a path given by a
    script) is refused, so that no file is replaced without the user's word.
    """
    chosen = Path(chosen)
    target = chosen if chosen.suffix.lower() == ".zip" else chosen.with_name(chosen.name + ".zip")
    if target.exists() and not (confirmed and target == chosen):
        raise LayerError(f"{str(target)!r} exists already: choose it in the dialog (which asks "
                         "before replacing it) or give another name.")
    return target


def _sample_source(viewer: Any, layer: Any, axes: str) -> Source | None:
    """The layer whose data becomes the test input: ``layer``, or the source of a result layer."""
    if layer is None:
        return None
    if result_kind(layer) is not None:
        name = layer.metadata["blindspot"].get("source")
        if name in viewer.layers:  # a result has its source's shape and axes
            return Source.from_layer(viewer.layers[name], axes)
    return Source.from_layer(layer, axes)


def too_small(model: DenoisingModel, source: Source) -> str | None:
    """Why ``source`` is too small to give the package's test input (None: it fits)."""
    from ..engine.bioimageio.example_input import size_rules

    cfg = model.config
    rules = size_rules(model.method.size_multiple(cfg), model.method.receptive_radius(cfg),
                       3 if cfg.train_3d else 2)
    for axis, rule in rules.items():
        letter = axis.upper()
        if letter in source.axes:
            size = int(source.data.shape[source.axes.index(letter)])
            if size < rule.minimum:
                return (f"{source.name!r} is {size} pixels along {letter}, smaller than the "
                        f"{rule.minimum} the package's test input needs")
    return None


def export_job(model: DenoisingModel, target: Path, sample: Source | None
               ) -> Generator[None, None, Any]:
    """Export ``model`` to ``target`` (a generator that yields nothing: runs in a worker).

    Runs ``bioimageio.core``'s model test on the package when ``bioimageio.core`` is installed
    (the package then replaces ``target`` only when it passes).  Returns the
    :class:`~..engine.bioimageio.export.ExportResult`.
    """
    from ..engine.bioimageio import export_package, require
    from ..engine.bioimageio.documentation import PROJECT_URL

    require("bioimageio.spec")
    test = importlib.util.find_spec("bioimageio.core") is not None
    result = export_package(
        model, target, sample=None if sample is None else sample.data,
        sample_axes=None if sample is None else sample.axes,
        sample_name=f"the layer {sample.name!r}" if sample is not None else "the sample image",
        git_repo=PROJECT_URL, test=test)
    return result
    yield  # a generator: the runner drives it in a worker thread  # pragma: no cover


class ModelFiles:
    """Save, load and export the controller's model (see the module docstring).

    ``viewer``: the napari viewer (model) whose layers give an export's test input; ``state``:
    the controller's state (a file is loaded or exported only while no job runs); ``reporter``:
    its messages; ``start``: how it starts a job; ``model()``: its current model (None: none);
    ``adopt(model, origin)``: makes a loaded model the current one (``origin`` e.g.
    ``"loaded from cells.safetensors"``).
    """

    def __init__(self, viewer: Any, state: ControllerState, reporter: Reporter, start: StartJob,
                 model: Callable[[], Any], adopt: Callable[[Any, str], None]) -> None:
        self.viewer, self.state = viewer, state
        self.say, self.reporting = reporter.say, reporter.reporting
        self._start, self._current, self._adopt = start, model, adopt

    @property
    def model(self) -> Any:
        """The controller's current model (None: none yet)."""
        return self._current()

    def save_model(self, path: str | Path | None = None, ask: AskPath | None = None) -> Path | None:
        """Write the current model to ``path`` (else to the file ``ask()`` gives)."""
        with self.reporting("saving the model"):
            if self.model is None:
                raise LayerError("There is no model to save: train one first.")
            if not self.model.native:
                raise LayerError("This bioimage.io model comes from another tool: it stays in its "
                                 "package and cannot be saved as a napari-blindspot file.")
            chosen = path if path is not None else (ask() if ask is not None else None)
            if not chosen:
                return None
            target = Path(chosen)
            if target.suffix != ".safetensors":
                target = target.with_name(target.name + ".safetensors")
            self.model.save(str(target))
            self.say(f"Model saved to {target}.")
            return target
        return None

    def load_model(self, path: str | Path | None = None, device: str = "auto",
                   ask: AskPath | None = None, confirm: Confirm | None = None) -> Any:
        """Load a model (``path``, else the file ``ask()`` gives): a napari-blindspot
        ``.safetensors`` file or a bioimage.io package (``.zip``, ``rdf.yaml``, folder); then
        Denoise applies it.  A file that cannot be read is one error message; the current
        model stays.  A package from another tool that would run its own code is loaded only
        when ``confirm(question)`` says yes (no ``confirm``: refused, see
        :mod:`~..engine.bioimageio.trust`)."""
        with self.reporting("loading a model"):
            if not self.state.job.can_start:
                return None
            chosen = path if path is not None else (ask() if ask is not None else None)
            if not chosen:
                return None
            try:
                model = load_model(str(chosen), device=device)
            except CodeRefused as exc:
                if confirm is None:
                    raise
                if not confirm(f"{exc}\n\nRun this package's code?"):
                    self.say(f"Not loaded: {Path(chosen).name} would run its own code, which you "
                             "did not allow.", "warning")
                    return None
                log.warning("Running the code of %s, as the user allowed.", chosen)
                model = load_model(str(chosen), device=device, trust_code=True)
            name = Path(chosen).name
            self._adopt(model, f"loaded from {name}")
            if model.native:
                self.say(f"Loaded {name}. Pick a layer with axes like {model.config.axes!r} and press "
                         "Denoise, or Continue to train it further.")
            else:
                self.say(f"Loaded {model.label()} from {name}. Pick a layer and press Denoise; a model "
                         "from another tool cannot be trained further here.")
            return model
        return None

    def export_bioimageio(self, layer: Any = None, axes: str = "", path: str | Path | None = None,
                          ask: AskPath | None = None) -> Path | None:
        """Export the model as a bioimage.io package (``.zip``) in a worker; the test input is a
        crop of ``layer`` (axes ``axes``; a result layer stands for its source; none: a
        synthetic image).  ``path`` (scripts) must not exist; a file chosen through ``ask()`` (a
        save dialog, which confirms replacing) may.  Returns the target, or None when nothing
        started; the outcome is a message, and ``job_done("exporting")``."""
        with self.reporting("exporting to bioimage.io"):
            if not self.state.job.can_start:
                return None
            if self.model is None:
                raise LayerError("There is no model to export: train one or load a model file.")
            if not self.model.native:
                raise LayerError("Only napari-blindspot models can be exported; this bioimage.io "
                                 "model already is a package.")
            sample = _sample_source(self.viewer, layer, axes)
            chosen = path if path is not None else (ask() if ask is not None else None)
            if not chosen:
                return None
            target = package_path(chosen, confirmed=path is None)
            small = too_small(self.model, sample) if sample is not None else None
            if small:  # the package is as good; only its example differs
                sample = None
            job = self._start(JobState.EXPORTING, guarded(export_job(self.model, target, sample),
                                                          "exporting to bioimage.io"),
                              lambda _: None, lambda result: self._finish_export(result, small))
            self.say(f"Exporting to {target} (test input from "
                     f"{repr(sample.name) if sample else 'a synthetic image'}; takes a few seconds)…")
            job.start()
            return target
        return None

    def _finish_export(self, result: Any, small: str | None = None) -> None:
        if isinstance(result, Failed):
            self.say(result.message, "error")
            return
        if result is None:
            self.say("The export was interrupted.", "warning")
            return
        test = (f" bioimageio.core's model test: {result.test_status}." if result.test_status else
                " It was not tested: install bioimageio.core to test packages before writing them.")
        example = (f"a synthetic image, because {small}" if small else result.test_input)
        self.say(f"Exported the model to {result.path} (test input: {example}).{test} "
                 "Open it in Fiji (deepImageJ), QuPath, ilastik or napari-blindspot.")


__all__ = ["AskPath", "Confirm", "ModelFiles", "describe_model", "package_path"]
