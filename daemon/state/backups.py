"""Backups of the last good state: ``state.json.bak.1`` (newest) to ``.bak.3``, rotated daily.

A writer that opens a state file which reads back whole (every record decodes) keeps a copy of
it, at most once a day, so that a file damaged later (by a disk error, or by hand) can be
restored. A state that does not read is never rotated in, so the backups are never all copies
of the damage. Backups are whole copies, written atomically and privately.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from daemon.core.fileio import write_atomically
from daemon.state.roster import ledger_path

KEEP = 3
EVERY_SECONDS = 24 * 3600

Damage = Callable[[Path], "str | None"]
"""Says why a state file does not read back whole, or ``None`` when it does (see
:func:`daemon.state.schema.damage`)."""


def backup_path(state: Path, n: int) -> Path:
    """The ``n``-th newest backup of ``state`` (from 1)."""
    return state.with_name(f"{state.name}.bak.{n}")


def existing(state: Path) -> list[Path]:
    """The backups of ``state`` that exist, newest first."""
    return [p for p in (backup_path(state, n) for n in range(1, KEEP + 1)) if p.exists()]


def due(state: Path, now: float | None = None) -> bool:
    """Whether a backup should be kept now: there is none, or the newest is a day old."""
    moment = time.time() if now is None else now
    try:
        return moment - backup_path(state, 1).stat().st_mtime >= EVERY_SECONDS
    except FileNotFoundError:
        return True


def rotate(state: Path, good: bytes, now: float | None = None) -> bool:
    """Keep ``good`` (the content of ``state``, which the caller found to read back whole) as
    the newest backup unless the newest is less than a day old; returns whether a backup was
    written. Raises ``OSError``."""
    if not due(state, now):
        return False
    for n in range(KEEP - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(backup_path(state, n), backup_path(state, n + 1))
    write_atomically(backup_path(state, 1), good)
    return True


def made(path: Path) -> str:
    """When the backup ``path`` was kept, as the user reads it."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")


def how_to_restore(state: Path, damage: Damage) -> str:
    """Sentences telling the user how to bring back the newest backup that reads back whole
    (``damage`` of it is ``None``), naming the ones that do not, or saying that none can."""
    found = existing(state)
    afresh = ("move the file away only if you accept that drafts you already sent or deleted "
              "may be written again (those still in Drafts are found by their key, if the "
              f"ledger {ledger_path(state).name} is kept).")
    if not found:
        return f"There is no backup yet; {afresh}"
    problems = {p: damage(p) for p in found}
    good = [p for p in found if problems[p] is None]
    bad = [p.name for p in found if problems[p] is not None]
    if not good:
        return f"None of its backups ({', '.join(bad)}) reads back either; {afresh}"
    newest, older = good[0], good[1:]
    others = (f" Older copies that read back: {', '.join(p.name for p in older)}."
              if older else "")
    unusable = (f" Do not restore {', '.join(bad)}: {'it does' if len(bad) == 1 else 'they do'}"
                " not read back." if bad else "")
    return (f"The last good state was kept on {made(newest)}: restore it with "
            f"`cp {newest} {state}`. Drafts made since then are found again in Drafts by "
            f"their key, not duplicated.{others}{unusable}")
