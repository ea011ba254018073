"""Turning measured scenarios into the markdown tables of ``make bench``.

The scenarios and their figures are described in ``bench/figures.py``; the targets of issue 7
that ``markdown`` lists at the end are judged by ``bench/targets.py``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import (
    JSON,
    LABELS,
    byte_size,
    count,
    decimal,
    find,
    idle_sizes,
    kinds,
    median,
    ratio_of,
    series_runs,
    stored_runs,
)


def machine() -> JSON:
    """The machine the benchmark runs on: CPU model, cores, Python, kernel, date, load."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}",
            "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}



def coffeechat_table(scenarios: Sequence[JSON]) -> str:
    """One row per connector and calendar size: first sync, idle and busy cycles."""
    head = ("| connector | events (tagged) | first sync s (server s) | first req | peak RSS MB"
            " | state file | idle s | idle req | idle bytes written | busy s | busy req "
            "| busy drafts |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for kind in kinds(scenarios):
        for n in idle_sizes(scenarios, kind):
            first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                         events=n)
            idle = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=n)
            busy = find(scenarios, scenario="busy", tool="coffeechat", connector=kind, events=n)
            local = kind == "local"
            tagged = first["tagged"] if first else 0
            idle_req = (f"{count(median(idle, 'files_read'))} files read" if local
                        else count(median(idle, "calendar_requests")))
            busy_req = (f"{count(median(busy, 'files_read'))} files read" if local
                        else count(median(busy, "requests")))
            rows.append(
                f"| {LABELS[kind]} | {n:,} ({tagged:,}) "
                f"| {decimal(median(first, 'wall_s'))}"
                f"{'' if local else ' (' + decimal(median(first, 'server_cpu_s')) + ')'} "
                f"| {'—' if local else count(median(first, 'requests'))} "
                f"| {decimal(median(first, 'peak_rss_mb'), 0)} "
                f"| {byte_size(median(first, 'state_bytes'))} "
                f"| {decimal(median(idle, 'wall_s'))} | {idle_req} "
                f"| {count(median(idle, 'state_bytes_written'))} "
                f"| {decimal(median(busy, 'wall_s'))} "
                f"| {busy_req} | {count(median(busy, 'drafts_made'))} |")
    return "\n".join(rows)


def naive_table(scenarios: Sequence[JSON]) -> str:
    """coffeechat against the naive poller, same fakes, same run."""
    head = ("| connector | events | naive first s | naive idle s | naive idle req | naive idle "
            "req, default pages | naive peak RSS MB | coffeechat idle s | idle req | idle "
            "requests: naive / coffeechat | idle wall: coffeechat / naive | first sync wall: "
            "coffeechat / naive |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for kind in ("google", "outlook"):
        for n in idle_sizes(scenarios, kind):
            nf = find(scenarios, scenario="first_sync", tool="naive", connector=kind, events=n)
            ni = find(scenarios, scenario="idle", tool="naive", connector=kind, events=n,
                      pages="largest")
            cf = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                      events=n)
            ci = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=n)
            nd = find(scenarios, scenario="idle", tool="naive", connector=kind, events=n,
                      pages="default")
            if nf is None or ni is None:
                continue
            rows.append(
                f"| {LABELS[kind]} | {n:,} | {decimal(median(nf, 'wall_s'))} "
                f"| {decimal(median(ni, 'wall_s'))} "
                f"| {count(median(ni, 'requests'))} | {count(median(nd, 'requests'))} "
                f"| {decimal(median(ni, 'peak_rss_mb'), 0)} "
                f"| {decimal(median(ci, 'wall_s'))} | {count(median(ci, 'requests'))} "
                f"| {decimal(ratio_of(median(ni, 'requests'), median(ci, 'requests')), 1)}x "
                f"| {decimal(ratio_of(median(ci, 'wall_s'), median(ni, 'wall_s')))}x "
                f"| {decimal(ratio_of(median(cf, 'wall_s'), median(nf, 'wall_s')))}x |")
    return "\n".join(rows)


