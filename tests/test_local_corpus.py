"""The local connector's reading against the calendars that icalendar and recurring-ical-events
ship in their own test suites: real exports (Google, Outlook, Apple, Thunderbird, Nextcloud,
khal...) and fuzz cases.

Every file is read as coffeechat reads a vdir file (parse_file, the user in Europe/Berlin, a
window of two years from the file's first event), with every event taken as tagged (the
tagging reads the meetings that come out: any meeting missing here would be a missing draft).
Then, for each UID (events without a UID pooled together), the (start, end) of what coffeechat
stores, in UTC, must be what recurring-ical-events gives for the same window, read the same
way (one calendar per UID, with every VTIMEZONE of the file and its X-WR-TIMEZONE). When the
library refuses an event, coffeechat must have said so in the file's notes, naming its title.
The few files where coffeechat differs on purpose are listed with the reason, and must still
differ.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from icalendar import Component
from recurring_ical_events.util import time_span_contains_event

from connectors.local.ics import MalformedCalendar, ParsedFile, parse_file
from connectors.local.window import Window

ZONE = ZoneInfo("Europe/Berlin")
DAYS = 731
"""The window's length: a daily series stays under the cap of occurrences kept."""
NO_UID = "(no UID)"
ROOTS = (Path(icalendar.__file__).parent / "tests",
         Path(recurring_ical_events.__file__).parent / "test" / "calendars")
FILES = sorted(path for root in ROOTS for path in root.rglob("*.ics"))

DIFFERENT_ON_PURPOSE = {
    "calendars/end_before_start_event.ics":
        "an event that ends before it starts is read as taking no time (the library swaps "
        "start and end)",
    "calendars/issue_132_swapped_start_and_end.ics": "the same, in an Outlook export",
    "calendars/issue_201_mixed_datetime_and_date.ics":
        "an all-day event with a timed DTEND is read as whole days, in the user's zone",
    "calendars/issue_201_test_matrix.ics": "the same, and a DURATION in hours on an all-day event",
    "calendars/america_new_york_forward_reference.ics":
        "an event with two DTSTARTs is read at the first (the library refuses it)",
    "calendars/pacific_fiji.ics": "the same event, with another zone",
}
Times = frozenset[tuple[datetime, datetime]]


@dataclass
class Figures:
    files: int = 0
    meetings: int = 0
    skipped_files: int = 0
    refused_events: int = 0
    differing: list[str] = field(default_factory=list)


FIGURES = Figures()


def window_for(calendars: Sequence[Component]) -> Window:
    days = []
    for event in (e for calendar in calendars for e in calendar.walk("VEVENT")):
        prop = event.get("DTSTART")
        try:
            value = (prop[0] if isinstance(prop, list) else prop).dt
        except Exception:  # an event without a readable start does not place the window
            continue
        if isinstance(value, date):
            days.append(value.date() if isinstance(value, datetime) else value)
    first = min(days, default=date(2026, 1, 1)) - timedelta(days=1)
    return Window(first, first + timedelta(days=DAYS), first + timedelta(days=180))


def utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=ZONE)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=ZONE)
    return value.astimezone(UTC)


def ours(parsed: ParsedFile, window: Window) -> dict[str, Times]:
    low, high = window.bounds(ZONE)
    found: dict[str, set[tuple[datetime, datetime]]] = {}
    for meeting in parsed.meetings:
        uid = meeting.uid if meeting.uid in parsed.events else meeting.uid.rsplit("/", 1)[0]
        if uid.startswith("no-uid-"):
            uid = NO_UID
        if time_span_contains_event(low, high, meeting.start, meeting.end):
            found.setdefault(uid, set()).add((utc(meeting.start), utc(meeting.end)))
    return {uid: frozenset(times) for uid, times in found.items()}


def by_uid(calendars: Sequence[Component]) -> Iterator[tuple[str, str, Component]]:
    """(uid, title, one calendar holding that UID's events, every VTIMEZONE of the file and
    the X-WR-TIMEZONE of the event's calendar); events without a UID one by one."""
    zones = [zone for calendar in calendars for zone in calendar.walk("VTIMEZONE")]
    groups: dict[str, list[tuple[Component, Component]]] = {}
    anonymous: list[list[tuple[Component, Component]]] = []
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            if "UID" in event:
                groups.setdefault(str(event["UID"]), []).append((calendar, event))
            else:
                anonymous.append([(calendar, event)])
    for uid, events in [*groups.items(), *((NO_UID, group) for group in anonymous)]:
        one = icalendar.Calendar()
        if "X-WR-TIMEZONE" in events[0][0]:
            one["X-WR-TIMEZONE"] = events[0][0]["X-WR-TIMEZONE"]
        for part in (*zones, *(event for _, event in events)):
            one.add_component(part)
        yield uid, str(events[0][1].get("SUMMARY", "")), one


def theirs(one: Component, window: Window) -> Times:
    times = set()
    for occurrence in recurring_ical_events.of(one).between(*window.bounds(ZONE)):
        start = occurrence["DTSTART"].dt
        end = occurrence["DTEND"].dt if "DTEND" in occurrence else start
        times.add((utc(start), utc(end)))
    return frozenset(times)


@pytest.fixture(scope="module", autouse=True)
def print_figures() -> Iterator[None]:
    yield
    print(f"\ncorpus: {FIGURES.files} files read, {FIGURES.meetings} meetings, "
          f"{FIGURES.skipped_files} files skipped with a message, {FIGURES.refused_events} "
          f"events the library refuses (each named in a note), "
          f"{len(FIGURES.differing)} files differing on purpose")


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 200


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_real_world_file_reads_as_recurring_ical_events_reads_it(
        path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = path.read_bytes()
    name = f"{path.parent.name}/{path.name}"
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception:  # icalendar cannot read it at all: coffeechat must say so
        calendars = []
    window = window_for(calendars)
    caplog.set_level(logging.CRITICAL)
    try:
        parsed = parse_file(data, path=Path(path.name), tz=ZONE, window=window)
    except MalformedCalendar as exc:
        assert str(exc)
        FIGURES.skipped_files += 1
        assert name not in DIFFERENT_ON_PURPOSE
        return
    FIGURES.files += 1
    FIGURES.meetings += len(parsed.meetings)
    mine = ours(parsed, window)
    differs = False
    pooled: list[Times] = []
    for uid, title, one in by_uid(calendars):
        try:
            expected = theirs(one, window)
        except Exception:  # the library refuses this event: coffeechat names it
            FIGURES.refused_events += 1
            if name in DIFFERENT_ON_PURPOSE:
                differs = True
                continue
            shown = title[:40] or "(no title)"
            assert any(shown in note for note in parsed.notes), (uid, parsed.notes)
            continue
        if uid == NO_UID:
            pooled.append(expected)  # compared once below
            continue
        differs = differs or mine.get(uid, frozenset()) != expected
        if name not in DIFFERENT_ON_PURPOSE:
            assert mine.get(uid, frozenset()) == expected, uid
    if pooled:
        assert mine.get(NO_UID, frozenset()) == frozenset().union(*pooled)
    if name in DIFFERENT_ON_PURPOSE:
        assert differs, f"{name} no longer differs: take it off the list"
        FIGURES.differing.append(name)
