"""SIGKILL during cycles of a caldav account (Radicale calendar, TLS Dovecot Drafts) never
leaves a duplicate or a lost draft on the IMAP server.

As the local kill test does: the real ``run --once`` is killed as its cycle begins or after
its n-th new draft has landed (counted in the server's own Maildir, so the watching costs the
server nothing), while the calendar keeps changing; then it is left to finish, and every
draft owed is on the server exactly once.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.state.store import Store
from tests.e2e.test_caldav_account import workspace
from tests.e2e.workspace import event_ics
from tests.reliability.conftest import Record
from tests.reliability.kills import holds_the_run_lock, kill_when, reaches
from tests.servers.dovecot import PASSWORD, Dovecot, dovecot
from tests.servers.radicale import Radicale
from tests.servers.radicale import radicale as radicale  # the fixture

pytestmark = pytest.mark.slow

KILLS = 12
SEED = 20261203


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


def test_random_kills_during_caldav_cycles_leave_no_duplicate_and_no_loss(
        tmp_path: Path, server: Dovecot, radicale: Radicale, figures: Record) -> None:
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    user = radicale.new_user(password=PASSWORD)
    user.make_calendar("work", "Work")
    ws = workspace(tmp_path / "w", server, user)
    expected: set[str] = set()
    serial = 0

    def add_meetings(count: int) -> None:
        nonlocal serial
        for _ in range(count):
            serial += 1
            uid, address = f"m{serial}", f"contact{serial}@example.org"
            user.put("work", f"{uid}.ics", event_ics(
                uid, f"Coffee chat with contact {serial}", now - timedelta(hours=3),
                (f"Contact {serial}", address)).encode())
            expected.add(f"{uid}/thank_you/{address}")

    mailbox = server.root / "mail" / user.username

    def drafts_on_server() -> int:  # the server's Maildir, read without a login
        return sum(1 for folder in mailbox.glob(".*") if folder.is_dir()
                   for sub in ("cur", "new") if (folder / sub).is_dir()
                   for _ in (folder / sub).iterdir())

    add_meetings(10)
    assert ws.run("run", "--once").returncode == 0

    killed = finished = before_write = mid_write = 0
    for _ in range(KILLS):
        add_meetings(8)
        moved = rng.randint(1, serial)
        user.put("work", f"m{moved}.ics", event_ics(
            f"m{moved}", f"Coffee chat with contact {moved} (moved)", now - timedelta(hours=3),
            (f"Contact {moved}", f"contact{moved}@example.org")).encode())
        before = drafts_on_server()
        owed = len(expected) - before
        process = ws.popen("run", "--once")
        if rng.random() < 0.3:
            landed = holds_the_run_lock(ws.root / "state.json", process.pid)
        else:
            landed = reaches(drafts_on_server, before + rng.randint(1, max(1, owed // 2)))
        if kill_when(process, landed):
            killed += 1
        else:
            finished += 1
        process.communicate(timeout=60)
        Store(ws.root / "state.json")  # the state loads after every kill
        made = drafts_on_server() - before
        if made == 0 and process.returncode == -signal.SIGKILL:
            before_write += 1
        elif 0 < made < owed:
            mid_write += 1

    for _ in range(2):
        final = ws.run("run", "--once")
        assert final.returncode == 0, final.stderr

    keys = [line.split(b":", 1)[1].strip().decode()
            for _flags, data in server.messages(user.username).values()
            for line in data.split(b"\r\n") if line.startswith(b"X-Coffeechat-Key:")]
    duplicates = len(keys) - len(set(keys))
    lost = expected - set(keys)
    records = Store(ws.root / "state.json").drafts()
    figures("crash (caldav/IMAP, 12 kills)", {
        "kills": killed, "before a write": before_write, "mid-write": mid_write,
        "finished first": finished, "expected": len(expected), "made": len(keys),
        "duplicates": duplicates, "lost": len(lost)})
    assert killed >= KILLS // 2, "too few kills landed inside a cycle to mean anything"
    assert mid_write >= 2, "too few kills landed while drafts were being written"
    assert duplicates == 0
    assert lost == set()
    assert set(keys) == expected
    assert {r.state for r in records.values()} == {"created"}
    assert set(records) == expected
