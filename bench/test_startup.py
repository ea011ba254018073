"""Checks of :mod:`bench.startup` (run with ``pytest bench/``): a short run reports both medians
and their ratio."""

from __future__ import annotations

from pathlib import Path

from bench import startup


def test_a_short_run_reports_run_once_beside_a_bare_interpreter(tmp_path: Path) -> None:
    [scenario] = startup.measure(tmp_path, runs=1)
    figures = scenario["median"]
    assert figures["run_once_s"] > figures["bare_python_s"] > 0
    ratio = figures["run_once_s"] / figures["bare_python_s"]
    assert abs(scenario["ratio"] - ratio) <= 0.1
    assert scenario["met"] is (scenario["ratio"] <= startup.TARGET_RATIO)
    assert "| at most 12x |" in startup.markdown([scenario])
