"""The service against a local account, the fake Google and the fake Graph, under crashes, API
faults and a revoked token. Each scenario records its figures for the end-of-run table."""

from __future__ import annotations

import json
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.state.store import Store
from tests.e2e.three import Three, three_accounts
from tests.reliability.conftest import Record
from tests.reliability.kills import kill_when, reaches

pytestmark = pytest.mark.slow
ACCOUNTS = ("personal", "gmail", "work")
CYCLES = 100


def add_meetings(three: Three, count: int, ended: datetime) -> None:
    """``count`` tagged meetings spread over the three accounts, each with its own contact,
    whose thank-you is due; their keys join ``three.expected``."""
    for _ in range(count):
        n = three.serial + 1
        account = ACCOUNTS[n % 3]
        email = f"contact{n}@example.org"
        uid = three.add(f"Coffee chat with contact {n}", ended, (f"Contact {n}", email),
                        account)
        three.expected.add(f"{uid}/thank_you/{email}")


def count(three: Three) -> tuple[int, int, int]:
    """(drafts made, duplicates, lost) over the three Drafts folders."""
    keys = three.all_keys()
    return len(keys), len(keys) - len(set(keys)), len(three.expected - set(keys))


def finish(three: Three, attempts: int = 8) -> int:
    """Run cycles until one succeeds with nothing left to draft; returns how many ran."""
    for attempt in range(1, attempts + 1):
        result = three.ws.run("run", "--once")
        if result.returncode == 0 and three.expected <= set(three.all_keys()):
            return attempt
    raise AssertionError(f"not settled after {attempts} cycles: {result.stderr[-2000:]}")


