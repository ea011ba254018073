"""Tests for daemon.core.timing: working hours (every DST edge), parsing, the daily cap and
properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.timing import (
    CapResult,
    WorkingHours,
    apply_daily_cap,
    next_working_time,
    parse_days,
    parse_working_hours,
    start_of_local_day,
)

NY = ZoneInfo("America/New_York")
LON = ZoneInfo("Europe/London")
LH = ZoneInfo("Australia/Lord_Howe")
SCL = ZoneInfo("America/Santiago")
HAV = ZoneInfo("America/Havana")
WEEKDAYS = WorkingHours(frozenset(range(5)), time(9), time(17, 30))
EVERY_DAY = frozenset(range(7))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def daily(start: time, end: time) -> WorkingHours:
    return WorkingHours(EVERY_DAY, start, end)


# --- next_working_time: ordinary weeks -----------------------------------------------------


def test_a_moment_inside_the_window_is_returned_as_utc() -> None:
    moment = datetime(2024, 5, 15, 10, 0, tzinfo=NY)  # Wednesday
    result = next_working_time(moment, WEEKDAYS, NY)
    assert result == moment
    assert result.tzinfo is UTC


def test_the_start_is_inclusive_and_the_end_exclusive() -> None:
    start = datetime(2024, 5, 15, 9, 0, tzinfo=NY)
    assert next_working_time(start, WEEKDAYS, NY) == start
    end = datetime(2024, 5, 15, 17, 30, tzinfo=NY)
    assert next_working_time(end, WEEKDAYS, NY) == datetime(2024, 5, 16, 9, 0, tzinfo=NY)
    last = end - timedelta(microseconds=1)
    assert next_working_time(last, WEEKDAYS, NY) == last


def test_before_the_window_waits_for_its_start_the_same_day() -> None:
    moment = datetime(2024, 5, 15, 6, 45, tzinfo=NY)
    assert next_working_time(moment, WEEKDAYS, NY) == utc(2024, 5, 15, 13, 0)


def test_after_the_window_waits_for_the_next_day() -> None:
    moment = datetime(2024, 5, 15, 21, 0, tzinfo=NY)
    assert next_working_time(moment, WEEKDAYS, NY) == utc(2024, 5, 16, 13, 0)


@pytest.mark.parametrize("moment", [
    datetime(2024, 5, 17, 18, 0, tzinfo=NY),   # Friday evening
    datetime(2024, 5, 18, 11, 0, tzinfo=NY),   # Saturday
    datetime(2024, 5, 19, 23, 59, tzinfo=NY),  # late Sunday
])
def test_friday_evening_and_the_weekend_wait_for_monday_morning(moment: datetime) -> None:
    assert next_working_time(moment, WEEKDAYS, NY) == datetime(2024, 5, 20, 9, 0, tzinfo=NY)


def test_the_moment_may_be_given_in_any_zone() -> None:
    tokyo = datetime(2024, 5, 16, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # Wed 19:00 in NY
    assert next_working_time(tokyo, WEEKDAYS, NY) == datetime(2024, 5, 16, 9, 0, tzinfo=NY)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_working_time(datetime(2024, 5, 15, 10, 0), WEEKDAYS, NY)


def test_windows_on_the_weekend_only() -> None:
    weekend = WorkingHours(frozenset({5, 6}), time(10), time(12))
    monday = datetime(2024, 5, 13, 11, 0, tzinfo=NY)
    assert next_working_time(monday, weekend, NY) == datetime(2024, 5, 18, 10, 0, tzinfo=NY)
    sunday_late = datetime(2024, 5, 19, 12, 0, tzinfo=NY)
    assert next_working_time(sunday_late, weekend, NY) == datetime(2024, 5, 25, 10, 0, tzinfo=NY)


def test_windows_on_tuesdays_and_thursdays() -> None:
    tue_thu = WorkingHours(frozenset({1, 3}), time(13), time(15))
    tuesday_after = datetime(2024, 5, 14, 15, 0, tzinfo=NY)
    assert next_working_time(tuesday_after, tue_thu, NY) == datetime(2024, 5, 16, 13, 0,
                                                                      tzinfo=NY)
    friday = datetime(2024, 5, 17, 14, 0, tzinfo=NY)
    assert next_working_time(friday, tue_thu, NY) == datetime(2024, 5, 21, 13, 0, tzinfo=NY)


def test_a_single_working_day_can_be_a_full_week_away() -> None:
    sundays = WorkingHours(frozenset({6}), time(8), time(9))
    just_after = datetime(2024, 5, 19, 9, 0, tzinfo=NY)
    assert next_working_time(just_after, sundays, NY) == datetime(2024, 5, 26, 8, 0, tzinfo=NY)


# --- next_working_time: DST ----------------------------------------------------------------
# New York 2024: 02:00 EST -> 03:00 EDT on 10 March; 02:00 EDT -> 01:00 EST on 3 November.


def test_new_york_a_morning_window_keeps_its_wall_clock_time_across_spring_forward() -> None:
    saturday_evening = datetime(2024, 3, 9, 18, 0, tzinfo=NY)
    assert next_working_time(saturday_evening, daily(time(9), time(17)), NY) == utc(
        2024, 3, 10, 13, 0)  # 09:00 EDT, 23 real hours after Saturday's 09:00 EST


def test_new_york_a_start_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    hours = daily(time(2, 30), time(6))
    before = datetime(2024, 3, 10, 1, 0, tzinfo=NY)
    assert next_working_time(before, hours, NY) == utc(2024, 3, 10, 7, 30)  # 03:30 EDT
    between = utc(2024, 3, 10, 7, 10)  # 03:10 EDT: after the gap, before the moved start
    assert next_working_time(between, hours, NY) == utc(2024, 3, 10, 7, 30)


def test_new_york_a_start_at_the_gap_begins_when_the_clocks_resume() -> None:
    before = datetime(2024, 3, 10, 1, 59, tzinfo=NY)
    assert next_working_time(before, daily(time(2), time(6)), NY) == utc(2024, 3, 10, 7, 0)


def test_new_york_a_window_emptied_by_the_gap_has_no_working_time_that_day() -> None:
    hours = daily(time(2, 30), time(3, 15))  # 02:30 -> 03:30 EDT, after 03:15 EDT
    midnight = datetime(2024, 3, 10, 0, 0, tzinfo=NY)
    assert next_working_time(midnight, hours, NY) == datetime(2024, 3, 11, 2, 30, tzinfo=NY)


def test_new_york_a_start_in_the_repeated_hour_is_its_first_pass() -> None:
    hours = daily(time(1, 30), time(3))
    midnight = datetime(2024, 11, 3, 0, 0, tzinfo=NY)
    assert next_working_time(midnight, hours, NY) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    second_pass = utc(2024, 11, 3, 6, 40)  # 01:40 EST, inside 01:30 EDT .. 03:00 EST
    assert next_working_time(second_pass, hours, NY) == second_pass


def test_new_york_the_second_pass_of_the_repeated_hour_is_after_an_end_inside_it() -> None:
    hours = daily(time(1), time(1, 30))
    first_pass = utc(2024, 11, 3, 5, 10)  # 01:10 EDT
    assert next_working_time(first_pass, hours, NY) == first_pass
    second_pass = utc(2024, 11, 3, 6, 10)  # 01:10 EST
    assert next_working_time(second_pass, hours, NY) == utc(2024, 11, 4, 6, 0)  # 01:00 EST


def test_new_york_a_morning_window_keeps_its_wall_clock_time_across_fall_back() -> None:
    saturday_evening = datetime(2024, 11, 2, 20, 0, tzinfo=NY)
    assert next_working_time(saturday_evening, daily(time(9), time(17)), NY) == utc(
        2024, 11, 3, 14, 0)  # 09:00 EST


# London 2024: 01:00 GMT -> 02:00 BST on 31 March; 02:00 BST -> 01:00 GMT on 27 October.


def test_london_a_start_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    before = datetime(2024, 3, 31, 0, 30, tzinfo=LON)
    assert next_working_time(before, daily(time(1, 30), time(5)), LON) == utc(2024, 3, 31, 1, 30)


def test_london_an_end_inside_the_repeated_hour_ends_at_its_first_pass() -> None:
    hours = daily(time(1), time(1, 30))
    midnight = datetime(2024, 10, 27, 0, 0, tzinfo=LON)  # BST
    assert next_working_time(midnight, hours, LON) == utc(2024, 10, 27, 0, 0)  # 01:00 BST
    second_pass = utc(2024, 10, 27, 1, 15)  # 01:15 GMT
    assert next_working_time(second_pass, hours, LON) == utc(2024, 10, 28, 1, 0)


def test_london_weekday_window_across_the_spring_change() -> None:
    friday_evening = datetime(2024, 3, 29, 18, 0, tzinfo=LON)
    assert next_working_time(friday_evening, WEEKDAYS, LON) == utc(2024, 4, 1, 8, 0)  # 09 BST


# Lord Howe 2024 (a 30-minute change): 02:00 (+10:30) -> 02:30 (+11) on 6 October;
# 02:00 (+11) -> 01:30 (+10:30) on 7 April.


def test_lord_howe_a_start_in_the_half_hour_gap_moves_forward_half_an_hour() -> None:
    before = datetime(2024, 10, 6, 1, 0, tzinfo=LH)
    assert next_working_time(before, daily(time(2), time(6)), LH) == utc(2024, 10, 5, 15, 30)
    assert next_working_time(before, daily(time(2, 15), time(6)), LH) == utc(2024, 10, 5, 15, 45)


def test_lord_howe_the_second_pass_of_the_repeated_half_hour_is_outside() -> None:
    hours = daily(time(1, 30), time(1, 45))
    first_pass = utc(2024, 4, 6, 14, 40)  # 01:40 +11
    assert next_working_time(first_pass, hours, LH) == first_pass
    second_pass = utc(2024, 4, 6, 15, 10)  # 01:40 +10:30
    assert next_working_time(second_pass, hours, LH) == utc(2024, 4, 7, 15, 0)  # 8 Apr 01:30


def test_lord_howe_a_morning_window_keeps_its_wall_clock_time() -> None:
    saturday_evening = datetime(2024, 10, 5, 18, 0, tzinfo=LH)
    result = next_working_time(saturday_evening, daily(time(9), time(17)), LH)
    assert result == utc(2024, 10, 5, 22, 0)  # Sunday 09:00 +11
    assert result - datetime(2024, 10, 5, 9, 0, tzinfo=LH) == timedelta(hours=23, minutes=30)


# Santiago 2024: midnight skipped on 8 September (00:00 -04 -> 01:00 -03); on 7 April at
# 00:00 -03 the clocks go back to 23:00 -04 on the 6th.
# Havana 2024: midnight skipped on 10 March (00:00 CST -> 01:00 CDT); on 3 November at
# 01:00 CDT the clocks go back to 00:00 CST, so midnight happens twice.


def test_santiago_a_midnight_start_on_the_skipped_midnight_begins_at_one() -> None:
    saturday_night = datetime(2024, 9, 7, 23, 0, tzinfo=SCL)
    assert next_working_time(saturday_night, daily(time(0), time(8)), SCL) == utc(
        2024, 9, 8, 4, 0)  # 01:00 -03


def test_santiago_the_repeated_hour_before_midnight_counts_once() -> None:
    hours = daily(time(23), time(23, 59))
    first_pass = utc(2024, 4, 7, 2, 30)  # 6 April 23:30 -03
    assert next_working_time(first_pass, hours, SCL) == first_pass
    second_pass = utc(2024, 4, 7, 3, 30)  # 6 April 23:30 -04
    assert next_working_time(second_pass, hours, SCL) == datetime(2024, 4, 7, 23, 0, tzinfo=SCL)


def test_havana_a_window_at_midnight_on_the_day_midnight_is_skipped() -> None:
    saturday_evening = datetime(2024, 3, 9, 20, 0, tzinfo=HAV)
    assert next_working_time(saturday_evening, daily(time(0), time(2)), HAV) == utc(
        2024, 3, 10, 5, 0)  # 01:00 CDT


def test_havana_the_second_midnight_is_inside_a_window_that_ends_after_the_repeat() -> None:
    hours = daily(time(0), time(3))
    second_midnight = utc(2024, 11, 3, 5, 0)  # 00:00 CST
    assert next_working_time(second_midnight, hours, HAV) == second_midnight


# --- start_of_local_day --------------------------------------------------------------------


def test_start_of_local_day_is_local_midnight_in_utc() -> None:
    assert start_of_local_day(datetime(2024, 5, 15, 15, 0, tzinfo=NY), NY) == utc(
        2024, 5, 15, 4, 0)
    # 02:00 UTC on the 16th is still the 15th in New York.
    assert start_of_local_day(utc(2024, 5, 16, 2, 0), NY) == utc(2024, 5, 15, 4, 0)


def test_start_of_local_day_on_dst_days_uses_the_offset_at_midnight() -> None:
    assert start_of_local_day(datetime(2024, 3, 10, 12, 0, tzinfo=NY), NY) == utc(
        2024, 3, 10, 5, 0)  # 00:00 EST
    assert start_of_local_day(datetime(2024, 11, 3, 12, 0, tzinfo=NY), NY) == utc(
        2024, 11, 3, 4, 0)  # 00:00 EDT
    assert start_of_local_day(datetime(2024, 10, 6, 12, 0, tzinfo=LH), LH) == utc(
        2024, 10, 5, 13, 30)  # 00:00 +10:30


def test_start_of_local_day_where_midnight_is_skipped_is_the_end_of_the_gap() -> None:
    assert start_of_local_day(datetime(2024, 9, 8, 12, 0, tzinfo=SCL), SCL) == utc(
        2024, 9, 8, 4, 0)  # 01:00 -03
    assert start_of_local_day(datetime(2024, 3, 10, 12, 0, tzinfo=HAV), HAV) == utc(
        2024, 3, 10, 5, 0)  # 01:00 CDT


def test_start_of_local_day_where_time_repeats_around_midnight() -> None:
    # Havana: 00:30 CST is the second pass; the day began at the first midnight (CDT).
    assert start_of_local_day(utc(2024, 11, 3, 5, 30), HAV) == utc(2024, 11, 3, 4, 0)
    # Santiago: 23:30 -04 on 6 April is that day again, which began at 00:00 -03.
    assert start_of_local_day(utc(2024, 4, 7, 3, 30), SCL) == utc(2024, 4, 6, 3, 0)
    assert start_of_local_day(datetime(2024, 4, 7, 12, 0, tzinfo=SCL), SCL) == utc(
        2024, 4, 7, 4, 0)


def test_start_of_local_day_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        start_of_local_day(datetime(2024, 5, 15, 12, 0), NY)


# --- WorkingHours and parsing --------------------------------------------------------------


@pytest.mark.parametrize(("days", "start", "end", "message"), [
    (frozenset(), time(9), time(17), "at least one working day"),
    (frozenset({0, 7}), time(9), time(17), "from 0 \\(Monday\\) to 6 \\(Sunday\\), got 7"),
    (frozenset({-1}), time(9), time(17), "got -1"),
    (frozenset({0}), time(17), time(9), "start before they end, got 17:00-09:00"),
    (frozenset({0}), time(9), time(9), "start before they end"),
    (frozenset({0}), time(9, tzinfo=UTC), time(17), "without a time zone"),
])
def test_working_hours_refuse_what_cannot_be_a_window(
    days: frozenset[int], start: time, end: time, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingHours(days, start, end)


@pytest.mark.parametrize(("text", "expected"), [
    ("09:00-17:30", (time(9), time(17, 30))),
    (" 9:00 - 17:30 ", (time(9), time(17, 30))),
    ("00:00-23:59", (time(0), time(23, 59))),
])
def test_parse_working_hours(text: str, expected: tuple[time, time]) -> None:
    assert parse_working_hours(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("9-5", "not in the form HH:MM-HH:MM.*for example 09:00-17:30"),
    ("09:00", "not in the form HH:MM-HH:MM"),
    ("", "not in the form HH:MM-HH:MM"),
    ("09:00-17:30 CET", "not in the form HH:MM-HH:MM"),
    ("9am-5pm", "not in the form HH:MM-HH:MM"),
    ("09:00-24:00", "does not exist: hours go from 00 to 23.*23:59"),
    ("09:60-17:00", "does not exist.*minutes from 00 to 59"),
    ("17:00-09:00", "'17:00-09:00' must start before they end.*crosses midnight"),
    ("09:00-09:00", "must start before they end"),
])
def test_parse_working_hours_says_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_working_hours(text)


@pytest.mark.parametrize(("names", "expected"), [
    (["mon", "tue"], {0, 1}),
    (["Monday", "WED", " friday "], {0, 2, 4}),
    (["mon-fri"], {0, 1, 2, 3, 4}),
    (["Sat-Sun"], {5, 6}),
    (["fri-mon"], {4, 5, 6, 0}),
    (["thu-thu"], {3}),
    (["monday - wednesday", "mon"], {0, 1, 2}),
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("sunday", {6}),
])
def test_parse_days(names: list[str] | str, expected: set[int]) -> None:
    assert parse_days(names) == frozenset(expected)


@pytest.mark.parametrize(("names", "message"), [
    (["funday"], "'funday' is not a day: use mon, tue.*full names.*mon-fri"),
    (["mon", "tues"], "'tues' is not a day"),
    (["mon-"], "'mon-' is not a day"),
    (["mon-fri-sat"], "'mon-fri-sat' is not a day"),
    ([""], "'' is not a day"),
    ([], "no working days given: name at least one"),
    ("1", "'1' is not a day"),
])
def test_parse_days_says_what_is_accepted(names: list[str] | str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_days(names)


# --- apply_daily_cap -----------------------------------------------------------------------

WEDNESDAY = datetime(2024, 5, 15, 15, 0, tzinfo=NY)
ITEMS = ["a", "b", "c", "d", "e"]


def test_no_cap_keeps_everything() -> None:
    for cap in (0, -3):
        result = apply_daily_cap(ITEMS, made_today=40, cap=cap, now=WEDNESDAY, tz=NY,
                                 hours=WEEKDAYS)
        assert result == CapResult(tuple(ITEMS), ())


def test_under_the_cap_everything_stays_due() -> None:
    kept, deferred = apply_daily_cap(ITEMS, made_today=0, cap=5, now=WEDNESDAY, tz=NY,
                                     hours=None)
    assert kept == tuple(ITEMS)
    assert deferred == ()


def test_the_rest_of_todays_budget_stays_and_the_others_wait_for_midnight() -> None:
    result = apply_daily_cap(ITEMS, made_today=1, cap=3, now=WEDNESDAY, tz=NY, hours=None)
    assert result.kept == ("a", "b")
    thursday = utc(2024, 5, 16, 4, 0)
    assert result.deferred == (("c", thursday), ("d", thursday), ("e", thursday))


def test_each_further_batch_waits_one_more_day() -> None:
    kept, deferred = apply_daily_cap(ITEMS, made_today=2, cap=2, now=WEDNESDAY, tz=NY,
                                     hours=None)
    assert kept == ()
    thu, fri, sat = (datetime(2024, 5, d, 0, 0, tzinfo=NY) for d in (16, 17, 18))
    assert deferred == (("a", thu), ("b", thu), ("c", fri), ("d", fri), ("e", sat))


def test_batches_wait_for_working_days_and_their_first_window() -> None:
    thursday = datetime(2024, 5, 16, 15, 0, tzinfo=NY)
    kept, deferred = apply_daily_cap(ITEMS, made_today=1, cap=2, now=thursday, tz=NY,
                                     hours=WEEKDAYS)
    assert kept == ("a",)
    fri, mon, tue = (datetime(2024, 5, d, 9, 0, tzinfo=NY) for d in (17, 20, 21))
    assert deferred == (("b", fri), ("c", fri), ("d", mon), ("e", mon))
    kept, deferred = apply_daily_cap(ITEMS, made_today=2, cap=2, now=thursday, tz=NY,
                                     hours=WEEKDAYS)
    assert [turn for _, turn in deferred] == [fri, fri, mon, mon, tue]


def test_made_today_over_the_cap_defers_everything_to_tomorrow() -> None:
    kept, deferred = apply_daily_cap(ITEMS[:3], made_today=9, cap=2, now=WEDNESDAY, tz=NY,
                                     hours=None)
    assert kept == ()
    thu, fri = (datetime(2024, 5, d, 0, 0, tzinfo=NY) for d in (16, 17))
    assert deferred == (("a", thu), ("b", thu), ("c", fri))


def test_turns_across_dst_days_and_skipped_midnights() -> None:
    saturday = datetime(2024, 3, 9, 12, 0, tzinfo=NY)
    _, deferred = apply_daily_cap(["a", "b"], made_today=1, cap=1, now=saturday, tz=NY,
                                  hours=None)
    assert deferred == (("a", utc(2024, 3, 10, 5, 0)), ("b", utc(2024, 3, 11, 4, 0)))
    havana_evening = datetime(2024, 3, 9, 20, 0, tzinfo=HAV)
    _, deferred = apply_daily_cap(["a"], made_today=1, cap=1, now=havana_evening, tz=HAV,
                                  hours=None)
    assert deferred == (("a", utc(2024, 3, 10, 5, 0)),)  # 01:00 CDT, midnight was skipped
    santiago_evening = datetime(2024, 9, 7, 20, 0, tzinfo=SCL)
    _, deferred = apply_daily_cap(["a"], made_today=1, cap=1, now=santiago_evening, tz=SCL,
                                  hours=daily(time(0), time(8)))
    assert deferred == (("a", utc(2024, 9, 8, 4, 0)),)  # the window opens at 01:00 -03


def test_the_cap_refuses_a_naive_now_and_a_negative_count() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply_daily_cap(ITEMS, made_today=0, cap=2, now=datetime(2024, 5, 15), tz=NY,
                        hours=None)
    with pytest.raises(ValueError, match="cannot be negative, got -1"):
        apply_daily_cap(ITEMS, made_today=-1, cap=2, now=WEDNESDAY, tz=NY, hours=None)


# --- properties ----------------------------------------------------------------------------

ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
         "America/Havana", "Asia/Kathmandu", "UTC")
"""Every offset and every change in these is a whole number of quarter hours."""
QUARTER = timedelta(minutes=15)
SPAN_START = utc(2023, 1, 1)
SPAN_DAYS = 4 * 366


@cache
def _changes(name: str) -> tuple[datetime, ...]:
    """Noon (UTC) of each day whose offset differs from the day before, 2023-2026."""
    tz = ZoneInfo(name)
    noons = [SPAN_START + timedelta(days=n, hours=12) for n in range(SPAN_DAYS)]
    offsets = [n.astimezone(tz).utcoffset() for n in noons]
    return tuple(noons[i] for i in range(1, len(noons)) if offsets[i] != offsets[i - 1])


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone from ZONES and a UTC instant, half the time within days of a DST change."""
    name = draw(st.sampled_from(ZONES))
    changes = _changes(name)
    near_a_change = draw(st.booleans())
    if changes and near_a_change:
        base = draw(st.sampled_from(changes))
        seconds = draw(st.integers(-4 * 86400, 2 * 86400))
    else:
        base = SPAN_START
        seconds = draw(st.integers(0, (SPAN_DAYS - 14) * 86400))
    return ZoneInfo(name), base + timedelta(seconds=seconds)


