"""A quicker reader of the common .ics file (no series, read event by event) that yields exactly
the meetings icalendar's full read would, or leaves the file to that read; held to it by
tests/test_local_quick_read.py (when it reads a file, and why it is faster: docs/performance.md).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import icalendar
from icalendar import Component, vDDDTypes, vText, vUnknown
from icalendar.parser import Contentline
from icalendar.parser.ical import ComponentIcalParser

from connectors.local.mapping import READ_PROPERTIES
from connectors.local.quicklines import (
    CACHED_PREFIXES,
    DECLARED,
    ParamItems,
    content_line,
    content_lines,
    has_tzid,
    name_and_parameters,
)


def cancels(calendar: Component) -> bool:
    """Return True when the calendar is published with METHOD:CANCEL."""
    return str(calendar.get("METHOD", "")).strip().upper() == "CANCEL"


def calendar_zone(calendar: Component) -> str:
    """Return the calendar's X-WR-TIMEZONE (Google and Apple feeds), "" when it has none."""
    return str(calendar.get("X-WR-TIMEZONE", "")).strip()


_COMPONENT_NAME = re.compile(r"[A-Za-z0-9-]+")
_SERIES_PROPERTIES = frozenset({"RRULE", "RDATE", "RECURRENCE-ID"})
_KEPT_PROPERTIES = READ_PROPERTIES | {"SEQUENCE", "LAST-MODIFIED", "DTSTAMP"}
"""The event properties meetings are made of (SEQUENCE, then LAST-MODIFIED, then DTSTAMP pick
among copies of one event)."""
_UTC_STAMP = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_COMPONENTS = icalendar.ComponentFactory()
_CACHED_BLOCKS = 256
"""Distinct calendar headers, and first lines of components, remembered."""
_BLOCKS_PER_KIND = 8
"""Good components remembered per first line (a vdir may use a few time zones)."""
_GOOD_BLOCKS: dict[str, list[tuple[str, ...]]] = {}
"""Components (VTIMEZONE, VALARM...) icalendar reads alone without an error, by first line,
the most recent first; they hold no event and no TZID parameter."""

_CACHED_LINES = 8192
"""Distinct event lines remembered with the property icalendar made of them."""
_PROPERTIES: dict[str, tuple[str, Any]] = {}
"""Event lines icalendar read without an error, with the name and property each gave: lines
with no TZID parameter read the same in any event (UID lines, one to an event, are not
kept). The properties are shared by the events made of them, which only read them."""
_NOT_ALIKE = frozenset({"CATEGORIES", "FREEBUSY", "RDATE", "EXDATE"})
"""Properties icalendar may read into more than one value, or none, from one line."""


class _NotPlain(Exception):
    """The file is outside what the quick reader takes: it is read in full instead."""


@dataclass(frozen=True)
class PlainCalendar:
    """One VCALENDAR read quickly: its events, whether it is published as cancelled, and its
    X-WR-TIMEZONE ("" when none)."""

    events: list[Component]
    cancel_all: bool
    zone: str


def _check_block(block: tuple[str, ...]) -> None:
    """Remember a component (its lines, BEGIN to END) that icalendar reads alone without an
    error, so that files holding the same lines skip it; raises ``_NotPlain`` for one that
    fails."""
    try:
        icalendar.Calendar.from_ical("\r\n".join(block).encode("utf-8"), multiple=True)
    except Exception:  # any error: the file is read in full, and fails there
        raise _NotPlain from None
    if len(_GOOD_BLOCKS) >= _CACHED_BLOCKS:
        _GOOD_BLOCKS.clear()
    known = _GOOD_BLOCKS.setdefault(block[0], [])
    known.insert(0, block)
    del known[_BLOCKS_PER_KIND:]


