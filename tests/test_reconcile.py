"""Drafts follow their meeting: moved, cancelled and declined meetings, through whole cycles
against in-memory accounts. An edited draft is never changed or removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import KEY_HEADER
from daemon.app.queries import snapshot
from daemon.app.views import status_text
from daemon.core.errors import TransientError
from daemon.core.model import Attendee, Meeting
from daemon.cycle.health import Health
from daemon.state.store import Store
from tests.memory import Crash, memory_settings
from tests.memory import Harness as MemoryHarness

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # a Monday, 09:00 in Chicago
ZONE = ZoneInfo("America/Chicago")
CONFIRM = "m1/confirmation/ana@example.org"


def meeting(start: datetime, **extra: Any) -> Meeting:
    ana = extra.pop("ana", "accepted")
    me = extra.pop("me", "accepted")
    extra.setdefault("location", "Corner Cafe")
    return Meeting(uid="m1", title="Coffee chat with Ana", start=start,
                   end=start + timedelta(minutes=30),
                   attendees=(Attendee("sam@example.com", "Sam Rivera", me, is_self=True),
                              Attendee("ana@example.org", "Ana Li", ana)), **extra)


class Harness(MemoryHarness):
    def __init__(self, tmp_path: Path, **cadence: Any) -> None:
        super().__init__(memory_settings(tmp_path, working_hours="any", **cadence), NOW)

    def records(self) -> dict[str, Any]:
        return Store(self.settings.state_path).drafts()

    def only_draft(self) -> str:
        assert len(self.box.messages) == 1, self.box.keys()
        return next(iter(self.box.messages))


def test_a_moved_meeting_rewrites_its_untouched_confirmation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    assert [r.key for r in h.cycle().drafted] == [CONFIRM]
    old = h.box.parse(h.only_draft())
    assert "Tuesday 17 November" in old.get_content()

    h.calendar.put(meeting(NOW + timedelta(days=1, hours=3)))  # same day, three hours later
    report = h.cycle()
    assert [r.key for r in report.accounts[0].withdrawn] == [CONFIRM]
    assert [r.key for r in report.drafted] == [CONFIRM]
    new = h.box.parse(h.only_draft())
    assert "12:00 PM" in new.get_content() and "9:00 AM" not in new.get_content()
    assert new[KEY_HEADER] == CONFIRM
    assert h.cycle().drafted == [] and len(h.box.messages) == 1


def test_a_meeting_moved_further_out_waits_for_its_new_time(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=10)))
    h.cycle()
    assert h.box.messages == {}
    assert CONFIRM not in h.records()
    upcoming = {s.key: s.due for s in snapshot(h.settings, NOW).plan.upcoming}
    assert upcoming[CONFIRM] == NOW + timedelta(days=8)
    h.now = NOW + timedelta(days=8, minutes=1)
    assert [r.key for r in h.cycle().drafted] == [CONFIRM]


def test_an_edited_draft_of_a_moved_meeting_is_left_and_flagged(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    ident = h.only_draft()
    h.box.user_edits(ident)
    edited = h.box.messages[ident]
    h.calendar.put(meeting(NOW + timedelta(days=1), location="Library, room 2"))
    report = h.cycle()
    assert [r.key for r in report.accounts[0].flagged] == [CONFIRM]
    assert h.box.messages == {ident: edited}
    record = h.records()[CONFIRM]
    assert record.flag == "the meeting moved after you edited this draft"
    text = status_text(Health(), [], h.records(), snapshot(h.settings, h.now).plan, ZONE,
                       now=h.now)
    assert "the meeting moved after you edited this draft" in text
    gets = h.box.gets
    h.cycle()  # a flagged draft is not looked at again
    assert h.box.gets == gets and h.box.messages == {ident: edited}


def test_a_cancelled_meeting_loses_its_confirmation_and_gets_no_thank_you(
        tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=1), cancelled=True))
    report = h.cycle()
    assert [r.key for r in report.accounts[0].withdrawn] == [CONFIRM]
    assert h.box.messages == {}
    h.now = NOW + timedelta(days=2)
    assert h.cycle().drafted == [] and h.box.messages == {}
    skipped = {s.key: s.reason for s in snapshot(h.settings, h.now).plan.skipped}
    assert "cancelled" in skipped["m1/thank_you/ana@example.org"]


def test_an_uncancelled_meeting_is_planned_again(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=1), cancelled=True))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    assert [r.key for r in h.cycle().drafted] == [CONFIRM]
    assert len(h.box.messages) == 1


def test_declines_withdraw_the_confirmation(tmp_path: Path) -> None:
    for who in ("ana", "me"):
        h = Harness(tmp_path / who)
        h.calendar.put(meeting(NOW + timedelta(days=1)))
        h.cycle()
        h.calendar.put(meeting(NOW + timedelta(days=1), **{who: "declined"}))
        report = h.cycle()
        assert [r.key for r in report.accounts[0].withdrawn] == [CONFIRM], who
        assert h.box.messages == {}, who


def test_an_edited_confirmation_of_a_cancelled_meeting_stays_flagged(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    ident = h.only_draft()
    h.box.user_edits(ident)
    h.calendar.delete("m1")
    h.cycle()
    assert ident in h.box.messages
    assert h.records()[CONFIRM].flag == "the meeting was cancelled after you edited this draft"


def test_a_thank_you_stays_when_a_past_meeting_is_corrected(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW - timedelta(hours=3)))
    assert [r.kind for r in h.cycle().drafted] == ["thank_you"]
    ident = h.only_draft()
    h.calendar.put(meeting(NOW - timedelta(hours=4)))  # the user fixes the time afterwards
    h.cycle()
    assert list(h.box.messages) == [ident]


def test_a_kill_after_the_removal_settles_without_duplicate_or_loss(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=1, hours=2)))
    h.box.crash_after_delete = True
    try:
        h.cycle()
    except Crash:
        pass
    else:
        raise AssertionError("the cycle should have been killed")
    assert h.records()[CONFIRM].state == "withdrawing"
    h.box.crash_after_delete = False
    assert [r.key for r in h.cycle().drafted] == [CONFIRM]
    assert len(h.box.messages) == 1
    assert "11:00 AM" in h.box.parse(h.only_draft()).get_content()


# --- the property: an edited draft is never overwritten or deleted -----------------------

_STEPS = st.lists(st.sampled_from(["move", "move_far", "cancel", "restore", "decline", "edit",
                                   "wait_hours", "wait_day"]), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_an_edited_draft_is_never_overwritten_or_deleted(tmp_path_factory: Any,
                                                         steps: list[str]) -> None:
    h = Harness(tmp_path_factory.mktemp("p"))
    start = NOW + timedelta(days=1)
    h.calendar.put(meeting(start))
    h.cycle()
    edited: dict[str, bytes] = {}
    for step in steps:
        if step == "move":
            start += timedelta(hours=2)
            h.calendar.put(meeting(start))
        elif step == "move_far":
            start += timedelta(days=3)
            h.calendar.put(meeting(start))
        elif step == "cancel":
            h.calendar.put(meeting(start, cancelled=True))
        elif step == "restore":
            h.calendar.put(meeting(start))
        elif step == "decline":
            h.calendar.put(meeting(start, ana="declined"))
        elif step == "edit":
            for ident in list(h.box.messages):
                if ident not in edited:
                    h.box.user_edits(ident)
                    edited[ident] = h.box.messages[ident]
        elif step == "wait_hours":
            h.now += timedelta(hours=7)
        else:
            h.now += timedelta(days=1)
        h.cycle()
        for ident, data in edited.items():
            assert h.box.messages.get(ident) == data, (step, ident)
        keys = h.box.keys()
        assert len(keys) == len(set(keys)), keys


def test_a_move_seen_while_drafts_cannot_be_read_is_handled_next_cycle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting(NOW + timedelta(days=1)))
    h.cycle()
    h.calendar.put(meeting(NOW + timedelta(days=1, hours=3)))

    def unreachable(ref: object) -> str:
        raise TransientError("Drafts folder unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(h.box, "get", unreachable)
        assert not h.cycle().ok
    assert Store(h.settings.state_path).pending("personal") == {"m1"}
    report = h.cycle()  # the calendar reports nothing new now; the mark remains
    assert [r.key for r in report.accounts[0].withdrawn] == [CONFIRM]
    assert "12:00 PM" in h.box.parse(h.only_draft()).get_content()
    assert Store(h.settings.state_path).pending("personal") == set()
    gets = h.box.gets
    h.cycle()  # an idle cycle looks at no draft
    assert h.box.gets == gets
