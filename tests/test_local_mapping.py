"""The local mapping reads only the event properties it declares: the quick reader of the
local calendar gives it events holding only those."""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.local.mapping import (
    READ_PROPERTIES,
    event_uid,
    is_part_of_series,
    original_start,
    to_meeting,
)

ZONE = ZoneInfo("America/New_York")


class RecordingEvent(icalendar.Event):
    """An event that notes the name of every property looked up."""

    read: ClassVar[set[str]] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        RecordingEvent.read.add(str(key).upper())
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        RecordingEvent.read.add(str(key).upper())
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        RecordingEvent.read.add(str(key).upper())
        return super().__contains__(key)


def recording(text: str) -> RecordingEvent:
    [parsed] = icalendar.Calendar.from_ical(
        f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{text}END:VEVENT\r\nEND:VCALENDAR\r\n",
        multiple=True)
    event = RecordingEvent()
    event.update(parsed.walk("VEVENT")[0])
    return event


EVERYTHING = (
    "UID:all@example.org\r\nSUMMARY:Coffee\r\nDESCRIPTION:Notes\r\nLOCATION:Room 4\r\n"
    "STATUS:CONFIRMED\r\nORGANIZER;CN=Sam:mailto:sam@example.org\r\n"
    "ATTENDEE;CN=Dana;PARTSTAT=ACCEPTED:mailto:dana@example.org\r\n"
    "CATEGORIES:Informational Interview\r\nDTSTAMP:20260301T000000Z\r\nCLASS:PRIVATE\r\n"
    "TRANSP:OPAQUE\r\nSEQUENCE:2\r\nPRIORITY:1\r\n"
)


@pytest.mark.parametrize("times", [
    "DTSTART:20260302T150000Z\r\nDTEND:20260302T160000Z\r\n",
    "DTSTART:20260302T150000Z\r\nDURATION:PT30M\r\n",
    "DTSTART;VALUE=DATE:20260302\r\n",
    "DTSTART:20260302T150000Z\r\nRECURRENCE-ID:20260302T150000Z\r\n",
])
def test_the_mapping_reads_only_the_properties_it_declares(times: str) -> None:
    RecordingEvent.read = set()
    event = recording(EVERYTHING + times)
    uid = event_uid(event)
    is_part_of_series(event)
    original_start(event)
    to_meeting(event, uid=uid, source="all.ics", tz=ZONE)
    assert RecordingEvent.read <= READ_PROPERTIES
    assert not {"DTSTAMP", "CLASS", "TRANSP", "SEQUENCE", "PRIORITY"} & RecordingEvent.read


def test_every_declared_property_is_read() -> None:
    RecordingEvent.read = set()
    for times in ("DTSTART:20260302T150000Z\r\nDURATION:PT30M\r\n",
                  "DTSTART:20260302T150000Z\r\nDTEND:20260302T160000Z\r\n"):
        event = recording("UID:a@example.org\r\n" + times)
        is_part_of_series(event)
        original_start(event)
        to_meeting(event, uid=event_uid(event), source="a.ics", tz=ZONE)
    assert RecordingEvent.read == READ_PROPERTIES
