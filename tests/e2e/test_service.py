"""``coffeechat run`` as a service: systemd notifications, signals, reloads."""

from __future__ import annotations

import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.workspace import Workspace

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC)


PATIENCE = 60.0
"""How long a test waits for an event before it fails: far beyond any loaded machine."""


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def received_until(sock: socket.socket, done: Callable[[list[str]], bool],
                   seconds: float = PATIENCE) -> list[str]:
    """The lines the service sent, read until ``done(lines)`` holds; fails after ``seconds``."""
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while not done(lines):
        if time.monotonic() > deadline:
            raise AssertionError(f"the service never sent what was awaited; it sent {lines}")
        try:
            lines.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return lines


def ready(lines: list[str]) -> bool:
    """READY=1 was sent: the signal handlers are installed."""
    return "READY=1" in lines


class StderrLog:
    """A running service's log lines, read as they come, so a test can wait for one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, seconds: float = PATIENCE) -> None:
        """Return once a line containing ``text`` has been logged; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"never logged {text!r}: {''.join(self.seen)}") from None

    def text(self) -> str:
        """Everything logged, once the process has ended."""
        self.thread.join(timeout=PATIENCE)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


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

    def status_then_three_pings(lines: list[str]) -> bool:
        done = [n for n, line in enumerate(lines) if line.startswith("STATUS=last cycle")]
        return bool(done) and lines[done[0]:].count("WATCHDOG=1") >= 3

    try:
        lines = received_until(notify_socket, status_then_three_pings)
    finally:
        code, seconds, err = stop(service)
    assert "READY=1" in lines
    assert any(line.startswith("STATUS=last cycle") and "1 drafted" in line for line in lines)
    assert code == 0 and seconds < 5
    assert "STOPPING=1" in received_until(notify_socket, lambda got: "STOPPING=1" in got)
    # under journald: a priority prefix, and no timestamp of our own (journald adds it)
    assert err.splitlines() and all(line[:3] in ("<3>", "<4>", "<6>", "<7>")
                                    for line in err.splitlines())
    assert "<6>daemon.cycle.executor: drafted thank_you" in err


def test_sighup_keeps_the_old_config_when_the_new_one_is_broken(
        tmp_path: Path, notify_socket: socket.socket) -> None:
    ws = Workspace.create(tmp_path / "w")
    service = ws.popen("run", env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    log = StderrLog(service)
    try:
        received_until(notify_socket, ready)
        good = ws.config.read_text()
        ws.config.write_text(good.replace("America/Chicago", "Mars/Olympus"))
        service.send_signal(signal.SIGHUP)
        log.wait_for("keeping the old one")
        assert service.poll() is None
        ws.config.write_text(good.replace("poll_minutes = 5", "poll_minutes = 10"))
        service.send_signal(signal.SIGHUP)
        log.wait_for("config reloaded")
        assert service.poll() is None
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=15)
    err = log.text()
    assert service.returncode == 0
    assert "keeping the old one" in err and "me.timezone" in err


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
