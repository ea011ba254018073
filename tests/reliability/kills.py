"""Killing a ``run --once`` at a moment chosen by what it is doing, not by the clock, so the
kill tests land the same kills on an idle and on a loaded machine."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def kill_when(process: subprocess.Popen[str], landed: Callable[[], bool]) -> bool:
    """SIGKILL ``process`` as soon as ``landed()`` holds; returns False if it ended first."""
    while not landed():
        if process.poll() is not None:
            return False
        time.sleep(0.002)  # polling the folders and the fakes for the awaited moment
    process.send_signal(signal.SIGKILL)
    return True


def holds_the_run_lock(state_path: Path, pid: int) -> Callable[[], bool]:
    """A test for the moment ``pid`` has taken the run lock of ``state_path``: its cycle has
    begun and nothing is written yet."""
    lock = state_path.with_name(state_path.name + ".run.lock")

    def landed() -> bool:
        try:
            return lock.read_text().strip() == str(pid)
        except FileNotFoundError:
            return False
    return landed


def reaches(count: Callable[[], int], target: int) -> Callable[[], bool]:
    """A test for the moment ``count()`` has reached ``target`` (drafts written, requests
    made)."""
    return lambda: count() >= target
