"""Pure mapping from Google Calendar event JSON to :class:`daemon.core.model.Meeting`.

Nothing here does I/O or reads the clock; the user's zone is an argument. Every text from the
event goes through :mod:`daemon.core.text`. The shape read is the ``Event`` resource of Calendar API
v3 (``events.list`` with ``singleEvents=true``, so each item is one occurrence at most).

Decisions where Google's data leaves a choice:

* A ``cancelled`` item that still carries its start (what an organizer's cancellation looks
  like) becomes a cancelled :class:`Meeting`, so the core keeps its details; a bare tombstone
  (often only ``id`` and ``status``) becomes :class:`Removed` with the event id, plus the uid
  when ``iCalUID`` is there.
* Google Calendar has no categories: tagging by category is an Outlook feature (Google
  events are tagged by keyword, by the private extended property, or by ``color_id``).
* Times keep the event's own ``timeZone`` when it is a zone this machine knows, else they are
  expressed in the user's zone; either way they are aware and the same instant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import occurrence_uid
from connectors.htmltext import html_to_text
from connectors.mapping import BadEvent, Mapped
from daemon.core.links import https_link, meeting_link_in
from daemon.core.model import Attendee, Meeting, Removed, Response
from daemon.core.text import clean_address, clean_block, clean_line

MAX_UID = 1000
TAG_PROPERTY = "coffeechat"
"""``extendedProperties.private.coffeechat = "1"`` marks an event as an interview."""

_RESPONSES: dict[str, Response] = {
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentative",
    "needsAction": "needs_action",
}
_HTML_TAG = re.compile(
    r"</?(a|b|i|u|p|br|div|span|ul|ol|li|strong|em|html|body|h[1-6]|table|tr|td)"
    r"(\s[^<>]*)?/?>", re.IGNORECASE)


def to_change(event: Mapping[str, Any], *, tz: ZoneInfo,
              color_id: str | None = None) -> Removed | Mapped:
    """Map one ``Event`` item of ``events.list`` to a meeting or a removal.

    ``tz`` is the user's zone (used when the event names no zone); ``color_id`` is the
    configured tag colour (an event with that ``colorId`` is provider-tagged).

    Returns the removal of a bare tombstone, else the meeting with the problems that did not
    stop it. Raises ``BadEvent`` when the item has no id, or is live but has no usable start.
    """
    event_id = clean_line(_str(event.get("id")), limit=MAX_UID)
    if not event_id:
        raise BadEvent("it has no id")
    cancelled = _str(event.get("status")) == "cancelled"
    if cancelled and not isinstance(event.get("start"), Mapping):
        return Removed(uid=_uid_or_empty(event, tz), provider_id=event_id)
    problems: list[str] = []
    start, end, all_day = _times(event, tz, problems)
    uid = _uid_or_empty(event, tz)
    if not uid:
        problems.append("it has no iCalUID; its Google id stands in")
        uid = event_id
    meeting = Meeting(
        uid=uid,
        title=clean_line(_str(event.get("summary"))),
        start=start,
        end=end,
        source=f"Google event {event_id}",
        description=clean_block(description_text(_str(event.get("description")))),
        location=clean_line(_str(event.get("location"))),
        link=_link(event),
        organizer=_organizer(event, problems),
        attendees=_attendees(event, problems),
        cancelled=cancelled,
        all_day=all_day,
        provider_tagged=_tagged(event, color_id),
        provider_id=event_id,
    )
    return Mapped(meeting, tuple(problems))


# --- identity and times --------------------------------------------------------------------


def _uid_or_empty(event: Mapping[str, Any], tz: ZoneInfo) -> str:
    uid = clean_line(_str(event.get("iCalUID")), limit=MAX_UID)
    if not uid:
        return ""
    original = event.get("originalStartTime")
    if event.get("recurringEventId") and isinstance(original, Mapping):
        return occurrence_uid(uid, _when(original, tz, "originalStartTime"))
    return uid


def _times(event: Mapping[str, Any], tz: ZoneInfo,
           problems: list[str]) -> tuple[datetime, datetime, bool]:
    """Return (start, end, all_day). All-day events use an exclusive ``end.date``."""
    raw_start, raw_end = event.get("start"), event.get("end")
    if not isinstance(raw_start, Mapping):
        raise BadEvent("it has no start")
    start_value = _when(raw_start, tz, "start")
    end_value = _when(raw_end, tz, "end") if isinstance(raw_end, Mapping) else None
    if isinstance(start_value, datetime):
        start = start_value
        if isinstance(end_value, datetime):
            end = end_value
        elif end_value is not None:
            end = _midnight(end_value, _zone_of(raw_start, tz))
        else:
            end = start
        all_day = False
    else:
        zone = _zone_of(raw_start, tz)
        end_day = end_value if isinstance(end_value, date) and not isinstance(
            end_value, datetime) else start_value + timedelta(days=1)
        start, end, all_day = _midnight(start_value, zone), _midnight(end_day, zone), True
    if end < start:
        problems.append("it ends before it starts; read as taking no time")
        end = start
    return start, end, all_day


def _when(value: Mapping[str, Any], tz: ZoneInfo, what: str) -> date | datetime:
    """Read a ``{dateTime, timeZone}`` or ``{date}`` object; a datetime comes back aware, in
    the object's zone when known, else in ``tz``."""
    zone = _zone_of(value, tz)
    text = _str(value.get("dateTime"))
    if text:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadEvent(f"its {what} {clean_line(text, 40)!r} is not a date-time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(zone)
    day = _str(value.get("date"))
    if day:
        try:
            return date.fromisoformat(day)
        except ValueError:
            raise BadEvent(f"its {what} {clean_line(day, 40)!r} is not a date") from None
    raise BadEvent(f"its {what} has neither dateTime nor date")


def _zone_of(value: Mapping[str, Any], tz: ZoneInfo) -> ZoneInfo:
    name = _str(value.get("timeZone")).strip()
    if not name:
        return tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return tz


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


# --- people --------------------------------------------------------------------------------


def _organizer(event: Mapping[str, Any], problems: list[str]) -> Attendee | None:
    raw = event.get("organizer")
    if not isinstance(raw, Mapping):
        return None
    return _person(raw, problems, "organizer")


def _attendees(event: Mapping[str, Any], problems: list[str]) -> tuple[Attendee, ...]:
    raw = event.get("attendees")
    if not isinstance(raw, list):
        return ()
    seen: set[str] = set()
    result: list[Attendee] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        attendee = _person(item, problems, "attendee")
        if attendee is not None and attendee.email not in seen:
            seen.add(attendee.email)
            result.append(attendee)
    return tuple(result)


def _person(raw: Mapping[str, Any], problems: list[str], role: str) -> Attendee | None:
    email = clean_address(_str(raw.get("email")))
    if email is None:
        shown = clean_line(_str(raw.get("email")), limit=80)
        problems.append(f"{role} {shown!r} has no valid e-mail address; left out")
        return None
    return Attendee(
        email=email,
        name=clean_line(_str(raw.get("displayName"))),
        response=_RESPONSES.get(_str(raw.get("responseStatus")), "needs_action"),
        is_self=raw.get("self") is True,
        is_resource=raw.get("resource") is True,
    )


# --- other fields --------------------------------------------------------------------------


def _private(event: Mapping[str, Any]) -> Mapping[str, Any]:
    extended = event.get("extendedProperties")
    if not isinstance(extended, Mapping):
        return {}
    private = extended.get("private")
    return private if isinstance(private, Mapping) else {}


def _tagged(event: Mapping[str, Any], color_id: str | None) -> bool:
    if _str(_private(event).get(TAG_PROPERTY)).strip() == "1":
        return True
    return color_id is not None and _str(event.get("colorId")) == color_id


def _link(event: Mapping[str, Any]) -> str:
    """The online-meeting link: ``hangoutLink``, else the conference's video entry point,
    else the first Meet, Zoom or Teams link in the location or description. https only."""
    link = https_link(_str(event.get("hangoutLink")))
    if link:
        return link
    conference = event.get("conferenceData")
    if isinstance(conference, Mapping):
        points = conference.get("entryPoints")
        for point in points if isinstance(points, list) else []:
            if isinstance(point, Mapping) and point.get("entryPointType") == "video":
                link = https_link(_str(point.get("uri")))
                if link:
                    return link
    return meeting_link_in(_str(event.get("location")), _str(event.get("description")))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- HTML descriptions ---------------------------------------------------------------------


def description_text(value: str) -> str:
    """Return a description as plain text: HTML (what Google Calendar's editor writes) is read
    by :func:`connectors.htmltext.html_to_text`; a description with no HTML tags is returned
    unchanged (its line breaks and a "<" or "&" in its text are the user's own)."""
    if not _HTML_TAG.search(value):
        return value
    return html_to_text(value)
