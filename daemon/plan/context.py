"""The planner's shared vocabulary: its windows and limits, the
context of one plan, the three outcomes (due, upcoming, skipped), and the timing every rule
uses (working hours). When a meeting's draft is due is the rule of its kind, in
:mod:`daemon.plan.one_meeting`.

Pure, like all of :mod:`daemon.plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from daemon.core.facts import NormalMeeting
from daemon.core.keys import draft_key
from daemon.core.kinds import (
    ONE_PENDING,
    WAITS_FOR_WORK,
)
from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    DraftSpec,
    Person,
    Skip,
)
from daemon.core.timing import (
    next_working_time,
    require_aware,
)
from daemon.core.wording import at_time

CONFIRMATION_CUTOFF = timedelta(hours=12)
"""No confirmation once the meeting is this close (or has started)."""
THANK_YOU_WINDOW = timedelta(days=7)
"""No thank-you once the meeting ended longer ago than this."""
FOLLOW_UP_WINDOW = timedelta(days=21)
"""No follow-up once its time is further in the past than this."""
SETTLED_MARGIN_DAYS = 21 + 2
"""A meeting is settled once ``follow_up_days_after`` plus the follow-up window (21 days) plus
two days of slack (for wall-clock days across DST changes) have passed since it ended."""
LATE_GRACE = timedelta(hours=1)
"""A confirmation planned later than this after its time is reported as "tagged late"."""
UNANSWERED_LIMIT = 2
"""Catch-ups without an answer after which the contact is paused (with reply detection)."""
PLAN_AHEAD = 2
"""Of a contact's meetings that have not started, how many are planned: the next, and the one
after (whose confirmation waits for the next). Those after them are counted in
:attr:`Plan.later`: nothing of theirs can be due before the last one planned starts, and the
plan made then takes the next of them in."""
ONE_DAY = timedelta(days=1)
BY_DUE = attrgetter("due", "key")
"""Sort key of planned drafts: by due time, then key."""
BY_START = attrgetter("start", "uid")
"""Sort key of a contact's meetings: by start, then uid."""


@dataclass(frozen=True)
class Context:
    now: datetime
    cadence: Cadence
    tz: ZoneInfo
    prefs: Mapping[str, ContactPrefs]
    drafts: Mapping[str, DraftRecord]
    mail: Mapping[str, ContactMail]
    in_drafts: frozenset[tuple[DraftKind, str]]
    """(kind, contact) of the thank-yous and follow-ups coffeechat made that are still in
    Drafts (see :func:`still_in_drafts`)."""
    work_resumes: datetime | None
    """With working hours, when working time next starts if ``now`` is outside it."""
    confirmation_shift: timedelta
    """Minus ``confirmation_days_before`` days, for :func:`~daemon.core.timing.wall_shift`
    (made once per plan)."""
    follow_up_shift: timedelta
    """``follow_up_days_after`` days, likewise."""
    catch_up_shift: timedelta
    """``catch_up_every_days`` days, likewise."""



def still_in_drafts(drafts: Mapping[str, DraftRecord]) -> frozenset[tuple[DraftKind, str]]:
    """(kind, contact) of every thank-you and follow-up record not seen gone from Drafts, in
    any state: while one is there, the next of its kind to that contact waits."""
    return frozenset((r.kind, r.contact.strip().lower()) for r in drafts.values()
                     if r.kind in ONE_PENDING and r.observed != "gone")



def work_resumes(now: datetime, cadence: Cadence, tz: ZoneInfo) -> datetime | None:
    if cadence.working_hours is None:
        return None
    resumes = next_working_time(now, cadence.working_hours, tz)
    return resumes if resumes > now.astimezone(UTC) else None



class Due(NamedTuple):
    spec: DraftSpec



class Upcoming(NamedTuple):
    spec: DraftSpec



Outcome = Due | Upcoming | Skip



def created(record: DraftRecord, ctx: Context) -> datetime:
    """When a record's draft was made; a record still being made (no time yet) counts as now."""
    if record.created_at is None:
        return ctx.now
    if record.created_at.tzinfo is UTC:
        return record.created_at
    require_aware(record.created_at, f"created_at of draft {record.key}")
    return record.created_at.astimezone(UTC)



def at_work(kind: DraftKind, due: datetime, ctx: Context) -> datetime:
    """``due``, or the first working moment after it for the kinds that wait for one."""
    hours = ctx.cadence.working_hours
    if hours is None or kind not in WAITS_FOR_WORK:
        return due
    return next_working_time(due, hours, ctx.tz)



def hold_for_work(outcome: Outcome, ctx: Context, latest: datetime | None = None
                   ) -> Outcome:
    """A draft of a kind that waits for working hours, due at a working time that has passed
    (held back by the daily limit, or the service was off), is not written outside working
    hours either: it waits for them to resume, unless that would be after ``latest``."""
    resumes = ctx.work_resumes
    if not isinstance(outcome, Due) or resumes is None or outcome.spec.kind not in \
            WAITS_FOR_WORK or (latest is not None and resumes > latest):
        return outcome
    spec = outcome.spec
    if at_work(spec.kind, spec.due, ctx) != spec.due:
        return outcome  # placed outside working hours on purpose (a confirmation's usual time)
    return Upcoming(spec._replace(due=resumes, reason=f"{spec.reason}; waiting for working "
                                                      f"hours ({at_time(resumes, ctx.tz)})"))



def spec_for(kind: DraftKind, m: NormalMeeting, p: Person, due: datetime, reason: str) -> DraftSpec:
    return DraftSpec(draft_key(kind, m.uid, p.email), kind, p, m.account, m.uid, due, reason)



def skip_for(kind: DraftKind, m: NormalMeeting, p: Person, reason: str) -> Skip:
    return Skip(draft_key(kind, m.uid, p.email), kind, p.email, m.uid, reason)



def who(p: Person) -> str:
    return p.name or p.email
