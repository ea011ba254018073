"""The variables a draft template is filled with (:data:`VARIABLES` documents each), made from
the interview, the contact and the user by :func:`draft_variables`. Every value is cleaned
text: what comes from a calendar reaches a template only as a variable, never as template
source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from daemon.core.kinds import DRAFT_KINDS
from daemon.core.links import https_link
from daemon.core.model import DraftKind, Interview, Me, Person
from daemon.core.text import clean_address, clean_block, clean_line
from daemon.core.wording import MONTHS, long_date
from daemon.mail.notes import parse_notes

VARIABLES: dict[str, str] = {
    "kind": "Which draft this is, and so which template `<kind>.txt` makes it: "
    f"{', '.join(DRAFT_KINDS[:-1])} or {DRAFT_KINDS[-1]}.",
    "contact_name": "The contact's full name (their address when the calendar gives no name).",
    "contact_first_name": "The first word of the contact's name (else their address's local "
    "part), for the greeting.",
    "contact_email": "The contact's email address.",
    "meeting_title": "The meeting's title, on one line.",
    "meeting_start": "When the meeting starts, in your time zone, e.g. "
    "'Tuesday 24 November at 10:00 AM EST' (the date only for an all-day event).",
    "meeting_date": "The meeting's date in your time zone, e.g. 'Tuesday 24 November'.",
    "meeting_time": "The start time in your time zone, e.g. '10:00 AM' (empty when all-day).",
    "meeting_timezone": "Your zone's abbreviation at the start, e.g. 'EST' or 'CEST' (empty "
    "when all-day).",
    "meeting_month": "The month of the meeting, e.g. 'November'.",
    "meeting_year": "The year of the meeting, a number, e.g. 2026.",
    "meeting_duration_minutes": "The agreed length in minutes, a number (0 when all-day).",
    "meeting_length": "The agreed length in words, e.g. '30 minutes' or '1 hour' (empty when "
    "all-day).",
    "meeting_location": "The event's location text, on one line (may be empty).",
    "meeting_link": "The online-meeting link, only if it is an https link (else empty).",
    "meeting_place": "Where to meet: the location, the link, or both, e.g. "
    "'Zoom (https://...)'; empty when neither is known.",
    "notes": "Your notes from the event description (tag and contact lines removed), as "
    "written; several lines, may be empty.",
    "note_lines": "The lines of your notes that are neither suggestions nor promises (under "
    "'Notes:' or before any heading), a list of one-line items, may be empty.",
    "suggested": "What the contact suggested (the lines under 'Suggested:' in your notes), a "
    "list of one-line items, may be empty.",
    "promised": "What you promised to do or send (the lines under 'Promised:' in your notes), "
    "a list of one-line items, may be empty.",
    "message": "Your announcement for a news draft (the text you gave 'coffeechat announce'), "
    "several lines; empty for other drafts.",
    "earlier_meetings": "For a prep note: your earlier meetings with the same contact, oldest "
    "first, each with 'date' (e.g. 'Tuesday 24 November 2026'), 'title', and the lists "
    "'notes', 'suggested' and 'promised' as above; an empty list otherwise.",
    "my_name": "Your name, from the configuration.",
    "my_first_name": "The first word of your name.",
    "my_email": "The address the draft is sent from.",
    "signature": "Your signature from the configuration (several lines allowed), else your name.",
}


def draft_variables(kind: DraftKind, contact: Person, interview: Interview, me: Me,
                    tz: ZoneInfo, *, message: str = "",
                    earlier: Sequence[Interview] = ()) -> dict[str, object]:
    """Return every variable a template may use (see :data:`VARIABLES`), all cleaned.

    Times are shown in ``tz`` (the user's zone), so they are right across DST changes; the
    length is real elapsed time. Single-line values go through :func:`daemon.core.text.clean_line`,
    multi-line ones through :func:`daemon.core.text.clean_block`; the notes are split into sections
    by :func:`daemon.mail.notes.parse_notes`. ``message`` is the user's news (for ``news``);
    ``earlier`` are other meetings with the contact (for ``prep``): only those that started
    before this one and were not cancelled are shown. Raises nothing for odd input.
    """
    meeting = interview.meeting
    local = meeting.start.astimezone(tz)
    date_text = long_date(local)
    if meeting.all_day:
        time_text, zone, minutes = "", "", 0
        start_text = date_text
    else:
        noon = "AM" if local.hour < 12 else "PM"
        time_text = f"{local.hour % 12 or 12}:{local.minute:02d} {noon}"
        zone = clean_line(local.tzname() or "")
        elapsed = meeting.end.astimezone(UTC) - meeting.start.astimezone(UTC)
        minutes = max(0, elapsed // timedelta(minutes=1))
        start_text = f"{date_text} at {time_text} {zone}".rstrip()
    location = clean_line(meeting.location)
    link = https_link(meeting.link)
    contact_email = clean_address(contact.email) or clean_line(contact.email)
    contact_name = clean_line(contact.name)
    my_name = clean_line(me.name)
    sections = parse_notes(interview.notes)
    return {
        "kind": kind,
        "contact_name": contact_name or contact_email,
        "contact_first_name": _first_name(contact_name, contact_email),
        "contact_email": contact_email,
        "meeting_title": clean_line(meeting.title),
        "meeting_start": start_text,
        "meeting_date": date_text,
        "meeting_time": time_text,
        "meeting_timezone": zone,
        "meeting_month": MONTHS[local.month - 1],
        "meeting_year": local.year,
        "meeting_duration_minutes": minutes,
        "meeting_length": _length_words(minutes),
        "meeting_location": location,
        "meeting_link": link,
        "meeting_place": _place(location, link),
        "notes": clean_block(interview.notes),
        "note_lines": list(sections.notes),
        "suggested": list(sections.suggested),
        "promised": list(sections.promised),
        "message": clean_block(message),
        "earlier_meetings": _earlier_meetings(interview, earlier, tz),
        "my_name": my_name,
        "my_first_name": _first_name(my_name, me.emails[0] if me.emails else ""),
        "my_email": clean_line(me.emails[0]) if me.emails else "",
        "signature": clean_block(me.signature) or my_name,
    }


def _earlier_meetings(interview: Interview, earlier: Sequence[Interview],
                      tz: ZoneInfo) -> list[dict[str, object]]:
    """The meetings of ``earlier`` that took place before ``interview`` and were not
    cancelled, oldest first and each once (by uid), as the dicts :data:`VARIABLES` describes
    under ``earlier_meetings``."""
    start = interview.meeting.start.astimezone(UTC)
    seen = {interview.meeting.uid}
    shown: list[dict[str, object]] = []
    for past in sorted(earlier, key=lambda e: e.meeting.start.astimezone(UTC)):
        meeting = past.meeting
        if meeting.cancelled or meeting.uid in seen or meeting.start.astimezone(UTC) >= start:
            continue
        seen.add(meeting.uid)
        local = meeting.start.astimezone(tz)
        sections = parse_notes(past.notes)
        shown.append({
            "date": f"{long_date(local)} {local.year}",
            "title": clean_line(meeting.title),
            "notes": list(sections.notes),
            "suggested": list(sections.suggested),
            "promised": list(sections.promised),
        })
    return shown


def _first_name(clean_name: str, address: str) -> str:
    """The first word of an already cleaned name, else the local part of ``address``."""
    if clean_name:
        return clean_name.split()[0]
    return clean_line(address.split("@", 1)[0])


def _length_words(minutes: int) -> str:
    """'45 minutes', '1 hour', '1 hour 30 minutes'; empty for 0."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def _place(location: str, link: str) -> str:
    """The location, the link, or 'location (link)' when both exist and differ."""
    if not link or link in location:
        return location
    if not location:
        return link
    return f"{location} ({link})"
