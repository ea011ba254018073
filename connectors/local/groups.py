"""Files of a vdir that hold the same event (an invitation saved next to the synced copy, an
override kept in a file of its own): which of them must be read together.

Files are linked by the UIDs of the events they hold (:attr:`FileEntry.events`); a group is
a set of files so linked. A group is read again, all its files together, when one of its
files, or a file that shared an event with it, was read or removed in this sync; groups that
did not change are left alone, so an incremental sync stays cheap. The files of a group are
read as one text (:func:`read_group`): of each event the copy with the highest SEQUENCE counts.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Generator, Iterable, Mapping
from dataclasses import replace

from connectors.base import occurrence_start
from connectors.local.cursor import FileEntry
from connectors.local.files import Listed
from connectors.local.reading import MB, FileReader, Reading, Sync
from connectors.local.window import Window
from daemon.core.model import Change

log = logging.getLogger("connectors.local.calendar")
"""The calendar's logger: a user reads these warnings as the calendar's."""


def event_keys(uids: Iterable[str]) -> tuple[str, ...]:
    """Return the UIDs of the events that meetings of these uids come from, in first-seen
    order: a series' occurrence uid without its original start (see
    :func:`connectors.local.mapping.occurrence_uid`), any other uid as it is."""
    keys = (uid.rsplit("/", 1)[0] if occurrence_start(uid) is not None else uid
            for uid in uids)
    return tuple(dict.fromkeys(keys))


def with_events(entry: FileEntry) -> FileEntry:
    """Return the entry with its events filled in from its meetings when it has none (an
    entry of a cursor made before events were kept)."""
    if entry.events or not entry.uids:
        return entry
    return entry._replace(events=event_keys(entry.uids))


def read_together(files: Mapping[str, FileEntry], before: Mapping[str, FileEntry],
                  touched: Iterable[str], alone: Iterable[str] = ()) -> list[list[str]]:
    """Return the groups of files to read again, each sorted by name, in name order.

    ``files`` are the calendar's files now, ``before`` as the cursor had them, ``touched``
    the names read or removed in this sync. A group is every file linked, through events held
    now, to a file that holds an event whose holders changed: an event of a touched file (as
    it is now or was before) held by two files or more, now or before. ``alone`` names files
    that must be in a group even when they share nothing any more (a group of one).
    """
    disturbed: set[str] = set()
    for name in touched:
        for entry in (files.get(name), before.get(name)):
            if entry is not None:
                disturbed.update(entry.events)
    holders: dict[str, set[str]] = {}
    if disturbed:
        for table in (files, before):
            for name, entry in table.items():
                for key in entry.events:
                    if key in disturbed:
                        holders.setdefault(key, set()).add(name)
    shared = [key for key, names in holders.items() if len(names) >= 2]
    nodes = set(alone) | {name for key in shared for name in holders[key] if name in files}
    if not nodes:
        return []
    index: dict[str, list[str]] = {}
    if shared:
        for name, entry in files.items():
            for key in entry.events:
                index.setdefault(key, []).append(name)
    groups: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        group, queue = [start], [start]
        while queue:
            for key in files[queue.pop()].events:
                for name in index.get(key, ()):
                    if name not in seen:
                        seen.add(name)
                        group.append(name)
                        queue.append(name)
        groups.append(sorted(group))
    return groups



def read_group(sync: Sync, names: list[str], listing: dict[str, Listed], window: Window,
               delivered: set[str], files: FileReader) -> Generator[Change, None, None]:
    """Read files that hold the same events together (one group of one is read alone,
    unless it was just read); ``delivered`` are the files whose reading alone was already
    reported in this sync."""
    from connectors.local.ics import MalformedCalendar, parse_file

    readable = [name for name in names if not sync.files[name].broken]
    data: dict[str, bytes] = {}
    if len(readable) > 1:
        total = sum(listing[name].size for name in readable)
        if total <= files.max_bytes:
            for name in readable:
                got = files.read_bytes(listing[name], sync.old.get(name))
                if isinstance(got, Reading):
                    yield from sync.deliver(name, got, ())
                else:
                    data[name] = got.removeprefix(codecs.BOM_UTF8)
        else:
            log.warning("calendar files %s hold the same events but are %.1f MB together, "
                        "over the limit of %d MB (`max_file_mb`): each is read alone, and "
                        "the one whose name sorts last counts", _both(readable),
                        total / MB, files.max_file_mb)
    parsed = None
    if len(data) > 1:
        members = list(data)
        log.warning("calendar files %s hold the same events: they are read together, and "
                    "of each event the copy with the highest SEQUENCE counts (then "
                    "LAST-MODIFIED, then DTSTAMP)", _both(members))
        try:
            parsed = parse_file(b"\r\n".join(data.values()),
                                path=listing[members[0]].path, tz=files.tz, window=window)
        except MalformedCalendar as exc:
            log.warning("calendar files %s cannot be read together (%s): each is read "
                        "alone", _both(members), exc)
    if parsed is None:
        for name in readable:
            if name not in delivered and not sync.files[name].broken:
                old = sync.old.get(name)
                yield from sync.deliver(name, files.read_alone(listing[name], old, window),
                                        old.uids if old is not None else ())
        return
    owners: dict[str, list[str]] = {}
    for name in data:
        for key in sync.files[name].events:
            owners.setdefault(key, []).append(name)
    uids: dict[str, list[str]] = {name: [] for name in data}
    meetings = []
    for meeting in parsed.meetings:
        holders = owners.get(event_keys((meeting.uid,))[0]) or list(data)
        for name in holders:
            uids[name].append(meeting.uid)
        meetings.append(meeting if meeting.source == holders[0]
                        else replace(meeting, source=holders[0]))
    for index, name in enumerate(data):
        found, old = listing[name], sync.old.get(name)
        before = sync.files[name].uids if name in delivered else (
            old.uids if old is not None else ())
        entry = FileEntry(found.mtime_ns, found.size, tuple(uids[name]), parsed.recurring,
                          events=sync.files[name].events)
        # the notes of the reading go with the first file: they name the event
        notes = parsed.notes if index == 0 else ()
        yield from sync.deliver(name, Reading(entry, notes=notes), before)
    yield from meetings


def _both(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


__all__ = ["event_keys", "read_group", "read_together", "with_events"]
