"""Turning measured scenarios into the markdown tables and the targets of issue 7.

A scenario is a plain JSON object (what ``bench/results.json`` holds): ``scenario``
(``first_sync``, ``idle``, ``idle_every_file`` (local only), ``busy``, ``planner``,
``series_planner`` (by ``occurrences``), ``plan`` and ``status`` (by stored ``meetings``),
``help``), ``tool`` (``coffeechat`` or ``naive``), ``connector``, ``events``, the medians of
its figures under ``median`` and every run under ``samples``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
GOOGLE_DEFAULT_PAGE = 250
"""Google's events.list page when ``maxResults`` is not given."""
GRAPH_DEFAULT_PAGE = 10
"""Graph's calendarView page when neither ``$top`` nor ``odata.maxpagesize`` is given."""
_LABELS = {"google": "Google (fake)", "outlook": "Outlook (fake Graph)", "local": "local vdir"}


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


def default_page(kind: str) -> int:
    """The page size of ``kind``'s event listing when the client asks for none."""
    return GOOGLE_DEFAULT_PAGE if kind == "google" else GRAPH_DEFAULT_PAGE


def find(scenarios: Iterable[JSON], **where: Any) -> JSON | None:
    """The first scenario whose fields equal ``where``."""
    for item in scenarios:
        if all(item.get(k) == v for k, v in where.items()):
            return item
    return None


def _m(item: JSON | None, key: str) -> float | None:
    if item is None:
        return None
    value = item["median"].get(key)
    return None if value is None else float(value)


def _s(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _n(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _size(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.1f} MB"
    if value >= 1024:
        return f"{value / 1024:.0f} KB"
    return f"{value:.0f} B"


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def _sizes(scenarios: Sequence[JSON], kind: str) -> list[int]:
    return sorted({int(s["events"]) for s in scenarios
                   if s.get("connector") == kind and s["scenario"] == "idle"
                   and s["tool"] == "coffeechat"})


def _kinds(scenarios: Sequence[JSON]) -> list[str]:
    order = ("google", "outlook", "local")
    present = {s.get("connector") for s in scenarios}
    return [k for k in order if k in present]


# --- tables --------------------------------------------------------------------------------


def coffeechat_table(scenarios: Sequence[JSON]) -> str:
    """One row per connector and calendar size: first sync, idle and busy cycles."""
    head = ("| connector | events (tagged) | first sync s (server s) | first req | peak RSS MB"
            " | state file | idle s | idle req | idle bytes written | busy s | busy req "
            "| busy drafts |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for kind in _kinds(scenarios):
        for n in _sizes(scenarios, kind):
            first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                         events=n)
            idle = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=n)
            busy = find(scenarios, scenario="busy", tool="coffeechat", connector=kind, events=n)
            local = kind == "local"
            tagged = first["tagged"] if first else 0
            idle_req = (f"{_n(_m(idle, 'files_read'))} files read" if local
                        else _n(_m(idle, "calendar_requests")))
            busy_req = (f"{_n(_m(busy, 'files_read'))} files read" if local
                        else _n(_m(busy, "requests")))
            rows.append(
                f"| {_LABELS[kind]} | {n:,} ({tagged:,}) "
                f"| {_s(_m(first, 'wall_s'))}"
                f"{'' if local else ' (' + _s(_m(first, 'server_cpu_s')) + ')'} "
                f"| {'—' if local else _n(_m(first, 'requests'))} "
                f"| {_s(_m(first, 'peak_rss_mb'), 0)} | {_size(_m(first, 'state_bytes'))} "
                f"| {_s(_m(idle, 'wall_s'))} | {idle_req} "
                f"| {_n(_m(idle, 'state_bytes_written'))} | {_s(_m(busy, 'wall_s'))} "
                f"| {busy_req} | {_n(_m(busy, 'drafts_made'))} |")
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
        for n in _sizes(scenarios, kind):
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
                f"| {_LABELS[kind]} | {n:,} | {_s(_m(nf, 'wall_s'))} | {_s(_m(ni, 'wall_s'))} "
                f"| {_n(_m(ni, 'requests'))} | {_n(_m(nd, 'requests'))} "
                f"| {_s(_m(ni, 'peak_rss_mb'), 0)} "
                f"| {_s(_m(ci, 'wall_s'))} | {_n(_m(ci, 'requests'))} "
                f"| {_s(_ratio(_m(ni, 'requests'), _m(ci, 'requests')), 1)}x "
                f"| {_s(_ratio(_m(ci, 'wall_s'), _m(ni, 'wall_s')))}x "
                f"| {_s(_ratio(_m(cf, 'wall_s'), _m(nf, 'wall_s')))}x |")
    return "\n".join(rows)


