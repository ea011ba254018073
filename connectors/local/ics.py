"""Reading one .ics file into meetings.

Series are expanded over a window around today; each occurrence is a meeting of its own. A
file without series is read by a quick reader that gives icalendar only the lines of each
event that matter and asks it about the rest (time zones, alarms, parameters) once per
distinct text: about four times faster, with the same meetings; a file it is unsure of is read
in full.

A bad event inside a good file is skipped with a warning and its siblings still count; a file
that is not iCalendar at all raises :class:`MalformedCalendar`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from icalendar import Component

from connectors.local.mapping import (
    BadEvent,
    event_uid,
    is_part_of_series,
    occurrence_uid,
    original_start,
    to_meeting,
)
from connectors.local.quickread import cancels, read_plain
from connectors.local.window import Window
from daemon.model import Meeting

log = logging.getLogger(__name__)


class MalformedCalendar(ValueError):
    """A file that is not a readable iCalendar calendar; the message says why."""


@dataclass(frozen=True)
class ParsedFile:
    """The meetings one file gave, and whether it holds a series."""

    meetings: tuple[Meeting, ...]
    recurring: bool
    notes: tuple[str, ...] = ()
    """What of the file gave no meeting, or only in part (each also logged as a warning)."""


def parse_file(data: bytes, *, path: Path, tz: ZoneInfo, window: Window,
               quick: bool = True) -> ParsedFile:
    """Read the meetings of one .ics file.

    Bytes that are not UTF-8 are replaced (with a warning) rather than losing the file. Events
    that cannot be read are skipped with a warning naming the file and the UID. Series are
    expanded over ``window``; events that do not repeat are always returned.

    A file without series is read by a quicker reader that gives the same meetings (see
    :func:`read_plain`); ``quick=False`` reads every file in full, as the reference the
    quicker reader is tested against.

    Raises ``MalformedCalendar`` when the file as a whole is not an iCalendar calendar.
    """
    text = _decode(data, path)
    plain = read_plain(text) if quick else None
    if plain is not None:
        meetings = [meeting for calendar in plain
                    for uid, events in _group_by_uid(calendar.events, path).items()
                    for meeting in _single(uid, events, path, tz, calendar.cancel_all)]
        return ParsedFile(_last_per_uid(meetings), recurring=False)

    meetings = []
    recurring = False
    for calendar in _read_full(text):
        cancel_all = cancels(calendar)
        for uid, events in _group_by_uid(calendar.walk("VEVENT"), path).items():
            if any(is_part_of_series(event) for event in events):
                recurring = True
                meetings += _expand_series(calendar, uid, events, path, tz, window, cancel_all)
            else:
                meetings += _single(uid, events, path, tz, cancel_all)
    return ParsedFile(_last_per_uid(meetings), recurring)


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.warning("calendar file %s is not valid UTF-8 (byte %d); reading it with the bad "
                    "bytes replaced: save it as UTF-8 to keep every character", path, exc.start)
        return data.decode("utf-8-sig", errors="replace")


def _read_full(text: str) -> list[icalendar.Calendar]:
    """Read the whole file with icalendar; raises ``MalformedCalendar``."""
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


def _group_by_uid(events: Iterable[Component], path: Path) -> dict[str, list[Component]]:
    groups: dict[str, list[Component]] = {}
    for event in events:
        try:
            uid = event_uid(event)
        except BadEvent as exc:
            title = str(event.get("SUMMARY", ""))[:60]
            log.warning("calendar file %s: skipped the event %r: %s", path, title, exc)
            continue
        groups.setdefault(uid, []).append(event)
    return groups


def _single(uid: str, events: list[Component], path: Path, tz: ZoneInfo,
            cancel_all: bool) -> list[Meeting]:
    """Map an event that does not repeat; of duplicates, the highest SEQUENCE (then the last)
    wins."""
    if len(events) > 1:
        log.warning("calendar file %s: the event %s appears %d times; using the latest",
                    path, uid, len(events))
        events = [max(enumerate(events), key=lambda pair: (_sequence(pair[1]), pair[0]))[1]]
    return _map_all(uid, [(uid, events[0])], path, tz, cancel_all)


def _expand_series(calendar: Component, uid: str, events: list[Component], path: Path,
                   tz: ZoneInfo, window: Window, cancel_all: bool) -> list[Meeting]:
    """Expand one series (its master and its overrides) over the window."""
    series = icalendar.Calendar()
    for name in ("CALSCALE", "X-WR-TIMEZONE"):
        if name in calendar:
            series[name] = calendar[name]
    for component in calendar.walk("VTIMEZONE"):
        series.add_component(component)
    for event in events:
        series.add_component(event)
    try:
        occurrences = recurring_ical_events.of(series).between(*window.bounds(tz))
    except Exception as exc:  # a bad rule or date inside one series must not stop the file
        log.warning("calendar file %s: skipped the repeating event %s: %s", path, uid,
                    _reason(exc))
        return []
    pairs: list[tuple[str, Component]] = []
    for occurrence in occurrences:
        try:
            pairs.append((occurrence_uid(uid, original_start(occurrence), tz), occurrence))
        except BadEvent as exc:
            log.warning("calendar file %s: skipped an occurrence of %s: %s", path, uid, exc)
    return _map_all(uid, pairs, path, tz, cancel_all)


def _map_all(uid: str, pairs: Iterable[tuple[str, Component]], path: Path, tz: ZoneInfo,
             cancel_all: bool) -> list[Meeting]:
    """Map each (uid, component); problems are logged once per event, not per occurrence."""
    meetings: list[Meeting] = []
    problems: dict[str, None] = {}
    for meeting_uid, component in pairs:
        try:
            mapped = to_meeting(component, uid=meeting_uid, source=path.name, tz=tz,
                                cancelled=cancel_all)
        except BadEvent as exc:
            log.warning("calendar file %s: skipped the event %s: %s", path, meeting_uid, exc)
            continue
        except Exception as exc:  # one odd event must not stop its siblings
            log.warning("calendar file %s: skipped the event %s: %s", path, meeting_uid,
                        _reason(exc))
            continue
        meetings.append(mapped.meeting)
        problems.update(dict.fromkeys(mapped.problems))
    for problem in problems:
        log.warning("calendar file %s: event %s: %s", path, uid, problem)
    return meetings


def _sequence(event: Component) -> int:
    try:
        return int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        return 0


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__

