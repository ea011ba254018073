"""Links from events: https only, and online-meeting links found in free text."""

from __future__ import annotations

import pytest

from daemon.core.links import MAX_LINK, https_link, meeting_link_in


@pytest.mark.parametrize(("value", "expected"), [
    ("https://meet.google.com/abc-defg-hij", "https://meet.google.com/abc-defg-hij"),
    ("  https://zoom.us/j/123  ", "https://zoom.us/j/123"),
    ("http://zoom.us/j/123", ""),
    ("javascript:alert(1)", ""),
    ("https://", ""),
    ("https://exa mple.com/x", ""),
    ("https://example.com/\r\nBcc: x@y.z", ""),
    ("https://example.com/" + "a" * (MAX_LINK + 10), "https://example.com/" + "a" * (
        MAX_LINK - len("https://example.com/"))),
])
def test_only_plain_https_links_with_a_host_are_kept(value: str, expected: str) -> None:
    assert https_link(value) == expected


def test_a_meeting_link_is_found_in_location_or_description() -> None:
    assert meeting_link_in("Room 4", "Join: https://teams.microsoft.com/l/meetup-join/19%3a.") \
        == "https://teams.microsoft.com/l/meetup-join/19%3a"
    assert meeting_link_in("https://us02web.zoom.us/j/86?pwd=x,", "") \
        == "https://us02web.zoom.us/j/86?pwd=x"
    assert meeting_link_in("see https://example.com/agenda", "https://evilzoom.us/j/1") == ""
    assert meeting_link_in("https://meet.google.com/a", "https://zoom.us/j/2") \
        == "https://meet.google.com/a"
