"""Settled history (daemon.plan.settle, Store.settle): the plan is the same without it, the state
file stops carrying it, and a settled meeting that changes comes back with its records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.app import views
from daemon.app.doctor import run_checks
from daemon.app.queries import snapshot
from daemon.core.errors import StateError
from daemon.core.keys import catch_up_key, draft_key
from daemon.core.model import (
    Attendee,
    Cadence,
    DraftKind,
    DraftRecord,
    DraftState,
    Interview,
    Meeting,
    Person,
)
from daemon.cycle import health
from daemon.plan.planner import plan
from daemon.plan.settle import cutoff, settleable, still_planned_for
from daemon.state.settled import settled_path
from daemon.state.store import Store
from tests.memory import Harness, memory_settings

BASE = datetime(2024, 1, 1, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")
POOL = tuple(Person(f"p{i}@x.example", f"Person {i}") for i in range(3))
DAY = 24 * 60
OBSERVED: tuple[DraftState, ...] = ("gone", "gone", "untouched", "edited")


def interview(uid: str, start: datetime, *people: Person, account: str = "work",
              minutes: int = 30, cancelled: bool = False) -> Interview:
    meeting = Meeting(uid=uid, title="Coffee chat", start=start,
                      end=start + timedelta(minutes=minutes), cancelled=cancelled,
                      attendees=tuple(Attendee(p.email, p.name, "accepted") for p in people))
    return Interview(meeting, account, people)


def made(kind: DraftKind, uid: str | None, contact: Person, at: datetime,
         observed: DraftState = "gone", key: str | None = None) -> DraftRecord:
    return DraftRecord(key=key or draft_key(kind, uid or "", contact.email), kind=kind,
                       contact=contact.email, account="work", meeting_uid=uid, state="created",
                       due=at, reason="made earlier", created_at=at, observed=observed)


# --- the rule --------------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Interview], dict[str, DraftRecord]]:
    """Up to 14 meetings of up to three people over two years, most long past, and records of
    the drafts a running coffeechat would have made, in any state."""
    interviews = []
    for i in range(draw(st.integers(1, 14))):
        start = BASE + timedelta(minutes=draw(st.integers(-700 * DAY, 60 * DAY)))
        people = draw(st.lists(st.sampled_from(POOL), min_size=0, max_size=2, unique=True))
        length = draw(st.sampled_from([30, 60, 3 * DAY, 40 * DAY]))
        account = draw(st.sampled_from(["work", "work", "home"]))
        uid = draw(st.sampled_from([f"m{i}", f"m{i}", "shared"]))
        interviews.append(interview(uid, start, *people, account=account, minutes=length,
                                    cancelled=draw(st.integers(0, 9)) == 0))
    drafts: dict[str, DraftRecord] = {}
    for iv in interviews:
        for p in iv.contacts:
            for kind in ("confirmation", "thank_you", "follow_up", "prep"):
                if draw(st.integers(0, 2)):
                    observed = draw(st.sampled_from(OBSERVED))
                    record = made(kind, iv.meeting.uid, p, iv.meeting.end, observed)
                    if draw(st.integers(0, 15)) == 0:
                        record = replace(record, state="creating", created_at=None)
                    drafts[record.key] = record
    for p in POOL:
        for n in range(draw(st.integers(0, 2))):
            at = BASE - timedelta(days=draw(st.integers(0, 500)))
            uid = interviews[0].meeting.uid
            drafts[catch_up_key(p.email, n + 1)] = made("catch_up", uid, p, at,
                                                       key=catch_up_key(p.email, n + 1))
    return interviews, drafts


cadences = st.builds(Cadence, confirmation_days_before=st.integers(1, 14),
                     follow_up_days_after=st.integers(1, 90),
                     catch_up_every_days=st.integers(30, 200),
                     prep_sheet=st.booleans())


@settings(max_examples=300, deadline=None)
@given(histories(), cadences, st.integers(0, 800 * DAY), st.integers(-30 * DAY + 1, 400 * DAY),
       st.integers(1, 90), st.integers(1, 60), st.booleans())
def test_the_plan_is_the_same_without_the_settled_meetings(
        history: tuple[list[Interview], dict[str, DraftRecord]], cadence: Cadence,
        settled_at: int, later: int, follow_up: int, confirm: int, pending: bool) -> None:
    interviews, drafts = history
    when = BASE - timedelta(days=300) + timedelta(minutes=settled_at)
    waiting = {interviews[-1].meeting.uid} if pending else set()
    found = settleable(interviews, drafts, waiting, when, cadence)
    assert not found.meetings & waiting
    assert not {drafts[k].meeting_uid for k in found.records} & waiting
    assert all(drafts[k].kind != "catch_up" for k in found.records)
    kept = [iv for iv in interviews if iv.meeting.uid not in found.meetings]
    kept_drafts = {k: r for k, r in drafts.items() if k not in found.records}
    # Any later clock (or one set back by less than the slack), a shorter follow-up, any
    # confirmation lead: the same plan.
    now = when + timedelta(minutes=later)
    planned = replace(cadence, follow_up_days_after=min(follow_up, cadence.follow_up_days_after),
                      confirmation_days_before=confirm)
    touched = found.meetings | {drafts[k].meeting_uid for k in found.records}
    ends = [max(iv.meeting.end, iv.meeting.start) for iv in interviews
            if iv.meeting.uid in touched]
    assert not still_planned_for(max(ends, default=None), now, planned)
    assert plan(kept, {}, kept_drafts, now, planned, ZONE) == \
        plan(interviews, {}, drafts, now, planned, ZONE)


def test_a_long_history_settles_but_what_the_planner_needs() -> None:
    ana, ben = POOL[0], POOL[1]
    now = BASE
    old = [interview(f"a{i}", now - timedelta(days=700 - 30 * i), ana) for i in range(20)]
    recent = interview("a-recent", now - timedelta(days=10), ana)
    ben_last = interview("b0", now - timedelta(days=400), ben)
    drafts = {r.key: r for iv in old for r in (
        made("thank_you", iv.meeting.uid, ana, iv.meeting.end),
        made("follow_up", iv.meeting.uid, ana, iv.meeting.end + timedelta(days=30)))}
    forgotten = made("thank_you", "a3", ana, old[3].meeting.end, observed="untouched")
    drafts[forgotten.key] = forgotten
    note = made("catch_up", "a5", ana, now - timedelta(days=200), key=catch_up_key(ana.email, 1))
    drafts[note.key] = note
    cadence = Cadence()
    found = settleable([*old, recent, ben_last], drafts, {"a7"}, now, cadence)
    gone = found.meetings
    limit = cutoff(now, cadence)
    assert all(iv.meeting.end < limit for iv in old)
    # A run from the oldest: it stops at the meeting pending reconciliation; the records of
    # the old ones may go but the draft forgotten in Drafts, the catch-up and the pending
    # meeting's.
    assert gone == {f"a{i}" for i in range(7)}
    assert found.records == {k for k, r in drafts.items() if r.meeting_uid != "a7"} - {
        forgotten.key, note.key}
    # Without the pending one, the run goes on to the meeting Ana's catch-ups count from (the
    # latest that ended a month before now).
    gone = settleable([*old, recent, ben_last], drafts, set(), now, cadence).meetings
    assert gone == {f"a{i}" for i in range(19)}
    # Ben's only meeting anchors his catch-ups: it stays.
    assert "b0" not in gone


def test_every_copy_of_a_uid_and_every_contact_must_agree() -> None:
    ana, ben = POOL[0], POOL[1]
    now = BASE
    shared_old = interview("s", now - timedelta(days=500), ana, ben)
    ana_later = interview("a1", now - timedelta(days=400), ana)
    # For Ben "s" is his latest meeting: it anchors his catch-up, so it stays for Ana too.
    gone = settleable([shared_old, ana_later], {}, set(), now, Cadence()).meetings
    assert gone == set()
    ben_later = interview("b1", now - timedelta(days=300), ben)
    gone = settleable([shared_old, ana_later, ben_later], {}, set(), now, Cadence()).meetings
    assert gone == {"s"}
    copy_recent = interview("s", now - timedelta(days=5), ana, account="home")
    assert settleable([shared_old, ana_later, ben_later, copy_recent], {}, set(), now,
                      Cadence()).meetings == set()


# --- the store -------------------------------------------------------------------------------


def _world(now: datetime) -> tuple[list[Interview], dict[str, DraftRecord]]:
    ana = POOL[0]
    meetings = [interview(f"m{i}", now - timedelta(days=800 - 20 * i), ana) for i in range(30)]
    drafts = {r.key: r for iv in meetings for r in (
        made("thank_you", iv.meeting.uid, ana, iv.meeting.end),)}
    return meetings, drafts


def _settle_all(store: Store, now: datetime) -> set[str]:
    found = settleable(store.interviews(), store.drafts(), set(), now, Cadence())
    store.settle(found.meetings, found.records, now)
    return found.meetings


def _stored(tmp_path: Path, now: datetime) -> Store:
    meetings, drafts = _world(now)
    store = Store(tmp_path / "state.json", writable=True)
    store.put_interviews(meetings)
    for record in drafts.values():
        store.put_draft(record)
    store.flush()
    return store


def test_settling_moves_history_out_of_the_state_file(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    before = plan(store.interviews(), {}, store.drafts(), now, Cadence(), ZONE)
    size = (tmp_path / "state.json").stat().st_size
    uids = _settle_all(store, now)
    assert len(uids) >= 20
    store.flush()
    reopened = Store(tmp_path / "state.json")
    assert len(reopened.interviews()) == 30 - len(uids)
    assert len(reopened.interviews(settled=True)) == 30
    assert len(reopened.drafts(settled=True)) == 30
    assert reopened.interview("work", "m29") is not None
    assert plan(reopened.interviews(), {}, reopened.drafts(), now, Cadence(), ZONE) == before
    assert (tmp_path / "state.json").stat().st_size < size / 2
    assert settled_path(tmp_path / "state.json") == tmp_path / "state.settled.json"
    history = orjson.loads((tmp_path / "state.settled.json").read_bytes())
    # The latest meeting stays (catch-ups count from it; the settled file has a copy), but its
    # record can go too.
    assert len(history["meetings"]) == len(uids) + 1 and len(history["drafts"]) == len(uids) + 1
    assert len(reopened.drafts()) == 30 - len(uids) - 1
    # A settled meeting is still found by its uid.
    found = reopened.interview("work", "m0")
    assert found is not None and found.meeting.uid == "m0"
    assert reopened.settle_checked() == now


def test_a_settled_meeting_that_changes_comes_back_with_its_records(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    _settle_all(store, now)
    store.flush()
    store = Store(tmp_path / "state.json", writable=True)
    [same] = [iv for iv in store.interviews(settled=True) if iv.meeting.uid == "m1"]
    store.put_interviews([same])  # unchanged (a full sync): it stays settled
    assert "m1" not in {iv.meeting.uid for iv in store.interviews()}
    moved = replace(same, meeting=replace(same.meeting, start=now + timedelta(days=3),
                                          end=now + timedelta(days=3, hours=1)))
    store.put_interviews([moved])
    store.flush()
    store = Store(tmp_path / "state.json")
    assert store.interview("work", "m1") == moved
    assert draft_key("thank_you", "m1", POOL[0].email) in store.drafts()
    assert "m1" in {iv.meeting.uid for iv in store.interviews()}


def test_removing_a_settled_meeting_forgets_it_everywhere(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    _settle_all(store, now)
    store.flush()
    store = Store(tmp_path / "state.json", writable=True)
    assert store.remove_meeting("work", "m0")
    store.flush()
    store = Store(tmp_path / "state.json")
    assert store.interview("work", "m0") is None
    assert "m0" not in {iv.meeting.uid for iv in store.interviews(settled=True)}
    # Its record stays, so that a meeting tagged again is not drafted twice.
    assert draft_key("thank_you", "m0", POOL[0].email) in store.drafts()


def test_unsettle_all_brings_everything_back(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    uids = _settle_all(store, now)
    assert store.settled_end() is not None
    assert store.unsettle_all() == len(uids) + 1  # the latest meeting's records settled too
    store.flush()
    store = Store(tmp_path / "state.json")
    assert len(store.interviews()) == 30 and len(store.drafts()) == 30
    assert store.settled_end() is None


def test_a_kill_after_the_settled_file_is_written_loses_nothing(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    uids = _settle_all(store, now)  # the settled file is written; the state is not flushed
    store = Store(tmp_path / "state.json", writable=True)
    assert len(store.interviews()) == 30 and store.settled_end() is None
    assert _settle_all(store, now) == uids  # settles again over the earlier copy
    store.flush()
    store = Store(tmp_path / "state.json")
    assert len(store.interviews(settled=True)) == 30


def test_a_damaged_settled_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    _settle_all(store, now)
    store.flush()
    (tmp_path / "state.settled.json").write_text('{"meetings": [', "utf-8")
    store = Store(tmp_path / "state.json")
    with pytest.raises(StateError, match=r"state\.settled\.json"):
        store.interviews(settled=True)


def test_a_schema_1_state_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(orjson.dumps({"meta": {"1": {"schema": 1}}, "meetings": {}}))
    Store(path).interviews()  # read-only: left as it is
    assert orjson.loads(path.read_bytes())["meta"]["1"]["schema"] == 1
    store = Store(path, writable=True)
    store.flush()
    assert orjson.loads(path.read_bytes())["meta"]["1"]["schema"] == 2


# --- the cycle ---------------------------------------------------------------------------------


def test_cycles_settle_old_meetings_once_a_day_and_draft_nothing_twice(tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    h = Harness(memory_settings(tmp_path), now)
    ana = Attendee("ana@example.org", "Ana Li", "accepted")
    for i in range(8):  # a monthly coffee with Ana, which began 8 months ago
        start = now - timedelta(days=240 - 30 * i)
        h.calendar.put(Meeting(uid=f"m{i}", title="Coffee #infointerview", start=start,
                               end=start + timedelta(hours=1), attendees=(ana,)))
    h.now = now - timedelta(days=240)
    while h.now < now:  # coffeechat ran every day, the user sent each draft
        h.cycle()
        h.box.messages.clear()
        h.now += timedelta(days=1)
    made = h.box.counter
    assert made >= 8
    store = Store(h.settings.state_path)
    settled = {iv.meeting.uid for iv in store.interviews(settled=True)} - {
        iv.meeting.uid for iv in store.interviews()}
    assert settled and settled < {f"m{i}" for i in range(8)}
    assert settled_path(h.settings.state_path).exists()
    # An old meeting edited now comes back, and nothing is drafted twice.
    h.calendar.put(Meeting(uid="m0", title="Coffee #infointerview (notes)",
                           start=now - timedelta(days=240),
                           end=now - timedelta(days=240) + timedelta(hours=1), attendees=(ana,)))
    report = h.cycle()
    assert report.ok and report.drafted == [] and h.box.counter == made
    edited = Store(h.settings.state_path).interview("personal", "m0")
    assert edited is not None and edited.meeting.title.endswith("(notes)")
    # A clock set back a year: the planner is given everything again, and drafts nothing.
    h.now = now - timedelta(days=200)
    store = Store(h.settings.state_path)
    assert still_planned_for(store.settled_end(), h.now, h.settings.cadence)
    report = h.cycle()
    assert report.ok and h.box.counter == made


def test_doctor_reads_the_settled_file_too(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    settings = memory_settings(tmp_path)
    store = _stored(tmp_path, now)
    _settle_all(store, now)
    store.flush()
    [state] = [c for c in run_checks(settings, now) if c.name == "state file"]
    assert state.ok and "30 draft record(s)" in state.detail
    (tmp_path / "state.settled.json").write_text("[1, 2", "utf-8")
    [state] = [c for c in run_checks(settings, now) if c.name == "state file"]
    assert not state.ok and "state.settled.json" in state.detail


def test_a_full_read_that_changes_every_settled_meeting_brings_all_back_at_once(
        tmp_path: Path) -> None:
    now = BASE
    store = _stored(tmp_path, now)
    uids = _settle_all(store, now)
    store.flush()
    store = Store(tmp_path / "state.json", writable=True)
    every = store.interviews(settled=True)
    store.put_interviews(every)  # the same: nothing comes back
    assert len(store.interviews()) == 30 - len(uids)
    store.put_interviews([replace(iv, notes="read again") for iv in every])
    store.flush()
    store = Store(tmp_path / "state.json")
    assert [iv.notes for iv in store.interviews()] == ["read again"] * 30
    assert len(store.drafts()) == 30 and store.settled_summary() == (({}, 0, 0))


def test_status_counts_the_settled_drafts_and_contacts_their_meetings(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    settings = memory_settings(tmp_path)
    store = _stored(tmp_path, now)
    uids = _settle_all(store, now)
    store.flush()
    snap = snapshot(settings, now)
    assert len(snap.drafts) == 0 and snap.settled.drafts == 30 == snap.settled.taken_over
    assert len(snap.meetings) == 30 - len(uids)
    rows = views.contact_rows(snap.meetings, snap.prefs, snap.plan, snap.now,
                              snap.settled.people)
    [ana] = rows
    assert ana.meetings == 30 and ana.last_met == _world(now)[0][-1].meeting.end
    text = views.status_text(health.load(settings.state_path), rows, snap.drafts, snap.plan,
                             settings.timezone, snap.not_read, snap.settled, now=now)
    assert "Drafts made: 30" in text and "Drafts you took over: 30" in text
    whole = snapshot(settings, now, settled=True)
    assert len(whole.drafts) == 30 and len(whole.meetings) == 30
    assert whole.settled == ({}, 0, 0)
