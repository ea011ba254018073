"""Checks of :mod:`bench.rest` (run with ``pytest bench/``): it counts what it says, on a
short run."""

from __future__ import annotations

from pathlib import Path

from bench import rest


def test_an_idle_day_is_counted_by_the_loop_s_own_wake_ups(tmp_path: Path) -> None:
    woke = rest.wakeups_per_idle_day(tmp_path)
    # about one wake-up per cycle (every 5 min +-10%) and per watchdog ping (150 s)
    assert 86_400 / 330 <= woke["cycles"] <= 86_400 / 270 + 2
    assert woke["pings"] >= 86_400 / 150
    assert woke["wakeups"] <= woke["cycles"] + woke["pings"] + 2
    assert woke["met"] is (woke["wakeups"] <= rest.TARGET_WAKEUPS)
    without = rest.wakeups_per_idle_day(tmp_path, ping_every=None)
    assert without["pings"] == 0 and without["wakeups"] <= without["cycles"] + 2


def test_a_short_run_reports_kept_and_fresh_cycles_for_each_connector(tmp_path: Path) -> None:
    scenarios = rest.measure(tmp_path, events=40, cycles=6, warm=2, fresh_cycles=2)
    cycles = {s["kind"]: s for s in scenarios if s["scenario"] == "rest_idle_cycle"}
    assert sorted(cycles) == sorted(rest.KINDS)
    for figures in cycles.values():
        assert figures["kept"]["accounts_opened"] == 1  # kept: opened once for every cycle
        assert figures["kept"]["cycles"] == 6 and figures["fresh"]["cycles"] == 2
        assert figures["kept"]["wall_ms"] > 0 and figures["fresh"]["wall_ms"] > 0
    assert "met" in cycles["google"]
    assert "| google |" in rest.markdown(scenarios)
