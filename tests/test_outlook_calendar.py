"""The Outlook calendar's delta sync against the fake Graph: windows, paging, cursors, series,
expiry, and how many requests a sync costs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorEnv, collect
from connectors.outlook.calendar import GraphCalendar
from connectors.outlook.client import GraphClient
from connectors.retry import Backoff
from daemon.core.errors import ConnectorError, CursorExpired, TransientError
from daemon.core.model import JSON, Change, Meeting, Removed
from tests.fakes.graph import FakeGraph, Fault, StaticTokens, add_series, make_event, running

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def calendar(fake: FakeGraph, clock: Clock, tmp_path: Path, page_size: int = 50,
             attempts: int = 3) -> GraphCalendar:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work", timeout=2,
                         backoff=Backoff(attempts=attempts, base=0.01), sleep=lambda s: None)
    env = ConnectorEnv(timezone=ZONE, clock=clock, data_dir=tmp_path)
    return GraphCalendar(client, env, history_days=400, horizon_days=365, page_size=page_size)


def add(fake: FakeGraph, uid: str, days: float, title: str = "Coffee chat") -> JSON:
    start = NOW + timedelta(days=days)
    return fake.put_event(make_event(uid, title, start, start + timedelta(minutes=30)))


def uids(changes: Sequence[Change]) -> set[str]:
    return {c.uid for c in changes if isinstance(c, Meeting)}


def test_first_sync_asks_for_the_window_in_utc_with_paging(fake: FakeGraph,
                                                           tmp_path: Path) -> None:
    for n in range(7):
        add(fake, f"e{n}", n + 1)
    source = calendar(fake, Clock(NOW), tmp_path, page_size=3)
    changes, cursor = collect(source.changes(None))
    assert uids(changes) == {f"e{n}" for n in range(7)}
    first, *rest = fake.requested("GET", "/calendarView/delta")
    assert first.query["startDateTime"] == ["2025-01-28T08:00:00Z"]  # 400 days back
    assert first.query["endDateTime"] == ["2027-03-04T08:00:00Z"]    # 365 days ahead
    assert first.headers["prefer"] == 'odata.maxpagesize=3, outlook.timezone="UTC"'
    assert len(rest) == 2 and all("$skiptoken" in r.query for r in rest)
    assert not any("$select" in r.query for r in fake.requests)
    assert cursor["delta_link"].startswith(fake.root + "/me/calendarView/delta?$deltatoken=")
    assert {m.start.tzinfo for m in changes if isinstance(m, Meeting)} == {ZONE}


def test_an_event_outside_the_window_is_not_listed(fake: FakeGraph, tmp_path: Path) -> None:
    add(fake, "far", 500)
    add(fake, "old", -401)
    add(fake, "near", 2)
    changes, _ = collect(calendar(fake, Clock(NOW), tmp_path).changes(None))
    assert uids(changes) == {"near"}


def test_a_failure_mid_listing_returns_no_cursor_and_the_next_sync_is_whole(
        fake: FakeGraph, tmp_path: Path) -> None:
    for n in range(6):
        add(fake, f"e{n}", n + 1)
    source = calendar(fake, Clock(NOW), tmp_path, page_size=2, attempts=2)
    fake.inject(Fault("drop", path="/calendarView/delta", skip=1),  # page 2, twice
                Fault("drop", path="/calendarView/delta"))
    with pytest.raises(TransientError):
        collect(source.changes(None))
    assert [r.fault for r in fake.requests] == ["", "drop", "drop"]
    changes, _ = collect(source.changes(None))
    assert uids(changes) == {f"e{n}" for n in range(6)}


def test_incremental_sync_reports_changes_removals_and_cancellations(
        fake: FakeGraph, tmp_path: Path) -> None:
    keep = add(fake, "keep", 1)
    gone = add(fake, "gone", 2)
    cancel = add(fake, "cancel", 3)
    source = calendar(fake, Clock(NOW), tmp_path)
    _, cursor = collect(source.changes(None))
    fake.delete_event(gone["id"])
    fake.put_event({**cancel, "isCancelled": True})
    add(fake, "new", 4)
    changes, cursor = collect(source.changes(cursor))
    meetings = {c.uid: c for c in changes if isinstance(c, Meeting)}
    assert set(meetings) == {"cancel", "new"}
    assert meetings["cancel"].cancelled is True
    assert [c for c in changes if isinstance(c, Removed)] == [Removed(provider_id=gone["id"])]
    assert keep["id"] not in {c.provider_id for c in changes if isinstance(c, Meeting | Removed)}
    changes, _ = collect(source.changes(cursor))
    assert changes == []


def test_an_event_moved_out_of_the_window_is_removed(fake: FakeGraph, tmp_path: Path) -> None:
    event = add(fake, "moving", 2)
    source = calendar(fake, Clock(NOW), tmp_path)
    _, cursor = collect(source.changes(None))
    later = NOW + timedelta(days=900)
    fake.put_event({**event, "start": {"dateTime": later.strftime("%Y-%m-%dT%H:%M:%S"),
                                       "timeZone": "UTC"},
                    "end": {"dateTime": (later + timedelta(hours=1)).strftime(
                        "%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    changes, _ = collect(source.changes(cursor))
    assert changes == [Removed(provider_id=event["id"])]


def test_an_expired_delta_link_raises_cursor_expired(fake: FakeGraph, tmp_path: Path) -> None:
    add(fake, "a", 1)
    source = calendar(fake, Clock(NOW), tmp_path)
    _, cursor = collect(source.changes(None))
    fake.expire_delta()
    with pytest.raises(CursorExpired):
        collect(source.changes(cursor))
    changes, cursor = collect(source.changes(None))
    assert uids(changes) == {"a"}
    assert collect(source.changes(cursor))[0] == []


@pytest.mark.parametrize("cursor", [
    {"version": 99},
    {"version": 1, "delta_link": 7, "window_start": "x", "window_end": "y"},
    {"garbage": True},
])
def test_an_unreadable_cursor_raises_cursor_expired(fake: FakeGraph, tmp_path: Path,
                                                    cursor: JSON) -> None:
    with pytest.raises(CursorExpired):
        collect(calendar(fake, Clock(NOW), tmp_path).changes(cursor))
    assert fake.requests == []


def test_a_cursor_from_another_graph_root_is_expired(fake: FakeGraph, tmp_path: Path) -> None:
    add(fake, "a", 1)
    source = calendar(fake, Clock(NOW), tmp_path)
    _, cursor = collect(source.changes(None))
    cursor["delta_link"] = cursor["delta_link"].replace(fake.root, "https://graph.example/v1.0")
    before = len(fake.requests)
    with pytest.raises(CursorExpired):
        collect(source.changes(cursor))
    assert len(fake.requests) == before


def test_the_window_moves_forward_when_its_end_comes_near(fake: FakeGraph,
                                                          tmp_path: Path) -> None:
    add(fake, "soon", 1)
    clock = Clock(NOW)
    source = calendar(fake, clock, tmp_path)
    _, cursor = collect(source.changes(None))
    clock.now = NOW + timedelta(days=100)
    _, cursor = collect(source.changes(cursor))
    assert "startDateTime" not in fake.requests[-1].query, "still inside the window"
    clock.now = NOW + timedelta(days=190)  # less than half the horizon is left
    add(fake, "next-year", 190 + 300)
    changes, cursor = collect(source.changes(cursor))
    assert fake.requests[-1].query["endDateTime"] == [
        (clock.now + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert "next-year" in uids(changes) and "soon" in uids(changes)
    assert cursor["window_end"] == fake.requests[-1].query["endDateTime"][0]


def test_a_series_is_read_once_and_each_occurrence_is_a_meeting(fake: FakeGraph,
                                                                tmp_path: Path) -> None:
    starts = [NOW + timedelta(days=7 * n + 1) for n in range(4)]
    template = make_event("series-uid@example.com", "Weekly coffee chat", starts[0],
                          starts[0] + timedelta(minutes=30))
    master, occurrences = add_series(fake, template, starts)
    source = calendar(fake, Clock(NOW), tmp_path)
    changes, cursor = collect(source.changes(None))
    expected = {f"series-uid@example.com/{s.strftime('%Y-%m-%dT%H:%M:%SZ')}" for s in starts}
    assert uids(changes) == expected
    assert len(fake.requested("GET", f"/me/events/{master['id']}")) == 1
    fake.put_event({**occurrences[1], "subject": "Weekly coffee chat (moved room)"})
    changes, _ = collect(source.changes(cursor))
    assert uids(changes) == {f"series-uid@example.com/"
                             f"{starts[1].strftime('%Y-%m-%dT%H:%M:%SZ')}"}
    assert len(fake.requested("GET", "/me/events/")) == 1, "the series uid is remembered"


def test_a_foreign_next_link_is_refused(fake: FakeGraph, tmp_path: Path) -> None:
    class Hostile(FakeGraph):
        def _page(self, *args: object, **kwargs: object) -> tuple[int, JSON | None,
                                                                   dict[str, str]]:
            return 200, {"value": [], "@odata.nextLink": "https://evil.example/steal"}, {}

    hostile = Hostile().start()
    try:
        with pytest.raises(ConnectorError, match="outside"):
            collect(calendar(hostile, Clock(NOW), tmp_path).changes(None))
        assert len(hostile.requests) == 1
    finally:
        hostile.stop()


def test_requests_for_a_first_sync_of_2000_events_and_an_idle_cycle(
        fake: FakeGraph, tmp_path: Path) -> None:
    for n in range(2000):
        start = NOW + timedelta(hours=n * 4 - 3000)
        fake.put_event(make_event(f"bulk-{n}", f"Meeting {n}", start,
                                  start + timedelta(minutes=30)))
    source = calendar(fake, Clock(NOW), tmp_path, page_size=200)
    changes, cursor = collect(source.changes(None))
    first_sync = len(fake.requests)
    assert len(changes) == 2000
    before = len(fake.requests)
    assert collect(source.changes(cursor))[0] == []
    idle = len(fake.requests) - before
    print(f"\nfirst sync of 2000 events: {first_sync} requests; idle cycle: {idle} request")
    assert first_sync == 10
    assert idle == 1


def test_changes_are_streamed_with_the_next_page_read_ahead(fake: FakeGraph,
                                                            tmp_path: Path) -> None:
    for n in range(7):
        add(fake, f"e{n}", n + 1)
    stream = calendar(fake, Clock(NOW), tmp_path, page_size=3).changes(None)
    seen = [next(stream) for _ in range(3)]
    pages = fake.requested("GET", "/calendarView/delta")
    # while the first page is mapped the second is asked for, and nothing beyond it
    deadline = time.monotonic() + 5
    while len(pages) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
        pages = fake.requested("GET", "/calendarView/delta")
    assert len(pages) == 2, "the second page is read ahead, the third is not"
    rest, cursor = collect(stream)
    assert uids([*seen, *rest]) == {f"e{n}" for n in range(7)}
    assert len(fake.requested("GET", "/calendarView/delta")) == 3 and cursor["delta_link"]


def test_read_ahead_keeps_requests_in_order(fake: FakeGraph, tmp_path: Path) -> None:
    # a page's series are looked up before the next page is asked for, as in one thread
    for s in range(3):
        starts = [NOW + timedelta(days=s * 10 + 7 * n + 1) for n in range(2)]
        add_series(fake, make_event(f"series-{s}@example.com", "Weekly coffee chat",
                                    starts[0], starts[0] + timedelta(minutes=30)), starts)
    changes, _ = collect(calendar(fake, Clock(NOW), tmp_path, page_size=2).changes(None))
    assert len(uids(changes)) == 6
    order = ["page" if "/calendarView/delta" in r.path else "series"
             for r in fake.requests]
    assert order == ["page", "series", "page", "series", "page", "series"]


def test_a_stream_left_early_waits_for_the_page_under_way_and_reads_no_more(
        fake: FakeGraph, tmp_path: Path) -> None:
    for n in range(9):
        add(fake, f"e{n}", n + 1)
    fake.inject(Fault("slow", "GET", "/calendarView/delta", delay=1.0, skip=1))
    stream = calendar(fake, Clock(NOW), tmp_path, page_size=3).changes(None)
    next(stream)  # the second page is being read, slowly
    started = time.monotonic()
    stream.close()  # as `coffeechat doctor` does: one change is enough
    assert time.monotonic() - started >= 0.5, "the client is not left to another thread"
    time.sleep(0.2)
    assert len(fake.requested("GET", "/calendarView/delta")) == 2


def test_a_stop_does_not_wait_for_the_page_read_ahead(fake: FakeGraph, tmp_path: Path) -> None:
    for n in range(9):
        add(fake, f"e{n}", n + 1)
    fake.inject(Fault("slow", "GET", "/calendarView/delta", delay=4.0, skip=1))
    stream = calendar(fake, Clock(NOW), tmp_path, page_size=3).changes(None)
    next(stream)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):  # SIGTERM's grace running out raises alike
        stream.throw(KeyboardInterrupt())
    assert time.monotonic() - started < 2.0  # far below the page's delay


def test_a_page_holding_half_an_emoji_is_still_read(fake: FakeGraph, tmp_path: Path) -> None:
    # Graph cuts previews mid-character; JSON then holds an escaped lone surrogate, which
    # orjson refuses and the json module reads.
    event = add(fake, "cut", 1)
    fake.put_event({**event, "bodyPreview": "Looking forward \ud83d", "subject": "Chat \ud83d"})
    changes, _ = collect(calendar(fake, Clock(NOW), tmp_path).changes(None))
    assert uids(changes) == {"cut"}