@st.composite
def quarter_hour_windows(draw: st.DrawFn) -> WorkingHours:
    """Working hours on a random set of days, starting and ending on a quarter hour."""
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    first = draw(st.integers(0, 94))
    last = draw(st.integers(first + 1, 95))
    return WorkingHours(days, time(first // 4, first % 4 * 15), time(last // 4, last % 4 * 15))


def working(x: datetime, hours: WorkingHours, tz: ZoneInfo) -> bool:
    """The definition, written out: ``x`` lies in the window of its own local day."""
    day = x.astimezone(tz).date()
    if day.weekday() not in hours.days:
        return False
    return _window(day, hours, tz)[0] <= x < _window(day, hours, tz)[1]


@lru_cache(maxsize=4096)
def _window(day: date, hours: WorkingHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(day, hours.start, tzinfo=tz).astimezone(UTC),
            datetime.combine(day, hours.end, tzinfo=tz).astimezone(UTC))


def _steady(day: date, tz: ZoneInfo) -> bool:
    """Whether ``tz`` keeps one offset all through ``day``."""
    first = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
    return first == datetime.combine(day, time(23, 59), tzinfo=tz).utcoffset() == (
        datetime.combine(day, time(12), tzinfo=tz).utcoffset())


@settings(max_examples=200, deadline=None)
@given(zone_and_moment(), quarter_hour_windows())
def test_next_working_time_is_the_first_working_instant(
    zm: tuple[ZoneInfo, datetime], hours: WorkingHours
) -> None:
    tz, moment = zm
    result = next_working_time(moment, hours, tz)
    assert result.tzinfo is UTC
    assert result >= moment
    assert working(result, hours, tz)
    if working(moment, hours, tz):
        assert result == moment
    # Working status only changes on quarter hours (UTC), so checking each quarter hour
    # strictly between the two finds any working instant there.
    step = moment - timedelta(seconds=moment.timestamp() % 900) + QUARTER
    while step < result:
        assert not working(step, hours, tz), step
        step += QUARTER
    local = result.astimezone(tz)
    if _steady(local.date(), tz):  # away from changes, plain wall-clock reading agrees
        assert local.weekday() in hours.days
        assert hours.start <= local.time().replace(tzinfo=None) < hours.end


@settings(max_examples=200, deadline=None)
@given(zone_and_moment())
def test_start_of_local_day_is_the_first_instant_of_that_date(
    zm: tuple[ZoneInfo, datetime]
) -> None:
    tz, now = zm
    start = start_of_local_day(now, tz)
    assert start <= now
    assert start.astimezone(tz).date() == now.astimezone(tz).date()
    assert (start - timedelta(seconds=1)).astimezone(tz).date() < now.astimezone(tz).date()


@settings(max_examples=100, deadline=None)
@given(zone_and_moment(), st.one_of(st.none(), quarter_hour_windows()),
       st.integers(0, 12), st.integers(1, 4), st.integers(0, 6))
def test_the_cap_keeps_a_prefix_and_spreads_the_rest_one_batch_per_day(
    zm: tuple[ZoneInfo, datetime], hours: WorkingHours | None, n: int, cap: int, made: int
) -> None:
    tz, now = zm
    items = list(range(n))
    kept, deferred = apply_daily_cap(items, made_today=made, cap=cap, now=now, tz=tz,
                                     hours=hours)
    assert list(kept) + [item for item, _ in deferred] == items
    assert len(kept) == min(n, max(0, cap - made))
    turns = [turn for _, turn in deferred]
    assert turns == sorted(turns)
    days = [turn.astimezone(tz).date() for turn in turns]
    assert all(day > now.astimezone(tz).date() for day in days)
    assert all(days.count(day) <= cap for day in days)
    for turn in turns:
        if hours is None:
            assert turn == start_of_local_day(turn, tz)
        else:  # the first working instant of its day
            assert working(turn, hours, tz)
            assert next_working_time(start_of_local_day(turn, tz), hours, tz) == turn
