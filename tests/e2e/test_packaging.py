"""The wheel carries the default templates; a non-editable install finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KINDS = ("confirmation", "thank_you", "follow_up", "catch_up")


def test_a_built_wheel_ships_and_finds_the_templates(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("coffeechat-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for kind in KINDS:
        assert f"daemon/templates/{kind}.txt" in names
    assert "connectors/local/__init__.py" in names
    assert "daemon/systemd/coffeechat.service" in names
    # the man page, where pipx (and pip) install it: <prefix>/share/man/man1
    page = next(n for n in names if n.endswith(".data/data/share/man/man1/coffeechat.1"))
    assert zipfile.ZipFile(wheel).read(page) == (ROOT / "docs" / "coffeechat.1").read_bytes()
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    script = (
        "import sys, daemon\n"
        "assert daemon.__file__.startswith(sys.argv[1]), daemon.__file__\n"
        "from daemon.mail.templates import Renderer\n"
        "from importlib.resources import files\n"
        "from daemon.app.unit import unit_text\n"
        "assert 'Type=notify' in unit_text('coffeechat')\n"
        "print(files('daemon.templates'))\n"
    )
    ran = subprocess.run([sys.executable, "-c", script, str(target)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith(str(target))
    preview = subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(tmp_path / "c.toml"), "init"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert preview.returncode == 0, preview.stderr
    for kind in KINDS:
        shown = subprocess.run(
            [sys.executable, "-m", "daemon", "--config", str(tmp_path / "c.toml"), "preview",
             kind], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert shown.returncode == 0, shown.stderr
        assert "Subject:" in shown.stdout
