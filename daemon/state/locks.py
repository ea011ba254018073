"""File locks: one ``run`` per state file, and one writer at a time.

Two locks with different lifetimes. The *run* lock is held by ``coffeechat run`` for as long as
it runs, so a second ``run`` on the same state exits with a clear message. The *write* lock is
held only while state is being changed (a cycle, ``contact stop``), so commands that change state
can still do so while the service is running, between its cycles.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from daemon.core.errors import StateError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def run_lock(state_path: Path) -> Iterator[None]:
    """Hold the run lock of ``state_path``; raises ``StateError`` at once if another process
    holds it, naming that process, or if the lock file cannot be made."""
    path = state_path.with_name(state_path.name + ".run.lock")
    fd = _open(path, state_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise StateError(
                f"another coffeechat run (pid {holder}) is already using {state_path}. Stop it "
                "first (for the service: systemctl --user stop coffeechat), or point this one "
                "at another state file.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_lock(state_path: Path, timeout: float | None = 60.0) -> Iterator[None]:
    """Hold the write lock of ``state_path``, waiting up to ``timeout`` seconds for it (with
    ``None``, as long as the cycle holding it takes, saying so in the log once).

    Raises ``StateError`` when it cannot be had in time, or the lock file cannot be made.
    """
    path = state_path.with_name(state_path.name + ".lock")
    fd = _open(path, state_path)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is None:
                    log.warning("%s is busy: a cycle is running; waiting for it to finish",
                                state_path)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"{state_path} stayed busy for {timeout:.0f} s (a cycle is running); "
                        "try again in a moment") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)

def _open(path: Path, state_path: Path) -> int:
    """Open (making it, and its folder, if need be) the lock file ``path``.

    Raises ``StateError`` saying what to do when the state folder cannot be written (a
    read-only file system, no permission, a full disk).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(unwritable(state_path, exc)) from None


def unwritable(state_path: Path, exc: OSError) -> str:
    """What to tell the user when the folder of ``state_path`` cannot be written."""
    why = {errno.EROFS: "it is on a read-only file system",
           errno.EACCES: "you have no permission to write there",
           errno.EPERM: "you have no permission to write there",
           errno.ENOSPC: "the disk is full"}.get(exc.errno or 0, exc.strerror or str(exc))
    return (f"coffeechat cannot write in {state_path.parent} ({why}), where it keeps its "
            f"state {state_path.name} and its locks. Make that folder writable (remount it "
            "read-write, or fix its owner or permissions), or set [state] path in the config to "
            "a writable place; nothing was changed.")
