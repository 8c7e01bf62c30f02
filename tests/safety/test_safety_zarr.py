"""Safety suite, zarr stores: an incomplete, damaged or self-contradicting OME-Zarr input is
refused with one line naming the file and the fix (as a TIFF is), never read as if fine."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from helpers_safety import Workspace, cli, noisy_stack, one_line_error

from napari_blindspot.io.image import open_image
from napari_blindspot.io.omezarr import OmeZarrWriter


def _store(ws: Workspace, fmt: int = 2, name: str = "in.zarr") -> Path:
    w = OmeZarrWriter(ws.path(name), "TYX", (2, 64, 64), zarr_format=fmt, chunks=(1, 32, 64))
    w.write((slice(None),) * 3, noisy_stack().astype(np.float32))
    return Path(w.finish())


def _edit_attrs(path: Path, edit: Callable[[dict], None]) -> None:
    name = path / (".zattrs" if (path / ".zattrs").exists() else "zarr.json")
    data = json.loads(name.read_text())
    ms = data["multiscales"][0] if "multiscales" in data else data["attributes"]["ome"]["multiscales"][0]
    edit(ms)
    name.write_text(json.dumps(data))


def missing_chunk(fmt: int) -> Callable[[Workspace], str]:
    def make(ws: Workspace) -> str:
        path = _store(ws, fmt)
        os.remove(path / "0" / ("1.1.0" if fmt == 2 else "c/1/1/0"))
        return str(path)
    return make


def damaged(fmt: int, name: str, text: str = "{not json") -> Callable[[Workspace], str]:
    def make(ws: Workspace) -> str:
        path = _store(ws, fmt)
        (path / name).write_text(text)
        return str(path)
    return make


def with_axes(edit: Callable[[dict], None], fmt: int = 2) -> Callable[[Workspace], str]:
    def make(ws: Workspace) -> str:
        path = _store(ws, fmt)
        _edit_attrs(path, edit)
        return str(path)
    return make


def corrupt_chunk(ws: Workspace) -> str:
    path = _store(ws)
    (path / "0" / "1.0.0").write_bytes(b"\x00garbage" * 8)
    return str(path)


def _drop_axis(ms: dict) -> None:
    ms["axes"] = ms["axes"][1:]


def _repeat_axis(ms: dict) -> None:
    ms["axes"][0]["name"] = "y"


def _short_scale(ms: dict) -> None:
    ms["datasets"][0]["coordinateTransformations"][0]["scale"] = [1.0, 1.0]


def _missing_dataset(ms: dict) -> None:
    ms["datasets"][0]["path"] = "9"


#: (case id, store builder, words the error must contain)
CASES: list[tuple[str, Callable[[Workspace], str], tuple[str, ...]]] = [
    ("missing-chunk-v2", missing_chunk(2), ("lacks 1 of its 4 chunks", "1.1.0", "--allow-missing-chunks")),
    ("missing-chunk-v3", missing_chunk(3), ("lacks 1 of its 4 chunks", "c/1/1/0")),
    ("corrupt-zarray", damaged(2, "0/.zarray"), (".zarray", "damaged", "not valid JSON")),
    ("zarray-not-an-object", damaged(2, "0/.zarray", "[1, 2]"), (".zarray", "damaged")),
    ("zarray-empty-object", damaged(2, "0/.zarray", "{}"), ("is not a", "zarr array")),
    ("corrupt-zattrs", damaged(2, ".zattrs"), (".zattrs", "damaged")),
    ("corrupt-zgroup", damaged(2, ".zgroup"), (".zgroup", "damaged")),
    ("corrupt-consolidated-zmetadata", damaged(2, ".zmetadata"), (".zmetadata", "damaged")),
    ("corrupt-zarr-json-v3", damaged(3, "0/zarr.json"), ("zarr.json", "damaged")),
    ("corrupt-root-zarr-json-v3", damaged(3, "zarr.json"), ("zarr.json", "damaged")),
    ("axes-fewer-than-dimensions", with_axes(_drop_axis), ("names 2 axes", "3 dimensions", "--axes")),
    ("axes-fewer-than-dimensions-v3", with_axes(_drop_axis, 3), ("names 2 axes", "zarr.json")),
    ("axes-repeated", with_axes(_repeat_axis), ("not distinct axes",)),
    ("scale-of-another-length", with_axes(_short_scale), ("scale has 2 values",)),
    ("dataset-missing", with_axes(_missing_dataset), ("'9'", "does not hold")),
    ("chunk-that-cannot-be-decoded", corrupt_chunk, ("cannot be decoded", "damaged")),
]


@pytest.mark.parametrize("case, make, words", CASES, ids=[c[0] for c in CASES])
def test_damaged_zarr_input_is_refused(ws, capsys, case, make, words):
    store = make(ws)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", store, "--model", ws.model, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 2, err
    for word in words:
        assert word in line, line
    ws.assert_unchanged(before)


def test_missing_chunks_can_be_allowed(ws, capsys, caplog):
    store = missing_chunk(2)(ws)
    rc, err = cli(capsys, "denoise", store, "--model", ws.model, "-o", ws.path("o.tif"),
                  "--allow-missing-chunks")
    assert rc == 0, err
    assert "1 of 4 chunks are missing" in caplog.text


def test_axes_given_replace_contradicting_metadata(ws, capsys):
    store = with_axes(_drop_axis)(ws)
    image = open_image(store, "TYX")
    assert image.axes == "TYX" and image.axes_source == "given"


def test_dark_regions_are_stored_so_our_results_read_back(tmp_path):
    """Chunks that hold only zeros are written: our own outputs are never 'incomplete'."""
    w = OmeZarrWriter(tmp_path / "z.zarr", "YX", (64, 64), chunks=(32, 32))
    w.write((slice(None), slice(None)), np.zeros((64, 64), np.float32))
    w.finish()
    assert sorted(os.listdir(tmp_path / "z.zarr" / "0")) == [".zarray", ".zattrs", "0.0", "0.1", "1.0", "1.1"]
    assert np.asarray(open_image(tmp_path / "z.zarr").data[:]).max() == 0


def test_a_missing_chunk_is_refused_in_a_batch_too(ws, capsys):
    good = _store(ws, name="good.zarr")
    bad = missing_chunk(2)(ws)
    (ws.root / "out").mkdir()
    rc, err = cli(capsys, "denoise", str(good), bad, "--model", ws.model, "-o", ws.path("out") + "/")
    assert rc == 1, err
    assert "lacks 1 of its 4 chunks" in err
    assert os.listdir(ws.root / "out") == ["good_denoised.ome.zarr"]
    shutil.rmtree(ws.root / "out")
