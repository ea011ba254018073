"""The planner's "one at a time per person" rule: a contact never has more than one draft of
each kind pending, however many meetings a tagged series gives them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from daemon.core.model import (
    Cadence,
    DraftKind,
    DraftRecord,
    DraftSpec,
    DraftState,
    Interview,
    Person,
    Plan,
)
from daemon.plan.planner import plan
from tests.test_planner import ANA, BER, BO, CAD, START, interview, k, run, skip_of, spec_in

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def series(count: int, every: timedelta, first: datetime = START, *, prefix: str = "s",
           minutes: int = 30, contacts: Sequence[Person] = (ANA,)) -> list[Interview]:
    """``count`` occurrences of a tagged series, ``every`` apart, ``minutes`` long."""
    return [interview(f"{prefix}{i:03d}", first + i * every, minutes, contacts)
            for i in range(count)]


def made(spec: DraftSpec, at: datetime, observed: DraftState = "untouched") -> DraftRecord:
    """The record a cycle leaves for a draft it wrote at ``at``."""
    return DraftRecord(key=spec.key, kind=spec.kind, contact=spec.contact.email,
                       account=spec.account, meeting_uid=spec.meeting_uid, state="created",
                       due=spec.due, reason=spec.reason, created_at=at, observed=observed)


@dataclass
class Simulation:
    """Hourly cycles over a calendar: each writes what is due, and the user later sends some
    drafts (then seen gone) and leaves the others in Drafts."""

    interviews: list[Interview]
    cadence: Cadence = CAD
    sent_after: Callable[[DraftSpec], timedelta | None] = lambda spec: None
    """How long after a draft is made the user sends it, or None: kept in Drafts."""
    drafts: dict[str, DraftRecord] = field(default_factory=dict)
    made_at: list[tuple[datetime, DraftSpec]] = field(default_factory=list)
    plans: int = 0

    def cycle(self, now: datetime) -> Plan:
        for at, spec in self.made_at:
            wait = self.sent_after(spec)
            if wait is not None and now >= at + wait:
                self.drafts[spec.key] = replace(self.drafts[spec.key], observed="gone")
        current = plan(self.interviews, {}, self.drafts, now, self.cadence, BER)
        self.plans += 1
        for spec in current.due:
            self.drafts[spec.key] = made(spec, now)
            self.made_at.append((now, spec))
        return current

    def run(self, start: datetime, hours: int) -> None:
        """``hours`` hourly cycles from ``start``, each checked as it comes."""
        for h in range(hours):
            now = start + h * HOUR
            current = self.cycle(now)
            check_one_at_a_time(current, self.drafts, now)
            self.check_next_change(current, now)

    def check_next_change(self, current: Plan, now: datetime) -> None:
        """Nothing new falls due before the plan's ``next_change`` (drafts just written
        recorded, nobody touching Drafts meanwhile), and something changes at it: the first
        upcoming draft, or sooner, a meeting not yet planned is taken in."""
        upcoming = [s.due for s in current.upcoming]
        if current.later:
            assert current.next_change is not None
            assert current.next_change <= min(upcoming, default=current.next_change)
        else:
            assert current.next_change == min(upcoming, default=None)
        if current.next_change is None or current.next_change - now <= timedelta(seconds=1):
            return
        before = plan(self.interviews, {}, self.drafts, current.next_change - timedelta(
            seconds=1), self.cadence, BER)
        assert before.due == ()
        at = plan(self.interviews, {}, self.drafts, current.next_change, self.cadence, BER)
        assert {s.key for s in at.upcoming} != {s.key for s in current.upcoming} or \
            at.due != () or [s.reason for s in at.upcoming] != \
            [s.reason for s in current.upcoming] or at.later != current.later

    def kinds_made(self) -> Counter[DraftKind]:
        return Counter(spec.kind for _, spec in self.made_at)


def check_one_at_a_time(current: Plan, drafts: dict[str, DraftRecord], now: datetime) -> None:
    """At most one due draft of each kind per contact; none of a thank-you or follow-up while
    the last one to that contact is still in Drafts (not seen gone)."""
    due = Counter((s.kind, s.contact.email) for s in current.due)
    assert max(due.values(), default=0) <= 1, f"at {now}: {due}"
    for kind, contact in due:
        if kind in ("thank_you", "follow_up"):
            pending = [r.key for r in drafts.values() if r.kind == kind
                       and r.contact == contact and r.observed != "gone"
                       and r.created_at is not None and r.created_at < now]
            assert pending == [], f"at {now}: a {kind} due while {pending} is in Drafts"


# --- a tagged series ----------------------------------------------------------------------------


def test_an_hourly_series_gives_one_confirmation_and_one_thank_you_in_a_week() -> None:
    sim = Simulation(series(48, HOUR), sent_after=lambda s: None if s.kind == "thank_you"
                     else 5 * HOUR)
    sim.run(START - 3 * DAY, 7 * 24)
    assert sim.kinds_made() == {"confirmation": 1, "thank_you": 1}
    (when, confirmation), = [(t, s) for t, s in sim.made_at if s.kind == "confirmation"]
    assert confirmation.meeting_uid == "s000" and when == START - 2 * DAY
    (when, thank_you), = [(t, s) for t, s in sim.made_at if s.kind == "thank_you"]
    assert thank_you.meeting_uid == "s047"
    assert when == START + 49 * HOUR  # the first hourly cycle after it is due (10:30)


def test_an_hourly_series_gives_one_follow_up() -> None:
    sim = Simulation(series(48, HOUR))
    sim.run(START + 30 * DAY, 7 * 24)
    follow_ups = [s for _, s in sim.made_at if s.kind == "follow_up"]
    assert [s.meeting_uid for s in follow_ups] == ["s047"]


def test_an_hourly_series_tagged_while_it_runs_gives_no_flood() -> None:
    current = run(series(48, HOUR), START + 10 * HOUR + timedelta(minutes=45))
    assert current.due == ()  # each thank-you is superseded by the next occurrence
    # The next two occurrences are planned (too close to confirm); the 35 after them are
    # taken in one at a time, the first when the second of those starts.
    assert not [s for s in current.upcoming if s.kind == "confirmation"]
    assert "less than 12 hours away" in skip_of(current, k("confirmation", "s012")).reason
    assert current.later == ((ANA.email, 35),)
    assert current.next_change is not None and current.next_change <= START + 12 * HOUR
    planned = [i.meeting_uid for i in current.upcoming] + \
        [i.meeting_uid for i in current.skipped]
    assert not [uid for uid in planned if uid is not None and uid >= "s013"]


def test_a_daily_series_found_late_gives_one_thank_you_then_one_a_day() -> None:
    sim = Simulation(series(10, DAY), sent_after=lambda s: 3 * HOUR)
    sim.run(START + 4 * DAY + 2 * HOUR, 8 * 24)
    thanks = [(t, s.meeting_uid) for t, s in sim.made_at if s.kind == "thank_you"]
    assert thanks[0] == (START + 4 * DAY + 2 * HOUR, "s004")
    assert [uid for _, uid in thanks] == [f"s{i:03d}" for i in range(4, 10)]


def test_a_daily_thank_you_left_in_drafts_holds_the_next_one() -> None:
    sim = Simulation(series(10, DAY), sent_after=lambda s: None if s.meeting_uid == "s000"
                     else HOUR)
    sim.run(START, 5 * 24)
    assert [s.meeting_uid for _, s in sim.made_at if s.kind == "thank_you"] == ["s000"]


def test_a_weekly_series_gets_a_confirmation_each_week_on_time() -> None:
    sim = Simulation(series(6, 7 * DAY))  # nobody sends anything: confirmations still come
    sim.run(START - 3 * DAY, 6 * 7 * 24)
    confirmations = [(t, s) for t, s in sim.made_at if s.kind == "confirmation"]
    assert [s.meeting_uid for _, s in confirmations] == [f"s{i:03d}" for i in range(6)]
    assert all(t == START + i * 7 * DAY - 2 * DAY for i, (t, _) in enumerate(confirmations))
    assert not any("tagged late" in s.reason or "waited" in s.reason for _, s in confirmations)


def test_two_contacts_each_get_their_own() -> None:
    ana = series(24, HOUR, prefix="a")
    bo = series(24, HOUR, START + timedelta(minutes=30), prefix="b", contacts=(BO,))
    sim = Simulation([*ana, *bo], sent_after=lambda s: HOUR)
    sim.run(START - 3 * DAY, 5 * 24)
    per_contact = Counter((s.kind, s.contact.email) for _, s in sim.made_at)
    assert per_contact == {(kind, who.email): 1 for kind in ("confirmation", "thank_you")
                           for who in (ANA, BO)}


# --- confirmations ------------------------------------------------------------------------------


def test_a_later_confirmation_waits_for_the_earlier_meeting_then_is_not_tagged_late() -> None:
    first = START + 5 * DAY
    second = first + 20 * HOUR  # its usual time (2 days before) comes before the first meeting
    ivs = [interview("m1", first), interview("m2", second)]
    now = START
    waiting = spec_in(run(ivs, now), k("confirmation", "m2"), "upcoming")
    assert waiting.due == first.astimezone(UTC)
    assert "waits for your meeting with them on Wed 15 May 2024 at 10:00 to take place" in \
        waiting.reason
    assert run(ivs, now).next_change == (first - 2 * DAY).astimezone(UTC)  # m1's own first
    due = spec_in(run(ivs, first + 3 * HOUR), k("confirmation", "m2"), "due")
    assert "tagged late" not in due.reason
    assert "it waited for your meeting with them on Wed 15 May 2024" in due.reason


def test_a_confirmation_made_for_the_earlier_meeting_does_not_hold_a_weekly_one() -> None:
    ivs = [interview("m1", START), interview("m2", START + 7 * DAY)]
    drafts = {k("confirmation", "m1"): made(spec_in(run(ivs, START - 2 * DAY),
                                                    k("confirmation", "m1"), "due"),
                                            START - 2 * DAY)}
    later = run(ivs, START + 5 * DAY, drafts=drafts)
    assert spec_in(later, k("confirmation", "m2"), "due").due == (
        START + 5 * DAY).astimezone(UTC)


def test_a_later_meeting_within_12_hours_is_skipped_not_held() -> None:
    ivs = [interview("m1", START + 2 * HOUR), interview("m2", START + 8 * HOUR)]
    assert "less than 12 hours away" in skip_of(run(ivs, START), k("confirmation", "m2")).reason


def test_a_confirmation_waits_for_the_contact_not_for_someone_else() -> None:
    ivs = [interview("m1", START + 5 * DAY),
           interview("m2", START + 5 * DAY + 20 * HOUR, contacts=(ANA, BO))]
    p = run(ivs, START + 4 * DAY)
    assert "waits for" in spec_in(p, k("confirmation", "m2"), "upcoming").reason
    spec_in(p, k("confirmation", "m2", BO), "due")


def test_a_cancelled_earlier_meeting_holds_nothing() -> None:
    ivs = [interview("m1", START + 5 * DAY, cancelled=True),
           interview("m2", START + 5 * DAY + 20 * HOUR)]
    spec_in(run(ivs, START + 4 * DAY), k("confirmation", "m2"), "due")


# --- thank-yous and follow-ups -----------------------------------------------------------------


def test_a_series_found_late_gets_the_thank_you_of_its_latest_meeting_only() -> None:
    ivs = series(5, DAY)
    p = run(ivs, START + 4 * DAY + 2 * HOUR)
    assert [s.key for s in p.due if s.kind == "thank_you"] == [k("thank_you", "s004")]
    for i in range(4):
        assert "superseded by the meeting on Tue 14 May 2024" in \
            skip_of(p, k("thank_you", f"s{i:03d}")).reason


def test_the_latest_follow_up_due_supersedes_earlier_ones() -> None:
    quick = replace(CAD, follow_up_days_after=3)
    ivs = [interview("m1", START), interview("m2", START + 7 * DAY)]
    p = run(ivs, START + 12 * DAY, cadence=quick)
    assert "superseded by the meeting on Fri 17 May 2024" in \
        skip_of(p, k("follow_up", "m1")).reason
    spec_in(p, k("follow_up", "m2"), "due")


@pytest.mark.parametrize("observed", ["untouched", "edited"])
@pytest.mark.parametrize("kind", ["thank_you", "follow_up"])
def test_a_draft_still_in_drafts_holds_the_next_of_its_kind(observed: DraftState,
                                                            kind: DraftKind) -> None:
    quick = replace(CAD, follow_up_days_after=3)
    ivs = [interview("m1", START), interview("m2", START + 7 * DAY)]
    first = spec_in(run([ivs[0]], START + 5 * DAY, cadence=quick), k(kind, "m1"), "due") \
        if kind == "follow_up" else spec_in(run([ivs[0]], START + 2 * HOUR), k(kind), "due")
    now = START + 7 * DAY + 2 * HOUR if kind == "thank_you" else START + 11 * DAY
    drafts = {first.key: made(first, START + 2 * HOUR, observed)}
    held = skip_of(run(ivs, now, drafts=drafts, cadence=quick), k(kind, "m2"))
    assert "is still in Drafts; this one comes once that one is sent or deleted" in held.reason
    drafts = {first.key: made(first, START + 2 * HOUR, "gone")}
    spec_in(run(ivs, now, drafts=drafts, cadence=quick), k(kind, "m2"), "due")


def test_a_thank_you_to_someone_else_in_drafts_holds_nothing() -> None:
    first = spec_in(run([interview("m1", contacts=(BO,))], START + 2 * HOUR),
                    k("thank_you", "m1", BO), "due")
    drafts = {first.key: made(first, START + 2 * HOUR)}
    ivs = [interview("m1", contacts=(BO,)), interview("m2", START + DAY)]
    spec_in(run(ivs, START + DAY + 2 * HOUR, drafts=drafts), k("thank_you", "m2"), "due")


# --- prep notes ---------------------------------------------------------------------------------


def test_a_prep_note_waits_for_the_contacts_earlier_meeting() -> None:
    prep = replace(CAD, prep_sheet=True)
    first, second = START + 3 * DAY, START + 3 * DAY + 5 * HOUR
    ivs = [interview("m1", first), interview("m2", second)]
    p = run(ivs, first - DAY + HOUR, cadence=prep)
    spec_in(p, k("prep", "m1"), "due")
    waiting = spec_in(p, k("prep", "m2"), "upcoming")
    assert waiting.due == first.astimezone(UTC) and "waits for" in waiting.reason
    spec_in(run(ivs, first + HOUR, cadence=prep), k("prep", "m2"), "due")
