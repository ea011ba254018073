"""The contract suite run against the Outlook connector, talking HTTP to the fake Graph."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import CalendarSource, ConnectorEnv, DraftBox, MailHistory
from connectors.outlook.calendar import GraphCalendar
from connectors.outlook.client import GraphClient
from connectors.outlook.drafts import GraphDrafts
from connectors.outlook.history import GraphHistory
from connectors.retry import Backoff
from daemon.core.model import DraftRef, ThreadRef
from tests.fakes.graph import FakeGraph, StaticTokens, add_series, as_email, make_event, running

from .calendar_contract import CalendarContract
from .drafts_contract import DraftBoxContract
from .events import CalendarWorld, EventSpec
from .mail_contract import DANA, ME, SINCE, T0, Headers, MailHistoryContract, close_to

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)
FAST = Backoff(attempts=3, base=0.01, cap=0.05)


def client_for(fake: FakeGraph, timeout: float = 2.0) -> GraphClient:
    """A client of the fake that never sleeps long between retries."""
    return GraphClient(fake.root, StaticTokens(fake.token), account="work", timeout=timeout,
                       backoff=FAST, sleep=lambda seconds: None)


def graph_event(spec: EventSpec, start: datetime | None = None,
                event_id: str | None = None) -> dict[str, object]:
    """The Graph form of an EventSpec (one occurrence when ``start`` is given)."""
    begin = start or spec.start
    return make_event(spec.uid, spec.title, begin, begin + (spec.end - spec.start),
                      description=spec.description, location=spec.location,
                      organizer=spec.organizer,
                      is_organizer=spec.organizer is not None
                      and spec.organizer[0] == "sam@example.com",
                      attendees=spec.attendees, categories=spec.categories,
                      cancelled=spec.cancelled, event_id=event_id)


class OutlookWorld(CalendarWorld):
    """The fake Graph's calendar; a changed event keeps its Graph ids, as in Outlook."""

    def __init__(self, fake: FakeGraph, now: datetime, data_dir: Path) -> None:
        super().__init__(now)
        self.fake = fake
        self._ids: dict[str, list[str]] = {}
        self._masters: dict[str, str] = {}
        env = ConnectorEnv(timezone=ZONE, clock=lambda: now, data_dir=data_dir)
        self._source = GraphCalendar(client_for(fake), env, history_days=400, horizon_days=365,
                                     page_size=3)

    @property
    def source(self) -> CalendarSource:
        return self._source

    def put(self, event: EventSpec) -> None:
        old = self._ids.get(event.uid, [])
        if event.rrule is None:
            stored = self.fake.put_event(graph_event(event, event_id=old[0] if old else None))
            self._ids[event.uid] = [stored["id"]]
            return
        parts = dict(p.split("=", 1) for p in event.rrule.upper().split(";"))
        step = {"DAILY": 1, "WEEKLY": 7}[parts["FREQ"]] * int(parts.get("INTERVAL", "1"))
        starts = [event.start + timedelta(days=n * step) for n in range(int(parts["COUNT"]))]
        master, occurrences = add_series(
            self.fake, graph_event(event), starts, master_id=self._masters.get(event.uid),
            occurrence_ids=old if len(old) == len(starts) else None)
        self._masters[event.uid] = master["id"]
        self._ids[event.uid] = [o["id"] for o in occurrences]

    def remove(self, uid: str) -> None:
        for event_id in self._ids.pop(uid, []):
            self.fake.delete_event(event_id)
        master = self._masters.pop(uid, None)
        if master is not None:
            self.fake.delete_master(master)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []


class TestOutlookCalendar(CalendarContract):
    @pytest.fixture
    def world(self, fake: FakeGraph, tmp_path: Path) -> CalendarWorld:
        return OutlookWorld(fake, NOW, tmp_path)


class TestOutlookDrafts(DraftBoxContract):
    server: FakeGraph

    @pytest.fixture
    def box(self, fake: FakeGraph) -> DraftBox:
        self.server = fake
        return GraphDrafts(client_for(fake))

    def user_edits(self, ref: DraftRef) -> None:
        self.server.user_edits(ref.id)

    def user_deletes(self, ref: DraftRef) -> None:
        self.server.user_deletes(ref.id)

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        item = self.server.message(ref.id)
        assert item is not None
        return as_email(item)

    def reopen(self, box: DraftBox) -> DraftBox:
        return GraphDrafts(client_for(self.server))

    def known_thread(self) -> ThreadRef:
        """A message Dana sent, in the Inbox, replying to an earlier one of Sam's."""
        self.server.put_mail("sentitems", to=["dana.whitfield@example.org"],
                             subject="Introduction", message_id="<intro@example.net>",
                             at=NOW - timedelta(days=9))
        item = self.server.put_mail("inbox", sender="dana.whitfield@example.org",
                                    to=["sam@example.com"], subject="Coffee next week?",
                                    message_id="<first-chat@example.org>",
                                    references=("<intro@example.net>",),
                                    at=NOW - timedelta(days=8))
        return ThreadRef(message_id=item["internetMessageId"], subject=item["subject"],
                         references=("<intro@example.net>",),
                         thread_id=item["conversationId"], provider_message_id=item["id"])

    def in_same_conversation(self, ref: DraftRef, thread: ThreadRef) -> bool:
        item = self.server.message(ref.id)
        return item is not None and item["conversationId"] == thread.thread_id


class TestOutlookMail(MailHistoryContract):
    server: FakeGraph

    @pytest.fixture
    def mail(self, fake: FakeGraph) -> MailHistory:
        self.server = fake
        return GraphHistory(client_for(fake))

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        self.server.put_mail("inbox", sender=sender, to=[ME], cc=cc, subject=subject,
                             message_id=message_id, references=references, at=at,
                             headers=headers)

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        self.server.put_mail("sentitems", to=[to], cc=cc, subject=subject,
                             message_id=message_id, references=references, at=at)

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        self.server.put_mail("drafts", to=[to], subject=subject, message_id=message_id, at=at)

    def test_an_out_of_office_reply_from_a_colleague_is_no_answer(self,
                                                                  mail: MailHistory) -> None:
        # Within one organisation Exchange marks it by its message class, not by a header.
        self.receive(DANA, T0, "Re: Thank you", "<dana-real@example.org>")
        self.server.put_mail("inbox", sender=DANA, to=[ME], subject="Automatic reply: Hello",
                             message_id="<dana-oof@example.org>", at=T0 + timedelta(days=2),
                             message_class="IPM.Note.Rules.OofTemplate.Microsoft")
        before = len(self.server.requested("GET", "/me/messages"))
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0)
        # Headers and message class come with the one request for the contact's mail.
        from_contact = self.server.requested("GET", "/me/messages")[before:]
        assert len(from_contact) == 1
        assert "String 0x001A" in from_contact[0].query["$expand"][0]
        assert "internetMessageHeaders" in from_contact[0].query["$select"][0]
