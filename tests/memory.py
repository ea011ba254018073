"""In-memory connector doubles for cycle tests: a calendar to script, a Drafts folder that
can fail or "crash" at chosen moments, a mail history, and a harness running whole cycles.
tests/contract/test_memory.py runs the doubles through the connector contract suite, so that
they behave as the real connectors do."""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Collection, Generator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from connectors.base import KEY_HEADER, Account, ConnectorEnv, MailHistory
from daemon.core.automatic import is_automatic
from daemon.core.errors import ConnectorError, CursorExpired
from daemon.core.model import (
    JSON,
    Change,
    ContactMail,
    DraftRef,
    DraftState,
    MailSeen,
    Meeting,
    Removed,
    TaggingRules,
    ThreadRef,
)
from daemon.core.tagging import is_tagged
from daemon.cycle.run import CycleReport, run_cycle
from daemon.mail.templates import Renderer
from daemon.settings.config import Settings, parse
from daemon.state.store import Store


class Crash(BaseException):
    """Stands for a SIGKILL: nothing after it runs, not even ``except Exception`` blocks."""


@dataclass
class MemoryCalendar:
    """A calendar whose events the test sets; the cursor is a version number."""

    events: dict[str, Meeting] = field(default_factory=dict)
    version: int = 0
    log: list[tuple[int, int]] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)
    fail_with: ConnectorError | None = None
    fail_after: int = 0
    """How many changes the listing yields before ``fail_with`` is raised."""
    expire_cursor: bool = False
    full_syncs: int = 0
    removed_ids: dict[str, int] = field(default_factory=dict)
    """Provider ids removed, with the version: reported as ``Removed(provider_id=...)``."""
    then: list[Change] = field(default_factory=list)
    """Changes the next listing yields after its own (then forgotten): later news, in the same
    listing, of a meeting it already brought."""
    rules_given: list[TaggingRules | None] = field(default_factory=list)
    """The ``only_tagged`` of each listing: when given, meetings they cannot tag are left
    out, as the local connector leaves out files (so that the core giving them when it
    should not loses an untagging)."""

    def put(self, meeting: Meeting) -> None:
        self.version += 1
        self.events[meeting.uid] = meeting
        self.changed[meeting.uid] = self.version

    def delete(self, uid: str) -> None:
        self.version += 1
        self.events.pop(uid)
        self.changed[uid] = self.version

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        self.rules_given.append(only_tagged)
        if only_tagged is not None:
            assert cursor is None, "rules come only with a full sync"
        if self.fail_with is not None:
            yield from self._listing(-1)[:self.fail_after]
            raise self.fail_with
        if cursor is not None and self.expire_cursor:
            self.expire_cursor = False
            raise CursorExpired("expired")
        since = -1 if cursor is None else int(cursor["version"])
        if cursor is None:
            self.full_syncs += 1
        yield from (change for change in self._listing(since) if only_tagged is None
                    or not isinstance(change, Meeting) or is_tagged(change, only_tagged))
        yield from self.then
        self.then = []
        return {"version": self.version}

    def _listing(self, since: int) -> list[Change]:
        out: list[Change] = [self.events[uid] if uid in self.events else Removed(uid)
                             for uid, version in sorted(self.changed.items()) if version > since]
        out.extend(Removed(provider_id=ident) for ident, version in self.removed_ids.items()
                   if version > since)
        return out


