"""Hostile calendar files, each in a vdir of its own next to a good tagged meeting, through a
real cycle of the local account (``coffeechat run --once``, a fresh process per case).

Each cycle must take under 10 s of CPU time with a peak RSS under 300 MB, name the bad file
in its log (a file of 20,000 good events is read, not named), and still write the good
meeting's draft. Every file names a keyword, so that the first sync's pre-check reads it in
full (tests/test_local_precheck.py: a file that cannot be tagged is not read in full then).
A case that runs past 60 s is killed (and fails): the whole file stays bounded in time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.e2e.workspace import Workspace, environment, event_ics, ics_time
from tests.reliability.conftest import Record

pytestmark = pytest.mark.slow

SECONDS = 10
PEAK_MB = 300
KILL_AFTER = 60
NOW = datetime.now(UTC).replace(microsecond=0)
GOOD = ("good", "Coffee chat with Dana", ("Dana Whitfield", "dana@example.org"))


def calendar(*events: str) -> bytes:
    # The note names a keyword (without tagging anything: only titles and descriptions tag),
    # so that the first sync's pre-check hands the file to the full reader, as it would a
    # hostile file that carries a tag.
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
            "X-HOSTILE-NOTE:coffee chat\r\n" + "".join(events) + "END:VCALENDAR\r\n").encode()


def event(uid: str, extra: str = "", summary: str = "Team sync") -> str:
    start = NOW - timedelta(days=30)
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{ics_time(start)}\r\n"
            f"DTSTART:{ics_time(start)}\r\nDURATION:PT30M\r\nSUMMARY:{summary}\r\n{extra}"
            "END:VEVENT\r\n")


def endless(frequency: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(calendar(event("endless", f"RRULE:FREQ={frequency}\r\n")))
    return make


def huge_description(path: Path) -> None:
    path.write_bytes(calendar(event("long", "DESCRIPTION:" + "a" * (30 << 20) + "\r\n")))


def many_events(path: Path) -> None:
    path.write_bytes(calendar(*(event(f"many-{i}") for i in range(20_000))))


def deep_nesting(path: Path) -> None:
    depth = 10_000
    path.write_bytes(calendar(event("deep", "BEGIN:VEVENT\r\n" * depth
                                    + "END:VEVENT\r\n" * depth)))


def sparse_gib(path: Path) -> None:
    with path.open("wb") as file:
        file.truncate(1 << 30)  # no disk is used


def bad_utf8(path: Path) -> None:
    path.write_bytes(calendar(event("latin", summary="Caf\xe9")).replace(b"Caf", b"\xff\xfe"))


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def loop(path: Path) -> None:
    path.symlink_to(path)


def folder(path: Path) -> None:
    path.mkdir()
    (path / "inner.ics").write_bytes(calendar(event("inner")))


LOCKED = ("locked", "Coffee chat with Lee", ("Lee Park", "lee@example.org"))


def mode_000(path: Path) -> None:
    uid, title, contact = LOCKED
    path.write_text(event_ics(uid, title, NOW - timedelta(hours=3), contact))
    path.chmod(0)


CASES: dict[str, Callable[[Path], None]] = {
    "no-end SECONDLY rule": endless("SECONDLY"),
    "no-end MINUTELY rule": endless("MINUTELY"),
    "no-end HOURLY rule": endless("HOURLY"),
    "30 MB description": huge_description,
    "20,000 events in one file": many_events,
    "10,000 nested components": deep_nesting,
    "1 GiB sparse file": sparse_gib,
    "invalid UTF-8": bad_utf8,
    "FIFO": fifo,
    "/dev/zero symlink": dev_zero,
    "loop symlink": loop,
    "directory named x.ics": folder,
    "unreadable (mode 000)": mode_000,
}


MEASURE = """
import os, signal, sys
limit, out, *command = sys.argv[1:]
pid = os.posix_spawn(command[0], command, os.environ)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(int(limit))
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as file:
    print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime,
          file=file)
"""
"""Runs a command and writes its exit code, peak RSS (KiB) and CPU seconds, killing it after
``limit`` seconds. A process of its own: a child's peak RSS counts its parent's at the fork,
and this one is small where pytest may not be."""


class Run(NamedTuple):
    code: int
    wall: float
    cpu: float
    peak_mb: float
    log: str


def run_once(ws: Workspace) -> Run:
    """Run one cycle in a fresh process and measure it."""
    figures = ws.root / "measured.txt"
    with (ws.root / "log.txt").open("w+") as log:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", MEASURE, str(KILL_AFTER), str(figures),
                        sys.executable, "-m", "daemon", "--config", str(ws.config), "run",
                        "--once"], cwd=ws.root, env=environment(ws.root), stdout=log,
                       stderr=subprocess.STDOUT, check=True, timeout=KILL_AFTER + 30)
        wall = time.monotonic() - started
        log.seek(0)
        code, peak_kib, cpu = figures.read_text().split()
        return Run(int(code), wall, float(cpu), int(peak_kib) / 1024, log.read())


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_file_is_named_and_the_good_meeting_still_drafted(
        case: str, tmp_path: Path, figures: Record) -> None:
    ws = Workspace.create(tmp_path / "w")
    uid, title, contact = GOOD
    ws.add_event(uid, title, NOW - timedelta(hours=3), contact)
    bad = ws.root / "personal-calendar" / "x.ics"
    CASES[case](bad)
    run = run_once(ws)
    figures(f"hostile: {case}", {"CPU s": f"{run.cpu:.1f}", "wall s": f"{run.wall:.1f}",
                                 "peak RSS MB": f"{run.peak_mb:.0f}"})
    log = run.log
    assert run.code == 0, log[-3000:]
    # CPU time, not wall time: the machine may be busy with other work
    assert run.cpu < SECONDS, f"{case}: {run.cpu:.1f} s of CPU"
    assert run.peak_mb < PEAK_MB, f"{case}: {run.peak_mb:.0f} MB"
    assert f"{uid}/thank_you/{contact[1]}" in ws.draft_keys(), log[-3000:]
    if case == "20,000 events in one file":
        # nothing in it is wrong, so nothing is named: every event is read, in bounded time
        assert "personal: 20001 change(s)" in log, log[-3000:]
    elif case == "unreadable (mode 000)":
        # root reads a file of mode 000 like any other: then it is not named, and it counts
        # (tests/test_local_vdir_files.py refuses it through an injected reader for root too)
        locked = f"{LOCKED[0]}/thank_you/{LOCKED[2][1]}"
        as_root = os.geteuid() == 0
        assert (locked in ws.draft_keys()) is as_root
        assert ("x.ics" in log) is not as_root, log[-3000:]
    else:
        assert "x.ics" in log, log[-3000:]
