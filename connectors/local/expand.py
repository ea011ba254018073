"""The occurrences of one series over a window, bounded in number and in time.

recurring-ical-events works a series out (its rule, RDATEs, EXDATEs, overrides, and
RANGE=THISANDFUTURE), but lists every occurrence of a span at once, and dateutil walks a rule
from its first occurrence, caching all it passes: a rule with no end that repeats every second
would take minutes and gigabytes. Here the library's series is walked lazily and uncached,
first from today to the window's end (upcoming meetings first), then over the window's past,
and of what it finds at most :data:`MAX_OCCURRENCES` are kept, those nearest today. The walk
stops at a deadline (:data:`SERIES_SECONDS` per series), which only a rule that repeats every
second or minute from long ago, or one that can never match, reaches.

Each occurrence keeps the slot it was first scheduled at (its identity): an override's
RECURRENCE-ID, else the rule's own time, also for occurrences that a THISANDFUTURE override
moves (the library gives those the override's RECURRENCE-ID).
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime
from types import FrameType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from icalendar import Component, vBroken
from recurring_ical_events import EventAdapter, Occurrence, Series
from recurring_ical_events.util import compare_greater, convert_to_datetime

MAX_OCCURRENCES = 1000
"""Most occurrences kept of one series: those nearest today."""
SERIES_SECONDS = 3.0
"""Longest time spent working out one series (a weekly series takes a few milliseconds)."""
_SERIES_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
                      "RECURRENCE-ID")
"""The properties a series is worked out from."""
_STEPS_PER_LOOK = 64
"""Starts of a rule between two looks at the clock."""
_CALLS_PER_LOOK = 512
"""Python calls inside dateutil between two looks at the clock."""

Bound = Literal["", "count", "time"]


class SeriesError(ValueError):
    """The libraries cannot work out this series; the message says why, in plain words."""


class _OutOfTime(BaseException):
    """The deadline of a series' expansion has passed (not an ``Exception``: the libraries'
    own ``except Exception`` must not swallow it)."""


@dataclass(frozen=True)
class Slot:
    """One occurrence: the slot it was first scheduled at, and the event as it happens."""

    original: date | datetime
    component: Component


@dataclass(frozen=True)
class Expansion:
    """The occurrences kept, in order of start, and the bound the series hit, if any:
    ``"count"`` (more than :data:`MAX_OCCURRENCES` in the window) or ``"time"``."""

    slots: tuple[Slot, ...]
    bound: Bound


def expand(events: Sequence[Component], *, low: datetime, high: datetime, today: datetime,
           deadline: float, tz: ZoneInfo) -> Expansion:
    """Return the occurrences of the series made of ``events`` (one master and its overrides,
    of one UID) that take place between ``low`` and ``high``, at most
    :data:`MAX_OCCURRENCES`, those nearest ``today`` (floating and all-day times are read in
    ``tz`` to compare them). ``deadline`` is a :func:`time.monotonic` time: past it, the
    occurrences found so far are returned with the bound ``"time"``.

    Raises ``SeriesError`` when the libraries reject the series (a rule they cannot read, a
    start missing, dates of mixed kinds).
    """
    future: list[_Occurrence] = []
    past: deque[_Occurrence] = deque(maxlen=MAX_OCCURRENCES)
    bound: Bound = ""
    try:
        with _Guard(deadline, inside_dateutil=any("BY" in rule.upper()
                                                  for rule in _rules(events))):
            series = _build(events)
            for occurrence in _walk(series, today, high, events):
                future.append(occurrence)
                if len(future) == MAX_OCCURRENCES:
                    bound = "count"
                    break
            for occurrence in _walk(series, low, today, events):
                if len(past) == MAX_OCCURRENCES:
                    bound = "count"
                past.append(occurrence)
    except _OutOfTime:
        bound = "time"
    # an occurrence under way at the start of today is in both spans; one series has one uid
    # (its value may be a list, when the event repeats the property: not hashable)
    found = {(occurrence.id.recurrence_id, occurrence.id.start): occurrence
             for occurrence in (*past, *future)}
    kept = _nearest(list(found.values()), today, tz)
    if len(kept) < len(found):
        bound = bound or "count"
    kept.sort(key=lambda occurrence: _instant(occurrence.start, tz))
    return Expansion(tuple(occurrence.slot() for occurrence in kept), bound)


def _build(events: Sequence[Component]) -> _BoundedSeries:
    try:
        return _BoundedSeries([EventAdapter(event) for event in events])
    except Exception as exc:  # the libraries raise many types on a bad series
        raise SeriesError(_why(exc, events)) from exc


def _walk(series: _BoundedSeries, start: datetime, stop: datetime,
          events: Sequence[Component]) -> Iterator[_Occurrence]:
    """The series' occurrences in a span, as the library finds them; raises ``SeriesError``."""
    occurrences = series.between(start, stop)
    while True:
        try:
            occurrence = next(occurrences)
        except StopIteration:
            return
        except Exception as exc:  # a comparison of mixed dates fails only as it is reached
            raise SeriesError(_why(exc, events)) from exc
        yield occurrence


def _nearest(found: list[_Occurrence], today: datetime, tz: ZoneInfo) -> list[_Occurrence]:
    """The :data:`MAX_OCCURRENCES` occurrences whose start is nearest ``today``."""
    if len(found) <= MAX_OCCURRENCES:
        return found
    return heapq.nsmallest(MAX_OCCURRENCES, found,
                           key=lambda occurrence: abs(_instant(occurrence.start, tz) - today))


