"""Benchmark worlds: one calendar of N events behind one connector (the fake Google, the fake
Graph or a local vdir), a coffeechat workspace pointed at it, and the counters a run is
measured with (requests, drafts, calendar files read).

A world lives in its own temporary folder: config, state, templates, Maildir and XDG folders
are all inside it, so nothing of the user's (``~/.config``, ``~/.local``) is ever touched.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.events import ME, ZONE, Calendar, Event
from bench.formats import GOOGLE_TAG_COLOR, google_event, graph_event, ics_file
from bench.servers import GOOGLE_MAX_PAGE, GRAPH_MAX_TOP, BenchGoogle, BenchGraph
from tests.vdir import save

KINDS = ("google", "outlook", "local")
NAIVE_SCRIPT = Path(__file__).with_name("naive.py")
HISTORY_DAYS = 400
HORIZON_DAYS = 365
_ATIME_MARK_NS = 1_000_000_000
"""The access time calendar files are set to before a run: any file read during the run gets a
later one (``relatime`` updates an access time older than the modification time)."""

_CONFIG = """\
[me]
name = "{name}"
emails = ["{email}"]
timezone = "{zone}"
[state]
path = "state.json"
[templates]
path = "templates/"
[service]
poll_minutes = 5
[cadence]
working_hours = "any"
max_new_drafts_per_day = 0
{account}"""


def config_text(account: str) -> str:
    """A benchmark workspace's config (state, templates and zone as every world has them),
    with ``account`` (its ``[[accounts]]`` table) added."""
    return _CONFIG.format(name=ME[0], email=ME[1], zone=ZONE.key, account=account)


@dataclass(frozen=True)
class Counts:
    """What the servers and folders saw during one run."""

    requests: int
    calendar_requests: int
    drafts: int


class World(Protocol):
    """A calendar behind one connector, with a coffeechat workspace pointed at it."""

    kind: str
    calendar: Calendar
    root: Path

    @property
    def config(self) -> Path:
        """The workspace's config file."""
        ...

    @property
    def state(self) -> Path:
        """The workspace's state file."""
        ...

    def counts(self) -> Counts:
        """Requests received since :meth:`forget`, and drafts now in Drafts."""
        ...

    def forget(self) -> None:
        """Reset the request log (call before each run)."""
        ...

    def clear_drafts(self) -> None:
        """Empty the Drafts folder (before a fresh first sync)."""
        ...

    def apply(self, events: Iterable[Event]) -> None:
        """Store changed events, as the user editing their calendar would."""
        ...

    def naive_argv(self, state: Path, page_size: int | None = None) -> list[str] | None:
        """The naive poller's command line for this world (``None``: not applicable)."""
        ...

    def close(self) -> None:
        """Stop servers and remove the folder."""
        ...


class _Base:
    kind = ""

    def __init__(self, calendar: Calendar, root: Path) -> None:
        self.calendar = calendar
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "templates").mkdir(exist_ok=True)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    def _write_config(self, account: str, path: Path | None = None) -> None:
        (path or self.config).write_text(config_text(account), "utf-8")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class GoogleWorld(_Base):
    """The calendar in the fake Google; account ``gmail``, tagged colour 5."""

    kind = "google"

    def __init__(self, calendar: Calendar, root: Path) -> None:
        """Start the fake and load every event."""
        super().__init__(calendar, root)
        self.fake = BenchGoogle()
        self.fake.start()
        self.fake.put_events(google_event(e) for e in calendar.events)
        self._write_config(f"""
[[accounts]]
name = "gmail"
kind = "google"
calendar_id = "primary"
api_root = "{self.fake.api_root}"
token_command = "echo bench-token"
color_id = "{GOOGLE_TAG_COLOR}"
history_days = {HISTORY_DAYS}
timeout_seconds = 30
""")

    def counts(self) -> Counts:
        """Requests since :meth:`forget` and drafts in Gmail's Drafts."""
        calls = self.fake.calls()
        return Counts(len(calls), sum(1 for c in calls if c.path.startswith("/calendar/")),
                      len(self.fake.drafts))

    def forget(self) -> None:
        """Reset the request log and finished listings."""
        self.fake.forget()

    def clear_drafts(self) -> None:
        """Empty Drafts."""
        self.fake.drafts.clear()

    def apply(self, events: Iterable[Event]) -> None:
        """Store the changed events (each becomes a change for the sync token)."""
        self.fake.put_events(google_event(e) for e in events)

    def naive_argv(self, state: Path, page_size: int | None = None) -> list[str] | None:
        """``naive.py google``: events.list over the window, every page."""
        return [sys.executable, str(NAIVE_SCRIPT), "google", "--root", self.fake.api_root,
                "--token", "bench-token", "--state", str(state),
                "--history-days", str(HISTORY_DAYS), "--horizon-days", str(HORIZON_DAYS),
                "--page-size", str(page_size or GOOGLE_MAX_PAGE)]

    def close(self) -> None:
        """Stop the fake and remove the folder."""
        self.fake.stop()
        super().close()


