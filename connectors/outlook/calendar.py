"""The Outlook calendar through Microsoft Graph's ``/me/calendarView/delta``.

A full sync asks for every event in a window (``history_days`` back to ``horizon_days`` ahead)
and follows ``@odata.nextLink`` pages until ``@odata.deltaLink``; that link, stored whole with
the window, is the cursor, returned only once the whole listing has been read. The next sync
asks the delta link for what changed since.

When less than half of the horizon is left ahead of now, the window moves forward: a fresh full
sync over a new window (drafts are keyed by meeting, so nothing is written twice). A delta link
Graph no longer accepts (410, or ``SyncStateNotFound``) raises ``CursorExpired``.

Occurrences of a series carry their own ``iCalUId``; the series' UID is read once from the
series master (``GET /me/events/{id}?$select=iCalUId``) and remembered in the cursor.

Each next page is read ahead in a background thread while the current one is mapped, in the
order of requests one thread would make; held to it by
tests/test_outlook_calendar.py::test_read_ahead_keeps_requests_in_order (docs/performance.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from connectors.base import ConnectorEnv
from connectors.mapping import BadEvent
from connectors.outlook.client import GraphClient, GraphError
from connectors.outlook.mapping import removed, series_master_id, to_meeting
from daemon.core.errors import ConnectorError, CursorExpired
from daemon.core.model import JSON, Change, TaggingRules

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
DEFAULT_PAGE_SIZE = 200
"""Events per page asked with ``Prefer: odata.maxpagesize`` (Graph's own default is 10)."""
MAX_PAGES = 5000
"""A listing longer than this is taken to be a server loop, not a calendar."""
MAX_SERIES_REMEMBERED = 5000
EXPIRED_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})
"""Graph error codes (compared lower-cased) that mean the delta state is gone."""


@dataclass(frozen=True)
class _Cursor:
    delta_link: str
    window_start: datetime
    window_end: datetime
    series: dict[str, str]

    def to_json(self) -> JSON:
        return {"version": CURSOR_VERSION, "delta_link": self.delta_link,
                "window_start": _iso(self.window_start), "window_end": _iso(self.window_end),
                "series": dict(self.series)}


