"""What reading one file of a local calendar gives a sync, and the sync's record of each file.

:class:`FileReader` reads a listed file within the size limit (``max_file_mb``): a file that
cannot be read, or is not read (too big, not a regular file, a link out of the folder), keeps
the meetings the cursor had of it, and says why in a note that is named once, not every cycle.
:class:`Sync` records each file's new cursor entry and yields what the core is to be told of it:
its notes (or that they are cleared) and its meetings.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from connectors.local.cursor import FileEntry
from connectors.local.files import Listed, Reader
from connectors.local.window import Window
from daemon.core.model import Change, Meeting, SourceNotes

if TYPE_CHECKING:
    from connectors.local.precheck import PreCheck

# The iCalendar reader, and the pre-check built on it, are imported only when a file is read.

log = logging.getLogger("connectors.local.calendar")
"""The calendar's logger: a user reads these warnings as the calendar's."""

MB = 1 << 20


class Reading(NamedTuple):
    """What reading one file (or a group of files) gave: its entry for the cursor, the
    meetings to report, the notes to tell, and whether the notes were told already (a file
    refused again as before)."""

    entry: FileEntry
    meetings: tuple[Meeting, ...] = ()
    notes: tuple[str, ...] = ()
    told_before: bool = False


@dataclass
class Sync:
    """One sync's work in progress: each file's entry so far, what the core was last told of
    each file's notes (``told``), and the meetings that may have left a file (``gone``)."""

    old: dict[str, FileEntry]
    files: dict[str, FileEntry] = field(default_factory=dict)
    told: dict[str, bool] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def deliver(self, name: str, reading: Reading, before: Iterable[str],
                skip: frozenset[str] = frozenset()) -> Generator[Change, None, None]:
        """Record the file's new entry, and yield its notes (when there are some, or when the
        core was told of some before: to clear them) and its meetings but those in ``skip``;
        ``before`` are the meetings the core holds from it."""
        told = self.told.get(name, name in self.old and self.old[name].noted)
        if not reading.told_before and (reading.notes or told):
            yield SourceNotes(name, reading.notes)
            told = bool(reading.notes)
        self.told[name] = told
        self.files[name] = reading.entry._replace(noted=told)
        self.gone.update(set(before) - set(reading.entry.uids))
        yield from (meeting for meeting in reading.meetings if meeting.uid not in skip)


class FileReader:
    """Reads the files of one calendar: in the user's zone ``tz``, at most ``max_file_mb``
    each, with ``reader``."""

    def __init__(self, tz: ZoneInfo, max_file_mb: int, reader: Reader) -> None:
        self.tz = tz
        self.max_file_mb = max_file_mb
        self.max_bytes = max_file_mb * MB
        """The size limit in bytes."""
        self._read = reader

    def read_alone(self, found: Listed, old: FileEntry | None, window: Window,
                   check: PreCheck | None = None) -> Reading:
        """Read one file; when it cannot be read, or is not read, keep what the cursor knew of
        it and say why. A file ``check`` turns away gives no meeting: only its size, time
        and the UIDs it names are kept."""
        from connectors.local.ics import MalformedCalendar, parse_file
        from connectors.local.precheck import event_uids, looks_whole, text_of

        data = self.read_bytes(found, old)
        if isinstance(data, Reading):
            return data
        if check is not None:
            text = text_of(data)
            if not check.passes(text) and looks_whole(text):
                named = event_uids(text)
                if named is not None:
                    return Reading(FileEntry(found.mtime_ns, found.size, (), False,
                                             events=named))
        try:
            parsed = parse_file(data, path=found.path, tz=self.tz, window=window)
        except MalformedCalendar as exc:
            return self.refused(found, old, f"it is not a valid iCalendar file ({exc}); its "
                                "meetings are kept as they were until it is fixed")
        uids = tuple(meeting.uid for meeting in parsed.meetings)
        entry = FileEntry(found.mtime_ns, found.size, uids, parsed.recurring,
                          events=parsed.events)
        return Reading(entry, parsed.meetings, parsed.notes)

    def read_bytes(self, found: Listed, old: FileEntry | None) -> bytes | Reading:
        """The file's bytes, or why they are not read: the entry is not a regular file, is
        over the size limit, or cannot be read."""
        if found.problem:
            return self.refused(found, old, found.problem)
        if found.size > self.max_bytes:
            return self.refused(found, old, self._too_big(f"{found.size / MB:.1f} MB"))
        try:
            data = self._read(found.target, self.max_bytes + 1)
        except OSError as exc:
            # Recorded with no size and time, so that the next sync reads it again (even when
            # only the window moved); its meetings are kept meanwhile.
            return self.refused(found, old, f"it cannot be read ({exc.strerror or exc}); its "
                                "meetings are kept as they were, and it is tried again each "
                                "cycle: check its permissions", again=True)
        if len(data) > self.max_bytes:  # it grew since it was listed
            return self.refused(found, old, self._too_big(f"over {self.max_file_mb} MB"))
        return data

    def _too_big(self, size: str) -> str:
        return (f"it is {size}, over the limit of {self.max_file_mb} MB, so it is not read and "
                "its meetings are kept as they were; split it into smaller files, or raise "
                "`max_file_mb` for this account in the config")

    def refused(self, found: Listed, old: FileEntry | None, note: str, *,
                again: bool = False) -> Reading:
        """A file not read, with the meetings the cursor had of it. Logged as a warning, unless
        the cursor says it was refused just so before (same time and size, or both unknown
        for a file read ``again``): a file is named once, not every cycle."""
        at = (-1, -1) if again else (found.mtime_ns, found.size)
        if old is None:
            entry = FileEntry(*at, (), False, True)
        else:
            entry = old._replace(mtime_ns=at[0], size=at[1], broken=True)
        before = old is not None and old.broken and old.noted and (old.mtime_ns, old.size) == at
        if before:
            log.info("calendar file %s still not read: %s", found.path, note)
        else:
            log.warning("calendar file %s skipped: %s", found.path, note)
        return Reading(entry, notes=(note,), told_before=before)


__all__ = ["MB", "FileReader", "Reading", "Sync"]
