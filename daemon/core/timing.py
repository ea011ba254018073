"""Timing people like: the user's working hours, and a daily limit on new drafts.

Pure: no clock, no I/O; ``now`` is an argument. Every datetime given must be timezone-aware
(``ValueError`` otherwise); every datetime returned is a UTC instant.

Time rules (the same as :func:`add_days`, which the planner uses for "N days"):

- Working hours are wall-clock times in the user's zone. The window of a local day runs from
  the instant its start time resolves to (inclusive) to the instant its end time resolves to
  (exclusive).
- A wall-clock time that does not exist (skipped in spring) moves forward by the size of the
  gap: a 02:30 start on a day the clocks jump from 02:00 to 03:00 becomes 03:30. A time that
  exists twice (repeated in autumn) resolves to the first of the two, so the second pass of the
  repeated hour is outside a window that ends within it.
- A window that comes out empty that way (its start skipped forward past its end, e.g.
  02:30-03:15 on the day above) has no working time that day.
- A local day begins at the first instant of its date: local midnight, or, where midnight is
  skipped (America/Santiago, America/Havana), the end of that gap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {**{n: i for i, n in enumerate(_DAY_NAMES)},
              **{n[:3]: i for i, n in enumerate(_DAY_NAMES)}}
_DAYS_ACCEPTED = ("mon, tue, wed, thu, fri, sat, sun, the full names (monday ... sunday), "
                  "or a range such as mon-fri")
_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class WorkingHours:
    """When the user wants drafts to appear: the same wall-clock window on each of ``days``.

    ``days`` holds weekday numbers (0 = Monday ... 6 = Sunday); ``start`` and ``end`` are naive
    wall-clock times in the user's zone, ``start`` inclusive and ``end`` exclusive. A window
    never crosses midnight. Raises ``ValueError`` if ``days`` is empty or holds anything but
    0-6, if a time carries a zone, or if ``start`` is not before ``end``.
    """

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("working hours need at least one working day (0 = Monday ... "
                             "6 = Sunday)")
        wrong = sorted(repr(d) for d in self.days
                       if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6)
        if wrong:
            raise ValueError(f"working days must be numbers from 0 (Monday) to 6 (Sunday), "
                             f"got {', '.join(wrong)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are wall-clock times in your own zone: give the "
                             "start and end without a time zone")
        if self.start >= self.end:
            raise ValueError(f"working hours must start before they end, got "
                             f"{self.start:%H:%M}-{self.end:%H:%M} (a window that crosses "
                             f"midnight is not supported)")


class CapResult(NamedTuple, Generic[T]):
    """What :func:`apply_daily_cap` decided: unpacks as ``(kept, deferred)``."""

    kept: tuple[T, ...]
    """The items that stay due now, in the order given."""
    deferred: tuple[tuple[T, datetime], ...]
    """The other items, in the order given, each with the UTC instant its turn is expected."""


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name``; raises ``ValueError`` saying what to write instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'America/Chicago'") from None


ANY_TIME = "any"
"""``working_hours = "any"``: drafts fall due at any hour of any day."""


def parse_working_hours(text: str) -> tuple[time, time]:
    """Return the ``(start, end)`` of a window written ``HH:MM-HH:MM`` (24-hour, e.g.
    ``09:00-17:30``; a one-digit hour and spaces around the dash are fine).

    Raises ``ValueError`` if the text has another form, names a time that does not exist
    (hours 00-23, minutes 00-59), or if the start is not before the end.
    """
    match = _HOURS.fullmatch(text)
    if match is None:
        raise ValueError(f"working hours {text!r} are not in the form HH:MM-HH:MM: write them "
                         f"in 24-hour time, for example 09:00-17:30")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (h1 <= 23 and h2 <= 23 and m1 <= 59 and m2 <= 59):
        raise ValueError(f"working hours {text!r} name a time that does not exist: hours go "
                         f"from 00 to 23 and minutes from 00 to 59 (end a full day at 23:59)")
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"working hours {text!r} must start before they end (a window that "
                         f"crosses midnight is not supported)")
    return start, end


def parse_days(names: Iterable[str]) -> frozenset[int]:
    """Return the weekday numbers (0 = Monday ... 6 = Sunday) named by ``names``.

    Each entry is a day (``mon`` or ``monday``, any case) or a range of days (``mon-fri``;
    ``fri-mon`` wraps over the weekend). A single string counts as one entry. Raises
    ``ValueError`` if an entry is not one of those, or if no day is named.
    """
    entries = [names] if isinstance(names, str) else list(names)
    days: set[int] = set()
    for entry in entries:
        first, dash, last = entry.strip().lower().partition("-")
        a = _day_index(first, entry)
        b = _day_index(last, entry) if dash else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not days:
        raise ValueError(f"no working days given: name at least one, using {_DAYS_ACCEPTED}")
    return frozenset(days)


def _day_index(name: str, entry: str) -> int:
    index = _DAY_INDEX.get(name.strip())
    if index is None:
        raise ValueError(f"{entry!r} is not a day: use {_DAYS_ACCEPTED}")
    return index


def next_working_time(moment: datetime, hours: WorkingHours, tz: ZoneInfo) -> datetime:
    """Return ``moment`` as a UTC instant if it falls inside a working window in ``tz``, else
    the start of the next window (UTC). Raises ``ValueError`` if ``moment`` is naive.
    """
    require_aware(moment, "moment")
    instant = moment.astimezone(UTC)
    day = instant.astimezone(tz).date()
    # Ends: every week has a working day, and a gap empties at most the one window it falls in.
    while True:
        if day.weekday() in hours.days:
            start, end = _resolve(day, hours.start, tz), _resolve(day, hours.end, tz)
            if start < end and instant < end:
                return max(start, instant)
        day += timedelta(days=1)


def start_of_local_day(now: datetime, tz: ZoneInfo) -> datetime:
    """Return the UTC instant at which ``now``'s local day in ``tz`` began: local midnight, or
    the end of the gap where midnight is skipped. Raises ``ValueError`` if ``now`` is naive.
    """
    require_aware(now, "now")
    return _resolve(now.astimezone(tz).date(), time(0), tz)


def apply_daily_cap(
    items: Sequence[T],
    *,
    made_today: int,
    cap: int,
    now: datetime,
    tz: ZoneInfo,
    hours: WorkingHours | None,
) -> CapResult[T]:
    """Split ``items`` (most urgent first) into those that stay due now and those that wait for
    the daily ``cap`` on new drafts, given ``made_today`` drafts already made today.

    The first ``cap - made_today`` items stay (all of them when ``cap <= 0``, which means no
    cap). The others wait in batches of ``cap``: the first batch for the start of the next
    local day's first working window (its midnight when ``hours`` is None), each further batch
    for the working day after the previous batch's. Returns a :class:`CapResult`. Raises
    ``ValueError`` if ``now`` is naive or ``made_today`` is negative.
    """
    require_aware(now, "now")
    if made_today < 0:
        raise ValueError(f"made_today counts drafts and cannot be negative, got {made_today}")
    if cap <= 0:
        return CapResult(tuple(items), ())
    budget = max(0, cap - made_today)
    waiting = items[budget:]
    turns: list[datetime] = []
    day = now.astimezone(tz).date()
    for _ in range(0, len(waiting), cap):
        turn = _resolve(day + timedelta(days=1), time(0), tz)
        if hours is not None:
            turn = next_working_time(turn, hours, tz)
        turns.append(turn)
        day = turn.astimezone(tz).date()
    return CapResult(tuple(items[:budget]),
                     tuple((item, turns[i // cap]) for i, item in enumerate(waiting)))


def _resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``wall`` on ``day`` in ``tz``: a skipped time moves forward by the
    gap, a repeated one is the first (``fold=0``, as PEP 495 defines it)."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def require_aware(value: datetime, what: str) -> None:
    """Raise ``ValueError``, naming ``what``, unless ``value`` is timezone-aware."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def add_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Return ``moment`` moved by ``days`` days of wall-clock time in ``tz``, as a UTC instant.

    The local time of day is kept. A local time that does not exist (spring gap) moves forward
    by the gap; one that exists twice (autumn) resolves to the first. Raises ``ValueError`` if
    ``moment`` is naive.
    """
    if moment.tzinfo is not UTC:
        require_aware(moment, "moment")
        moment = moment.astimezone(UTC)
    return wall_shift(moment, timedelta(days=days), tz)



def wall_shift(moment: datetime, days: timedelta, tz: ZoneInfo) -> datetime:
    """:func:`add_days` for a ``moment`` whose tzinfo is ``UTC`` (the result keeps it), with the
    whole ``days`` already made a timedelta (the planner makes its few once per plan: building
    one costs as much as the arithmetic)."""
    local = moment.astimezone(tz)
    # Adding a timedelta to an aware datetime moves its wall-clock time and keeps its zone; the
    # result's fold is 0, so its offset resolves a repeated time to the first and a missing one
    # forward by the gap. Moving ``moment`` by the days and by the change of offset gives the
    # instant that ``wall.astimezone(UTC)`` would, at a third of the cost.
    wall = local + days
    before, after = tz.utcoffset(local), tz.utcoffset(wall)
    assert before is not None and after is not None  # a ZoneInfo always knows its offset
    return moment + (days + (before - after))
