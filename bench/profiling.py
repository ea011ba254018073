"""Where a cycle's time or memory goes: one coffeechat cycle in this process, profiled.

    python -m bench.profiling --kind google --events 50000 --phase idle
    python -m bench.profiling --kind outlook --events 50000 --phase first --memory
    python -m bench.profiling --kind local --events 10000 --phase idle --imports

The world is built as for the benchmark. For ``idle`` and ``busy`` a first sync is run first
(as a child process, unmeasured); then the asked phase runs in this process under cProfile
(only this thread: the fake server's thread is not profiled), or with ``--memory`` under
tracemalloc, which shows the Python allocations alive right after the calendar sync returned
and the peak of the whole cycle. ``--imports`` prints the slowest imports of
``coffeechat run --once`` (``python -X importtime``) instead.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.events import build_calendar, busy_edits
from bench.measure import environment
from bench.worlds import KINDS, World, make_world
from connectors.base import REGISTRY, Account, ConnectorEnv, open_account
from daemon.app.service import run_once
from daemon.core.model import JSON, Change, TaggingRules
from daemon.settings.config import Settings, load


class _Snapshotting:
    """A calendar that takes a tracemalloc snapshot when its sync returns."""

    def __init__(self, inner: Any, sink: list[tracemalloc.Snapshot]) -> None:
        self._inner = inner
        self._sink = sink

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        new_cursor: JSON = yield from self._inner.changes(cursor, only_tagged=only_tagged)
        self._sink.append(tracemalloc.take_snapshot())
        return new_cursor


def _run(argv: Sequence[str], world: World, env: Mapping[str, str]) -> str:
    done = subprocess.run(list(argv), cwd=world.root, env=dict(env), capture_output=True,
                          text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stderr


def prepare(kind: str, events: int, phase: str, scratch: Path) -> tuple[World, dict[str, str]]:
    """Build the world and bring it to just before ``phase``."""
    calendar = build_calendar(events, datetime.now(UTC))
    world = make_world(kind, calendar, scratch / "world")
    env = environment(scratch / "home")
    if phase in ("idle", "busy"):
        _run([sys.executable, "-m", "daemon", "--config", str(world.config), "run", "--once"],
             world, env)
    if phase == "busy":
        world.apply(busy_edits(calendar, 0, datetime.now(UTC)))
    return world, env


def _warm(world: World, env: Mapping[str, str]) -> Settings:
    """Load the config and import the account's connector, so that neither is profiled
    (``--imports`` shows what importing costs), and freeze what this process holds so far
    (the fake servers' calendars), so that garbage collection does not scan it: a
    coffeechat process does not hold those objects."""
    os.environ.update(env)
    settings = load(world.config)
    for account in settings.accounts:
        importlib.import_module(REGISTRY[account.kind].partition(":")[0])
    gc.collect()
    gc.freeze()  # the fake's events live in this process: keep the collector off them
    return settings


def profile_cycle(world: World, env: Mapping[str, str], top: int) -> str:
    """One cycle in this process under cProfile; returns the report."""
    settings = _warm(world, env)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    run_once(settings)
    profiler.disable()
    wall = time.perf_counter() - started
    out = io.StringIO()
    out.write(f"cycle in process: {wall:.3f} s (config loaded and connector imported "
              "beforehand)\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def memory_cycle(world: World, env: Mapping[str, str], top: int) -> str:
    """One cycle in this process under tracemalloc; returns the report."""
    settings = _warm(world, env)
    snapshots: list[tracemalloc.Snapshot] = []

    def opener(name: str, kind: str, options: Mapping[str, Any],
               connector_env: ConnectorEnv) -> Account:
        account = open_account(name, kind, options, connector_env)
        return Account(account.name, _Snapshotting(account.calendar, snapshots), account.drafts)

    tracemalloc.start(10)
    run_once(settings, opener=opener)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = io.StringIO()
    out.write(f"Python allocations: peak {peak / 2**20:.1f} MB during the cycle, "
              f"{current / 2**20:.1f} MB at its end\n")
    if snapshots:
        stats = snapshots[0].statistics("lineno")
        total = sum(s.size for s in stats)
        out.write(f"alive when the calendar sync returned: {total / 2**20:.1f} MB; "
                  f"the largest sites:\n")
        for stat in stats[:top]:
            frame = stat.traceback[0]
            out.write(f"  {stat.size / 2**20:8.1f} MB {stat.count:9,} blocks  "
                      f"{frame.filename}:{frame.lineno}\n")
    return out.getvalue()


def slowest_imports(world: World, env: Mapping[str, str], top: int) -> str:
    """The slowest imports (cumulative) of one ``coffeechat run --once``."""
    stderr = _run([sys.executable, "-X", "importtime", "-m", "daemon", "--config",
                   str(world.config), "run", "--once"], world, env)
    rows = []
    for line in stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return "cumulative import time (µs), slowest first\n" + "\n".join(
        f"{us:>9,}  {name}" for us, name in rows[:top])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, profile, print; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--phase", choices=("first", "idle", "busy"), default="idle")
    parser.add_argument("--memory", action="store_true", help="tracemalloc instead of cProfile")
    parser.add_argument("--imports", action="store_true", help="the slowest imports instead")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coffeechat-profile-") as folder:
        world, env = prepare(args.kind, args.events, args.phase, Path(folder))
        try:
            if args.imports:
                print(slowest_imports(world, env, args.top))
            elif args.memory:
                print(memory_cycle(world, env, args.top))
            else:
                print(profile_cycle(world, env, args.top))
        finally:
            world.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
