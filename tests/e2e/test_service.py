"""``coffeechat run`` as a service: systemd notifications, signals, reloads."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.workspace import Workspace

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def received(sock: socket.socket, seconds: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            lines.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return lines


def stop(process: subprocess.Popen[str]) -> tuple[int, float, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=15)
    return process.returncode, time.monotonic() - started, err


def test_ready_status_and_watchdog_reach_systemd(tmp_path: Path,
                                                 notify_socket: socket.socket) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    service = ws.popen("run", env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
                                   "WATCHDOG_USEC": "400000", "JOURNAL_STREAM": "8:123"})
    try:
        lines = received(notify_socket, 4)
    finally:
        code, seconds, err = stop(service)
    assert "READY=1" in lines
    assert any(line.startswith("STATUS=last cycle") and "1 drafted" in line for line in lines)
    assert lines.count("WATCHDOG=1") >= 3
    assert code == 0 and seconds < 5
    assert "STOPPING=1" in received(notify_socket, 0.5)
    # under journald: a priority prefix, and no timestamp of our own (journald adds it)
    assert err.splitlines() and all(line[:3] in ("<3>", "<4>", "<6>", "<7>")
                                    for line in err.splitlines())
    assert "<6>daemon.executor: drafted thank_you" in err


def test_sighup_keeps_the_old_config_when_the_new_one_is_broken(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    service = ws.popen("run")
    try:
        time.sleep(1.5)
        good = ws.config.read_text()
        ws.config.write_text(good.replace("America/Chicago", "Mars/Olympus"))
        service.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert service.poll() is None
        ws.config.write_text(good.replace("poll_minutes = 5", "poll_minutes = 10"))
        service.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert service.poll() is None
    finally:
        code, _, err = stop(service)
    assert code == 0
    assert "keeping the old one" in err and "me.timezone" in err
    assert "config reloaded" in err


SILENT_ACCOUNT = """
[[accounts]]
name = "stuck"
kind = "google"
calendar_id = "primary"
api_root = "http://127.0.0.1:{port}/"
token_command = '{command}'
timeout_seconds = 60
"""


def test_sigterm_abandons_a_stuck_cycle_and_exits_0_within_5_seconds(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    with socket.socket() as silent:  # takes connections and never answers: the cycle blocks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        command = f"{shlex.quote(sys.executable)} -c \"print(20260304)\""
        ws.config.write_text(ws.config.read_text() + SILENT_ACCOUNT.format(
            port=silent.getsockname()[1], command=command))
        service = ws.popen("run")
        silent.settimeout(60)
        waiting, _ = silent.accept()  # the cycle's request has arrived: it is stuck now
        with waiting:
            code, seconds, err = stop(service)
    assert code == 0, err
    assert seconds < 5
    assert "abandoned" in err