class GraphWorld(_Base):
    """The calendar in the fake Graph; account ``work``."""

    kind = "outlook"

    def __init__(self, calendar: Calendar, root: Path) -> None:
        """Start the fake and load every event."""
        super().__init__(calendar, root)
        self.fake = BenchGraph()
        self.fake.start()
        self.fake.put_events(graph_event(e) for e in calendar.events)
        self._write_config(f"""
[[accounts]]
name = "work"
kind = "outlook"
graph_root = "{self.fake.root}"
token_command = "echo {self.fake.token}"
history_days = {HISTORY_DAYS}
horizon_days = {HORIZON_DAYS}
timeout_seconds = 30
""")

    def counts(self) -> Counts:
        """Requests since :meth:`forget` and drafts in Outlook's Drafts."""
        calls = self.fake.requested()
        return Counts(len(calls),
                      sum(1 for c in calls if "/calendarview" in c.path.lower()
                          or c.path.lower().startswith("/me/events")),
                      self.fake.drafts_count())

    def forget(self) -> None:
        """Reset the request log and unfinished listings."""
        self.fake.forget()

    def clear_drafts(self) -> None:
        """Empty Drafts."""
        self.fake.clear_drafts()

    def apply(self, events: Iterable[Event]) -> None:
        """Store the changed events (each becomes a change for the delta link)."""
        self.fake.put_events(graph_event(e) for e in events)

    def naive_argv(self, state: Path, page_size: int | None = None) -> list[str] | None:
        """``naive.py outlook``: calendarView over the window, every page."""
        return [sys.executable, str(NAIVE_SCRIPT), "outlook", "--root", self.fake.root,
                "--token", self.fake.token, "--state", str(state),
                "--history-days", str(HISTORY_DAYS), "--horizon-days", str(HORIZON_DAYS),
                "--page-size", str(page_size or GRAPH_MAX_TOP)]

    def close(self) -> None:
        """Stop the fake and remove the folder."""
        self.fake.stop()
        super().close()


class LocalWorld(_Base):
    """The calendar as a vdir, one .ics file per event (as vdirsyncer keeps it); account
    ``personal`` with a Maildir for drafts. A second config, :attr:`every_file_config`, has
    the account compare every file each cycle (``full_check_minutes = 0``)."""

    kind = "local"

    def __init__(self, calendar: Calendar, root: Path) -> None:
        """Write every event's file."""
        super().__init__(calendar, root)
        self.vdir = root / "calendar"
        self.maildir = root / "Maildir" / "Drafts"
        self.every_file_config = root / "config-every-file.toml"
        self.vdir.mkdir()
        self.apply(calendar.events)
        for path, full_check in ((self.config, 60), (self.every_file_config, 0)):
            self._write_config(f"""
[[accounts]]
name = "personal"
kind = "local"
calendar = "{self.vdir}"
drafts = "{self.maildir}"
history_days = {HISTORY_DAYS}
horizon_days = {HORIZON_DAYS}
full_check_minutes = {full_check}
""", path)

    def counts(self) -> Counts:
        """No requests (no network); drafts are the files in the Maildir."""
        drafts = sum(1 for sub in ("cur", "new") if (self.maildir / sub).is_dir()
                     for _ in (self.maildir / sub).iterdir())
        return Counts(0, 0, drafts)

    def forget(self) -> None:
        """Nothing to reset."""

    def clear_drafts(self) -> None:
        """Remove the Maildir."""
        shutil.rmtree(self.maildir.parent, ignore_errors=True)

    def apply(self, events: Iterable[Event]) -> None:
        """Write each event's file as vdirsyncer does, renamed over the old one (a new
        modification time and, mostly, size)."""
        for event in events:
            save(self.vdir / f"{event.key}.ics", ics_file(event))

    def mark_unread(self) -> None:
        """Set every calendar file's access time far in the past (modification time kept)."""
        with os.scandir(self.vdir) as entries:
            for entry in entries:
                info = entry.stat()
                os.utime(entry.path, ns=(_ATIME_MARK_NS, info.st_mtime_ns))

    def files_read(self) -> int:
        """How many calendar files were read since :meth:`mark_unread`."""
        with os.scandir(self.vdir) as entries:
            return sum(1 for entry in entries if entry.stat().st_atime_ns != _ATIME_MARK_NS)

    def naive_argv(self, state: Path, page_size: int | None = None) -> list[str] | None:
        """The naive poller reads web calendars only."""
        return None


def make_world(kind: str, calendar: Calendar, root: Path) -> World:
    """Build the world of ``kind`` (one of :data:`KINDS`) in ``root``.

    Raises ``ValueError`` for an unknown kind."""
    if kind == "google":
        return GoogleWorld(calendar, root)
    if kind == "outlook":
        return GraphWorld(calendar, root)
    if kind == "local":
        return LocalWorld(calendar, root)
    raise ValueError(f"unknown connector kind {kind!r}; use one of {', '.join(KINDS)}")
