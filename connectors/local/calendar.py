"""A calendar read from a vdir (a folder of .ics files, as vdirsyncer and khal keep them) or
from one .ics file.

Incremental sync rests on the files' size and modification time: a file whose ``mtime_ns`` and
size are those recorded in the cursor is not opened at all. Before even that, the folder's own
metadata is compared (as khal does): a file added, removed or rewritten the way vdir tools
write (a temporary file renamed over the old one) changes the folder's modification time, so a
folder that shows no change since the last listing is not listed again, and an idle sync costs
the same at 50,000 files as at 1,000. A tool that rewrites a file in place leaves the folder as
it was: every file is listed and compared anyway at least every ``full_check_minutes`` (60 by
default; 0 lists every cycle).

Each file is read by :mod:`connectors.local.ics`; the cursor is :mod:`connectors.local.cursor`.

Bad input never breaks a sync: an unreadable or malformed file is skipped with a warning and
keeps the meetings it had (a broken file must not cancel anything); a bad event inside a good
file is skipped with a warning and its siblings still count.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from connectors.base import ConnectorEnv
from connectors.local.cursor import FileEntry, FolderStamp, SyncState, read_listed_at
from connectors.local.ics import MalformedCalendar, parse_file
from connectors.local.mapping import occurrence_start
from connectors.local.window import Window
from daemon.errors import ConnectorError, CursorExpired
from daemon.model import JSON, Change, Meeting, Removed

log = logging.getLogger(__name__)

DEFAULT_HISTORY_DAYS = 400
DEFAULT_HORIZON_DAYS = 365
DEFAULT_FULL_CHECK_MINUTES = 60

Reader = Callable[[Path], bytes]
"""Reads one calendar file; injected so tests can see which files are opened."""


def read_file(path: Path) -> bytes:
    """Return the bytes of ``path`` (the default :data:`Reader`); raises ``OSError``."""
    return path.read_bytes()


# --- the calendar source -----------------------------------------------------------------


class _Stat(NamedTuple):
    """A calendar file as listed: its folder and name (the path is only made when the file is
    read: listing 50,000 files must not build 50,000 paths), size and time."""

    folder: Path
    name: str
    mtime_ns: int
    size: int

    @property
    def path(self) -> Path:
        """The file's path."""
        return self.folder / self.name


FileClock = Callable[[], int]
"""Returns the time the file system stamps changes with, in ns since the epoch (injected so
tests can say how long ago the folder changed)."""


