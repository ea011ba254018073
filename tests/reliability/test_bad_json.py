"""Hostile event JSON through the Google and Graph mappings: each event either becomes a
meeting or a removal, or is refused with ``BadEvent`` and a reason; nothing else escapes, and
whatever comes out is clean enough for tagging and planning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.google import mapping as google
from connectors.outlook import mapping as graph
from daemon.model import Cadence, Meeting, TaggingRules
from daemon.planner import plan
from daemon.tagging import interview_from
from tests.reliability.conftest import Record

TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
NASTY = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), NASTY, st.lists(NASTY, max_size=3),
    st.dictionaries(NASTY, NASTY, max_size=3))
TIMES = st.one_of(st.just("2026-11-18T15:00:00"), st.just("2026-11-18T15:00:00Z"),
                  st.just("2026-13-45T99:00"), st.just(""), NASTY)
ZONES = st.sampled_from(["UTC", "Pacific Standard Time", "America/New_York", "Mars/Base",
                         "", "+05:00"])
COUNTS = {"google events": 0, "google refused": 0, "graph events": 0, "graph refused": 0}


def person(address: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"email": address, "displayName": NASTY,
                                  "responseStatus": st.sampled_from(["accepted", "declined",
                                                                     "bogus"])})


ADDRESS = st.one_of(st.just("ana@example.org"), NASTY, JUNK)
GOOGLE_EVENT = st.fixed_dictionaries(
    {"id": st.one_of(st.just("ev1"), JUNK)},
    optional={"iCalUID": st.one_of(st.just("uid-1@google.com"), JUNK),
              "status": st.sampled_from(["confirmed", "cancelled", "tentative"]),
              "summary": st.one_of(NASTY.map(lambda t: "coffee chat " + t), JUNK),
              "description": st.one_of(NASTY, st.just("<p>" + "x" * 100_000 + "</p>"), JUNK),
              "start": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                        "timeZone": ZONES}), JUNK),
              "end": st.one_of(st.fixed_dictionaries({"dateTime": TIMES}), JUNK),
              "attendees": st.one_of(st.lists(person(ADDRESS), max_size=3), JUNK),
              "organizer": st.one_of(person(ADDRESS), JUNK),
              "hangoutLink": JUNK, "location": JUNK, "colorId": JUNK,
              "extendedProperties": JUNK, "originalStartTime": JUNK})
GRAPH_EVENT = st.fixed_dictionaries(
    {"id": st.one_of(st.just("AAMk1"), JUNK)},
    optional={"iCalUId": st.one_of(st.just("040000008200E00074C5B7101A82E008"), JUNK),
              "type": st.sampled_from(["singleInstance", "occurrence", "exception", "x"]),
              "subject": st.one_of(NASTY.map(lambda t: "coffee chat " + t), JUNK),
              "body": st.one_of(st.fixed_dictionaries(
                  {"contentType": st.sampled_from(["html", "text"]),
                   "content": st.one_of(NASTY, st.just("<div>" * 5000))}), JUNK),
              "start": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                        "timeZone": ZONES}), JUNK),
              "end": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                      "timeZone": ZONES}), JUNK),
              "isAllDay": JUNK, "isCancelled": JUNK, "isOrganizer": JUNK,
              "categories": st.one_of(st.lists(NASTY, max_size=3), JUNK),
              "attendees": JUNK, "organizer": JUNK, "location": JUNK,
              "onlineMeeting": JUNK, "@removed": JUNK, "seriesMasterId": JUNK})


def survive(meeting: Meeting) -> None:
    """What a connector delivered goes through tagging and planning without an error."""
    assert meeting.start.tzinfo is not None and meeting.end.tzinfo is not None
    assert "\r" not in meeting.title and "\n" not in meeting.title
    interview = interview_from(meeting, "acct", TaggingRules(), frozenset({"sam@x.org"}))
    if interview is not None:
        plan([interview], {}, {}, NOW, Cadence(), TZ)


@settings(max_examples=300, deadline=None)
@given(GOOGLE_EVENT)
def test_google_mapping_refuses_or_maps_any_event(event: dict[str, Any]) -> None:
    COUNTS["google events"] += 1
    try:
        mapped = google.to_change(event, tz=TZ, color_id="5")
    except google.BadEvent as exc:
        COUNTS["google refused"] += 1
        assert str(exc)  # a reason a user can read
        return
    if isinstance(mapped.change, Meeting):
        survive(mapped.change)


@settings(max_examples=300, deadline=None)
@given(GRAPH_EVENT)
def test_graph_mapping_refuses_or_maps_any_event(event: dict[str, Any]) -> None:
    COUNTS["graph events"] += 1
    if graph.removed(event) is not None:
        return
    try:
        mapped = graph.to_meeting(event, tz=TZ, series_uids={})
    except graph.BadEvent as exc:
        COUNTS["graph refused"] += 1
        assert str(exc)
        return
    survive(mapped.meeting)


def test_zz_bad_json_figures(figures: Record) -> None:
    assert COUNTS["google events"] and COUNTS["graph events"]
    figures("bad JSON (hypothesis)", {**COUNTS, "crashes": 0})
