"""Pure mapping from icalendar components to :class:`daemon.core.model.Meeting`.

Nothing here reads a file, the clock or the machine's time zone: the user's zone is an argument.
Problems that do not spoil a whole event (an attendee with a bad address, an end before the
start) are returned as text next to the meeting so the caller can log them with the file name;
an event that cannot become a meeting at all raises :class:`BadEvent`.

Every value a meeting carries goes through :mod:`daemon.core.text`, and every time comes out aware
and expressed in the user's zone (floating and all-day times are read in it too).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Component
from icalendar.error import InvalidCalendar

from connectors.base import occurrence_uid as base_occurrence_uid
from connectors.mapping import BadEvent as BadEvent  # ics.py imports it from here
from connectors.mapping import Mapped
from daemon.core.links import https_link, meeting_link_in
from daemon.core.model import Attendee, Meeting, Response
from daemon.core.text import clean_address, clean_block, clean_line

MAX_UID = 1000
"""Longest UID kept; longer ones are cut (they end up inside draft keys and headers)."""

_RESPONSES: dict[str, Response] = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needs_action",
}
_RESOURCE_TYPES = frozenset({"ROOM", "RESOURCE"})
_LINK_PROPERTIES = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL", "URL")
"""Properties that hold the online-meeting link itself, best first."""
READ_PROPERTIES = frozenset({
    "UID", "RRULE", "RDATE", "RECURRENCE-ID", "DTSTART", "DTEND", "DURATION", "STATUS",
    "SUMMARY", "DESCRIPTION", "LOCATION", "ORGANIZER", "ATTENDEE", "CATEGORIES",
    *_LINK_PROPERTIES,
})
"""Every property of a VEVENT that the functions here read: an event may be given without
the others."""


def event_uid(event: Component) -> str:
    """Return the event's UID as one clean line.

    Raises ``BadEvent`` when there is none (RFC 5545 requires one, and without it the meeting
    could not be followed from one sync to the next).
    """
    uid = clean_line(_text(event.get("UID")), limit=MAX_UID)
    if not uid:
        raise BadEvent("it has no UID")
    return uid


def is_part_of_series(event: Component) -> bool:
    """Return True when the event repeats (RRULE, RDATE) or overrides one occurrence of a
    series (RECURRENCE-ID)."""
    return any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def original_start(event: Component) -> date | datetime:
    """Return when this occurrence was first scheduled: its RECURRENCE-ID, else its DTSTART.

    A moved occurrence keeps the identity of the slot it replaces. Raises ``BadEvent`` when
    neither can be read.
    """
    value = recurrence_id(event)
    if value is None:
        value = _date_value(event, "DTSTART")
    if value is None:
        raise BadEvent("it has no DTSTART")
    return value


def recurrence_id(event: Component) -> date | datetime | None:
    """Return the slot of a series that the event overrides (its RECURRENCE-ID), ``None`` when
    it overrides none; raises ``BadEvent`` when it cannot be read."""
    return _date_value(event, "RECURRENCE-ID")


def occurrence_uid(uid: str, original: date | datetime, tz: ZoneInfo) -> str:
    """Return the identity of one occurrence of the series ``uid``.

    ``f"{uid}/{original start in UTC}"``, e.g. ``abc@google.com/2026-03-02T15:00:00Z``; a
    floating original start is read in ``tz``. An all-day occurrence has no instant, so its
    date stands alone: ``abc@google.com/2026-03-02``.
    """
    if isinstance(original, datetime):
        return base_occurrence_uid(uid, _aware(original, tz))
    return base_occurrence_uid(uid, original)


def to_meeting(
    event: Component,
    *,
    uid: str,
    source: str,
    tz: ZoneInfo,
) -> Mapped:
    """Map one VEVENT (or one occurrence of a series) to a meeting.

    ``uid`` is the identity to give it, ``source`` the file name shown to users, and ``tz``
    the user's zone (floating and all-day times are read in it; all times are returned in it).

    Returns the meeting with a list of problems that did not stop it. Raises ``BadEvent`` when
    the event has no usable start.
    """
    problems: list[str] = []
    start, end, all_day = _times(event, tz, problems)
    status = _text(event.get("STATUS")).strip().upper()
    meeting = Meeting(
        uid=uid,
        title=clean_line(_text(event.get("SUMMARY"))),
        start=start,
        end=end,
        source=clean_line(source),
        description=clean_block(_text(event.get("DESCRIPTION"))),
        location=clean_line(_text(event.get("LOCATION"))),
        link=_link(event),
        organizer=_organizer(event, problems),
        attendees=_attendees(event, problems),
        categories=_categories(event),
        cancelled=status == "CANCELLED",
        all_day=all_day,
    )
    return Mapped(meeting, tuple(problems))


# --- times -------------------------------------------------------------------------------


def _times(event: Component, tz: ZoneInfo, problems: list[str]) -> tuple[datetime, datetime, bool]:
    """Return (start, end, all_day) in ``tz``, following RFC 5545 for a missing DTEND."""
    start_value = _date_value(event, "DTSTART")
    if start_value is None:
        raise BadEvent("it has no DTSTART")
    end_value = _date_value(event, "DTEND")
    duration = None if end_value is not None else _duration(event)

    if isinstance(start_value, datetime):
        start = _aware(start_value, tz)
        if isinstance(end_value, datetime):
            end = _aware(end_value, tz)
        elif end_value is not None:
            end = _midnight(end_value, tz)
        elif duration is not None:
            end = _add_duration(start, duration)
        else:
            end = start
        all_day = False
    else:
        if isinstance(end_value, datetime):
            end_day = _aware(end_value, tz).astimezone(tz).date()
        elif end_value is not None:
            end_day = end_value
        elif duration is not None:
            end_day = start_value + timedelta(days=duration.days)
        else:
            end_day = start_value + timedelta(days=1)
        start, end = _midnight(start_value, tz), _midnight(end_day, tz)
        all_day = True

    if end < start:
        problems.append("it ends before it starts; read as taking no time")
        end = start
    return start.astimezone(tz), end.astimezone(tz), all_day


def _date_value(event: Component, name: str) -> date | datetime | None:
    """Return the date or datetime of property ``name``, ``None`` when absent.

    Raises ``BadEvent`` when it is present but cannot be read as a date or a date-time.
    """
    prop = _first(event.get(name))
    if prop is None:
        return None
    try:
        value = prop.dt
    except (InvalidCalendar, AttributeError, ValueError) as exc:
        raise BadEvent(f"its {name} is not a valid date or time") from exc
    if not isinstance(value, date):
        raise BadEvent(f"its {name} is not a date or a date-time")
    return value


def _duration(event: Component) -> timedelta | None:
    """Return the DURATION, ``None`` when absent; raises ``BadEvent`` when unreadable."""
    prop = _first(event.get("DURATION"))
    if prop is None:
        return None
    try:
        value = prop.dt
    except (InvalidCalendar, AttributeError, ValueError) as exc:
        raise BadEvent("its DURATION is not a valid duration") from exc
    if not isinstance(value, timedelta):
        raise BadEvent("its DURATION is not a valid duration")
    return value


def _add_duration(start: datetime, duration: timedelta) -> datetime:
    """Add an RFC 5545 duration: whole days keep the wall-clock time (nominal), hours and
    minutes are elapsed time (exact), so ``PT1H`` across a DST change is still one hour."""
    wall = start + timedelta(days=duration.days)
    exact = timedelta(seconds=duration.seconds, microseconds=duration.microseconds)
    return (wall.astimezone(UTC) + exact).astimezone(start.tzinfo)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    """A floating (naive) time is read in the user's zone; an aware one is kept."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """Return the start of ``day`` in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz)


