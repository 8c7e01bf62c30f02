"""Safety suite, path relations: no output is, is inside or contains an input (or another
output), through any spelling or link, for one input or many; ``--overwrite`` replaces a
folder only when it is an earlier result of ours. Nothing the user had changes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable

import numpy as np
import pytest

from helpers_safety import Workspace, cli, noisy_stack, one_line_error

from napari_blindspot.io.omezarr import OmeZarrWriter, replace_folder
from napari_blindspot.io.ownership import is_own_output
from napari_blindspot.io.tiff import write_tiff


def _box(ws: Workspace) -> str:
    """A folder named like a zarr store that holds the user's TIFF (the issue's case)."""
    (ws.root / "box.zarr").mkdir()
    shutil.copy(ws.raw, ws.root / "box.zarr" / "raw.tif")
    return ws.path("box.zarr")


def _zarr_input(ws: Workspace, name: str = "in.zarr") -> str:
    w = OmeZarrWriter(ws.path(name), "TYX", (2, 64, 64), zarr_format=2)
    w.write((slice(None),) * 3, noisy_stack().astype(np.float32))
    return w.finish()


def _two(ws: Workspace) -> str:
    (ws.root / "many").mkdir()
    for n in ("a", "b"):
        write_tiff(ws.root / "many" / f"{n}.tif", noisy_stack(seed=3), "TYX")
    return ws.path("many")


def _link_to_box(ws: Workspace) -> str:
    _box(ws)
    os.symlink(ws.path("box.zarr"), ws.path("alias.zarr"))
    return ws.path("alias.zarr")


def _user_zarr(ws: Workspace) -> str:
    """A zarr store another tool wrote (no marker of ours)."""
    import zarr

    g = zarr.open_group(ws.path("theirs.zarr"), mode="w", zarr_format=2)
    g.create_array("0", shape=(4, 4), chunks=(4, 4), dtype="f4", fill_value=0)[:] = 1
    return ws.path("theirs.zarr")


def _ours_with_extra(ws: Workspace) -> str:
    out = _zarr_input(ws, "ours.zarr")
    (ws.root / "ours.zarr" / "notes.txt").write_text("my notes\n")
    return out


def _plain_folder(ws: Workspace) -> str:
    (ws.root / "results.zarr").mkdir()
    (ws.root / "results.zarr" / "keep.txt").write_text("mine\n")
    return ws.path("results.zarr")


def m(w: Workspace) -> list[str]:
    return ["--model", str(w.model)]


#: (case id, argv builder, words the error must contain)
REFUSED: list[tuple[str, Callable[[Workspace], list[str]], tuple[str, ...]]] = [
    ("output-contains-input", lambda w: ["denoise", os.path.join(_box(w), "raw.tif"), *m(w), "-o",
                                         w.path("box.zarr"), "--overwrite"],
     ("-o", "box.zarr", "contains the input image")),
    ("output-contains-input-through-a-link", lambda w: ["denoise", os.path.join(w.path("box.zarr"), "raw.tif"),
                                                        *m(w), "-o", _link_to_box(w), "--overwrite"],
     ("alias.zarr", "contains the input image")),
    ("output-inside-input-zarr", lambda w: ["denoise", _zarr_input(w), *m(w), "-o",
                                            os.path.join(w.path("in.zarr"), "o.tif")],
     ("is inside the input image",)),
    ("output-is-input-zarr", lambda w: ["denoise", _zarr_input(w), *m(w), "-o", w.path("in.zarr"),
                                        "--overwrite"], ("is the input image",)),
    ("uncertainty-inside-input-zarr", lambda w: ["denoise", _zarr_input(w), *m(w), "-o", w.path("o.tif"),
                                                 "--uncertainty", os.path.join(w.path("in.zarr"), "u.tif")],
     ("--uncertainty", "is inside the input image")),
    ("output-contains-model", lambda w: ["denoise", str(w.raw), "--model", _model_in_box(w), "-o",
                                         w.path("box.zarr"), "--overwrite"], ("contains the --model file",)),
    ("batch-output-folder-inside-input-zarr", lambda w: ["denoise", _two(w), _zarr_input(w), *m(w), "-o",
                                                         os.path.join(w.path("in.zarr"), "out") + "/"],
     ("is inside the input image",)),
    ("batch-output-contains-another-input", lambda w: ["denoise", os.path.join(_two(w), "a.tif"),
                                                       _nested_input(w), *m(w), "-o", w.path("many") + "/",
                                                       "--format", "zarr", "--overwrite"],
     ("a_denoised.ome.zarr", "contains the input image")),
    ("uncertainty-inside-output", lambda w: ["denoise", str(w.raw), *m(w), "-o", w.path("o.ome.zarr"),
                                             "--uncertainty", os.path.join(w.path("o.ome.zarr"), "u.tif")],
     ("--uncertainty", "is inside the -o output")),
    ("train-output-inside-input-zarr", lambda w: ["train", _zarr_input(w), "-o",
                                                  os.path.join(w.path("in.zarr"), "m.safetensors"),
                                                  "--steps", "1"], ("-o", "is inside the input image")),
    ("overwrite-folder-not-ours", lambda w: ["denoise", str(w.raw), *m(w), "-o", _plain_folder(w),
                                             "--overwrite"], ("did not write", "results.zarr")),
    ("overwrite-zarr-of-another-tool", lambda w: ["denoise", str(w.raw), *m(w), "-o", _user_zarr(w),
                                                  "--overwrite"], ("did not write", "theirs.zarr")),
    ("overwrite-our-result-with-user-files-in-it", lambda w: ["denoise", str(w.raw), *m(w), "-o",
                                                              _ours_with_extra(w), "--overwrite"],
     ("notes.txt", "did not write")),
]


def _nested_input(ws: Workspace) -> str:
    """A TIFF in a folder named like the first input's result would be."""
    folder = ws.root / "many" / "a_denoised.ome.zarr"
    folder.mkdir()
    write_tiff(folder / "c.tif", noisy_stack(seed=4), "TYX")
    return str(folder / "c.tif")


