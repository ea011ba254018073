"""What an idle ``coffeechat run --once`` costs against a bare interpreter (issue 18, item 3),
in the same run.

The demo's workspace (a local account, :mod:`daemon.app.demo`) is drafted once; then
:data:`RUNS` idle ``run --once`` processes and as many ``python -c pass`` alternate, so both
see the same load. Reported: each median, and their ratio. Target: at most 12x.
``python -m bench.run --only startup`` runs it alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
RUNS = 9
TARGET_RATIO = 12.0


def _wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(scratch: Path, runs: int = RUNS) -> list[JSON]:
    """The idle local ``run --once`` beside ``python -c pass``, as one bench scenario."""
    from daemon.app.demo import build_workspace

    folder = scratch / "startup"
    env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"),
               XDG_DATA_HOME=str(folder / "data"))
    config = build_workspace(folder / "ws", datetime.now(UTC), "Europe/Berlin")
    once = [sys.executable, "-m", "daemon", "--config", str(config), "run", "--once"]
    for _ in range(2):  # the first drafts; the second may list the folder once more
        _wall(once, env)
    bare, idle = [], []
    for _ in range(runs):
        bare.append(_wall([sys.executable, "-c", "pass"], env))
        idle.append(_wall(once, env))
    bare_s, idle_s = statistics.median(bare), statistics.median(idle)
    ratio = idle_s / bare_s
    print(f"startup: idle run --once {idle_s * 1000:.0f} ms, python -c pass "
          f"{bare_s * 1000:.0f} ms ({ratio:.1f}x; target {TARGET_RATIO:.0f}x)", file=sys.stderr)
    return [{"scenario": "idle_run_once_vs_bare_python", "connector": "local", "runs": runs,
             "median": {"run_once_s": round(idle_s, 4), "bare_python_s": round(bare_s, 4)},
             "ratio": round(ratio, 1), "target_ratio": TARGET_RATIO,
             "met": ratio <= TARGET_RATIO}]


def markdown(scenarios: list[JSON]) -> str:
    """The figures as markdown (empty when not measured)."""
    lines: list[str] = []
    for s in (s for s in scenarios if s["scenario"] == "idle_run_once_vs_bare_python"):
        m = s["median"]
        lines += ["| idle `run --once` (local) | `python -c pass` | ratio | target |",
                  "|---|---|---|---|",
                  f"| {m['run_once_s'] * 1000:.0f} ms | {m['bare_python_s'] * 1000:.0f} ms | "
                  f"{s['ratio']}x | at most {s['target_ratio']:.0f}x |", ""]
    return "\n".join(lines)
