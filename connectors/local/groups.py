"""Files of a vdir that hold the same event (an invitation saved next to the synced copy, an
override kept in a file of its own): which of them must be read together.

Files are linked by the UIDs of the events they hold (:attr:`FileEntry.events`); a group is
a set of files so linked. A group is read again, all its files together, when one of its
files, or a file that shared an event with it, was read or removed in this sync; groups that
did not change are left alone, so an incremental sync stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.base import occurrence_start
from connectors.local.cursor import FileEntry


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


__all__ = ["event_keys", "read_together", "with_events"]
