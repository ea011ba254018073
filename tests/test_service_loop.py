"""The service's schedule: jittered polling, and one catch-up cycle after a suspend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from freezegun import freeze_time

from daemon.app.service import JITTER, Service
from daemon.settings.config import Settings, parse


def settings(tmp_path: Path) -> Settings:
    return parse({"me": {"name": "Sam", "emails": ["sam@example.com"], "timezone": "UTC"},
                  "state": {"path": str(tmp_path / "state.json")},
                  "service": {"poll_minutes": 5},
                  "accounts": [{"name": "a", "kind": "local", "calendar": "c",
                                "drafts": "d"}]}, tmp_path / "c.toml")


class Counting(Service):
    """The service with its cycle replaced by a counter (the loop logic is what is tested)."""

    cycles = 0

    def _cycle(self) -> None:
        self.cycles += 1


def test_a_wake_up_after_suspend_runs_one_catch_up_cycle_not_a_burst(tmp_path: Path) -> None:
    with freeze_time("2026-11-20 09:00:00") as clock:
        service = Counting(settings(tmp_path), lambda: settings(tmp_path))
        service._schedule()
        clock.tick(dt.timedelta(minutes=6))
        service.scheduler.run_pending()
        assert service.cycles == 1
        clock.tick(dt.timedelta(hours=9))  # the laptop slept all night: ~108 polls missed
        service.scheduler.run_pending()
        service.scheduler.run_pending()
        assert service.cycles == 2  # one catch-up cycle
        wait = service.scheduler.idle_seconds
        assert wait is not None
        assert 5 * 60 * (1 - JITTER) - 1 <= wait <= 5 * 60 * (1 + JITTER) + 1


def test_polls_are_spread_by_jitter(tmp_path: Path) -> None:
    waits = set()
    with freeze_time("2026-11-20 09:00:00") as clock:
        service = Counting(settings(tmp_path), lambda: settings(tmp_path))
        service._schedule()
        for _ in range(20):
            next_run = service.scheduler.next_run
            assert next_run is not None
            waits.add(round((next_run - dt.datetime.now()).total_seconds()))
            clock.move_to(next_run)
            service.scheduler.run_pending()
    assert service.cycles == 20
    assert len(waits) > 3
    assert all(270 <= w <= 330 for w in waits)
