"""Provider-neutral descriptions of calendar events, and the world a calendar test edits."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import CalendarSource
from daemon.core.model import Response


@dataclass(frozen=True)
class EventSpec:
    """One event as a test wants it to exist in a provider's calendar.

    Times are aware. ``rrule`` is an RFC 5545 rule with ``FREQ`` DAILY or WEEKLY, ``COUNT`` and
    optionally ``INTERVAL`` (enough for the contract; a world may accept more).
    """

    uid: str
    title: str
    start: datetime
    end: datetime
    description: str = ""
    location: str = ""
    organizer: tuple[str, str] | None = None
    """(email, name)"""
    attendees: tuple[tuple[str, str, Response], ...] = ()
    """(email, name, response) for each attendee."""
    categories: tuple[str, ...] = ()
    cancelled: bool = False
    rrule: str | None = None


@dataclass(frozen=True)
class Expected:
    """One meeting a source should deliver for an EventSpec: its uid and times."""

    uid: str
    start: datetime
    end: datetime
    spec: EventSpec


def occurrence_uid(uid: str, original_start: datetime) -> str:
    """The uid every connector gives one occurrence of a series: UID + original start in UTC."""
    return f"{uid}/{original_start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def expected_meetings(spec: EventSpec) -> list[Expected]:
    """The meetings ``spec`` stands for: itself, or each occurrence of its series (stepping
    in wall-clock days in the start's zone, as RFC 5545 does)."""
    if spec.rrule is None:
        return [Expected(spec.uid, spec.start, spec.end, spec)]
    parts = dict(part.split("=", 1) for part in spec.rrule.upper().split(";"))
    step_days = {"DAILY": 1, "WEEKLY": 7}[parts["FREQ"]] * int(parts.get("INTERVAL", "1"))
    length = spec.end - spec.start
    result = []
    for n in range(int(parts["COUNT"])):
        start = spec.start + timedelta(days=n * step_days)
        result.append(Expected(occurrence_uid(spec.uid, start), start, start + length, spec))
    return result


class CalendarWorld(ABC):
    """A provider's calendar as a test edits it, and the source under test that reads it.

    Subclasses implement :meth:`put` and :meth:`remove` (and :attr:`source`); the edits below
    are written once in terms of them.
    """

    supports_categories = True
    """Whether the provider has event categories (Google Calendar has none)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        """The time the source's injected clock shows."""
        self.events: dict[str, EventSpec] = {}

    @property
    @abstractmethod
    def source(self) -> CalendarSource:
        """The calendar source under test, reading this world."""

    @abstractmethod
    def put(self, event: EventSpec) -> None:
        """Create ``event`` in the provider, or replace the one with its uid."""

    @abstractmethod
    def remove(self, uid: str) -> None:
        """Delete the event ``uid`` from the provider."""

    def add(self, event: EventSpec) -> EventSpec:
        """Create an event; returns it."""
        self.events[event.uid] = event
        self.put(event)
        return event

    def change(self, uid: str, **fields: Any) -> EventSpec:
        """Change some fields of an existing event; returns the new version."""
        event = replace(self.events[uid], **fields)
        self.events[uid] = event
        self.put(event)
        return event

    def cancel(self, uid: str) -> EventSpec:
        """Mark an event cancelled (it stays in the calendar)."""
        return self.change(uid, cancelled=True)

    def delete(self, uid: str) -> None:
        """Delete an event."""
        del self.events[uid]
        self.remove(uid)


def safe_name(uid: str) -> str:
    """A file-name-safe form of a uid."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", uid)
