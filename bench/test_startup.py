"""Checks of :mod:`bench.startup` (run with ``pytest bench/``): a short run reports both medians
and their ratio, for the local and the Google scenario."""

from __future__ import annotations

from pathlib import Path

from bench import startup


def test_a_short_run_reports_run_once_beside_a_bare_interpreter(tmp_path: Path) -> None:
    scenario = startup.measure_local(tmp_path, runs=1)
    figures = scenario["median"]
    assert figures["run_once_s"] > figures["bare_python_s"] > 0
    ratio = figures["run_once_s"] / figures["bare_python_s"]
    assert abs(scenario["ratio"] - ratio) <= 0.1
    assert scenario["met"] is (scenario["ratio"] <= startup.TARGET_RATIO)
    assert "| at most 12x |" in startup.markdown([scenario])


def test_the_google_run_once_is_set_beside_a_script_sending_its_one_request(
        tmp_path: Path) -> None:
    # measure_google itself asserts that the idle cycle sent exactly one events listing with
    # the sync token, and that the script's copy of it reached the fake and came back 200
    # with nothing changed.
    scenario = startup.measure_google(tmp_path, runs=2)
    assert scenario["drafted_first"] > 0  # the first run --once synced and drafted
    assert scenario["requests_per_run"] == 1
    figures = scenario["median"]
    # both do the same request; coffeechat imports and checks more
    assert figures["run_once_s"] > figures["minimal_requests_s"] > 0
    ratio = figures["run_once_s"] / figures["minimal_requests_s"]
    assert abs(scenario["ratio"] - ratio) <= 0.01
    assert scenario["met"] is (scenario["ratio"] <= startup.GOOGLE_TARGET_RATIO)
    assert "| at most 2.5x |" in startup.markdown([scenario])


def test_measure_runs_both_scenarios_in_one_run(tmp_path: Path) -> None:
    scenarios = startup.measure(tmp_path, runs=1)
    assert [s["connector"] for s in scenarios] == ["local", "google"]
