"""Graph event JSON -> Meeting (pure, no server; HTML bodies: tests/test_htmltext.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import occurrence_uid
from connectors.mapping import BadEvent
from connectors.outlook.mapping import (
    address_of,
    mail_seen,
    message_time,
    parse_graph_time,
    removed,
    series_master_id,
    to_meeting,
    zone_named,
)
from daemon.core.model import Removed

ZONE = ZoneInfo("America/Chicago")


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "AAMkEvent1=",
        "iCalUId": "040000008200E00074C5B7101A82E0080000000000",
        "type": "singleInstance",
        "subject": "Lunch with Priya",
        "start": {"dateTime": "2026-03-10T17:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-10T17:45:00.0000000", "timeZone": "UTC"},
    }
    base.update(fields)
    return base


def test_a_full_event_maps_every_field() -> None:
    mapped = to_meeting(event(
        isOrganizer=True,
        organizer={"emailAddress": {"name": "Sam Rivera", "address": "Sam@Example.com"}},
        attendees=[
            {"type": "required", "status": {"response": "accepted"},
             "emailAddress": {"name": "Priya N", "address": "priya@example.org"}},
            {"type": "optional", "status": {"response": "tentativelyAccepted"},
             "emailAddress": {"name": "Lee", "address": "lee@example.net"}},
            {"type": "required", "status": {"response": "declined"},
             "emailAddress": {"name": "Ola", "address": "ola@example.net"}},
            {"type": "required", "status": {"response": "notResponded"},
             "emailAddress": {"name": "Max", "address": "max@example.net"}},
            {"type": "required", "status": {"response": "none"},
             "emailAddress": {"name": "Nia", "address": "nia@example.net"}},
            {"type": "required", "status": {"response": "organizer"},
             "emailAddress": {"name": "Sam Rivera", "address": "sam@example.com"}},
            {"type": "resource", "status": {"response": "accepted"},
             "emailAddress": {"name": "Room 4", "address": "room4@example.com"}},
            {"type": "required", "status": {"response": "accepted"},
             "emailAddress": {"name": "No address", "address": ""}},
        ],
        location={"displayName": "Blue Bottle\r\nBcc: evil@x.org"},
        onlineMeeting={"joinUrl": "https://teams.microsoft.com/l/meetup-join/abc"},
        categories=["Informational Interview", "Networking", "Networking"],
        body={"contentType": "html",
              "content": "<div>Ask about <b>UX</b> research.</div><div>Bring CV</div>"},
        isCancelled=False,
    ), tz=ZONE, series_uids={})
    meeting = mapped.meeting
    assert meeting.uid == "040000008200E00074C5B7101A82E0080000000000"
    assert meeting.provider_id == "AAMkEvent1="
    assert meeting.title == "Lunch with Priya"
    assert meeting.start == datetime(2026, 3, 10, 17, tzinfo=UTC)
    assert meeting.start.tzinfo == ZONE and meeting.end.hour == 12 and meeting.end.minute == 45
    assert meeting.location == "Blue Bottle Bcc: evil@x.org"
    assert meeting.link == "https://teams.microsoft.com/l/meetup-join/abc"
    assert meeting.categories == ("Informational Interview", "Networking")
    assert meeting.description == "Ask about UX research.\nBring CV"
    assert meeting.organizer is not None
    assert (meeting.organizer.email, meeting.organizer.is_self) == ("sam@example.com", True)
    got = {a.email: (a.response, a.is_resource) for a in meeting.attendees}
    assert got == {
        "priya@example.org": ("accepted", False), "lee@example.net": ("tentative", False),
        "ola@example.net": ("declined", False), "max@example.net": ("needs_action", False),
        "nia@example.net": ("needs_action", False), "sam@example.com": ("accepted", False),
        "room4@example.com": ("accepted", True),
    }
    assert any("no valid e-mail address" in p for p in mapped.problems)
    assert meeting.cancelled is False and meeting.all_day is False


def test_cancelled_flag_and_http_links_are_dropped() -> None:
    meeting = to_meeting(event(isCancelled=True,
                               onlineMeeting={"joinUrl": "http://insecure.example/x"}),
                         tz=ZONE, series_uids={}).meeting
    assert meeting.cancelled is True
    assert meeting.link == ""


def test_organizer_is_not_self_when_someone_else_invited_me() -> None:
    meeting = to_meeting(event(isOrganizer=False, organizer={
        "emailAddress": {"name": "Dana", "address": "dana@example.org"}}),
        tz=ZONE, series_uids={}).meeting
    assert meeting.organizer is not None and meeting.organizer.is_self is False


def test_an_occurrence_is_named_by_its_series_uid_and_original_start() -> None:
    mapped = to_meeting(event(type="exception", seriesMasterId="MASTER",
                              iCalUId="per-occurrence-uid",
                              originalStart="2026-03-10T16:00:00Z",
                              start={"dateTime": "2026-03-11T18:00:00.0000000",
                                     "timeZone": "UTC"},
                              end={"dateTime": "2026-03-11T18:30:00.0000000",
                                   "timeZone": "UTC"}),
                        tz=ZONE, series_uids={"MASTER": "series-uid@example.com"})
    original = datetime(2026, 3, 10, 16, tzinfo=UTC)
    assert mapped.meeting.uid == occurrence_uid("series-uid@example.com", original)
    assert mapped.meeting.start == datetime(2026, 3, 11, 18, tzinfo=UTC)


def test_an_occurrence_without_original_start_uses_its_start() -> None:
    meeting = to_meeting(event(type="occurrence", seriesMasterId="M"), tz=ZONE,
                         series_uids={"M": "s1"}).meeting
    assert meeting.uid == "s1/2026-03-10T17:00:00Z"


def test_an_occurrence_whose_series_is_unknown_keeps_its_own_uid() -> None:
    mapped = to_meeting(event(type="occurrence", seriesMasterId="GONE", iCalUId="own-uid"),
                        tz=ZONE, series_uids={})
    assert mapped.meeting.uid == "own-uid"
    assert mapped.problems


def test_an_all_day_event_is_a_day_in_the_users_zone() -> None:
    meeting = to_meeting(event(isAllDay=True,
                               start={"dateTime": "2026-03-10T00:00:00.0000000",
                                      "timeZone": "UTC"},
                               end={"dateTime": "2026-03-11T00:00:00.0000000",
                                    "timeZone": "UTC"}), tz=ZONE, series_uids={}).meeting
    assert meeting.all_day is True
    assert meeting.start == datetime(2026, 3, 10, tzinfo=ZONE)
    assert meeting.end == datetime(2026, 3, 11, tzinfo=ZONE)


def test_an_all_day_occurrence_uses_the_date_alone() -> None:
    meeting = to_meeting(event(isAllDay=True, type="occurrence", seriesMasterId="M",
                               originalStart="2026-03-10T06:00:00Z",
                               start={"dateTime": "2026-03-10T00:00:00.0000000",
                                      "timeZone": "UTC"},
                               end={"dateTime": "2026-03-11T00:00:00.0000000",
                                    "timeZone": "UTC"}), tz=ZONE,
                         series_uids={"M": "s1"}).meeting
    assert meeting.uid == occurrence_uid("s1", date(2026, 3, 10))


@pytest.mark.parametrize(("zone", "expected"), [
    ("UTC", datetime(2026, 7, 1, 9, tzinfo=UTC)),
    ("Pacific Standard Time", datetime(2026, 7, 1, 16, tzinfo=UTC)),
    ("W. Europe Standard Time", datetime(2026, 7, 1, 7, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 7, 1, 7, tzinfo=UTC)),
    ("Lord Howe Standard Time", datetime(2026, 6, 30, 22, 30, tzinfo=UTC)),
])
def test_graph_times_in_any_zone_name(zone: str, expected: datetime) -> None:
    parsed = parse_graph_time({"dateTime": "2026-07-01T09:00:00.0000000", "timeZone": zone})
    assert parsed == expected


def test_an_unknown_zone_is_read_as_utc_and_noted() -> None:
    problems: list[str] = []
    parsed = parse_graph_time({"dateTime": "2026-07-01T09:00:00", "timeZone": "Mars/Olympus"},
                              problems)
    assert parsed == datetime(2026, 7, 1, 9, tzinfo=UTC)
    assert problems and "Mars/Olympus" in problems[0]
    assert zone_named("Mars/Olympus") is None


def test_an_end_before_the_start_is_noted() -> None:
    mapped = to_meeting(event(end={"dateTime": "2026-03-10T16:00:00", "timeZone": "UTC"}),
                        tz=ZONE, series_uids={})
    assert mapped.meeting.end == mapped.meeting.start
    assert mapped.problems


@pytest.mark.parametrize("fields", [
    {"id": ""}, {"iCalUId": ""}, {"start": None},
    {"start": {"dateTime": "yesterday", "timeZone": "UTC"}},
])
def test_unusable_events_raise_bad_event(fields: dict[str, Any]) -> None:
    with pytest.raises(BadEvent):
        to_meeting(event(**fields), tz=ZONE, series_uids={})


def test_removed_entries_name_the_graph_id() -> None:
    assert removed({"id": "AAMk1", "@removed": {"reason": "deleted"}}) == Removed(
        provider_id="AAMk1")
    assert removed(event()) is None
    assert series_master_id(event(type="occurrence", seriesMasterId="M")) == "M"
    assert series_master_id(event(seriesMasterId="M")) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-02T15:00:00Z", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
    ("2026-03-02T15:00:00.1234567Z", datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)),
    ("2026-03-02T15:00:00", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
    ("2026-03-02T16:00:00+01:00", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
    ("yesterday", None), ("", None), (None, None), (5, None),
])
def test_message_times(value: Any, expected: datetime | None) -> None:
    assert message_time(value) == expected


def test_a_message_maps_to_when_and_how_to_reply() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    item = {"id": "AAMk1=", "internetMessageId": " <a@x> ", "subject": "Hi\u2028there",
            "conversationId": "AAQk/+_=-1", "receivedDateTime": "2026-03-02T15:00:00Z",
            "internetMessageHeaders": [{"name": "references",
                                        "value": "<1@x>\r\n <2@x> junk <bad <3@x>"}]}
    seen = mail_seen(item, "receivedDateTime", since)
    assert seen is not None and seen.at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert (seen.thread.message_id, seen.thread.subject) == ("<a@x>", "Hi there")
    assert seen.thread.references == ("<1@x>", "<2@x>", "<3@x>")
    assert (seen.thread.thread_id, seen.thread.provider_message_id) == ("AAQk/+_=-1", "AAMk1=")
    odd = {**item, "conversationId": "a b", "internetMessageId": "<a@x>\r\nBcc: e@x"}
    seen = mail_seen(odd, "receivedDateTime", since)
    assert seen is not None and seen.thread.thread_id == seen.thread.message_id == ""
    assert mail_seen(item, "receivedDateTime", datetime(2026, 3, 3, tzinfo=UTC)) is None
    assert mail_seen(item, "sentDateTime", since) is None


def test_recipient_addresses() -> None:
    assert address_of({"emailAddress": {"address": "Dana@Example.ORG"}}) == "dana@example.org"
    assert address_of({"emailAddress": {"address": "not an address"}}) is None
    assert address_of({"emailAddress": {"name": "Dana"}}) is None
    assert address_of(None) is None


def cut_fraction_as_before(value: str) -> str:
    """How times were read before: digits of a second past the sixth dropped."""
    return re.sub(r"(\.\d{6})\d+", r"\1", value)


def old_message_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(cut_fraction_as_before(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


TIME_PARTS = st.sampled_from(("2026-03-10", "T", "17:00", ":00", ".", "0", "1234567", "123456",
                              "12345", "9", "Z", "+01:00", "+01:00:00", "-05:30", "\u0663",
                              " ", "x"))


@settings(max_examples=200, deadline=None)
@given(st.lists(TIME_PARTS, max_size=10).map("".join))
def test_times_with_long_fractions_read_as_before(value: str) -> None:
    assert message_time(value) == old_message_time(value)
    try:
        expected: datetime | None = datetime.fromisoformat(
            cut_fraction_as_before(value.strip().replace("Z", "+00:00")))
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(BadEvent):
            parse_graph_time({"dateTime": value, "timeZone": "UTC"})
    else:
        parsed = parse_graph_time({"dateTime": value, "timeZone": "UTC"})
        assert parsed == expected.replace(tzinfo=expected.tzinfo or UTC)
        assert parsed.utcoffset() == (expected.utcoffset() or timedelta(0))


@pytest.mark.parametrize("value", ["2026-03-10T17:00:00.1234567", "2026-03-10T17:00:00.123456789Z",
                                   "2026-03-10T17:00:00.1234567+01:00:00.1234567",
                                   "2026-03-10T17:00:00.12345", "2026-03-10T17:00:00"])
def test_fractions_of_a_second_past_the_sixth_digit_are_dropped(value: str) -> None:
    assert message_time(value) == old_message_time(value)
