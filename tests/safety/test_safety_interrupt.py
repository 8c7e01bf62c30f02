"""Safety suite, interrupted and failed writes: Ctrl-C, SIGTERM, a full disk or an I/O error
while a result or a model is written leave the previous file whole and no debris.

Most cases make the writer fail part-way (it has written a truncated file when the error
comes, as a real full disk does); :func:`test_real_full_and_read_only_disks` repeats the
essentials on real tmpfs mounts (in a user namespace, where the machine allows one).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import tifffile

from helpers_engine import untrained_model
from helpers_safety import TINY, cli, fingerprint, one_line_error

from napari_blindspot.cli import progress as cli_module
from napari_blindspot.engine import BlindspotError
from napari_blindspot.engine import model_file
from napari_blindspot.engine.atomic import atomic_path, staged
from napari_blindspot.engine.errors import OutputError
from napari_blindspot.io.tiff import write_tiff

REPO = Path(__file__).resolve().parents[2]


def failing_tiff_writer(exc: BaseException, on_call: int = 1):
    """A tifffile.imwrite that writes a truncated file on call ``on_call``, then raises."""
    real = tifffile.imwrite
    calls = {"n": 0}

    def fake(path, data, **kwargs):
        calls["n"] += 1
        real(path, data, **kwargs)
        if calls["n"] == on_call:
            with open(path, "r+b") as f:
                f.truncate(8)  # what Ctrl-C left before: an 8-byte "TIFF"
            if exc == "SIGTERM":
                os.kill(os.getpid(), signal.SIGTERM)
            raise exc

    return fake


def _disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("exc, code, words", [
    (KeyboardInterrupt(), 130, ("interrupted",)),
    ("SIGTERM", 130, ("interrupted",)),
    (_disk_full(), 1, ("disk is full", "previous earlier.tif is unchanged")),
    (OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)), 1, ("quota",)),
    (OSError(errno.EIO, os.strerror(errno.EIO)), 1, ("input/output error",)),
    (OSError(errno.EFBIG, os.strerror(errno.EFBIG)), 1, ("too large",)),
], ids=["ctrl-c", "sigterm", "disk-full", "quota", "io-error", "file-too-big"])
def test_failed_result_write_keeps_the_previous_file(ws, capsys, monkeypatch, exc, code, words):
    monkeypatch.setattr(tifffile, "imwrite", failing_tiff_writer(exc))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.earlier, "--overwrite")
    assert rc == code, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    ws.assert_unchanged(before)


def test_disk_full_on_a_new_output_leaves_nothing(ws, capsys, monkeypatch):
    monkeypatch.setattr(tifffile, "imwrite", failing_tiff_writer(_disk_full()))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("new.tif"))
    assert rc == 1 and "nothing was written" in one_line_error(err)
    ws.assert_unchanged(before)  # no new.tif, no .new.tif.*.partial


def test_uncertainty_write_failing_keeps_both_earlier_files(ws, capsys, monkeypatch):
    hq = ws.root / "hq.safetensors"
    untrained_model("hqssl", mean=250.0, std=60.0).save(str(hq))
    earlier_unc = ws.root / "earlier_unc.tif"
    write_tiff(earlier_unc, np.ones((2, 64, 64), np.float32), "TYX")
    monkeypatch.setattr(tifffile, "imwrite", failing_tiff_writer(_disk_full(), on_call=2))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", hq, "-o", ws.earlier, "--uncertainty",
                  earlier_unc, "--overwrite")
    assert rc == 1 and "disk is full" in one_line_error(err)
    ws.assert_unchanged(before)  # the denoised file was not replaced alone either


def test_ctrl_c_during_training_writes_nothing(ws, capsys, monkeypatch):
    def interrupt(self, ev):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module.ProgressBar, "training", interrupt)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--method", "n2v2", *TINY, "-o", ws.earlier, "--overwrite",
                  "--save-model", ws.model)
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    ws.assert_unchanged(before)


@pytest.mark.parametrize("exc, code", [(KeyboardInterrupt(), 130), (_disk_full(), 1)],
                         ids=["ctrl-c", "disk-full"])
def test_failed_model_save_keeps_the_previous_model(ws, capsys, monkeypatch, exc, code):
    real = safetensors.torch.save_file

    def fake(tensors, path, metadata=None):
        real(tensors, path, metadata=metadata)
        with open(path, "r+b") as f:
            f.truncate(100)
        raise exc

    monkeypatch.setattr(model_file, "save_file", fake)
    before = ws.snapshot()
    rc, err = cli(capsys, "train", ws.raw, "--method", "n2v2", *TINY, "-o", ws.model, "--overwrite")
    assert rc == code, err
    assert "Traceback" not in err
    ws.assert_unchanged(before)


def test_safetensors_errors_become_clear_messages(tmp_path, monkeypatch):
    def fake(tensors, path, metadata=None):
        Path(path).write_bytes(b"partial")
        raise safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: "
                                          "StorageFull, message: \"No space left on device\" })")

    monkeypatch.setattr(model_file, "save_file", fake)
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"previous model")
    with pytest.raises(OutputError, match="disk is full.*unchanged"):
        untrained_model("n2v2").save(str(path))
    assert path.read_bytes() == b"previous model" and os.listdir(tmp_path) == ["m.safetensors"]


def test_napari_writer_is_atomic(tmp_path, monkeypatch):
    from napari_blindspot.io.writer import write_image_tiff

    target = tmp_path / "layer.tif"
    write_tiff(target, np.ones((16, 16), np.float32), "YX")
    before = fingerprint(tmp_path)
    monkeypatch.setattr(tifffile, "imwrite", failing_tiff_writer(_disk_full()))
    with pytest.raises(OutputError, match="disk is full"):
        write_image_tiff(str(target), np.zeros((16, 16), np.float32), {"scale": [1.0, 1.0]})
    assert fingerprint(tmp_path) == before


# ------------------------------------------------------------------ the helper itself
def test_staged_files_are_replaced_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old a")
    with pytest.raises(RuntimeError):
        with staged() as stage:
            Path(stage.path(a)).write_text("new a")
            Path(stage.path(b)).write_text("new b")
            raise RuntimeError("the second writer failed")
    assert a.read_text() == "old a" and not b.exists() and os.listdir(tmp_path) == ["a"]
    with staged() as stage:
        Path(stage.path(a)).write_text("new a")
        Path(stage.path(b)).write_text("new b")
    assert a.read_text() == "new a" and b.read_text() == "new b"
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_missing_folder_is_a_clear_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist .*nothing was written"):
        with atomic_path(tmp_path / "gone" / "x.tif"):
            pass
    assert isinstance(OutputError("x"), BlindspotError)


# ------------------------------------------------------------------ real file systems
_SCRIPT = textwrap.dedent("""
    import json, os, shutil, sys
    import numpy as np
    from helpers_engine import untrained_model
    from napari_blindspot.cli import main
    from napari_blindspot.io.tiff import write_tiff
    from napari_blindspot.engine.errors import OutputError
    full, ro, home = sys.argv[1:4]
    out = {}
    raw = os.path.join(home, "raw.tif")
    write_tiff(raw, np.random.default_rng(0).normal(100, 10, (2, 64, 64)), "TYX", dtype=np.uint16)
    model = os.path.join(home, "m.safetensors")
    untrained_model("n2v2").save(model)
    earlier = os.path.join(full, "earlier.tif")
    write_tiff(earlier, np.ones((2, 64, 64), np.float32), "TYX")
    # the disk fills up while the result is written (another program wrote meanwhile):
    # the free-space check before the work passed
    usage = shutil.disk_usage
    shutil.disk_usage = lambda p: usage(p)._replace(free=1 << 40)
    before = open(earlier, "rb").read()
    out["tiff_rc"] = main(["denoise", raw, "--model", model, "-o", earlier, "--overwrite"])
    out["tiff_kept"] = open(earlier, "rb").read() == before
    out["tiff_listing"] = sorted(os.listdir(full))
    # a model saved onto the full disk (safetensors' own error type)
    saved = os.path.join(full, "earlier.safetensors")
    try:
        untrained_model("n2v2").save(saved)
        out["model_error"] = None
    except OutputError as exc:
        out["model_error"] = str(exc)
    out["model_listing"] = sorted(os.listdir(full))
    shutil.disk_usage = usage
    # the free-space check itself, on the real full disk
    out["space_rc"] = main(["denoise", raw, "--model", model, "-o", os.path.join(full, "o2.tif")])
    # a read-only mount (also for root)
    out["ro_rc"] = main(["denoise", raw, "--model", model, "-o", os.path.join(ro, "o.tif")])
    print("RESULT " + json.dumps(out))