def _model_in_box(ws: Workspace) -> str:
    (ws.root / "box.zarr").mkdir()
    shutil.copy(ws.model, ws.root / "box.zarr" / "m.safetensors")
    return ws.path("box.zarr/m.safetensors")


@pytest.mark.parametrize("case, argv, words", REFUSED, ids=[c[0] for c in REFUSED])
def test_output_touching_an_input_is_refused(ws, capsys, case, argv, words):
    args = argv(ws)
    before = ws.snapshot()
    rc, err = cli(capsys, *args)
    line = one_line_error(err)
    assert rc == 2, err
    for word in words:
        assert word in line, line
    ws.assert_unchanged(before)


def test_overwrite_replaces_our_earlier_zarr_result(ws, capsys):
    out = ws.path("o.ome.zarr")
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", out)
    assert rc == 0, err
    assert is_own_output(out)
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", out, "--overwrite")
    assert rc == 0, err
    assert is_own_output(out) and not [p for p in os.listdir(ws.root) if p.startswith(".")]


def test_replace_folder_itself_keeps_a_foreign_folder(tmp_path):
    """The writer's last step refuses too (a folder that appeared after the checks)."""
    target = tmp_path / "o.zarr"
    target.mkdir()
    (target / "raw.tif").write_bytes(b"precious")
    src = tmp_path / "new"
    src.mkdir()
    with pytest.raises(ValueError, match="did not write"):
        replace_folder(str(src), str(target))
    assert (target / "raw.tif").read_bytes() == b"precious" and src.is_dir()


def test_marker_is_in_the_written_metadata(tmp_path):
    for fmt, name in ((2, ".zattrs"), (3, "zarr.json")):
        w = OmeZarrWriter(tmp_path / f"v{fmt}.zarr", "YX", (8, 8), zarr_format=fmt)
        w.write((slice(None), slice(None)), np.zeros((8, 8), np.float32))
        w.finish()
        attrs = json.loads((tmp_path / f"v{fmt}.zarr" / name).read_text())
        attrs = attrs.get("attributes", attrs)
        assert attrs["napari_blindspot"]["written_by"] == "napari-blindspot"
        assert is_own_output(tmp_path / f"v{fmt}.zarr")
