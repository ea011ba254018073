"""Google event JSON -> Meeting: the pure mapping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.google.mapping import description_text, to_change
from connectors.mapping import BadEvent, Mapped
from daemon.core.model import Meeting, Removed

USER_TZ = ZoneInfo("America/Chicago")


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "abc123", "status": "confirmed", "iCalUID": "abc123@google.com",
        "summary": "Coffee chat with Dana",
        "start": {"dateTime": "2026-03-10T15:00:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-10T15:30:00-04:00", "timeZone": "America/New_York"},
    }
    base.update(fields)
    return base


def meeting(item: dict[str, Any], **kwargs: Any) -> Meeting:
    mapped = to_change(item, tz=USER_TZ, **kwargs)
    assert isinstance(mapped, Mapped)
    return mapped.meeting


def test_a_full_event_maps_every_field() -> None:
    item = event(
        description="Ask about <b>archives</b>.<br>She offered an intro to Lee.",
        location="Blue Bottle, 1 Main St",
        hangoutLink="https://meet.google.com/abc-defg-hij",
        organizer={"email": "Sam@Example.com", "displayName": "Sam Ortiz", "self": True},
        attendees=[
            {"email": "sam@example.com", "displayName": "Sam Ortiz", "self": True,
             "organizer": True, "responseStatus": "accepted"},
            {"email": "dana@example.org", "displayName": "Dana W", "responseStatus": "tentative"},
            {"email": "room-4@resource.calendar.google.com", "displayName": "Room 4",
             "resource": True, "responseStatus": "accepted"},
            {"email": "lee@example.net", "responseStatus": "needsAction"},
            {"email": "ola@example.net", "responseStatus": "declined"},
        ],
    )
    m = meeting(item)
    assert m.uid == "abc123@google.com" and m.provider_id == "abc123"
    assert m.title == "Coffee chat with Dana"
    assert m.start == datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
    assert m.start.tzinfo == ZoneInfo("America/New_York")
    assert m.end == datetime(2026, 3, 10, 19, 30, tzinfo=UTC)
    assert m.description == "Ask about archives.\nShe offered an intro to Lee."
    assert m.location == "Blue Bottle, 1 Main St"
    assert m.link == "https://meet.google.com/abc-defg-hij"
    assert m.organizer is not None and m.organizer.email == "sam@example.com"
    by_email = {a.email: a for a in m.attendees}
    assert by_email["sam@example.com"].is_self
    assert by_email["room-4@resource.calendar.google.com"].is_resource
    assert by_email["dana@example.org"].response == "tentative"
    assert by_email["lee@example.net"].response == "needs_action"
    assert by_email["ola@example.net"].response == "declined"
    assert not m.all_day and not m.cancelled and not m.provider_tagged


def test_conference_data_video_entry_is_the_link() -> None:
    item = event(conferenceData={"entryPoints": [
        {"entryPointType": "phone", "uri": "tel:+1-555-0100"},
        {"entryPointType": "video", "uri": "https://zoom.us/j/123"}]})
    assert meeting(item).link == "https://zoom.us/j/123"


def test_a_link_that_is_not_https_is_dropped() -> None:
    assert meeting(event(hangoutLink="javascript:alert(1)")).link == ""


def test_an_all_day_event_is_marked_all_day() -> None:
    item = event(start={"date": "2026-03-10"}, end={"date": "2026-03-11"})
    m = meeting(item)
    assert m.all_day
    assert m.start == datetime(2026, 3, 10, tzinfo=USER_TZ)
    assert m.end == datetime(2026, 3, 11, tzinfo=USER_TZ)


def test_a_time_without_a_known_zone_is_read_in_the_users_zone() -> None:
    item = event(start={"dateTime": "2026-03-10T09:00:00"},
                 end={"dateTime": "2026-03-10T10:00:00", "timeZone": "Not/AZone"})
    m = meeting(item)
    assert m.start == datetime(2026, 3, 10, 9, tzinfo=USER_TZ)
    assert m.end.tzinfo == USER_TZ


def test_an_occurrence_gets_the_shared_occurrence_uid() -> None:
    item = event(id="abc123_20260310T190000Z", recurringEventId="abc123",
                 originalStartTime={"dateTime": "2026-03-10T14:00:00-05:00"})
    assert meeting(item).uid == "abc123@google.com/2026-03-10T19:00:00Z"


def test_an_all_day_occurrence_uses_its_date() -> None:
    item = event(recurringEventId="abc123", originalStartTime={"date": "2026-03-10"})
    assert meeting(item).uid == "abc123@google.com/2026-03-10"


def test_a_bare_tombstone_is_a_removal_by_google_id() -> None:
    change = to_change({"id": "gone1", "status": "cancelled"}, tz=USER_TZ)
    assert change == Removed(uid="", provider_id="gone1")


def test_a_tombstone_with_uid_names_the_uid_too() -> None:
    item = {"id": "x_20260310T190000Z", "status": "cancelled", "iCalUID": "x@google.com",
            "recurringEventId": "x", "originalStartTime": {"dateTime": "2026-03-10T19:00:00Z"}}
    change = to_change(item, tz=USER_TZ)
    assert change == Removed(uid="x@google.com/2026-03-10T19:00:00Z",
                             provider_id="x_20260310T190000Z")


def test_a_cancelled_event_with_its_details_is_a_cancelled_meeting() -> None:
    m = meeting(event(status="cancelled"))
    assert m.cancelled and m.title == "Coffee chat with Dana"


def test_private_property_and_colour_tag_the_event() -> None:
    assert meeting(event(extendedProperties={"private": {"coffeechat": "1"}})).provider_tagged
    assert meeting(event(colorId="5"), color_id="5").provider_tagged
    assert not meeting(event(colorId="4"), color_id="5").provider_tagged
    assert not meeting(event(colorId="5")).provider_tagged


def test_google_events_have_no_categories() -> None:
    item = event(extendedProperties={"private": {"categories": "Informational Interview"}})
    assert meeting(item).categories == ()

def test_hostile_text_is_cleaned() -> None:
    item = event(summary="Coffee chat\r\nBcc: evil@example.com =?utf-8?q?x?=",
                 attendees=[{"email": "dana@example.org\r\nBcc: x@y.z",
                             "displayName": "Dana\nBcc: a@b.c"},
                            {"email": "ok@example.org", "displayName": "Ok\u2028Bcc: a@b.c"}])
    m = meeting(item)
    assert "\n" not in m.title and "\r" not in m.title and "=?" not in m.title
    assert [a.email for a in m.attendees] == ["ok@example.org"]
    assert "\u2028" not in m.attendees[0].name


def test_an_event_without_start_or_id_is_refused() -> None:
    with pytest.raises(BadEvent):
        to_change(event(start=None), tz=USER_TZ)
    with pytest.raises(BadEvent):
        to_change({"status": "confirmed"}, tz=USER_TZ)
    with pytest.raises(BadEvent):
        to_change(event(start={"dateTime": "tomorrow"}), tz=USER_TZ)


def test_an_end_before_the_start_is_read_as_no_time() -> None:
    item = event(end={"dateTime": "2026-03-10T14:00:00-04:00"})
    mapped = to_change(item, tz=USER_TZ)
    assert isinstance(mapped, Mapped)
    assert mapped.meeting.end == mapped.meeting.start
    assert mapped.problems


def test_html_descriptions_become_text() -> None:
    html = ('<p>Questions:</p><ul><li>How did you start?</li><li>What&#39;s hard?</li></ul>'
            '<a href="https://example.org/cv">my CV</a><script>x()</script>')
    assert description_text(html) == ("Questions:\n\n- How did you start?\n- What's hard?\n"
                                  "my CV (https://example.org/cv)")
    plain = "a < b and 3 > 2\nsecond line"
    assert description_text(plain) == plain


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_description_maps_without_error(text: str) -> None:
    m = meeting(event(description=text, summary=text, location=text))
    assert "\r" not in m.description
    assert "\n" not in m.title


def test_original_date_start_is_a_date() -> None:
    item = event(recurringEventId="abc123", originalStartTime={"date": "2026-03-10"})
    assert meeting(item).uid.endswith(date(2026, 3, 10).isoformat())
