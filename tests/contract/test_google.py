"""The contract suite run against the Google connector, talking to the fake Google API."""

from __future__ import annotations

import email.policy
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import CalendarSource, ConnectorEnv, DraftBox, MailHistory
from connectors.google.calendar import GoogleCalendar
from connectors.google.drafts import GmailDrafts
from connectors.google.history import GmailHistory
from daemon.core.model import DraftRef, ThreadRef
from tests.fakes.google import FakeGoogle, event_json, fast_session, running

from .calendar_contract import CalendarContract
from .drafts_contract import DraftBoxContract
from .events import CalendarWorld, EventSpec, expected_meetings
from .mail_contract import DANA, ME, SINCE, T0, Headers, MailHistoryContract, close_to

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)
_STATUS = {"accepted": "accepted", "declined": "declined", "tentative": "tentative",
           "needs_action": "needsAction"}


def google_events(spec: EventSpec) -> list[dict[str, Any]]:
    """The Google events (one per occurrence, as singleEvents=true lists them) for a spec."""
    base = "e" + hashlib.sha1(spec.uid.encode()).hexdigest()[:20]
    extra: dict[str, Any] = {}
    if spec.description:
        extra["description"] = spec.description
    if spec.location:
        extra["location"] = spec.location
    if spec.organizer is not None:
        extra["organizer"] = {"email": spec.organizer[0], "displayName": spec.organizer[1]}
    if spec.attendees:
        extra["attendees"] = [{"email": a, "displayName": n, "responseStatus": _STATUS[r]}
                              for a, n, r in spec.attendees]
    if spec.cancelled:
        extra["status"] = "cancelled"
    if spec.rrule is None:
        return [event_json(base, spec.uid, spec.title, spec.start, spec.end, **extra)]
    result = []
    for occurrence in expected_meetings(spec):
        stamp = occurrence.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        original = {"dateTime": occurrence.start.isoformat(), "timeZone": ZONE.key}
        result.append(event_json(f"{base}_{stamp}", spec.uid, spec.title, occurrence.start,
                                 occurrence.end, recurringEventId=base,
                                 originalStartTime=original, **extra))
    return result


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with running(page_size=2) as server:
        yield server


class GoogleWorld(CalendarWorld):
    """A Google calendar in the fake, read by GoogleCalendar (pages of two events)."""

    supports_categories = False

    def __init__(self, fake: FakeGoogle, now: datetime, data_dir: Path) -> None:
        super().__init__(now)
        self.fake = fake
        self.ids: dict[str, list[str]] = {}
        env = ConnectorEnv(timezone=ZONE, clock=lambda: now, data_dir=data_dir)
        self._source = GoogleCalendar(fast_session(fake), env, calendar_id="primary",
                                      history_days=400)

    @property
    def source(self) -> CalendarSource:
        return self._source

    def put(self, event: EventSpec) -> None:
        items = google_events(event)
        self.ids[event.uid] = [item["id"] for item in items]
        for item in items:
            self.fake.put_event(item)

    def remove(self, uid: str) -> None:
        for event_id in self.ids.pop(uid):
            self.fake.delete_event(event_id, keep_uid=True)


class TestGoogleCalendar(CalendarContract):
    @pytest.fixture
    def world(self, fake: FakeGoogle, tmp_path: Path) -> CalendarWorld:
        return GoogleWorld(fake, NOW, tmp_path)


class TestGoogleDrafts(DraftBoxContract):
    server: FakeGoogle

    @pytest.fixture
    def box(self, fake: FakeGoogle) -> Iterator[DraftBox]:
        self.server = fake
        yield GmailDrafts(fast_session(fake))
        assert fake.send_requests() == [], "a send endpoint was called"
        assert all(r.body.get("message", {}).get("raw") for r in fake.calls("POST", "/drafts"))

    def user_edits(self, ref: DraftRef) -> None:
        self.server.user_edits_draft(ref.id)

    def user_deletes(self, ref: DraftRef) -> None:
        self.server.user_deletes_draft(ref.id)

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        return self.server.draft_message(ref.id)

    def reopen(self, box: DraftBox) -> DraftBox:
        return GmailDrafts(fast_session(self.server))

    def known_thread(self) -> ThreadRef:
        message = mime("Dana Whitfield <dana.whitfield@example.org>", ME, "Coffee next week?",
                       "<first-chat@example.org>", NOW - timedelta(days=2),
                       references=("<intro@example.net>",))
        stored = self.server.put_message(message, NOW - timedelta(days=2))
        return ThreadRef(message_id="<first-chat@example.org>", subject="Coffee next week?",
                         references=("<intro@example.net>",), thread_id=stored.thread_id,
                         provider_message_id=stored.id)

    def in_same_conversation(self, ref: DraftRef, thread: ThreadRef) -> bool:
        return self.server.drafts[ref.id].thread_id == thread.thread_id


def mime(sender: str, to: str, subject: str, message_id: str, at: datetime, *,
         references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
         headers: Headers = ()) -> bytes:
    """A message as it sits in a Gmail mailbox (RFC 5322 bytes), ``headers`` last."""
    message = EmailMessage(policy=email.policy.default)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(at)
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    for name, value in headers:
        message[name] = value
    message.set_content("Hello,\n\nA short note.\n")
    return message.as_bytes()


class TestGmailHistory(MailHistoryContract):
    server: FakeGoogle

    @pytest.fixture
    def mail(self, fake: FakeGoogle) -> Iterator[MailHistory]:
        self.server = fake
        fake.me = (ME,)
        yield GmailHistory(fast_session(fake))
        assert fake.send_requests() == [], "a send endpoint was called"
        assert [r for r in fake.calls() if r.method != "GET"] == [], "the mailbox was changed"

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        self.server.put_message(mime(sender, ME, subject, message_id, at, references=references,
                                     cc=cc, headers=headers), at, ("INBOX", "UNREAD"))

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        self.server.put_message(mime(f"Sam Ortiz <{ME}>", to, subject, message_id, at,
                                     references=references, cc=cc), at, ("SENT",))

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        self.server.add_draft(mime(f"Sam Ortiz <{ME}>", to, subject, message_id, at), at)

    def test_the_marks_of_automatic_mail_come_with_the_headers_already_read(
            self, mail: MailHistory) -> None:
        self.receive(DANA, T0, "Re: Thank you", "<dana-real@example.org>")
        self.receive(DANA, T0 + timedelta(days=1), "Out of office", "<dana-oof@example.org>",
                     headers=(("Auto-Submitted", "auto-replied"),))
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0)
        reads = [r for r in self.server.calls("GET") if r.path.count("/messages/") == 1]
        # One read per message looked at (the auto-reply, then the answer): no extra request.
        assert len(reads) == 2
        assert {"Auto-Submitted", "Precedence", "List-Id"} <= set(reads[0].query["metadataHeaders"])
