"""Settled history through the real commands: a cycle moves years of meetings out of the
state, and ``plan``, ``status``, ``contacts`` and ``doctor`` say what they said before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from daemon.state.store import Store
from tests.e2e.workspace import Workspace

pytestmark = pytest.mark.slow


def test_a_cycle_settles_old_meetings_and_the_commands_still_count_them(
        tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(12):  # a coffee with Ana every month for a year, which ended 4 months ago
        ws.add_event(f"ana{i}", "Coffee chat with Ana", now - timedelta(days=480 - 30 * i),
                     ("Ana Li", "ana@x.org"))
    ws.add_event("ben0", "Coffee chat with Ben", now - timedelta(days=300),
                 ("Ben Ode", "ben@x.org"))
    ws.add_event("ana-next", "Coffee chat with Ana", now + timedelta(days=10),
                 ("Ana Li", "ana@x.org"))
    first = ws.run("run", "--once")
    assert first.returncode == 0, first.stderr
    state = json.loads((ws.root / "state.json").read_text("utf-8"))
    settled = orjson.loads((ws.root / "state.settled.json").read_bytes())
    kept = {doc["uid"] for doc in state["meetings"].values()}
    # Ana's latest held meeting (her catch-ups count from it), the next one, and Ben's only.
    assert kept == {"ana11", "ana-next", "ben0"}
    assert {doc["uid"] for doc in settled["meetings"].values()} >= {f"ana{i}" for i in range(11)}
    store = Store(ws.root / "state.json")
    assert len(store.interviews(settled=True)) == 14
    contacts = ws.run("contacts")
    assert contacts.returncode == 0, contacts.stderr
    [ana] = [line for line in contacts.stdout.splitlines() if "ana@x.org" in line]
    assert ana.split()[4] == "13"  # every meeting counted, settled or not
    status = ws.run("status", "--json")
    assert status.returncode == 0, status.stderr
    [row] = [r for r in json.loads(status.stdout)["contacts"] if r["email"] == "ana@x.org"]
    assert row["meetings"] == 13
    assert [d["kind"] for d in json.loads(status.stdout)["drafts"]] == ["catch_up"]
    plan = json.loads(ws.run("plan", "--json").stdout)
    assert plan["due"] == []
    assert sorted((s["kind"], s["recipient"]) for s in plan["upcoming"]) == [
        ("catch_up", "ben@x.org"), ("confirmation", "ana@x.org"), ("follow_up", "ana@x.org"),
        ("thank_you", "ana@x.org")]
    assert all("ana-next" in s["key"] for s in plan["upcoming"] if s["recipient"] == "ana@x.org")
    doctor = ws.run("doctor")
    assert doctor.returncode == 0, doctor.stdout
    # The next cycle has nothing new to move: neither file's meetings or records change.
    def tables() -> list[object]:
        state = json.loads((ws.root / "state.json").read_text("utf-8"))
        return [state["meetings"], state["drafts"],
                (ws.root / "state.settled.json").read_bytes()]
    before = tables()
    assert ws.run("run", "--once").returncode == 0
    assert tables() == before
