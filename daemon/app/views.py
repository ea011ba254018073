"""What ``status``, ``plan`` and ``contacts`` show: plain data (for ``--json``) and text."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from daemon.core.facts import CANCELLED, NormalMeeting
from daemon.core.model import (
    ContactPrefs,
    DraftRecord,
    DraftSpec,
    Plan,
    SettledPerson,
    SettledSummary,
    Skip,
)
from daemon.core.skipped import MAX_SOURCES, Skipped
from daemon.core.wording import table_time
from daemon.cycle.health import Health

SHOWN_SKIPS = 15
"""How many skipped drafts ``status`` lists before pointing to ``plan``."""
SHOWN_NOTES = 30
"""How many lines of what the calendars could not give ``status`` lists before pointing to
``status --json``."""
SHOWN_DRAFTS = 15
"""How many drafts made (and taken over) ``status`` lists, the latest first, before pointing
to ``status --json``."""


def when(value: datetime | None, tz: ZoneInfo) -> str:
    """A short local time for tables, e.g. ``Tue 24 Nov 2026 09:30``."""
    return "-" if value is None else table_time(value, tz)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, or ``None``."""
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class ContactRow:
    """One contact as ``contacts`` and ``status`` show it."""

    email: str
    name: str
    status: str
    meetings: int
    last_met: datetime | None
    next_draft: DraftSpec | None
    why: str = ""
    """Why coffeechat paused the contact itself (no answer to catch-ups), if it did."""


