"""Which stored meetings are settled history: the planner can never need them again, so the
store may keep them (with their draft records) out of the state it reads on every cycle.

Pure, like the planner: :func:`settleable` is a function of its arguments. Its promise, which
``tests/test_settle.py`` checks on random states: for any ``now`` at most
:data:`CLOCK_SLACK` before the ``now`` it was called with, and any
``follow_up_days_after`` up to the one it was called with, the planner gives exactly the same
plan without the settleable meetings and their records as with them.

A meeting is *old* when it (every stored copy of its uid) ended more than
``follow_up_days_after`` + the planner's settled margin + :data:`CLOCK_SLACK` ago, so that no
draft of its own can ever be due, and no account has it pending reconciliation. A draft record
of an old meeting may go unless it is a catch-up (catch-ups count per contact), is still being
made or withdrawn, or is a thank-you or follow-up not seen gone from Drafts (the next of its
kind to that contact waits for it). An old meeting may go when, for each of its contacts, it
lies in the run of their oldest meetings (by
start) that ends before the meeting a catch-up would count from (their latest meeting that
ended :data:`CLOCK_SLACK` ago), and, if the first meeting kept could still be planned, starts
more than 62 days (the largest ``confirmation_days_before``, plus 2) before it. The planner
looks at a meeting's neighbours only to hold a confirmation or prep note for the previous
meeting, or to let a later meeting take a thank-you or follow-up: neither can involve such a
run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from daemon.core.facts import NormalMeeting
from daemon.core.kinds import ONE_PENDING
from daemon.core.model import Cadence, DraftRecord, Interview
from daemon.core.timing import require_aware
from daemon.plan.context import SETTLED_MARGIN_DAYS
from daemon.plan.meetings import normalise, valid_meetings_by_contact

CLOCK_SLACK = timedelta(days=30)
"""How far the clock may later be set back (or a meeting's follow-up be pushed by no more
than the same) before a settled meeting could matter to the planner again."""
_GAP = timedelta(days=60 + 2)
"""The largest ``confirmation_days_before`` the config allows, plus two days."""


def cutoff(now: datetime, cadence: Cadence) -> datetime:
    """Meetings that ended before this instant may be settled at ``now``."""
    require_aware(now, "now")
    return now.astimezone(UTC) - timedelta(
        days=cadence.follow_up_days_after + SETTLED_MARGIN_DAYS) - CLOCK_SLACK


def still_planned_for(latest_end: datetime | None, now: datetime, cadence: Cadence) -> bool:
    """Whether a settled meeting, the latest of which ended at ``latest_end`` (``None``: there
    are none), could be live for the planner at ``now``: the clock was set back, or
    ``follow_up_days_after`` raised, since it settled. The planner must then be given the
    settled meetings too."""
    if latest_end is None:
        return False
    planner_settled = now.astimezone(UTC) - timedelta(
        days=cadence.follow_up_days_after + SETTLED_MARGIN_DAYS)
    return latest_end >= planner_settled


class Settleable(NamedTuple):
    """What may leave the state (see the module's docstring)."""

    meetings: set[str]
    """The uids of the meetings that may go."""
    records: set[str]
    """The keys of the draft records that may go (of old meetings, which may stay)."""


def settleable(interviews: Iterable[Interview], drafts: Mapping[str, DraftRecord],
               pending: Set[str], now: datetime, cadence: Cadence) -> Settleable:
    """What of ``interviews`` and their records is settled (see the module's docstring),
    given every draft record by key and the uids pending reconciliation in any account."""
    stored = list(interviews)
    before = cutoff(now, cadence)
    ended_at: dict[str, datetime] = {}
    for iv in stored:  # every copy of a uid must have ended in time
        end = max(iv.meeting.start, iv.meeting.end).astimezone(UTC)
        ended_at[iv.meeting.uid] = max(end, ended_at.get(iv.meeting.uid, end))
    candidates = {uid for uid, end in ended_at.items() if end < before} - set(pending)
    records = {key for key, r in drafts.items()
               if r.meeting_uid in candidates and r.kind != "catch_up" and r.state == "created"
               and (r.kind not in ONE_PENDING or r.observed == "gone")}
    lines = valid_meetings_by_contact(normalise(stored))
    anchored = now.astimezone(UTC) - CLOCK_SLACK
    changed = True
    while changed:  # each pass only removes candidates, so this ends
        changed = False
        for line in lines.values():
            changed = _keep_run(line, candidates, anchored, before) or changed
    return Settleable(candidates, records)


def _keep_run(line: list[NormalMeeting], candidates: set[str], anchored: datetime,
              live_from: datetime) -> bool:
    """Narrow ``candidates`` in one contact's meetings (sorted by start) to a leading run that
    stops before the catch-up anchor at ``anchored`` and, if the first meeting kept ends at or
    after ``live_from``, starts :data:`_GAP` before it; returns whether it removed any."""
    anchor = len(line)
    latest: datetime | None = None
    for i, m in enumerate(line):  # the planner's catch-up anchor: a tie goes to the later one
        if m.end <= anchored and (latest is None or m.end >= latest):
            anchor, latest = i, m.end
    run = 0
    while run < anchor and line[run].uid in candidates:
        run += 1
    while 0 < run < len(line) and line[run].end >= live_from \
            and line[run - 1].start >= line[run].start - _GAP:
        run -= 1
    removed = False
    for m in line[run:]:
        if m.uid in candidates:
            candidates.discard(m.uid)
            removed = True
    return removed
