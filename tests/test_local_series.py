"""Series in one .ics text: bounded however they repeat, THISANDFUTURE overrides, and rules
the libraries reject."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from connectors.local.expand import MAX_OCCURRENCES, SERIES_SECONDS
from connectors.local.ics import ParsedFile, parse_file
from connectors.local.window import Window

ZONE = ZoneInfo("Pacific/Auckland")
TODAY = date(2026, 3, 1)
WINDOW = Window.around(TODAY, 400, 365)
GOOD = ("BEGIN:VEVENT", "UID:good@example.com", "DTSTART:20260305T010000Z",
        "DTEND:20260305T020000Z", "SUMMARY:Coffee chat with Dana", "END:VEVENT")


def calendar(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in ("BEGIN:VCALENDAR", *lines, "END:VCALENDAR")
                   ).encode()


def series(uid: str, rule: str, start: str, title: str = "Flood", *extra: str) -> tuple[str, ...]:
    return ("BEGIN:VEVENT", f"UID:{uid}", f"DTSTART:{start}", f"SUMMARY:{title}",
            f"RRULE:{rule}", *extra, "END:VEVENT")


def read(data: bytes, window: Window = WINDOW, name: str = "series.ics") -> ParsedFile:
    return parse_file(data, path=Path(name), tz=ZONE, window=window)


def of_uid(parsed: ParsedFile, uid: str) -> list[datetime]:
    return sorted(m.start for m in parsed.meetings if m.uid.startswith(f"{uid}/"))


# --- no series stalls or bloats a reading ---------------------------------------------------


@pytest.mark.parametrize(("rule", "start"), [
    ("FREQ=SECONDLY", "20260301T000000Z"),
    ("FREQ=SECONDLY", "20200101T000000Z"),
    ("FREQ=MINUTELY", "20250101T000000Z"),
    ("FREQ=MINUTELY;INTERVAL=1", "20260220T000000Z"),
    ("FREQ=HOURLY", "20000101T000000Z"),
    ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "20260101T000000Z"),
    ("FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31", "20260101T000000Z"),
])
def test_a_series_with_no_end_is_bounded_and_its_neighbour_still_counts(rule: str,
                                                                        start: str) -> None:
    started = time.monotonic()
    parsed = read(calendar(*series("flood@example.com", rule, start), *GOOD))
    assert time.monotonic() - started < 10  # a generous ceiling: the bound is 3 s a series
    assert "good@example.com" in {m.uid for m in parsed.meetings}
    assert len(of_uid(parsed, "flood@example.com")) <= MAX_OCCURRENCES
    [note] = parsed.notes
    assert "'Flood'" in note
    assert ("nearest today" in note) or (f"{SERIES_SECONDS:g} s" in note)


def test_a_series_over_the_cap_keeps_the_occurrences_nearest_today() -> None:
    parsed = read(calendar(*series("hourly@example.com", "FREQ=HOURLY;UNTIL=20270101T000000Z",
                                   "20260201T000000Z", "Hourly")))
    starts = of_uid(parsed, "hourly@example.com")
    today = datetime(2026, 3, 1, tzinfo=ZONE)
    assert len(starts) == MAX_OCCURRENCES
    assert max(abs(start - today) for start in starts) <= timedelta(hours=MAX_OCCURRENCES // 2)
    assert today in starts and today - timedelta(hours=1) in starts
    assert parsed.notes == (f"the repeating event 'Hourly' has more than {MAX_OCCURRENCES:,} "
                            f"occurrences in the window; the {MAX_OCCURRENCES:,} nearest "
                            "today were kept",)


def test_a_series_under_the_cap_is_read_in_full_without_a_note() -> None:
    data = calendar(*series("daily@example.com", "FREQ=DAILY", "20250101T090000Z", "Standup"))
    parsed = read(data)
    expected = recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(
        *WINDOW.bounds(ZONE))
    assert 700 < len(expected) < MAX_OCCURRENCES
    assert of_uid(parsed, "daily@example.com") == sorted(
        occurrence["DTSTART"].dt for occurrence in expected)
    assert parsed.notes == ()


def test_the_time_of_one_text_is_bounded_over_many_series() -> None:
    floods = [line for n in range(6)
              for line in series(f"flood-{n}", "FREQ=SECONDLY", "20200101T000000Z",
                                 f"Flood {n}")]
    started = time.monotonic()
    parsed = parse_file(calendar(*floods, *GOOD), path=Path("x.ics"), tz=ZONE, window=WINDOW,
                        deadline=time.monotonic() + 4)
    assert time.monotonic() - started < 10
    assert "good@example.com" in {m.uid for m in parsed.meetings}
    assert any("took longer than" in note or "it was left out" in note
               for note in parsed.notes)
    assert len(parsed.notes) == 6


# --- RANGE=THISANDFUTURE ------------------------------------------------------------------


def test_thisandfuture_occurrences_keep_their_own_slot_and_the_new_times() -> None:
    data = calendar(
        *series("weekly@example.com", "FREQ=WEEKLY;COUNT=6", "20260302T010000Z", "Weekly",
                "DTEND:20260302T020000Z"),
        "BEGIN:VEVENT", "UID:weekly@example.com",
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20260316T010000Z", "DTSTART:20260316T030000Z",
        "DTEND:20260316T050000Z", "SUMMARY:Weekly, later", "END:VEVENT")
    parsed = read(data)
    by_uid = {m.uid: m for m in parsed.meetings}
    slots = [datetime(2026, 3, 2, 1, tzinfo=UTC) + timedelta(weeks=n) for n in range(6)]
    assert sorted(by_uid) == [f"weekly@example.com/{s:%Y-%m-%dT%H:%M:%SZ}" for s in slots]
    for n, slot in enumerate(slots):
        meeting = by_uid[f"weekly@example.com/{slot:%Y-%m-%dT%H:%M:%SZ}"]
        moved = n >= 2
        assert meeting.start == slot + timedelta(hours=2 if moved else 0)
        assert meeting.end - meeting.start == timedelta(hours=2 if moved else 1)
        assert meeting.title == ("Weekly, later" if moved else "Weekly")


def test_the_librarys_own_thisandfuture_calendar_gives_every_occurrence() -> None:
    path = (Path(recurring_ical_events.__file__).parent / "test" / "calendars"
            / "issue_75_range_parameter.ics")
    window = Window(date(2024, 1, 1), date(2026, 1, 1), date(2024, 9, 15))
    parsed = read(path.read_bytes(), window)
    expected = recurring_ical_events.of(icalendar.Calendar.from_ical(path.read_bytes())
                                        ).between(*window.bounds(ZONE))
    assert len(expected) == 193
    assert len(parsed.meetings) == len({m.uid for m in parsed.meetings}) == 193
    assert sorted(m.start for m in parsed.meetings) == sorted(
        occurrence["DTSTART"].dt for occurrence in expected)


# --- rules the libraries reject -----------------------------------------------------------


@pytest.mark.parametrize(("rule", "words"), [
    ("FREQ=WEEKLY;UNTL=20261023", 'its repeat rule "FREQ=WEEKLY;UNTL=20261023" is not valid'),
    ("FREQ=SOMETIMES", 'its repeat rule "FREQ=SOMETIMES" is not valid'),
])
def test_a_rejected_rule_keeps_the_first_occurrence_and_says_why(rule: str, words: str) -> None:
    parsed = read(calendar(*series("typo@example.com", rule, "20260304T010000Z", "Mentoring"),
                           *GOOD))
    assert {m.uid for m in parsed.meetings} == {"typo@example.com/2026-03-04T01:00:00Z",
                                                 "good@example.com"}
    assert parsed.notes == (f"the repeating event 'Mentoring' was read as its first "
                            f"occurrence only: {words}",)
    assert parsed.recurring


def test_a_broken_exdate_is_named_and_the_first_occurrence_kept() -> None:
    parsed = read(calendar(*series("exdate@example.com", "FREQ=DAILY;COUNT=3",
                                   "20260304T010000Z", "Standup", "EXDATE;VALUE=DATE:")))
    assert [m.uid for m in parsed.meetings] == ["exdate@example.com/2026-03-04T01:00:00Z"]
    assert parsed.notes == ("the repeating event 'Standup' was read as its first occurrence "
                            "only: its EXDATE is not valid",)


def test_a_series_without_a_start_is_named_and_its_overrides_kept() -> None:
    parsed = read(calendar(
        "BEGIN:VEVENT", "UID:nostart@example.com", "RRULE:FREQ=WEEKLY", "SUMMARY:Reading club",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:nostart@example.com", "RECURRENCE-ID:20260310T010000Z",
        "DTSTART:20260310T020000Z", "SUMMARY:Reading club, moved", "END:VEVENT"))
    assert [m.uid for m in parsed.meetings] == ["nostart@example.com/2026-03-10T01:00:00Z"]
    assert parsed.notes == ("the repeating event 'Reading club' was skipped: it has no start "
                            "time (DTSTART)",)


def test_the_day_a_window_is_drawn_around_takes_no_part_in_comparing_windows() -> None:
    drawn = Window.around(TODAY, 400, 365)
    read_back = Window(drawn.start, drawn.end)
    assert drawn == read_back and drawn.today == TODAY and read_back.today is None
    assert drawn.middle == TODAY
    assert read_back.middle == drawn.start + timedelta(days=(drawn.end - drawn.start).days // 2)


def test_a_window_drawn_at_an_instant_is_around_that_instants_day_in_the_users_zone() -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    # 11:30 UTC on 28 February is already 1 March in Auckland (UTC+13 in summer).
    drawn = Window.at(datetime(2026, 2, 28, 11, 30, tzinfo=UTC), auckland, 400, 365)
    assert drawn == Window.around(date(2026, 3, 1), 400, 365)
    assert drawn.today == date(2026, 3, 1)
    with pytest.raises(ValueError, match="aware"):
        Window.at(datetime(2026, 2, 28, 11, 30), auckland, 400, 365)
