"""The contract suite run against the Google connector, talking to the fake Google API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import CalendarSource, ConnectorEnv, DraftBox
from connectors.google.calendar import GoogleCalendar
from connectors.google.gmail import GmailDrafts
from daemon.model import DraftRef
from tests.fakes.google import FakeGoogle, event_json, fast_session, running

from .calendar_contract import CalendarContract
from .drafts_contract import DraftBoxContract
from .events import CalendarWorld, EventSpec, expected_meetings

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
        self._source = GoogleCalendar(fast_session(fake), env)

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
