"""Safety suite, debris of killed runs: a run killed outright (SIGKILL) leaves its hidden
``.NAME.<host>-<pid>-<random>.partial`` beside the output; the next write of that output
removes it when its writer is gone, and only then: a live writer's files, another
machine's, an earlier version's and the user's own files are kept (and reported)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers_safety import cli

from napari_blindspot.engine.atomic import HOST, clean_debris

REPO = Path(__file__).resolve().parents[2]


def _killed_writer(target: Path, zarr: bool = False) -> list[str]:
    """Start writing ``target`` in another process and SIGKILL it; returns what it left."""
    code = textwrap.dedent(f"""
        import os, signal, time
        import numpy as np
        from napari_blindspot.io.image import open_writer
        w = open_writer({str(target)!r}, "TYX", (4, 64, 64))
        w.write((slice(0, 2), slice(None), slice(None)), np.zeros((2, 64, 64), np.float32))
        time.sleep(1.0)  # the TIFF writer's thread has the first pages on disk
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    return sorted(n for n in os.listdir(target.parent) if n.startswith(f".{target.name}."))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_run_removes_what_a_killed_run_left(ws, capsys, tmp_path):
    for name in ("o.tif", "o.ome.zarr"):
        left = _killed_writer(ws.root / name)
        assert len(left) == 1 and ".partial" in left[0] and f"{HOST}-" in left[0]
        rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path(name))
        assert rc == 0, err
        assert not [n for n in os.listdir(ws.root) if n.startswith(f".{name}.")]


def test_only_debris_of_dead_writers_on_this_machine_is_removed(tmp_path, caplog):
    target = tmp_path / "o.tif"
    dead = f".o.tif.{HOST}-{_dead_pid()}-0123abcd.partial"
    live = f".o.tif.{HOST}-{os.getpid()}-0123abcd.partial"
    other_host = f".o.tif.{'f' * 6 if HOST != 'f' * 6 else 'e' * 6}-{_dead_pid()}-0123abcd.partial"
    earlier_version = ".o.tif.0123abcd.partial"
    user_file = ".o.tif.notes"
    other_target = f".p.tif.{HOST}-{_dead_pid()}-0123abcd.partial"
    aside = f".o.tif.{HOST}-{_dead_pid()}-0123abcd.partial.old"  # the previous result, moved aside
    for name in (dead, live, other_host, earlier_version, user_file, other_target):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / aside).mkdir()
    with caplog.at_level(logging.INFO, logger="napari_blindspot"):
        kept = clean_debris(target)
    names = set(os.listdir(tmp_path))
    assert dead not in names
    assert {live, other_host, earlier_version, user_file, other_target, aside} <= names
    assert set(kept) == {live, other_host, earlier_version, aside}
    assert "temporary file(s) of another or an earlier run" in caplog.text
    target.write_bytes(b"result")  # once the target is in place, the aside copy is debris
    clean_debris(target)
    assert aside not in os.listdir(tmp_path)


def test_a_live_writer_is_reported_not_touched(ws, capsys, caplog):
    live = ws.root / f".o.tif.{HOST}-{os.getpid()}-0123abcd.partial"
    live.write_bytes(b"being written")
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"))
    assert rc == 0, err
    assert live.read_bytes() == b"being written"
    assert "temporary file(s) of another or an earlier run" in caplog.text