def _instant(value: date | datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), tzinfo=tz)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


class _Occurrence(Occurrence):  # type: ignore[misc]
    """An occurrence that knows its slot: ``None`` for an override, which names its own."""

    def __init__(self, adapter: EventAdapter, start: Any, end: Any, sequence: int,
                 original: date | datetime | None) -> None:
        super().__init__(adapter, start, end, sequence)
        self.original = original

    def slot(self) -> Slot:
        component = self.as_component(False)
        original = self.original
        if original is None:
            replaced = component["RECURRENCE-ID"]
            original = (replaced[0] if isinstance(replaced, list) else replaced).dt
        return Slot(original, component)


class _BoundedSeries(Series):  # type: ignore[misc]
    """The library's series, walked lazily: no list of a span's occurrences, no cache."""

    class RecurrenceRules(Series.RecurrenceRules):  # type: ignore[misc]
        def rrulestr(self, rule_string: str) -> Any:
            """The library's rule, without dateutil's cache of every occurrence passed."""
            rule = super().rrulestr(rule_string)
            lazy = rule.replace(cache=False)
            lazy.string, lazy.until = rule.string, rule.until
            return lazy

        def rrule_between(self, span_start: Any, span_stop: Any) -> Iterator[Any]:
            """The starts of the span, in order, found one at a time (the library lists them
            all at once)."""
            low = convert_to_datetime(span_start, self.tzinfo)
            high = convert_to_datetime(span_stop, self.tzinfo)
            yield from heapq.merge(*(_starts(rule, low, high) for rule in self.rrules))

    def occurrence(self, adapter: EventAdapter, start: Any = None,
                   end: Any = None) -> _Occurrence:
        """An occurrence of ``adapter``; one the library moves (``start`` given) keeps the
        slot it was moved from."""
        original = None if start is None else start - adapter.move_recurrences_by
        return _Occurrence(adapter, start, end, self.sequence, original)


def _starts(rule: Any, low: datetime, high: datetime) -> Iterator[datetime]:
    """The starts of one dateutil rule from ``low`` to ``high``, both included."""
    guard = _GUARD.get()
    for start in rule:
        guard.step()
        if start > high:
            return
        if start >= low and (rule.until is None or not compare_greater(start, rule.until)):
            yield start


class _Guard:
    """Raises ``_OutOfTime`` once ``time.monotonic()`` passes a deadline, while the series is
    walked (as a context manager: the guard of the series walked in this context).

    The clock is looked at every few starts of a rule. A rule with BY parts may be searched
    by dateutil up to the year 9999 without a start coming back (one that can never match);
    for those (``inside_dateutil``) it is also looked at on Python calls, by a trace function
    that traces no line, set while the series is walked. A tracer already set (a debugger)
    still sees every call.
    """

    def __init__(self, at: float, *, inside_dateutil: bool) -> None:
        self._at = at
        self._inside = inside_dateutil
        self._steps = 0
        self._calls = 0
        self._previous: Any = sys.gettrace()
        self._token: Token[_Guard] | None = None

    def __enter__(self) -> _Guard:
        self._look()
        self._token = _GUARD.set(self)
        if self._inside:
            sys.settrace(self._check)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._inside:
            sys.settrace(self._previous)
        if self._token is not None:
            _GUARD.reset(self._token)

    def step(self) -> None:
        """Count one start of a rule; raises ``_OutOfTime`` past the deadline."""
        self._steps += 1
        if self._steps % _STEPS_PER_LOOK == 0:
            self._look()

    def _look(self) -> None:
        if time.monotonic() > self._at:
            raise _OutOfTime

    def _check(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        self._calls += 1
        if self._calls % _CALLS_PER_LOOK == 0:
            self._look()
        return self._previous(frame, event, arg) if self._previous is not None else None


_GUARD: ContextVar[_Guard] = ContextVar("_GUARD")


def _why(exc: BaseException, events: Sequence[Component]) -> str:
    """Plain words for what the libraries found wrong with a series."""
    for event in events:
        for name in _SERIES_PROPERTIES:
            for prop in _all(event.get(name)):
                if isinstance(prop, vBroken):
                    return (f'its repeat rule "{_short(str(prop))}" is not valid'
                            if name == "RRULE" else f"its {name} is not valid")
    if isinstance(exc, KeyError) and exc.args == ("DTSTART",):
        return "it has no start time (DTSTART)"
    rules = _rules(events)
    if rules and isinstance(exc, ValueError):
        return f'its repeat rule "{_short(rules[0])}" is not valid'
    if isinstance(exc, TypeError):
        return "its dates mix days and times, or times with and without a zone"
    return "its repeats cannot be worked out"


def _rules(events: Sequence[Component]) -> list[str]:
    """The RRULEs of the events, as written."""
    rules = []
    for event in events:
        for rule in _all(event.get("RRULE")):
            try:
                rules.append(rule.to_ical().decode())
            except Exception:  # a rule icalendar kept as broken text
                rules.append(str(rule))
    return rules


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _all(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


__all__ = ["MAX_OCCURRENCES", "SERIES_SECONDS", "Expansion", "SeriesError", "Slot", "expand"]