def contact_rows(meetings: Iterable[NormalMeeting], prefs: dict[str, ContactPrefs],
                 current: Plan, now: datetime,
                 settled: Mapping[str, SettledPerson] | None = None) -> list[ContactRow]:
    """Every contact seen in a tagged meeting, with the user's choice and the next draft;
    ``settled`` counts the meetings that left the state (see :meth:`Store.settled_people`)."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for m in meetings:
        for person in (*m.contacts, *m.declined):
            names.setdefault(person.email, person.name)
            counts[person.email] = counts.get(person.email, 0) + 1
        if m.end <= now and m.invalid_reason != CANCELLED:  # held
            for person in m.contacts:
                if person.email not in last or m.end > last[person.email]:
                    last[person.email] = m.end
    for email, away in (settled or {}).items():
        names.setdefault(email, away.name)
        counts[email] = counts.get(email, 0) + away.meetings
        if away.last_met is not None and (email not in last or away.last_met > last[email]):
            last[email] = away.last_met
    upcoming: dict[str, DraftSpec] = {}
    for spec in sorted((*current.due, *current.upcoming), key=lambda s: s.due):
        upcoming.setdefault(spec.contact.email, spec)
    rows = []
    for email in sorted(names):
        pref = prefs.get(email)
        status = pref.status if pref else "active"
        if pref and pref.status == "paused" and pref.paused_until is not None:
            status = "active" if pref.paused_until <= now else "paused"
        rows.append(ContactRow(email=email, name=names[email], status=status,
                               meetings=counts[email], last_met=last.get(email),
                               next_draft=upcoming.get(email),
                               why=pref.reason if pref and status == "paused" else ""))
    return rows


def spec_json(spec: DraftSpec) -> dict[str, Any]:
    """A planned draft as JSON."""
    return {"key": spec.key, "kind": spec.kind, "recipient": spec.contact.email,
            "name": spec.contact.name, "account": spec.account, "due": iso(spec.due),
            "reason": spec.reason}


def skip_json(skip: Skip) -> dict[str, Any]:
    """A skipped draft as JSON."""
    return {"key": skip.key, "kind": skip.kind, "recipient": skip.contact,
            "meeting": skip.meeting_uid, "reason": skip.reason}


def record_json(record: DraftRecord) -> dict[str, Any]:
    """A draft record as JSON."""
    return {"key": record.key, "kind": record.kind, "recipient": record.contact,
            "account": record.account, "state": record.state, "due": iso(record.due),
            "draft_id": None if record.ref is None else record.ref.id,
            "observed": record.observed, "observed_at": iso(record.observed_at),
            "created": iso(record.created_at), "reason": record.reason,
            "flag": record.flag or None}


def plan_json(current: Plan) -> dict[str, Any]:
    """Everything ``plan --json`` prints."""
    return {"due": [spec_json(s) for s in current.due],
            "upcoming": [spec_json(s) for s in current.upcoming],
            "skipped": [skip_json(s) for s in current.skipped],
            "later": [{"contact": email, "meetings": n} for email, n in current.later]}


def no_contact(current: Plan) -> list[Skip]:
    """Tagged meetings the planner could not find a contact for."""
    return [s for s in current.skipped if s.kind is None]


def _not_read_json(not_read: Mapping[str, Skipped]) -> list[dict[str, Any]]:
    """What each account's calendar could not give, as JSON: by account, each source with its
    notes, and whether more sources were left out."""
    return [{"account": name, "more": found.more,
             "sources": [{"source": s.source, "notes": list(s.notes)}
                         for s in found.by_source()]}
            for name, found in sorted(not_read.items())]


def _not_read_lines(not_read: Mapping[str, Skipped]) -> list[str]:
    """The same for people: one line per note, ``account  source: note``, at most
    :data:`SHOWN_NOTES` of them."""
    out: list[str] = []
    for name, found in sorted(not_read.items()):
        for source in found.by_source():
            out.extend(f"  {name}  {source.source}: {note}" for note in source.notes)
        if found.more:
            out.append(f"  {name}  more than {MAX_SOURCES} files or events have notes; only "
                       "these are kept, the log names every one")
    if len(out) > SHOWN_NOTES:
        hidden = len(out) - SHOWN_NOTES
        out = [*out[:SHOWN_NOTES], f"  ... and {hidden} more: `coffeechat status --json` "
                                   "lists them all"]
    return out


def status_json(health: Health, rows: list[ContactRow],
                records: dict[str, DraftRecord], current: Plan,
                not_read: Mapping[str, Skipped] | None = None, *,
                now: datetime) -> dict[str, Any]:
    """Everything ``status --json`` prints at ``now``; ``not_read`` is :meth:`Store.skipped`.
    An account's ``ok`` is its last sync's; ``last_cycle_failed`` and ``overdue`` say whether
    cycles have stopped going through since."""
    failure, behind = health.failure, health.clock_behind
    return {
        "next_cycle": iso(health.next_cycle),
        "last_cycle_failed": None if failure is None else {"at": iso(failure.at),
                                                           "message": failure.message},
        "overdue": health.overdue(now),
        "clock_behind": None if behind is None else {"at": iso(behind.at),
                                                     "latest_cycle": iso(behind.latest)},
        "accounts": [{"name": h.name, "last_cycle": iso(h.at), "ok": h.ok,
                      "needs_auth": h.needs_auth, "message": h.message,
                      "drafted": h.drafted} for h in health.accounts],
        "contacts": [{"email": r.email, "name": r.name, "status": r.status,
                      "paused_because": r.why or None,
                      "meetings": r.meetings, "last_met": iso(r.last_met),
                      "next_draft": None if r.next_draft is None else spec_json(r.next_draft)}
                     for r in rows],
        "drafts": [record_json(r) for r in sorted(records.values(), key=lambda r: r.due)],
        "due_now": [spec_json(s) for s in current.due],
        "skipped": [skip_json(s) for s in current.skipped if s.kind is not None],
        "needs_attention": [skip_json(s) for s in no_contact(current)],
        "not_read": _not_read_json(not_read or {}),
    }


def status_text(health: Health, rows: list[ContactRow],
                records: dict[str, DraftRecord], current: Plan, tz: ZoneInfo,
                not_read: Mapping[str, Skipped] | None = None,
                settled: SettledSummary | None = None, *, now: datetime) -> str:
    """Everything ``status`` prints at ``now``, for people; ``not_read`` is
    :meth:`Store.skipped`, and ``settled`` counts the drafts of settled history, which
    ``records`` leaves out. While cycles fail as a whole (or stopped going through), no
    account is shown as ok: only when it last synced."""
    not_read = not_read or {}
    settled = settled or SettledSummary({}, 0, 0)
    out = ["Accounts:"]
    overdue = health.overdue(now)
    if health.failure is not None:
        out.append(f"  last cycle {when(health.failure.at, tz)} FAILED: "
                   f"{health.failure.message}")
    elif overdue:
        out.append(f"  no cycle has gone through since the one planned for "
                   f"{when(health.next_cycle, tz)}: the service is stopped or its cycles fail "
                   "(journalctl --user -u coffeechat says why)")
    if not health.accounts:
        out.append("  no cycle has run yet (coffeechat run --once)")
    for h in health.accounts:
        if health.failure is not None or overdue:
            out.append(f"  {h.name:<12} last synced {when(h.at, tz)}  ({h.drafted} drafted)")
            continue
        result = "ok" if h.ok else f"FAILED: {h.message}"
        if h.ok and h.name in not_read:
            result += ", but not all of its calendar was read (below)"
        out.append(f"  {h.name:<12} last cycle {when(h.at, tz)}  {result}  "
                   f"({h.drafted} drafted)")
    if health.next_cycle is not None and not overdue:
        out.append(f"  next cycle around {when(health.next_cycle, tz)} (coffeechat run)")
    if health.clock_behind is not None:
        out.append(f"  the clock is behind: the last cycle started at "
                   f"{when(health.clock_behind.at, tz)} by it, after a cycle at "
                   f"{when(health.clock_behind.latest, tz)}; no draft earlier in a meeting's "
                   "life than one already written is made, but set the clock right "
                   "(timedatectl)")
    needing = [h.name for h in health.accounts if h.needs_auth]
    if needing:
        out.append(f"  needs you to sign in again: {', '.join(needing)} "
                   "(coffeechat auth KIND --account NAME; a caldav account: fix its "
                   "username or the password its password_command prints)")
    out.append(f"\nContacts: {len(rows)}")
    for r in rows:
        nxt = ("nothing planned" if r.next_draft is None else
               f"next: {r.next_draft.kind} {when(r.next_draft.due, tz)}")
        out.append(f"  {r.name or r.email:<24} {r.status:<8} {nxt}")
        if r.why:
            out.append(f"      paused by coffeechat: {r.why} (coffeechat contact resume "
                       f"{r.email})")
    out.append(f"\nDrafts made: {len(records) + settled.drafts}")
    for rec in _latest(records.values()):
        state = "" if rec.state == "created" else f" [{rec.state}]"
        out.append(f"  {when(rec.created_at, tz)}  {rec.kind:<12} {rec.contact}{state}")
    out.extend(_more(len(records) + settled.drafts))
    touched = [r for r in records.values() if r.observed != "untouched"]
    if touched or settled.taken_over:
        out.append(f"\nDrafts you took over: {len(touched) + settled.taken_over}")
        for rec in _latest(touched):
            what = ("you edited it; coffeechat leaves it alone" if rec.observed == "edited"
                    else "sent or deleted")
            out.append(f"  {rec.kind:<12} {rec.contact}: {what}")
        out.extend(_more(len(touched) + settled.taken_over))
    flagged = [r for r in records.values() if r.flag]
    if flagged:
        out.append(f"\nCheck these drafts: {len(flagged)}")
        out.extend(f"  {rec.kind:<12} {rec.contact}: {rec.flag}"
                   for rec in sorted(flagged, key=lambda r: r.created_at or r.due))
    skipped = [s for s in current.skipped if s.kind is not None]
    if skipped:
        out.append(f"\nNot drafted: {len(skipped)}")
        out.extend(f"  {s.kind:<12} {s.contact}: {s.reason}" for s in skipped[:SHOWN_SKIPS])
        if len(skipped) > SHOWN_SKIPS:
            out.append(f"  ... and {len(skipped) - SHOWN_SKIPS} more: `coffeechat plan` lists "
                       "them all")
    attention = no_contact(current)
    if attention:
        out.append("\nNeeds your attention:")
        out.extend(f"  {s.meeting_uid}: {s.reason}" for s in attention)
    if not_read:
        out.append("\nNot read in full (fix or remove these; the next cycle reads them "
                   "again):")
        out.extend(_not_read_lines(not_read))
    return "\n".join(out)


def _latest(records: Iterable[DraftRecord]) -> list[DraftRecord]:
    """The :data:`SHOWN_DRAFTS` latest of ``records``, oldest first."""
    return heapq.nlargest(SHOWN_DRAFTS, records, key=_made)[::-1]


def _made(record: DraftRecord) -> tuple[datetime, str]:
    return record.created_at or record.due, record.key


def _more(count: int) -> list[str]:
    """The line that says how many drafts :func:`_latest` left out, if any."""
    if count <= SHOWN_DRAFTS:
        return []
    return [f"  ... and {count - SHOWN_DRAFTS} earlier: `coffeechat status --json` lists them all"]


def plan_text(current: Plan, tz: ZoneInfo) -> str:
    """What ``plan`` prints: due now, upcoming, and skipped with reasons."""
    out = []
    sections: list[tuple[str, tuple[DraftSpec, ...]]] = [
        ("Due now (written at the next cycle)", current.due),
        ("Upcoming", current.upcoming)]
    for title, specs in sections:
        out.append(f"{title}: {len(specs)}")
        for s in specs:
            out.append(f"  {when(s.due, tz)}  {s.kind:<12} {_who(s)}")
            out.append(f"      {s.reason}")
    out.append(f"Skipped: {len(current.skipped)}")
    for skip in current.skipped:
        label = skip.kind or "meeting"
        out.append(f"  {label:<12} {skip.contact or skip.meeting_uid}: {skip.reason}")
    if current.later:
        out.append(f"Later: {sum(n for _, n in current.later)} meetings, one at a time "
                   "(planned once the one two before each has started)")
        out.extend(f"  {email}: {n} more after the next two" for email, n in current.later)
    return "\n".join(out)


def contacts_text(rows: list[ContactRow], tz: ZoneInfo) -> str:
    """What ``contacts`` prints."""
    if not rows:
        return "No contacts yet: tag a meeting (see the README) and run a cycle."
    out = [f"{'contact':<40} {'status':<8} {'met':>3}  {'last met':<21} next draft"]
    for r in rows:
        who = f"{r.name} <{r.email}>" if r.name else r.email
        nxt = "-" if r.next_draft is None else (
            f"{r.next_draft.kind} {when(r.next_draft.due, tz)}")
        out.append(f"{who:<40} {r.status:<8} {r.meetings:>3}  {when(r.last_met, tz):<21} {nxt}")
    return "\n".join(out)


def _who(spec: DraftSpec) -> str:
    c = spec.contact
    return f"{c.name} <{c.email}>" if c.name else c.email
