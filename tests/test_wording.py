"""Dates and lengths are worded in English on every machine (daemon.core.wording)."""

from __future__ import annotations

import locale
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.core.wording import ago, at_time, long_date, on_day, plural, span, table_time

BERLIN = ZoneInfo("Europe/Berlin")


def test_dates_in_the_given_zone() -> None:
    moment = datetime(2024, 5, 10, 8, 5, tzinfo=UTC)  # 10:05 in Berlin (summer time)
    assert on_day(moment, BERLIN) == "Fri 10 May 2024"
    assert at_time(moment, BERLIN) == "Fri 10 May 2024 at 10:05"
    assert table_time(datetime(2026, 11, 3, 23, 30, tzinfo=UTC), BERLIN) == "Wed 04 Nov 2026 00:30"
    assert long_date(moment.astimezone(BERLIN)) == "Friday 10 May"


def test_the_table_time_matches_the_c_locale_over_a_year() -> None:
    locale.setlocale(locale.LC_TIME, "C")
    start = datetime(2025, 1, 1, 6, 45, tzinfo=UTC)
    for n in range(0, 366, 7):
        moment = start + timedelta(days=n, hours=n % 24)
        assert table_time(moment, BERLIN) == moment.astimezone(BERLIN).strftime("%a %d %b %Y %H:%M")


@pytest.mark.parametrize(("delta", "words"), [
    (timedelta(seconds=-5), "0 minutes"), (timedelta(minutes=1), "1 minute"),
    (timedelta(minutes=59), "59 minutes"), (timedelta(hours=1), "1 hour"),
    (timedelta(hours=35, minutes=59), "35 hours"), (timedelta(hours=36), "2 days"),
    (timedelta(days=2, hours=11), "2 days"), (timedelta(days=2, hours=12), "3 days"),
])
def test_span_rounds_to_a_readable_unit(delta: timedelta, words: str) -> None:
    assert span(delta) == words


def test_ago_and_plural() -> None:
    assert ago(timedelta(seconds=59)) == "just now"
    assert ago(timedelta(hours=3)) == "3 hours ago"
    assert (plural(1, "day"), plural(0, "day"), plural(2, "day")) == ("1 day", "0 days", "2 days")