""")


def test_real_full_and_read_only_disks(tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("no unshare: cannot mount a small tmpfs here")
    full, ro, home = tmp_path / "full", tmp_path / "ro", tmp_path / "home"
    for d in (full, ro, home):
        d.mkdir()
    script = tmp_path / "script.py"
    script.write_text(_SCRIPT)
    # 44 kB: room for the earlier 33 kB result, not for a second copy of it beside it
    shell = (f"mount -t tmpfs -o size=44k tmpfs {full} && mount -t tmpfs -o ro,size=64k tmpfs {ro} "
             f"&& exec {sys.executable} {script} {full} {ro} {home}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "tests" / "engine")]))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True,
                          env=env, timeout=240)
    if "RESULT" not in proc.stdout and ("mount" in proc.stderr or "unshare" in proc.stderr):
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:200]}")
    assert "RESULT" in proc.stdout, proc.stderr
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["tiff_rc"] == 1 and out["tiff_kept"] and out["tiff_listing"] == ["earlier.tif"]
    assert "Could not write" in proc.stderr and "disk is full" in proc.stderr
    assert out["model_error"] and "disk is full" in out["model_error"]
    assert out["model_listing"] == ["earlier.tif"]
    assert out["space_rc"] == 1 and "free some space" in proc.stderr
    assert out["ro_rc"] == 2 and "cannot write into the folder" in proc.stderr
    assert "Traceback" not in proc.stderr
