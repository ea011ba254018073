"""Checks of :mod:`bench.precheck` (run with ``pytest bench/``): a short run reports both
first syncs and the bytes alone, with the same tagged meetings."""

from __future__ import annotations

from pathlib import Path

from bench import precheck


def test_a_short_run_reports_both_first_syncs_beside_the_bytes(tmp_path: Path) -> None:
    [scenario] = precheck.measure(tmp_path, files=200)
    figures = scenario["median"]
    assert figures["without_s"] > 0 and figures["with_s"] > 0 and figures["bytes_s"] > 0
    assert scenario["tagged_meetings"] >= 30  # the calendar's tagged share, both ways
    assert scenario["met"] is (scenario["ratio_without_to_with"] >= precheck.TARGET_RATIO)
    assert "| vdir | 200 |" in precheck.markdown([scenario])
