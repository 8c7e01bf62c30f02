"""A bioimage.io model package that napari-blindspot did not write (engine and widget tests).

Needs ``bioimageio.spec``; callers skip without the ``bioimageio`` extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

SMOOTH = '''
import torch
from torch import nn


class Smooth(nn.Module):
    """A 3x3 convolution (its weights in the state dict)."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(x)
'''


def foreign_package(tmp_path: Path) -> tuple[Path, torch.Tensor]:
    """A bioimage.io package not from napari-blindspot: architecture from a source file."""
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5

    src = tmp_path / "smooth.py"
    src.write_text(SMOOTH)
    weight = torch.rand(1, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    torch.save({"conv.weight": weight}, tmp_path / "w.pt")
    x = np.random.default_rng(0).normal(size=(1, 1, 32, 32)).astype(np.float32)
    y = torch.nn.functional.conv2d(torch.from_numpy(x), weight, padding=1).numpy()
    np.save(tmp_path / "in.npy", x)
    np.save(tmp_path / "out.npy", y)
    (tmp_path / "README.md").write_text("# smooth\n")

    def axes(out: bool) -> list:
        size = (v0_5.SizeReference(tensor_id=v0_5.TensorId("raw"), axis_id=v0_5.AxisId("y")) if out
                else v0_5.ParameterizedSize(min=16, step=16))
        sizex = (v0_5.SizeReference(tensor_id=v0_5.TensorId("raw"), axis_id=v0_5.AxisId("x")) if out
                 else v0_5.ParameterizedSize(min=16, step=16))
        space = v0_5.SpaceOutputAxis if out else v0_5.SpaceInputAxis
        return [v0_5.BatchAxis(), v0_5.ChannelAxis(channel_names=[v0_5.Identifier("c")]),
                space(id=v0_5.AxisId("y"), size=size), space(id=v0_5.AxisId("x"), size=sizex)]

    descr = v0_5.ModelDescr(
        name="smooth", description="a 3x3 filter", authors=[v0_5.Author(name="someone")],
        cite=[v0_5.CiteEntry(text="none", url="https://example.com")], license="MIT",
        documentation=v0_5.FileDescr(source=tmp_path / "README.md"),
        inputs=[v0_5.InputTensorDescr(id=v0_5.TensorId("raw"), axes=axes(False),
                                      test_tensor=v0_5.FileDescr(source=tmp_path / "in.npy"))],
        outputs=[v0_5.OutputTensorDescr(id=v0_5.TensorId("smoothed"), axes=axes(True),
                                        test_tensor=v0_5.FileDescr(source=tmp_path / "out.npy"))],
        weights=v0_5.WeightsDescr(pytorch_state_dict=v0_5.PytorchStateDictWeightsDescr(
            source=tmp_path / "w.pt", pytorch_version=v0_5.Version("2.1"),
            architecture=v0_5.ArchitectureFromFileDescr(source=src, callable=v0_5.Identifier("Smooth"),
                                                        kwargs={"channels": 1}))))
    package = tmp_path / "smooth.zip"
    save_bioimageio_package(descr, output_path=package)
    return package, weight
