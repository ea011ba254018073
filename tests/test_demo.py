"""The demo reads like a real week: its meetings are at plausible local times whatever the hour
it runs at, and one cycle still drafts every kind at once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.app.demo import build_workspace, demo_events
from daemon.app.service import cycle_once
from daemon.settings.config import load

RUNS = [
    # (zone, local start of the day to try, hours into it)
    ("Europe/Berlin", datetime(2026, 3, 28), (3, 9.75, 17.5, 23.9)),  # the night clocks go on
    ("America/New_York", datetime(2026, 11, 1), (0.5, 1.5, 12, 22)),  # the day clocks go back
    ("Asia/Kolkata", datetime(2026, 12, 3), (2, 8, 16)),
]
CASES = [(zone, day.replace(tzinfo=ZoneInfo(zone)) + timedelta(hours=h))
         for zone, day, hours in RUNS for h in hours]


@pytest.mark.parametrize(("zone", "now"), CASES, ids=[f"{z}-{n:%d%H%M}" for z, n in CASES])
def test_meetings_start_on_the_half_hour_in_the_working_day(zone: str, now: datetime) -> None:
    tz = ZoneInfo(zone)
    for event in demo_events(now, tz):
        local = event.start.astimezone(tz)
        assert time(8) <= local.time() <= time(17, 30), event.slug
        assert local.minute in (0, 30) and local.second == 0, event.slug


@pytest.mark.parametrize(("zone", "now"), CASES, ids=[f"{z}-{n:%d%H%M}" for z, n in CASES])
def test_one_cycle_drafts_every_kind_at_any_hour(tmp_path: Path, zone: str,
                                                  now: datetime) -> None:
    config = build_workspace(tmp_path, now, zone)
    report = cycle_once(load(config), clock=lambda: now.astimezone(UTC))
    made = sorted((r.kind, r.contact) for r in report.drafted)
    assert made == [("catch_up", "elena@example.io"),
                    ("confirmation", "priya.natarajan@example.org"),
                    ("follow_up", "dana.okafor@example.com"),
                    ("thank_you", "marcus.lee@example.net")]
    confirmation = next(r for r in report.drafted if r.kind == "confirmation")
    in_the_day = 8 <= now.astimezone(ZoneInfo(zone)).hour < 18
    assert "tagged late" not in confirmation.reason or not in_the_day