# --- people ------------------------------------------------------------------------------


def _organizer(event: Component, problems: list[str]) -> Attendee | None:
    prop = _first(event.get("ORGANIZER"))
    if prop is None:
        return None
    return _person(prop, problems, "organizer")


def _attendees(event: Component, problems: list[str]) -> tuple[Attendee, ...]:
    seen: set[str] = set()
    result: list[Attendee] = []
    for prop in _all(event.get("ATTENDEE")):
        attendee = _person(prop, problems, "attendee")
        if attendee is not None and attendee.email not in seen:
            seen.add(attendee.email)
            result.append(attendee)
    return tuple(result)


def _person(prop: Any, problems: list[str], role: str) -> Attendee | None:
    """Map an ORGANIZER or ATTENDEE property; ``None`` (with a problem noted) when its address
    is not a plain e-mail address."""
    raw = str(prop)
    email = clean_address(raw)
    if email is None:
        shown = clean_line(raw, limit=80)
        problems.append(f"{role} {shown!r} has no valid e-mail address; left out")
        return None
    params = getattr(prop, "params", {})
    partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).strip().upper()
    cutype = str(params.get("CUTYPE", "INDIVIDUAL")).strip().upper()
    return Attendee(
        email=email,
        name=clean_line(str(params.get("CN", ""))),
        response=_RESPONSES.get(partstat, "needs_action"),
        is_resource=cutype in _RESOURCE_TYPES,
    )


# --- other fields ------------------------------------------------------------------------


def _categories(event: Component) -> tuple[str, ...]:
    """All CATEGORIES values, across repeated properties and comma lists, cleaned, without
    duplicates, in order."""
    result: list[str] = []
    for prop in _all(event.get("CATEGORIES")):
        values = getattr(prop, "cats", None)
        items = [str(v) for v in values] if values is not None else str(prop).split(",")
        for item in items:
            name = clean_line(item)
            if name and name not in result:
                result.append(name)
    return tuple(result)


def _link(event: Component) -> str:
    """The online-meeting link: a conference property or URL first, else the first Teams,
    Zoom or Meet link found in the location, else in the description. Only https links."""
    for name in _LINK_PROPERTIES:
        link = https_link(_text(event.get(name)))
        if link:
            return link
    return meeting_link_in(_text(event.get("LOCATION")), _text(event.get("DESCRIPTION")))


# --- property access ---------------------------------------------------------------------


def _first(value: Any) -> Any:
    """A property that appears several times comes back as a list: take the first."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _all(value: Any) -> list[Any]:
    """Every occurrence of a property that may appear once, several times, or not at all."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _text(value: Any) -> str:
    """The text of a property, "" when absent."""
    value = _first(value)
    return "" if value is None else str(value)