@dataclass
class MemoryDrafts:
    """A Drafts folder in memory, with switches to fail or crash around ``create``."""

    messages: dict[str, bytes] = field(default_factory=dict)
    counter: int = 0
    crash_before_create: bool = False
    crash_after_create: bool = False
    fail_create: ConnectorError | None = None
    gets: int = 0
    """How many times ``get`` was called."""
    replies: dict[str, ThreadRef] = field(default_factory=dict)
    """The conversation each draft was made in, by draft id."""
    crash_after_delete: bool = False

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        if self.crash_before_create:
            raise Crash
        if self.fail_create is not None:
            raise self.fail_create
        self.counter += 1
        ident = f"d{self.counter}"
        data = message.as_bytes()
        self.messages[ident] = data
        if reply_to is not None:
            self.replies[ident] = reply_to
        if self.crash_after_create:
            raise Crash
        return DraftRef(ident, hashlib.sha256(data).hexdigest())

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        for ident, data in self.messages.items():
            parsed = self.parse(ident)
            if parsed[KEY_HEADER] == key and (not message_id
                                              or parsed["Message-ID"] == message_id):
                return DraftRef(ident, hashlib.sha256(data).hexdigest())
        return None

    def get(self, ref: DraftRef) -> DraftState:
        self.gets += 1
        data = self.messages.get(ref.id)
        if data is None:
            return "gone"
        return "untouched" if hashlib.sha256(data).hexdigest() == ref.fingerprint else "edited"

    def update(self, ref: DraftRef, message: EmailMessage,
               reply_to: ThreadRef | None = None) -> DraftRef:
        if self.get(ref) != "untouched":
            raise ConnectorError(f"draft {ref.id} was edited or removed; left as it is")
        self.messages[ref.id] = message.as_bytes()
        return replace(ref, fingerprint=hashlib.sha256(self.messages[ref.id]).hexdigest())

    def delete(self, ref: DraftRef) -> None:
        if self.get(ref) == "untouched":
            self.messages.pop(ref.id, None)
        if self.crash_after_delete:
            raise Crash

    def user_edits(self, ident: str) -> None:
        """Change a draft's body the way the user would."""
        self.messages[ident] = self.messages[ident] + b"P.S. Edited by hand.\n"

    def parse(self, ident: str) -> EmailMessage:
        parsed = email.message_from_bytes(self.messages[ident], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def keys(self) -> list[str]:
        return sorted(str(self.parse(i)[KEY_HEADER]) for i in self.messages)


@dataclass(frozen=True)
class MemoryMessage:
    """One message in a :class:`MemoryMail` mailbox, between the user and ``contacts``."""

    contacts: tuple[str, ...]
    """The contact who wrote it, or those it went to (To and Cc), lower-case."""
    at: datetime
    from_contact: bool
    thread: ThreadRef
    automatic: bool = False
    """Its headers mark it as sent by a machine (:func:`daemon.core.automatic.is_automatic`)."""
    draft: bool = False
    """An unsent draft of the user's: it never counts."""


@dataclass
class MemoryMail:
    """A mailbox's history that the test writes, read with the rules every real reader follows:
    drafts never count, nor does automatic mail from the contact; addresses compare without
    case, a copy (Cc) counts as writing to the contact."""

    messages: list[MemoryMessage] = field(default_factory=list)
    asked: list[tuple[str, ...]] = field(default_factory=list)
    fail_with: ConnectorError | None = None

    def add(self, contact: str, at: datetime, *, from_contact: bool,
            message_id: str = "", subject: str = "Hello", references: tuple[str, ...] = (),
            cc: tuple[str, ...] = (), headers: tuple[tuple[str, str], ...] = (),
            draft: bool = False) -> ThreadRef:
        """Put a message in the mailbox: from ``contact`` to the user, or from the user to
        ``contact`` and ``cc``, with the header fields ``headers``. Returns its conversation."""
        thread = ThreadRef(message_id=message_id or f"<m{len(self.messages)}@example.org>",
                           subject=subject, references=references,
                           thread_id=f"t{len(self.messages)}")
        contacts = (contact, *cc) if not from_contact else (contact,)
        self.messages.append(MemoryMessage(tuple(c.lower() for c in contacts), at, from_contact,
                                           thread, is_automatic(headers), draft))
        return thread

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        if self.fail_with is not None:
            raise self.fail_with
        self.asked.append(tuple(sorted(contacts)))
        return {contact: ContactMail(contact, self._newest(contact, since, inbound=True),
                                     self._newest(contact, since, inbound=False))
                for contact in contacts}

    def _newest(self, contact: str, since: datetime, *, inbound: bool) -> MailSeen | None:
        seen = [m for m in self.messages
                if contact.lower() in m.contacts and m.at >= since and m.from_contact == inbound
                and not m.draft and not (inbound and m.automatic)]
        if not seen:
            return None
        newest = max(seen, key=lambda m: m.at)
        return MailSeen(newest.at, newest.thread)


@dataclass
class MemoryWorld:
    """Accounts by name, opened by :meth:`opener` the way the registry opens real ones."""

    calendars: dict[str, MemoryCalendar] = field(default_factory=dict)
    drafts: dict[str, MemoryDrafts] = field(default_factory=dict)
    mail: dict[str, MailHistory] = field(default_factory=dict)
    """Mail histories of the accounts that have reply detection (a :class:`MemoryMail`, or a
    real reader over a fake provider)."""
    refuse_open: dict[str, ConnectorError] = field(default_factory=dict)

    def account(self, name: str) -> tuple[MemoryCalendar, MemoryDrafts]:
        return (self.calendars.setdefault(name, MemoryCalendar()),
                self.drafts.setdefault(name, MemoryDrafts()))

    def opener(self, name: str, kind: str, options: Mapping[str, Any],
               env: ConnectorEnv) -> Account:
        if name in self.refuse_open:
            raise self.refuse_open[name]
        calendar, drafts = self.account(name)
        return Account(name=name, calendar=calendar, drafts=drafts, mail=self.mail.get(name))


def memory_settings(tmp_path: Path, *, reply_detection: bool = False,
                    accounts: tuple[str, ...] = ("personal",), **cadence: Any) -> Settings:
    """Settings for in-memory accounts (kind local: the world's opener replaces them), in
    America/Chicago. ``cadence`` overrides ``[cadence]`` keys; without ``working_hours`` the
    default (09:00-17:00, Monday to Friday) applies."""
    account: dict[str, Any] = {"kind": "local", "calendar": "c", "drafts": "d"}
    if reply_detection:
        account.update(reply_detection=True, mail="mail")
    data = {
        "me": {"name": "Sam Rivera", "emails": ["sam@example.com"],
               "timezone": "America/Chicago"},
        "state": {"path": str(tmp_path / "state.json")},
        "templates": {"path": str(tmp_path / "no-overrides")},
        "cadence": cadence,
        "accounts": [{"name": name, **account} for name in accounts],
    }
    return parse(data, tmp_path / "config.toml")


class Harness:
    """Settings, a world of in-memory accounts, and a clock the test moves: ``cycle()`` runs
    one whole cycle at ``now``. ``calendar``, ``box`` and ``mail`` are the first account's."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.world = MemoryWorld()
        self.calendar, self.box = self.world.account(settings.accounts[0].name)
        self.mail = MemoryMail()
        if settings.accounts[0].options.get("reply_detection"):
            self.world.mail[settings.accounts[0].name] = self.mail
        self.now = now

    def cycle(self) -> CycleReport:
        env = ConnectorEnv(timezone=self.settings.timezone, clock=lambda: self.now,
                           data_dir=self.settings.state_path.parent)
        store = Store(self.settings.state_path, writable=True)
        return run_cycle(self.settings, store, env, Renderer(self.settings.templates_dir),
                         self.world.opener)
