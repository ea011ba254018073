"""The targets of issue 7: each met, missed or not measured, with the measured value.

``evaluate`` judges the scenarios of a run (described in ``bench/figures.py``);
``bench/report.py`` lists its verdicts as the last table of the report.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.figures import (
    JSON,
    LABELS,
    count,
    decimal,
    default_page,
    find,
    idle_sizes,
    kinds,
    median,
    ratio_of,
    series_runs,
    stored_runs,
)


def _target(name: str, value: str, ok: bool | None) -> JSON:
    status = "not measured" if ok is None else ("met" if ok else "missed")
    return {"target": name, "value": value, "status": status}


def evaluate(scenarios: Sequence[JSON]) -> list[JSON]:
    """Each target of the issue, per connector where it applies, met / missed / not
    measured, with the measured value."""
    out: list[JSON] = []
    for kind in kinds(scenarios):
        idles = [s for s in scenarios if s["scenario"] == "idle" and s["tool"] == "coffeechat"
                 and s.get("connector") == kind]
        samples = [x for s in idles for x in s["samples"]]
        listed = ", ".join(f"{int(s['events']):,}" for s in idles)
        written = sorted({int(x["state_bytes_written"]) for x in samples})
        if kind == "local":
            reads = sorted({int(x["files_read"]) for x in samples})
            ok = written == [0] and reads == [0]
            value = (f"{', '.join(map(str, reads))} calendar files read, "
                     f"{', '.join(map(str, written))} B written, in every idle run at "
                     f"{listed} events")
        else:
            calls = sorted({int(x["calendar_requests"]) for x in samples})
            total = sorted({int(x["requests"]) for x in samples})
            ok = calls == [1] and total == [1] and written == [0]
            value = (f"{'/'.join(map(str, calls))} calendar request "
                     f"({'/'.join(map(str, total))} in all), "
                     f"{'/'.join(map(str, written))} B written, in every idle run at "
                     f"{listed} events")
        wanted = ("no calendar file read (the local form of 1 request)" if kind == "local"
                  else "1 calendar request per account")
        out.append(_target(f"Idle cycle, {LABELS[kind]}: {wanted}, 0 bytes written to the "
                           "state file", value, ok if samples else None))
    for kind in kinds(scenarios):
        small = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=1000)
        big = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=50000)
        name = f"Idle wall at 50,000 events within 1.3x of 1,000, {LABELS[kind]}"
        if small is not None and big is not None:
            ratio = ratio_of(median(big, "wall_s"), median(small, "wall_s"))
            out.append(_target(name, f"{decimal(median(big, 'wall_s'))} s / "
                               f"{decimal(median(small, 'wall_s'))} s = {decimal(ratio)}x",
                               ratio is not None and ratio <= 1.3))
        else:
            sizes = idle_sizes(scenarios, kind)
            note = "no run at 1,000 and 50,000 events"
            if len(sizes) >= 2:
                lo = find(scenarios, scenario="idle", tool="coffeechat", connector=kind,
                          events=sizes[0])
                hi = find(scenarios, scenario="idle", tool="coffeechat", connector=kind,
                          events=sizes[-1])
                ratio = ratio_of(median(hi, "wall_s"), median(lo, "wall_s"))
                note += (f"; {sizes[-1]:,} vs {sizes[0]:,}: {decimal(median(hi, 'wall_s'))} s / "
                         f"{decimal(median(lo, 'wall_s'))} s = {decimal(ratio)}x")
            out.append(_target(name, note, None))
    for kind in ("google", "outlook"):
        naive = find(scenarios, scenario="idle", tool="naive", connector=kind, events=10000,
                     pages="default")
        tuned = find(scenarios, scenario="idle", tool="naive", connector=kind, events=10000,
                     pages="largest")
        ours = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=10000)
        name = ("Idle requests at least 10x fewer than the naive poller's at 10,000, "
                f"{LABELS[kind]}")
        if naive is None or tuned is None or ours is None:
            if kind in kinds(scenarios):
                out.append(_target(name, "no run at 10,000 events", None))
            continue
        ratio = ratio_of(median(naive, "requests"), median(ours, "requests"))
        best = ratio_of(median(tuned, "requests"), median(ours, "requests"))
        out.append(_target(name, f"{count(median(naive, 'requests'))} vs "
                           f"{count(median(ours, 'requests'))} "
                           f"= {decimal(ratio, 1)}x with the API's default page size "
                           f"({default_page(kind)}); {count(median(tuned, 'requests'))} vs "
                           f"{count(median(ours, 'requests'))} = {decimal(best, 1)}x against a "
                           "poller that asks for the largest pages",
                           ratio is not None and ratio >= 10))
    for kind in kinds(scenarios):
        first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                     events=10000)
        name = f"First sync of 10,000 events under 5 s, {LABELS[kind]}"
        if first is None:
            out.append(_target(name, "no run at 10,000 events", None))
            continue
        wall = median(first, "wall_s")
        value = (f"{decimal(wall)} s (of which the fake server "
                 f"{decimal(median(first, 'server_cpu_s'))} s)")
        if kind == "local":
            value = (f"{decimal(wall)} s; not a target (it is stated against the fakes), for "
                     "information")
            out.append({"target": name, "value": value,
                        "status": "met" if wall is not None and wall < 5 else "missed (info)"})
            continue
        out.append(_target(name, value, wall is not None and wall < 5))
    for kind in kinds(scenarios):
        first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                     events=50000)
        name = f"Peak RSS under 150 MB at 50,000 events (first sync), {LABELS[kind]}"
        if first is None:
            sizes = idle_sizes(scenarios, kind)
            largest = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                           events=sizes[-1]) if sizes else None
            note = "no run at 50,000 events"
            if largest is not None:
                note += f"; at {sizes[-1]:,}: {decimal(median(largest, 'peak_rss_mb'), 0)} MB"
            out.append(_target(name, note, None))
            continue
        rss = median(first, "peak_rss_mb")
        out.append(_target(name, f"{decimal(rss, 0)} MB", rss is not None and rss < 150))
    out += _planner_targets(scenarios)
    out += _history_targets(scenarios)
    help_item = find(scenarios, scenario="help")
    if help_item is not None:
        wall = median(help_item, "wall_s")
        out.append(_target("`coffeechat --help` under 0.3 s", f"{decimal(wall, 3)} s",
                           wall is not None and wall < 0.3))
    return out


def _planner_targets(scenarios: Sequence[JSON]) -> list[JSON]:
    items = sorted((s for s in scenarios if s["scenario"] == "planner"),
                   key=lambda s: int(s["contacts"]))
    if len(items) < 2:
        return []
    per = [(int(s["contacts"]), float(s["median"]["wall_s"]) / int(s["contacts"]))
           for s in items]
    growth = per[-1][1] / per[0][1]
    out = [_target("Planner linear in contacts (time per contact at the most contacts within "
                   "1.5x of that at the fewest)",
                   ", ".join(f"{c:,}: {t * 1e6:.0f} µs" for c, t in per)
                   + f" per contact ({growth:.2f}x)", growth <= 1.5)]
    five = find(scenarios, scenario="planner", contacts=5000)
    wall = median(five, "wall_s")
    out.append(_target("Planner over 5,000 contacts under 0.2 s",
                       "no run at 5,000 contacts" if five is None else f"{decimal(wall, 3)} s",
                       None if wall is None else wall < 0.2))
    return out


def _history_targets(scenarios: Sequence[JSON]) -> list[JSON]:
    out: list[JSON] = []
    series = series_runs(scenarios)
    if len(series) >= 2:
        per = [(int(s["occurrences"]), float(s["median"]["wall_s"]) / int(s["occurrences"]))
               for s in series]
        growth = per[-1][1] / per[0][1]
        out.append(_target("Planner linear in one contact's meetings (time per occurrence at "
                           "the longest series within 1.5x of that at the shortest)",
                           ", ".join(f"{n:,}: {t * 1e6:.0f} µs" for n, t in per)
                           + f" per occurrence ({growth:.2f}x)", growth <= 1.5))
    for shape in ("contacts", "series"):
        for command in ("plan", "status"):
            items = [s for s in stored_runs(scenarios, command)
                     if s.get("shape", "contacts") == shape]
            name = f"`coffeechat {command}` on 25,000 stored meetings ({shape}) under 1 s"
            big = [s for s in items if int(s["meetings"]) >= 24_000]
            if not big:
                note = "no run at 25,000 stored meetings"
                if items:
                    note += (f"; at {int(items[-1]['meetings']):,}: "
                             f"{decimal(median(items[-1], 'wall_s'))} s")
                out.append(_target(name, note, None))
                continue
            wall = median(big[-1], "wall_s")
            out.append(_target(name, f"{decimal(wall)} s at {int(big[-1]['meetings']):,}",
                               wall is not None and wall < 1))
    return out
