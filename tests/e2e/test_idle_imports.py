"""An idle cycle imports only what it uses (issue 18): with nothing to render and no file
changed, ``run --once`` loads neither the templates' engine, nor the iCalendar reader, nor
the config's validation."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.app.demo import build_workspace

pytestmark = pytest.mark.slow
HEAVY = ("jinja2", "icalendar", "recurring_ical_events", "pydantic")
SCRIPT = f"""
import sys
from daemon.app.cli import main
sys.argv = ["coffeechat", "--config", sys.argv[1], "run", "--once"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print(" ".join(name for name in {HEAVY!r} if name in sys.modules) or "none")
"""


def cycle(config: Path, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], cwd=cwd,
                          capture_output=True, text=True, check=False, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_an_idle_local_cycle_loads_no_parser_templates_or_validation(tmp_path: Path) -> None:
    config = build_workspace(tmp_path / "ws", datetime.now(UTC), "Europe/Berlin")
    first = cycle(config, tmp_path)  # drafts: renders them and reads every file
    assert set(first.split()) >= {"jinja2", "icalendar", "pydantic"}, first
    # the next cycles find nothing to do: whether or not the folder is listed again (a listing
    # made within seconds of its last change is), no file is read and nothing is rendered
    assert [cycle(config, tmp_path) for _ in range(2)] == ["none", "none"]