def crash_world(root: Path, seed: int, cycles: int) -> dict[str, int]:
    """One three-account world: ``cycles`` runs of ``run --once``, each SIGKILLed at a moment
    picked by what it is doing (talking to Google before its first draft, or after its n-th
    new draft) while the calendars change, then left to finish. Returns its counts."""
    rng = random.Random(seed)
    ended = datetime.now(UTC) - timedelta(hours=3)
    with three_accounts(root) as three:
        add_meetings(three, 30, ended)
        assert three.ws.run("run", "--once").returncode == 0
        kills = finished = syncing = mid_write = 0
        for cycle in range(cycles):
            add_meetings(three, 6, ended)  # the calendars keep changing
            if cycle % 5 == 0:  # and meetings already drafted change too
                three.add(f"Coffee chat with contact 1 (change {cycle})", ended,
                          ("Contact 1", "contact1@example.org"), ACCOUNTS[1], uid="m1")
            before, asked = three.draft_count(), len(three.google.requests)
            owed = len(three.expected) - before
            process = three.ws.popen("run", "--once")
            if rng.random() < 0.3:  # while it talks to Google, before it writes a draft
                landed = reaches(lambda: len(three.google.requests), asked + 1)
            else:  # after its n-th new draft, early in the run of writes
                landed = reaches(three.draft_count, before + rng.randint(1, max(1, owed // 2)))
            if kill_when(process, landed):
                kills += 1
            else:
                finished += 1
            process.communicate(timeout=60)
            Store(three.ws.root / "state.json")  # loads after every kill
            made = three.draft_count() - before
            if made == 0 and process.returncode == -signal.SIGKILL:
                syncing += 1  # killed before this run wrote anything
            elif 0 < made < owed:
                mid_write += 1  # this kill cut a run of draft writes short
        settle = finish(three)
        made, duplicates, lost = count(three)
        assert not three.sent_anything()
        return {"cycles": cycles, "kills": kills, "before a write": syncing,
                "mid-write": mid_write, "finished": finished,
                "expected": len(three.expected), "made": made,
                "duplicates": duplicates, "lost": lost, "cycles to settle": settle}


def test_kills_at_random_instants_over_100_cycles(tmp_path: Path, figures: Record) -> None:
    # two independent worlds side by side (one per core), half of the cycles each
    with ThreadPoolExecutor(max_workers=2) as pool:
        worlds = list(pool.map(lambda n: crash_world(tmp_path / f"w{n}", seed=7 + n,
                                                     cycles=CYCLES // 2), range(2)))
    totals = {name: sum(w[name] for w in worlds) for name in worlds[0]}
    totals["cycles to settle"] = max(w["cycles to settle"] for w in worlds)
    figures("crash (3 accounts x 2)", dict(totals))
    assert totals["cycles"] >= CYCLES
    assert totals["kills"] >= CYCLES // 2 and totals["mid-write"] >= 10
    assert totals["before a write"] >= 10
    assert (totals["duplicates"], totals["lost"]) == (0, 0)
    assert totals["made"] == totals["expected"]


def test_30_percent_of_requests_failing_still_gives_each_draft_once(
        tmp_path: Path, figures: Record) -> None:
    ended = datetime.now(UTC) - timedelta(hours=3)
    with three_accounts(tmp_path / "w", timeout=1) as three:
        add_meetings(three, 45, ended)
        three.google.random_faults(0.3, ("429", "500", "503", "slow", "drop", "drop-after"),
                                   limit=30, seed=11)
        three.graph.chaos(0.3, ("throttle", "unavailable", "server_error", "slow", "drop",
                                "drop_after"), seed=11, limit=30, retry_after=0, delay=1.5)
        cycles = finish(three, attempts=12)
        made, duplicates, lost = count(three)
        requests = len(three.google.requests) + len(three.graph.requests)
        faults = len(three.google.faults_served) + sum(
            1 for r in three.graph.requests if r.fault)
        figures("API faults (30%)", {
            "requests": requests, "faults": faults, "cycles to settle": cycles, "expected":
            len(three.expected), "made": made, "duplicates": duplicates, "lost": lost})
        assert faults >= requests * 0.15  # a rate of about 30% of the first tries
        assert (duplicates, lost) == (0, 0)
        assert not three.sent_anything()


def test_a_revoked_token_is_reported_and_the_others_keep_drafting(
        tmp_path: Path, figures: Record) -> None:
    ended = datetime.now(UTC) - timedelta(hours=3)
    with three_accounts(tmp_path / "w", poll_minutes=0.02) as three:
        add_meetings(three, 6, ended)
        service = three.ws.popen("run")
        try:
            wait_for(lambda: three.expected <= set(three.all_keys()), 30)
            three.google.access_tokens = {"a-token-nobody-has"}  # the grant is revoked
            before = set(three.expected)
            add_meetings(three, 6, ended)
            fresh = three.expected - before
            wait_for(lambda: {k for k in fresh if not k.startswith(google_uids(three))}
                     <= set(three.local_keys() + three.outlook_keys()), 30)
            status = json.loads(three.ws.run("status", "--json", check=True).stdout)
            health = {a["name"]: a for a in status["accounts"]}
            assert health["gmail"]["needs_auth"] and not health["gmail"]["ok"]
            assert "coffeechat auth google --account gmail" in health["gmail"]["message"]
            assert health["personal"]["ok"] and health["work"]["ok"]
        finally:
            service.send_signal(signal.SIGTERM)
            _, err = service.communicate(timeout=15)
        assert service.returncode == 0
        assert err.count("needs you to sign in again") == 1  # said once, then paced
        missing = {k for k in three.expected if k not in three.all_keys()}
        figures("auth revoked (Google)", {
            "drafts made": len(three.all_keys()), "waiting for sign-in": len(missing),
            "reported": "yes"})
        assert missing and all(k.startswith(google_uids(three)) for k in missing)


def google_uids(three: Three) -> tuple[str, ...]:
    """Key prefixes of the meetings that went to the Google account."""
    return tuple(f"m{n}/" for n in range(1, three.serial + 1) if ACCOUNTS[n % 3] == "gmail")


def wait_for(condition: object, seconds: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the service")
        time.sleep(0.2)