def every_file_table(scenarios: Sequence[JSON]) -> str:
    """A local vdir's idle cycle as measured (the folder shows no change: no file is listed)
    beside one that compares every file (``full_check_minutes = 0``, or the hourly check)."""
    rows = ["| events | idle s | idle s, every file compared | files read | bytes written |",
            "|---|---|---|---|---|"]
    for n in idle_sizes(scenarios, "local"):
        idle = find(scenarios, scenario="idle", tool="coffeechat", connector="local", events=n)
        every = find(scenarios, scenario="idle_every_file", tool="coffeechat",
                     connector="local", events=n)
        if every is None:
            continue
        rows.append(f"| {n:,} | {decimal(median(idle, 'wall_s'))} "
                    f"| {decimal(median(every, 'wall_s'))} "
                    f"| {count(median(every, 'files_read'))} "
                    f"| {count(median(every, 'state_bytes_written'))} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def planner_table(scenarios: Sequence[JSON]) -> str:
    """The planner alone, by number of contacts."""
    rows = ["| contacts | meetings | draft records | plan() median ms | µs per contact |",
            "|---|---|---|---|---|"]
    for item in sorted((s for s in scenarios if s["scenario"] == "planner"),
                       key=lambda s: int(s["contacts"])):
        seconds = float(item["median"]["wall_s"])
        rows.append(f"| {item['contacts']:,} | {item['meetings']:,} | {item['records']:,} "
                    f"| {seconds * 1000:.1f} | {seconds / item['contacts'] * 1e6:.0f} |")
    return "\n".join(rows)


def series_table(scenarios: Sequence[JSON]) -> str:
    """The planner over one contact's hourly series, by its length."""
    rows = ["| occurrences | plan() median ms | µs per occurrence |", "|---|---|---|"]
    for item in series_runs(scenarios):
        seconds = float(item["median"]["wall_s"])
        rows.append(f"| {item['occurrences']:,} | {seconds * 1000:.1f} "
                    f"| {seconds / item['occurrences'] * 1e6:.0f} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def stored_table(scenarios: Sequence[JSON]) -> str:
    """``coffeechat plan`` and ``status`` as processes, by the size of the stored state, each
    also as a multiple of ``coffeechat --help`` in the same run."""
    help_wall = median(find(scenarios, scenario="help"), "wall_s")
    rows = ["| history | stored meetings | draft records | state file (settled file) "
            "| plan s (x --help) | status s (x --help) | peak RSS MB |",
            "|---|---|---|---|---|---|---|"]
    for plan in stored_runs(scenarios, "plan"):
        shape = str(plan.get("shape", "contacts"))
        status = next(s for s in stored_runs(scenarios, "status")
                      if s["meetings"] == plan["meetings"] and s.get("shape") == plan.get("shape"))
        cells = []
        for item in (plan, status):
            wall = median(item, "wall_s")
            ratio = ratio_of(wall, help_wall)
            cells.append(f"{decimal(wall)}" + ("" if ratio is None else f" ({ratio:.1f}x)"))
        rss = max(median(plan, "peak_rss_mb") or 0, median(status, "peak_rss_mb") or 0)
        what = (f"contacts, one {plan['series']:,}-occurrence series" if shape == "contacts"
                else "bounded series")
        settled = plan.get("settled_bytes")
        size = byte_size(float(plan["state_bytes"])) + (
            "" if settled is None else f" ({byte_size(float(settled))})")
        rows.append(f"| {what} | {plan['meetings']:,} | {plan['records']:,} | {size} "
                    f"| {cells[0]} | {cells[1]} | {rss:.0f} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def targets_table(targets: Sequence[JSON]) -> str:
    """The targets of the issue, each met or missed with its value."""
    rows = ["| target | measured | status |", "|---|---|---|"]
    rows += [f"| {t['target']} | {t['value']} | **{t['status']}** |" for t in targets]
    return "\n".join(rows)


def markdown(result: JSON) -> str:
    """The whole report as markdown."""
    m = result["machine"]
    scenarios = result["scenarios"]
    help_item = find(scenarios, scenario="help")
    parts = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}; "
        f"{m['date']}; load average at start {m['load_average_at_start']}. "
        f"Medians of {result['settings']['runs_note']}.",
        "", "### coffeechat run --once", "", coffeechat_table(scenarios),
        "", "### Against a naive poller (lists the whole window every cycle)", "",
        naive_table(scenarios),
        "", "### A local vdir whose every file is compared (`full_check_minutes = 0`)", "",
        every_file_table(scenarios) or "not measured",
        "", "### The planner alone (in process)", "", planner_table(scenarios), "",
        f"`coffeechat --help`: {decimal(median(help_item, 'wall_s'), 3)} s "
        f"(median of {help_item['runs'] if help_item else 0}).",
        "", "### Real series: one contact's hourly series (planner in process)", "",
        series_table(scenarios) or "not measured",
        "", "### `coffeechat plan` and `status` on a stored state (as processes)", "",
        stored_table(scenarios) or "not measured",
        "", "### Targets", "", targets_table(result["targets"])]
    return "\n".join(parts)
