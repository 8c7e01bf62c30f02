"""Write a trained model as a bioimage.io (BioImage Model Zoo) 0.5 model package."""

from __future__ import annotations

import logging
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch

from ..atomic import atomic_path
from ..errors import BlindspotError
from .requirements import library_failure, require
from .documentation import citations, describe, method_title, readme, tags, write_cover
from .example_input import ExampleInput, crop_sample, size_rules, synthetic_sample
from .network import BlindspotNetwork

log = logging.getLogger(__name__)

#: Marks the ``config`` section that lets napari-blindspot load a package back as its own model.
FORMAT = "napari-blindspot-bioimageio"
FORMAT_VERSION = 1
#: bioimageio.core's output check: |out - expected| <= atol + rtol * |expected|, atol in
#: normalised units (times the channel's std), for float rounding across devices.
RELATIVE_TOLERANCE = 1e-3
ABSOLUTE_TOLERANCE = 1e-3
ARCHITECTURE_MODULE = "napari_blindspot.engine.bioimageio.network"


@dataclass
class ExportResult:
    """What :func:`export_package` wrote."""

    path: Path
    weights: list[str]
    test_input: str
    torchscript_note: str
    test_status: str | None = None


def _version() -> str:
    from ... import __version__

    return __version__


def _float32_model(model: Any) -> Any:
    """The same model predicting without mixed precision (the package's reference output) and,
    as the package's fixed pre/postprocessing does, without a saturation level."""
    from ..model import DenoisingModel
    from ..normalization import Normalization

    norm = model.normalization
    if norm.clips:
        log.warning("The package cannot keep bright sparse spots as measured (%s): its network sees "
                    "them unclipped; napari-blindspot itself does clip them.", "; ".join(norm.messages()))
    return DenoisingModel(config=model.config.replace(mixed_precision=False), net=model.net,
                          normalization=Normalization(norm.mean, norm.std), channels=model.channels,
                          info=model.info)


def _exported_network(model: Any) -> BlindspotNetwork:
    net = BlindspotNetwork(model.config.to_dict(), model.channels, model.normalization.to_dict())
    state = {f"net.{k}": v.detach().to("cpu") for k, v in model.net.state_dict().items()}
    net.load_state_dict(state, strict=True)
    return net.eval()


def _run(net: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, ...]:
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
    return tuple(o.numpy() for o in (out if isinstance(out, tuple) else (out,)))


def _normalised(model: Any, x: np.ndarray) -> np.ndarray:
    mean = np.asarray(model.normalization.mean, np.float32).reshape((1, -1) + (1,) * (x.ndim - 2))
    std = np.asarray(model.normalization.std, np.float32).reshape(mean.shape)
    return (x - mean) / std


