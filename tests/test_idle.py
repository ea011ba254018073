"""Idle cycles skip the planner (daemon.cycle.idle): only while its answer cannot have changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.errors import TransientError
from daemon.core.keys import catch_up_key
from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    DraftRecord,
    Interview,
    Meeting,
    Person,
    Plan,
)
from daemon.core.timing import WorkingHours
from daemon.cycle import idle
from daemon.cycle.replies import paused_checks, wanted
from daemon.plan import planner
from daemon.plan.planner import plan
from daemon.state.store import Store
from tests.test_cycle import NOW, Harness, meeting
from tests.test_planner_properties import World, made, worlds


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The instants at which a cycle ran the planner."""
    calls: list[datetime] = []
    real = planner.plan

    def counting(*args: object, **kwargs: object) -> Plan:
        calls.append(args[3])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("daemon.cycle.run.plan", counting)
    return calls


def test_an_idle_cycle_skips_planning_until_something_comes_due(
        tmp_path: Path, plans: list[datetime]) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW + timedelta(minutes=30)))  # thank-you due at NOW + 2h
    assert h.cycle().drafted == [] and len(plans) == 1
    state = h.settings.state_path
    before = (state.read_bytes(), state.stat().st_mtime_ns)
    h.now = NOW + timedelta(minutes=10)
    report = h.cycle()
    assert report.ok and report.plan is None and len(plans) == 1
    assert (state.read_bytes(), state.stat().st_mtime_ns) == before, "an idle cycle writes nothing"
    h.now = NOW + timedelta(hours=2, minutes=1)
    assert [r.kind for r in h.cycle().drafted] == ["thank_you"]
    assert len(plans) == 3, "planned, then once more with the draft made"
    after = (state.read_bytes(), state.stat().st_mtime_ns)
    h.now += timedelta(minutes=1)
    assert h.cycle().plan is None and len(plans) == 3
    assert (state.read_bytes(), state.stat().st_mtime_ns) == after, "idle right after drafting"


def test_a_change_to_the_store_or_the_settings_makes_the_next_cycle_plan(
        tmp_path: Path, plans: list[datetime]) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW + timedelta(days=20)))
    h.cycle()
    h.now += timedelta(minutes=5)
    h.cycle()
    assert len(plans) == 1
    store = Store(h.settings.state_path, writable=True)  # as `coffeechat contact stop` does
    store.put_prefs(ContactPrefs("ana@example.org", "stopped"))
    store.flush()
    h.cycle()
    assert len(plans) == 2
    h.cycle()
    assert len(plans) == 2
    h.settings = replace(h.settings, cadence=replace(h.settings.cadence,
                                                     confirmation_days_before=5))
    h.cycle()
    assert len(plans) == 3
    h.calendar.put(meeting("m1", NOW + timedelta(days=21)))  # a calendar change
    h.cycle()
    assert len(plans) == 4


def test_a_draft_that_could_not_be_written_is_tried_again_at_the_next_cycle(
        tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    h.box.fail_create = TransientError("503 from the server")
    assert h.cycle().drafted == []
    assert Store(h.settings.state_path).plan_memo() is None, "a plan with drafts due"
    h.box.fail_create = None
    h.now += timedelta(minutes=1)
    assert [r.kind for r in h.cycle().drafted] == ["thank_you"]


def settle(world: World, drafts: dict[str, DraftRecord] | None = None
           ) -> dict[str, DraftRecord]:
    """The drafts a running coffeechat would hold at ``world.now``, given ``drafts`` made
    before: every due one made."""
    drafts = dict(drafts or {})
    for _ in range(4):
        due = world.plan(drafts).due
        if not due:
            break
        drafts |= made(due, world.now)
    return drafts


WORK = WorkingHours(frozenset(range(5)), time(9), time(17))


@settings(max_examples=150, deadline=None)
@given(world=worlds(), hours=st.sampled_from([None, WORK]), cap=st.integers(0, 3),
       earlier=st.integers(0, 30 * 60),
       fractions=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=4))
