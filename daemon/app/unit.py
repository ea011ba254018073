"""The systemd user unit that runs ``coffeechat run`` as a service."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import platformdirs

UNIT_NAME = "coffeechat.service"
DEFAULT_EXEC = "%h/.local/bin/coffeechat"
"""Where ``pipx install`` or ``pip install --user`` puts the command."""


def unit_text(exec_start: str) -> str:
    """The unit, running ``exec_start`` (a command line; ``run`` is appended)."""
    return f"""\
# coffeechat: informational-interview drafts from your calendar, as a user service.
# Install with `coffeechat service install`, then: systemctl --user enable --now coffeechat
# Logs: journalctl --user -u coffeechat
[Unit]
Description=coffeechat: well-timed informational-interview drafts from your calendar
Documentation=https://pypi.org/project/coffeechat/

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start} run
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=30
# A cycle pings the watchdog from the main loop; a stuck loop is restarted.
WatchdogSec=300
TimeoutStopSec=10
# Hardening that takes effect in user units (file-system protections would need
# PrivateUsers=true in systemd 252, which hides the user's own files from the service).
NoNewPrivileges=yes
UMask=0077
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallFilter=@system-service
SystemCallArchitectures=native
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes

[Install]
WantedBy=default.target
"""


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
