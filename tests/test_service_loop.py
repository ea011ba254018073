"""The service's schedule: jittered polling, and one catch-up cycle after a suspend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from daemon.app.service import JITTER, Service, Waker
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


class Pings:
    """A notifier that counts watchdog pings."""

    pings = 0

    def watchdog(self) -> None:
        self.pings += 1

    def ready(self, status: str) -> None: ...

    def status(self, status: str) -> None: ...

    def stopping(self) -> None: ...


def simulated_day(tmp_path: Path, ping_every: float | None) -> tuple[Counting, Pings]:
    """Run the real loop through one idle day of fake time: the sleeper moves the clocks on
    by each wait it is given, and stops the service once a day has passed."""
    day = 86_400.0
    now = [0.0]
    pings = Pings()
    with freeze_time("2026-11-20 09:00:00") as clock:
        service: Counting

        def sleeper(waker: Waker, seconds: float) -> bool:
            assert seconds > 0, "the loop never spins"
            now[0] += seconds
            clock.tick(dt.timedelta(seconds=seconds))
            if now[0] >= day:
                service.stopping.set()
            return False

        service = Counting(settings(tmp_path), lambda: settings(tmp_path),
                           notifier=pings,  # type: ignore[arg-type]
                           monotonic=lambda: now[0], sleeper=sleeper,
                           watchdog=lambda: ping_every)
        assert service.run() == 0
    return service, pings


def test_an_idle_day_wakes_once_per_cycle_and_per_watchdog_ping(tmp_path: Path) -> None:
    service, pings = simulated_day(tmp_path, 150.0)  # WatchdogSec=300, as the unit has it
    assert 86_400 / 330 <= service.cycles <= 86_400 / 270 + 2
    assert 86_400 / 150 <= pings.pings <= 86_400 / 150 + 2
    assert service.wakeups <= service.cycles + pings.pings + 2
    assert service.wakeups <= 1_000


def test_without_a_watchdog_the_loop_wakes_only_for_cycles(tmp_path: Path) -> None:
    service, pings = simulated_day(tmp_path, None)
    assert pings.pings == 0
    assert service.wakeups <= service.cycles + 2


def test_accounts_are_opened_once_while_their_options_stay_the_same(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from connectors.base import Account, ConnectorEnv
    from daemon.cycle.kept import KeptAccounts

    opened: list[str] = []

    def opener(name: str, kind: str, options: Any, env: ConnectorEnv) -> Account:
        opened.append(name)
        return Account(name=name, calendar=None, drafts=None)  # type: ignore[arg-type]

    env = ConnectorEnv(timezone=ZoneInfo("UTC"), clock=dt.datetime.now, data_dir=tmp_path)
    kept = KeptAccounts(opener)
    first = kept("a", "local", {"x": 1}, env)
    assert kept("a", "local", {"x": 1}, env) is first
    assert kept("a", "local", {"x": 2}, env) is not first
    kept.keep_only(set())
    kept("a", "local", {"x": 2}, env)
    assert opened == ["a", "a", "a"]
