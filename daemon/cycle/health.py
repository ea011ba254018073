"""The service's health: when each account last synced, how it went, when the next cycle is
due, the last cycle that failed as a whole, and a clock found behind the cycles already run.

Kept in a small file beside the state file (``state.json.health``), rewritten after each cycle,
so that ``status`` can show it and an idle cycle writes nothing to the state file itself. A
failing cycle records itself here when it can; when even that cannot be written (a full disk),
:meth:`Health.overdue` still tells from the planned next cycle that cycles stopped succeeding.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.core.fileio import write_atomically

if TYPE_CHECKING:  # a type only: the cycle and its connectors take half a second to import
    from daemon.cycle.run import CycleReport


@dataclass(frozen=True)
class AccountHealth:
    """The last cycle's result for one account."""

    name: str
    at: datetime
    ok: bool
    message: str
    drafted: int
    needs_auth: bool = False


OVERDUE_AFTER = timedelta(minutes=15)
"""A planned cycle not recorded this long after it was due is reported as overdue."""
CLOCK_TOLERANCE = timedelta(minutes=5)
"""A clock this far behind the latest cycle already run is reported (less is ordinary
adjustment)."""


@dataclass(frozen=True)
class CycleFailure:
    """A cycle that failed as a whole (the state could not be read or written)."""

    at: datetime
    message: str


@dataclass(frozen=True)
class ClockBehind:
    """A cycle started at ``at`` by the clock, before ``latest``, a cycle already run."""

    at: datetime
    latest: datetime


@dataclass(frozen=True)
class Health:
    """What the last cycles recorded."""

    accounts: list[AccountHealth] = field(default_factory=list)
    next_cycle: datetime | None = None
    """When the running service plans its next cycle (``None`` after ``run --once``)."""
    failure: CycleFailure | None = None
    """The last cycle, when it failed as a whole; ``None`` once a cycle went through."""
    latest_cycle: datetime | None = None
    """The latest start of any cycle recorded, by the clock of its time."""
    clock_behind: ClockBehind | None = None
    """Set by the last cycle when the clock was behind :attr:`latest_cycle`."""

    def overdue(self, now: datetime) -> bool:
        """Whether the planned next cycle is long past without a cycle recorded since."""
        return self.next_cycle is not None and now > self.next_cycle + OVERDUE_AFTER

    def behind(self, now: datetime) -> datetime | None:
        """The latest cycle already run, when ``now`` is too far before it."""
        if self.latest_cycle is not None and now < self.latest_cycle - CLOCK_TOLERANCE:
            return self.latest_cycle
        return None


def health_path(state_path: Path) -> Path:
    """Where the health file of ``state_path`` lives."""
    return state_path.with_name(state_path.name + ".health")


def save(state_path: Path, report: CycleReport, next_cycle: datetime | None = None) -> None:
    """Record ``report``'s per-account results (accounts it did not try keep their last
    record), clearing a recorded failure, and whether its clock was behind the latest cycle.
    Raises ``OSError`` if the file cannot be written (the caller logs it: health is
    informative, never a reason to stop)."""
    before = load(state_path)
    accounts = {a.name: a for a in before.accounts}
    for outcome in report.accounts:
        accounts[outcome.name] = AccountHealth(
            name=outcome.name, at=report.started, ok=outcome.ok and not outcome.problems,
            message=outcome.message or "; ".join(outcome.problems),
            drafted=len(outcome.drafted), needs_auth=outcome.needs_auth)
    latest = before.behind(report.started)
    _write(state_path, Health(
        accounts=list(accounts.values()), next_cycle=next_cycle, failure=None,
        latest_cycle=max(report.started, before.latest_cycle or report.started),
        clock_behind=None if latest is None else ClockBehind(report.started, latest)))


def save_failure(state_path: Path, at: datetime, message: str) -> None:
    """Record that the cycle started ``at`` failed as a whole, with ``message``; the accounts'
    last records are kept. On a full disk the file is overwritten in place (its blocks are
    already there), so ``status`` can still say so. Raises ``OSError`` like :func:`save`."""
    health = replace(load(state_path), failure=CycleFailure(at, message[:500]))
    try:
        _write(state_path, health)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        with health_path(state_path).open("r+b") as handle:
            handle.write(_payload(health))
            handle.truncate()


def _write(state_path: Path, health: Health) -> None:
    write_atomically(health_path(state_path), _payload(health))


def _payload(health: Health) -> bytes:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    payload = {
        "next_cycle": iso(health.next_cycle),
        "accounts": {h.name: {"at": h.at.isoformat(), "ok": h.ok, "message": h.message,
                              "drafted": h.drafted, "needs_auth": h.needs_auth}
                     for h in sorted(health.accounts, key=lambda h: h.name)},
        "failure": None if health.failure is None else {
            "at": health.failure.at.isoformat(), "message": health.failure.message},
        "latest_cycle": iso(health.latest_cycle),
        "clock_behind": None if health.clock_behind is None else {
            "at": health.clock_behind.at.isoformat(),
            "latest": health.clock_behind.latest.isoformat()},
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def load(state_path: Path) -> Health:
    """The recorded health; empty if none was recorded or it is unreadable (the next cycle
    rewrites it)."""
    try:
        raw: dict[str, Any] = json.loads(health_path(state_path).read_text("utf-8"))
        nxt, latest = raw.get("next_cycle"), raw.get("latest_cycle")
        failure, behind = raw.get("failure"), raw.get("clock_behind")
        return Health(
            accounts=[AccountHealth(name=name, at=datetime.fromisoformat(v["at"]),
                                    ok=bool(v["ok"]), message=str(v["message"]),
                                    drafted=int(v["drafted"]),
                                    needs_auth=bool(v.get("needs_auth", False)))
                      for name, v in raw["accounts"].items()],
            next_cycle=None if nxt is None else datetime.fromisoformat(nxt),
            failure=None if failure is None else CycleFailure(
                datetime.fromisoformat(failure["at"]), str(failure["message"])),
            latest_cycle=datetime.fromisoformat(latest) if latest is not None else max(
                (datetime.fromisoformat(v["at"]) for v in raw["accounts"].values()),
                default=None),
            clock_behind=None if behind is None else ClockBehind(
                datetime.fromisoformat(behind["at"]), datetime.fromisoformat(behind["latest"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Health()
