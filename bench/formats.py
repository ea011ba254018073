"""One :class:`bench.events.Event` in each provider's own shape: a Google Calendar ``Event``
resource, a Microsoft Graph ``event`` as calendarView lists it, and an iCalendar file as
vdirsyncer writes it from a Google calendar (one VEVENT, with its VTIMEZONE).

The shapes carry the fields the real services send (etags, links, creators, reminders,
HTML bodies...), not only those coffeechat reads, so that pages and files weigh what real ones
weigh.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from bench.events import ME, TAG_CATEGORY, ZONE, Event

JSON = dict[str, Any]
GOOGLE_TAG_COLOR = "5"
"""The Google colour that the benchmark's Google account counts as a tag (``color_id``)."""
_CREATED = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
_GRAPH_RESPONSE = {"accepted": "accepted", "declined": "declined",
                   "tentative": "tentativelyAccepted", "needs_action": "notResponded"}
_ICS_RESPONSE = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE",
                 "needs_action": "NEEDS-ACTION"}


# --- Google ------------------------------------------------------------------------------


def google_event(event: Event) -> JSON:
    """The event as Google's events.list returns it (``kind``, ``etag`` and ``updated`` are
    set by the fake when it is stored)."""
    me_name, me_address = ME
    organizer_name, organizer_address = event.organizer
    attendees: list[JSON] = [{"email": me_address, "displayName": me_name, "self": True,
                              "responseStatus": "accepted",
                              **({"organizer": True} if organizer_address == me_address
                                 else {})}]
    for address, name, response in event.guests:
        guest: JSON = {"email": address, "displayName": name,
                       "responseStatus": "needsAction" if response == "needs_action"
                       else response}
        if address == organizer_address:
            guest["organizer"] = True
        attendees.append(guest)
    body: JSON = {
        "id": event.key,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event.key}{event.index:x}",
        "created": _CREATED.isoformat().replace("+00:00", ".000Z"),
        "summary": event.title,
        "description": event.description,
        "creator": {"email": organizer_address, **({"self": True} if organizer_address
                                                   == me_address else {})},
        "organizer": {"email": organizer_address, "displayName": organizer_name,
                      **({"self": True} if organizer_address == me_address else {})},
        "start": {"dateTime": event.start.astimezone(ZONE).isoformat(),
                  "timeZone": ZONE.key},
        "end": {"dateTime": event.end.astimezone(ZONE).isoformat(), "timeZone": ZONE.key},
        "iCalUID": event.uid,
        "sequence": event.revision,
        "attendees": attendees,
        "guestsCanInviteOthers": False,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    if event.location:
        body["location"] = event.location
    if event.link:
        body["hangoutLink"] = event.link
        body["conferenceData"] = {
            "entryPoints": [{"entryPointType": "video", "uri": event.link,
                             "label": event.link.removeprefix("https://")}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": event.link.rsplit("/", 1)[-1]}
    if TAG_CATEGORY in event.categories:
        body["colorId"] = GOOGLE_TAG_COLOR
    return body


# --- Microsoft Graph ---------------------------------------------------------------------


def graph_id(event: Event) -> str:
    """A Graph-looking, stable event id."""
    return f"AAMkAGI2TG93AAA{event.index:08d}AAAAAENAAA="


def graph_event(event: Event) -> JSON:
    """The event as Graph's calendarView (and its delta) lists it, times in UTC."""
    me_address = ME[1]
    organizer_name, organizer_address = event.organizer
    modified = f"2025-06-01T12:{event.revision % 60:02d}:00.0000000Z"
    content = _html_body(event.description)
    item: JSON = {
        "@odata.etag": f'W/"DwAAABYAAAB{event.index:08d}r{event.revision}"',
        "id": graph_id(event),
        "createdDateTime": "2024-01-15T09:30:00.0000000Z",
        "lastModifiedDateTime": modified,
        "changeKey": f"DwAAABYAAAB{event.index:08d}r{event.revision}",
        "categories": list(event.categories),
        "transactionId": None,
        "originalStartTimeZone": "Central Standard Time",
        "originalEndTimeZone": "Central Standard Time",
        "iCalUId": event.uid,
        "uid": event.uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": event.title,
        "bodyPreview": event.description[:255],
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": organizer_address == me_address,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": "https://outlook.office365.com/owa/?itemid=" + graph_id(event)
                   + "&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(event.link),
        "onlineMeetingProvider": "teamsForBusiness" if event.link else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "organizer" if organizer_address == me_address
                           else "accepted", "time": "2024-01-15T09:31:00.0000000Z"},
        "body": {"contentType": "html", "content": content},
        "start": _graph_time(event.start),
        "end": _graph_time(event.end),
        "location": {"displayName": event.location, "locationType": "default",
                     "uniqueIdType": "unknown",
                     "address": {}, "coordinates": {}},
        "locations": [{"displayName": event.location, "locationType": "default"}]
        if event.location else [],
        "recurrence": None,
        "attendees": [{"type": "required",
                       "status": {"response": _GRAPH_RESPONSE[response],
                                  "time": "0001-01-01T00:00:00Z"},
                       "emailAddress": {"name": name, "address": address}}
                      for address, name, response in event.guests],
        "organizer": {"emailAddress": {"name": organizer_name, "address": organizer_address}},
        "onlineMeeting": {"joinUrl": _teams_link(event)} if event.link else None,
    }
    return item


def _graph_time(value: datetime) -> JSON:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC"}


def _teams_link(event: Event) -> str:
    return ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
            f"{event.uid.split('@')[0]}%40thread.v2/0?context=%7b%22Tid%22%3a%22"
            "72f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22"
            f"{event.index:08d}-aaaa-bbbb-cccc-000000000000%22%7d")


