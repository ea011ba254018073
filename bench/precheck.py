"""A local first sync with and without the pre-check on raw text (issue 18, item 5), beside
reading the bytes alone, in the same run.

A vdir of :data:`FILES` files (:mod:`bench.events`: single events, 5% tagged; the local
world of :mod:`bench.worlds`), read in process as a cycle's first sync reads it
(``daemon.cycle.run._read``: the connector's listing, each meeting tagged as it arrives):

- ``without``: every file read in full (as before issue 18, and as a full read after a change
  of ``[tagging]`` still does);
- ``with``: the core gives the rules, as on an account's first sync, so only the files whose
  text could hold a tagged event are read in full;
- ``bytes``: every file's bytes read, and nothing else: the floor.

The page cache is warmed first, so each reads from memory. The tagged meetings must be the
same both ways (the run fails otherwise). Target: ``with`` at least 3x faster than
``without``. ``python -m bench.run --only precheck`` runs it alone.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
FILES = 10_000
TARGET_RATIO = 3.0


def log(message: str) -> None:
    """Progress, to stderr."""
    print(message, file=sys.stderr, flush=True)


def measure(scratch: Path, files: int = FILES) -> list[JSON]:
    """The three figures as one bench scenario (also logged)."""
    from bench.events import build_calendar
    from bench.worlds import LocalWorld
    from connectors.base import ConnectorEnv, open_account
    from daemon.core.model import Interview
    from daemon.cycle.run import _read
    from daemon.settings.config import load

    now = datetime.now(UTC)
    world = LocalWorld(build_calendar(files, now), scratch / "precheck")
    try:
        settings = load(world.config)
        configured = settings.accounts[0]
        env = ConnectorEnv(timezone=settings.timezone, clock=lambda: now,
                           data_dir=scratch / "precheck-data")
        paths = sorted(world.vdir.glob("*.ics"))

        def read_bytes() -> float:
            started = time.perf_counter()
            for path in paths:
                path.read_bytes()
            return time.perf_counter() - started

        def first_sync(first: bool) -> tuple[float, set[str]]:
            account = open_account(configured.name, configured.kind, configured.options, env)
            started = time.perf_counter()
            read, _ = _read(settings, account, None, first)
            seconds = time.perf_counter() - started
            return seconds, {i.meeting.uid for i in read if isinstance(i, Interview)}

        read_bytes()  # warm the page cache
        bytes_s = read_bytes()
        without_s, tagged_without = first_sync(False)
        with_s, tagged_with = first_sync(True)
        if tagged_with != tagged_without:
            raise RuntimeError(f"the pre-check changed the tagged meetings: "
                               f"{len(tagged_with)} with it, {len(tagged_without)} without")
    finally:
        world.close()
    ratio = without_s / with_s
    scenario: JSON = {
        "scenario": "local_first_sync_precheck", "tool": "coffeechat", "files": files,
        "tagged_meetings": len(tagged_with),
        "median": {"without_s": round(without_s, 3), "with_s": round(with_s, 3),
                   "bytes_s": round(bytes_s, 3)},
        "ratio_without_to_with": round(ratio, 2),
        "with_over_bytes": round(with_s / bytes_s, 2),
        "target": f"with the pre-check >= {TARGET_RATIO:g}x faster than without",
        "met": ratio >= TARGET_RATIO}
    log(f"local first sync of {files:,} files: {without_s:.2f} s without the pre-check, "
        f"{with_s:.2f} s with it ({ratio:.1f}x), reading the bytes alone {bytes_s:.2f} s; "
        f"{len(tagged_with)} tagged meetings both ways")
    return [scenario]


def markdown(scenarios: list[JSON]) -> str:
    """The figures as markdown (empty when not measured)."""
    lines: list[str] = []
    for s in (s for s in scenarios if s["scenario"] == "local_first_sync_precheck"):
        m = s["median"]
        lines += ["| local first sync | files | without the pre-check | with it | ratio | "
                  "reading the bytes alone |", "|---|---|---|---|---|---|",
                  f"| vdir | {s['files']:,} | {m['without_s']} s | {m['with_s']} s | "
                  f"{s['ratio_without_to_with']}x | {m['bytes_s']} s |", ""]
    return "\n".join(lines)
