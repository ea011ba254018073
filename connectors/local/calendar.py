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

Series are expanded over a window around today; each occurrence is a meeting of its own. A
file without series is read by a quick reader that gives icalendar only the lines of each
event that matter and asks it about the rest (time zones, alarms, parameters) once per
distinct text: about four times faster, with the same meetings; a file it is unsure of is read
in full.

Bad input never breaks a sync: an unreadable or malformed file is skipped with a warning and
keeps the meetings it had (a broken file must not cancel anything); a bad event inside a good
file is skipped with a warning and its siblings still count.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from icalendar import Component

from connectors.base import ConnectorEnv
from connectors.local.mapping import (
    BadEvent,
    event_uid,
    is_part_of_series,
    occurrence_start,
    occurrence_uid,
    original_start,
    to_meeting,
)
from connectors.local.quickread import cancels, read_plain
from daemon.errors import ConnectorError, CursorExpired
from daemon.model import JSON, Change, Meeting, Removed

log = logging.getLogger(__name__)

CURSOR_VERSION = 2
"""Version 2 keeps the folder's stamp and the file list as JSON text; version 1 is still read."""
CURSOR_KIND = "local-vdir"
DEFAULT_HISTORY_DAYS = 400
DEFAULT_HORIZON_DAYS = 365
DEFAULT_FULL_CHECK_MINUTES = 60
SETTLE_NS = 2 * 10**9
"""A folder changed less than this long before it was listed may change again within the same
timestamp tick (file systems keep times as coarse as 2 s): its stamp is not trusted. This takes
the file system's times and ``time.time_ns`` to come from one clock; on a network file system
whose server runs more than 2 s behind, a change in the same tick could hide until the next
full check (``full_check_minutes``)."""

Reader = Callable[[Path], bytes]
"""Reads one calendar file; injected so tests can see which files are opened."""


def read_file(path: Path) -> bytes:
    """Return the bytes of ``path`` (the default :data:`Reader`); raises ``OSError``."""
    return path.read_bytes()


# --- the expansion window ----------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days over which series are expanded: ``start`` included, ``end`` excluded."""

    start: date
    end: date

    @classmethod
    def around(cls, today: date, history_days: int, horizon_days: int) -> Window:
        """Return [today - history_days, today + horizon_days], both days included."""
        return cls(today - timedelta(days=history_days), today + timedelta(days=horizon_days + 1))

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the window as two aware datetimes at local midnight in ``tz``."""
        return (
            datetime.combine(self.start, datetime.min.time(), tzinfo=tz),
            datetime.combine(self.end, datetime.min.time(), tzinfo=tz),
        )

    def holds(self, when: date | datetime, tz: ZoneInfo) -> bool:
        """Return True when the day or instant ``when`` lies inside the window."""
        if isinstance(when, datetime):
            low, high = self.bounds(tz)
            return low <= when < high
        return self.start <= when < self.end


# --- the cursor --------------------------------------------------------------------------


class FileEntry(NamedTuple):
    """What the cursor remembers of one file. (A named tuple: a sync that lists a large vdir
    reads one per file from the cursor, and tuples are cheap to make.)"""

    mtime_ns: int
    size: int
    uids: tuple[str, ...]
    """The meetings it gave when last read successfully."""
    recurring: bool
    """It holds a series, so it is read again when the window moves."""
    broken: bool = False
    """It could not be read at this size and time: ``uids`` are from before it broke."""

    def to_row(self) -> list[Any]:
        """Return the entry as the JSON array the cursor keeps."""
        return [self.mtime_ns, self.size, list(self.uids), self.recurring, self.broken]

    @classmethod
    def from_row(cls, raw: Any) -> FileEntry:
        """Read an entry made by :meth:`to_row`; raises ``CursorExpired`` for another shape."""
        if type(raw) is not list or len(raw) != 5:
            raise _expired("a file entry is not a list of five")
        return cls._checked(*raw)

    @classmethod
    def from_object(cls, raw: Any) -> FileEntry:
        """Read an entry of a version 1 cursor (a JSON object); raises ``CursorExpired`` for
        another shape."""
        if type(raw) is not dict:
            raise _expired("a file entry is not an object")
        return cls._checked(raw.get("mtime_ns"), raw.get("size"), raw.get("uids"),
                            raw.get("recurring"), raw.get("broken", False))

    @classmethod
    def _checked(cls, mtime_ns: Any, size: Any, uids: Any, recurring: Any,
                 broken: Any) -> FileEntry:
        # exact types (JSON gives no subclasses; a bool is not taken for an int)
        if not (type(mtime_ns) is int and type(size) is int and type(uids) is list
                and type(recurring) is bool and type(broken) is bool
                and all(type(u) is str for u in uids)):
            raise _expired("a file entry has missing or mistyped fields")
        return cls(mtime_ns, size, tuple(uids), recurring, broken)


class FolderStamp(NamedTuple):
    """What a folder's own metadata says of its list of files. Adding, removing or renaming a
    file changes the modification and change times; the change time also moves when a tool
    (rsync -t) sets the modification time back; device and inode tell a replaced folder."""

    device: int
    inode: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FolderStamp:
        """Return the stamp of a folder's ``stat`` result."""
        return cls(info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns)

    def to_json(self) -> JSON:
        """Return the stamp as the JSON object the cursor keeps."""
        return self._asdict()

    def settled_at(self, instant_ns: int) -> bool:
        """Whether the folder last changed at least :data:`SETTLE_NS` before ``instant_ns``
        (by the file clock), so that a change from then on shows a new time."""
        return instant_ns - max(self.mtime_ns, self.ctime_ns) >= SETTLE_NS


