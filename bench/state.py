"""State writes at scale (issue 18, item 4): what one draft's writes, opening the state and
holding it open cost at 1,000, 10,000 and 50,000 tagged meetings, with and without a local
account's cursor over a 10,000-file vdir.

The state is written as a running coffeechat leaves it (:func:`bench.history.write_state`, the
``contacts`` shape: many contacts with 1 to 3 meetings each, catch-ups made, settled history
moved out). Each figure is measured in a fresh child process (:data:`CHILD`), the median of
several:

- ``open_s``: ``Store(path, writable=True)``, as a cycle opens it (the daily backup is not
  due: it was kept when the state was written);
- ``open_rss_mb``: the RSS the open added (``/proc/self/statm``, before and after);
- ``read_s`` and ``read_rss_mb``: then reading every live meeting and draft record, as a cycle
  that plans does (not a target of the item: the planner's input);
- ``draft_s``: one draft's writes in total, as the executor makes them: the intent record,
  a flush, the made record, a flush (``draft_cpu_s``: the CPU time of it, the part that
  grows with the state; the rest is waiting for the disk's fsyncs);
- ``idle_flush_s``: a flush after a cycle that changed nothing but the cursor's time of
  listing (what a local cycle that lists the folder writes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.history import contacts_inputs, write_state
from bench.measure import median
from daemon.state.store import Store

JSON = dict[str, Any]
SIZES = (1_000, 10_000, 50_000)
VDIR_FILES = 10_000
"""The files of the local account's cursor in the ``vdir`` variant."""

CHILD = r"""
import json, sys, time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6

from daemon.core.model import DraftRecord, DraftRef
from daemon.state.store import Store
import daemon.state.codec, daemon.plan.planner  # imported by any cycle before the state opens
path, run = Path(sys.argv[1]), int(sys.argv[2])
before = rss_mb()
t = time.perf_counter()
store = Store(path, writable=True)
open_s = time.perf_counter() - t
open_rss = rss_mb() - before
t = time.perf_counter()
meetings, records = len(store.interviews()), len(store.drafts())
read_s = time.perf_counter() - t
read_rss = rss_mb() - before
now = datetime.now(UTC)
key = f"bench-run-{run}/confirmation/someone@example.org"
intent = DraftRecord(key=key, kind="confirmation", contact="someone@example.org",
                     account="bench", meeting_uid=f"bench-run-{run}", state="creating",
                     due=now, reason="bench", created_at=now, message_id="<m@bench>")
t, cpu = time.perf_counter(), time.process_time()
store.put_draft(intent)
store.flush()
store.put_draft(replace(intent, state="created", ref=DraftRef("d-" + key), observed_at=now))
store.flush()
draft_s, draft_cpu = time.perf_counter() - t, time.process_time() - cpu
cursor = store.cursor("bench")
t = time.perf_counter()
if cursor is not None:
    store.set_cursor("bench", {**cursor, "listed_at": now.isoformat()}, "tagging")
store.flush()
idle_s = time.perf_counter() - t
print(json.dumps({"open_s": open_s, "open_rss_mb": open_rss, "read_s": read_s,
                  "read_rss_mb": read_rss, "draft_s": draft_s, "draft_cpu_s": draft_cpu,
                  "idle_flush_s": idle_s,
                  "meetings": meetings, "records": records}))
"""


def vdir_cursor(files: int) -> JSON:
    """A cursor of the local connector's shape over ``files`` files: its header, and the file
    list as JSON text (as :meth:`connectors.local.cursor.SyncState.to_json` keeps it)."""
    rows = {f"{i:08x}-{'e' * 24}.ics": [1_764_000_000_000_000_000 + i * 1_000, 1_800 + i % 900,
                                        [f"{i:08x}-{'u' * 28}@bench.example.org"]]
            for i in range(files)}
    return {"version": 4, "timezone": "UTC", "window": ["2025-01-01", "2027-01-01"],
            "folder": {"device": 1, "inode": 2, "mtime_ns": 3, "ctime_ns": 4},
            "listed_at": datetime.now(UTC).isoformat(),
            "files": json.dumps(rows, separators=(",", ":"))}


def build(root: Path, meetings: int, vdir_files: int = 0) -> JSON:
    """Write the workspace and state of ``meetings`` tagged meetings in ``root`` (see the
    module's docstring), with a local cursor of ``vdir_files`` files if not 0; returns what
    it holds."""
    now = datetime.now(UTC)
    stored, records = write_state(root, contacts_inputs(meetings, 0, now), now)
    if vdir_files:
        store = Store(root / "state.json", writable=True)
        store.set_cursor("bench", vdir_cursor(vdir_files), "tagging")
        store.flush()
    files = [p for p in root.rglob("state*") if p.is_file()]
    return {"meetings_stored": stored, "records_stored": records,
            "state_bytes": (root / "state.json").stat().st_size,
            "all_state_bytes": sum(p.stat().st_size for p in files),
            "state_files": len(files)}


def measure(root: Path, runs: int) -> JSON:
    """Run :data:`CHILD` ``runs`` times on the state in ``root``; returns the medians and the
    samples."""
    samples = []
    for run in range(runs):
        done = subprocess.run([sys.executable, "-c", CHILD, str(root / "state.json"), str(run)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the state bench's child failed:\n{done.stderr[-3000:]}")
        samples.append(json.loads(done.stdout))
    keys = [k for k, v in samples[0].items() if isinstance(v, float)]
    return {"median": {k: median([s[k] for s in samples]) for k in keys},
            "meetings": samples[0]["meetings"], "records": samples[0]["records"],
            "samples": samples}


def scenarios(scratch: Path, sizes: tuple[int, ...] = SIZES, runs: int = 5,
              vdir_at: int = 10_000) -> list[JSON]:
    """Measure every size (and the ``vdir`` variant at ``vdir_at``); returns the scenarios."""
    out = []
    cases = [(n, 0) for n in sizes] + ([(vdir_at, VDIR_FILES)] if vdir_at in sizes else [])
    for n, files in cases:
        root = scratch / f"state-{n}-{files}"
        built = build(root, n, files)
        found = measure(root, runs)
        out.append({"scenario": "state", "tool": "coffeechat", "tagged": n,
                    "vdir_files": files, "runs": runs, **built, **found})
        m = found["median"]
        print(f"state {n:,} meetings{f', {files:,}-file cursor' if files else ''}: open "
              f"{m['open_s'] * 1000:.0f} ms (+{m['open_rss_mb']:.0f} MB), one draft's writes "
              f"{m['draft_s'] * 1000:.0f} ms ({m['draft_cpu_s'] * 1000:.0f} ms CPU), idle flush "
              f"{m['idle_flush_s'] * 1000:.0f} ms, "
              f"read {m['read_s'] * 1000:.0f} ms (+{m['read_rss_mb']:.0f} MB); "
              f"{found['meetings']:,} live meetings, {found['records']:,} records",
              file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="coffeechat-state-bench-") as folder:
        quick = "--quick" in sys.argv
        scenarios(Path(folder), (1_000, 10_000) if quick else SIZES, runs=2 if quick else 5)
