"""What a ``python -m bench.run`` measures, and how many times (:class:`Settings`): the full
run, the smoke run (:data:`QUICK`), and the command line that picks from them (:func:`parse`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import caldav, imap
from bench.history import SERIES_SIZES
from bench.worlds import KINDS

HERE = Path(__file__).parent
DEFAULT_PAGES_UP_TO = 10_000
"""The naive poller also runs with default pages up to this size (Graph's default page holds
10 events: 5,000 requests a cycle at 50,000 would take most of the benchmark's budget)."""
COFFEECHAT = Path(sys.executable).with_name("coffeechat")
GROUPS = ("help", "planner", "history", "state", "connectors", "rest", "caldav", "imap",
          "precheck", "startup")
"""What a run can measure (``--only`` picks some): ``coffeechat --help``, the planner alone,
real series (:mod:`bench.history`), the cycles against each connector, and the cost at rest
(:mod:`bench.rest`)."""


@dataclass(frozen=True)
class Settings:
    """What to measure, and how many times."""

    kinds: tuple[str, ...] = KINDS
    sizes: dict[str, tuple[int, ...]] = field(default_factory=lambda: {
        "google": (1_000, 10_000, 50_000), "outlook": (1_000, 10_000, 50_000),
        "local": (1_000, 10_000, 50_000)})
    first_runs: int = 3
    """First syncs (and naive polls) per size up to ``large``."""
    first_runs_large: int = 1
    """First syncs (and naive polls) per size above ``large``."""
    large: dict[str, int] = field(default_factory=lambda: {
        "google": 10_000, "outlook": 10_000, "local": 1_000})
    """Per connector, the largest size measured ``first_runs`` times (a first sync of 10,000
    .ics files takes about a minute: once is all the budget allows)."""
    idle_runs: int = 5
    busy_runs: int = 3
    planner_contacts: tuple[int, ...] = (100, 1_000, 5_000)
    planner_runs: int = 7
    series_sizes: tuple[int, ...] = SERIES_SIZES
    """Lengths of one contact's series the planner is timed over."""
    stored: tuple[tuple[str, int, int], ...] = (
        ("contacts", 250, 70), ("contacts", 25_000, 7_000), ("series", 25_000, 0))
    """States ``plan`` and ``status`` run on: (shape, meetings stored, of which one contact's
    hourly series in the ``contacts`` shape; see :mod:`bench.history`)."""
    stored_runs: int = 5
    help_runs: int = 7
    groups: tuple[str, ...] = GROUPS
    output: Path = HERE / "results.json"

    def runs_for(self, kind: str, n: int) -> int:
        """How many first syncs (and naive polls of each kind) of ``kind`` at ``n`` events."""
        return self.first_runs if n <= self.large.get(kind, n) else self.first_runs_large

    def note(self) -> str:
        """How many runs each figure is the median of, in words."""
        limits = ", ".join(f"{kind} {n:,}" for kind, n in self.large.items())
        return (f"{self.first_runs} runs for first syncs and naive polls up to ({limits}) "
                f"events and {self.first_runs_large} above, {self.idle_runs} idle and "
                f"{self.busy_runs} busy cycles, {self.planner_runs} planner calls, "
                f"{self.stored_runs} `plan` and `status`, {self.help_runs} `--help`")


QUICK = Settings(sizes={"google": (300, 1_000), "outlook": (300, 1_000), "local": (300, 1_000),
                        "caldav": caldav.QUICK_SIZES, "imap": imap.QUICK_SIZES},
                 first_runs=1, first_runs_large=1, idle_runs=3, busy_runs=1,
                 planner_contacts=(100, 1_000), planner_runs=3, help_runs=3,
                 series_sizes=(70, 700),
                 stored=(("contacts", 250, 70), ("contacts", 2_500, 700), ("series", 2_500, 0)),
                 stored_runs=1,
                 output=Path(tempfile.gettempdir()) / "coffeechat-bench-quick.json")
"""The smoke run: under a minute; its JSON goes to the temporary folder, not the repository."""


def parse(argv: Sequence[str]) -> Settings:
    """Read the command line into :class:`Settings`. Exits with status 2 on a bad option."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=(
        "Benchmark coffeechat (issue 7): first sync, idle and busy cycles against the fake "
        "Google and Graph and a local vdir, a naive poller, the planner, real series "
        "(plan and status on a large state) and --help."))
    parser.add_argument("--quick", action="store_true",
                        help="a small smoke run (300 and 1,000 events, one run each; < 1 min)")
    parser.add_argument("--kinds", help="connectors to measure, e.g. google,local "
                        f"(default: {','.join(KINDS)})")
    parser.add_argument("--sizes", help="calendar sizes for every connector, e.g. 1000,10000")
    parser.add_argument("--runs", type=int, help="first syncs and naive polls per size")
    parser.add_argument("--idle-runs", type=int)
    parser.add_argument("--busy-runs", type=int)
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    parser.add_argument("--only", help="measure only these groups, e.g. history or "
                        f"help,planner (of {','.join(GROUPS)})")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    changes: dict[str, Any] = {}
    if args.kinds:
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            parser.error(f"unknown connector {unknown[0]!r}; use {', '.join(KINDS)}")
        changes["kinds"] = kinds
    if args.sizes:
        try:
            sizes = tuple(int(s) for s in args.sizes.split(","))
        except ValueError:
            parser.error("--sizes takes whole numbers separated by commas, e.g. 1000,10000")
        if min(sizes) < 20:
            parser.error("--sizes: a calendar needs at least 20 events")
        changes["sizes"] = dict.fromkeys(KINDS, sizes)
    if args.runs:
        changes.update(first_runs=args.runs, first_runs_large=args.runs)
    if args.idle_runs:
        changes["idle_runs"] = args.idle_runs
    if args.busy_runs:
        changes["busy_runs"] = args.busy_runs
    if args.output:
        changes["output"] = args.output
    if args.only:
        groups = tuple(g.strip() for g in args.only.split(",") if g.strip())
        unknown = [g for g in groups if g not in GROUPS]
        if unknown or not groups:
            parser.error(f"--only: unknown group {unknown[0] if unknown else args.only!r}; "
                         f"use {', '.join(GROUPS)}")
        changes["groups"] = groups
    return Settings(**{**settings.__dict__, **changes})
