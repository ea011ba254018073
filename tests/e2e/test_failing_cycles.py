"""While every cycle fails, ``status`` says so and shows no account as ok: a real full disk
(a small tmpfs holding the state folder, in a mount namespace of the test's own), and a
service whose planned cycle never came."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.app.views import status_json, status_text
from daemon.core.model import Plan
from daemon.cycle.health import AccountHealth, Health
from tests.e2e.workspace import Workspace, environment, event_ics

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(microsecond=0)
FULL_DISK = """
set -u
mount -t tmpfs -o size=256k tmpfs state
{cc} run --once >/dev/null 2>&1 || echo "first run failed"
cp b1.ics personal-calendar/b1.ics
dd if=/dev/zero of=state/filler bs=4096 >/dev/null 2>&1
{cc} run --once >/dev/null 2>&1 && echo "the cycle on a full disk went through"
{cc} status
"""


def test_status_on_a_full_disk_says_the_last_cycle_failed(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.config.write_text(ws.config.read_text().replace('path = "state.json"',
                                                       'path = "state/state.json"'))
    (ws.root / "state").mkdir()
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    (ws.root / "b1.ics").write_text(event_ics("b1", "Coffee chat with Bo",
                                              NOW - timedelta(hours=1), ("Bo", "bo@x.org")))
    cc = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "daemon", "--config",
                                           str(ws.config)))
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    done = subprocess.run([*unshare, "sh", "-c", FULL_DISK.format(cc=cc)], cwd=ws.root,
                          env=environment(ws.root), capture_output=True, text=True,
                          timeout=300, check=False)
    out = done.stdout
    assert "first run failed" not in out and "went through" not in out, out + done.stderr
    assert "FAILED: " in out and "No space left on device" in out, out
    accounts = out.split("Contacts:")[0]
    assert " ok " not in accounts and "last synced" in accounts
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]


def test_a_planned_cycle_long_past_is_overdue_and_nothing_is_shown_ok() -> None:
    synced = AccountHealth(name="personal", at=NOW - timedelta(hours=3), ok=True, message="",
                           drafted=1)
    health = Health(accounts=[synced], next_cycle=NOW - timedelta(hours=2, minutes=55))
    nothing = Plan((), (), ())
    text = status_text(health, [], {}, nothing, ZoneInfo("UTC"), now=NOW)
    assert "no cycle has gone through since the one planned for" in text
    assert "journalctl" in text and " ok " not in text.split("Contacts:")[0]
    assert status_json(health, [], {}, nothing, now=NOW)["overdue"] is True
    on_time = status_text(health, [], {}, nothing, ZoneInfo("UTC"),
                          now=NOW - timedelta(hours=2, minutes=56))
    assert "personal     last cycle" in on_time and " ok " in on_time


HOLDER = ("import sys; from pathlib import Path; from daemon.state.locks import write_lock\n"
          "with write_lock(Path(sys.argv[1])):\n print('held', flush=True); sys.stdin.read()")


def test_contact_stop_waits_for_a_running_cycle_to_finish(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW + timedelta(days=9), ("Ana", "ana@x.org"))
    assert ws.run("run", "--once").returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ws.root / "state.json")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"  # a "cycle" holds the state
        stop = ws.popen("contact", "stop", "ana@x.org")
        assert stop.stderr is not None
        assert "waiting for it to finish" in stop.stderr.readline()
        assert stop.poll() is None  # it waits (the lock is held until the holder is told)
        holder.stdin.close()  # the cycle ends, however long it took
        out, err = stop.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert stop.returncode == 0, err
    assert "Stopped: no more drafts to ana@x.org" in out
    assert '"stopped"' in (ws.root / "state.json").read_text()
