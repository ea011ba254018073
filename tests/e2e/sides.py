"""One account of each kind, as a user and their contacts change it, for end-to-end tests that
run coffeechat's cycles in-process against the real connectors.

A *side* is one provider: the local connector (a vdir, and Maildir folders for Drafts, the
inbox and sent mail), the fake Google API, the fake Microsoft Graph, or a caldav account on a
real Radicale and a real TLS Dovecot. Each side writes its
``[[accounts]]`` block, puts events in its calendar, shows what its Drafts folder holds (by
``X-Coffeechat-Key``), and does what a user does in their mail program: edit a draft, send
one, write to a contact; and what a contact does: write to the user. Every side can also tell
which conversation a draft belongs to, in its provider's own terms (a Gmail ``threadId``, a
Graph ``conversationId``, the Message-ID a Maildir message's ``References`` start from), and
whether anything ever asked the provider to send.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from daemon.core.model import KEY_HEADER, Response
from tests.contract.events import EventSpec
from tests.contract.test_local import ics_for
from tests.fakes import google as google_fake
from tests.fakes import graph as graph_fake
from tests.servers.dovecot import DRAFTS, PASSWORD, SENT, Dovecot, dovecot
from tests.servers.radicale import Account as CalDavUser
from tests.servers.radicale import start_radicale
from tests.vdir import save

ME = ("sam@example.com", "Sam Rivera")
"""The user: (address, name), as the config's ``[me]`` says."""
TOKEN = "test-token"
"""The bearer token both fakes accept, printed by each account's ``token_command``."""
_GOOGLE_STATUS = {"accepted": "accepted", "declined": "declined", "tentative": "tentative",
                  "needs_action": "needsAction"}


@dataclass(frozen=True)
class Event:
    """A tagged meeting between the user (its organizer) and one contact."""

    uid: str
    title: str
    start: datetime
    contact: tuple[str, str]
    """(name, address)"""
    minutes: int = 30
    description: str = ""
    location: str = ""
    cancelled: bool = False
    response: Response = "accepted"
    """The contact's answer to the invitation."""

    @property
    def end(self) -> datetime:
        """When the meeting ends."""
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Sent:
    """A message as the provider holds it once the user sent it."""

    message_id: str
    """Its Internet Message-ID, with angle brackets."""
    conversation: str
    """The provider's conversation it is in (see :meth:`Side.conversation`)."""


class Side(Protocol):
    """One provider's account, as the tests drive it."""

    name: str
    """The account's name in the config."""

    def account_block(self, reply_detection: bool) -> str:
        """The account's ``[[accounts]]`` TOML block."""
        ...

    def put_event(self, event: Event) -> None:
        """Create the event, or replace the one with the same uid (a change to sync)."""
        ...

    def drafts(self) -> dict[str, EmailMessage]:
        """Every draft in the Drafts folder by its key; fails on a key held twice."""
        ...

    def content(self, key: str) -> bytes:
        """What the user sees of the draft ``key``, exactly (to tell it was left alone)."""
        ...

    def edit(self, key: str) -> None:
        """The user changes the draft ``key``'s text in their mail program."""
        ...

    def send(self, key: str, at: datetime) -> Sent:
        """The user sends the draft ``key`` at ``at``: it leaves Drafts for the sent mail."""
        ...

    def user_writes(self, to: str, subject: str, message_id: str, at: datetime) -> None:
        """A message the user wrote to ``to`` outside coffeechat, sent at ``at``."""
        ...

    def contact_writes(self, sender: str, subject: str, message_id: str,
                       at: datetime) -> None:
        """A message from ``sender`` arrives in the user's inbox at ``at``."""
        ...

    def conversation(self, key: str) -> str:
        """The conversation the draft ``key`` belongs to, in the provider's terms."""
        ...

    def send_attempts(self) -> list[str]:
        """Anything that asked the provider to send (there must be nothing)."""
        ...


