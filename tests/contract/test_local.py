"""The contract suite run against the local connector: a vdir in tmp_path, a Maildir as
Drafts, and Maildir folders (INBOX, Sent, Drafts under one mail root) as the mail history."""

from __future__ import annotations

import email
import email.policy
import email.utils
import itertools
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.base import CalendarSource, ConnectorEnv, DraftBox, MailHistory
from connectors.local.calendar import VdirCalendar
from connectors.local.drafts import MaildirDrafts
from connectors.local.history import MaildirHistory
from daemon.core.model import DraftRef, Response
from tests.vdir import save

from .calendar_contract import CalendarContract
from .drafts_contract import DraftBoxContract
from .events import CalendarWorld, EventSpec, safe_name
from .mail_contract import ME, Headers, MailHistoryContract

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)
_PARTSTAT: dict[Response, str] = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
    "needs_action": "NEEDS-ACTION",
}


def ics_for(event: EventSpec) -> bytes:
    """Serialise an EventSpec the way a calendar app would write one event per vdir file."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//coffeechat//contract tests//EN")
    calendar.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", datetime(2026, 3, 1, tzinfo=UTC))
    vevent.add("summary", event.title)
    vevent.add("dtstart", event.start)
    vevent.add("dtend", event.end)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.organizer is not None:
        organizer = icalendar.vCalAddress(f"mailto:{event.organizer[0]}")
        organizer.params["CN"] = event.organizer[1]
        vevent.add("organizer", organizer)
    for address, name, response in event.attendees:
        attendee = icalendar.vCalAddress(f"mailto:{address}")
        attendee.params["CN"] = name
        attendee.params["PARTSTAT"] = _PARTSTAT[response]
        vevent.add("attendee", attendee)
    if event.categories:
        vevent.add("categories", list(event.categories))
    if event.cancelled:
        vevent.add("status", "CANCELLED")
    if event.rrule is not None:
        vevent.add("rrule", icalendar.vRecur.from_ical(event.rrule))
    calendar.add_component(vevent)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


class LocalWorld(CalendarWorld):
    """A vdir: one .ics file per event. Every write gets a later mtime, set explicitly, so a
    change is visible even within one second and even when the size stays the same."""

    def __init__(self, folder: Path, now: datetime) -> None:
        super().__init__(now)
        self.folder = folder
        self._tick = 1_770_000_000 * 10**9
        self._source = VdirCalendar(
            folder, ConnectorEnv(timezone=ZONE, clock=lambda: now, data_dir=folder.parent))

    @property
    def source(self) -> CalendarSource:
        return self._source

    def path(self, uid: str) -> Path:
        return self.folder / f"{safe_name(uid)}.ics"

    def put(self, event: EventSpec) -> None:
        self._tick += 10**9
        save(self.path(event.uid), ics_for(event), self._tick)

    def remove(self, uid: str) -> None:
        self.path(uid).unlink()


class TestLocalCalendar(CalendarContract):
    @pytest.fixture
    def world(self, tmp_path: Path) -> CalendarWorld:
        folder = tmp_path / "calendar"
        folder.mkdir()
        return LocalWorld(folder, NOW)


class TestLocalDrafts(DraftBoxContract):
    folder: Path

    @pytest.fixture
    def box(self, tmp_path: Path) -> DraftBox:
        self.folder = tmp_path / "Drafts"
        return MaildirDrafts(self.folder)

    def _path(self, ref: DraftRef) -> Path:
        matches = [p for p in (self.folder / "cur").iterdir() if p.name.startswith(ref.id + ":")]
        assert len(matches) == 1
        return matches[0]

    def user_edits(self, ref: DraftRef) -> None:
        path = self._path(ref)
        path.write_bytes(path.read_bytes() + b"\nP.S. I loved the archive tour.\n")

    def user_deletes(self, ref: DraftRef) -> None:
        # mutt marks a deleted message T (trashed) and removes it later, on expunge.
        path = self._path(ref)
        path.rename(path.with_name(path.name + "T"))

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        parsed = email.message_from_bytes(self._path(ref).read_bytes(),
                                          policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def reopen(self, box: DraftBox) -> DraftBox:
        return MaildirDrafts(self.folder)


# --- mail history: real Maildir files -------------------------------------------------------

_UNIQUE = itertools.count(1)


def mail_bytes(sender: str, to: Iterable[str], at: datetime | None, subject: str,
               message_id: str | None, references: Iterable[str] = (),
               cc: Iterable[str] = (), headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A message as a mail client writes it: headers (``headers`` last) and a short body."""
    message = EmailMessage(policy=email.policy.default)
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    if at is not None:
        message["Date"] = email.utils.format_datetime(at)
    if message_id is not None:
        message["Message-ID"] = message_id
    refs = tuple(references)
    if refs:
        message["References"] = " ".join(refs)
        message["In-Reply-To"] = refs[-1]
    for name, value in headers:
        message[name] = value
    message.set_content("Hello,\n\nA few lines of text.\n")
    return message.as_bytes()


def drop(folder: Path, data: bytes, mtime: datetime, flags: str = "S",
         part: str = "cur") -> Path:
    """Deliver ``data`` into the Maildir ``folder`` the way a sync tool does: a unique name
    (``:2,FLAGS`` in cur/), the file's time set to ``mtime``."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    stamp = int(mtime.timestamp())
    name = f"{stamp}.M{next(_UNIQUE)}P{os.getpid()}.test"
    if part == "cur":
        name += f":2,{flags}"
    path = folder / part / name
    path.write_bytes(data)
    os.utime(path, (stamp, stamp))
    return path


class TestLocalMail(MailHistoryContract):
    root: Path

    @pytest.fixture
    def mail(self, tmp_path: Path) -> MailHistory:
        self.root = tmp_path / "Mail"
        for folder in ("INBOX", "Sent", "Drafts"):
            for sub in ("cur", "new", "tmp"):
                (self.root / folder / sub).mkdir(parents=True)
        return MaildirHistory(self.root, [ME], drafts=self.root / "Drafts", account="home")

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        data = mail_bytes(f"Someone <{sender}>", [f"Sam <{ME}>"], at, subject, message_id,
                          references, cc, headers)
        drop(self.root / "INBOX", data, at)

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        data = mail_bytes(f"Sam <{ME}>", [to], at, subject, message_id, references, cc)
        drop(self.root / "Sent", data, at)

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        data = mail_bytes(f"Sam <{ME}>", [to], at, subject, message_id)
        drop(self.root / "Drafts", data, at, flags="DS")
