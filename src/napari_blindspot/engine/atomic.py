"""Atomic file writes: every file goes to a temporary file beside its target, then is renamed.

    with atomic_path("out.tif") as tmp:
        tifffile.imwrite(tmp, data)          # any writer that takes a path

The temporary file is ``.<name>.<host>-<pid>-<random>.partial`` in the target's folder (the
same file system, so the rename is atomic); ``<host>`` (a short hash of the machine's name)
and ``<pid>`` name the process writing it.  A run killed outright (SIGKILL, a power cut)
cannot remove it: the next write of the same target does (:func:`clean_debris`), when the
writer was on this machine and is gone; any other leftover is only reported.

Only when the writer returns is the temporary file flushed to disk and renamed over the
target: a write that fails, runs out of disk space or is interrupted
(Ctrl-C, SIGTERM turned into an exception) leaves the previous file untouched and removes
the temporary one.  New files get the usual permissions (``0o666`` less the umask), as
``open()`` would give them.

A target that is a symbolic link is replaced where the link points, so the link is kept.
:func:`staged` stages several files and renames them only when all are written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterator

from .errors import OutputError

PARTIAL_SUFFIX = ".partial"
#: This machine, in temporary names (a run on another machine sharing the folder is not ours).
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_OURS = re.compile(r"^(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}\.partial(?P<suffix>\.[A-Za-z0-9]+)?$")
#: The temporary names of earlier versions (no writer recorded: reported, never removed).
_EARLIER = re.compile(r"^[0-9a-f]{8}\.(partial(\.[A-Za-z0-9]+)?|old)$")

log = logging.getLogger(__name__)
#: A write that fails with less free space than this on its disk failed for want of space.
FULL_DISK_BYTES = 1 << 20

#: What to tell the user for the usual reasons a write fails.
_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or write to another disk",
    errno.EFBIG: "the file is too large for this file system: write to another disk",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "permission denied: choose a folder you can write to",
    errno.ENOENT: "the folder does not exist (any more): choose an existing folder",
    errno.EIO: "the disk reported an input/output error: check it, or write to another disk",
}


def resolve_target(path: str | os.PathLike) -> str:
    """The file a write to ``path`` replaces: ``path`` itself, or where its symlink points."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether paths ``a`` and ``b`` name one file (also through symbolic and hard links)."""
    a, b = os.fspath(a), os.fspath(b)
    with contextlib.suppress(OSError):
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def temporary_name(target: str, suffix: str = "") -> str:
    """A fresh temporary file name beside ``target`` (see the module docstring), ending in
    ``suffix`` for writers that insist on an extension (e.g. ``".zip"``)."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{HOST}-{os.getpid()}-{secrets.token_hex(4)}"
                                f"{PARTIAL_SUFFIX}{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def clean_debris(target: str | os.PathLike) -> list[str]:
    """Remove the temporary files that killed runs left beside ``target`` (ours only: named
    for ``target``, written on this machine by a process that is gone); returns the names of
    the leftovers it kept (a live writer's, another machine's, an earlier version's), which
    it reports with a warning.  An aside copy of a replaced folder (``.partial.old``) is
    removed only when the target is in place."""
    resolved = resolve_target(target)
    folder, name = os.path.split(resolved)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    prefix = f".{name}."
    kept = []
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        rest = entry[len(prefix):]
        ours = _OURS.match(rest)
        if ours is None:
            if _EARLIER.match(rest):
                kept.append(entry)
            continue
        gone = ours["host"] == HOST and not _alive(int(ours["pid"]))
        if gone and ours["suffix"] == ".old" and not os.path.exists(resolved):
            gone = False  # the previous result, moved aside when the run was killed: keep it
        if not gone:
            kept.append(entry)
            continue
        path = os.path.join(folder, entry)
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            log.info("Removed %s, left by a run that was killed.", path)
    if kept:
        log.warning("%s: %d temporary file(s) of another or an earlier run lie beside it (%s); "
                    "delete them once no run is writing %s.", resolved, len(kept),
                    ", ".join(sorted(kept)[:3]), name)
    return kept


def _create(tmp: str) -> int:
    """Create ``tmp``; returns its permission bits (``0o666`` less the umask)."""
    # O_EXCL: never reuse a file; mode 0o666 lets the umask decide, as for open(..., "w")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        return stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def _flush(tmp: str) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: str) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system syncs folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _disk_nearly_full(folder: str) -> bool:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False
    return st.f_bavail * st.f_frsize < FULL_DISK_BYTES


def write_failed(target: str, exc: OSError, existed: bool) -> OutputError:
    """The :class:`OutputError` for ``exc`` raised while writing ``target``."""
    code = exc.errno
    if code is None and _disk_nearly_full(os.path.dirname(target)):
        code = errno.ENOSPC  # a short write ("8192 requested and 1952 written") on a full disk
    hint = _HINTS.get(code or 0, exc.strerror or str(exc))
    kept = (f"the previous {os.path.basename(target)} is unchanged" if existed
            else "nothing was written")
    err = OutputError(f"Could not write {target}: {hint} ({kept}).")
    err.errno = code  # type: ignore[attr-defined]
    return err


class Staging:
    """Temporary files for a set of targets, renamed into place together by :func:`staged`."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.temps: list[str] = []
        self.existed: list[bool] = []
        self.modes: list[int] = []
        self.current: str | None = None

    def path(self, target: str | os.PathLike, suffix: str = "") -> str:
        """A fresh temporary path to write ``target``'s content to (ending in ``suffix``)."""
        resolved = resolve_target(target)
        if resolved in self.targets:
            raise ValueError(f"{resolved} is staged twice")
        clean_debris(resolved)
        self.current = resolved
        self.existed.append(os.path.exists(resolved))
        self.targets.append(resolved)
        tmp = temporary_name(resolved, suffix)
        self.modes.append(_create(tmp))
        self.temps.append(tmp)
        return tmp

    def _commit(self) -> None:
        for tmp, target, mode in zip(self.temps, self.targets, self.modes):
            self.current = target
            if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
                os.chmod(tmp, mode)  # some writers (safetensors) make a file of their own, 0600
            _flush(tmp)
        for tmp, target in zip(self.temps, self.targets):
            self.current = target
            os.replace(tmp, target)
        for folder in {os.path.dirname(t) for t in self.targets}:
            _sync_folder(folder)

    def _discard(self) -> None:
        for tmp in self.temps:
            _remove(tmp)


@contextlib.contextmanager
def staged() -> Iterator[Staging]:
    """A :class:`Staging`: ``stage.path(target)`` gives a temporary path per target; every
    target is replaced only when the block succeeds.

    Raises :class:`~.errors.OutputError` (naming the target and the fix) when a temporary
    file cannot be created, written or renamed; any exception, including
    ``KeyboardInterrupt``, removes every temporary file and changes no target.
    """
    stage = Staging()
    try:
        yield stage
        stage._commit()
    except OSError as exc:
        stage._discard()
        target = stage.current or "the output"
        existed = stage.existed[stage.targets.index(target)] if target in stage.targets else False
        raise write_failed(target, exc, existed) from exc
    except BaseException:
        stage._discard()
        raise


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """One temporary path for ``target``, renamed into place when the block succeeds."""
    with staged() as stage:
        yield stage.path(target, suffix)


__all__ = ["Staging", "atomic_path", "clean_debris", "staged", "resolve_target", "same_file",
           "temporary_name", "PARTIAL_SUFFIX"]
