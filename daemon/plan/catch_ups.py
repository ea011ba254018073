"""Catch-ups: each contact's next one, counted from the follow-up, the last catch-up or the
last email, paused for want of an answer, and spread under the daily limit on catch-ups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from daemon.core.facts import NormalMeeting
from daemon.core.keys import catch_up_key
from daemon.core.model import (
    DraftRecord,
    DraftSpec,
    Person,
    Skip,
)
from daemon.core.timing import (
    wall_shift,
)
from daemon.core.wording import at_time, on_day, plural
from daemon.plan.context import (
    BY_DUE,
    ONE_DAY,
    UNANSWERED_LIMIT,
    Context,
    Due,
    Outcome,
    Upcoming,
    at_work,
    created,
    hold_for_work,
    who,
)
from daemon.plan.prefs import apply_pause, held_by_prefs, paused_until


class _CatchUp(NamedTuple):
    """A catch-up whose time has come, before the daily spread decides whether it is written
    now or waits (its reason is only worded then)."""

    key: str
    contact: Person
    meeting: NormalMeeting
    due: datetime
    basis: tuple[str, datetime]
    """What the catch-up counts from (see :func:`_basis`) and when that was."""

    def spec(self, reason: str, due: datetime | None = None) -> DraftSpec:
        """The draft to plan, due at ``due`` (by default its own time)."""
        return DraftSpec(self.key, "catch_up", self.contact, self.meeting.account,
                         self.meeting.uid, self.due if due is None else due, reason)



@dataclass(frozen=True)
class _Unanswered:
    skip: Skip
    reason: str



def catch_up_outcomes(
    by_contact: Mapping[str, list[NormalMeeting]], ctx: Context, limit_frees: list[datetime]
) -> tuple[list[Outcome], list[tuple[str, str]]]:
    """Each contact's next catch-up, and the contacts to pause for want of an answer. When the
    daily spread holds catch-ups back, ``limit_frees`` gains the time it next makes room."""
    records = _catch_up_records(ctx.drafts)
    out: list[Outcome] = []
    pauses: list[tuple[str, str]] = []
    ready: list[_CatchUp] = []
    for email in sorted(by_contact):
        outcome = _catch_up(email, by_contact[email], records.get(email, []), ctx)
        if isinstance(outcome, _CatchUp):
            ready.append(outcome)
        elif isinstance(outcome, _Unanswered):
            out.append(outcome.skip)
            pauses.append((email, outcome.reason))
        elif outcome is not None:
            out.append(outcome)
    out.extend(_spread(ready, records, ctx, limit_frees))
    return out, pauses



def _catch_up_records(drafts: Mapping[str, DraftRecord]) -> dict[str, list[DraftRecord]]:
    by_contact: dict[str, list[DraftRecord]] = {}
    for record in drafts.values():
        if record.kind == "catch_up":
            by_contact.setdefault(record.contact.strip().lower(), []).append(record)
    return by_contact



def _catch_up(
    email: str, meetings: Sequence[NormalMeeting], records: Sequence[DraftRecord], ctx: Context
) -> _CatchUp | _Unanswered | Outcome | None:
    now = ctx.now
    last: NormalMeeting | None = None
    coming: NormalMeeting | None = None
    for m in meetings:  # sorted by start
        if m.end > now:
            if coming is None:
                coming = m
        elif last is None or m.end >= last.end:  # a tie goes to the later start (then uid)
            last = m
    if last is None:
        return None
    p = last.contacts[0]
    if p.email != email:
        p = next(c for c in last.contacts if c.email == email)
    n = len(records) + 1
    key = catch_up_key(email, n)
    while key in ctx.drafts:
        n += 1
        key = catch_up_key(email, n)
    has_prefs = email in ctx.prefs
    stop = held_by_prefs(p, ctx) if has_prefs else None
    if stop is not None:
        return Skip(key, "catch_up", email, last.uid, f"no catch-up with {who(p)}: {stop}")
    if coming is not None:
        return Skip(key, "catch_up", email, last.uid,
                    f"no catch-up with {who(p)} for now: a meeting is coming up "
                    f"({at_time(coming.start, ctx.tz)})")
    unanswered = _unanswered(email, records, ctx) if email in ctx.mail else 0
    if unanswered >= UNANSWERED_LIMIT:
        why = f"no answer to your last {unanswered} catch-ups"
        return _Unanswered(Skip(key, "catch_up", email, last.uid,
                                f"no catch-up with {who(p)}: {why}, so coffeechat paused this "
                                f"contact (to start again: coffeechat contact resume {email})"),
                           why)
    cadence = ctx.cadence
    anchor = wall_shift(last.end, ctx.follow_up_shift, ctx.tz)
    basis = ("follow_up", last.start)
    if records:
        latest = max(created(r, ctx) for r in records)
        if latest >= anchor:
            anchor = latest
            basis = ("note", latest)
    mail = ctx.mail.get(email) if ctx.mail else None
    exchanged = None if mail is None else mail.latest
    if exchanged is not None and exchanged.at >= anchor:
        anchor = exchanged.at.astimezone(UTC)
        basis = ("email", anchor)
    due = at_work("catch_up", wall_shift(anchor, ctx.catch_up_shift, ctx.tz), ctx)
    if now < due:
        every = plural(cadence.catch_up_every_days, "day")
        spec = DraftSpec(key, "catch_up", p, last.account, last.uid, due,
                         f"catch-up with {who(p)}: {every} after {_basis(basis, ctx.tz)}")
        return apply_pause(Upcoming(spec), p, ctx) if has_prefs else Upcoming(spec)
    ready = _CatchUp(key, p, last, due, basis)
    if ctx.work_resumes is None and (not has_prefs or paused_until(p, ctx) is None):
        return ready  # the common case, worded only if the daily spread lets it through
    waiting = apply_pause(hold_for_work(Due(_ready_spec(ready, ctx)), ctx), p, ctx)
    return waiting if isinstance(waiting, Upcoming) else ready



def _basis(basis: tuple[str, datetime], tz: ZoneInfo) -> str:
    """Words for what a catch-up counts from."""
    what, moment = basis
    if what == "follow_up":
        return f"the follow-up to your meeting on {on_day(moment, tz)}"
    if what == "note":
        return f"your last catch-up note ({on_day(moment, tz)})"
    return f"your last email with them ({on_day(moment, tz)})"



def _ready_spec(ready: _CatchUp, ctx: Context) -> DraftSpec:
    every = plural(ctx.cadence.catch_up_every_days, "day")
    return ready.spec(f"catch-up: time to check in with {who(ready.contact)}, {every} after "
                      f"{_basis(ready.basis, ctx.tz)}")



def _unanswered(email: str, records: Sequence[DraftRecord], ctx: Context) -> int:
    """How many of the contact's catch-ups went out unanswered: each left Drafts, the user
    wrote to the contact after it was made, and nothing came back since (nor since the user
    last resumed the contact). Without mail for the contact, 0."""
    mail = ctx.mail.get(email)
    if mail is None or mail.last_to_contact is None:
        return 0
    floors = [mail.last_from_contact.at] if mail.last_from_contact is not None else []
    pref = ctx.prefs.get(email)
    if pref is not None and pref.since is not None:
        floors.append(pref.since)
    floor = max(floors, default=None)
    sent_at = mail.last_to_contact.at
    return sum(1 for r in records
               if r.observed == "gone" and created(r, ctx) <= sent_at
               and (floor is None or created(r, ctx) > floor))



def _spread(
    ready: list[_CatchUp], records: Mapping[str, list[DraftRecord]], ctx: Context,
    limit_frees: list[datetime]
) -> list[Outcome]:
    """Let at most ``max_new_catch_ups_per_day`` catch-ups be due per rolling 24 hours, oldest
    first; the others wait, each with the day its turn is expected. When some wait,
    ``limit_frees`` gains the time the oldest catch-up of the last 24 hours leaves the window
    (a day from now when there is none)."""
    limit = ctx.cadence.max_new_catch_ups_per_day
    ready = sorted(ready, key=BY_DUE)
    if limit <= 0:
        return [Skip(c.key, "catch_up", c.contact.email, c.meeting.uid,
                     f"no catch-up with {who(c.contact)}: catch-ups are turned off "
                     f"(max_new_catch_ups_per_day is {limit})") for c in ready]
    since = ctx.now - timedelta(hours=24)
    recent = [made for rs in records.values() for r in rs
              if since < (made := created(r, ctx)) <= ctx.now]
    budget = max(0, limit - len(recent))
    out: list[Outcome] = [Due(_ready_spec(c, ctx)) for c in ready[:budget]]
    if len(ready) > budget:
        limit_frees.append(min(recent, default=ctx.now) + timedelta(hours=24))
    turn, days_ahead, why = ctx.now, ctx.now, ""
    for i, waiting in enumerate(ready[budget:]):
        if i % limit == 0:  # the next day's share: one turn (and its wording) for all of it
            days_ahead += ONE_DAY
            turn = at_work("catch_up", days_ahead, ctx)
            why = (f", waiting: at most {limit} new catch-ups a day (its turn comes about "
                   f"{on_day(turn, ctx.tz)})")
        out.append(Upcoming(waiting.spec(f"catch-up with {who(waiting.contact)}{why}",
                                          due=turn)))
    return out
