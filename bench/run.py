"""``python -m bench.run``: the benchmark of issue 7 (``make bench``).

For each connector (fake Google, fake Graph, local vdir) and each calendar size it builds a
world (:mod:`bench.worlds`), then measures, each as a whole process, with medians over runs:

1. the naive poller's first sync and idle cycle (:mod:`bench.naive`, Google and Graph only);
2. ``coffeechat run --once`` from an empty state (first sync);
3. ``coffeechat run --once`` with nothing changed (idle);
4. ``coffeechat run --once`` after 1% of the events changed (busy).

Then the planner alone (:mod:`bench.planning`), real series (:mod:`bench.history`: the planner
over one contact's long series, ``coffeechat plan`` and ``status`` over a large stored state)
and ``coffeechat --help``. It prints markdown tables and writes the figures to
``bench/results.json``. Progress goes to stderr. ``--only`` measures some groups alone.
"""

from __future__ import annotations

import compileall
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import caldav, imap, precheck, rest, startup
from bench import state as state_bench
from bench.events import build_calendar, busy_edits
from bench.figures import default_page
from bench.history import (
    contacts_inputs,
    series_inputs_bounded,
    time_series,
    write_state,
)
from bench.measure import (
    ChildRun,
    Spawner,
    bytes_written,
    environment,
    file_state,
    folder_states,
    median,
    side_bytes_written,
)
from bench.planning import time_planner
from bench.report import machine, markdown
from bench.settings import COFFEECHAT, DEFAULT_PAGES_UP_TO, HERE, Settings, parse
from bench.targets import evaluate
from bench.worlds import LocalWorld, World, make_world

JSON = dict[str, Any]
def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


# --- one world -------------------------------------------------------------------------------


