"""What every calendar source must do, whatever the provider.

Subclass :class:`CalendarContract` in ``test_<provider>.py`` and give it a ``world`` fixture
returning a :class:`~tests.contract.events.CalendarWorld` whose source's clock shows
``world.now``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from connectors.base import collect
from daemon.core.model import JSON, Change, Meeting, Removed

from .events import CalendarWorld, EventSpec, Expected, expected_meetings


def sync(world: CalendarWorld, cursor: JSON | None) -> tuple[list[Change], JSON]:
    """Run one sync; the cursor goes through JSON as the store would keep it."""
    changes, new_cursor = collect(world.source.changes(cursor))
    stored: JSON = json.loads(json.dumps(new_cursor))
    assert stored == new_cursor, "the cursor must survive a JSON round trip unchanged"
    return changes, stored


def meetings_by_uid(changes: list[Change]) -> dict[str, Meeting]:
    """The meetings among ``changes``, by uid."""
    return {c.uid: c for c in changes if isinstance(c, Meeting)}


def removed_uids(changes: list[Change], known: list[Change] | None = None) -> set[str]:
    """The uids reported removed. A removal may name only the provider's own id (as Graph
    does); ``known`` (an earlier sync's changes) maps such an id back to its uid."""
    by_id = {c.provider_id: c.uid for c in known or [] if isinstance(c, Meeting)
             if c.provider_id}
    return {c.uid or by_id.get(c.provider_id, f"unknown provider id {c.provider_id!r}")
            for c in changes if isinstance(c, Removed)}


def assert_maps(meeting: Meeting, expected: Expected, categories: bool = True) -> None:
    """The meeting carries every field of the spec it came from."""
    spec = expected.spec
    assert meeting.uid == expected.uid
    assert meeting.title == spec.title
    assert meeting.start == expected.start, (meeting.start, expected.start)
    assert meeting.end == expected.end, (meeting.end, expected.end)
    assert meeting.start.tzinfo is not None and meeting.end.tzinfo is not None
    assert meeting.description == spec.description
    assert meeting.location == spec.location
    assert meeting.cancelled == spec.cancelled
    assert meeting.all_day is False
    assert set(meeting.categories) == (set(spec.categories) if categories else set())
    if spec.organizer is None:
        assert meeting.organizer is None
    else:
        assert meeting.organizer is not None
        assert (meeting.organizer.email, meeting.organizer.name) == spec.organizer
    got = {(a.email, a.name, a.response) for a in meeting.attendees}
    assert got == set(spec.attendees)


class CalendarContract:
    """The tests; subclasses provide the ``world`` fixture."""

    @pytest.fixture
    def world(self) -> CalendarWorld:
        """The provider's calendar, empty, with its source; subclasses override this."""
        raise NotImplementedError

    # --- events the tests use ------------------------------------------------------------

    @staticmethod
    def at(world: CalendarWorld, days: int, hour: int, minutes: int = 0) -> datetime:
        """An instant ``days`` after the world's now, at ``hour`` in the world's zone."""
        day = world.now + timedelta(days=days)
        return day.replace(hour=hour, minute=minutes, second=0, microsecond=0)

    def interview(self, world: CalendarWorld, uid: str = "interview-1") -> EventSpec:
        """A fully populated informational interview a few days ahead."""
        start = self.at(world, 3, 15)
        return EventSpec(
            uid=uid,
            title="Informational interview with Dana Whitfield",
            start=start,
            end=start + timedelta(minutes=30),
            description="Ask how she moved from reference work into UX research.\n"
                        "She suggested the Library Juice Academy course.",
            location="Blue Bottle Coffee, 1 Rockefeller Plaza",
            organizer=("sam@example.com", "Sam Ortiz"),
            attendees=(
                ("dana.whitfield@example.org", "Dana Whitfield", "accepted"),
                ("sam@example.com", "Sam Ortiz", "accepted"),
                ("lee@example.net", "Lee Park", "tentative"),
                ("ola@example.net", "Ola Berg", "declined"),
                ("max@example.net", "Max Roy", "needs_action"),
            ),
            categories=("Informational Interview", "Networking"),
        )

    def plain(self, world: CalendarWorld, uid: str = "standup-1") -> EventSpec:
        """A bare event: title and times only."""
        start = self.at(world, 1, 9)
        return EventSpec(uid=uid, title="Team stand-up", start=start,
                         end=start + timedelta(minutes=15))

    # --- the contract ----------------------------------------------------------------------

    def test_full_sync_returns_every_event_mapped(self, world: CalendarWorld) -> None:
        expected = [e for spec in (world.add(self.interview(world)), world.add(self.plain(world)))
                    for e in expected_meetings(spec)]
        changes, _ = sync(world, None)
        meetings = meetings_by_uid(changes)
        assert set(meetings) == {e.uid for e in expected}
        assert not removed_uids(changes)
        for e in expected:
            assert_maps(meetings[e.uid], e, world.supports_categories)

    def test_sync_with_no_change_returns_nothing(self, world: CalendarWorld) -> None:
        world.add(self.interview(world))
        world.add(self.plain(world))
        _, cursor = sync(world, None)
        changes, cursor = sync(world, cursor)
        assert changes == []
        changes, _ = sync(world, cursor)
        assert changes == []

    def test_new_event_appears_in_the_next_sync(self, world: CalendarWorld) -> None:
        world.add(self.plain(world))
        _, cursor = sync(world, None)
        spec = world.add(self.interview(world))
        changes, _ = sync(world, cursor)
        meetings = meetings_by_uid(changes)
        assert spec.uid in meetings
        assert_maps(meetings[spec.uid], expected_meetings(spec)[0], world.supports_categories)
        assert not removed_uids(changes)

    def test_changed_event_comes_back_changed(self, world: CalendarWorld) -> None:
        spec = world.add(self.interview(world))
        world.add(self.plain(world))
        _, cursor = sync(world, None)
        later = spec.start + timedelta(days=1, hours=2)
        changed = world.change(spec.uid, title="Coffee chat with Dana (moved)", start=later,
                               end=later + timedelta(minutes=45), location="Zoom")
        changes, _ = sync(world, cursor)
        meetings = meetings_by_uid(changes)
        assert spec.uid in meetings
        assert_maps(meetings[spec.uid], expected_meetings(changed)[0], world.supports_categories)
        assert not removed_uids(changes)

    def test_deleted_event_comes_back_removed(self, world: CalendarWorld) -> None:
        spec = world.add(self.interview(world))
        other = world.add(self.plain(world))
        first, cursor = sync(world, None)
        world.delete(spec.uid)
        changes, cursor = sync(world, cursor)
        assert removed_uids(changes, first) == {spec.uid}
        assert spec.uid not in meetings_by_uid(changes)
        changes, _ = sync(world, cursor)
        assert changes == []
        assert other.uid in meetings_by_uid(sync(world, None)[0])

    def test_cancelled_event_comes_back_cancelled(self, world: CalendarWorld) -> None:
        spec = world.add(self.interview(world))
        _, cursor = sync(world, None)
        world.cancel(spec.uid)
        changes, _ = sync(world, cursor)
        meeting = meetings_by_uid(changes)[spec.uid]
        assert meeting.cancelled is True
        assert meeting.title == spec.title

    def test_series_gives_one_meeting_per_occurrence(self, world: CalendarWorld) -> None:
        start = self.at(world, 2, 10)
        spec = world.add(EventSpec(uid="weekly-1", title="Weekly coffee chat", start=start,
                                   end=start + timedelta(minutes=30),
                                   rrule="FREQ=WEEKLY;COUNT=3"))
        expected = expected_meetings(spec)
        changes, _ = sync(world, None)
        meetings = meetings_by_uid(changes)
        assert set(meetings) == {e.uid for e in expected}
        for e in expected:
            assert_maps(meetings[e.uid], e, world.supports_categories)

    def test_full_sync_again_returns_everything(self, world: CalendarWorld) -> None:
        a = world.add(self.interview(world))
        b = world.add(self.plain(world))
        _, cursor = sync(world, None)
        sync(world, cursor)
        changes, _ = sync(world, None)
        assert set(meetings_by_uid(changes)) == {a.uid, b.uid}