def mime(sender: tuple[str, str], to: str, subject: str, message_id: str,
         at: datetime) -> bytes:
    """A short plain-text message as a mail program writes it."""
    message = EmailMessage(policy=email.policy.default)
    message["From"] = f"{sender[1]} <{sender[0]}>" if sender[1] else sender[0]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id
    message.set_content("Hello,\n\nA few lines.\n")
    return message.as_bytes()


def parse(data: bytes) -> EmailMessage:
    """``data`` parsed as an RFC 5322 message."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _by_key(messages: list[tuple[str, EmailMessage]]) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for _, message in messages:
        key = str(message[KEY_HEADER] or "")
        assert key, f"a draft without {KEY_HEADER}: {message['Subject']}"
        assert key not in found, f"two drafts carry the key {key}"
        found[key] = message
    return found


# --- local: a vdir and Maildir folders -----------------------------------------------------------


class LocalSide:
    """A vdir and a mail folder (``Drafts``, ``INBOX``, ``Sent`` Maildirs) in ``root``."""

    name = "personal"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calendar = root / "calendar"
        self.mail = root / "mail"
        self.calendar.mkdir()
        for folder in ("Drafts", "INBOX", "Sent"):
            for sub in ("cur", "new", "tmp"):
                (self.mail / folder / sub).mkdir(parents=True)
        self._tick = itertools.count(1_770_000_000)
        self._unique = itertools.count(1)
        self._ours: set[str] = set()
        """Mail files the tests put in INBOX and Sent."""

    def account_block(self, reply_detection: bool) -> str:
        return (f'\n[[accounts]]\nname = "{self.name}"\nkind = "local"\n'
                f'calendar = "calendar/"\ndrafts = "mail/Drafts"\nmail = "mail"\n'
                f"reply_detection = {str(reply_detection).lower()}\n")

    def put_event(self, event: Event) -> None:
        ics = ics_for(EventSpec(
            uid=event.uid, title=event.title, start=event.start, end=event.end,
            description=event.description, location=event.location, organizer=ME,
            attendees=((event.contact[1], event.contact[0], event.response),),
            cancelled=event.cancelled))
        stamp = next(self._tick) * 10**9  # a later mtime for every write, even within 1 s
        save(self.calendar / f"{event.uid}.ics", ics, stamp)

    def _draft_files(self) -> list[Path]:
        folder = self.mail / "Drafts"
        return sorted(path for sub in ("cur", "new") for path in (folder / sub).iterdir()
                      if "T" not in path.name.rpartition(":2,")[2])

    def _file(self, key: str) -> Path:
        matches = [p for p in self._draft_files()
                   if str(parse(p.read_bytes())[KEY_HEADER]) == key]
        assert len(matches) == 1, f"{len(matches)} drafts carry the key {key}"
        return matches[0]

    def drafts(self) -> dict[str, EmailMessage]:
        return _by_key([(p.name, parse(p.read_bytes())) for p in self._draft_files()])

    def content(self, key: str) -> bytes:
        return self._file(key).read_bytes()

    def edit(self, key: str) -> None:
        path = self._file(key)
        path.write_bytes(path.read_bytes() + b"\nP.S. Looking forward to it.\n")

    def send(self, key: str, at: datetime) -> Sent:
        """Like a mail program: the message goes out dated ``at`` and is kept in Sent."""
        path = self._file(key)
        message = parse(path.read_bytes())
        del message["Date"]
        message["Date"] = format_datetime(at)
        path.unlink()
        self._drop("Sent", message.as_bytes(), at)
        message_id = str(message["Message-ID"])
        return Sent(message_id=message_id, conversation=message_id)

    def user_writes(self, to: str, subject: str, message_id: str, at: datetime) -> None:
        self._drop("Sent", mime(ME, to, subject, message_id, at), at)

    def contact_writes(self, sender: str, subject: str, message_id: str,
                       at: datetime) -> None:
        self._drop("INBOX", mime((sender, ""), f"{ME[1]} <{ME[0]}>", subject, message_id, at),
                   at)

    def _drop(self, folder: str, data: bytes, at: datetime) -> None:
        stamp = int(at.timestamp())
        path = self.mail / folder / "cur" / f"{stamp}.M{next(self._unique)}P1.test:2,S"
        path.write_bytes(data)
        os.utime(path, (stamp, stamp))
        self._ours.add(str(path))

    def conversation(self, key: str) -> str:
        """A Maildir has no conversations: mail programs thread on References, whose first
        Message-ID is the conversation's first message (the draft's own, if it has none)."""
        message = self.drafts()[key]
        references = str(message["References"] or "").split()
        return references[0] if references else str(message["Message-ID"])

    def send_attempts(self) -> list[str]:
        """There is no transport: any mail file the tests did not put in INBOX or Sent (or
        any file in ``new``) would have come from coffeechat."""
        return [str(path) for folder in ("INBOX", "Sent") for sub in ("cur", "new")
                for path in (self.mail / folder / sub).iterdir() if str(path) not in self._ours]


# --- Google: the fake Gmail and Calendar ---------------------------------------------------------


class GoogleSide:
    """An account on the fake Google API."""

    name = "gmail"

    def __init__(self, fake: google_fake.FakeGoogle) -> None:
        self.fake = fake

    def account_block(self, reply_detection: bool) -> str:
        return (f'\n[[accounts]]\nname = "{self.name}"\nkind = "google"\n'
                f'api_root = "{self.fake.api_root}"\ntoken_command = "echo {TOKEN}"\n'
                f"timeout_seconds = 5\nreply_detection = {str(reply_detection).lower()}\n")

    def put_event(self, event: Event) -> None:
        fields: dict[str, Any] = {
            "organizer": {"email": ME[0], "displayName": ME[1], "self": True},
            "attendees": [{"email": event.contact[1], "displayName": event.contact[0],
                           "responseStatus": _GOOGLE_STATUS[event.response]}],
            "status": "cancelled" if event.cancelled else "confirmed",
        }
        if event.description:
            fields["description"] = event.description
        if event.location:
            fields["location"] = event.location
        self.fake.put_event(google_fake.event_json(f"ev{event.uid}", event.uid, event.title,
                                                   event.start, event.end, **fields))

    def _id(self, key: str) -> str:
        matches = [i for i in self.fake.drafts
                   if str(self.fake.draft_message(i)[KEY_HEADER]) == key]
        assert len(matches) == 1, f"{len(matches)} drafts carry the key {key}"
        return matches[0]

    def drafts(self) -> dict[str, EmailMessage]:
        return _by_key([(i, self.fake.draft_message(i)) for i in list(self.fake.drafts)])

    def content(self, key: str) -> bytes:
        return self.fake.draft_raw(self._id(key))

    def edit(self, key: str) -> None:
        self.fake.user_edits_draft(self._id(key))

    def send(self, key: str, at: datetime) -> Sent:
        stored = self.fake.user_sends_draft(self._id(key), at)
        return Sent(message_id=str(parse(stored.raw)["Message-ID"]),
                    conversation=stored.thread_id)

    def user_writes(self, to: str, subject: str, message_id: str, at: datetime) -> None:
        self.fake.put_message(mime(ME, to, subject, message_id, at), at, ("SENT",))

    def contact_writes(self, sender: str, subject: str, message_id: str,
                       at: datetime) -> None:
        self.fake.put_message(mime((sender, ""), ME[0], subject, message_id, at), at,
                              ("INBOX", "UNREAD"))

    def conversation(self, key: str) -> str:
        return self.fake.drafts[self._id(key)].thread_id

    def send_attempts(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.fake.send_requests()]


# --- Outlook: the fake Microsoft Graph -----------------------------------------------------------


class OutlookSide:
    """An account on the fake Microsoft Graph; a changed event keeps its Graph id."""

    name = "work"

    def __init__(self, fake: graph_fake.FakeGraph) -> None:
        self.fake = fake
        self._ids: dict[str, str] = {}

    def account_block(self, reply_detection: bool) -> str:
        return (f'\n[[accounts]]\nname = "{self.name}"\nkind = "outlook"\n'
                f'graph_root = "{self.fake.root}"\ntoken_command = "echo {self.fake.token}"\n'
                f"timeout_seconds = 5\nreply_detection = {str(reply_detection).lower()}\n")

    def put_event(self, event: Event) -> None:
        stored = self.fake.put_event(graph_fake.make_event(
            event.uid, event.title, event.start, event.end, description=event.description,
            location=event.location, organizer=ME, is_organizer=True,
            attendees=[(event.contact[1], event.contact[0], event.response)],
            cancelled=event.cancelled, event_id=self._ids.get(event.uid)))
        self._ids[event.uid] = str(stored["id"])

    def _item(self, key: str) -> dict[str, Any]:
        matches = [m for m in self.fake.messages()
                   if str(graph_fake.as_email(m)[KEY_HEADER]) == key]
        assert len(matches) == 1, f"{len(matches)} drafts carry the key {key}"
        return matches[0]

    def drafts(self) -> dict[str, EmailMessage]:
        return _by_key([(str(m["id"]), graph_fake.as_email(m)) for m in self.fake.messages()])

    def content(self, key: str) -> bytes:
        item = self._item(key)
        shown = {name: item.get(name) for name in ("subject", "body", "toRecipients",
                                                     "ccRecipients", "bccRecipients")}
        return json.dumps(shown, sort_keys=True).encode()

    def edit(self, key: str) -> None:
        self.fake.user_edits(str(self._item(key)["id"]))

    def send(self, key: str, at: datetime) -> Sent:
        item = self._item(key)
        sent = self.fake.message(self.fake.user_sends(str(item["id"]), at))
        assert sent is not None
        return Sent(message_id=str(sent["internetMessageId"]),
                    conversation=str(sent["conversationId"]))

    def user_writes(self, to: str, subject: str, message_id: str, at: datetime) -> None:
        self.fake.put_mail("sentitems", to=[to], subject=subject, message_id=message_id,
                           at=at)

    def contact_writes(self, sender: str, subject: str, message_id: str,
                       at: datetime) -> None:
        self.fake.put_mail("inbox", sender=sender, to=[ME[0]], subject=subject,
                           message_id=message_id, at=at)

    def conversation(self, key: str) -> str:
        return str(self._item(key)["conversationId"])

    def send_attempts(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.fake.send_requests()]


# --- caldav: a real Radicale calendar and a real TLS Dovecot mailbox ----------------------------


class CalDavSide:
    """A caldav account: a calendar on a real Radicale, Drafts, INBOX and Sent on a real TLS
    Dovecot (Drafts and Sent under localised names, found by SPECIAL-USE)."""

    name = "icloud"

    def __init__(self, calendar: CalDavUser, imap: Dovecot) -> None:
        self.calendar = calendar
        self.imap = imap
        self.user = calendar.username
        self.password = PASSWORD
        calendar.make_calendar("work", "Work")
        self._ours: set[str] = set()
        """Message-IDs the tests put in INBOX and Sent."""

    def account_block(self, reply_detection: bool) -> str:
        return (f'\n[[accounts]]\nname = "{self.name}"\nkind = "caldav"\n'
                f'caldav_url = "{self.calendar.url}"\nimap_host = "127.0.0.1"\n'
                f"imap_port = {self.imap.tls_port}\n"
                f'username = "{self.user}"\n'
                f"password_command = \"echo {self.password}\"\n"
                f'ca_file = "{self.imap.ca_file}"\n'
                f"reply_detection = {str(reply_detection).lower()}\n")

    def put_event(self, event: Event) -> None:
        ics = ics_for(EventSpec(
            uid=event.uid, title=event.title, start=event.start, end=event.end,
            description=event.description, location=event.location, organizer=ME,
            attendees=((event.contact[1], event.contact[0], event.response),),
            cancelled=event.cancelled))
        self.calendar.put("work", f"{event.uid}.ics", ics)

    def _drafts(self) -> dict[int, bytes]:
        return {uid: data for uid, (flags, data) in self.imap.messages(self.user, DRAFTS).items()
                if rb"\Deleted" not in flags}

    def _uid(self, key: str) -> tuple[int, bytes]:
        matches = [(uid, data) for uid, data in self._drafts().items()
                   if str(parse(data)[KEY_HEADER]) == key]
        assert len(matches) == 1, f"{len(matches)} drafts carry the key {key}"
        return matches[0]

    def drafts(self) -> dict[str, EmailMessage]:
        return _by_key([(str(uid), parse(data)) for uid, data in self._drafts().items()])

    def content(self, key: str) -> bytes:
        return self._uid(key)[1]

    def _replace(self, uid: int, folder: str, data: bytes | None, at: datetime | None) -> None:
        """APPEND ``data`` to ``folder`` (unless None), then expunge Drafts' ``uid``."""
        client = self.imap.connect(self.user)
        try:
            if data is not None:
                flags = (rb"\Draft",) if folder == DRAFTS else (rb"\Seen",)
                client.append(folder, data, flags=flags, msg_time=at)
            client.select_folder(DRAFTS)
            client.add_flags([uid], [rb"\Deleted"], silent=True)
            client.uid_expunge([uid])
        finally:
            client.logout()

    def edit(self, key: str) -> None:
        """As a mail program saves an edit: APPEND the new version, EXPUNGE the old."""
        uid, data = self._uid(key)
        edited = data.replace(b"\r\n\r\n", b"\r\n\r\nP.S. Looking forward to it.\r\n", 1)
        self._replace(uid, DRAFTS, edited, None)

    def send(self, key: str, at: datetime) -> Sent:
        uid, data = self._uid(key)
        message = parse(data)
        del message["Date"]
        message["Date"] = format_datetime(at)
        message_id = str(message["Message-ID"])
        self._ours.add(message_id)
        self._replace(uid, SENT, message.as_bytes(), at)
        return Sent(message_id=message_id, conversation=message_id)

    def _append(self, folder: str, data: bytes, at: datetime) -> None:
        self._ours.add(str(parse(data)["Message-ID"]))
        client = self.imap.connect(self.user)
        try:
            client.append(folder, data, flags=(rb"\Seen",), msg_time=at)
        finally:
            client.logout()

    def user_writes(self, to: str, subject: str, message_id: str, at: datetime) -> None:
        self._append(SENT, mime(ME, to, subject, message_id, at), at)

    def contact_writes(self, sender: str, subject: str, message_id: str,
                       at: datetime) -> None:
        self._append("INBOX", mime((sender, ""), f"{ME[1]} <{ME[0]}>", subject, message_id,
                                   at), at)

    def conversation(self, key: str) -> str:
        """IMAP has no conversations: mail programs thread on References, as for a Maildir."""
        message = self.drafts()[key]
        references = str(message["References"] or "").split()
        return references[0] if references else str(message["Message-ID"])

    def send_attempts(self) -> list[str]:
        """IMAP cannot send: anything in INBOX or Sent the tests did not put there would have
        come from coffeechat."""
        return [str(parse(data)["Message-ID"]) for folder in ("INBOX", SENT)
                for _flags, data in self.imap.messages(self.user, folder).values()
                if str(parse(data)["Message-ID"]) not in self._ours]


SIDES = ("local", "google", "outlook", "caldav")


@contextmanager
def side_for(kind: str, root: Path) -> Iterator[Side]:
    """A side of ``kind`` (one of :data:`SIDES`) with its files under ``root``, its fake
    server running for the duration of the ``with`` block."""
    if kind == "local":
        yield LocalSide(root)
    elif kind == "google":
        with google_fake.running() as google:
            yield GoogleSide(google)
    elif kind == "outlook":
        with graph_fake.running(token=TOKEN, owner=(ME[1], ME[0])) as graph:
            yield OutlookSide(graph)
    elif kind == "caldav":
        calendar_server = start_radicale(root / "radicale")
        try:
            with dovecot() as imap:
                yield CalDavSide(calendar_server.new_user(password=PASSWORD), imap)
        finally:
            calendar_server.stop()
    else:
        raise ValueError(f"no side {kind!r}; use one of {', '.join(SIDES)}")
