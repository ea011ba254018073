"""The contract suite run against the in-memory doubles of :mod:`tests.memory`, as vdirsyncer
runs its memory storage through ``StorageTests``: the cycle tests built on the doubles prove
something only while the doubles behave as the real connectors do.

Every contract test applies to the doubles; none is skipped. What the hooks do in place of a
provider: a world's event becomes :class:`~daemon.core.model.Meeting` values put into the
:class:`~tests.memory.MemoryCalendar` (one per occurrence of a series, as a connector expands
it); a user's edit or deletion changes the :class:`~tests.memory.MemoryDrafts` bytes; and
:class:`~tests.memory.MemoryMail` is given each message as it sits in a mailbox. A double
has no provider data to map, so for the calendar the suite checks what the cycle tests lean on:
the cursor (news since it, nothing twice, removals, a full sync again); the mapping checks pass
by construction.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from connectors.base import CalendarSource, DraftBox, MailHistory
from daemon.core.model import Attendee, DraftRef, Meeting
from tests.memory import MemoryCalendar, MemoryDrafts, MemoryMail

from .calendar_contract import CalendarContract
from .drafts_contract import DraftBoxContract
from .events import CalendarWorld, EventSpec, expected_meetings
from .mail_contract import Headers, MailHistoryContract

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)


def meetings_for(spec: EventSpec) -> list[Meeting]:
    """The meetings a connector maps ``spec`` to: one per occurrence, each with every field."""
    organizer = None if spec.organizer is None else Attendee(*spec.organizer)
    return [Meeting(uid=e.uid, title=spec.title, start=e.start, end=e.end, source="memory",
                    description=spec.description, location=spec.location,
                    organizer=organizer,
                    attendees=tuple(Attendee(a, n, r) for a, n, r in spec.attendees),
                    categories=spec.categories, cancelled=spec.cancelled)
            for e in expected_meetings(spec)]


class MemoryWorld(CalendarWorld):
    """A :class:`MemoryCalendar`, edited the way a test edits it (``put`` and ``delete``)."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.calendar = MemoryCalendar()
        self.uids: dict[str, list[str]] = {}
        """The meeting uids each event was put as (its occurrences, for a series)."""

    @property
    def source(self) -> CalendarSource:
        return self.calendar

    def put(self, event: EventSpec) -> None:
        meetings = meetings_for(event)
        for gone in set(self.uids.get(event.uid, ())) - {m.uid for m in meetings}:
            self.calendar.delete(gone)
        for meeting in meetings:
            self.calendar.put(meeting)
        self.uids[event.uid] = [m.uid for m in meetings]

    def remove(self, uid: str) -> None:
        for meeting_uid in self.uids.pop(uid):
            self.calendar.delete(meeting_uid)


class TestMemoryCalendar(CalendarContract):
    @pytest.fixture
    def world(self) -> CalendarWorld:
        return MemoryWorld(NOW)


class TestMemoryDrafts(DraftBoxContract):
    drafts: MemoryDrafts

    @pytest.fixture
    def box(self) -> DraftBox:
        self.drafts = MemoryDrafts()
        return self.drafts

    def user_edits(self, ref: DraftRef) -> None:
        self.drafts.user_edits(ref.id)

    def user_deletes(self, ref: DraftRef) -> None:
        del self.drafts.messages[ref.id]

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        return self.drafts.parse(ref.id)


class TestMemoryMail(MailHistoryContract):
    box: MemoryMail

    @pytest.fixture
    def mail(self) -> MailHistory:
        self.box = MemoryMail()
        return self.box

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        self.box.add(sender, at, from_contact=True, message_id=message_id, subject=subject,
                     references=references, headers=headers)

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        self.box.add(to, at, from_contact=False, message_id=message_id, subject=subject,
                     references=references, cc=cc)

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        self.box.add(to, at, from_contact=False, message_id=message_id, subject=subject,
                     draft=True)
