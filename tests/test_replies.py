"""Reply detection through whole cycles: no thank-you after the user already wrote, the
catch-up clock reset by any exchange, pausing after unanswered catch-ups, and replies in the
conversation. Without reply detection nothing of this applies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.app.queries import snapshot
from daemon.core.errors import AuthError
from daemon.core.model import (
    Attendee,
    ContactMail,
    ContactPrefs,
    DraftSpec,
    MailSeen,
    Meeting,
    Person,
    Plan,
    ThreadRef,
)
from daemon.cycle.replies import wanted
from daemon.cycle.run import CycleReport
from daemon.settings.config import Settings
from daemon.state.store import Store
from tests.memory import Harness as MemoryHarness
from tests.memory import memory_settings

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # a Monday, 09:00 in Chicago
ZONE = ZoneInfo("America/Chicago")
ANA = "ana@example.org"


def config(tmp_path: Path, reply_detection: bool = True) -> Settings:
    return memory_settings(tmp_path, reply_detection=reply_detection, working_hours="any")


def meeting(uid: str, start: datetime) -> Meeting:
    return Meeting(uid=uid, title="Coffee chat with Ana", start=start,
                   end=start + timedelta(minutes=30),
                   attendees=(Attendee("sam@example.com", "Sam Rivera", "accepted", True),
                              Attendee(ANA, "Ana Li", "accepted")))


class Harness(MemoryHarness):
    def __init__(self, tmp_path: Path, reply_detection: bool = True) -> None:
        super().__init__(config(tmp_path, reply_detection), NOW)
        self.world.mail["personal"] = self.mail

    def kinds(self, report: CycleReport) -> list[str]:
        return [r.kind for r in report.drafted]

    def send_all_drafts(self) -> None:
        """The user sends every draft: it leaves Drafts and shows in the mailbox."""
        for ident in list(self.box.messages):
            message = self.box.parse(ident)
            self.mail.add(ANA, self.now, from_contact=False,
                          message_id=str(message["Message-ID"]),
                          subject=str(message["Subject"]))
            del self.box.messages[ident]


def test_no_thank_you_when_the_user_already_wrote(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.mail.add(ANA, NOW - timedelta(hours=2), from_contact=False, subject="Thanks!")
    assert h.kinds(h.cycle()) == []
    reasons = {s.key: s.reason for s in snapshot(h.settings, NOW).plan.skipped}
    assert "you already wrote to them since the meeting" in reasons[f"m1/thank_you/{ANA}"]
    assert h.mail.asked == [(ANA,)]


def test_the_thank_you_is_drafted_when_nothing_was_written(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.mail.add(ANA, NOW - timedelta(days=3), from_contact=False)  # before the meeting
    assert h.kinds(h.cycle()) == ["thank_you"]


def test_without_reply_detection_the_calendar_alone_counts(tmp_path: Path) -> None:
    h = Harness(tmp_path, reply_detection=False)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.mail.add(ANA, NOW - timedelta(hours=2), from_contact=False)
    h.world.mail.clear()
    assert h.kinds(h.cycle()) == ["thank_you"]


def test_the_mailbox_is_asked_at_most_hourly_about_a_contact() -> None:
    spec = DraftSpec(f"m1/thank_you/{ANA}", "thank_you", Person(ANA, "Ana Li"), "personal",
                     "m1", NOW, "thank-you")
    current = Plan(due=(spec,), upcoming=(), skipped=())
    assert wanted(current, {}, [], ["personal"], NOW) == {"personal": {ANA}}
    seen = [("personal", ContactMail(ANA), NOW - timedelta(minutes=59))]
    assert wanted(current, {}, seen, ["personal"], NOW) == {}
    seen = [("personal", ContactMail(ANA), NOW - timedelta(minutes=60))]
    assert wanted(current, {}, seen, ["personal"], NOW) == {"personal": {ANA}}
    paused = {ANA: ContactPrefs(ANA, "paused", reason="no answer", since=NOW)}
    idle = replace(current, due=())
    seen = [("personal", ContactMail(ANA), NOW - timedelta(hours=23))]
    assert wanted(idle, paused, seen, ["personal"], NOW) == {}
    seen = [("personal", ContactMail(ANA), NOW - timedelta(hours=24))]
    assert wanted(idle, paused, seen, ["personal"], NOW) == {"personal": {ANA}}


def test_an_exchange_resets_the_catch_up_clock(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(days=200)))
    h.mail.add(ANA, NOW - timedelta(days=10), from_contact=True, subject="Job news")
    assert h.kinds(h.cycle()) == []
    upcoming = {s.kind: s for s in snapshot(h.settings, NOW).plan.upcoming}
    assert upcoming["catch_up"].due.date() == (NOW + timedelta(days=80)).date()
    assert "your last email with them" in upcoming["catch_up"].reason


def test_catch_ups_reply_in_the_last_conversation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(days=200)))
    thread = h.mail.add(ANA, NOW - timedelta(days=100), from_contact=True,
                        message_id="<ana-42@example.org>", subject="Great meeting you")
    report = h.cycle()
    assert h.kinds(report) == ["catch_up"]
    ident = report.drafted[0].ref.id  # type: ignore[union-attr]
    message = h.box.parse(ident)
    assert str(message["In-Reply-To"]) == "<ana-42@example.org>"
    assert str(message["Subject"]) == "Re: Great meeting you"
    assert h.box.replies[ident] == thread


def test_the_follow_up_replies_in_the_thank_you_conversation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    assert h.kinds(h.cycle()) == ["thank_you"]
    h.send_all_drafts()
    h.now += timedelta(days=30)
    report = h.cycle()
    assert h.kinds(report) == ["follow_up"]
    message = h.box.parse(report.drafted[0].ref.id)  # type: ignore[union-attr]
    assert str(message["Subject"]).startswith("Re: Thank you")
    assert message["In-Reply-To"] is not None


def test_two_unanswered_catch_ups_pause_the_contact_until_they_write(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(days=200)))
    for _ in range(2):
        assert h.kinds(h.cycle()) == ["catch_up"]
        h.send_all_drafts()
        h.now += timedelta(days=1)
        h.cycle()  # looks at the draft: it is gone (sent)
        h.now += timedelta(days=90)
    assert h.kinds(h.cycle()) == []
    assert h.box.messages == {}
    pref = Store(h.settings.state_path).prefs()[ANA]
    assert pref.status == "paused" and "no answer to your last 2 catch-ups" in pref.reason
    reasons = {s.contact: s.reason for s in snapshot(h.settings, h.now).plan.skipped
               if s.kind == "catch_up"}
    assert "coffeechat paused this contact" in reasons[ANA]

    h.mail.add(ANA, h.now + timedelta(hours=1), from_contact=True, subject="Sorry, busy!")
    h.now += timedelta(days=1, hours=2)
    h.cycle()
    assert Store(h.settings.state_path).prefs()[ANA].status == "active"


def test_an_unreadable_mailbox_fails_the_account_and_writes_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.mail.fail_with = AuthError("personal: reading mail needs permission; run coffeechat "
                                 "auth again")
    report = h.cycle()
    assert not report.ok and report.accounts[0].needs_auth
    assert h.box.messages == {}
    h.mail.fail_with = None
    assert h.kinds(h.cycle()) == ["thank_you"]


def test_mail_kept_from_before_is_ignored_once_reply_detection_is_off(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.mail.add(ANA, NOW - timedelta(hours=2), from_contact=False)
    assert h.kinds(h.cycle()) == []
    off = config(tmp_path, reply_detection=False)
    h.settings = replace(off, state_path=h.settings.state_path)
    h.world.mail.clear()
    assert h.kinds(h.cycle()) == ["thank_you"]


def test_no_reply_into_a_conversation_once_reply_detection_is_off(tmp_path: Path) -> None:
    h = Harness(tmp_path, reply_detection=False)
    h.world.mail.clear()
    h.calendar.put(meeting("m1", NOW - timedelta(days=200)))
    kept = Store(h.settings.state_path, writable=True)  # seen while it was still on
    thread = ThreadRef(message_id="<ana-42@example.org>", subject="Great meeting you")
    kept.put_mail("personal", ContactMail(ANA, MailSeen(NOW - timedelta(days=100), thread)),
                  NOW - timedelta(days=100))
    kept.flush()
    report = h.cycle()
    assert h.kinds(report) == ["catch_up"]
    message = h.box.parse(report.drafted[0].ref.id)  # type: ignore[union-attr]
    assert message["In-Reply-To"] is None and h.box.replies == {}
