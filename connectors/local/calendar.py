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

Files are listed and read by :mod:`connectors.local.files`, within the size limit and with
their notes by :mod:`connectors.local.reading`, their text by :mod:`connectors.local.ics`;
files that hold the same event are found and read together by :mod:`connectors.local.groups`;
the cursor is :mod:`connectors.local.cursor`.

Bad input never breaks a sync: a file that is unreadable, malformed, over ``max_file_mb`` or
not a regular file is skipped with a warning (once, not every cycle) and a
:class:`daemon.core.model.SourceNotes`, and keeps the meetings it had (a broken file must not
cancel anything); a bad event inside a good file is skipped with a warning and its siblings
still count.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import ConnectorEnv, occurrence_start
from connectors.local.cursor import FileEntry, FolderStamp, SyncState, read_listed_at
from connectors.local.files import Listed, Reader, list_calendar, read_file
from connectors.local.groups import read_group, read_together, with_events
from connectors.local.reading import MB, FileReader, Sync
from connectors.local.window import Window
from daemon.core.errors import ConnectorError, CursorExpired
from daemon.core.model import JSON, Change, Removed, SourceNotes, TaggingRules

if TYPE_CHECKING:
    from connectors.local.precheck import PreCheck

# The iCalendar reader (icalendar, recurring_ical_events) and what is built on it (ics, mapping,
# precheck) are imported where a file is read in full or pre-checked: a cycle that reads no
# file, whether it lists the folder or not, loads none of it.