def test_nothing_comes_due_before_the_wake_up_time(world: World, hours: WorkingHours | None,
                                                   cap: int, earlier: int,
                                                   fractions: list[float]) -> None:
    world = replace(world, cadence=replace(world.cadence, working_hours=hours,
                                           max_new_drafts_per_day=cap))
    before = replace(world, now=world.now - timedelta(minutes=earlier))  # an earlier cycle
    drafts = settle(world, settle(before))
    current = world.plan(drafts)
    wake = idle.wake_up(current, [], world.now)
    if wake is None:
        assert current.due or current.to_pause
        return
    assert world.now < wake <= world.now + idle.MAX_IDLE
    for fraction in fractions:
        at = min(world.now + (wake - world.now) * fraction, wake - timedelta(microseconds=1))
        later = replace(world, now=at)
        assert later.plan(drafts).due == (), f"due before the wake-up time {wake}"


NY = ZoneInfo("America/New_York")
ANA, BO = Person("ana@corp.example", "Ana Li"), Person("bo@corp.example", "Bo Chen")


def test_a_draft_held_by_the_daily_limit_is_due_when_the_day_turns(tmp_path: Path) -> None:
    now = datetime(2024, 1, 7, 19, 0, tzinfo=NY)  # a Sunday evening
    ended = Meeting(uid="m1", title="Coffee chat", start=now - timedelta(hours=1), end=now)
    chat = Interview(ended, "work", (ANA, BO))
    cadence = replace(Cadence(), thank_you_hours_after=0, max_new_drafts_per_day=1,
                      working_hours=WORK)
    first = plan([chat], {}, {}, now, cadence, NY)
    drafts = made(first.due, now)
    held = plan([chat], {}, drafts, now, cadence, NY)
    assert held.due == () and held.upcoming[0].kind == "thank_you"
    assert held.upcoming[0].due == datetime(2024, 1, 8, 9, 0, tzinfo=NY)  # the shown estimate
    assert held.next_change == datetime(2024, 1, 8, 0, 0, tzinfo=NY)  # the count starts again
    assert [s.kind for s in plan([chat], {}, drafts, held.next_change, cadence, NY).due] == [
        "thank_you"]


def test_a_catch_up_held_by_the_spread_is_due_when_a_place_frees(tmp_path: Path) -> None:
    now = datetime(2024, 6, 3, 15, 0, tzinfo=NY)
    old = [Interview(Meeting(uid=f"m{n}", title="Coffee chat", start=now - timedelta(days=400),
                             end=now - timedelta(days=400)), "work", (person,))
           for n, person in enumerate((ANA, BO))]
    cadence = replace(Cadence(), max_new_catch_ups_per_day=1)
    yesterday = now - timedelta(hours=20)
    drafts = made(plan(old, {}, {}, yesterday, cadence, NY).due, yesterday)
    held = plan(old, {}, drafts, now, cadence, NY)
    waiting = catch_up_key(BO.email, 1)
    assert held.due == () and held.upcoming[0].key == waiting
    assert held.next_change == yesterday + timedelta(hours=24) < held.upcoming[0].due
    assert [s.key for s in plan(old, {}, drafts, held.next_change, cadence, NY).due] == [waiting]


def test_a_paused_contacts_next_mail_check_is_when_wanted_asks_for_it() -> None:
    now = datetime(2024, 6, 3, 15, 0, tzinfo=NY)
    prefs = {ANA.email: ContactPrefs(ANA.email, "paused", reason="no answer"),
             BO.email: ContactPrefs(BO.email, "paused")}  # paused by the user: not looked up
    seen = [("work", ContactMail(ANA.email), now - timedelta(hours=5))]
    nothing = Plan((), (), ())
    checks = paused_checks(prefs, seen, ["work", "home"], now)
    assert sorted(checks) == [now, now + timedelta(hours=19)]  # never looked in "home"
    later = now + timedelta(hours=19)
    assert wanted(nothing, prefs, seen, ["work"], later - timedelta(seconds=1)) == {}
    assert wanted(nothing, prefs, seen, ["work"], later) == {"work": {ANA.email}}