def every_file_table(scenarios: Sequence[JSON]) -> str:
    """A local vdir's idle cycle as measured (the folder shows no change: no file is listed)
    beside one that compares every file (``full_check_minutes = 0``, or the hourly check)."""
    rows = ["| events | idle s | idle s, every file compared | files read | bytes written |",
            "|---|---|---|---|---|"]
    for n in _sizes(scenarios, "local"):
        idle = find(scenarios, scenario="idle", tool="coffeechat", connector="local", events=n)
        every = find(scenarios, scenario="idle_every_file", tool="coffeechat",
                     connector="local", events=n)
        if every is None:
            continue
        rows.append(f"| {n:,} | {_s(_m(idle, 'wall_s'))} | {_s(_m(every, 'wall_s'))} "
                    f"| {_n(_m(every, 'files_read'))} | {_n(_m(every, 'state_bytes_written'))} |")
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


def _series(scenarios: Sequence[JSON]) -> list[JSON]:
    return sorted((s for s in scenarios if s["scenario"] == "series_planner"),
                  key=lambda s: int(s["occurrences"]))


def _stored(scenarios: Sequence[JSON], command: str) -> list[JSON]:
    return sorted((s for s in scenarios if s["scenario"] == command and "meetings" in s
                   and s["tool"] == "coffeechat"),
                  key=lambda s: (str(s.get("shape", "contacts")), int(s["meetings"])))


def series_table(scenarios: Sequence[JSON]) -> str:
    """The planner over one contact's hourly series, by its length."""
    rows = ["| occurrences | plan() median ms | µs per occurrence |", "|---|---|---|"]
    for item in _series(scenarios):
        seconds = float(item["median"]["wall_s"])
        rows.append(f"| {item['occurrences']:,} | {seconds * 1000:.1f} "
                    f"| {seconds / item['occurrences'] * 1e6:.0f} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def stored_table(scenarios: Sequence[JSON]) -> str:
    """``coffeechat plan`` and ``status`` as processes, by the size of the stored state, each
    also as a multiple of ``coffeechat --help`` in the same run."""
    help_wall = _m(find(scenarios, scenario="help"), "wall_s")
    rows = ["| history | stored meetings | draft records | state file (settled file) "
            "| plan s (x --help) | status s (x --help) | peak RSS MB |",
            "|---|---|---|---|---|---|---|"]
    for plan in _stored(scenarios, "plan"):
        shape = str(plan.get("shape", "contacts"))
        status = next(s for s in _stored(scenarios, "status")
                      if s["meetings"] == plan["meetings"] and s.get("shape") == plan.get("shape"))
        cells = []
        for item in (plan, status):
            wall = _m(item, "wall_s")
            ratio = _ratio(wall, help_wall)
            cells.append(f"{_s(wall)}" + ("" if ratio is None else f" ({ratio:.1f}x)"))
        rss = max(_m(plan, "peak_rss_mb") or 0, _m(status, "peak_rss_mb") or 0)
        what = (f"contacts, one {plan['series']:,}-occurrence series" if shape == "contacts"
                else "bounded series")
        settled = plan.get("settled_bytes")
        size = _size(float(plan["state_bytes"])) + (
            "" if settled is None else f" ({_size(float(settled))})")
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
        f"`coffeechat --help`: {_s(_m(help_item, 'wall_s'), 3)} s "
        f"(median of {help_item['runs'] if help_item else 0}).",
        "", "### Real series: one contact's hourly series (planner in process)", "",
        series_table(scenarios) or "not measured",
        "", "### `coffeechat plan` and `status` on a stored state (as processes)", "",
        stored_table(scenarios) or "not measured",
        "", "### Targets", "", targets_table(result["targets"])]
    return "\n".join(parts)


# --- targets -------------------------------------------------------------------------------


def _target(name: str, value: str, ok: bool | None) -> JSON:
    status = "not measured" if ok is None else ("met" if ok else "missed")
    return {"target": name, "value": value, "status": status}


