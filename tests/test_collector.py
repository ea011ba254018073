"""Leaving the state's objects out of the collector's passes: at once when the command ends
the process, only at exit when a test (or any embedding process) runs the command."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from daemon.core import collector


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_command_run_by_a_test_leaves_the_collector_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "_ENDS_PROCESS", False)
    monkeypatch.setattr(collector, "_AT_EXIT", [])
    registered: list[object] = []
    monkeypatch.setattr("atexit.register", registered.append)
    kept = [object() for _ in range(100)]
    collector.exempt_at_exit()
    collector.exempt_at_exit()
    assert gc.get_freeze_count() == 0 and registered == [gc.freeze]
    assert kept


def test_the_process_command_exempts_what_is_alive_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "_ENDS_PROCESS", False)
    collector.command_ends_process()
    assert collector._ENDS_PROCESS
    kept = [object() for _ in range(100)]
    collector.exempt_at_exit()
    assert gc.get_freeze_count() >= len(kept)
