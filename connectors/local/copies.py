"""The events of one .ics text by UID, and of the copies of one event (the same UID and
RECURRENCE-ID) the one that counts: the highest SEQUENCE, then the latest LAST-MODIFIED, then
the latest DTSTAMP, then the last in the text. An event without a UID gets an identity made
from the file name, its start and its title (as khal gives one; see :func:`_made_up_uid`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Component

from connectors.local.mapping import BadEvent, event_uid, occurrence_uid, recurrence_id


@dataclass(frozen=True)
class ByUid:
    """What :func:`by_uid` found: the events kept, the copies passed over, the events skipped."""

    groups: dict[str, list[Component]]
    """By UID, in text order: of the event itself and of each changed occurrence
    (RECURRENCE-ID), the copy that counts."""
    copies: dict[tuple[str, str], int]
    """How many copies there were of each (UID, occurrence) held more than once."""
    skipped: list[tuple[str, Component, BadEvent]]
    """(UID, event, why) for each changed occurrence whose RECURRENCE-ID cannot be read."""


def by_uid(events: list[Component], *, path: Path, tz: ZoneInfo) -> ByUid:
    """Group the events of one text (the file ``path``, read in ``tz``) by UID, keeping of each
    (UID, RECURRENCE-ID) the copy that counts. An event whose RECURRENCE-ID cannot be read is
    left out, and named in :attr:`ByUid.skipped`."""
    best: dict[str, dict[str, tuple[int, Component]]] = {}
    copies: dict[tuple[str, str], int] = {}
    skipped: list[tuple[str, Component, BadEvent]] = []
    made_up: dict[str, int] = {}
    for index, event in enumerate(events):
        uid = _uid(event, path, made_up)
        try:
            replaced = recurrence_id(event)
        except BadEvent as exc:
            skipped.append((uid, event, exc))
            continue
        slot = "" if replaced is None else occurrence_uid(uid, replaced, tz)
        slots = best.setdefault(uid, {})
        if slot not in slots:
            slots[slot] = (index, event)
            continue
        kept_at, kept = slots[slot]
        if _rank(event, index) > _rank(kept, kept_at):
            slots[slot] = (index, event)
        copies[uid, slot] = copies.get((uid, slot), 1) + 1
    groups = {uid: [event for _, event in slots.values()] for uid, slots in best.items()}
    return ByUid(groups, copies, skipped)


def _uid(event: Component, path: Path, made_up: dict[str, int]) -> str:
    try:
        return event_uid(event)
    except BadEvent:
        return _made_up_uid(event, path, made_up)


def _made_up_uid(event: Component, path: Path, made_up: dict[str, int]) -> str:
    """An identity for an event without a UID (as khal gives one): a hash of the file
    name, the event's DTSTART as written and its title, numbered when the same three
    come again in the text (``made_up`` counts them). It stays the same while the file name,
    start and title do."""
    parts = (path.name, _written(event.get("DTSTART")), str(event.get("SUMMARY", "")))
    key = "\x00".join(parts)
    seen = made_up.get(key, 0)
    made_up[key] = seen + 1
    if seen:
        key += f"\x00{seen}"
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:24]
    return f"no-uid-{digest}@coffeechat"


def _written(prop: Any) -> str:
    """A property's value and TZID as written, "" when absent or unreadable."""
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    if prop is None:
        return ""
    try:
        value = prop.to_ical()
    except Exception:  # kept as text by icalendar: its text is what was written
        return str(prop)
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    params = getattr(prop, "params", None)
    return f"{params.get('TZID', '') if params is not None else ''}:{text}"


def _rank(event: Component, index: int) -> tuple[int, float, float, int]:
    """How recent a copy of an event is: its SEQUENCE, LAST-MODIFIED, DTSTAMP and place in
    the text, in that order."""
    return (_sequence(event), _stamp(event, "LAST-MODIFIED"), _stamp(event, "DTSTAMP"), index)


def _sequence(event: Component) -> int:
    try:
        return int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        return 0


def _stamp(event: Component, name: str) -> float:
    """A LAST-MODIFIED or DTSTAMP as seconds since the epoch (floating read as UTC); lowest
    when absent or unreadable."""
    prop = event.get(name)
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    try:
        value = prop.dt if prop is not None else None
    except Exception:  # an unreadable stamp ranks as none
        value = None
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=UTC).timestamp()
    return float("-inf")


__all__ = ["ByUid", "by_uid"]