class Bench:
    """Runs the measured commands for the worlds, one at a time."""

    def __init__(self, settings: Settings, spawner: Spawner, scratch: Path) -> None:
        self.settings = settings
        self.spawner = spawner
        self.scratch = scratch
        self.home = scratch / "home"
        self.env = environment(self.home)
        self.scenarios: list[JSON] = []

    def _coffeechat(self, world: World, *args: str, config: Path | None = None) -> ChildRun:
        argv = [str(COFFEECHAT), "--config", str(config or world.config), *args]
        return self.spawner.run(argv, cwd=world.root, env=self.env)

    def world(self, kind: str, n: int) -> None:
        """Measure every scenario of ``kind`` at ``n`` events."""
        started = time.perf_counter()
        calendar = build_calendar(n, datetime.now(UTC))
        world = make_world(kind, calendar, self.scratch / f"{kind}-{n}")
        gc.collect()
        gc.freeze()
        log(f"{kind} {n:,}: world built in {time.perf_counter() - started:.1f} s")
        base = {"connector": kind, "events": n, "tagged": calendar.tagged,
                "contacts": len(calendar.contacts)}
        try:
            runs = self.settings.runs_for(kind, n)
            if world.naive_argv(world.root / "naive.json") is not None:
                self._naive(world, base, runs)
            self._first_syncs(world, base, runs)
            self._repeat(world, base, "idle", self.settings.idle_runs, lambda r: None)
            if isinstance(world, LocalWorld):
                self._every_file(world, base)
            self._repeat(world, base, "busy", self.settings.busy_runs,
                         lambda r: world.apply(busy_edits(calendar, r, datetime.now(UTC))))
        finally:
            gc.unfreeze()
            world.close()
        log(f"{kind} {n:,}: done in {time.perf_counter() - started:.1f} s")

    def _naive(self, world: World, base: JSON, runs: int) -> None:
        """The naive poller's first sync and idle cycles with the largest pages its API
        allows; then, up to :data:`DEFAULT_PAGES_UP_TO` events, idle cycles with the API's
        default page size (what a poller that sets none makes)."""
        phases: list[tuple[str, str]] = [("first_sync", "largest"), ("idle", "largest")]
        if int(base["events"]) <= DEFAULT_PAGES_UP_TO:
            phases.append(("idle", "default"))
        seen = world.root / "naive.json"
        for phase, pages in phases:
            samples = []
            for _ in range(runs):
                if phase == "first_sync":
                    seen.unlink(missing_ok=True)
                argv = world.naive_argv(seen, default_page(world.kind) if pages == "default"
                                        else None)
                assert argv is not None
                world.forget()
                done = self.spawner.run(argv, cwd=world.root, env=self.env)
                _check(done, "the naive poller")
                counts = world.counts()
                listed = re.match(r"(\d+) events listed", done.stdout)
                samples.append({"wall_s": done.wall_s, "peak_rss_mb": done.max_rss_mb,
                                "server_cpu_s": done.server_cpu_s, "requests": counts.requests,
                                "calendar_requests": counts.calendar_requests,
                                "listed": int(listed.group(1)) if listed else 0})
            self._add({**base, "pages": pages}, phase, "naive", samples)

    def _first_syncs(self, world: World, base: JSON, runs: int) -> None:
        samples = []
        for _ in range(runs):
            for leftover in world.root.glob("state*.json*"):  # with the part folders
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
            world.clear_drafts()
            world.forget()
            done = self._coffeechat(world, "run", "--once")
            _check(done, "coffeechat run --once (first sync)")
            counts = world.counts()
            samples.append({"wall_s": done.wall_s, "peak_rss_mb": done.max_rss_mb,
                            "server_cpu_s": done.server_cpu_s, "requests": counts.requests,
                            "calendar_requests": counts.calendar_requests,
                            "drafts_made": counts.drafts,
                            "state_bytes": file_state(world.state).size,
                            "changes": _changes(done.stdout)})
        self._add(base, "first_sync", "coffeechat", samples)

    def _every_file(self, world: LocalWorld, base: JSON) -> None:
        """Idle cycles of a local account that compares every file each cycle (what the
        hourly full check costs), after one unmeasured cycle that rewrites the cursor for
        that setting."""
        _check(self._coffeechat(world, "run", "--once", config=world.every_file_config),
               "coffeechat run --once (every file compared, first)")
        self._repeat(world, base, "idle_every_file", self.settings.idle_runs, lambda r: None,
                     config=world.every_file_config)

    def _repeat(self, world: World, base: JSON, phase: str, runs: int,
                before: Callable[[int], None], config: Path | None = None) -> None:
        samples = []
        for r in range(runs):
            before(r)
            world.forget()
            drafts = world.counts().drafts
            state = file_state(world.state)
            others = folder_states(world.root, {world.state})
            if isinstance(world, LocalWorld):
                world.mark_unread()
            done = self._coffeechat(world, "run", "--once", config=config)
            _check(done, f"coffeechat run --once ({phase})")
            counts = world.counts()
            after = file_state(world.state)
            sample: JSON = {
                "wall_s": done.wall_s, "peak_rss_mb": done.max_rss_mb,
                "server_cpu_s": done.server_cpu_s, "requests": counts.requests,
                "calendar_requests": counts.calendar_requests,
                "drafts_made": counts.drafts - drafts, "state_bytes": after.size,
                "state_bytes_written": bytes_written(state, after),
                "other_files_written": side_bytes_written(
                    others, folder_states(world.root, {world.state})),
                "changes": _changes(done.stdout)}
            if isinstance(world, LocalWorld):
                sample["files_read"] = world.files_read()
            samples.append(sample)
        self._add(base, phase, "coffeechat", samples)

    def _add(self, base: JSON, phase: str, tool: str, samples: list[JSON]) -> None:
        numbers = {key for s in samples for key, v in s.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}
        item = {"scenario": phase, "tool": tool, **base, "runs": len(samples),
                "median": {k: median([float(s[k]) for s in samples]) for k in sorted(numbers)},
                "samples": samples}
        self.scenarios.append(item)
        m = item["median"]
        log(f"  {tool} {phase}: {m['wall_s']:.2f} s, {m.get('requests', 0):.0f} requests, "
            f"{m.get('peak_rss_mb', 0):.0f} MB" + (f", {m['drafts_made']:.0f} drafts"
                                                   if "drafts_made" in m else ""))

    def help(self) -> None:
        """Time ``coffeechat --help``."""
        times = []
        for _ in range(self.settings.help_runs):
            done = self.spawner.run([str(COFFEECHAT), "--help"], cwd=self.scratch, env=self.env)
            _check(done, "coffeechat --help")
            times.append(done.wall_s)
        self.scenarios.append({"scenario": "help", "tool": "coffeechat",
                               "runs": len(times), "median": {"wall_s": median(times)},
                               "samples": [{"wall_s": t} for t in times]})
        log(f"coffeechat --help: {median(times):.3f} s")

    def planner(self) -> None:
        """Time the planner alone."""
        for contacts in self.settings.planner_contacts:
            timing = time_planner(contacts, self.settings.planner_runs)
            self.scenarios.append({
                "scenario": "planner", "tool": "coffeechat", "contacts": contacts,
                "meetings": timing.meetings, "records": timing.records, "runs": timing.runs,
                "median": {"wall_s": timing.median_s},
                "plan": {"due": timing.due, "upcoming": timing.upcoming,
                         "skipped": timing.skipped}})
            log(f"planner, {contacts:,} contacts: {timing.median_s * 1000:.1f} ms")


    def history(self) -> None:
        """Time the planner over one contact's series of each length, then ``coffeechat plan``
        and ``status`` as processes over each stored state (:mod:`bench.history`)."""
        for n in self.settings.series_sizes:
            timing = time_series(n, self.settings.planner_runs)
            self.scenarios.append({
                "scenario": "series_planner", "tool": "coffeechat", "occurrences": n,
                "runs": timing.runs, "median": {"wall_s": timing.median_s},
                "plan": {"due": timing.due, "upcoming": timing.upcoming,
                         "skipped": timing.skipped}})
            log(f"planner, one contact's series of {n:,}: {timing.median_s * 1000:.1f} ms")
        for shape, meetings, series in self.settings.stored:
            root = self.scratch / f"stored-{shape}-{meetings}"
            now = datetime.now(UTC)
            inputs = (contacts_inputs(meetings, series, now) if shape == "contacts"
                      else series_inputs_bounded(meetings, now))
            stored, records = write_state(root, inputs, now)
            base = {"shape": shape, "meetings": stored, "series": series, "records": records,
                    "state_bytes": (root / "state.json").stat().st_size,
                    "settled_bytes": (root / "state.settled.json").stat().st_size}
            for command in ("plan", "status"):
                samples = []
                for _ in range(self.settings.stored_runs):
                    done = self.spawner.run([str(COFFEECHAT), "--config",
                                             str(root / "config.toml"), command],
                                            cwd=root, env=self.env)
                    _check(done, f"coffeechat {command}")
                    samples.append({"wall_s": done.wall_s, "peak_rss_mb": done.max_rss_mb,
                                    "output_lines": done.stdout.count("\n")})
                self._add(base, command, "coffeechat", samples)
            shutil.rmtree(root, ignore_errors=True)