DEFAULT_HISTORY_DAYS = 400
DEFAULT_HORIZON_DAYS = 365
DEFAULT_FULL_CHECK_MINUTES = 60
DEFAULT_MAX_FILE_MB = 10
"""A file larger than this is not read. A Google export of years of a busy calendar is a few
MB; a 10 MB file of events takes about 120 MB of memory to read."""

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
        max_file_mb: int = DEFAULT_MAX_FILE_MB,
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
        self._files = FileReader(env.timezone, max_file_mb, reader)
        self._file_clock = file_clock

    def window(self) -> Window:
        """Return the expansion window around today (the injected clock, in the user's zone)."""
        return Window.at(self._env.clock(), self._env.timezone, self._history_days,
                         self._horizon_days)

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        """Yield the meetings of new and changed files, a file at a time, then ``Removed`` for
        meetings that left a changed or deleted file; return the new cursor. ``cursor=None``
        reads every file.

        With ``only_tagged`` (a first sync: ``cursor=None``), a file whose text cannot hold
        an event these rules tag, and is valid UTF-8 and whole calendars
        (:mod:`connectors.local.precheck`), is not read in full: it gives no meeting and no
        notes, and the cursor keeps its size, time and the UIDs it names, so that it is read
        when it changes (and read together with a file that shares an event with it).
        Changing the rules reads every calendar again in full (the core then holds meetings,
        and gives no rules).

        When the folder shows no change since the cursor's listing, in the same zone, window
        and size limit, and that listing is less than ``full_check_minutes`` old, nothing is
        listed: the cursor is returned as it was. Otherwise every file is listed, and
        unchanged files (same ``mtime_ns`` and size) are not opened, except that files holding
        a series are expanded again when the window has moved by a day, which adds the
        occurrences that came into reach; occurrences that fell out of the window are not
        reported as removed. A file that cannot be read, or is not read (too big, not a
        regular file, a link out of the folder), keeps its meetings.

        Files that hold the same event are read together (see :mod:`connectors.local.groups`)
        whenever one of them is read or removed: the copy of each event with the highest
        SEQUENCE counts, and a meeting leaves only when no file holds it any more.

        ``SourceNotes`` say, for each file read, what it could not give (empty when it now
        reads in full, or is gone, after notes were given for it); a file refused for the same
        reason as before is not named again.

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
        limit = self._files.max_bytes
        if cursor is not None and self._still_current(
                cursor, SyncState(str(tz), window, folder=stamp, max_file=limit), now):
            return cursor
        previous = SyncState.from_json(cursor) if cursor is not None else None
        listing = self._list_files(top)
        folder = self._settled(stamp, started)
        same_zone = previous is not None and previous.timezone == str(tz)
        window_moved = previous is None or previous.window != window
        sync = Sync({name: with_events(entry) for name, entry in previous.files.items()}
                     if previous is not None else {})
        check = None
        if only_tagged is not None and previous is None:
            from connectors.local.precheck import PreCheck

            check = PreCheck(only_tagged)
        read_now, deferred = yield from self._read_changed(
            sync, listing, window, same_zone=same_zone, window_moved=window_moved,
            old_limit=previous.max_file if previous is not None else None, check=check)
        removed = sync.old.keys() - listing.keys()
        for name in sorted(removed):
            sync.gone.update(sync.old[name].uids)
            if sync.old[name].noted:
                yield SourceNotes(name, ())

        for group in read_together(sync.files, sync.old, read_now | removed, deferred):
            yield from read_group(sync, group, listing, window, read_now - deferred,
                                  self._files)

        still_here = {uid for entry in sync.files.values() for uid in entry.uids}
        for uid in sorted(sync.gone - still_here):
            when = occurrence_start(uid)
            if when is None or window.holds(when, tz):
                yield Removed(uid)
        if any(entry.mtime_ns < 0 for entry in sync.files.values()):
            folder = None  # a file waits to be read again: the next sync must list
        elif folder is None and stamp is not None:
            folder = self._confirmed(listing)
        return SyncState(str(tz), window, sync.files, folder,
                         None if folder is None else now, self._files.max_bytes).to_json()

    def _read_changed(self, sync: Sync, listing: dict[str, Listed], window: Window, *,
                      same_zone: bool, window_moved: bool, old_limit: int | None,
                      check: PreCheck | None = None
                      ) -> Generator[Change, None, tuple[set[str], set[str]]]:
        """Read each new or changed file alone and report what it gives, except a file that
        holds an event another file held at the last sync: it is to be read again with that
        file. Return the names read, and of those the names held back. With ``check``, a
        file it turns away is not read in full (see :meth:`changes`)."""
        read_now: set[str] = set()
        deferred: set[str] = set()
        holders_before: dict[str, int] | None = None
        for name, found in sorted(listing.items()):
            old = sync.old.get(name)
            if old is not None and not self._must_read(found, old, same_zone, window_moved,
                                                       old_limit):
                sync.files[name] = old
                continue
            read_now.add(name)
            reading = self._files.read_alone(found, old, window, check)
            if not reading.entry.broken and sync.old:
                if holders_before is None:
                    holders_before = _holders(sync.old)
                own = old.events if old is not None else ()
                if any(holders_before.get(key, 0) > (key in own)
                       for key in {*reading.entry.events, *own}):
                    deferred.add(name)
                    sync.files[name] = reading.entry
                    continue
            # Only the window moved: the file's events are as they were; report newcomers.
            known = (frozenset(old.uids) if old is not None and same_zone and not old.broken
                     and (old.mtime_ns, old.size) == (found.mtime_ns, found.size)
                     else frozenset())
            yield from sync.deliver(name, reading, old.uids if old is not None else (), known)
        return read_now, deferred

    def _must_read(self, found: Listed, old: FileEntry, same_zone: bool, window_moved: bool,
                   old_limit: int | None) -> bool:
        """Whether a file the cursor knows is read again: it changed (or the zone did), or it
        holds a series and the window moved, or it was too big and the limit was raised so
        that it fits. A file that was not read for its content (malformed, refused) is not
        read again until it changes."""
        if not same_zone or (old.mtime_ns, old.size) != (found.mtime_ns, found.size):
            return True
        if old.broken:
            return old_limit is not None and old_limit < old.size <= self._files.max_bytes
        return old.recurring and window_moved

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

    def _confirmed(self, listing: dict[str, Listed]) -> FolderStamp | None:
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

    def _list_files(self, top: os.stat_result) -> dict[str, Listed]:
        """Return the calendar's .ics files by name (see :func:`list_calendar`); raises
        ``ConnectorError`` when the folder cannot be listed."""
        try:
            return list_calendar(self._path, top)
        except OSError as exc:
            raise ConnectorError(
                f"{self._who()}the calendar folder {self._path} cannot be listed "
                f"({exc.strerror}): check its permissions, or fix `calendar` in the config"
            ) from exc

    def _who(self) -> str:
        return f"account {self._account!r}: " if self._account else ""


def _holders(files: dict[str, FileEntry]) -> dict[str, int]:
    """How many files hold each event."""
    counts: dict[str, int] = {}
    for entry in files.values():
        for key in entry.events:
            counts[key] = counts.get(key, 0) + 1
    return counts


__all__ = [
    "DEFAULT_FULL_CHECK_MINUTES",
    "DEFAULT_HISTORY_DAYS",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_MAX_FILE_MB",
    "MB",
    "FileClock",
    "VdirCalendar",
]
