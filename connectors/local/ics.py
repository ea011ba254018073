"""Reading one .ics text into meetings.

A text may hold several VCALENDARs (the folder source hands over the files that share a UID
as one text). Its events are read as one calendar: each VCALENDAR's METHOD:CANCEL and
X-WR-TIMEZONE apply to its own events first, then events are grouped by UID across the text.
Of the copies of one event (same UID and RECURRENCE-ID) the one with the highest SEQUENCE
wins, then the latest LAST-MODIFIED, then the latest DTSTAMP, then the last in the text; an
override joins its series wherever it is. An event without a UID gets an identity made from
the file name, its start and its title. Both are :mod:`connectors.local.copies`.

Series are expanded over a window around today, bounded (see :mod:`connectors.local.expand`);
each occurrence is a meeting of its own. A text without series is read by a quick reader that
gives icalendar only the lines of each event that matter (see :mod:`connectors.local.quickread`):
about four times faster, with the same meetings; a text it is unsure of is read in full.

What gives no meeting, or only part of one, is said in :attr:`ParsedFile.notes` (each also
logged as a warning); a text that is not iCalendar at all raises :class:`MalformedCalendar`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import x_wr_timezone  # type: ignore[import-untyped]
from icalendar import Component

from connectors.local.copies import by_uid
from connectors.local.expand import MAX_OCCURRENCES, SERIES_SECONDS, SeriesError, expand
from connectors.local.mapping import (
    BadEvent,
    is_part_of_series,
    occurrence_uid,
    original_start,
    to_meeting,
)
from connectors.local.quickread import calendar_zone, cancels, read_plain
from connectors.local.window import Window
from daemon.core.model import Meeting
from daemon.core.text import clean_line

log = logging.getLogger(__name__)

TEXT_SECONDS = 8.0
"""Longest time spent on the series of one text: past it, the series not yet worked out keep
only their first occurrence."""
MAX_NOTES = 20
"""Notes kept of one text; past them, a last note says how many more there were."""
_TIMED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID")
"""The times whose TZID is checked against the zones known."""


class MalformedCalendar(ValueError):
    """A file that is not a readable iCalendar calendar; the message says why."""


@dataclass(frozen=True)
class ParsedFile:
    """The meetings one text gave, whether it holds a series, what of it could not be read,
    and the events it holds."""

    meetings: tuple[Meeting, ...]
    recurring: bool
    notes: tuple[str, ...] = ()
    """What of the text gave no meeting, or only in part (each also logged as a warning)."""
    events: tuple[str, ...] = ()
    """The identity of each event the text holds, in text order: a series' own UID (not its
    occurrences'), a one-off's UID, or the made-up identity of an event without a UID."""


def parse_file(data: bytes, *, path: Path, tz: ZoneInfo, window: Window, quick: bool = True,
               deadline: float | None = None) -> ParsedFile:
    """Read the meetings of one .ics text (one file, or the files sharing a UID, one after the
    other).

    Bytes that are not UTF-8 are replaced rather than losing the file. Events that cannot be
    read are skipped; series are expanded over ``window`` (at most
    :data:`~connectors.local.expand.MAX_OCCURRENCES` each, those nearest ``window.today``);
    events that do not repeat are always returned. Each of these is said in the notes.

    ``path`` names the text in warnings and meetings' ``source`` (its name), and is part of
    the identity of events without a UID. ``deadline`` (a :func:`time.monotonic` time) cuts
    the time spent on series short of :data:`TEXT_SECONDS` when it comes first.

    A text without series is read by a quicker reader that gives the same meetings (see
    :func:`read_plain`); ``quick=False`` reads every text in full, as the reference the
    quicker reader is tested against.

    Raises ``MalformedCalendar`` when the text as a whole is not an iCalendar calendar.
    """
    reading = _Reading(path, tz, window)
    text = _decode(data, reading)
    plain = read_plain(text) if quick else None
    if plain is not None:
        found = [(calendar.events, calendar.cancel_all, calendar.zone) for calendar in plain]
    else:
        found = [(calendar.walk("VEVENT"), cancels(calendar), calendar_zone(calendar))
                 for calendar in _read_full(text)]
    events = [reading.prepared(event, cancel_all, reading.zone_named(zone))
              for events_of_one, cancel_all, zone in found for event in events_of_one]
    groups = reading.grouped(events)
    ends = time.monotonic() + TEXT_SECONDS
    reading.ends = ends if deadline is None else min(ends, deadline)
    meetings: list[Meeting] = []
    recurring = False
    for uid, parts in groups.items():
        if any(is_part_of_series(part) for part in parts):
            recurring = True
            meetings += reading.series(uid, parts)
        else:
            meetings += reading.single(uid, parts[0])
    return ParsedFile(_last_per_uid(meetings), recurring, reading.all_notes(), tuple(groups))


def _decode(data: bytes, reading: _Reading) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reading.note(f"it is not valid UTF-8 (byte {exc.start}); it was read with the bad "
                     "bytes replaced: save it as UTF-8 to keep every character")
        return data.decode("utf-8-sig", errors="replace")


def _read_full(text: str) -> list[icalendar.Calendar]:
    """Read the whole text with icalendar; raises ``MalformedCalendar``."""
    try:
        # bytes: icalendar reads a str with no line break as the path of a file to open
        calendars = icalendar.Calendar.from_ical(text.encode("utf-8"), multiple=True)
    except Exception as exc:  # icalendar raises many types on garbage; a file is a boundary
        raise MalformedCalendar(_reason(exc)) from exc
    if not calendars:
        raise MalformedCalendar("it holds no VCALENDAR")
    for calendar in calendars:
        if calendar.name != "VCALENDAR":
            raise MalformedCalendar(f"it holds a {calendar.name}, not a VCALENDAR")
    return calendars


def _last_per_uid(meetings: Iterable[Meeting]) -> tuple[Meeting, ...]:
    """Of meetings with the same uid, keep the last, in the place of the first."""
    return tuple({meeting.uid: meeting for meeting in meetings}.values())


@dataclass
class _Reading:
    """The reading of one text: where it comes from, and what was noted of it."""

    path: Path
    tz: ZoneInfo
    window: Window
    notes: dict[str, None] = field(default_factory=dict)
    """The notes so far, at most :data:`MAX_NOTES`."""
    more: int = 0
    """Notes past the first :data:`MAX_NOTES`, counted only."""
    ends: float = 0.0
    """The :func:`time.monotonic` time past which series keep only their first occurrence."""
    _zones: dict[str, ZoneInfo | None] = field(default_factory=dict)

    def note(self, text: str, uid: str = "") -> None:
        """Say once what of the text could not be read as it stands (logged as a warning,
        with the event's UID when there is one); past :data:`MAX_NOTES`, only counted."""
        if text in self.notes:
            return
        if len(self.notes) == MAX_NOTES:
            self.more += 1
            return
        self.notes[text] = None
        if uid:
            log.warning("calendar file %s: %s (UID %s)", self.path, text, uid)
        else:
            log.warning("calendar file %s: %s", self.path, text)

    def all_notes(self) -> tuple[str, ...]:
        """The notes, and how many more there were."""
        if not self.more:
            return tuple(self.notes)
        more = f"{self.more:,} more events could not be read in full, for reasons like these"
        log.warning("calendar file %s: %s", self.path, more)
        return (*self.notes, more)

    # --- one event, as its calendar means it ---------------------------------------------

    def zone_named(self, name: str) -> ZoneInfo | None:
        """The zone of a calendar's X-WR-TIMEZONE, ``None`` for none or an unknown one (which
        is noted)."""
        if name not in self._zones:
            zone = None
            if name:
                try:
                    zone = ZoneInfo(name)
                except (KeyError, ValueError, OSError):
                    self.note(f"its calendar's time zone (X-WR-TIMEZONE) {_shown(name)!r} is "
                              f"not a zone coffeechat knows; its floating times were read in "
                              f"{self.tz.key}")
            self._zones[name] = zone
        return self._zones[name]

    def prepared(self, event: Component, cancel_all: bool, zone: ZoneInfo | None) -> Component:
        """The event as its calendar means it: floating and UTC times in the calendar's
        X-WR-TIMEZONE, as recurring-ical-events reads them (the x_wr_timezone package), and
        cancelled when the calendar is published with METHOD:CANCEL. A TZID that names no
        known zone is noted."""
        for tzid in _unknown_zones(event):
            where = (zone or self.tz).key
            self.note(f"the event {_title(event)!r} names the time zone {_shown(tzid)!r}, "
                      f"which no VTIMEZONE in the file defines and coffeechat does not know; "
                      f"its times were read in {where}")
        if zone is not None:
            try:
                event = x_wr_timezone.UTCChangingWalker(zone).walk_event(event)
            except Exception:  # a time icalendar could not read: the mapping says so
                log.debug("calendar file %s: X-WR-TIMEZONE not applied to %r", self.path,
                          _title(event), exc_info=True)
        if cancel_all:
            event["STATUS"] = "CANCELLED"
        return event

    # --- grouping by UID -----------------------------------------------------------------

    def grouped(self, events: list[Component]) -> dict[str, list[Component]]:
        """Group events by UID, keeping of each (UID, RECURRENCE-ID) the winning copy (see
        :mod:`connectors.local.copies`)."""
        found = by_uid(events, path=self.path, tz=self.tz)
        for uid, event, exc in found.skipped:
            self.note(f"skipped a changed occurrence of {_title(event)!r}: {exc}", uid)
        for (uid, _), count in found.copies.items():
            log.warning("calendar file %s: the event %s appears %d times; using the copy "
                        "with the highest SEQUENCE, then the latest change", self.path, uid,
                        count)
        return found.groups

    # --- meetings ------------------------------------------------------------------------

    def single(self, uid: str, event: Component) -> list[Meeting]:
        """The meeting of an event that does not repeat (none when it cannot be read)."""
        return self._map([(uid, event)], event, uid)

    def series(self, uid: str, parts: list[Component]) -> list[Meeting]:
        """The occurrences of a series in the window, bounded (see :func:`expand`); a series
        the libraries cannot work out, or that comes after the text's time ran out, keeps
        its first occurrence and its overrides."""
        master = next((part for part in parts if "RECURRENCE-ID" not in part), parts[0])
        title = _title(master)
        low, high = self.window.bounds(self.tz)
        today = datetime.combine(self.window.middle, datetime.min.time(), tzinfo=self.tz)
        started = time.monotonic()
        if started >= self.ends:
            self.note(f"the repeating event {title!r} was read as its first occurrence only: "
                      f"the file's series took longer than {TEXT_SECONDS:g} s to work out", uid)
            return self._first_only(uid, parts, master)
        cut_short = self.ends < started + SERIES_SECONDS
        try:
            expansion = expand(parts, low=low, high=high, today=today, tz=self.tz,
                               deadline=min(started + SERIES_SECONDS, self.ends))
        except SeriesError as exc:
            if "RECURRENCE-ID" not in master and "DTSTART" in master:
                self.note(f"the repeating event {title!r} was read as its first occurrence "
                          f"only: {exc}", uid)
            else:
                self.note(f"the repeating event {title!r} was skipped: {exc}", uid)
            return self._first_only(uid, parts, master)
        if expansion.bound == "count":
            self.note(f"the repeating event {title!r} has more than {MAX_OCCURRENCES:,} "
                      f"occurrences in the window; the {MAX_OCCURRENCES:,} nearest today "
                      "were kept", uid)
        elif expansion.bound == "time":
            kept = (f"only the {len(expansion.slots):,} occurrences found by then were kept"
                    if expansion.slots else "it was left out")
            why = (f"the file's series took longer than {TEXT_SECONDS:g} s to work out"
                   if cut_short else
                   f"it repeats too often to work out in {SERIES_SECONDS:g} s")
            self.note(f"the repeating event {title!r}: {why}; {kept}", uid)
        pairs = [(occurrence_uid(uid, slot.original, self.tz), slot.component)
                 for slot in expansion.slots]
        return self._map(pairs, master, uid)

    def _first_only(self, uid: str, parts: list[Component], master: Component) -> list[Meeting]:
        """The master as its first occurrence (when it has a start) and each override."""
        pairs = []
        for part in parts:
            if part is master and "DTSTART" not in part:
                continue
            try:
                pairs.append((occurrence_uid(uid, original_start(part), self.tz), part))
            except BadEvent as exc:
                self.note(f"skipped an occurrence of {_title(part)!r}: {exc}", uid)
        return self._map(pairs, master, uid)

    def _map(self, pairs: Iterable[tuple[str, Component]], event: Component,
             uid: str) -> list[Meeting]:
        """Map each (uid, component); problems that do not stop a meeting are logged once per
        event, not per occurrence."""
        meetings: list[Meeting] = []
        problems: dict[str, None] = {}
        for meeting_uid, component in pairs:
            try:
                mapped = to_meeting(component, uid=meeting_uid, source=self.path.name,
                                    tz=self.tz)
            except BadEvent as exc:
                self.note(f"skipped the event {_title(component)!r}: {exc}", meeting_uid)
                continue
            except Exception:  # one odd event must not stop its siblings
                log.debug("calendar file %s: %s", self.path, meeting_uid, exc_info=True)
                self.note(f"skipped the event {_title(component)!r}: it could not be read",
                          meeting_uid)
                continue
            meetings.append(mapped.meeting)
            problems.update(dict.fromkeys(mapped.problems))
        for problem in problems:
            log.warning("calendar file %s: event %r (UID %s): %s", self.path, _title(event),
                        uid, problem)
        return meetings


def _unknown_zones(event: Component) -> list[str]:
    """The TZIDs of the event's times that icalendar could not find (it reads those times as
    floating)."""
    found = []
    for name in _TIMED_PROPERTIES:
        prop = event.get(name)
        if isinstance(prop, list):
            prop = prop[0] if prop else None
        params = getattr(prop, "params", None)
        tzid = params.get("TZID") if params is not None else None
        if not tzid:
            continue
        try:
            value = prop.dt
        except Exception:  # an unreadable time: the mapping says so
            value = None
        if isinstance(value, datetime) and value.tzinfo is None and str(tzid) not in found:
            found.append(str(tzid))
    return found


def _title(event: Component) -> str:
    title = clean_line(str(event.get("SUMMARY", "")), limit=60)
    return title or "(no title)"


def _shown(text: str) -> str:
    return clean_line(text, limit=60)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__
