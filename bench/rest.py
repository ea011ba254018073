"""Cost at rest (issue 18, items 1, 2 and 6): what the service costs between cycles and per
idle cycle, measured in process, beside the way it worked before, in the same run.

- **Wake-ups per idle day** (:func:`wakeups_per_idle_day`): the service's real loop
  (:class:`daemon.app.service.Service`, its cycle replaced by a counter) through one simulated
  day: the sleeper it is given moves a fake clock on by each wait and counts the wait as one
  wake-up, with systemd's watchdog asking for a ping every 150 s (``WatchdogSec=300``, as the
  unit has it). Beside it, the loop before issue 18 woke once a second: 86,400 a day. The CPU
  of one real wake-up (the loop's checks and a ``select`` on the wake-up pipe) is timed too, so
  the day's CPU at rest is the wake-ups times that.
- **The in-process idle cycle, per connector** (:func:`measure`): a world of
  :data:`EVENTS` events (:mod:`bench.worlds`), then, in a child process of its own, the
  service's cycle (``Service._cycle``, watchdog pings included) run :data:`CYCLES` times with
  the accounts kept open (as ``coffeechat run`` now does), then :data:`FRESH_CYCLES` times with
  a fresh account per cycle (as every cycle did before), in blocks alternating with as many
  kept cycles (``kept_beside``: the comparison, under the same load). Each figure is the
  median of the cycles after the first sync and :data:`SETTLE_SECONDS` (wall and CPU time;
  the wall time of Google and Outlook includes the fake server's, which runs in the parent
  process). Nothing changes in the calendar, so every one is idle.
- **RSS over 600 idle cycles, per connector**: the child's resident memory after the first
  sync and :data:`WARM_CYCLES` idle cycles, and after :data:`CYCLES`; the target is that it
  stays within 5 MB. The garbage collector is left alone (what it leaves is what a user's
  service holds).

``python -m bench.run --only rest`` runs these alone. Targets: at most 1,000 wake-ups a day;
an idle Google cycle (fake) of at most 20 ms; RSS flat within 5 MB over 600 cycles.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
HERE = Path(__file__).parent
EVENTS = 1_000
"""Events in each connector's calendar (an idle cycle's cost does not depend on it)."""
CYCLES = 600
"""Idle cycles with the accounts kept open, after the first sync (RSS is read at the end)."""
WARM_CYCLES = 10
"""Idle cycles after the first sync before the RSS taken as the start."""
FRESH_CYCLES = 60
"""Idle cycles with a fresh account each (the way before issue 18), in blocks of
:data:`BLOCK` alternating with as many with the accounts kept."""
BLOCK = 10
SETTLE_SECONDS = 2.5
"""Waited after the first sync, past the 2 s within which a changed folder is listed again."""
WATCHDOG_SECONDS = 150.0
"""The ping interval systemd asks for with the unit's ``WatchdogSec=300``."""
DAY_SECONDS = 86_400.0
OLD_WAKEUPS_PER_DAY = 86_400
"""The loop before issue 18 waited at most a second at a time."""
TARGET_WAKEUPS = 1_000
TARGET_GOOGLE_IDLE_MS = 20.0
TARGET_RSS_MB = 5.0
KINDS = ("google", "outlook", "local")


def log(message: str) -> None:
    """Progress, to stderr."""
    print(message, file=sys.stderr, flush=True)


# --- wake-ups ------------------------------------------------------------------------------


def wakeups_per_idle_day(scratch: Path, ping_every: float | None = WATCHDOG_SECONDS) -> JSON:
    """Run the service's loop through one simulated idle day; count its wake-ups, cycles and
    watchdog pings, and time one real wake-up."""
    from freezegun import freeze_time

    from daemon.app.service import Service, Waker
    from daemon.settings.config import Settings, parse

    def settings() -> Settings:
        return parse({"me": {"name": "Sam", "emails": ["sam@example.com"], "timezone": "UTC"},
                      "state": {"path": str(scratch / "state.json")},
                      "service": {"poll_minutes": 5},
                      "accounts": [{"name": "a", "kind": "local", "calendar": "c",
                                    "drafts": "d"}]}, scratch / "config.toml")

    class Counted(Service):
        cycles = 0

        def _cycle(self) -> None:
            self.cycles += 1

    class Pings:
        pings = 0

        def watchdog(self) -> None:
            self.pings += 1

        def ready(self, status: str) -> None: ...

        def status(self, status: str) -> None: ...

        def stopping(self) -> None: ...

    now = [0.0]
    pings = Pings()
    with freeze_time("2026-11-20 09:00:00") as clock:
        service: Counted

        def sleeper(_waker: Waker, seconds: float) -> bool:
            if seconds <= 0:
                raise RuntimeError("the loop asked to wait for nothing: it would spin")
            now[0] += seconds
            clock.tick(timedelta(seconds=seconds))
            if now[0] >= DAY_SECONDS:
                service.stopping.set()
            return False

        service = Counted(settings(), settings, notifier=pings,  # type: ignore[arg-type]
                          monotonic=lambda: now[0], sleeper=sleeper,
                          watchdog=lambda: ping_every)
        service.run()
    per_wake_s = _one_wakeup_cpu(Service(settings(), settings, watchdog=lambda: ping_every))
    return {"scenario": "rest_wakeups", "tool": "coffeechat", "simulated_s": DAY_SECONDS,
            "watchdog_ping_s": ping_every, "wakeups": service.wakeups,
            "cycles": service.cycles, "pings": pings.pings,
            "wake_cpu_us": round(per_wake_s * 1e6, 2),
            "rest_cpu_s_per_day": round(service.wakeups * per_wake_s, 4),
            "reference": {"wakeups": OLD_WAKEUPS_PER_DAY,
                          "rest_cpu_s_per_day": round(OLD_WAKEUPS_PER_DAY * per_wake_s, 3),
                          "what": "the loop before issue 18: a wait of at most 1 s"},
            "target": f"<= {TARGET_WAKEUPS:,} wake-ups",
            "met": service.wakeups <= TARGET_WAKEUPS}


