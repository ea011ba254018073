"""A state folder on a read-only file system: every command that would write says so and what
to do, without a traceback, and nothing is changed; ``doctor`` finds it without writing.

The read-only file system is real: the workspace is bind-mounted read-only over itself in a
mount namespace of the command's own (``unshare``), so root cannot write there either."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.workspace import Workspace, environment

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC)
READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


def read_only(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """``coffeechat ARGS`` with the workspace mounted read-only (for that command only)."""
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    return subprocess.run([*unshare, "sh", "-c", READ_ONLY, str(ws.root), sys.executable,
                           "-m", "daemon", "--config", str(ws.config), *args], cwd=ws.root,
                          env=environment(ws.root), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("args", [("run", "--once"), ("run",), ("contact", "stop", "ana@x.org")],
                         ids=["run --once", "run", "contact stop"])
def test_a_command_that_writes_gets_a_message_and_changes_nothing(args: tuple[str, ...],
                                                                 tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    assert ws.run("run", "--once").returncode == 0
    ws.add_event("b1", "Coffee chat with Bo", NOW - timedelta(hours=2), ("Bo", "bo@x.org"))
    state = (ws.root / "state.json").read_bytes()
    result = read_only(ws, *args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot write in {ws.root} (it is on a read-only file system)" in result.stderr
    assert "[state] path" in result.stderr
    assert (ws.root / "state.json").read_bytes() == state
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]


def test_doctor_finds_a_read_only_state_folder_without_writing(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    assert ws.run("run", "--once").returncode == 0
    writable = ws.run("doctor")
    assert f"ok    state folder           {ws.root}: writable" in writable.stdout
    result = read_only(ws, "doctor")
    assert result.returncode == 1
    assert f"FAIL  state folder           {ws.root} is on a read-only file system" \
        in result.stdout
    assert "ok    state file" in result.stdout  # it still reads
