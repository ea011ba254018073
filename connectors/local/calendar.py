"""A calendar read from a vdir (a folder of .ics files, as vdirsyncer and khal keep them) or
from one .ics file.

Incremental sync rests on the files' size and modification time: a file whose ``mtime_ns`` and
size are those recorded in the cursor is not opened at all. Series are expanded over a window
around today; each occurrence is a meeting of its own. A file without series is read by a
quick reader that gives icalendar only the lines of each event that matter and asks it about
the rest (time zones, alarms, parameters) once per distinct text: about four times faster,
with the same meetings; a file it is unsure of is read in full.

Bad input never breaks a sync: an unreadable or malformed file is skipped with a warning and
keeps the meetings it had (a broken file must not cancel anything); a bad event inside a good
file is skipped with a warning and its siblings still count.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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

CURSOR_VERSION = 1
CURSOR_KIND = "local-vdir"
DEFAULT_HISTORY_DAYS = 400
DEFAULT_HORIZON_DAYS = 365

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
    """What the cursor remembers of one file. (A named tuple: an idle sync of a large vdir
    reads one per file from the cursor, and tuples are cheap to make.)"""

    mtime_ns: int
    size: int
    uids: tuple[str, ...]
    """The meetings it gave when last read successfully."""
    recurring: bool
    """It holds a series, so it is read again when the window moves."""
    broken: bool = False
    """It could not be read at this size and time: ``uids`` are from before it broke."""

    def to_json(self) -> JSON:
        """Return the entry as a JSON object."""
        return {
            "mtime_ns": self.mtime_ns,
            "size": self.size,
            "uids": list(self.uids),
            "recurring": self.recurring,
            "broken": self.broken,
        }

    @classmethod
    def from_json(cls, raw: Any) -> FileEntry:
        """Read an entry; raises ``CursorExpired`` when it has not the expected shape."""
        if type(raw) is not dict:
            raise _expired("a file entry is not an object")
        mtime_ns, size, uids = raw.get("mtime_ns"), raw.get("size"), raw.get("uids")
        recurring, broken = raw.get("recurring"), raw.get("broken", False)
        # exact types (JSON gives no subclasses; a bool is not taken for an int)
        if not (type(mtime_ns) is int and type(size) is int and type(uids) is list
                and type(recurring) is bool and type(broken) is bool
                and all(type(u) is str for u in uids)):
            raise _expired("a file entry has missing or mistyped fields")
        return cls(mtime_ns, size, tuple(uids), recurring, broken)


@dataclass(frozen=True)
class SyncState:
    """The cursor, as a value: the zone and window of the last sync, and every file seen."""

    timezone: str
    window: Window
    files: dict[str, FileEntry] = field(default_factory=dict)

    def to_json(self) -> JSON:
        """Return the cursor as the JSON object the core stores."""
        return {
            "version": CURSOR_VERSION,
            "kind": CURSOR_KIND,
            "timezone": self.timezone,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "files": {name: entry.to_json() for name, entry in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, raw: Any) -> SyncState:
        """Read a cursor made by :meth:`to_json`.

        Raises ``CursorExpired`` for any other shape or version, so the core does a full sync.
        """
        if not isinstance(raw, dict):
            raise _expired("it is not an object")
        if raw.get("version") != CURSOR_VERSION or raw.get("kind") != CURSOR_KIND:
            raise _expired("it is of another kind or version")
        timezone, files = raw.get("timezone"), raw.get("files")
        if not isinstance(timezone, str) or not isinstance(files, dict):
            raise _expired("its zone or file list is missing")
        try:
            window = Window(date.fromisoformat(raw["window_start"]),
                            date.fromisoformat(raw["window_end"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _expired("its window is missing or not a pair of dates") from exc
        return cls(timezone, window,
                   {str(name): FileEntry.from_json(entry) for name, entry in files.items()})


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
        reader: Reader = read_file,
    ) -> None:
        """Remember where the calendar is; nothing is read until :meth:`changes`."""
        self._path = path
        self._env = env
        self._account = account
        self._history_days = history_days
        self._horizon_days = horizon_days
        self._read = reader

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

        Unchanged files (same ``mtime_ns`` and size) are not opened, except that files holding
        a series are expanded again when the window has moved by a day, which adds the
        occurrences that came into reach; occurrences that fell out of the window are not
        reported as removed. A file that cannot be read keeps its meetings.

        Raises ``CursorExpired`` for a cursor this class did not make, and ``ConnectorError``
        when the calendar path does not exist or cannot be listed.
        """
        previous = SyncState.from_json(cursor) if cursor is not None else None
        tz = self._env.timezone
        window = self.window()
        listing = self._list_files()
        same_zone = previous is not None and previous.timezone == str(tz)
        window_moved = previous is None or previous.window != window
        old_files = previous.files if previous is not None else {}

        files: dict[str, FileEntry] = {}
        gone: set[str] = set()
        for name, found in sorted(listing.items()):
            old = old_files.get(name)
            unchanged = (same_zone and old is not None and old.mtime_ns == found.mtime_ns
                         and old.size == found.size)
            if old is not None and unchanged and not (old.recurring and window_moved):
                files[name] = old
                continue
            entry, meetings = self._read_one(found, old, window)
            files[name] = entry
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
        return SyncState(str(tz), window, files).to_json()

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
            # Record no new size and time, so the next sync tries it again.
            return old if old is not None else FileEntry(-1, -1, (), False, True), []
        try:
            parsed = parse_file(data, path=found.path, tz=self._env.timezone, window=window)
        except MalformedCalendar as exc:
            log.warning("calendar file %s skipped: it is not a valid iCalendar file (%s); its "
                        "meetings are kept as they were until it is fixed", found.path, exc)
            return FileEntry(found.mtime_ns, found.size, kept_uids, kept_recurring, True), []
        uids = tuple(meeting.uid for meeting in parsed.meetings)
        return FileEntry(found.mtime_ns, found.size, uids, parsed.recurring), list(parsed.meetings)

    def _list_files(self) -> dict[str, _Stat]:
        """Return the calendar's .ics files by name with their size and time.

        Raises ``ConnectorError`` when the path is missing or cannot be listed.
        """
        path = self._path
        try:
            top = path.stat()
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
    "DEFAULT_HISTORY_DAYS",
    "DEFAULT_HORIZON_DAYS",
    "FileEntry",
    "MalformedCalendar",
    "ParsedFile",
    "Reader",
    "SyncState",
    "VdirCalendar",
    "Window",
    "parse_file",
    "read_file",
]