def _one_wakeup_cpu(service: Any, rounds: int = 2_000) -> float:
    """The CPU seconds of one pass of the loop between waits, with a real (zero) wait on the
    wake-up pipe: what each wake-up costs beyond the cycles."""
    service._schedule()
    started = time.process_time()
    for _ in range(rounds):
        service.scheduler.run_pending()
        service.wait_seconds()
        service.sleeper(service.wake, 0.0)
    return (time.process_time() - started) / rounds


# --- idle cycles in process ------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory now, in MB (``VmRSS``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class _Problems(logging.Handler):
    """Collects the warnings and errors the cycles log (a benchmark of failing cycles would
    measure nothing)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


def child(config: Path, cycles: int, warm: int, fresh_cycles: int) -> JSON:
    """In this process: the service's cycle ``cycles`` times with its accounts kept, then
    ``fresh_cycles`` times opening them afresh; times (ms, medians after the first sync) and
    RSS."""
    from connectors.base import open_account
    from daemon.app.service import Service
    from daemon.settings.config import load

    problems = _Problems()
    logging.getLogger().addHandler(problems)
    settings = load(config)
    service = Service(settings, lambda: settings, watchdog=lambda: WATCHDOG_SECONDS)

    def timed(n: int) -> tuple[list[float], list[float]]:
        walls, cpus = [], []
        for _ in range(n):
            wall, cpu = time.perf_counter(), time.process_time()
            service._cycle()
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            if problems.seen or service.pacer.failing():
                raise RuntimeError(f"a cycle failed: {problems.seen or service.pacer.failing()}")
        return walls, cpus

    first_wall, _ = timed(1)  # the first sync
    # Folders changed less than 2 s before they are listed are listed again (coarse file
    # system clocks: connectors.local.cursor, .maildir), so the cycles right after the first
    # sync do more than idle ones: let that pass before measuring.
    time.sleep(SETTLE_SECONDS)
    warm_wall, warm_cpu = timed(warm)
    rss_start = rss_mb()
    kept_wall, kept_cpu = timed(cycles - warm)
    rss_end = rss_mb()
    opened = service.accounts.opened
    kept_opener = service.opener
    # Then side by side, in alternating blocks (the machine's load moves meanwhile): the way
    # before, a fresh account for every cycle, and the accounts kept.
    fresh_wall, fresh_cpu, beside_wall, beside_cpu = [], [], [], []
    for block in range(0, fresh_cycles, BLOCK):
        n = min(BLOCK, fresh_cycles - block)
        service.opener = open_account
        wall, cpu = timed(n)
        fresh_wall += wall
        fresh_cpu += cpu
        service.opener = kept_opener
        wall, cpu = timed(n)
        beside_wall += wall
        beside_cpu += cpu
    rss_fresh = rss_mb()
    kept_all, kept_cpu_all = warm_wall + kept_wall, warm_cpu + kept_cpu
    return {"first_sync_ms": round(first_wall[0], 1),
            "kept": {"cycles": len(kept_all), "wall_ms": _med(kept_all),
                     "cpu_ms": _med(kept_cpu_all), "accounts_opened": opened},
            "kept_beside": {"cycles": len(beside_wall), "wall_ms": _med(beside_wall),
                            "cpu_ms": _med(beside_cpu)},
            "fresh": {"cycles": fresh_cycles, "wall_ms": _med(fresh_wall),
                      "cpu_ms": _med(fresh_cpu)},
            "rss_mb": {"after_warm_up": round(rss_start, 1), "after_all": round(rss_end, 1),
                       "growth": round(rss_end - rss_start, 1),
                       "after_fresh_cycles": round(rss_fresh, 1)},
            "drafts_made": service.drafts_made}


def _med(values: Sequence[float]) -> float:
    return round(statistics.median(values), 2)


def measure(scratch: Path, events: int = EVENTS, cycles: int = CYCLES,
            warm: int = WARM_CYCLES, fresh_cycles: int = FRESH_CYCLES,
            kinds: Sequence[str] = KINDS) -> list[JSON]:
    """Every figure of this module, as bench scenarios (also logged as they come)."""
    from bench.events import build_calendar
    from bench.measure import environment
    from bench.worlds import make_world

    scenarios = []
    day = scratch / "rest-day"
    day.mkdir(parents=True, exist_ok=True)
    woke = wakeups_per_idle_day(day)
    scenarios.append(woke)
    log(f"rest: {woke['wakeups']} wake-ups in a simulated idle day ({woke['cycles']} cycles, "
        f"{woke['pings']} watchdog pings; before: {OLD_WAKEUPS_PER_DAY:,}); one wake-up "
        f"{woke['wake_cpu_us']} us CPU")
    now = datetime.now(UTC)
    for kind in kinds:
        root = scratch / f"rest-{kind}"
        world = make_world(kind, build_calendar(events, now), root)
        try:
            env = environment(root / "home")
            env["PYTHONPATH"] = os.pathsep.join(
                [str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
            done = subprocess.run(
                [sys.executable, "-m", "bench.rest", "--child", str(world.config),
                 "--cycles", str(cycles), "--warm", str(warm), "--fresh", str(fresh_cycles)],
                cwd=root, env=env, capture_output=True, text=True, timeout=1800, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the {kind} idle cycles failed:\n{done.stderr[-3000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            world.close()
        kept, fresh, rss = figures["kept"], figures["fresh"], figures["rss_mb"]
        scenario: JSON = {"scenario": "rest_idle_cycle", "tool": "coffeechat", "kind": kind,
                          "events": events, **figures,
                          "ratio_fresh_to_kept": round(
                              fresh["wall_ms"] / figures["kept_beside"]["wall_ms"], 2),
                          "rss_target": f"growth within +-{TARGET_RSS_MB:g} MB over "
                                        f"{cycles} cycles",
                          "rss_met": abs(rss["growth"]) <= TARGET_RSS_MB}
        if kind == "google":
            scenario["target"] = f"idle cycle <= {TARGET_GOOGLE_IDLE_MS:g} ms"
            scenario["met"] = kept["wall_ms"] <= TARGET_GOOGLE_IDLE_MS
        scenarios.append(scenario)
        beside = figures["kept_beside"]
        log(f"rest, {kind}: idle cycle {kept['wall_ms']} ms ({kept['cpu_ms']} ms CPU) kept "
            f"over {kept['cycles']} cycles; side by side {beside['wall_ms']} ms kept, "
            f"{fresh['wall_ms']} ms ({fresh['cpu_ms']} ms CPU) fresh per cycle; RSS "
            f"{rss['after_warm_up']} -> {rss['after_all']} MB over {cycles} cycles "
            f"({rss['growth']:+} MB)")
    return scenarios


def markdown(scenarios: Sequence[JSON]) -> str:
    """The figures of :func:`measure` as markdown (empty when none were measured)."""
    lines: list[str] = []
    for woke in (s for s in scenarios if s["scenario"] == "rest_wakeups"):
        lines += ["### At rest", "",
                  "| loop | wake-ups per idle day | cycles | watchdog pings | CPU at rest "
                  "per day |", "|---|---|---|---|---|",
                  f"| sleeps until its next job | {woke['wakeups']:,} | {woke['cycles']} | "
                  f"{woke['pings']} | {woke['rest_cpu_s_per_day']} s |",
                  f"| before: wakes every second | {woke['reference']['wakeups']:,} | | | "
                  f"{woke['reference']['rest_cpu_s_per_day']} s |", ""]
    cycles = [s for s in scenarios if s["scenario"] == "rest_idle_cycle"]
    if cycles:
        lines += ["| connector | idle cycle, kept | CPU | side by side: kept | fresh account "
                  "per cycle | CPU | RSS after warm-up -> after all | growth |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in cycles:
            kept, fresh, rss = s["kept"], s["fresh"], s["rss_mb"]
            lines.append(f"| {s['kind']} | {kept['wall_ms']} ms | {kept['cpu_ms']} ms | "
                         f"{s['kept_beside']['wall_ms']} ms | "
                         f"{fresh['wall_ms']} ms | {fresh['cpu_ms']} ms | "
                         f"{rss['after_warm_up']} -> {rss['after_all']} MB "
                         f"({kept['cycles']} cycles) | {rss['growth']:+} MB |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.rest``: the measurements alone (``--child`` is the child's part)."""
    parser = argparse.ArgumentParser(prog="python -m bench.rest")
    parser.add_argument("--child", type=Path, help="(internal) the config to cycle on")
    parser.add_argument("--cycles", type=int, default=CYCLES)
    parser.add_argument("--warm", type=int, default=WARM_CYCLES)
    parser.add_argument("--fresh", type=int, default=FRESH_CYCLES)
    parser.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.cycles, args.warm, args.fresh)))
        return 0
    with tempfile.TemporaryDirectory(prefix="coffeechat-rest-") as scratch:
        scenarios = measure(Path(scratch), args.events, args.cycles, args.warm, args.fresh)
    print(markdown(scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
