"""Pure mapping from Microsoft Graph JSON to :mod:`daemon.core.model` (events to meetings, messages
to the mail seen between the user and a contact); HTML bodies become text through
:mod:`connectors.htmltext`.

Nothing here does I/O or reads the clock; the user's zone is an argument. Every text that lands
in a meeting goes through :mod:`daemon.core.text`.

Identity of a meeting (``Meeting.uid``):

* a single event (``type`` ``singleInstance``) keeps its ``iCalUId``, the UID an iCalendar
  export of it carries, so the same meeting seen through another provider is one meeting;
* one occurrence or exception of a series gets ``occurrence_uid(series UID, originalStart)``.
  Graph gives every occurrence its own ``iCalUId`` (different for each one); the series' UID is
  the ``iCalUId`` of the series master (``seriesMasterId``), which the caller looks up and
  passes in ``series_uids``. When the master cannot be read (it was deleted, or Graph omitted
  ``seriesMasterId``), the occurrence's own ``iCalUId`` is used as it is: stable from one sync
  to the next, unique per occurrence, but not matching another provider's view of the series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from connectors.base import occurrence_uid
from connectors.htmltext import html_to_text
from connectors.mapping import BadEvent, Mapped
from daemon.core import msgid
from daemon.core.links import https_link
from daemon.core.model import Attendee, MailSeen, Meeting, Removed, Response, ThreadRef
from daemon.core.text import clean_address, clean_block, clean_line

MAX_UID = 1000
SERIES_PARTS = frozenset({"occurrence", "exception"})
"""Event types that are one slot of a recurring series."""

_RESPONSES: dict[str, Response] = {
    "none": "needs_action",
    "notresponded": "needs_action",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyaccepted": "tentative",
    "declined": "declined",
}
_FRACTION = re.compile(r"(?<=\.\d{6})\d+")
"""The digits of a fraction of a second past the sixth (Graph writes seven), to drop."""
_OBJECT = (dict, Mapping)
"""A JSON object: ``dict`` is tried first, as the ``Mapping`` check (an ABC) is slow."""
_CONVERSATION = re.compile(r"[A-Za-z0-9+/=_-]{1,512}")


def removed(event: Mapping[str, Any]) -> Removed | None:
    """Return ``Removed(provider_id=id)`` for a delta entry marked ``@removed``, else ``None``."""
    if "@removed" not in event:
        return None
    return Removed(provider_id=str(event.get("id", "")))


def series_master_id(event: Mapping[str, Any]) -> str | None:
    """Return the ``seriesMasterId`` of an occurrence or exception, ``None`` for other events."""
    if str(event.get("type", "")) not in SERIES_PARTS:
        return None
    master = event.get("seriesMasterId")
    return master if isinstance(master, str) and master else None


def to_meeting(event: Mapping[str, Any], *, tz: ZoneInfo,
               series_uids: Mapping[str, str]) -> Mapped:
    """Map one Graph event (from calendarView, so one occurrence at most) to a meeting.

    ``tz`` is the user's zone (times are returned in it; all-day dates are read in it);
    ``series_uids`` maps series master ids to their ``iCalUId``.

    Returns the meeting with the problems that did not stop it. Raises ``BadEvent`` when the
    event has no id, no uid or no readable start.
    """
    problems: list[str] = []
    provider_id = str(event.get("id") or "")
    if not provider_id:
        raise BadEvent("it has no id")
    all_day = bool(event.get("isAllDay"))
    start, end = _times(event, tz, all_day, problems)
    organizer = _organizer(event, problems)
    return Mapped(
        Meeting(
            uid=_uid(event, all_day, series_uids, problems),
            title=clean_line(_str(event.get("subject"))),
            start=start,
            end=end,
            source=clean_line(f"Outlook event {provider_id}", limit=MAX_UID),
            description=_description(event.get("body")),
            location=clean_line(_str(_get(event, "location", "displayName"))),
            link=_link(event),
            organizer=organizer,
            attendees=_attendees(event, problems),
            categories=_categories(event.get("categories")),
            cancelled=bool(event.get("isCancelled")),
            all_day=all_day,
            provider_id=provider_id,
        ),
        tuple(problems),
    )


# --- identity --------------------------------------------------------------------------------


def _uid(event: Mapping[str, Any], all_day: bool, series_uids: Mapping[str, str],
         problems: list[str]) -> str:
    own = clean_line(_str(event.get("iCalUId")), limit=MAX_UID)
    master = series_master_id(event)
    if master is None:
        if not own:
            raise BadEvent("it has no iCalUId")
        return own
    series = clean_line(series_uids.get(master, ""), limit=MAX_UID)
    original = _original_start(event, all_day)
    if series and original is not None:
        return occurrence_uid(series, original)
    if not own:
        raise BadEvent("it is part of a series but has neither a series uid nor an iCalUId")
    problems.append("its series could not be read; it is followed by its own iCalUId")
    return own


def _original_start(event: Mapping[str, Any], all_day: bool) -> date | datetime | None:
    """When this occurrence was first scheduled: ``originalStart`` (UTC), else its start
    (an occurrence that was never moved starts at its original time)."""
    value = _str(event.get("originalStart"))
    parsed: datetime | None = None
    if value:
        try:
            parsed = datetime.fromisoformat(_FRACTION.sub("", value.replace("Z", "+00:00")))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    if parsed is None and str(event.get("type")) == "occurrence":
        start = event.get("start")
        if isinstance(start, _OBJECT):
            try:
                parsed = parse_graph_time(start)
            except BadEvent:
                parsed = None
    if parsed is None:
        return None
    if all_day:
        return _wall_date(event) or parsed.date()
    return parsed


def _wall_date(event: Mapping[str, Any]) -> date | None:
    """The calendar date written in ``start.dateTime`` (all-day events are floating days)."""
    raw = _str(_get(event, "start", "dateTime"))
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


# --- times -----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo | None:
    """Return the zone for an IANA name or a Windows zone name (as Outlook uses), else
    ``None``."""
    name = name.strip()
    if not name:
        return None
    if name.upper() in ("UTC", "Z", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        return ZoneInfo("UTC")
    candidates = [name]
    olson = WINDOWS_TO_OLSON.get(name)
    if isinstance(olson, str):
        candidates.insert(0, olson)
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return None


def parse_graph_time(value: Mapping[str, Any], problems: list[str] | None = None) -> datetime:
    """Return the aware instant of a Graph ``dateTimeTimeZone`` (``dateTime`` without offset
    plus ``timeZone``). An unknown zone is read as UTC (and noted in ``problems``).

    Raises ``BadEvent`` when ``dateTime`` cannot be read.
    """
    raw = _str(value.get("dateTime")).strip()
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub("", raw.replace("Z", "+00:00")))
    except ValueError:
        raise BadEvent(f"its time {raw[:40]!r} cannot be read") from None
    if parsed.tzinfo is not None:
        return parsed
    zone_name = _str(value.get("timeZone")) or "UTC"
    zone = zone_named(zone_name)
    if zone is None:
        if problems is not None:
            problems.append(f"time zone {clean_line(zone_name, 60)!r} is unknown; read as UTC")
        zone = ZoneInfo("UTC")
    return parsed.replace(tzinfo=zone)


def _times(event: Mapping[str, Any], tz: ZoneInfo, all_day: bool,
           problems: list[str]) -> tuple[datetime, datetime]:
    start_value = event.get("start")
    if not isinstance(start_value, _OBJECT):
        raise BadEvent("it has no start")
    end_value = event.get("end")
    if all_day:
        first = _wall_date(event)
        last = _date_of(end_value)
        if first is None:
            raise BadEvent("its start date cannot be read")
        start = datetime.combine(first, time(0), tzinfo=tz)
        end = datetime.combine(last, time(0), tzinfo=tz) if last is not None else start
    else:
        start = parse_graph_time(start_value, problems).astimezone(tz)
        end = (parse_graph_time(end_value, problems).astimezone(tz)
               if isinstance(end_value, _OBJECT) else start)
    if end < start:
        problems.append("it ends before it starts; read as taking no time")
        end = start
    return start, end


def _date_of(value: Any) -> date | None:
    if not isinstance(value, _OBJECT):
        return None
    try:
        return date.fromisoformat(_str(value.get("dateTime"))[:10])
    except ValueError:
        return None


# --- people ----------------------------------------------------------------------------------


def _organizer(event: Mapping[str, Any], problems: list[str]) -> Attendee | None:
    person = _person(_get(event, "organizer", "emailAddress"), problems, "organizer")
    if person is None:
        return None
    return Attendee(email=person[0], name=person[1], response="accepted",
                    is_self=bool(event.get("isOrganizer")))


def _attendees(event: Mapping[str, Any], problems: list[str]) -> tuple[Attendee, ...]:
    raw = event.get("attendees")
    if not isinstance(raw, list):
        return ()
    seen: set[str] = set()
    result: list[Attendee] = []
    for item in raw:
        if not isinstance(item, _OBJECT):
            continue
        person = _person(item.get("emailAddress"), problems, "attendee")
        if person is None or person[0] in seen:
            continue
        seen.add(person[0])
        response = _str(_get(item, "status", "response")).replace("_", "").lower()
        result.append(Attendee(
            email=person[0], name=person[1],
            response=_RESPONSES.get(response, "needs_action"),
            is_resource=_str(item.get("type")).lower() == "resource",
        ))
    return tuple(result)


def _person(value: Any, problems: list[str], role: str) -> tuple[str, str] | None:
    if not isinstance(value, _OBJECT):
        return None
    raw = _str(value.get("address"))
    address = clean_address(raw)
    if address is None:
        if raw or value.get("name"):
            shown = clean_line(raw or _str(value.get("name")), limit=80)
            problems.append(f"{role} {shown!r} has no valid e-mail address; left out")
        return None
    return address, clean_line(_str(value.get("name")))


# --- other fields ----------------------------------------------------------------------------


def _categories(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    result: list[str] = []
    for item in value:
        name = clean_line(_str(item))
        if name and name not in result:
            result.append(name)
    return tuple(result)


def _link(event: Mapping[str, Any]) -> str:
    for value in (_get(event, "onlineMeeting", "joinUrl"), event.get("onlineMeetingUrl")):
        link = https_link(_str(value))
        if link:
            return link
    return ""


def _description(body: Any) -> str:
    if not isinstance(body, _OBJECT):
        return ""
    content = _str(body.get("content"))
    if _str(body.get("contentType")).lower() == "html":
        content = html_to_text(content)
    return clean_block(content)


# --- mail ------------------------------------------------------------------------------------


def mail_seen(item: Mapping[str, Any], time_field: str, since: datetime) -> MailSeen | None:
    """Map a Graph message to when it was seen (its ``time_field``) and how to reply to it:
    ``internetMessageId``, ``subject`` (one clean line), References (from
    ``internetMessageHeaders``, when Graph gave them), ``conversationId`` and ``id``.

    Returns ``None`` when its time is missing or before ``since``. A Message-ID or
    conversation id of an unexpected form is left empty rather than passed on.
    """
    at = message_time(item.get(time_field))
    if at is None or at < since:
        return None
    message_id = _str(item.get("internetMessageId")).strip()
    conversation = _str(item.get("conversationId"))
    return MailSeen(at=at, thread=ThreadRef(
        message_id=message_id if msgid.valid(message_id) else "",
        subject=clean_line(_str(item.get("subject"))),
        references=_references(item.get("internetMessageHeaders")),
        thread_id=conversation if _CONVERSATION.fullmatch(conversation) else "",
        provider_message_id=_str(item.get("id")),
    ))


def _references(headers: Any) -> tuple[str, ...]:
    """The valid Message-IDs of the References header, oldest first, trimmed as a reply's
    (:func:`daemon.core.msgid.trimmed`)."""
    for header in headers if isinstance(headers, list) else []:
        if isinstance(header, _OBJECT) and _str(header.get("name")).lower() == "references":
            return msgid.trimmed(msgid.found_in(_str(header.get("value"))))
    return ()


def address_of(recipient: Any) -> str | None:
    """The address of a Graph ``recipient`` (``{"emailAddress": {"address": ...}}``),
    lower-case, when it is a plain address; else ``None``."""
    return clean_address(_str(_get(recipient, "emailAddress", "address"))) or None


def message_time(value: Any) -> datetime | None:
    """The aware time of a message date-time (``2026-03-02T15:00:00Z``; UTC when no offset is
    written); ``None`` when it is missing or unreadable."""
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub("", _str(value)))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- JSON access -----------------------------------------------------------------------------


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, _OBJECT):
            return None
        value = value.get(key)
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
