"""Safety suite, files: every destructive or impossible file request is refused before any
work, with one line naming the problem, and no file the user had is changed.

Each case runs the real command line in a workspace of user files (an image, an earlier
result, a model, a config) fingerprinted before and after; see helpers_safety.py.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable

import numpy as np
import pytest
import tifffile

from helpers_safety import TINY, Workspace, cli, noisy_stack, one_line_error, tiff_bytes

from napari_blindspot.io.tiff import read_tiff, write_tiff


def _folder(ws: Workspace) -> str:
    (ws.root / "folder").mkdir()
    return ws.path("folder")


def _empty(ws: Workspace) -> str:
    (ws.root / "empty.tif").write_bytes(b"")
    return ws.path("empty.tif")


def _text(ws: Workspace) -> str:
    (ws.root / "notes.tif").write_text("these are my notes, not an image\n" * 20)
    return ws.path("notes.tif")


def _truncated(ws: Workspace) -> str:
    data = ws.raw.read_bytes()
    (ws.root / "cut.tif").write_bytes(data[: len(data) * 2 // 3])
    return ws.path("cut.tif")


def _truncated_compressed(ws: Workspace) -> str:
    data = tiff_bytes(noisy_stack(), compression="zlib")
    (ws.root / "cutz.tif").write_bytes(data[: len(data) // 2])
    return ws.path("cutz.tif")


def _huge_shape(ws: Workspace) -> str:
    """A small TIFF whose header says it is 60000 x 60000 pixels (a hostile file)."""
    data = bytearray(tiff_bytes(np.zeros((8, 8), np.uint16)))
    tif = tifffile.TiffFile(__import__("io").BytesIO(bytes(data)))
    tags = tif.pages[0].tags
    for name in ("ImageWidth", "ImageLength"):
        tag = tags[name]
        fmt = "<H" if tag.dtype == 3 else "<I"
        data[tag.valueoffset:tag.valueoffset + (2 if fmt == "<H" else 4)] = __import__("struct").pack(fmt, 60000)
    (ws.root / "huge.tif").write_bytes(bytes(data))
    return ws.path("huge.tif")


def _symlink_to_raw(ws: Workspace) -> str:
    os.symlink(ws.raw, ws.root / "link.tif")
    return ws.path("link.tif")


def _hardlink_to_raw(ws: Workspace) -> str:
    os.link(ws.raw, ws.root / "hard.tif")
    return ws.path("hard.tif")


def _out_folder(ws: Workspace) -> str:
    return _folder(ws)


ONE_SHOT = ["--method", "n2v2", *TINY]

#: (case id, argv builder, words the error must contain, exit code)
REFUSED: list[tuple[str, Callable[[Workspace], list[str]], tuple[str, ...], int]] = [
    ("input-missing", lambda w: ["denoise", w.path("nope.tif"), "-o", w.path("o.tif"), *ONE_SHOT],
     ("nope.tif", "does not exist"), 2),
    ("input-is-folder", lambda w: ["denoise", _folder(w), "-o", w.path("o.tif"), *ONE_SHOT],
     ("is a folder", "TIFF file inside"), 2),
    ("input-empty-file", lambda w: ["denoise", _empty(w), "-o", w.path("o.tif"), *ONE_SHOT],
     ("empty", "0 bytes"), 2),
    ("input-not-a-tiff", lambda w: ["denoise", _text(w), "-o", w.path("o.tif"), *ONE_SHOT],
     ("notes.tif", "as a TIFF file"), 2),
    ("input-truncated", lambda w: ["denoise", _truncated(w), "-o", w.path("o.tif"), *ONE_SHOT],
     ("cut.tif", "damaged or incomplete"), 2),
    ("input-truncated-compressed", lambda w: ["denoise", _truncated_compressed(w), "-o", w.path("o.tif"),
                                              *ONE_SHOT], ("cutz.tif", "damaged or incomplete"), 2),
    ("input-declares-huge-shape", lambda w: ["denoise", _huge_shape(w), "-o", w.path("o.tif"), *ONE_SHOT],
     ("huge.tif", "damaged or incomplete"), 2),
    ("output-is-input", lambda w: ["denoise", w.raw, "-o", w.raw, *ONE_SHOT],
     ("is the input image", "destroy"), 2),
    ("output-is-input-even-with-overwrite", lambda w: ["denoise", w.raw, "-o", w.raw, "--overwrite",
                                                       *ONE_SHOT], ("is the input image",), 2),
    ("output-symlink-to-input", lambda w: ["denoise", w.raw, "-o", _symlink_to_raw(w), *ONE_SHOT],
     ("link.tif", "is the input image"), 2),
    ("output-hardlink-to-input", lambda w: ["denoise", w.raw, "-o", _hardlink_to_raw(w), "--overwrite",
                                            *ONE_SHOT], ("hard.tif", "is the input image"), 2),
    ("output-input-other-spelling", lambda w: ["denoise", w.raw, "-o",
                                               os.path.join(w.path("."), "sub", "..", "raw.tif"),
                                               *ONE_SHOT], ("is the input image",), 2),
    ("output-is-model", lambda w: ["denoise", w.raw, "--model", w.model, "-o", w.model, "--overwrite"],
     ("is the --model file",), 2),
    ("output-is-config", lambda w: ["denoise", w.raw, "--config", w.config, "-o", w.config,
                                    "--overwrite", *ONE_SHOT], ("is the --config file",), 2),
    ("save-model-is-input", lambda w: ["denoise", w.raw, "-o", w.path("o.tif"), "--save-model", w.raw,
                                       "--overwrite", *ONE_SHOT], ("--save-model", "is the input image"), 2),
    ("train-output-is-input", lambda w: ["train", w.raw, "-o", w.raw, "--overwrite", *ONE_SHOT],
     ("-o", "is the input image"), 2),
    ("output-equals-uncertainty", lambda w: ["denoise", w.raw, "-o", w.path("x.tif"), "--uncertainty",
                                             w.path("x.tif"), *ONE_SHOT], ("--uncertainty and -o", "same file"), 2),
    ("output-equals-save-model", lambda w: ["denoise", w.raw, "-o", w.path("x.tif"), "--save-model",
                                            w.path("x.tif"), *ONE_SHOT], ("same file",), 2),
    ("uncertainty-equals-save-model", lambda w: ["denoise", w.raw, "-o", w.path("x.tif"), "--uncertainty",
                                                 w.path("u.tif"), "--save-model", w.path("u.tif"),
                                                 *ONE_SHOT], ("--save-model and --uncertainty", "same file"), 2),
    ("target-is-input", lambda w: ["denoise", w.raw, "--target", w.raw, "-o", w.path("o.tif"), *TINY],
     ("--target", "input image itself"), 2),
    ("target-symlink-to-input", lambda w: ["train", w.raw, "--target", _symlink_to_raw(w), "-o",
                                           w.path("m.safetensors"), *TINY], ("input image itself",), 2),
    ("target-missing", lambda w: ["denoise", w.raw, "--target", w.path("b.tif"), "-o", w.path("o.tif"),
                                  *TINY], ("--target file", "does not exist"), 2),
    ("model-missing", lambda w: ["denoise", w.raw, "--model", w.path("m2.safetensors"), "-o",
                                 w.path("o.tif")], ("--model file", "does not exist"), 2),
    ("model-is-folder", lambda w: ["denoise", w.raw, "--model", _folder(w), "-o", w.path("o.tif")],
     ("--model file", "is a folder"), 2),
    ("config-missing", lambda w: ["denoise", w.raw, "--config", w.path("c2.json"), "-o", w.path("o.tif")],
     ("--config file", "does not exist"), 2),
    ("output-folder-missing", lambda w: ["denoise", w.raw, "-o", w.path("typo/o.tif"), *ONE_SHOT],
     ("typo", "does not exist", "create it first"), 2),
    ("uncertainty-folder-missing", lambda w: ["denoise", w.raw, "-o", w.path("o.tif"), "--uncertainty",
                                              w.path("typo/u.tif"), *ONE_SHOT], ("--uncertainty", "does not exist"), 2),
    ("save-model-folder-missing", lambda w: ["denoise", w.raw, "-o", w.path("o.tif"), "--save-model",
                                             w.path("typo/m.safetensors"), *ONE_SHOT],
     ("--save-model", "does not exist"), 2),
    ("train-output-folder-missing", lambda w: ["train", w.raw, "-o", w.path("typo/m.safetensors"),
                                               *ONE_SHOT], ("typo", "does not exist"), 2),
    ("output-is-a-folder", lambda w: ["denoise", w.raw, "-o", _out_folder(w), "--overwrite", *ONE_SHOT],
     ("is a folder", "give a file name"), 2),
    ("output-exists", lambda w: ["denoise", w.raw, "-o", w.earlier, *ONE_SHOT],
     ("earlier.tif", "already exists", "--overwrite"), 2),
    ("uncertainty-exists", lambda w: ["denoise", w.raw, "-o", w.path("o.tif"), "--uncertainty", w.earlier,
                                      *ONE_SHOT], ("--uncertainty", "already exists"), 2),
    ("save-model-exists", lambda w: ["denoise", w.raw, "-o", w.path("o.tif"), "--save-model", w.model,
                                     *ONE_SHOT], ("--save-model", "already exists"), 2),
    ("train-output-exists", lambda w: ["train", w.raw, "-o", w.model, *ONE_SHOT],
     ("model.safetensors", "already exists", "--overwrite"), 2),
    ("info-model-missing", lambda w: ["info", w.path("none.safetensors")], ("does not exist",), 2),
    ("demo-out-is-a-file", lambda w: ["demo", "--out", w.raw, *TINY], ("--out", "is a file"), 2),
]


@pytest.mark.parametrize("case, argv, words, code", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_before_any_work(ws, capsys, case, argv, words, code):
    args = argv(ws)  # may add links or folders to the workspace: part of "what the user had"
    before = ws.snapshot()
    rc, err = cli(capsys, *args)
    line = one_line_error(err)
    assert rc == code, err
    for word in words:
        assert word in line, (word, line)
    assert "Training" not in err  # refused before any work
    ws.assert_unchanged(before)


def test_unreadable_input(ws, capsys, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(ws.raw)
                        and mode & os.R_OK else real_access(p, mode, **kw))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "-o", ws.path("o.tif"), *ONE_SHOT)
    assert rc == 2 and "cannot be read (permission denied)" in one_line_error(err)
    ws.assert_unchanged(before)


def test_read_only_output_folder(ws, capsys, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(ws.root)
                        and mode & os.W_OK else real_access(p, mode, **kw))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "-o", ws.path("o.tif"), *ONE_SHOT)
    line = one_line_error(err)
    assert rc == 2 and "cannot write into the folder" in line and "Training" not in err
    ws.assert_unchanged(before)


def test_disk_too_small_for_the_results(ws, capsys, monkeypatch):
    usage = shutil.disk_usage(ws.root)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "-o", ws.path("o.tif"), *ONE_SHOT)
    line = one_line_error(err)
    assert rc == 1 and "free" in line and "1000 B" in line and "Training" not in err
    ws.assert_unchanged(before)


def test_target_of_another_shape(ws, capsys):
    write_tiff(ws.root / "b.tif", noisy_stack(frames=3), "TYX", dtype=np.uint16)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--target", ws.path("b.tif"), "-o", ws.path("o.tif"), *TINY)
    assert rc == 2 and "same shape" in one_line_error(err)
    ws.assert_unchanged(before)


# ------------------------------------------------------------------ what is allowed
def test_overwrite_replaces_only_the_output(ws, capsys):
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.earlier, "--overwrite")
    assert rc == 0, err
    after = ws.snapshot()
    assert after["earlier.tif"] != before["earlier.tif"]
    del after["earlier.tif"], before["earlier.tif"]
    assert after == before  # the input, the model, the config: untouched; no debris
    assert read_tiff(ws.earlier).data.shape == read_tiff(ws.raw).data.shape


def test_output_through_a_symlink_replaces_the_linked_file(ws, capsys):
    (ws.root / "results").mkdir()
    real = ws.root / "results" / "den.tif"
    real.write_bytes(b"old result")
    os.symlink(real, ws.root / "den-link.tif")
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("den-link.tif"),
                  "--overwrite")
    assert rc == 0, err
    assert os.path.islink(ws.root / "den-link.tif")  # the link is kept, its file replaced
    assert read_tiff(real).data.shape == (2, 64, 64)
    assert sorted(os.listdir(ws.root / "results")) == ["den.tif"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_new_files_get_umask_permissions(ws, capsys, umask):
    old = os.umask(umask)
    try:
        rc, err = cli(capsys, "denoise", ws.raw, "--method", "n2v2", *TINY, "-o", ws.path("o.tif"),
                      "--save-model", ws.path("m.safetensors"))
    finally:
        os.umask(old)
    assert rc == 0, err
    for name in ("o.tif", "m.safetensors"):
        assert stat.S_IMODE(os.stat(ws.root / name).st_mode) == 0o666 & ~umask, name
