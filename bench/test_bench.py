"""Checks of the benchmark's own parts (run with ``pytest bench/``; not part of ``make test``).

They make sure the benchmark measures what it says: the worlds hold the calendar described,
each provider's shape is read by coffeechat as the same meetings, the bench fakes answer as
the test fakes do, and the figures (bytes written, targets) are computed right.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import naive
from bench.events import ZONE, Event, build_calendar, busy_edits
from bench.formats import google_event, graph_event, ics_file
from bench.history import (
    BOUNDED_SERIES,
    SERIES_CONTACT,
    contacts_inputs,
    series_inputs,
    series_inputs_bounded,
    write_state,
)
from bench.measure import bytes_written, file_state
from bench.report import every_file_table, series_table, stored_table
from bench.servers import BenchGoogle, BenchGraph
from bench.targets import evaluate
from connectors.google.mapping import to_change
from connectors.local.ics import parse_file
from connectors.local.window import Window
from connectors.mapping import Mapped
from connectors.outlook.mapping import to_meeting
from daemon.core.model import Cadence, Meeting, TaggingRules
from daemon.core.tagging import interview_from
from daemon.plan.context import SETTLED_MARGIN_DAYS
from daemon.plan.planner import plan
from daemon.settings.config import load
from daemon.state.store import Store
from tests.fakes.google import FakeGoogle

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ME = frozenset({"sam@example.com"})


def test_calendar_has_the_size_share_and_window_described() -> None:
    calendar = build_calendar(2_000, NOW)
    assert len(calendar.events) == 2_000
    assert calendar.tagged == 100
    assert len(calendar.contacts) == 50
    assert len({e.uid for e in calendar.events}) == 2_000
    assert all(NOW - timedelta(days=381) <= e.start <= NOW + timedelta(days=341)
               for e in calendar.events)
    roles = [e.role for e in calendar.events if e.tagged]
    assert roles.count("thank_you") == 3 and roles.count("confirmation") == 2
    assert build_calendar(2_000, NOW) == calendar


def _tagged_uids(meetings: list[Meeting]) -> set[str]:
    rules = TaggingRules()
    return {m.uid for m in meetings if interview_from(m, "a", rules, ME) is not None}


def test_every_format_gives_coffeechat_the_same_tagged_meetings() -> None:
    calendar = build_calendar(200, NOW)
    expected = {e.uid for e in calendar.events if e.tagged}
    google = [to_change(google_event(e), tz=ZONE, color_id="5") for e in calendar.events]
    graph = [to_meeting(graph_event(e), tz=ZONE, series_uids={}).meeting
             for e in calendar.events]
    window = Window(NOW.date() - timedelta(days=400), NOW.date() + timedelta(days=400))
    local = [m for e in calendar.events for m in parse_file(
        ics_file(e), path=Path(f"{e.key}.ics"), tz=ZONE, window=window).meetings]
    assert _tagged_uids([m.meeting for m in google if isinstance(m, Mapped)]) == expected
    assert _tagged_uids(graph) == expected
    assert _tagged_uids(local) == expected
    assert {m.start for m in local} == {e.start for e in calendar.events}


def test_ics_lines_are_folded_at_75_octets() -> None:
    calendar = build_calendar(100, NOW)
    for event in calendar.events:
        for line in ics_file(event).split(b"\r\n"):
            assert len(line) <= 75


def test_busy_edits_change_one_percent_and_make_one_meeting_recent() -> None:
    calendar = build_calendar(5_000, NOW)
    first, second = busy_edits(calendar, 0, NOW), busy_edits(calendar, 1, NOW)
    assert len(first) == len(second) == 50
    recent = [e for e in first if e.role == "thank_you"]
    assert len(recent) == 1 and recent[0].tagged
    assert NOW - timedelta(hours=3) < recent[0].end < NOW - timedelta(hours=1)
    assert {e.index for e in first} != {e.index for e in second}
    originals = {e.index: e for e in calendar.events}
    assert all(e.description != originals[e.index].description
               for e in first if e.role != "thank_you")


def _list(fake: FakeGoogle, **query: str) -> list[dict[str, Any]]:
    params = {"singleEvents": ["true"], "maxResults": ["2500"],
              **{k: [v] for k, v in query.items()}}
    reply = fake.serve("GET", "/calendar/v3/calendars/primary/events", params, b"",
                       {"authorization": "Bearer t"})
    assert reply.status == 200, reply.body
    page: dict[str, Any] = json.loads(reply.body)
    return [*page["items"], {"_sync": page["nextSyncToken"]}]


def test_bench_google_lists_as_the_test_fake_does() -> None:
    calendar = build_calendar(300, NOW)
    ours, theirs = BenchGoogle(), FakeGoogle(page_size=2500)
    for fake in (ours, theirs):
        for event in calendar.events:
            fake.put_event(google_event(event))
    since = (NOW - timedelta(days=400)).isoformat()
    assert _list(ours, timeMin=since) == _list(theirs, timeMin=since)
    token = _list(ours, timeMin=since)[-1]["_sync"]
    edits = busy_edits(calendar, 0, NOW)
    for fake in (ours, theirs):
        for event in edits:
            fake.put_event(google_event(event))
    changed = _list(ours, syncToken=token)
    assert changed == _list(theirs, syncToken=token)
    assert {item["id"] for item in changed[:-1]} == {e.key for e in edits}


def test_bench_graph_delta_and_calendar_view() -> None:
    calendar = build_calendar(100, NOW)
    fake = BenchGraph()
    fake.start()
    try:
        _check_graph(fake, calendar.events)
    finally:
        fake.stop()


def _check_graph(fake: BenchGraph, events: tuple[Event, ...]) -> None:
    fake.put_events(graph_event(e) for e in events)
    headers = {"authorization": "Bearer test-token", "prefer": "odata.maxpagesize=1000"}
    start, end = "2025-01-01T00:00:00Z", "2028-01-01T00:00:00Z"
    status, body, _ = fake.handle(
        "GET", f"/v1.0/me/calendarView/delta?startDateTime={start}&endDateTime={end}",
        headers, None)
    assert status == 200 and body is not None
    in_window = sum(1 for e in events if e.start.year >= 2025)
    assert len(body["value"]) == in_window
    delta = body["@odata.deltaLink"].split("/v1.0", 1)[1]
    fake.put_events(graph_event(e) for e in events[:3])
    status, body, _ = fake.handle("GET", "/v1.0" + delta, headers, None)
    assert body is not None and len(body["value"]) == 3
    seen: list[str] = []
    url: str | None = f"/v1.0/me/calendarView?startDateTime={start}&endDateTime={end}&$top=30"
    while url:
        status, body, _ = fake.handle("GET", url, headers, None)
        assert status == 200 and body is not None
        seen += [item["id"] for item in body["value"]]
        link = body.get("@odata.nextLink")
        url = "/v1.0" + link.split("/v1.0", 1)[1] if link else None
    assert len(seen) == len(set(seen)) == in_window


def test_bytes_written_is_zero_only_when_the_file_was_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    before = file_state(path)
    assert bytes_written(before, file_state(path)) == 0
    replacement = tmp_path / "new.json"
    replacement.write_text("{}")
    replacement.replace(path)
    assert bytes_written(before, file_state(path)) == 2


def test_naive_tagging_and_stamps() -> None:
    assert naive.is_tagged({"summary": "Coffee chat with Ana"})
    assert naive.is_tagged({"subject": "x", "body": {"content": "<div>#infointerview</div>"}})
    assert not naive.is_tagged({"summary": "Weekly team sync", "description": "notes"})
    assert naive.stamp({"etag": '"7"'}) == '"7"'
    assert naive.stamp({"changeKey": "abc"}) == "abc"


def _scenario(phase: str, tool: str, kind: str, n: int, **median: float) -> dict[str, Any]:
    samples = [dict(median)]
    return {"scenario": phase, "tool": tool, "connector": kind, "events": n, "tagged": 1,
            "median": dict(median), "samples": samples}


@pytest.mark.parametrize(("idle_big", "status"), [(1.2, "met"), (1.4, "missed")])
def test_targets_compare_idle_wall_at_50000_with_1000(idle_big: float, status: str) -> None:
    idle = {"requests": 1, "calendar_requests": 1, "state_bytes_written": 0}
    scenarios = [_scenario("idle", "coffeechat", "google", 1000, wall_s=1.0, **idle),
                 _scenario("idle", "coffeechat", "google", 50000, wall_s=idle_big, **idle)]
    targets = {t["target"]: t for t in evaluate(scenarios)}
    assert targets["Idle wall at 50,000 events within 1.3x of 1,000, Google (fake)"][
        "status"] == status
    assert targets["Idle cycle, Google (fake): 1 calendar request per account, 0 bytes "
                   "written to the state file"]["status"] == "met"


def test_targets_flag_a_state_write_in_an_idle_cycle() -> None:
    scenarios = [_scenario("idle", "coffeechat", "outlook", 1000, wall_s=1.0, requests=1,
                           calendar_requests=1, state_bytes_written=5000)]
    (idle,) = [t for t in evaluate(scenarios) if t["target"].startswith("Idle cycle")]
    assert idle["status"] == "missed"


def test_every_file_idle_is_shown_beside_the_idle_cycle_and_not_taken_for_it() -> None:
    quiet = {"files_read": 0, "state_bytes_written": 0}
    scenarios = [_scenario("idle", "coffeechat", "local", 1000, wall_s=0.5, **quiet),
                 _scenario("idle_every_file", "coffeechat", "local", 1000, wall_s=0.6, **quiet),
                 _scenario("idle", "coffeechat", "local", 50000, wall_s=0.6, **quiet),
                 _scenario("idle_every_file", "coffeechat", "local", 50000, wall_s=2.0,
                           **quiet)]
    assert every_file_table(scenarios).splitlines()[2:] == [
        "| 1,000 | 0.50 | 0.60 | 0 | 0 |", "| 50,000 | 0.60 | 2.00 | 0 | 0 |"]
    targets = {t["target"]: t for t in evaluate(scenarios)}
    ratio = targets["Idle wall at 50,000 events within 1.3x of 1,000, local vdir"]
    assert (ratio["value"], ratio["status"]) == ("0.60 s / 0.50 s = 1.20x", "met")


def test_a_series_is_one_contact_hourly_and_live() -> None:
    inputs = series_inputs(100, NOW)
    starts = [iv.meeting.start for iv in inputs.interviews]
    assert len(starts) == 100 == len({iv.meeting.uid for iv in inputs.interviews})
    assert {iv.contacts for iv in inputs.interviews} == {(SERIES_CONTACT,)}
    assert starts[0] == NOW.replace(minute=0) - timedelta(days=3)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    settled = NOW - timedelta(days=30 + SETTLED_MARGIN_DAYS)
    assert all(iv.meeting.end > settled for iv in inputs.interviews)
    (made,) = inputs.drafts.values()
    assert (made.kind, made.observed) == ("thank_you", "gone")


def test_a_stored_state_holds_the_meetings_described(tmp_path: Path) -> None:
    meetings, records = write_state(tmp_path / "w", contacts_inputs(300, 100, NOW), NOW)
    assert 290 <= meetings <= 300
    load(tmp_path / "w" / "config.toml")
    store = Store(tmp_path / "w" / "state.json")
    stored = store.interviews(settled=True)
    assert len(stored) == meetings and len(store.drafts(settled=True)) == records > 0
    assert sum(1 for iv in stored if iv.contacts == (SERIES_CONTACT,)) == 100
    # As a cycle leaves it: what settled is out of the state, and the plan is the same.
    assert len(store.interviews()) < meetings
    assert (tmp_path / "w" / "state.settled.json").exists()
    assert plan(store.interviews(), store.prefs(), store.drafts(), NOW, Cadence(), ZONE) == \
        plan(stored, store.prefs(), store.drafts(settled=True), NOW, Cadence(), ZONE)


def test_bounded_series_are_daily_half_past_and_made_for(tmp_path: Path) -> None:
    inputs = series_inputs_bounded(6_000, NOW)
    series = [iv for iv in inputs.interviews if iv.meeting.uid.startswith("daily-")]
    others = len(inputs.interviews) - len(series)
    assert len(series) == (6_000 - others) // BOUNDED_SERIES * BOUNDED_SERIES == 4_000
    past = [iv for iv in series if iv.meeting.end < NOW]
    assert abs(len(past) - len(series) / 2) <= 4
    assert {iv.contacts[0].email for iv in series} == {
        "mentor0@guild.example.org", "mentor1@guild.example.org"}
    made = {r.meeting_uid for r in inputs.drafts.values() if r.kind == "thank_you"}
    assert {iv.meeting.uid for iv in past if iv.meeting.end + timedelta(hours=1) < NOW} <= made


def _timed(phase: str, wall: float, **fields: Any) -> dict[str, Any]:
    return {"scenario": phase, "tool": "coffeechat", "runs": 1, **fields,
            "median": {"wall_s": wall, "peak_rss_mb": 90.0}, "samples": [{"wall_s": wall}]}


@pytest.mark.parametrize(("long_series_s", "status"), [(0.14, "met"), (0.4, "missed")])
def test_series_linearity_is_the_time_per_occurrence(long_series_s: float, status: str) -> None:
    scenarios = [_timed("series_planner", 0.002, occurrences=70),
                 _timed("series_planner", long_series_s, occurrences=7000)]
    assert series_table(scenarios).splitlines()[2:] == [
        "| 70 | 2.0 | 29 |", f"| 7,000 | {long_series_s * 1000:.1f} "
                            f"| {long_series_s / 7000 * 1e6:.0f} |"]
    (linear,) = [t for t in evaluate(scenarios)
                 if t["target"].startswith("Planner linear in one")]
    assert linear["status"] == status


def test_plan_and_status_at_25000_are_held_to_a_second() -> None:
    stored = {"shape": "contacts", "series": 7000, "records": 30000, "state_bytes": 38e6,
              "settled_bytes": 12e6}
    scenarios = [_timed("help", 0.2), _timed("plan", 0.8, meetings=25000, **stored),
                 _timed("status", 1.2, meetings=25000, **stored)]
    assert stored_table(scenarios).splitlines()[2] == (
        "| contacts, one 7,000-occurrence series | 25,000 | 30,000 | 36.2 MB (11.4 MB) "
        "| 0.80 (4.0x) | 1.20 (6.0x) | 90 |")
    targets = {t["target"]: t["status"] for t in evaluate(scenarios)}
    assert targets["`coffeechat plan` on 25,000 stored meetings (contacts) under 1 s"] == "met"
    assert targets["`coffeechat status` on 25,000 stored meetings (contacts) under 1 s"] == \
        "missed"
    assert targets["`coffeechat plan` on 25,000 stored meetings (series) under 1 s"] == \
        "not measured"
