"""Changing what tags a meeting reads every calendar again once: meetings synced before and
unchanged since are enrolled, and nothing is drafted twice."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.settings.config import Settings, parse
from daemon.state.store import Store
from tests.memory import Harness
from tests.test_cycle import NOW, meeting


def settings(tmp_path: Path, keywords: list[str],
             emails: tuple[str, ...] = ("sam@example.com",)) -> Settings:
    data = {
        "me": {"name": "Sam Rivera", "emails": list(emails), "timezone": "America/Chicago"},
        "state": {"path": str(tmp_path / "state.json")},
        "templates": {"path": str(tmp_path / "no-overrides")},
        "tagging": {"keywords": keywords},
        "cadence": {"working_hours": "any", "max_new_drafts_per_day": 0},
        "accounts": [{"name": "personal", "kind": "local", "calendar": "c", "drafts": "d"}],
    }
    return parse(data, tmp_path / "config.toml")


def test_a_new_keyword_enrolls_an_old_meeting_and_drafts_only_its_drafts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(settings(tmp_path, ["#career"]), NOW)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=2), title="#career chat with Ana"))
    h.calendar.put(meeting("m2", NOW - timedelta(hours=3), contact="bo@example.org",
                           title="Coffee chat with Bo"))
    first = h.cycle()
    assert [r.key for r in first.drafted] == ["m1/thank_you/ana@example.org"]
    assert h.cycle().drafted == [] and h.calendar.full_syncs == 1
    assert Store(h.settings.state_path).plan_memo() is not None, "the next cycle would idle"

    h.settings = settings(tmp_path, ["#career", "coffee chat"])
    with caplog.at_level(logging.INFO, logger="daemon.cycle.run"):
        enrolled = h.cycle()
    assert h.calendar.full_syncs == 2, "the account was read in full"
    assert [r.key for r in enrolled.drafted] == ["m2/thank_you/bo@example.org"]
    assert h.box.keys() == ["m1/thank_you/ana@example.org", "m2/thank_you/bo@example.org"]
    assert sum("tagging rules" in r.message for r in caplog.records) == 1

    assert h.cycle().drafted == [] and h.calendar.full_syncs == 2, "once, not every cycle"
    assert len(h.box.messages) == 2


def test_removing_a_keyword_drops_the_meetings_it_alone_tagged(tmp_path: Path) -> None:
    h = Harness(settings(tmp_path, ["#career", "coffee chat"]), NOW)
    h.calendar.put(meeting("m1", NOW + timedelta(days=9), title="#career chat with Ana"))
    h.calendar.put(meeting("m2", NOW + timedelta(days=9), title="Coffee chat with Bo"))
    h.cycle()
    h.settings = settings(tmp_path, ["#career"])
    h.cycle()
    assert [iv.meeting.uid for iv in Store(h.settings.state_path).interviews()] == ["m1"]


def test_a_new_address_of_mine_is_no_longer_a_contact(tmp_path: Path) -> None:
    h = Harness(settings(tmp_path, ["coffee chat"]), NOW)
    h.calendar.put(meeting("m1", NOW + timedelta(days=9), contact="sam@work.example"))
    h.cycle()
    [before] = Store(h.settings.state_path).interviews()
    assert [p.email for p in before.contacts] == ["sam@work.example"]
    h.settings = settings(tmp_path, ["coffee chat"], ("sam@example.com", "sam@work.example"))
    h.cycle()
    assert h.calendar.full_syncs == 2
    [after] = Store(h.settings.state_path).interviews()
    assert after.contacts == ()


def test_a_cursor_from_the_previous_version_means_one_full_sync_and_no_new_drafts(
        tmp_path: Path) -> None:
    h = Harness(settings(tmp_path, ["coffee chat"]), NOW)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    assert len(h.cycle().drafted) == 1
    path = h.settings.state_path
    raw = json.loads(path.read_text())
    for doc in raw["cursors"].values():
        del doc["tagging"]  # as coffeechat wrote it before it kept the fingerprint
    path.write_text(json.dumps(raw))
    assert h.cycle().drafted == []
    assert h.calendar.full_syncs == 2
    assert Store(path).cursor_tagging("personal") is not None
    h.cycle()
    assert h.calendar.full_syncs == 2 and len(h.box.messages) == 1


def test_only_a_first_sync_may_leave_out_what_cannot_be_tagged(tmp_path: Path) -> None:
    """The calendar is given the rules (to leave out what they cannot tag) only while the
    store holds none of the account's meetings: a full read after the rules changed must see
    every meeting, to untag those stored."""
    h = Harness(settings(tmp_path, ["#career"]), NOW)
    h.calendar.put(meeting("m1", NOW + timedelta(days=9), title="#career chat with Ana"))
    h.cycle()
    h.cycle()
    assert [rules is not None for rules in h.calendar.rules_given] == [True, False]
    h.settings = settings(tmp_path, ["coffee chat"])
    h.cycle()
    assert h.calendar.rules_given[-1] is None, "meetings are stored: every one is read"
    assert Store(h.settings.state_path).interviews() == []


def test_a_full_sync_with_nothing_stored_may_leave_out_what_cannot_be_tagged(
        tmp_path: Path) -> None:
    h = Harness(settings(tmp_path, ["#career"]), NOW)
    h.calendar.put(meeting("m1", NOW + timedelta(days=9), title="Coffee chat with Ana"))
    h.cycle()
    h.settings = settings(tmp_path, ["coffee chat"])
    h.cycle()
    assert [rules is not None for rules in h.calendar.rules_given] == [True, True]
    assert [iv.meeting.uid for iv in Store(h.settings.state_path).interviews()] == ["m1"]
