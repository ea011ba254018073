"""The planner alone, in process: :func:`daemon.plan.planner.plan` over C contacts.

Each contact has 1 to 3 tagged meetings spread over the last two years (a few coming up), and
the store already holds what a running coffeechat would have made: 85% of the thank-yous and
follow-ups already due, and a catch-up or two for a third of the contacts. A few contacts are
stopped or paused. Only the call to ``plan`` is timed (inputs are built beforehand).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.events import ME, ZONE
from bench.measure import median
from daemon.core.keys import catch_up_key, draft_key
from daemon.core.model import (
    Attendee,
    Cadence,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    DraftRef,
    DraftState,
    Interview,
    Meeting,
    Person,
)
from daemon.plan.planner import plan

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
"""A fixed instant: the planner reads no clock, so neither does its benchmark."""


@dataclass(frozen=True)
class PlannerInputs:
    """Everything ``plan`` is given."""

    interviews: list[Interview]
    prefs: dict[str, ContactPrefs]
    drafts: dict[str, DraftRecord]


@dataclass(frozen=True)
class PlannerTiming:
    """The planner's time over one input, and what it returned."""

    contacts: int
    meetings: int
    records: int
    median_s: float
    runs: int
    due: int
    upcoming: int
    skipped: int


def planner_inputs(contacts: int, now: datetime = NOW, seed: int = 11) -> PlannerInputs:
    """Build the planner's input for ``contacts`` contacts (see the module's docstring)."""
    rng = random.Random(seed * 7919 + contacts)  # noqa: S311 (test data, not secrets)
    interviews: list[Interview] = []
    prefs: dict[str, ContactPrefs] = {}
    drafts: dict[str, DraftRecord] = {}
    me = Attendee(ME[1], ME[0], "accepted", is_self=True)
    for c in range(contacts):
        person = Person(f"contact{c}@org{c % 97}.example.org", f"Contact Number{c}")
        starts = sorted(now + timedelta(days=rng.uniform(-730, 20 if c % 10 == 0 else -1))
                        for _ in range(rng.randint(1, 3)))
        for m, start in enumerate(starts):
            start = start.replace(second=0, microsecond=0)
            meeting = Meeting(uid=f"m{c}-{m}@bench", title=f"Coffee chat with {person.name}",
                              start=start, end=start + timedelta(minutes=30), source="bench",
                              description="Promised: send the reading list.",
                              organizer=me, attendees=(me, Attendee(person.email, person.name,
                                                                    "accepted")))
            interviews.append(Interview(meeting, "bench", (person,),
                                        notes="Promised: send the reading list."))
            pairs: tuple[tuple[DraftKind, timedelta], ...] = (
                ("thank_you", timedelta(hours=1)), ("follow_up", timedelta(days=30)))
            for kind, after in pairs:
                if meeting.end + after < now and rng.random() < 0.85:
                    key = draft_key(kind, meeting.uid, person.email)
                    drafts[key] = record(key, kind, person.email, meeting.uid,
                                         meeting.end + after)
        if c % 3 == 0:
            for n in range(1, rng.randint(1, 2) + 1):
                key = catch_up_key(person.email, n)
                made = now - timedelta(days=rng.uniform(5, 300))
                drafts[key] = record(key, "catch_up", person.email, None, made)
        if c % 50 == 1:
            prefs[person.email] = ContactPrefs(person.email, "stopped")
        elif c % 50 == 2:
            prefs[person.email] = ContactPrefs(person.email, "paused",
                                               now + timedelta(days=10))
    return PlannerInputs(interviews, prefs, drafts)


def record(key: str, kind: DraftKind, contact: str, meeting_uid: str | None,
           made: datetime, observed: DraftState = "untouched") -> DraftRecord:
    """The record of a draft coffeechat made at ``made``, last seen ``observed``."""
    return DraftRecord(key=key, kind=kind, contact=contact,
                       account="bench", meeting_uid=meeting_uid, state="created", due=made,
                       reason="made earlier", created_at=made, ref=DraftRef(f"d-{key}"),
                       observed=observed, observed_at=made)


def time_planner(contacts: int, runs: int) -> PlannerTiming:
    """Time ``plan`` over ``contacts`` contacts ``runs`` times (after one warm-up call);
    returns the median."""
    return time_plan(planner_inputs(contacts), contacts, runs)


def time_plan(inputs: PlannerInputs, contacts: int, runs: int) -> PlannerTiming:
    """Time ``plan`` over ``inputs`` (of ``contacts`` contacts) ``runs`` times, after one
    warm-up call; returns the median."""
    cadence = Cadence()
    result = plan(inputs.interviews, inputs.prefs, inputs.drafts, NOW, cadence, ZONE)
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        result = plan(inputs.interviews, inputs.prefs, inputs.drafts, NOW, cadence, ZONE)
        times.append(time.perf_counter() - start)
    return PlannerTiming(contacts, len(inputs.interviews), len(inputs.drafts), median(times),
                         runs, len(result.due), len(result.upcoming), len(result.skipped))
