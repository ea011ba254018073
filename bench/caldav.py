"""The CalDAV calendar's first sync and idle cycle against a real Radicale on 127.0.0.1
(issue 17), in process: the connector alone (``CalDavCalendar.changes``), not ``coffeechat
run --once``, so the figures are the calendar's part of a cycle.

For each size N, the bench calendar's N events (:func:`bench.events.build_calendar`, the same
events the other connectors are fed) are written as one object each into a calendar of a fresh
Radicale (uploaded in one PUT of the whole calendar, which Radicale splits into objects: a
PUT per object would take minutes at 10,000), and one unmeasured first sync warms the caches.
Then: first syncs (a new source each, no cursor), idle cycles by
sync-collection (with the cursor), and idle cycles by ctag (``sync_collection=False``), each
with the HTTP requests the server logged. ``python -m bench.caldav`` runs it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.events import ZONE, build_calendar
from bench.formats import ics_file
from connectors.base import ConnectorEnv, collect
from connectors.caldav.calendar import CalDavCalendar
from daemon.core.model import JSON, Meeting
from tests.servers.radicale import Radicale, start_radicale

SIZES = (1_000, 5_000)
QUICK_SIZES = (300,)
SCENARIO = "caldav"


def _fill(server: Radicale, n: int, now: datetime) -> tuple[CalDavCalendar, CalDavCalendar]:
    """A user with one calendar of the bench's ``n`` events, uploaded as one calendar in one
    PUT (Radicale splits it into an object per event, and fills its cache as it stores
    them); returns a source reading it by sync-collection and one by ctag."""
    user = server.new_user()
    user.make_calendar("work", "Work")
    head: list[str] = []
    events: list[str] = []
    for event in build_calendar(n, now).events:
        text = ics_file(event).decode("utf-8")
        start, end = text.index("BEGIN:VEVENT"), text.index("END:VCALENDAR")
        head = head or [text[:start]]
        events.append(text[start:end])
    user.put_calendar("work", ("".join(head + events) + "END:VCALENDAR\r\n").encode())
    env = ConnectorEnv(timezone=ZONE, clock=lambda: now, data_dir=server.folder)
    options: dict[str, Any] = {"url": user.url, "username": user.username,
                               "password": user.password, "env": env, "account": "bench",
                               "timeout_seconds": 300}
    return CalDavCalendar(**options), CalDavCalendar(**options, sync_collection=False)


def _timed(server: Radicale, source: CalDavCalendar, cursor: JSON | None
           ) -> tuple[float, int, int, JSON, float]:
    """One sync: (seconds, requests, meetings, new cursor, seconds the server says it took
    to answer)."""
    mark = server.log_size()
    started = time.perf_counter()
    changes, new = collect(source.changes(cursor))
    took = time.perf_counter() - started
    return (took, len(server.requests(mark)),
            sum(isinstance(change, Meeting) for change in changes), new, server.seconds(mark))


def measure(sizes: Sequence[int] = SIZES, first_runs: int = 2, idle_runs: int = 5,
            log: Any = None) -> list[JSON]:
    """The scenarios (one per size) as the results file keeps them."""
    now = datetime.now(UTC).astimezone(ZONE)
    scenarios: list[JSON] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="coffeechat-bench-caldav-") as scratch:
            server = start_radicale(Path(scratch) / "radicale")
            try:
                by_sync, by_ctag = _fill(server, n, now)
                _timed(server, by_sync, None)  # warms the server's and the OS's caches
                firsts = [_timed(server, by_sync, None) for _ in range(first_runs)]
                cursor = firsts[-1][3]
                idle = []
                for _ in range(idle_runs):
                    took, requests, meetings, cursor, answering = _timed(server, by_sync,
                                                                         cursor)
                    idle.append((took, requests, meetings, answering))
                ctag_cursor = _timed(server, by_ctag, None)[3]
                ctag = []
                for _ in range(idle_runs):
                    took, requests, meetings, ctag_cursor, answering = _timed(
                        server, by_ctag, ctag_cursor)
                    ctag.append((took, requests, meetings, answering))
            finally:
                server.stop()
        item: JSON = {
            "scenario": SCENARIO, "tool": "coffeechat", "events": n,
            "first_sync": {"runs": first_runs,
                           "median_wall_s": statistics.median(f[0] for f in firsts),
                           "median_server_s": statistics.median(f[4] for f in firsts),
                           "requests": firsts[-1][1], "meetings": firsts[-1][2]},
            "idle_sync_collection": {"runs": idle_runs,
                                     "median_wall_s": statistics.median(i[0] for i in idle),
                                     "median_server_s": statistics.median(
                                         i[3] for i in idle),
                                     "requests": max(i[1] for i in idle),
                                     "meetings": max(i[2] for i in idle)},
            "idle_ctag": {"runs": idle_runs,
                          "median_wall_s": statistics.median(c[0] for c in ctag),
                          "median_server_s": statistics.median(c[3] for c in ctag),
                          "requests": max(c[1] for c in ctag),
                          "meetings": max(c[2] for c in ctag)},
        }
        scenarios.append(item)
        if log is not None:
            log(f"caldav, {n:,} events: first sync {item['first_sync']['median_wall_s']:.2f} s"
                f" ({item['first_sync']['requests']} requests), idle "
                f"{item['idle_sync_collection']['median_wall_s'] * 1000:.0f} ms "
                f"({item['idle_sync_collection']['requests']} request)")
    return scenarios


def table(scenarios: Sequence[JSON]) -> str:
    """The CalDAV rows as a markdown table ("" when none were measured)."""
    rows = [s for s in scenarios if s.get("scenario") == SCENARIO]
    if not rows:
        return ""
    lines = ["| events | first sync (server's part) | its requests | idle, sync-collection "
             "(server's part) | requests | idle, ctag (server's part) | requests |",
             "|---|---|---|---|---|---|---|"]
    for s in rows:
        first, idle, ctag = s["first_sync"], s["idle_sync_collection"], s["idle_ctag"]
        lines.append(f"| {s['events']:,} | {first['median_wall_s']:.2f} s "
                     f"({first['median_server_s']:.2f} s) | {first['requests']} | "
                     f"{idle['median_wall_s'] * 1000:.0f} ms "
                     f"({idle['median_server_s'] * 1000:.0f} ms) | {idle['requests']} | "
                     f"{ctag['median_wall_s'] * 1000:.0f} ms "
                     f"({ctag['median_server_s'] * 1000:.0f} ms) | {ctag['requests']} |")
    return "\n".join(lines)


def section(scenarios: Sequence[JSON]) -> str:
    """The report's CalDAV section ("" when nothing was measured)."""
    rows = table(scenarios)
    return (f"\n### CalDAV calendar against Radicale (the connector in process)\n\n{rows}"
            if rows else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.caldav")
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = tuple(int(n) for n in args.sizes.split(","))
    print(table(measure(sizes, log=lambda line: print(line, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
