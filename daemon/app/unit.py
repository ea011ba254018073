"""The systemd user unit that runs ``coffeechat run`` as a service. Its one source is
``systemd/coffeechat.service``, shipped in the wheel; ``service install`` fills in the command."""

from __future__ import annotations

import shlex
import sys
from importlib.resources import files
from pathlib import Path

import platformdirs

UNIT_NAME = "coffeechat.service"
DEFAULT_EXEC = "%h/.local/bin/coffeechat"
"""Where ``pipx install`` or ``pip install --user`` puts the command."""


def unit_text(exec_start: str) -> str:
    """The unit: ``systemd/coffeechat.service`` as shipped (package data ``daemon.systemd``),
    its ``ExecStart`` running ``exec_start`` (a command line; ``run`` is appended)."""
    shipped = (files("daemon.systemd") / UNIT_NAME).read_text("utf-8")
    line = f"ExecStart={DEFAULT_EXEC} run\n"
    if shipped.count(line) != 1:
        raise RuntimeError(f"the shipped {UNIT_NAME} has no single `{line.strip()}` line")
    return shipped.replace(line, f"ExecStart={exec_start} run\n")


def this_command(config: Path | None) -> str:
    """The command line that runs this very installation of coffeechat (with ``--config``
    when one was given), quoted for a unit file."""
    script = Path(sys.executable).parent / "coffeechat"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "daemon"]
    if config is not None:
        argv += ["--config", str(config.resolve())]
    return shlex.join(argv)


def unit_path() -> Path:
    """Where user units live: ``$XDG_CONFIG_HOME/systemd/user/coffeechat.service``."""
    return platformdirs.user_config_path("systemd") / "user" / UNIT_NAME
