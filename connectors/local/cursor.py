"""The local calendar's cursor: what a sync remembers of the folder and of each file, as the
JSON object the core stores untouched.

Version 2 keeps the folder's stamp and the file list as JSON text (one string to parse when the
state is read back, not an object per file); version 1 is still read. Any other shape raises
``CursorExpired``, so the core does a full sync.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from connectors.local.window import Window
from daemon.core.errors import CursorExpired
from daemon.core.model import JSON

CURSOR_VERSION = 2
"""Version 2 keeps the folder's stamp and the file list as JSON text; version 1 is still read."""
CURSOR_KIND = "local-vdir"
SETTLE_NS = 2 * 10**9
"""A folder changed less than this long before it was listed may change again within the same
timestamp tick (file systems keep times as coarse as 2 s): its stamp is not trusted. This takes
the file system's times and ``time.time_ns`` to come from one clock; on a network file system
whose server runs more than 2 s behind, a change in the same tick could hide until the next
full check (``full_check_minutes``)."""

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
    noted: bool = False
    """Its last reading left notes (a :class:`daemon.core.model.SourceNotes` with some), so a new
    reading, or its removal, must say what became of them."""
    events: tuple[str, ...] = ()
    """The UIDs of the events it holds (of a series, the series' own UID), so that files that
    share one can be read together."""

    def to_row(self) -> list[Any]:
        """Return the entry as the JSON array the cursor keeps."""
        return [self.mtime_ns, self.size, list(self.uids), self.recurring, self.broken,
                self.noted, list(self.events)]

    @classmethod
    def from_row(cls, raw: Any) -> FileEntry:
        """Read an entry made by :meth:`to_row` (or by an earlier version, without ``noted``
        and ``events``); raises ``CursorExpired`` for another shape."""
        if type(raw) is not list or len(raw) not in (5, 7):
            raise _expired("a file entry is not a list of five or seven")
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
                 broken: Any, noted: Any = False, events: Any = ()) -> FileEntry:
        # exact types (JSON gives no subclasses; a bool is not taken for an int)
        if not (type(mtime_ns) is int and type(size) is int and type(uids) is list
                and type(recurring) is bool and type(broken) is bool and type(noted) is bool
                and type(events) in (list, tuple)
                and all(type(u) is str for u in uids) and all(type(u) is str for u in events)):
            raise _expired("a file entry has missing or mistyped fields")
        return cls(mtime_ns, size, tuple(uids), recurring, broken, noted, tuple(events))


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
    max_file: int | None = None
    """The size limit files were read under, in bytes (``None``: not recorded), so that a file
    skipped as too big is read once the limit is raised."""

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
            "max_file_bytes": self.max_file,
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
        max_file = raw.get("max_file_bytes")
        if max_file is not None and type(max_file) is not int:
            raise _expired("its size limit is not a number")
        return cls(timezone, window, _files(raw.get("files")), _folder(raw.get("folder")),
                   read_listed_at(raw.get("listed_at")), max_file)


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


def read_listed_at(raw: Any) -> datetime | None:
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