@dataclass(frozen=True)
class SyncState:
    """The cursor, as a value: the zone and window of the last sync, every file seen, and the
    folder as it was when they were listed (``None`` when it cannot be trusted), with the time
    of that listing."""

    timezone: str
    window: Window
    files: dict[str, FileEntry] = field(default_factory=dict)
    folder: FolderStamp | None = None
    listed_at: datetime | None = None

    def header(self) -> JSON:
        """Return the cursor's fields but the file list and the time of the listing: a stored
        cursor whose header equals
        the one a sync would write now, and whose listing is recent enough, is still current
        (see :meth:`VdirCalendar.changes`)."""
        return {
            "version": CURSOR_VERSION,
            "kind": CURSOR_KIND,
            "timezone": self.timezone,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "folder": None if self.folder is None else self.folder.to_json(),
        }

    def to_json(self) -> JSON:
        """Return the cursor as the JSON object the core stores. The file list is JSON text
        inside it: reading the state back then parses one string, not an object per file."""
        rows = {name: entry.to_row() for name, entry in sorted(self.files.items())}
        return {
            **self.header(),
            "listed_at": None if self.listed_at is None else self.listed_at.isoformat(),
            "files": json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
        }

    @classmethod
    def from_json(cls, raw: Any) -> SyncState:
        """Read a cursor made by :meth:`to_json`, or one of version 1.

        Raises ``CursorExpired`` for any other shape or version, so the core does a full sync.
        """
        if not isinstance(raw, dict):
            raise _expired("it is not an object")
        if raw.get("version") not in (1, CURSOR_VERSION) or raw.get("kind") != CURSOR_KIND:
            raise _expired("it is of another kind or version")
        timezone = raw.get("timezone")
        if not isinstance(timezone, str):
            raise _expired("its zone is missing")
        try:
            window = Window(date.fromisoformat(raw["window_start"]),
                            date.fromisoformat(raw["window_end"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _expired("its window is missing or not a pair of dates") from exc
        if raw["version"] == 1:
            return cls(timezone, window, _files_v1(raw.get("files")))
        return cls(timezone, window, _files(raw.get("files")), _folder(raw.get("folder")),
                   _listed_at(raw.get("listed_at")))


def _files(text: Any) -> dict[str, FileEntry]:
    if not isinstance(text, str):
        raise _expired("its file list is missing")
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise _expired("its file list does not parse") from exc
    if not isinstance(rows, dict):
        raise _expired("its file list is not an object")
    return {name: FileEntry.from_row(row) for name, row in rows.items()}


def _files_v1(files: Any) -> dict[str, FileEntry]:
    if not isinstance(files, dict):
        raise _expired("its file list is missing")
    return {str(name): FileEntry.from_object(entry) for name, entry in files.items()}


def _folder(raw: Any) -> FolderStamp | None:
    if raw is None:
        return None
    if (not isinstance(raw, dict) or set(raw) != set(FolderStamp._fields)
            or not all(type(value) is int for value in raw.values())):
        raise _expired("its folder stamp has missing or mistyped fields")
    return FolderStamp(**raw)


def _listed_at(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        listed_at = datetime.fromisoformat(raw)
    except (TypeError, ValueError) as exc:
        raise _expired("the time of its listing is not a time") from exc
    if listed_at.tzinfo is None:
        raise _expired("the time of its listing has no offset")
    return listed_at


def _expired(why: str) -> CursorExpired:
    return CursorExpired(f"the stored position in the local calendar cannot be used ({why}); "
                         "it will be read again in full")


# --- reading one file --------------------------------------------------------------------


class MalformedCalendar(ValueError):
    """A file that is not a readable iCalendar calendar; the message says why."""


@dataclass(frozen=True)
class ParsedFile:
    """The meetings one file gave, and whether it holds a series."""

    meetings: tuple[Meeting, ...]
    recurring: bool


def parse_file(data: bytes, *, path: Path, tz: ZoneInfo, window: Window,
               quick: bool = True) -> ParsedFile:
    """Read the meetings of one .ics file.

    Bytes that are not UTF-8 are replaced (with a warning) rather than losing the file. Events
    that cannot be read are skipped with a warning naming the file and the UID. Series are
    expanded over ``window``; events that do not repeat are always returned.

    A file without series is read by a quicker reader that gives the same meetings (see
    :func:`read_plain`); ``quick=False`` reads every file in full, as the reference the
    quicker reader is tested against.

    Raises ``MalformedCalendar`` when the file as a whole is not an iCalendar calendar.
    """
    text = _decode(data, path)
    plain = read_plain(text) if quick else None
    if plain is not None:
        meetings = [meeting for calendar in plain
                    for uid, events in _group_by_uid(calendar.events, path).items()
                    for meeting in _single(uid, events, path, tz, calendar.cancel_all)]
        return ParsedFile(_last_per_uid(meetings), recurring=False)

    meetings = []
    recurring = False
    for calendar in _read_full(text):
        cancel_all = cancels(calendar)
        for uid, events in _group_by_uid(calendar.walk("VEVENT"), path).items():
            if any(is_part_of_series(event) for event in events):
                recurring = True
                meetings += _expand_series(calendar, uid, events, path, tz, window, cancel_all)
            else:
                meetings += _single(uid, events, path, tz, cancel_all)
    return ParsedFile(_last_per_uid(meetings), recurring)


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.warning("calendar file %s is not valid UTF-8 (byte %d); reading it with the bad "
                    "bytes replaced: save it as UTF-8 to keep every character", path, exc.start)
        return data.decode("utf-8-sig", errors="replace")


def _read_full(text: str) -> list[icalendar.Calendar]:
    """Read the whole file with icalendar; raises ``MalformedCalendar``."""
    try:
        # bytes: icalendar reads a str with no line break as the path of a file to open
        calendars = icalendar.Calendar.from_ical(text.encode("utf-8"), multiple=True)
    except Exception as exc:  # icalendar raises many types on garbage; a file is a boundary
        raise MalformedCalendar(_reason(exc)) from exc
    if not calendars:
        raise MalformedCalendar("it holds no VCALENDAR")
    for calendar in calendars:
        if calendar.name != "VCALENDAR":
            raise MalformedCalendar(f"it holds a {calendar.name}, not a VCALENDAR")
    return calendars


def _last_per_uid(meetings: Iterable[Meeting]) -> tuple[Meeting, ...]:
    """Of meetings with the same uid, keep the last, in the place of the first."""
    return tuple({meeting.uid: meeting for meeting in meetings}.values())


def _group_by_uid(events: Iterable[Component], path: Path) -> dict[str, list[Component]]:
    groups: dict[str, list[Component]] = {}
    for event in events:
        try:
            uid = event_uid(event)
        except BadEvent as exc:
            title = str(event.get("SUMMARY", ""))[:60]
            log.warning("calendar file %s: skipped the event %r: %s", path, title, exc)
            continue
        groups.setdefault(uid, []).append(event)
    return groups


def _single(uid: str, events: list[Component], path: Path, tz: ZoneInfo,
            cancel_all: bool) -> list[Meeting]:
    """Map an event that does not repeat; of duplicates, the highest SEQUENCE (then the last)
    wins."""
    if len(events) > 1:
        log.warning("calendar file %s: the event %s appears %d times; using the latest",
                    path, uid, len(events))
        events = [max(enumerate(events), key=lambda pair: (_sequence(pair[1]), pair[0]))[1]]
    return _map_all(uid, [(uid, events[0])], path, tz, cancel_all)


def _expand_series(calendar: Component, uid: str, events: list[Component], path: Path,
                   tz: ZoneInfo, window: Window, cancel_all: bool) -> list[Meeting]:
    """Expand one series (its master and its overrides) over the window."""
    series = icalendar.Calendar()
    for name in ("CALSCALE", "X-WR-TIMEZONE"):
        if name in calendar:
            series[name] = calendar[name]
    for component in calendar.walk("VTIMEZONE"):
        series.add_component(component)
    for event in events:
        series.add_component(event)
    try:
        occurrences = recurring_ical_events.of(series).between(*window.bounds(tz))
    except Exception as exc:  # a bad rule or date inside one series must not stop the file
        log.warning("calendar file %s: skipped the repeating event %s: %s", path, uid,
                    _reason(exc))
        return []
    pairs: list[tuple[str, Component]] = []
    for occurrence in occurrences:
        try:
            pairs.append((occurrence_uid(uid, original_start(occurrence), tz), occurrence))
        except BadEvent as exc:
            log.warning("calendar file %s: skipped an occurrence of %s: %s", path, uid, exc)
    return _map_all(uid, pairs, path, tz, cancel_all)


def _map_all(uid: str, pairs: Iterable[tuple[str, Component]], path: Path, tz: ZoneInfo,
             cancel_all: bool) -> list[Meeting]:
    """Map each (uid, component); problems are logged once per event, not per occurrence."""
    meetings: list[Meeting] = []
    problems: dict[str, None] = {}
    for meeting_uid, component in pairs:
        try:
            mapped = to_meeting(component, uid=meeting_uid, source=path.name, tz=tz,
                                cancelled=cancel_all)
        except BadEvent as exc:
            log.warning("calendar file %s: skipped the event %s: %s", path, meeting_uid, exc)
            continue
        except Exception as exc:  # one odd event must not stop its siblings
            log.warning("calendar file %s: skipped the event %s: %s", path, meeting_uid,
                        _reason(exc))
            continue
        meetings.append(mapped.meeting)
        problems.update(dict.fromkeys(mapped.problems))
    for problem in problems:
        log.warning("calendar file %s: event %s: %s", path, uid, problem)
    return meetings


def _sequence(event: Component) -> int:
    try:
        return int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        return 0


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


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
            listed_at = _listed_at(cursor.get("listed_at"))
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
    "FileEntry",
    "FolderStamp",
    "MalformedCalendar",
    "ParsedFile",
    "Reader",
    "SyncState",
    "VdirCalendar",
    "Window",
    "parse_file",
    "read_file",
]
