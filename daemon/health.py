"""The service's health: when each account last synced, how it went, and when the next
cycle is due.

Kept in a small file beside the state file (``state.json.health``), rewritten after each cycle,
so that ``status`` can show it and an idle cycle writes nothing to the state file itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.fileio import write_atomically

if TYPE_CHECKING:  # a type only: the cycle and its connectors take half a second to import
    from daemon.cycle import CycleReport


@dataclass(frozen=True)
class AccountHealth:
    """The last cycle's result for one account."""

    name: str
    at: datetime
    ok: bool
    message: str
    drafted: int
    needs_auth: bool = False


@dataclass(frozen=True)
class Health:
    """What the last cycles recorded."""

    accounts: list[AccountHealth] = field(default_factory=list)
    next_cycle: datetime | None = None
    """When the running service plans its next cycle (``None`` after ``run --once``)."""


def health_path(state_path: Path) -> Path:
    """Where the health file of ``state_path`` lives."""
    return state_path.with_name(state_path.name + ".health")


def save(state_path: Path, report: CycleReport, next_cycle: datetime | None = None) -> None:
    """Record ``report``'s per-account results (accounts it did not try keep their last
    record). Raises ``OSError`` if the file cannot be written (the caller logs it: health is
    informative, never a reason to stop)."""
    accounts = {a.name: a for a in load(state_path).accounts}
    for outcome in report.accounts:
        accounts[outcome.name] = AccountHealth(
            name=outcome.name, at=report.started, ok=outcome.ok and not outcome.problems,
            message=outcome.message or "; ".join(outcome.problems),
            drafted=len(outcome.drafted), needs_auth=outcome.needs_auth)
    payload = {
        "next_cycle": None if next_cycle is None else next_cycle.isoformat(),
        "accounts": {name: {"at": h.at.isoformat(), "ok": h.ok, "message": h.message,
                            "drafted": h.drafted, "needs_auth": h.needs_auth}
                     for name, h in sorted(accounts.items())},
    }
    write_atomically(health_path(state_path), json.dumps(payload, indent=1).encode("utf-8"))


def load(state_path: Path) -> Health:
    """The recorded health; empty if none was recorded or it is unreadable (the next cycle
    rewrites it)."""
    try:
        raw: dict[str, Any] = json.loads(health_path(state_path).read_text("utf-8"))
        nxt = raw.get("next_cycle")
        return Health(
            accounts=[AccountHealth(name=name, at=datetime.fromisoformat(v["at"]),
                                    ok=bool(v["ok"]), message=str(v["message"]),
                                    drafted=int(v["drafted"]),
                                    needs_auth=bool(v.get("needs_auth", False)))
                      for name, v in raw["accounts"].items()],
            next_cycle=None if nxt is None else datetime.fromisoformat(nxt))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Health()
