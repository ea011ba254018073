"""A whole cycle against in-memory accounts: sync, tag, plan, exactly-once drafts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import KEY_HEADER
from daemon.core.errors import AuthError, TransientError
from daemon.core.model import Attendee, Change, Meeting, Removed
from daemon.settings.config import Settings, parse
from daemon.state.store import Store
from tests.memory import Crash
from tests.memory import Harness as MemoryHarness

NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/Chicago")


def settings(tmp_path: Path, accounts: tuple[str, ...] = ("personal",),
             templates: Path | None = None) -> Settings:
    data = {
        "me": {"name": "Sam Rivera", "emails": ["sam@example.com"],
               "timezone": "America/Chicago"},
        "state": {"path": str(tmp_path / "state.json")},
        "templates": {"path": str(templates or tmp_path / "no-overrides")},
        "accounts": [{"name": n, "kind": "local", "calendar": "c", "drafts": "d"}
                     for n in accounts],
    }
    return parse(data, tmp_path / "config.toml")


def meeting(uid: str, start: datetime, contact: str = "ana@example.org",
            title: str = "Coffee chat with Ana", **extra: object) -> Meeting:
    return Meeting(uid=uid, title=title, start=start, end=start + timedelta(minutes=30),
                   source=f"{uid}.ics",
                   attendees=(Attendee("sam@example.com", "Sam Rivera", "accepted"),
                              Attendee(contact, "Ana Li", "accepted")), **extra)  # type: ignore[arg-type]


class Harness(MemoryHarness):
    def __init__(self, tmp_path: Path, accounts: tuple[str, ...] = ("personal",)) -> None:
        super().__init__(settings(tmp_path, accounts), NOW)


def test_a_thank_you_is_drafted_once_with_the_right_headers(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    first = h.cycle()
    assert first.ok
    assert [r.kind for r in first.drafted] == ["thank_you"]
    message = drafts.parse(first.drafted[0].ref.id)  # type: ignore[union-attr]
    assert message["To"].addresses[0].addr_spec == "ana@example.org"
    assert message["From"].addresses[0].addr_spec == "sam@example.com"
    assert message[KEY_HEADER] == "m1/thank_you/ana@example.org"
    second = h.cycle()
    assert second.drafted == [] and len(drafts.messages) == 1


def test_untagged_meetings_leave_the_store_and_removed_ones_are_cancelled(
        tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, _ = h.world.account("personal")
    calendar.put(meeting("m1", NOW + timedelta(days=5)))
    calendar.put(meeting("m2", NOW + timedelta(days=5), title="Dentist"))
    h.cycle()
    assert [iv.meeting.uid for iv in Store(h.settings.state_path).interviews()] == ["m1"]
    calendar.put(meeting("m1", NOW + timedelta(days=5), title="Lunch with Ana"))  # tag removed
    h.cycle()
    assert Store(h.settings.state_path).interviews() == []
    calendar.put(meeting("m3", NOW + timedelta(days=5)))
    h.cycle()
    calendar.delete("m3")
    report = h.cycle()
    [kept] = Store(h.settings.state_path).interviews()
    assert kept.meeting.uid == "m3" and kept.meeting.cancelled
    assert report.plan is not None
    assert any(s.meeting_uid == "m3" and "cancelled" in s.reason for s in report.plan.skipped)
    calendar.put(meeting("m3", NOW + timedelta(days=5)))  # it comes back
    h.cycle()
    assert not Store(h.settings.state_path).interviews()[0].meeting.cancelled


def test_a_removal_named_only_by_the_provider_id_cancels_the_meeting(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, _ = h.world.account("personal")
    calendar.put(replace(meeting("ical-1", NOW + timedelta(days=1, hours=6)),
                         provider_id="evt-42"))
    assert [r.kind for r in h.cycle().drafted] == ["confirmation"]
    calendar.events.pop("ical-1")
    calendar.version += 1
    calendar.removed_ids["evt-42"] = calendar.version
    h.now = NOW + timedelta(days=1, hours=8)  # after the meeting: no thank-you may follow
    report = h.cycle()
    assert report.drafted == []
    assert Store(h.settings.state_path).interviews()[0].meeting.cancelled


@pytest.mark.parametrize("news", ["removed", "removed by provider id", "untagged"])
def test_later_news_of_a_meeting_in_the_same_listing_wins(tmp_path: Path, news: str) -> None:
    # tagged meetings are stored together: news of one of them must come after it, not before
    h = Harness(tmp_path)
    calendar, _ = h.world.account("personal")
    tagged = replace(meeting("m1", NOW + timedelta(days=5)), provider_id="evt-1")
    calendar.put(tagged)
    later: dict[str, Change] = {"removed": Removed("m1"),
                                "removed by provider id": Removed(provider_id="evt-1"),
                                "untagged": replace(tagged, title="Lunch with Ana")}
    calendar.then = [later[news]]
    h.cycle()
    stored = Store(h.settings.state_path).interviews()
    assert [iv.meeting.cancelled for iv in stored] == ([] if news == "untagged" else [True])


def test_one_failing_account_does_not_stop_the_others(tmp_path: Path) -> None:
    h = Harness(tmp_path, ("work", "personal", "school"))
    for name in ("work", "personal", "school"):
        calendar, _ = h.world.account(name)
        calendar.put(meeting(f"{name}-1", NOW - timedelta(hours=2), contact=f"c@{name}.org"))
    h.world.calendars["work"].fail_with = AuthError("run `coffeechat auth google --account work`")
    h.world.refuse_open["school"] = TransientError("network is unreachable")
    report = h.cycle()
    outcomes = {a.name: a for a in report.accounts}
    assert not report.ok
    assert outcomes["personal"].ok and len(outcomes["personal"].drafted) == 1
    assert not outcomes["work"].ok and "coffeechat auth google" in outcomes["work"].message
    assert not outcomes["school"].ok and "unreachable" in outcomes["school"].message
    assert outcomes["work"].needs_auth and not outcomes["school"].needs_auth
    h.world.calendars["work"].fail_with = None
    del h.world.refuse_open["school"]
    later = h.cycle()
    assert later.ok and sorted(r.account for r in later.drafted) == ["school", "work"]


def test_an_expired_cursor_means_a_full_sync_without_new_drafts(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    h.cycle()
    calendar.expire_cursor = True
    report = h.cycle()
    assert report.ok and report.drafted == []
    assert calendar.full_syncs == 2
    assert len(drafts.messages) == 1


@pytest.mark.parametrize("when", ["crash_before_create", "crash_after_create"])
def test_a_crash_around_create_leaves_neither_duplicate_nor_loss(tmp_path: Path,
                                                                 when: str) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    for i in range(3):
        calendar.put(meeting(f"m{i}", NOW - timedelta(hours=2), contact=f"c{i}@example.org"))
    setattr(drafts, when, True)
    with pytest.raises(Crash):
        h.cycle()
    pending = [r for r in Store(h.settings.state_path).drafts().values()
               if r.state == "creating"]
    assert len(pending) == 1  # the intent reached the disk before the provider call
    setattr(drafts, when, False)
    report = h.cycle()
    assert report.ok
    assert drafts.keys() == sorted(f"m{i}/thank_you/c{i}@example.org" for i in range(3))
    assert {r.state for r in Store(h.settings.state_path).drafts().values()} == {"created"}


def test_after_a_crash_a_draft_that_only_carries_the_key_is_not_adopted(tmp_path: Path
                                                                        ) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    drafts.crash_before_create = True
    with pytest.raises(Crash):
        h.cycle()
    [pending] = Store(h.settings.state_path).drafts().values()
    assert pending.state == "creating" and pending.message_id.startswith("<")
    # Meanwhile a copy of some other message got the key (a forged or copied file).
    forged = (f"From: someone@example.net\nTo: sam@example.com\nSubject: Not ours\n"
              f"Message-ID: <copy@example.net>\n{KEY_HEADER}: {pending.key}\n\nHello\n"
              ).encode()
    drafts.messages["forged"] = forged
    drafts.crash_before_create = False
    assert h.cycle().ok
    [record] = Store(h.settings.state_path).drafts().values()
    assert record.state == "created" and record.ref is not None
    assert record.ref.id != "forged"  # our own draft was written, and it is the one recorded
    assert str(drafts.parse(record.ref.id)["Message-ID"]) == record.message_id
    assert drafts.messages["forged"] == forged


def test_a_provider_error_on_create_is_retried_next_cycle(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    drafts.fail_create = TransientError("503 from the server")
    report = h.cycle()
    assert not report.ok and "503" in report.accounts[0].message
    drafts.fail_create = None
    assert [r.key for r in h.cycle().drafted] == ["m1/thank_you/ana@example.org"]
    assert len(drafts.messages) == 1


def test_a_broken_override_template_makes_no_draft_and_names_the_file(tmp_path: Path) -> None:
    overrides = tmp_path / "mine"
    overrides.mkdir()
    (overrides / "thank_you.txt").write_text("Subject: Thanks {{ nope }}\n\nHi\n")
    h = Harness(tmp_path)
    h.settings = settings(tmp_path, templates=overrides)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    report = h.cycle()
    assert not report.ok
    problem = report.accounts[0].problems[0]
    assert "thank_you.txt" in problem and "line 1" in problem
    assert drafts.messages == {}
    assert Store(h.settings.state_path).drafts() == {}


def test_hostile_event_text_cannot_add_headers_or_recipients(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    evil = "Chat\r\nBcc: spy@evil.example =?utf-8?q?=0ABcc:_spy2@evil.example?= {{ 7*7 }}"
    calendar.put(meeting("m1", NOW - timedelta(hours=2), title=f"#infointerview {evil}",
                         description=f"{evil}\nNotes: {{{{ 7*7 }}}}"))
    report = h.cycle()
    assert report.ok and len(report.drafted) == 1
    raw = next(iter(drafts.messages.values()))
    message = drafts.parse(next(iter(drafts.messages)))
    assert message.get_all("Bcc") is None
    header_lines = raw.split(b"\n\n", 1)[0].splitlines()
    assert not [line for line in header_lines if line.lower().startswith(b"bcc")]
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org"]
    assert "{{ 7*7 }}" in message.get_content()
    assert "49" not in message.get_content()


def test_a_listing_that_fails_partway_stores_none_of_it(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2)))
    calendar.put(meeting("m2", NOW - timedelta(hours=3), contact="bo@example.org"))
    calendar.fail_with, calendar.fail_after = TransientError("connection reset"), 1
    report = h.cycle()
    assert not report.ok and report.drafted == []
    store = Store(h.settings.state_path)
    assert store.interviews() == [] and store.cursor("personal") is None
    calendar.fail_with = None
    report = h.cycle()
    assert report.ok and len(report.drafted) == 2 and len(drafts.messages) == 2
