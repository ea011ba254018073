"""The ledger: which drafts the newest state written knew of, kept beside the state file
(``state.json.ledger``), outside it.

A state file that is older than the Drafts folders (restored from a backup, re-linked to an
old copy, or moved away) has no record of the drafts made since it was saved; without one,
each would be written again. The ledger holds the document ids of every draft record of the
last state written (and of those still to be checked, see :class:`daemon.state.store.Store`). A
writer that opens a state missing some of them knows that those drafts may already be in
Drafts, and looks each up by its key before writing it. Nothing else reads the ledger; it
costs no provider call while the state is the newest one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path

from daemon.core.fileio import write_atomically

log = logging.getLogger(__name__)


def ledger_path(state: Path) -> Path:
    """Where the ledger of ``state`` lives."""
    return state.with_name(state.name + ".ledger")


def read(state: Path) -> frozenset[str] | None:
    """The document ids the ledger of ``state`` holds; ``None`` when there is no ledger, or
    it does not read (then logged: a state restored now could not tell what it misses)."""
    path = ledger_path(state)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("the ledger %s does not read (%s); it is written again at the next save",
                    path, exc)
        return None
    ids = raw.get("drafts") if isinstance(raw, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        log.warning("the ledger %s does not hold a list of drafts; it is written again at the "
                    "next save", path)
        return None
    return frozenset(ids)


def write(state: Path, ids: Collection[str]) -> None:
    """Replace the ledger of ``state`` with ``ids``. Raises ``OSError``."""
    payload = json.dumps({"drafts": sorted(ids)}, separators=(",", ":")).encode("ascii")
    write_atomically(ledger_path(state), payload)
