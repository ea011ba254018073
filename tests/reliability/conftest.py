"""The reliability suite records its figures here and prints them as one table at the end."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[tuple[str, dict[str, object]]] = []

Record = Callable[[str, dict[str, object]], None]


@pytest.fixture
def figures() -> Record:
    """Call with a scenario name and its counts; they appear in the end-of-run table."""
    def record(scenario: str, values: dict[str, object]) -> None:
        _FIGURES.append((scenario, values))
    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for scenario, values in _FIGURES:
        cells = ", ".join(f"{name} {value}" for name, value in values.items())
        terminalreporter.write_line(f"{scenario:<28} {cells}")
