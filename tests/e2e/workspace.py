"""Build throw-away coffeechat workspaces (config, vdir, Maildir) and run the real command."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from connectors.base import KEY_HEADER
from tests.vdir import save


def ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_ics(uid: str, title: str, start: datetime, contact: tuple[str, str] | None,
              minutes: int = 30, description: str = "", status: str = "CONFIRMED") -> str:
    """A minimal, valid iCalendar file with one event, the user as organizer."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//coffeechat tests//EN",
             "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{ics_time(start)}",
             f"DTSTART:{ics_time(start)}",
             f"DTEND:{ics_time(start + timedelta(minutes=minutes))}",
             f"SUMMARY:{title}", f"STATUS:{status}",
             "ORGANIZER;CN=Sam Rivera:mailto:sam@example.com"]
    if description:
        lines.append("DESCRIPTION:" + description.replace("\n", "\\n"))
    if contact:
        lines.append(f'ATTENDEE;CN="{contact[0]}";PARTSTAT=ACCEPTED:mailto:{contact[1]}')
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


CONFIG = """\
[me]
name = "Sam Rivera"
emails = ["sam@example.com"]
timezone = "America/Chicago"
[state]
path = "state.json"
[templates]
path = "templates/"
[service]
poll_minutes = {poll}
[cadence]
# Tests run on the real clock on any day: drafts may fall due at any hour, without a limit.
working_hours = "any"
max_new_drafts_per_day = 0
{accounts}
"""

ACCOUNT = """
[[accounts]]
name = "{name}"
kind = "local"
calendar = "{calendar}"
drafts = "{drafts}"
"""


@dataclass
class Workspace:
    """A folder with a config, one or more vdirs and Maildirs, and a state file."""

    root: Path

    @classmethod
    def create(cls, root: Path, accounts: tuple[str, ...] = ("personal",),
               poll_minutes: float = 5) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        blocks = "".join(ACCOUNT.format(name=n, calendar=f"{n}-calendar/",
                                        drafts=f"{n}-mail/Drafts") for n in accounts)
        for name in accounts:
            (root / f"{name}-calendar").mkdir(exist_ok=True)
        (root / "config.toml").write_text(CONFIG.format(poll=poll_minutes, accounts=blocks))
        return cls(root)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def add_event(self, uid: str, title: str, start: datetime,
                  contact: tuple[str, str] | None, account: str = "personal",
                  **extra: object) -> Path:
        path = self.root / f"{account}-calendar" / f"{uid}.ics"
        save(path, event_ics(uid, title, start, contact, **extra).encode())  # type: ignore[arg-type]
        return path

    def drafts(self, account: str = "personal") -> list[EmailMessage]:
        return self.drafts_in(self.root / f"{account}-mail" / "Drafts")

    @staticmethod
    def drafts_in(folder: Path) -> list[EmailMessage]:
        found = []
        for sub in ("cur", "new"):
            for path in sorted((folder / sub).glob("*")) if (folder / sub).exists() else []:
                parsed = email.message_from_bytes(path.read_bytes(),
                                                  policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                found.append(parsed)
        return found

    def draft_keys(self, account: str = "personal") -> list[str]:
        return sorted(str(m[KEY_HEADER]) for m in self.drafts(account))

    def run(self, *args: str, check: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return coffeechat("--config", str(self.config), *args, cwd=self.root, check=check,
                          timeout=timeout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "daemon", "--config", str(self.config),
                                 *args], cwd=self.root, env={**environment(self.root),
                                                             **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def environment(home: Path) -> dict[str, str]:
    """The caller's environment, with XDG folders moved into ``home`` and no config var."""
    env = {k: v for k, v in os.environ.items() if k != "COFFEECHAT_CONFIG"}
    env.update(XDG_CONFIG_HOME=str(home / "xdg-config"), XDG_DATA_HOME=str(home / "xdg-data"),
               XDG_CACHE_HOME=str(home / "xdg-cache"), PYTHONUNBUFFERED="1")
    return env


def coffeechat(*args: str, cwd: Path, check: bool = False,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m daemon ARGS`` (what the ``coffeechat`` script runs) and capture it."""
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=cwd,
                          env=environment(cwd), capture_output=True, text=True, check=check,
                          timeout=timeout)
