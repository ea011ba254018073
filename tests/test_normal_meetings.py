"""The state's quick reading of its meetings for the planner (``Store.normal_meetings``) is the
planner's own normalising of the full interviews, for any meetings: `plan` and `status` read
the first, the cycle the second, and the two must never plan differently."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.facts import CANCELLED, USER_DECLINED, NormalMeeting
from daemon.core.model import Attendee, Cadence, Interview, Meeting, Person
from daemon.plan.meetings import normalise
from daemon.plan.planner import plan
from daemon.state import storage
from daemon.state.schema import BRIEFS
from daemon.state.store import Store

BASE = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
NOW = BASE + timedelta(days=2)
ZONES = (UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Auckland"),
         timezone(timedelta(hours=-3, minutes=-30)))
PEOPLE = (Person("ana@x.example", "Ana"), Person("ANA@X.example", "Ana Caps"),
          Person(" bo@x.example ", "Bo"), Person("cy@x.example", ""), Person("", "Nobody"))

people = st.lists(st.sampled_from(PEOPLE), max_size=3)


@st.composite
def interviews(draw: st.DrawFn) -> Interview:
    zone = draw(st.sampled_from(ZONES))
    start = (BASE + timedelta(minutes=draw(st.integers(-60 * 24 * 60, 60 * 24 * 60)))
             ).astimezone(zone)
    end = start + timedelta(minutes=draw(st.integers(-30, 180)))  # an end before its start too
    me = Attendee("me@x.example", "Me", "accepted", is_self=True)
    meeting = Meeting(uid=draw(st.sampled_from(["a", "b", "c", "d"])), title="Coffee chat",
                      start=start, end=end, description="ask about the move",
                      attendees=(me, Attendee("ana@x.example", "Ana", "accepted")),
                      organizer=me, cancelled=draw(st.booleans()))
    return Interview(meeting, draw(st.sampled_from(["work", "home"])), tuple(draw(people)),
                     tuple(draw(people)), "notes", draw(st.booleans()))


def _stored(ivs: list[Interview], folder: Path, *, in_parts: bool = False) -> Store:
    """A state holding ``ivs``, opened to be read; ``in_parts``: saved in parts, so that the
    quick reading is made from the meetings' briefs."""
    with mock.patch.object(storage, "INLINE_BYTES", 0 if in_parts else storage.INLINE_BYTES):
        store = Store(folder / "state.json", writable=True)
        store.put_interviews(ivs)
        store.flush()
    found = Store(folder / "state.json")
    assert found._storage is not None
    assert (found._storage.derived_table(BRIEFS) is not None) == (in_parts and bool(ivs))
    return found


@pytest.mark.parametrize("in_parts", [False, True], ids=["one file", "briefs"])
@settings(max_examples=80, deadline=None)
@given(st.lists(interviews(), max_size=8))
def test_the_quick_reading_is_the_planners_normalising(in_parts: bool,
                                                        ivs: list[Interview]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = _stored(ivs, Path(folder), in_parts=in_parts)
        quick = store.normal_meetings()
        full = store.interviews()
    assert len(quick) == len(full) and all(isinstance(m, NormalMeeting) for m in quick)
    assert normalise(quick) == normalise(full)  # one per uid: each account stores its own
    assert plan(quick, {}, {}, NOW, Cadence(), ZONES[1]) == \
        plan(full, {}, {}, NOW, Cadence(), ZONES[1])


@pytest.mark.parametrize("in_parts", [False, True], ids=["one file", "briefs"])
def test_the_quick_reading_normalises_what_the_planner_relies_on(tmp_path: Path,
                                                                  in_parts: bool) -> None:
    start = datetime(2026, 3, 29, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    ivs = [Interview(Meeting("x", "Chat", start, start - timedelta(minutes=5), cancelled=True),
                     "work", (Person(" ANA@x.example", "Ana"), Person("ana@x.example", "A")),
                     (Person("Ana@x.example", "Ana"), Person("Bo@x.example", "Bo")), "", True),
           Interview(Meeting("y", "Chat", start, start + timedelta(hours=1)), "work",
                     (), (), "", True)]
    [x, y] = _stored(ivs, tmp_path, in_parts=in_parts).normal_meetings()
    assert x.start == x.end == start.astimezone(UTC) and x.start.tzinfo is UTC
    assert x.contacts == (Person("ana@x.example", "Ana"),)
    assert x.declined == (Person("bo@x.example", "Bo"),)
    assert x.invalid_reason == CANCELLED and y.invalid_reason == USER_DECLINED