class VdirCalendar:
    """A :class:`connectors.base.CalendarSource` over a vdir folder or one .ics file."""

    def __init__(
        self,
        path: Path,
        env: ConnectorEnv,
        *,
        account: str = "",
        history_days: int = DEFAULT_HISTORY_DAYS,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        full_check_minutes: int = DEFAULT_FULL_CHECK_MINUTES,
        reader: Reader = read_file,
        file_clock: FileClock = time.time_ns,
    ) -> None:
        """Remember where the calendar is; nothing is read until :meth:`changes`."""
        self._path = path
        self._env = env
        self._account = account
        self._history_days = history_days
        self._horizon_days = horizon_days
        self._full_check = timedelta(minutes=full_check_minutes)
        self._read = reader
        self._file_clock = file_clock

    def window(self) -> Window:
        """Return the expansion window around today (the injected clock, in the user's zone)."""
        now = self._env.clock()
        if now.tzinfo is None:
            raise ValueError("the injected clock must return an aware datetime")
        today = now.astimezone(self._env.timezone).date()
        return Window.around(today, self._history_days, self._horizon_days)

    def changes(self, cursor: JSON | None) -> Generator[Change, None, JSON]:
        """Yield the meetings of new and changed files, a file at a time, then ``Removed`` for
        meetings that left a changed or deleted file; return the new cursor. ``cursor=None``
        reads every file.

        When the folder shows no change since the cursor's listing, in the same zone and
        window, and that listing is less than ``full_check_minutes`` old, nothing is listed:
        the cursor is returned as it was. Otherwise every file is listed, and unchanged files
        (same ``mtime_ns`` and size) are not opened, except that files holding a series are
        expanded again when the window has moved by a day, which adds the occurrences that
        came into reach; occurrences that fell out of the window are not reported as removed.
        A file that cannot be read keeps its meetings.

        Raises ``CursorExpired`` for a cursor this class did not make, and ``ConnectorError``
        when the calendar path does not exist or cannot be listed.
        """
        tz = self._env.timezone
        window = self.window()
        started = self._file_clock()
        top = self._stat_calendar()
        # a single file has no stamp, and with full_check_minutes = 0 it would never be used
        stamp = (FolderStamp.of(top) if stat.S_ISDIR(top.st_mode)
                 and self._full_check > timedelta(0) else None)
        now = self._env.clock().astimezone(UTC)
        if cursor is not None and self._still_current(cursor, SyncState(str(tz), window,
                                                                         folder=stamp), now):
            return cursor
        previous = SyncState.from_json(cursor) if cursor is not None else None
        listing = self._list_files(top)
        folder = self._settled(stamp, started)
        same_zone = previous is not None and previous.timezone == str(tz)
        window_moved = previous is None or previous.window != window
        old_files = previous.files if previous is not None else {}

        files: dict[str, FileEntry] = {}
        gone: set[str] = set()
        retry = False
        for name, found in sorted(listing.items()):
            old = old_files.get(name)
            unchanged = (same_zone and old is not None and old.mtime_ns == found.mtime_ns
                         and old.size == found.size)
            if old is not None and unchanged and not (old.recurring and window_moved):
                files[name] = old
                continue
            entry, meetings = self._read_one(found, old, window)
            files[name] = entry
            # not recorded at its current size and time: it could not be read, try again
            retry = retry or (entry.mtime_ns, entry.size) != (found.mtime_ns, found.size)
            if old is not None and unchanged:
                # Only the window moved: the file's events are as they were; report newcomers.
                known = set(old.uids)
                meetings = [m for m in meetings if m.uid not in known]
            yield from meetings
            if old is not None:
                gone.update(set(old.uids) - set(entry.uids))
        for name in old_files.keys() - listing.keys():
            gone.update(old_files[name].uids)

        still_here = {uid for entry in files.values() for uid in entry.uids}
        for uid in sorted(gone - still_here):
            when = occurrence_start(uid)
            if when is None or window.holds(when, tz):
                yield Removed(uid)
        if retry:
            folder = None  # a file waits to be read again: the next sync must list
        elif folder is None and stamp is not None:
            folder = self._confirmed(listing)
        return SyncState(str(tz), window, files, folder,
                         None if folder is None else now).to_json()

    def _still_current(self, cursor: JSON, now_state: SyncState, now: datetime) -> bool:
        """Whether ``cursor`` describes the calendar as it is: the folder shows no change since
        the cursor's listing (``now_state`` holds its stamp now), the zone and window are the
        same, and the listing is less than ``full_check_minutes`` old."""
        if now_state.folder is None:
            return False
        if not isinstance(cursor, dict) or any(
                cursor.get(key) != value for key, value in now_state.header().items()):
            return False
        try:
            listed_at = read_listed_at(cursor.get("listed_at"))
        except CursorExpired:
            return False
        return listed_at is not None and listed_at <= now < listed_at + self._full_check

    def _settled(self, before: FolderStamp | None, started: int) -> FolderStamp | None:
        """The folder's stamp, if the listing just made (begun at ``started`` by the file
        clock) can be trusted to match it: the folder did not change while it was listed, and
        had last changed long enough before the listing began that a change since would show a
        new time. ``None`` otherwise, and when there is no stamp to keep (``before``)."""
        if before is None:
            return None
        try:
            after = FolderStamp.of(self._path.stat())
        except OSError:
            return None
        return after if after == before and after.settled_at(started) else None

    def _confirmed(self, listing: dict[str, _Stat]) -> FolderStamp | None:
        """After a listing too close to a change of the folder to be trusted: if the folder
        has settled since (a long first sync), list it once more and return its stamp when
        nothing changed; ``None`` otherwise (the next sync lists it). This spares the next,
        idle, cycle a rewrite of the state only to record the stamp."""
        started = self._file_clock()
        try:
            top = self._path.stat()
        except OSError:
            return None
        stamp = FolderStamp.of(top)
        if not stamp.settled_at(started):
            return None
        try:
            again = self._list_files(top)
        except ConnectorError:
            return None
        return self._settled(stamp, started) if again == listing else None

    def _read_one(self, found: _Stat, old: FileEntry | None,
                  window: Window) -> tuple[FileEntry, list[Meeting]]:
        """Read one file; when it cannot be read, keep what the cursor knew of it."""
        kept_uids = old.uids if old is not None else ()
        kept_recurring = old.recurring if old is not None else False
        try:
            data = self._read(found.path)
        except OSError as exc:
            log.warning("calendar file %s cannot be read (%s); keeping its meetings as they "
                        "were and trying again next time", found.path, exc.strerror or exc)
            # Record no size and time, so the next sync reads it again (even when only the
            # window moved); its meetings are kept meanwhile.
            if old is None:
                return FileEntry(-1, -1, (), False, True), []
            return old._replace(mtime_ns=-1, size=-1), []
        try:
            parsed = parse_file(data, path=found.path, tz=self._env.timezone, window=window)
        except MalformedCalendar as exc:
            log.warning("calendar file %s skipped: it is not a valid iCalendar file (%s); its "
                        "meetings are kept as they were until it is fixed", found.path, exc)
            return FileEntry(found.mtime_ns, found.size, kept_uids, kept_recurring, True), []
        uids = tuple(meeting.uid for meeting in parsed.meetings)
        return FileEntry(found.mtime_ns, found.size, uids, parsed.recurring), list(parsed.meetings)

    def _stat_calendar(self) -> os.stat_result:
        """Return the calendar path's ``stat``; raises ``ConnectorError`` when it is missing or
        cannot be read."""
        path = self._path
        try:
            return path.stat()
        except FileNotFoundError:
            raise ConnectorError(
                f"{self._who()}the calendar {path} does not exist: fix `calendar` in the "
                "config so that it names a folder of .ics files (a vdir) or one .ics file"
            ) from None
        except OSError as exc:
            raise ConnectorError(
                f"{self._who()}the calendar {path} cannot be read ({exc.strerror}): check its "
                "permissions, or fix `calendar` in the config"
            ) from exc

    def _list_files(self, top: os.stat_result) -> dict[str, _Stat]:
        """Return the calendar's .ics files by name with their size and time (``top`` is the
        calendar path's ``stat``).

        Raises ``ConnectorError`` when the folder cannot be listed.
        """
        path = self._path
        if not stat.S_ISDIR(top.st_mode):
            return {path.name: _Stat(path.parent, path.name, top.st_mtime_ns, top.st_size)}
        found: dict[str, _Stat] = {}
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.name.lower().endswith(".ics"):
                        continue
                    try:
                        if not entry.is_file():
                            continue
                        info = entry.stat()
                    except OSError:
                        continue  # removed while we listed: the next sync will see it gone
                    found[entry.name] = _Stat(path, entry.name, info.st_mtime_ns, info.st_size)
        except OSError as exc:
            raise ConnectorError(
                f"{self._who()}the calendar folder {path} cannot be listed ({exc.strerror}): "
                "check its permissions, or fix `calendar` in the config"
            ) from exc
        return found

    def _who(self) -> str:
        return f"account {self._account!r}: " if self._account else ""


__all__ = [
    "DEFAULT_FULL_CHECK_MINUTES",
    "DEFAULT_HISTORY_DAYS",
    "DEFAULT_HORIZON_DAYS",
    "FileClock",
    "Reader",
    "VdirCalendar",
    "read_file",
]