def evaluate(scenarios: Sequence[JSON]) -> list[JSON]:
    """Each target of the issue, per connector where it applies, met / missed / not
    measured, with the measured value."""
    out: list[JSON] = []
    for kind in _kinds(scenarios):
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
        out.append(_target(f"Idle cycle, {_LABELS[kind]}: {wanted}, 0 bytes written to the "
                           "state file", value, ok if samples else None))
    for kind in _kinds(scenarios):
        small = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=1000)
        big = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=50000)
        name = f"Idle wall at 50,000 events within 1.3x of 1,000, {_LABELS[kind]}"
        if small is not None and big is not None:
            ratio = _ratio(_m(big, "wall_s"), _m(small, "wall_s"))
            out.append(_target(name, f"{_s(_m(big, 'wall_s'))} s / {_s(_m(small, 'wall_s'))} s"
                               f" = {_s(ratio)}x", ratio is not None and ratio <= 1.3))
        else:
            sizes = _sizes(scenarios, kind)
            note = "no run at 1,000 and 50,000 events"
            if len(sizes) >= 2:
                lo = find(scenarios, scenario="idle", tool="coffeechat", connector=kind,
                          events=sizes[0])
                hi = find(scenarios, scenario="idle", tool="coffeechat", connector=kind,
                          events=sizes[-1])
                ratio = _ratio(_m(hi, "wall_s"), _m(lo, "wall_s"))
                note += (f"; {sizes[-1]:,} vs {sizes[0]:,}: {_s(_m(hi, 'wall_s'))} s / "
                         f"{_s(_m(lo, 'wall_s'))} s = {_s(ratio)}x")
            out.append(_target(name, note, None))
    for kind in ("google", "outlook"):
        naive = find(scenarios, scenario="idle", tool="naive", connector=kind, events=10000,
                     pages="default")
        tuned = find(scenarios, scenario="idle", tool="naive", connector=kind, events=10000,
                     pages="largest")
        ours = find(scenarios, scenario="idle", tool="coffeechat", connector=kind, events=10000)
        name = ("Idle requests at least 10x fewer than the naive poller's at 10,000, "
                f"{_LABELS[kind]}")
        if naive is None or tuned is None or ours is None:
            if kind in _kinds(scenarios):
                out.append(_target(name, "no run at 10,000 events", None))
            continue
        ratio = _ratio(_m(naive, "requests"), _m(ours, "requests"))
        best = _ratio(_m(tuned, "requests"), _m(ours, "requests"))
        out.append(_target(name, f"{_n(_m(naive, 'requests'))} vs {_n(_m(ours, 'requests'))} "
                           f"= {_s(ratio, 1)}x with the API's default page size "
                           f"({default_page(kind)}); {_n(_m(tuned, 'requests'))} vs "
                           f"{_n(_m(ours, 'requests'))} = {_s(best, 1)}x against a poller that "
                           "asks for the largest pages",
                           ratio is not None and ratio >= 10))
    for kind in _kinds(scenarios):
        first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                     events=10000)
        name = f"First sync of 10,000 events under 5 s, {_LABELS[kind]}"
        if first is None:
            out.append(_target(name, "no run at 10,000 events", None))
            continue
        wall = _m(first, "wall_s")
        value = f"{_s(wall)} s (of which the fake server {_s(_m(first, 'server_cpu_s'))} s)"
        if kind == "local":
            value = (f"{_s(wall)} s; not a target (it is stated against the fakes), for "
                     "information")
            out.append({"target": name, "value": value,
                        "status": "met" if wall is not None and wall < 5 else "missed (info)"})
            continue
        out.append(_target(name, value, wall is not None and wall < 5))
    for kind in _kinds(scenarios):
        first = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                     events=50000)
        name = f"Peak RSS under 150 MB at 50,000 events (first sync), {_LABELS[kind]}"
        if first is None:
            sizes = _sizes(scenarios, kind)
            largest = find(scenarios, scenario="first_sync", tool="coffeechat", connector=kind,
                           events=sizes[-1]) if sizes else None
            note = "no run at 50,000 events"
            if largest is not None:
                note += f"; at {sizes[-1]:,}: {_s(_m(largest, 'peak_rss_mb'), 0)} MB"
            out.append(_target(name, note, None))
            continue
        rss = _m(first, "peak_rss_mb")
        out.append(_target(name, f"{_s(rss, 0)} MB", rss is not None and rss < 150))
    out += _planner_targets(scenarios)
    out += _history_targets(scenarios)
    help_item = find(scenarios, scenario="help")
    if help_item is not None:
        wall = _m(help_item, "wall_s")
        out.append(_target("`coffeechat --help` under 0.3 s", f"{_s(wall, 3)} s",
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
    wall = _m(five, "wall_s")
    out.append(_target("Planner over 5,000 contacts under 0.2 s",
                       "no run at 5,000 contacts" if five is None else f"{_s(wall, 3)} s",
                       None if wall is None else wall < 0.2))
    return out


def _history_targets(scenarios: Sequence[JSON]) -> list[JSON]:
    out: list[JSON] = []
    series = _series(scenarios)
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
            items = [s for s in _stored(scenarios, command)
                     if s.get("shape", "contacts") == shape]
            name = f"`coffeechat {command}` on 25,000 stored meetings ({shape}) under 1 s"
            big = [s for s in items if int(s["meetings"]) >= 24_000]
            if not big:
                note = "no run at 25,000 stored meetings"
                if items:
                    note += (f"; at {int(items[-1]['meetings']):,}: "
                             f"{_s(_m(items[-1], 'wall_s'))} s")
                out.append(_target(name, note, None))
                continue
            wall = _m(big[-1], "wall_s")
            out.append(_target(name, f"{_s(wall)} s at {int(big[-1]['meetings']):,}",
                               wall is not None and wall < 1))
    return out