class _ReadAhead:
    """One page read in a background thread. The thread is a daemon: a stop (SIGTERM, Ctrl-C)
    that leaves the cycle does not wait for its request (up to retries x timeout)."""

    def __init__(self, read: Callable[[], JSON]) -> None:
        """Start reading."""
        self._done = threading.Event()
        self._page: JSON = {}
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(read,), name="graph-page", daemon=True).start()

    def _run(self, read: Callable[[], JSON]) -> None:
        try:
            self._page = read()
        except BaseException as exc:  # handed to the reader of the page, in its thread
            self._error = exc
        finally:
            self._done.set()

    def wait(self) -> None:
        """Wait until the read has ended, however it ended."""
        self._done.wait()

    def result(self) -> JSON:
        """The page; raises what reading it raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._page


class GraphCalendar:
    """A :class:`connectors.base.CalendarSource` over the signed-in user's Outlook calendar."""

    def __init__(self, client: GraphClient, env: ConnectorEnv, *, history_days: int,
                 horizon_days: int, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        """Remember the client, the injected clock and zone, and the window's size."""
        self._client = client
        self._env = env
        self._history = timedelta(days=history_days)
        self._horizon = timedelta(days=horizon_days)
        self._page_size = page_size

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        """Yield the meetings changed or removed since ``cursor``, a page at a time, and
        return the new cursor.

        ``None`` (or a cursor whose window is running out) means a full sync over a fresh
        window. Raises ``CursorExpired`` when Graph no longer accepts the stored delta link
        (or the cursor cannot be read, or points at another ``graph_root``), ``AuthError``,
        ``TransientError`` or ``ConnectorError``.
        """
        now = self._env.clock().astimezone(UTC).replace(microsecond=0)
        state = _read_cursor(cursor) if cursor is not None else None
        if cursor is not None and state is None:
            raise CursorExpired(f"account {self._client.account!r}: the stored calendar "
                                "position cannot be read")
        series: dict[str, str] = dict(state.series) if state is not None else {}
        if state is not None and state.window_end - now < self._horizon / 2:
            log.info("account %s: the calendar window is moving forward; reading it again",
                     self._client.account)
            state = None
        if state is None:
            start, end = now - self._history, now + self._horizon
            url = self._client.url("/me/calendarView/delta")
            params: dict[str, str] | None = {"startDateTime": _iso(start),
                                              "endDateTime": _iso(end)}
        else:
            start, end = state.window_start, state.window_end
            if not state.delta_link.startswith(self._client.root + "/"):
                raise CursorExpired(f"account {self._client.account!r}: the stored calendar "
                                    "position belongs to another graph_root")
            url, params = state.delta_link, None
        delta_link = yield from self._list(url, params, series)
        if len(series) > MAX_SERIES_REMEMBERED:
            series = dict(list(series.items())[-MAX_SERIES_REMEMBERED:])
        return _Cursor(delta_link, start, end, series).to_json()

    # --- listing ---------------------------------------------------------------------------

    def _list(self, url: str, params: dict[str, str] | None,
              series: dict[str, str]) -> Generator[Change, None, str]:
        """Yield the changes of the listing at ``url``, a page at a time, and return the delta
        link that ends it. ``series`` gains the series uids looked up on the way. The first
        page is read here; each next one in a background thread while this one is mapped."""
        headers = {"Prefer": f'odata.maxpagesize={self._page_size}, outlook.timezone="UTC"'}
        body = self._page(url, params, headers)
        ahead: _ReadAhead | None = None
        try:
            for count in range(1, MAX_PAGES + 1):
                page: list[Any] = body["value"]
                self._learn_series(page, series)  # its requests come before the next page
                next_link = body.get("@odata.nextLink")
                delta_link = body.get("@odata.deltaLink")
                end = (self._client.check_link(delta_link)
                       if isinstance(delta_link, str) and delta_link else None)
                if end is None:
                    if not isinstance(next_link, str) or not next_link:
                        raise ConnectorError(
                            f"account {self._client.account!r}: Graph ended a calendar listing "
                            "without a delta link; the next cycle will try again")
                    if count < MAX_PAGES:
                        ahead = _ReadAhead(partial(self._page,
                                                   self._client.check_link(next_link), None,
                                                   headers))
                for item in page:
                    change = self._map(item, series) if isinstance(item, dict) else None
                    if change is not None:
                        yield change
                if end is not None:
                    return end
                if ahead is None:
                    break
                body, ahead = ahead.result(), None
        except (Exception, GeneratorExit):
            if ahead is not None:
                ahead.wait()  # the client is never used by two threads at once
            raise
        raise ConnectorError(f"account {self._client.account!r}: the calendar listing went on "
                             f"for more than {MAX_PAGES} pages; the next cycle will try again")

    def _page(self, url: str, params: dict[str, str] | None,
              headers: dict[str, str]) -> JSON:
        """Read one page of the listing; its ``value`` is a list. Raises ``CursorExpired``
        when Graph no longer accepts the delta state, and what ``request`` raises."""
        try:
            reply = self._client.request("GET", url, "reading calendar changes",
                                         params=params, headers=headers)
        except GraphError as exc:
            if exc.status == 410 or exc.code.lower() in EXPIRED_CODES:
                raise CursorExpired(f"account {self._client.account!r}: Graph no longer "
                                    "accepts the stored calendar position") from exc
            raise
        if not isinstance(reply.body.get("value", []), list):
            raise ConnectorError(f"account {self._client.account!r}: Graph sent a calendar "
                                 "page without a list of events")
        return {**reply.body, "value": reply.body.get("value", [])}

    def _learn_series(self, page: list[Any], series: dict[str, str]) -> None:
        """Look up the uid of each series the page's occurrences belong to, once each."""
        for item in page:
            if isinstance(item, dict) and removed(item) is None:
                master = series_master_id(item)
                if master is not None and master not in series:
                    series[master] = self._series_uid(master)

    def _map(self, event: JSON, series: dict[str, str]) -> Change | None:
        gone = removed(event)
        if gone is not None:
            return gone if gone.provider_id else None
        if event.get("type") == "seriesMaster":
            return None
        try:
            mapped = to_meeting(event, tz=self._env.timezone, series_uids=series)
        except BadEvent as exc:
            log.warning("account %s: skipped an Outlook event (%s): %s", self._client.account,
                        str(event.get("id", "?"))[:40], exc)
            return None
        for problem in mapped.problems:
            log.warning("account %s: %s: %s", self._client.account, mapped.meeting.title
                        or mapped.meeting.source, problem)
        return mapped.meeting

    def _series_uid(self, master: str) -> str:
        """The ``iCalUId`` of a series master; "" when it no longer exists."""
        url = self._client.url(f"/me/events/{_quote(master)}")
        try:
            reply = self._client.request("GET", url, "reading a recurring series",
                                         params={"$select": "iCalUId"})
        except GraphError as exc:
            if exc.status == 404:
                return ""
            raise
        value: Any = reply.body.get("iCalUId")
        return value if isinstance(value, str) else ""


def _read_cursor(cursor: JSON) -> _Cursor | None:
    try:
        if cursor.get("version") != CURSOR_VERSION:
            return None
        link = cursor["delta_link"]
        start = datetime.fromisoformat(cursor["window_start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(cursor["window_end"].replace("Z", "+00:00"))
        series = cursor.get("series", {})
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(link, str) or start.tzinfo is None or end.tzinfo is None:
        return None
    if not isinstance(series, dict):
        series = {}
    return _Cursor(link, start, end, {str(k): str(v) for k, v in series.items()})


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    return quote(value, safe="")
