"""Backups of the last good state: ``state.json.bak.1`` (newest) to ``.bak.3``, rotated daily.

A writer that opens a state file which parses keeps a copy of it, at most once a day, so that
a file damaged later (by a disk error, or by hand) can be restored. Backups are whole copies,
written atomically and privately.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from daemon.fileio import write_atomically

KEEP = 3
EVERY_SECONDS = 24 * 3600


def backup_path(state: Path, n: int) -> Path:
    """The ``n``-th newest backup of ``state`` (from 1)."""
    return state.with_name(f"{state.name}.bak.{n}")


def rotate(state: Path, good: bytes, now: float | None = None) -> bool:
    """Keep ``good`` (the parsed content of ``state``) as the newest backup unless the newest
    is less than a day old; returns whether a backup was written. Raises ``OSError``."""
    moment = time.time() if now is None else now
    newest = backup_path(state, 1)
    with contextlib.suppress(FileNotFoundError):
        if moment - newest.stat().st_mtime < EVERY_SECONDS:
            return False
    for n in range(KEEP - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(backup_path(state, n), backup_path(state, n + 1))
    write_atomically(newest, good)
    return True


def how_to_restore(state: Path) -> str:
    """A sentence telling the user how to bring back the newest backup, or that none exists."""
    found = [p for p in (backup_path(state, n) for n in range(1, KEEP + 1)) if p.exists()]
    if not found:
        return ("There is no backup yet; move the file away only if you accept that every "
                "draft may be written again.")
    newest = found[0]
    made = datetime.fromtimestamp(newest.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"The last good state was kept on {made}: restore it with "
            f"`cp {newest} {state}` (older copies: {', '.join(p.name for p in found[1:]) or 'none'}"
            "). Drafts made since then are found again by their key, not duplicated.")
