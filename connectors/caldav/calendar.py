"""A calendar read over CalDAV (RFC 4791): iCloud, Fastmail, Nextcloud, Yahoo, Radicale, any
standard server. The :class:`connectors.base.CalendarSource` of the ``caldav`` account kind.

Constructed with keywords only::

    CalDavCalendar(
        url="https://caldav.fastmail.com/dav/",  # the principal, calendar home or a calendar
        username="sam@fastmail.com",
        password="...",              # already obtained (from `password_command`)
        env=env,                     # connectors.base.ConnectorEnv: zone, clock, data folder
        account="fastmail",          # names the account in messages
        calendars=("Work",),         # display names or URLs; empty: every VEVENT calendar
        ca_file=None,                # a CA bundle (Path) for a self-hosted server
        timeout_seconds=30,          # every request
        history_days=400, horizon_days=365,  # the window series are expanded over
        max_file_mb=10,              # an object larger than this is not read
        max_objects=100_000,         # a calendar with more objects is refused
        sync_collection=True,        # False: compare ctag and ETags only
        discover_minutes=60,         # how often the calendar list is fetched again
    )

**Reading.** Objects are fetched whole (calendar-multiget) and read by the local calendar's
iCalendar code (:func:`connectors.local.ics.parse_file`: recurrence, time zones, overrides,
every real-world fix), series expanded on the client over the same window as a local calendar.
A CalDAV object is to this connector what a file is to the vdir: an object whose ETag is the
one in the cursor is not fetched again, except an object holding a series when the window has
moved (once a day), which adds the occurrences that came into reach.

**Incremental sync.** A calendar that offers WebDAV sync-collection (RFC 6578: a
``DAV:sync-token`` property) is asked for what changed since its token: an idle cycle is one
REPORT per calendar. Otherwise its ctag (or sync token) is compared, one PROPFIND, and only
when it changed are the ETags listed (PROPFIND Depth 1) and compared with the cursor's. An
expired token (``DAV:valid-sync-token``) makes a full listing of that calendar, compared by
ETag with the cursor: unchanged objects are not read again, changed ones give their meetings,
and the meetings of objects no longer there are removed, so nothing is drafted twice and
nothing deleted meanwhile is kept. The calendar list itself is fetched at the first sync,
every ``discover_minutes``, and when the account's settings change.

**Requests** (counted in Radicale's log by the tests): a first sync is the discovery (two
PROPFINDs on Radicale: the URL, then the calendar home) and per calendar one sync-collection
REPORT and one calendar-multiget per 50 objects; an idle cycle is one REPORT per calendar (one
PROPFIND per calendar by ctag); a cycle that also discovers (every ``discover_minutes``) is the
two PROPFINDs and nothing more for a calendar whose sync token they show unchanged; a change
adds one multiget to its calendar's REPORT; an expired token costs the refused REPORT, a full
listing REPORT, and a multiget of what changed.

**Removals.** A deleted object (or one that no longer holds a meeting) gives ``Removed`` for
each meeting it held, as the local calendar does, unless another object still holds it (the
same event in two calendars: that copy is then read again and given); so does every object
of a calendar that is gone (no longer listed, or deleted since the last discovery).
Occurrences that fell out of the window are not removed.

**Bad input** never breaks a sync: an object over ``max_file_mb``, or that is not iCalendar,
keeps its meetings and is named in a ``SourceNotes`` (its name in the collection).

Errors: ``AuthError`` for a refused password (saying what to check), ``TransientError`` for
the network, timeouts, 429 and 5xx, ``ConnectorError`` otherwise (an unknown calendar name
lists those there are; an ``http://`` URL to another machine is refused at construction).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urljoin

from connectors.base import ConnectorEnv, occurrence_start
from connectors.caldav.cursor import CalendarState, ObjectEntry, SyncState
from connectors.caldav.dav import (
    CalendarGone,
    Dav,
    Found,
    SyncRefused,
    TokenExpired,
    check_url,
    href_path,
)
from connectors.local.calendar import DEFAULT_HISTORY_DAYS, DEFAULT_HORIZON_DAYS, MB
from connectors.local.ics import MalformedCalendar, parse_file
from connectors.local.window import Window
from daemon.core.errors import ConnectorError
from daemon.core.model import JSON, Change, Meeting, Removed, SourceNotes, TaggingRules

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_FILE_MB = 10
DEFAULT_MAX_OBJECTS = 100_000
DEFAULT_DISCOVER_MINUTES = 60


class _Listing(NamedTuple):
    """What a calendar's listing gave: the objects changed (href -> ETag) and removed,
    whether it listed every object (``full``: objects not in it are gone), and how to ask
    next time (by sync-collection and its token, or by the ctag)."""

    changed: dict[str, str]
    deleted: set[str]
    full: bool
    sync: bool
    token: str | None
    ctag: str | None


class CalDavCalendar:
    """A :class:`connectors.base.CalendarSource` over one CalDAV account's calendars."""

    def __init__(
        self,
        *,
        url: str,
        username: str,
        password: str,
        env: ConnectorEnv,
        account: str = "",
        calendars: Sequence[str] = (),
        ca_file: Path | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        history_days: int = DEFAULT_HISTORY_DAYS,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        max_file_mb: int = DEFAULT_MAX_FILE_MB,
        max_objects: int = DEFAULT_MAX_OBJECTS,
        sync_collection: bool = True,
        discover_minutes: int = DEFAULT_DISCOVER_MINUTES,
    ) -> None:
        """Remember the account; nothing is asked of the server until :meth:`changes`.
        Raises ``ConnectorError`` for a URL a password must not travel to (see
        :func:`connectors.caldav.dav.check_url`)."""
        self._who = f"account {account!r}: " if account else ""
        try:
            check_url(url)
            for wanted in calendars:
                if _is_url(wanted) and "://" in wanted:
                    check_url(wanted)
        except ConnectorError as exc:
            raise ConnectorError(f"{self._who}{exc}") from None
        self._url = url
        self._username = username
        self._env = env
        self._selection = tuple(calendars)
        self._history_days = history_days
        self._horizon_days = horizon_days
        self._max_file_mb = max_file_mb
        self._max_bytes = max_file_mb * MB
        self._max_objects = max_objects
        self._sync_collection = sync_collection
        self._discover_every = timedelta(minutes=discover_minutes)
        self._dav = Dav(url, username=username, password=password, ca_file=ca_file,
                        timeout_seconds=timeout_seconds, who=self._who)

    def window(self) -> Window:
        """Return the expansion window around today (the injected clock, in the user's zone)."""
        return Window.at(self._env.clock(), self._env.timezone, self._history_days,
                         self._horizon_days)

    def _header(self) -> dict[str, Any]:
        return {"url": self._url, "username": self._username,
                "calendars": list(self._selection), "timezone": str(self._env.timezone),
                "max_file_bytes": self._max_bytes, "sync_collection": self._sync_collection}

    def calendars(self) -> list[Found]:
        """The calendars this account reads (for ``doctor``): discovered now, and selected by
        ``calendars``. Raises as :meth:`changes` does."""
        return self._select(self._dav.discover())

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        """Yield the meetings of new and changed objects, an object at a time, and
        ``Removed`` for meetings that left a changed or deleted object (or a calendar that is
        gone); return the new cursor. ``cursor=None`` reads every object (``only_tagged`` is
        not used: objects come from the server already split, each read once).

        Raises ``CursorExpired`` for a cursor this class did not make, and the errors of
        :class:`connectors.caldav.dav.Dav` (``AuthError``, ``TransientError``,
        ``ConnectorError``).
        """
        tz = self._env.timezone
        window = self.window()
        now = self._env.clock().astimezone(UTC)
        previous = SyncState.from_json(cursor) if cursor is not None else None
        header = self._header()
        same = previous is not None and previous.header == header
        window_moved = previous is None or previous.window != window
        old = {c.url: c for c in previous.calendars} if previous is not None else {}
        if same and previous is not None and \
                previous.discovered_at <= now < previous.discovered_at + self._discover_every:
            found = [Found(c.url, c.name, (), c.token if c.sync else None, None)
                     for c in previous.calendars]
            discovered_at, listed = previous.discovered_at, False
        else:
            found = self._select(self._dav.discover())
            discovered_at, listed = now, True
        gone: set[str] = set()
        kept: list[CalendarState] = []
        for calendar in found:
            before = old.get(calendar.url)
            try:
                state = yield from self._sync_one(calendar, before, window, gone,
                                                  reread=not same, window_moved=window_moved,
                                                  listed=listed)
            except CalendarGone:
                if listed or calendar.url in {c.url for c in self.calendars()}:
                    raise
                continue  # deleted since it was discovered: its meetings are removed below
            kept.append(state)
        for url in sorted(old.keys() - {state.url for state in kept}):
            log.info("%sthe calendar %s is no longer read; its meetings are removed",
                     self._who, url)
            for href, entry in old[url].objects.items():
                gone.update(entry.uids)
                if entry.noted:
                    yield SourceNotes(_name(href), ())
        still_here = {uid for state in kept for entry in state.objects.values()
                      for uid in entry.uids} if gone else set()
        for uid in sorted(gone - still_here):
            when = occurrence_start(uid)
            if when is None or window.holds(when, tz):
                yield Removed(uid)
        yield from self._held_elsewhere(kept, gone & still_here, window)
        return SyncState(header, window, discovered_at, kept).to_json()

    # --- one calendar ----------------------------------------------------------------------

    def _sync_one(self, calendar: Found, before: CalendarState | None, window: Window,
                  gone: set[str], *, reread: bool, window_moved: bool, listed: bool
                  ) -> Generator[Change, None, CalendarState]:
        """Bring one calendar up to date; removed meetings' uids go to ``gone``. ``listed``:
        ``calendar`` was just discovered, so its sync token and ctag are the server's now (a
        calendar whose token or ctag is the cursor's is then not asked again)."""
        listing = self._listing(calendar, before, reread=reread, listed=listed)
        if before is not None and not (reread or window_moved or listing.full
                                       or listing.changed or listing.deleted):
            # nothing to read: the object list is not even parsed
            return before.relisted(calendar.name, listing.sync, listing.token, listing.ctag)
        old = before.objects if before is not None else {}
        changed, deleted = listing.changed, listing.deleted
        if listing.full:
            deleted = set(old) - set(changed)
        to_read = {href for href, etag in changed.items()
                   if reread or href not in old or old[href].etag != etag or not etag}
        objects = {href: entry for href, entry in old.items()
                   if href not in deleted and href not in to_read}
        refresh = set()
        if window_moved:
            refresh = {href for href, entry in objects.items()
                       if entry.recurring and not entry.broken}
        for href in sorted(deleted & set(old)):
            gone.update(old[href].uids)
            if old[href].noted:
                yield SourceNotes(_name(href), ())
        wanted = sorted(to_read | refresh)
        got: set[str] = set()
        for href, etag, text in self._dav.fetch(calendar.url, wanted):
            if href not in to_read and href not in refresh:
                continue
            got.add(href)
            previous = old.get(href)
            entry, meetings, notes = self._read(href, etag, text, previous, window)
            told = previous.noted if previous is not None else False
            if notes or told:
                yield SourceNotes(_name(href), notes)
            objects[href] = entry._replace(noted=bool(notes))
            if previous is not None:
                gone.update(set(previous.uids) - set(entry.uids))
            known = (frozenset(previous.uids) if href in refresh and previous is not None
                     else frozenset())
            for meeting in meetings:
                if meeting.uid not in known:
                    yield meeting
        for href in sorted(set(wanted) - got):  # gone between the listing and the fetch
            if href in old:
                gone.update(old[href].uids)
                objects.pop(href, None)
        return CalendarState(calendar.url, calendar.name, listing.sync, listing.token,
                             listing.ctag, objects)

    def _listing(self, calendar: Found, before: CalendarState | None, *, reread: bool,
                 listed: bool) -> _Listing:
        """What changed in the calendar since ``before``: by sync-collection when it offers
        it, else by its ctag and ETags. ``listed``: ``calendar`` was just discovered, so its
        sync token and ctag are the server's now, and a calendar whose token (or ctag) is the
        cursor's is not asked again."""
        sync = self._sync_collection and (
            calendar.token is not None or (before is not None and before.sync))
        token = before.token if before is not None and before.sync and not reread else None
        ctag = before.ctag if before is not None and not before.sync and not reread else None
        if sync:
            if listed and token is not None and calendar.token == token:
                return _Listing({}, set(), False, True, token, None)
            try:
                changed, deleted, new = self._dav.sync(calendar.url, token, self._max_objects)
                return _Listing(changed, deleted, token is None, True, new, None)
            except TokenExpired:
                log.info("%sthe sync token of %s expired; listing it in full and comparing "
                         "ETags", self._who, calendar.url)
                changed, deleted, new = self._dav.sync(calendar.url, None, self._max_objects)
                return _Listing(changed, deleted, True, True, new, None)
            except SyncRefused as exc:
                log.info("%s%s refused sync-collection (%s); comparing its ctag and ETags "
                         "instead", self._who, calendar.url, exc)
        now = (calendar.ctag or calendar.token) if listed else self._dav.stamp(calendar.url)
        if ctag is not None and now == ctag:
            return _Listing({}, set(), False, False, None, ctag)
        return _Listing(self._dav.etags(calendar.url, self._max_objects), set(), True, False,
                        None, now)

    def _held_elsewhere(self, kept: list[CalendarState], uids: set[str], window: Window
                        ) -> Generator[Change, None, None]:
        """The meetings ``uids`` left one object but another still holds them (the same
        event in two calendars, say): that object's copy is read again and given, so the
        core keeps the copy that is left, not the one that went."""
        if not uids:
            return
        for state in kept:
            hrefs = sorted(href for href, entry in state.objects.items()
                           if not entry.broken and uids & set(entry.uids))
            for href, etag, text in self._dav.fetch(state.url, hrefs):
                _, meetings, _ = self._read(href, etag, text, state.objects.get(href),
                                            window)
                yield from (meeting for meeting in meetings if meeting.uid in uids)

    def _read(self, href: str, etag: str, text: str, previous: ObjectEntry | None,
              window: Window) -> tuple[ObjectEntry, tuple[Meeting, ...], tuple[str, ...]]:
        """One object's entry, meetings and notes; an object that cannot be read keeps the
        meetings it had."""
        data = text.encode("utf-8", "surrogateescape")
        kept = previous.uids if previous is not None else ()
        if len(data) > self._max_bytes:
            note = (f"it is {len(data) / MB:.1f} MB, over the limit of {self._max_file_mb} "
                    "MB, so it is not read and its meetings are kept as they were; raise "
                    "`max_file_mb` for this account in the config")
            log.warning("%scalendar object %s skipped: %s", self._who, href, note)
            return ObjectEntry(etag, kept, False, True, True), (), (note,)
        try:
            parsed = parse_file(data, path=Path(unquote(href)), tz=self._env.timezone,
                                window=window)
        except MalformedCalendar as exc:
            note = (f"it is not a valid iCalendar object ({exc}); its meetings are kept as "
                    "they were until it is fixed")
            log.warning("%scalendar object %s skipped: %s", self._who, href, note)
            return ObjectEntry(etag, kept, False, True, True), (), (note,)
        uids = tuple(meeting.uid for meeting in parsed.meetings)
        return ObjectEntry(etag, uids, parsed.recurring), parsed.meetings, parsed.notes

    # --- which calendars -------------------------------------------------------------------

    def _select(self, found: list[Found]) -> list[Found]:
        """The calendars the config names (display names, then URLs), or every one that holds
        events. Raises ``ConnectorError`` for a name that matches none, listing them."""
        if not self._selection:
            return [calendar for calendar in found if calendar.has_events]
        chosen: dict[str, Found] = {}
        for wanted in self._selection:
            match = self._match(wanted, found)
            if match is None:
                names = ", ".join(repr(c.name) for c in found if c.has_events) or "none"
                raise ConnectorError(
                    f"{self._who}no calendar {wanted!r} on the CalDAV server (its calendars: "
                    f"{names}): fix `calendars` in the config")
            chosen[match.url] = match
        return sorted(chosen.values(), key=lambda calendar: calendar.url)

    def _match(self, wanted: str, found: list[Found]) -> Found | None:
        if _is_url(wanted):
            url = urljoin(self._url, wanted)
            path = href_path(url).rstrip("/")
            for calendar in found:
                if href_path(calendar.url).rstrip("/") == path:
                    return calendar
            return self._dav.calendar(url)
        exact = [calendar for calendar in found if calendar.name == wanted]
        folded = [calendar for calendar in found
                  if calendar.name.casefold() == wanted.casefold()]
        return next(iter(exact or folded), None)


def _is_url(text: str) -> bool:
    return "://" in text or text.startswith("/")


def _name(href: str) -> str:
    """An object's name in its collection, as its meetings' ``source`` says it."""
    return Path(unquote(href)).name