@functools.lru_cache(maxsize=_CACHED_BLOCKS)
def _header(lines: tuple[str, ...]) -> tuple[bool, str] | None:
    """Return whether a VCALENDAR with these lines outside its components is published as
    cancelled, and its X-WR-TIMEZONE, or ``None`` when icalendar cannot read them."""
    text = "\r\n".join(("BEGIN:VCALENDAR", *lines, "END:VCALENDAR"))
    try:
        [calendar] = icalendar.Calendar.from_ical(text.encode("utf-8"), multiple=True)
    except Exception:  # any error: the file is read in full, and fails there
        return None
    return cancels(calendar), calendar_zone(calendar)


def read_plain(text: str) -> list[PlainCalendar] | None:
    """Return the calendars of a file holding no series, read quickly, or ``None`` when the
    file must be read in full (see the rules above)."""
    try:
        return _PlainReader(content_lines(text)).read()
    except _NotPlain:
        return None


class _PlainReader:
    """The quick reader's walk over one file's lines; raises ``_NotPlain`` to give up."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._next = 0
        """The index of the line to read next."""
        self._calendars: list[PlainCalendar] = []
        self._in_calendar = False
        self._header: list[str] = []
        self._events: list[Component] = []
        self._event: list[Contentline] | None = None
        self._block: list[str] = []
        self._open: list[str] = []
        """The components open inside the block being read."""
        self._past_timezones = False
        """A component other than a VTIMEZONE was seen: no VTIMEZONE may follow."""

    def read(self) -> list[PlainCalendar]:
        """Return the file's calendars; raises ``_NotPlain``."""
        while self._next < len(self._lines):
            line = self._lines[self._next]
            self._next += 1
            if line:
                self._take(line)
        if self._in_calendar or not self._calendars:
            raise _NotPlain
        return self._calendars

    def _take(self, line: str) -> None:
        match = DECLARED.match(line)
        declared = name_and_parameters(match.group()) if match is not None else None
        if match is None or declared is None:
            raise _NotPlain
        name, items = declared
        name = name.upper()
        value = line[match.end() + 1:]
        if self._open:
            self._in_block(line, name, items, value)
        elif name == "BEGIN":
            self._begin(line, _component_name(value))
        elif name == "END":
            self._end(line, _component_name(value))
        elif self._event is not None:
            if name in _SERIES_PROPERTIES:
                raise _NotPlain
            if name in _KEPT_PROPERTIES or not _harmless(name, items, value):
                self._event.append(content_line(line))
        elif self._in_calendar and not has_tzid(items):
            self._header.append(line)
        else:
            raise _NotPlain

    def _begin(self, line: str, name: str) -> None:
        if not self._in_calendar:
            if name != "VCALENDAR":
                raise _NotPlain
            self._in_calendar, self._header, self._events = True, [], []
        elif name == "VEVENT":
            if self._event is not None:
                raise _NotPlain
            self._past_timezones = True
            self._event = [content_line(line)]
        else:
            if self._event is None:
                if name == "VTIMEZONE" and self._past_timezones:
                    raise _NotPlain
                self._past_timezones = self._past_timezones or name != "VTIMEZONE"
            if not self._skip_known_block(line):
                self._block, self._open = [line], [name]

    def _end(self, line: str, name: str) -> None:
        if self._event is not None:
            if name != "VEVENT":
                raise _NotPlain
            self._event.append(content_line(line))
            self._events.append(_parse_event(self._event))
            self._event = None
        elif self._in_calendar and name == "VCALENDAR":
            header = _header(tuple(self._header))
            if header is None:
                raise _NotPlain
            self._calendars.append(PlainCalendar(self._events, *header))
            self._in_calendar = False
        else:
            raise _NotPlain

    def _skip_known_block(self, begin: str) -> bool:
        """Skip the component starting on the line just read when its lines are those of one
        already found good; return whether it was skipped."""
        start = self._next - 1
        for block in _GOOD_BLOCKS.get(begin, ()):
            end = start + len(block)
            if tuple(self._lines[start:end]) == block:
                self._next = end
                return True
        return False

    def _in_block(self, line: str, name: str, items: ParamItems, value: str) -> None:
        self._block.append(line)
        if has_tzid(items):
            raise _NotPlain
        if name == "BEGIN":
            inner = _component_name(value)
            if inner == "VEVENT":
                raise _NotPlain
            self._open.append(inner)
        elif name == "END":
            if _component_name(value) != self._open.pop():
                raise _NotPlain
            if not self._open:
                _check_block(tuple(self._block))