def _trace(net: BlindspotNetwork, rules: dict, check: np.ndarray) -> tuple[Any | None, str]:
    """TorchScript of ``net`` if the trace reproduces it on other shapes, and why (not)."""
    sizes = [r.minimum + r.step * (i + 1) for i, r in enumerate(rules.values())]  # all different
    example = torch.randn((1, net.channels, *sizes), generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # TracerWarnings: shape-dependent branches (padding to the size step) are fixed
            # in the trace; valid sizes (multiples of the step) never take them
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(net, example, check_trace=False)
        flipped = np.ascontiguousarray(np.swapaxes(check, -1, -2))
        for x in (check, flipped):
            want, got = _run(net, x), _run(traced, x)
            for w, g in zip(want, got):
                if not np.allclose(w, g, rtol=1e-4, atol=1e-4):
                    return None, ("not included: the traced network differs from the Python one "
                                  f"on other image sizes ({method_title(net.config)}, "
                                  f"channels {net.config.channels}).")
    except Exception as exc:  # tracing raises many kinds of errors
        return None, f"not included: this network cannot be traced ({type(exc).__name__}: {exc})."[:300]
    return traced, "included (traced from the same network; checked on other image sizes)."


def _clean_name(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_\-() ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()[:128] or "napari-blindspot model"


def _axes(v0_5: Any, rules: dict, channels: int, output: bool) -> list[Any]:
    names = ["channel"] if channels == 1 else [f"channel{c}" for c in range(channels)]
    axes: list[Any] = [v0_5.BatchAxis(), v0_5.ChannelAxis(channel_names=[v0_5.Identifier(n) for n in names])]
    for axis, rule in rules.items():
        aid = v0_5.AxisId(axis)
        if not output:
            axes.append(v0_5.SpaceInputAxis(id=aid, size=v0_5.ParameterizedSize(min=rule.minimum,
                                                                                step=rule.step)))
            continue
        ref = v0_5.SizeReference(tensor_id=v0_5.TensorId("input"), axis_id=aid)
        axes.append(v0_5.SpaceOutputAxisWithHalo(id=aid, halo=rule.halo, size=ref) if rule.halo
                    else v0_5.SpaceOutputAxis(id=aid, size=ref))
    return axes


def _description(v0_5: Any, model: Any, files: dict[str, Path], rules: dict,
                 expected: dict[str, np.ndarray], traced: bool, name: str, description: str, authors: list[str],
                 license: str, git_repo: str | None) -> Any:
    norm = model.normalization
    eps = 1e-6  # bioimage.io divides by (std + eps); ours by std
    std_pre = [max(s - eps, eps) for s in norm.std]
    pre = [v0_5.FixedZeroMeanUnitVarianceDescr(kwargs=v0_5.FixedZeroMeanUnitVarianceAlongAxisKwargs(
        axis=v0_5.AxisId("channel"), mean=list(norm.mean), std=std_pre))]

    def post(offset: bool) -> list[Any]:
        kw = v0_5.ScaleLinearAlongAxisKwargs(axis=v0_5.AxisId("channel"), gain=list(norm.std),
                                             offset=list(norm.mean) if offset else [0.0] * len(norm.std))
        return [v0_5.ScaleLinearDescr(kwargs=kw)]

    channels = model.channels
    extra: dict[str, Any] = {}
    if "pad" in v0_5.InputTensorDescr.model_fields:
        # how a consumer pads an image by the halo: as napari-blindspot pads, reflect for the
        # U-Nets; HQ-SSL pads zeros in normalised units (the mean), so that no pixel sees its
        # own mirror image through the blind spot
        extra["pad"] = (v0_5.ConstantPadding(value=float(norm.mean[0])) if model.method.pad_mode == "zeros"
                        else v0_5.ReflectPadding())
    inputs = [v0_5.InputTensorDescr(
        id=v0_5.TensorId("input"), axes=_axes(v0_5, rules, channels, False),
        test_tensor=v0_5.FileDescr(source=files["input"]),
        sample_tensor=v0_5.FileDescr(source=files["sample_input"]), preprocessing=pre,
        description="noisy image, intensity units of the training data", **extra)]
    outputs = [v0_5.OutputTensorDescr(
        id=v0_5.TensorId("denoised"), axes=_axes(v0_5, rules, channels, True),
        test_tensor=v0_5.FileDescr(source=files["denoised"]),
        sample_tensor=v0_5.FileDescr(source=files["sample_denoised"]), postprocessing=post(True),
        description="denoised image, same units as the input")]
    if "uncertainty" in expected:
        outputs.append(v0_5.OutputTensorDescr(
            id=v0_5.TensorId("uncertainty"), axes=_axes(v0_5, rules, channels, True),
            test_tensor=v0_5.FileDescr(source=files["uncertainty"]),
            sample_tensor=v0_5.FileDescr(source=files["sample_uncertainty"]), postprocessing=post(False),
            description="posterior standard deviation, same units as the input"))
    kwargs = {"config": model.config.to_dict(), "channels": channels, "normalization": norm.to_dict()}
    weights = v0_5.WeightsDescr(
        pytorch_state_dict=v0_5.PytorchStateDictWeightsDescr(
            source=files["weights"], pytorch_version=v0_5.Version(torch.__version__.split("+")[0]),
            architecture=v0_5.ArchitectureFromLibraryDescr(
                import_from=ARCHITECTURE_MODULE, callable=v0_5.Identifier("BlindspotNetwork"),
                kwargs=kwargs),
            dependencies=v0_5.FileDescr(source=files["environment"])),
        torchscript=v0_5.TorchscriptWeightsDescr(
            source=files["torchscript"], pytorch_version=v0_5.Version(torch.__version__.split("+")[0]),
            parent="pytorch_state_dict") if traced else None)
    tolerances = []
    for out in outputs:
        # bioimage.io allows at most 1% of the test output's maximum as absolute tolerance
        atol = min(ABSOLUTE_TOLERANCE * max(norm.std), 0.005 * float(np.max(expected[str(out.id)])))
        tolerances.append({"relative_tolerance": RELATIVE_TOLERANCE, "absolute_tolerance": max(atol, 0.0),
                           "output_ids": [str(out.id)]})
    config = {
        "bioimageio": {"reproducibility_tolerance": tolerances},
        "napari_blindspot": {"format": FORMAT, "format_version": FORMAT_VERSION,
                             "package_version": _version(), "config": model.config.to_dict(),
                             "normalization": norm.to_dict(), "channels": channels,
                             "info": _yaml_safe(model.info)},
    }
    return v0_5.ModelDescr(
        name=name, description=description,
        authors=[v0_5.Author(name=a) for a in authors],
        cite=[v0_5.CiteEntry(text=t, url=u) for t, u in citations(model.config)],
        license=license, documentation=v0_5.FileDescr(source=files["readme"]),
        covers=[v0_5.FileDescr(source=files["cover"])],
        inputs=inputs, outputs=outputs, weights=weights, tags=tags(model.config),
        git_repo=git_repo, config=config)


def _yaml_safe(value: Any) -> Any:
    """``value`` with numpy scalars and tuples made plain YAML values."""
    if isinstance(value, dict):
        return {str(k): _yaml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def export_package(model: Any, output: str | Path, *, sample: Any = None,
                   sample_axes: str | None = None, sample_name: str = "the sample image",
                   name: str | None = None, authors: list[str] | None = None,
                   license: str = "CC-BY-4.0", git_repo: str | None = None,
                   torchscript: bool = True, test: bool = True) -> ExportResult:
    """Write ``model`` (a :class:`~..model.DenoisingModel`) to the ``.zip`` ``output``.

    ``sample`` (array, axes ``sample_axes``, default the training axes) gives the test input
    (a centred crop of its middle frame or volume); without it a synthetic frame scaled to the
    training data's statistics is used, and the package says so.  With ``test``,
    ``bioimageio.core``'s model test runs on the written package before it replaces
    ``output`` (raising :class:`BlindspotError` when it fails); nothing is written on failure.
    An existing ``output`` is replaced (the CLI asks for ``--overwrite`` first).
    """
    require("bioimageio.spec", *(("bioimageio.core",) if test else ()))
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5

    output = Path(output)
    if output.suffix.lower() != ".zip":
        raise BlindspotError(f"The package path {str(output)!r} must end in .zip (a bioimage.io "
                             "model package is a zip file).")
    if not output.parent.is_dir():
        raise BlindspotError(f"The folder {str(output.parent)!r} for the package does not exist.")
    cfg, version = model.config, _version()
    net = _exported_network(model)
    rules = size_rules(model.method.size_multiple(cfg), model.method.receptive_radius(cfg),
                       3 if cfg.train_3d else 2)
    if sample is not None:
        example = crop_sample(sample, sample_axes or cfg.axes, cfg.train_3d, model.channels,
                              rules, sample_name)
    else:
        example = synthetic_sample(model.normalization, model.channels, rules)
        log.info("No sample image given: the test input is %s.", example.origin)
    axes = "CZYX" if cfg.train_3d else "CYX"
    reference = _float32_model(model).predict(example.data[0], axes, uncertainty=True)
    expected = [reference["denoised"][None]] + (
        [reference["uncertainty"][None]] if "uncertainty" in reference else [])
    _check_network(model, net, example, expected)
    traced, ts_note = _trace(net, rules, _normalised(model, example.data)) if torchscript else (
        None, "not included (export without TorchScript requested).")

    with tempfile.TemporaryDirectory(prefix="blindspot-bioimageio-") as tmp:
        d = Path(tmp)
        files = {"input": d / "test_input.npy", "denoised": d / "test_output_denoised.npy",
                 "uncertainty": d / "test_output_uncertainty.npy", "weights": d / "weights.pt",
                 "torchscript": d / "weights_torchscript.pt", "cover": d / "cover.png",
                 "readme": d / "README.md", "environment": d / "environment.yaml"}
        tensors = {"input": example.data, "denoised": expected[0]}
        if len(expected) > 1:
            tensors["uncertainty"] = expected[1]
        for key, array in tensors.items():
            np.save(files[key], array)
            # the same tensor as a TIFF for people (bioimage.io's sample_tensor)
            files[f"sample_{key}"] = d / f"sample_{key}.tif"
            tifffile.imwrite(files[f"sample_{key}"], np.squeeze(array, axis=0))
        torch.save(net.state_dict(), files["weights"])
        if traced is not None:
            traced.save(str(files["torchscript"]))
        write_cover(files["cover"], example.data, expected[0])
        files["readme"].write_text(readme(cfg, model.channels, version, example.origin,
                                          model.noise_parameters(), model.info, ts_note), "utf-8")
        files["environment"].write_text(_environment(version), "utf-8")
        try:  # our arguments are checked: what fails in here is the library's
            descr = _description(v0_5, model, files, rules, tensors, traced is not None,
                                 _clean_name(name or f"napari-blindspot {method_title(cfg)}"),
                                 describe(cfg, model.channels, version),
                                 authors or ["napari-blindspot user"], license, git_repo)
        except Exception as exc:  # noqa: BLE001 - named as the library's failure
            raise library_failure(exc, "describing the package") from exc
        result = ExportResult(output, ["pytorch_state_dict"] + (["torchscript"] if traced else []),
                              example.origin, ts_note)
        with atomic_path(output, suffix=".zip") as partial:  # a failed test leaves no file
            try:
                save_bioimageio_package(descr, output_path=Path(partial))
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - named as the library's failure
                raise library_failure(exc, "writing the package") from exc
            if test:
                result.test_status = _test(Path(partial))
    return result


def _check_network(model: Any, net: BlindspotNetwork, example: ExampleInput,
                   expected: list[np.ndarray]) -> None:
    """The exported network with the package's pre/postprocessing must give the prediction."""
    got = _run(net, _normalised(model, example.data))
    std = np.asarray(model.normalization.std, np.float32).reshape((1, -1) + (1,) * (example.data.ndim - 2))
    mean = np.asarray(model.normalization.mean, np.float32).reshape(std.shape)
    got_units = [got[0] * std + mean] + [g * std for g in got[1:]]
    for g, e in zip(got_units, expected):
        if not np.allclose(g, e, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE * float(std.max())):
            raise BlindspotError("The exported network does not reproduce napari-blindspot's prediction "
                                 f"(largest difference {float(np.abs(g - e).max()):.3g}); please report this.")


def _test(package: Path) -> str:
    from bioimageio.core import test_model

    try:
        summary = test_model(package)
    except Exception as exc:  # noqa: BLE001 - named as the library's failure
        package.unlink(missing_ok=True)
        raise library_failure(exc, "testing the package") from exc
    if summary.status != "passed":
        failed = [f"{d.name}: {'; '.join(e.msg for e in d.errors)}" for d in summary.details
                  if d.status == "failed"]
        package.unlink(missing_ok=True)
        raise BlindspotError("bioimageio.core's model test failed on the package: "
                             + (" | ".join(failed)[:800] or summary.status))
    return summary.status


def _environment(version: str) -> str:
    return ("name: napari-blindspot\nchannels:\n  - conda-forge\n  - nodefaults\ndependencies:\n"
            f"  - python>=3.10\n  - pip\n  - pip:\n      - napari-blindspot=={version}\n"
            "      - torch>=2.1\n")


__all__ = ["ExportResult", "FORMAT", "FORMAT_VERSION", "export_package"]
