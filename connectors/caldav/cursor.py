"""The CalDAV calendar's cursor: what the last sync saw of each calendar.

For each calendar: its URL and display name, whether it offers sync-collection (RFC 6578),
its sync token and its ctag (or ``None``), and each calendar object by href: its ETag, the
meetings it gave, whether it holds a series (read again when the window moves), whether notes
were given for it, and whether it could not be read (its meetings are then kept). The object
list is JSON text inside the cursor, as the local calendar's file list is, so the state reads
back as one string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from connectors.local.window import Window
from daemon.core.errors import CursorExpired
from daemon.core.model import JSON

CURSOR_KIND = "caldav"
CURSOR_VERSION = 1


class ObjectEntry(NamedTuple):
    """One calendar object as the last sync read it."""

    etag: str
    uids: tuple[str, ...] = ()
    recurring: bool = False
    noted: bool = False
    broken: bool = False

    def to_row(self) -> list[Any]:
        return [self.etag, list(self.uids), self.recurring, self.noted, self.broken]

    @classmethod
    def from_row(cls, raw: Any) -> ObjectEntry:
        if (not isinstance(raw, list) or len(raw) != 5 or not isinstance(raw[0], str)
                or not isinstance(raw[1], list)
                or not all(isinstance(uid, str) for uid in raw[1])
                or not all(isinstance(flag, bool) for flag in raw[2:])):
            raise _expired("an object entry has missing or mistyped fields")
        return cls(raw[0], tuple(raw[1]), raw[2], raw[3], raw[4])


class CalendarState:
    """One calendar as the last sync left it. Its object list is read from the cursor's
    text only when a sync needs it (an idle cycle does not), and written back as that same
    text when it was never read."""

    def __init__(self, url: str, name: str, sync: bool, token: str | None = None,
                 ctag: str | None = None, objects: dict[str, ObjectEntry] | None = None, *,
                 text: str | None = None) -> None:
        self.url = url
        self.name = name
        self.sync = sync
        """The server offers sync-collection on it (and it has not refused it)."""
        self.token = token
        self.ctag = ctag
        self._objects = objects if objects is not None or text is not None else {}
        self._text = text

    @property
    def objects(self) -> dict[str, ObjectEntry]:
        """Each object by href; raises ``CursorExpired`` when the stored text is damaged."""
        if self._objects is None:
            self._objects = _objects(self._text)
        return self._objects

    def relisted(self, name: str, sync: bool, token: str | None, ctag: str | None
                 ) -> CalendarState:
        """The same objects under a new name, way of listing, token and ctag."""
        return CalendarState(self.url, name, sync, token, ctag, self._objects, text=self._text)

    def to_json(self) -> JSON:
        if self._objects is None and self._text is not None:
            text = self._text
        else:
            rows = {href: entry.to_row() for href, entry in sorted(self.objects.items())}
            text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        return {"url": self.url, "name": self.name, "sync": self.sync, "token": self.token,
                "ctag": self.ctag, "objects": text}

    @classmethod
    def from_json(cls, raw: Any) -> CalendarState:
        if not isinstance(raw, dict):
            raise _expired("a calendar is not an object")
        url, name, sync = raw.get("url"), raw.get("name"), raw.get("sync")
        token, ctag, text = raw.get("token"), raw.get("ctag"), raw.get("objects")
        if (not isinstance(url, str) or not isinstance(name, str) or not isinstance(sync, bool)
                or not isinstance(token, str | None) or not isinstance(ctag, str | None)
                or not isinstance(text, str)):
            raise _expired("a calendar has missing or mistyped fields")
        return cls(url, name, sync, token, ctag, text=text)


def _objects(text: str | None) -> dict[str, ObjectEntry]:
    try:
        rows = json.loads(text or "")
    except ValueError as exc:
        raise _expired("an object list does not parse") from exc
    if not isinstance(rows, dict):
        raise _expired("an object list is not an object")
    return {str(href): ObjectEntry.from_row(row) for href, row in rows.items()}


@dataclass
class SyncState:
    """The whole cursor."""

    header: dict[str, Any]
    """Who and how the calendars were read (server, user, selection, zone, size limit): a
    sync whose header differs reads every object again."""
    window: Window
    discovered_at: datetime
    calendars: list[CalendarState]

    def to_json(self) -> JSON:
        return {"version": CURSOR_VERSION, "kind": CURSOR_KIND, "header": self.header,
                "window_start": self.window.start.isoformat(),
                "window_end": self.window.end.isoformat(),
                "discovered_at": self.discovered_at.isoformat(),
                "calendars": [calendar.to_json() for calendar in self.calendars]}

    @classmethod
    def from_json(cls, raw: Any) -> SyncState:
        """Read a cursor made by :meth:`to_json`; raises ``CursorExpired`` for anything
        else."""
        if not isinstance(raw, dict):
            raise _expired("it is not an object")
        if raw.get("version") != CURSOR_VERSION or raw.get("kind") != CURSOR_KIND:
            raise _expired("it is of another kind or version")
        header, calendars = raw.get("header"), raw.get("calendars")
        if not isinstance(header, dict) or not isinstance(calendars, list):
            raise _expired("its header or calendar list is missing")
        try:
            window = Window(date.fromisoformat(raw["window_start"]),
                            date.fromisoformat(raw["window_end"]))
            discovered_at = datetime.fromisoformat(raw["discovered_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _expired("its window or discovery time is missing") from exc
        if discovered_at.tzinfo is None:
            raise _expired("its discovery time has no offset")
        return cls(header, window, discovered_at,
                   [CalendarState.from_json(calendar) for calendar in calendars])


def _expired(why: str) -> CursorExpired:
    return CursorExpired(f"the stored position in the CalDAV calendar cannot be used ({why}); "
                         "it will be read again in full")