def _component_name(value: str) -> str:
    """The component a BEGIN or END line names; raises ``_NotPlain`` for an odd one."""
    if _COMPONENT_NAME.fullmatch(value) is None:
        raise _NotPlain
    return value.upper()


def _harmless(name: str, items: ParamItems, value: str) -> bool:
    """Return True when icalendar reads this event line without an error that could stop the
    file: it has no parameters, and its type takes any text (TEXT, unknown) or it is a
    date-time in the basic UTC form (a bad date there is an error the event keeps)."""
    if items:
        return False
    kind = _value_type(name)
    return kind is vText or kind is vUnknown or (
        kind is vDDDTypes and _UTC_STAMP.fullmatch(value) is not None)


@functools.lru_cache(maxsize=CACHED_PREFIXES)
def _value_type(name: str) -> type:
    """The type icalendar gives a property without a VALUE parameter."""
    kind: type = icalendar.Calendar.types_factory.for_property(name, None)
    return kind


def _parse_event(lines: list[Contentline]) -> Component:
    """Parse one event's own lines with icalendar; raises ``_NotPlain`` on any error.

    icalendar reads a line without a TZID parameter the same in every event and file, so a
    line already read without an error (:data:`_PROPERTIES`) is not read again: only the
    event's new lines go to icalendar, and the event is put together from both, in the order
    of its lines, as icalendar's own ``add`` would. An event whose new lines hold an error is
    read whole, as before."""
    inner = lines[1:-1]
    known = [_PROPERTIES.get(line) for line in inner]
    fresh = [line for line, hit in zip(inner, known, strict=True) if hit is None]
    if len(fresh) == len(inner):
        event = _parse_whole(lines)
        if not event.errors:
            _remember(fresh, event)
        return event
    parsed = _parse_whole([lines[0], *fresh, lines[-1]])
    taken = _remember(fresh, parsed) if not parsed.errors else None
    if taken is None:
        return _parse_whole(lines)
    event = type(parsed)()
    for line, hit in zip(inner, known, strict=True):
        name, prop = hit if hit is not None else taken[line].pop(0)
        event.add(name, prop, encode=False)
    return event


def _parse_whole(lines: list[Contentline]) -> Component:
    try:
        [event] = ComponentIcalParser(lines, _COMPONENTS,
                                      icalendar.Calendar.types_factory).parse()
    except Exception:  # any error: the file is read in full, and fails there
        raise _NotPlain from None
    return event


def _remember(fresh: list[Contentline], event: Component
              ) -> dict[str, list[tuple[str, Any]]] | None:
    """Keep in :data:`_PROPERTIES` what ``event`` (parsed from the ``fresh`` lines, without
    an error) gave for each line that reads alike anywhere; return, by line, the name and
    property each of the ``fresh`` lines gave, or ``None`` when they cannot be told apart
    (a line gave other than one value)."""
    names: dict[str, list[Contentline]] = {}
    for line in fresh:
        match = DECLARED.match(line)
        declared = name_and_parameters(match.group()) if match is not None else None
        if declared is None:
            return None
        names.setdefault(declared[0].upper(), []).append(line)
    taken: dict[str, list[tuple[str, Any]]] = {}
    for name, of_name in names.items():
        value = event.get(name)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if len(values) != len(of_name) or name in _NOT_ALIKE:
            return None
        for line, prop in zip(of_name, values, strict=True):
            taken.setdefault(line, []).append((name, prop))
            if name != "UID" and not has_tzid(tuple(getattr(prop, "params", {}).items())):
                if len(_PROPERTIES) >= _CACHED_LINES:
                    _PROPERTIES.clear()
                _PROPERTIES[line] = (name, prop)
    return taken