def _html_body(text: str) -> str:
    lines = "".join(f"<div>{html.escape(line)}</div>" if line else "<div><br></div>"
                    for line in text.split("\n"))
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            '<style type="text/css" style="display:none">P {margin-top:0;margin-bottom:0;}'
            '</style></head><body dir="ltr"><div class="elementToProof" style="font-family: '
            'Aptos, Aptos_EmbeddedFont, Calibri, Helvetica, sans-serif; font-size: 12pt; '
            f'color: rgb(0, 0, 0);">{lines}</div></body></html>')


# --- iCalendar (vdir) --------------------------------------------------------------------

_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:America/Chicago",
    "X-LIC-LOCATION:America/Chicago",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:-0600",
    "TZOFFSETTO:-0500",
    "TZNAME:CDT",
    "DTSTART:19700308T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:-0500",
    "TZOFFSETTO:-0600",
    "TZNAME:CST",
    "DTSTART:19701101T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


def ics_file(event: Event) -> bytes:
    """The event as one .ics file (CRLF line ends, lines folded at 75 octets)."""
    me_name, me_address = ME
    organizer_name, organizer_address = event.organizer
    local = "%Y%m%dT%H%M%S"
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
             "VERSION:2.0", "CALSCALE:GREGORIAN", *_VTIMEZONE, "BEGIN:VEVENT",
             f"DTSTART;TZID=America/Chicago:{event.start.astimezone(ZONE).strftime(local)}",
             f"DTEND;TZID=America/Chicago:{event.end.astimezone(ZONE).strftime(local)}",
             f"DTSTAMP:{_CREATED.strftime('%Y%m%dT%H%M%SZ')}",
             f'ORGANIZER;CN="{organizer_name}":mailto:{organizer_address}',
             f"UID:{event.uid}",
             f'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN="{me_name}"'
             f";X-NUM-GUESTS=0:mailto:{me_address}"]
    for address, name, response in event.guests:
        lines.append(f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
                     f'PARTSTAT={_ICS_RESPONSE[response]};CN="{name}";X-NUM-GUESTS=0:'
                     f"mailto:{address}")
    if event.link:
        lines.append(f"X-GOOGLE-CONFERENCE:{event.link}")
    lines += [f"CREATED:{_CREATED.strftime('%Y%m%dT%H%M%SZ')}",
              f"DESCRIPTION:{_escape(event.description)}",
              f"LAST-MODIFIED:{_CREATED.strftime('%Y%m%dT%H%M%SZ')}",
              f"LOCATION:{_escape(event.location)}",
              f"SEQUENCE:{event.revision}", "STATUS:CONFIRMED",
              f"SUMMARY:{_escape(event.title)}", "TRANSP:OPAQUE"]
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(_escape(c) for c in event.categories))
    lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:This is an event reminder",
              "TRIGGER:-P0DT0H10M0S", "END:VALARM", "END:VEVENT", "END:VCALENDAR"]
    return "".join(_fold(line) + "\r\n" for line in lines).encode("utf-8")


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line so that no physical line exceeds 75 octets (RFC 5545 3.1)."""
    if len(line.encode("utf-8")) <= 75:
        return line
    parts: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)
