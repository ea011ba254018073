"""In-memory connector doubles for cycle tests: a calendar to script and a Drafts folder that
can fail or "crash" at chosen moments."""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

from connectors.base import KEY_HEADER, Account, ConnectorEnv
from daemon.errors import ConnectorError, CursorExpired
from daemon.model import JSON, Change, DraftRef, DraftState, Meeting, Removed


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
    expire_cursor: bool = False
    full_syncs: int = 0
    removed_ids: dict[str, int] = field(default_factory=dict)
    """Provider ids removed, with the version: reported as ``Removed(provider_id=...)``."""

    def put(self, meeting: Meeting) -> None:
        self.version += 1
        self.events[meeting.uid] = meeting
        self.changed[meeting.uid] = self.version

    def delete(self, uid: str) -> None:
        self.version += 1
        self.events.pop(uid)
        self.changed[uid] = self.version

    def changes(self, cursor: JSON | None) -> tuple[list[Change], JSON]:
        if self.fail_with is not None:
            raise self.fail_with
        if cursor is not None and self.expire_cursor:
            self.expire_cursor = False
            raise CursorExpired("expired")
        since = -1 if cursor is None else int(cursor["version"])
        if cursor is None:
            self.full_syncs += 1
        out: list[Change] = []
        for uid, version in sorted(self.changed.items()):
            if version > since:
                out.append(self.events[uid] if uid in self.events else Removed(uid))
        out.extend(Removed(provider_id=ident) for ident, version in self.removed_ids.items()
                   if version > since)
        return out, {"version": self.version}


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

    def create(self, message: EmailMessage, key: str) -> DraftRef:
        if self.crash_before_create:
            raise Crash
        if self.fail_create is not None:
            raise self.fail_create
        self.counter += 1
        ident = f"d{self.counter}"
        data = message.as_bytes()
        self.messages[ident] = data
        if self.crash_after_create:
            raise Crash
        return DraftRef(ident, hashlib.sha256(data).hexdigest())

    def find(self, key: str) -> DraftRef | None:
        for ident, data in self.messages.items():
            if self.parse(ident)[KEY_HEADER] == key:
                return DraftRef(ident, hashlib.sha256(data).hexdigest())
        return None

    def get(self, ref: DraftRef) -> DraftState:
        self.gets += 1
        data = self.messages.get(ref.id)
        if data is None:
            return "gone"
        return "untouched" if hashlib.sha256(data).hexdigest() == ref.fingerprint else "edited"

    def update(self, ref: DraftRef, message: EmailMessage) -> DraftRef:
        self.messages[ref.id] = message.as_bytes()
        return replace(ref, fingerprint=hashlib.sha256(self.messages[ref.id]).hexdigest())

    def delete(self, ref: DraftRef) -> None:
        self.messages.pop(ref.id, None)

    def parse(self, ident: str) -> EmailMessage:
        parsed = email.message_from_bytes(self.messages[ident], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def keys(self) -> list[str]:
        return sorted(str(self.parse(i)[KEY_HEADER]) for i in self.messages)


@dataclass
class MemoryWorld:
    """Accounts by name, opened by :meth:`opener` the way the registry opens real ones."""

    calendars: dict[str, MemoryCalendar] = field(default_factory=dict)
    drafts: dict[str, MemoryDrafts] = field(default_factory=dict)
    refuse_open: dict[str, ConnectorError] = field(default_factory=dict)

    def account(self, name: str) -> tuple[MemoryCalendar, MemoryDrafts]:
        return (self.calendars.setdefault(name, MemoryCalendar()),
                self.drafts.setdefault(name, MemoryDrafts()))

    def opener(self, name: str, kind: str, options: Mapping[str, Any],
               env: ConnectorEnv) -> Account:
        if name in self.refuse_open:
            raise self.refuse_open[name]
        calendar, drafts = self.account(name)
        return Account(name=name, calendar=calendar, drafts=drafts)
