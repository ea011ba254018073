"""SIGKILL at random instants during many cycles never leaves a duplicate or a lost draft."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.store import Store
from tests.e2e.workspace import Workspace
from tests.reliability.conftest import Record
from tests.vdir import save

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 20261122


def test_random_kills_during_cycles_leave_no_duplicate_and_no_loss(tmp_path: Path,
                                                                  figures: Record) -> None:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    ws = Workspace.create(tmp_path / "w")
    expected: set[str] = set()
    serial = 0

    def add_meetings(count: int) -> None:
        nonlocal serial
        for _ in range(count):
            serial += 1
            uid, email = f"m{serial}", f"contact{serial}@example.org"
            ws.add_event(uid, f"Coffee chat with contact {serial}", now - timedelta(hours=3),
                         (f"Contact {serial}", email))
            expected.add(f"{uid}/thank_you/{email}")

    def timed_run() -> float:
        started = time.monotonic()
        result = ws.run("run", "--once")
        assert result.returncode == 0, result.stderr
        return time.monotonic() - started

    add_meetings(40)
    busy = timed_run()  # 40 drafts
    idle = timed_run()  # nothing to do: start-up and sync only
    per_draft = max(0.001, (busy - idle) / 40)

    killed = finished = mid_write = 0
    for _ in range(KILLS):
        add_meetings(12)  # the calendar keeps changing while the service dies
        victim = ws.root / "personal-calendar" / f"m{rng.randint(1, serial)}.ics"
        save(victim, victim.read_bytes().replace(b"Coffee chat", b"Coffee chat (moved)"))
        before = len(ws.draft_keys())
        process = ws.popen("run", "--once")
        # aim at the whole cycle, weighted towards the stretch where drafts are written
        time.sleep(rng.uniform(idle * 0.8, idle + 14 * per_draft))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        else:
            finished += 1
        process.communicate(timeout=60)
        Store(ws.root / "state.json")  # the state loads after every kill
        if 0 < len(ws.draft_keys()) - before < len(expected) - before:
            mid_write += 1  # this kill cut a run of draft writes short

    for _ in range(2):  # then it is left to finish
        final = ws.run("run", "--once")
        assert final.returncode == 0, final.stderr

    keys = ws.draft_keys()
    duplicates = len(keys) - len(set(keys))
    lost = expected - set(keys)
    unexpected = set(keys) - expected
    records = Store(ws.root / "state.json").drafts()
    figures("crash (local, 20 kills)", {
        "kills": killed, "mid-write": mid_write, "finished first": finished,
        "expected": len(expected), "made": len(keys), "duplicates": duplicates,
        "lost": len(lost)})
    assert killed >= KILLS // 2, "too few kills landed inside a cycle to mean anything"
    assert mid_write >= 4, "too few kills landed while drafts were being written"
    assert duplicates == 0
    assert lost == set()
    assert unexpected == set()
    assert {r.state for r in records.values()} == {"created"}
    assert set(records) == expected
