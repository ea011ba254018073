"""Writing private files so that a crash leaves the old or the new content, whole, and
writing a file's bytes to disk before going on.

Part of the core's ground floor (with ``model``, ``errors`` and ``text``): connectors may use it
for their token files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".coffeechat-tmp-"
"""Temporary files start with this; a writer killed mid-write may leave one behind."""


def write_atomically(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves the old or the new content whole.
    A symbolic link stays one: its target is replaced (the temporary file is made in the
    target's folder), as the link's owner (a dotfiles manager, say) expects.

    Raises ``OSError``; on failure the temporary file is removed and ``path`` is untouched.
    """
    path = Path(os.path.realpath(path))
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_synced(path: Path, payload: bytes, flags: int, mode: int = 0o600) -> None:
    """Open ``path`` with ``os.O_WRONLY | flags`` (made with ``mode`` where ``flags`` has
    ``os.O_CREAT``), write the whole of ``payload``, and fsync it before closing it. Not atomic:
    a crash may leave part of ``payload`` written; with ``os.O_APPEND`` it goes at the end.

    Raises ``OSError``.
    """
    fd = os.open(path, os.O_WRONLY | flags, mode)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temporaries(folder: Path) -> int:
    """Remove temporary files a killed writer left in ``folder``; returns how many."""
    removed = 0
    for leftover in folder.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed
