"""The systemd user unit: valid for systemd, installed with the right command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.app.unit import DEFAULT_EXEC, unit_text
from tests.e2e.workspace import Workspace, coffeechat

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_unit_is_the_shipped_file_with_the_command_filled_in() -> None:
    shipped = (ROOT / "systemd" / "coffeechat.service").read_text()
    assert unit_text(DEFAULT_EXEC) == shipped
    made = unit_text("/opt/cc/bin/coffeechat --config /home/sam/c.toml")
    assert made == shipped.replace(f"ExecStart={DEFAULT_EXEC} run",
                                   "ExecStart=/opt/cc/bin/coffeechat --config /home/sam/c.toml run")
    assert made != shipped


def test_service_install_writes_a_unit_that_systemd_accepts(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed: apt-get install systemd"
    ws = Workspace.create(tmp_path / "w")
    done = ws.run("service", "install")
    assert done.returncode == 0, done.stderr
    unit = ws.root / "xdg-config" / "systemd" / "user" / "coffeechat.service"
    text = unit.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(f"--config {ws.config.resolve()} run")
    assert "Type=notify" in text and "WatchdogSec=" in text
    # verify exits 0 even on unknown keys, so any output at all is a failure. It also runs
    # `man` for the unit's Documentation=man:coffeechat(1): the shipped page, where the wheel
    # installs it (share/man/man1), must be found.
    assert "Documentation=man:coffeechat(1)" in text
    man1 = tmp_path / "share" / "man" / "man1"
    man1.mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "coffeechat.1", man1)
    env = dict(os.environ, MANPATH=str(tmp_path / "share" / "man"))
    checked = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                             check=False, env=env)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    unfound = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                             check=False, env=dict(env, MANPATH=str(tmp_path / "nowhere")))
    assert "coffeechat" in unfound.stdout + unfound.stderr  # the check is real
    again = ws.run("service", "install")
    assert again.returncode == 1 and "--force" in again.stderr


def test_service_install_refuses_a_broken_config(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[me]\n")
    result = coffeechat("--config", str(tmp_path / "c.toml"), "service", "install",
                        cwd=tmp_path)
    assert result.returncode == 2
    assert not (tmp_path / "xdg-config" / "systemd").exists()
