"""SIGKILL at random instants during many cycles never leaves a duplicate or a lost draft."""

from __future__ import annotations

import random
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.state.store import Store
from tests.e2e.workspace import Workspace
from tests.reliability.conftest import Record
from tests.reliability.kills import holds_the_run_lock, kill_when, reaches
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

    def drafts_on_disk() -> int:  # cheap: nothing is parsed
        folder = ws.root / "personal-mail" / "Drafts"
        return sum(1 for sub in ("cur", "new") if (folder / sub).exists()
                   for _ in (folder / sub).iterdir())

    add_meetings(40)
    assert ws.run("run", "--once").returncode == 0  # 40 drafts

    killed = finished = before_write = mid_write = 0
    for _ in range(KILLS):
        add_meetings(12)  # the calendar keeps changing while the service dies
        victim = ws.root / "personal-calendar" / f"m{rng.randint(1, serial)}.ics"
        save(victim, victim.read_bytes().replace(b"Coffee chat", b"Coffee chat (moved)"))
        before = len(ws.draft_keys())
        owed = len(expected) - before
        process = ws.popen("run", "--once")
        # a kill as the cycle begins, or after its n-th new draft: what it was doing decides
        if rng.random() < 0.3:
            landed = holds_the_run_lock(ws.root / "state.json", process.pid)
        else:
            # early in the run of writes, so the kill lands before the last one
            landed = reaches(drafts_on_disk, before + rng.randint(1, max(1, owed // 2)))
        if kill_when(process, landed):
            killed += 1
        else:
            finished += 1
        process.communicate(timeout=60)
        Store(ws.root / "state.json")  # the state loads after every kill
        made = len(ws.draft_keys()) - before
        if made == 0 and process.returncode == -signal.SIGKILL:
            before_write += 1
        elif 0 < made < owed:
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
        "kills": killed, "before a write": before_write, "mid-write": mid_write,
        "finished first": finished,
        "expected": len(expected), "made": len(keys), "duplicates": duplicates,
        "lost": len(lost)})
    assert killed >= KILLS // 2, "too few kills landed inside a cycle to mean anything"
    assert mid_write >= 4, "too few kills landed while drafts were being written"
    assert before_write >= 2, "too few kills landed before a cycle wrote anything"
    assert duplicates == 0
    assert lost == set()
    assert unexpected == set()
    assert {r.state for r in records.values()} == {"created"}
    assert set(records) == expected
