"""The service's health: when each account last synced and how it went.

Kept in a small file beside the state file (``state.json.health``), rewritten after each cycle,
so that ``status`` can show it and an idle cycle writes nothing to the state file itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.cycle import CycleReport
from daemon.fileio import write_atomically


@dataclass(frozen=True)
class AccountHealth:
    """The last cycle's result for one account."""

    name: str
    at: datetime
    ok: bool
    message: str
    drafted: int


def health_path(state_path: Path) -> Path:
    """Where the health file of ``state_path`` lives."""
    return state_path.with_name(state_path.name + ".health")


def save(state_path: Path, report: CycleReport) -> None:
    """Record ``report``'s per-account results. Raises ``OSError`` if the file cannot be
    written (the caller logs it: health is informative, never a reason to stop)."""
    previous = {a.name: a for a in load(state_path)}
    for outcome in report.accounts:
        previous[outcome.name] = AccountHealth(
            name=outcome.name, at=report.started, ok=outcome.ok and not outcome.problems,
            message=outcome.message or "; ".join(outcome.problems),
            drafted=len(outcome.drafted))
    payload = {name: {"at": h.at.isoformat(), "ok": h.ok, "message": h.message,
                      "drafted": h.drafted} for name, h in sorted(previous.items())}
    write_atomically(health_path(state_path), json.dumps(payload, indent=1).encode("utf-8"))


def load(state_path: Path) -> list[AccountHealth]:
    """The recorded health, account by account; empty if none was recorded or it is unreadable
    (it is rewritten by the next cycle)."""
    try:
        raw: dict[str, Any] = json.loads(health_path(state_path).read_text("utf-8"))
        return [AccountHealth(name=name, at=datetime.fromisoformat(v["at"]), ok=bool(v["ok"]),
                              message=str(v["message"]), drafted=int(v["drafted"]))
                for name, v in raw.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