def _changes(stdout: str) -> int:
    found = re.search(r": (\d+) change\(s\)", stdout)
    return int(found.group(1)) if found else -1


def _check(done: ChildRun, what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{what} exited with status {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


# --- the whole run ---------------------------------------------------------------------------


def run(settings: Settings) -> JSON:
    """Measure everything ``settings`` asks for; returns the result (also written to
    ``settings.output``). Raises ``RuntimeError`` when a measured command fails."""
    started = time.perf_counter()
    info = machine()
    spawner = Spawner()
    scratch = Path(tempfile.mkdtemp(prefix="coffeechat-bench-"))
    try:
        bench = Bench(settings, spawner, scratch)
        if "help" in settings.groups:
            bench.help()
        if "planner" in settings.groups:
            bench.planner()
        if "history" in settings.groups:
            bench.history()
        if "state" in settings.groups:  # issue 18 item 4 (bench/state.py)
            bench.scenarios.extend(state_bench.scenarios(scratch))
        for kind in settings.kinds if "connectors" in settings.groups else ():
            for n in settings.sizes.get(kind, ()):
                bench.world(kind, n)
        if "rest" in settings.groups:
            bench.scenarios.extend(rest.measure(scratch))
        if "caldav" in settings.groups:
            bench.scenarios += caldav.measure(settings.sizes.get("caldav", caldav.SIZES),
                                              settings.first_runs, settings.idle_runs, log)
        if "imap" in settings.groups:
            bench.scenarios += imap.measure(settings.sizes.get("imap", imap.SIZES),
                                            settings.idle_runs, log)
        if "precheck" in settings.groups:
            bench.scenarios.extend(precheck.measure(scratch))
        if "startup" in settings.groups:
            bench.scenarios.extend(startup.measure(scratch))
    finally:
        spawner.close()
        shutil.rmtree(scratch, ignore_errors=True)
    scenarios = bench.scenarios
    result: JSON = {
        "machine": info,
        "settings": {"kinds": list(settings.kinds),
                     "sizes": {k: list(v) for k, v in settings.sizes.items()},
                     "runs_note": settings.note(),
                     "peak_rss": "ru_maxrss of each child from os.wait4, children forked by a "
                                 "small spawner process (bench/spawner.py)",
                     "elapsed_s": round(time.perf_counter() - started, 1)},
        "scenarios": scenarios,
        "targets": evaluate(scenarios),
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    settings.output.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n",
                               "utf-8")
    return result


def compiled() -> None:
    """Compile coffeechat's own modules to bytecode first, as installing it does (pip, pipx):
    in the editable install ``make bench`` makes, each process would otherwise compile them
    again whenever ``PYTHONDONTWRITEBYTECODE`` is set, a cost no installed copy pays."""
    root = HERE.parent
    for package in ("daemon", "connectors"):
        compileall.compile_dir(root / package, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the markdown report; returns the exit status."""
    settings = parse(sys.argv[1:] if argv is None else argv)
    if not COFFEECHAT.exists():
        log(f"{COFFEECHAT} is missing: install coffeechat in this environment first "
            "(make bench does)")
        return 2
    compiled()
    result = run(settings)
    print(markdown(result))
    print(rest.markdown(result["scenarios"]))
    print(caldav.section(result["scenarios"]))
    print(imap.section(result["scenarios"]))
    print(precheck.markdown(result["scenarios"]))
    print(startup.markdown(result["scenarios"]))
    log(f"results written to {settings.output} in {result['settings']['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
