"""Google Calendar as a :class:`connectors.base.CalendarSource`: ``events.list`` with
incremental sync.

A full sync lists the calendar's events from ``history_days`` ago on (``timeMin``), expanded
into single occurrences (``singleEvents``), deleted ones included (``showDeleted``, so that a
full sync after an expired token still reports what was deleted meanwhile), 2,500 a page,
following ``nextPageToken`` to the last page, whose ``nextSyncToken`` becomes the cursor. Later
syncs send that token (``syncToken``) and get only what changed. The cursor is returned only
once the whole listing has been read, so an interrupted listing is simply read again.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from connectors.base import ConnectorEnv
from connectors.google.client import NotFound, Session
from connectors.google.mapping import to_change
from connectors.mapping import BadEvent
from daemon.core.errors import ConnectorError, CursorExpired
from daemon.core.model import JSON, Change, Removed, TaggingRules

log = logging.getLogger(__name__)

PAGE_SIZE = 2500
"""The most Calendar allows in one page."""
MAX_PAGES = 400
"""A listing longer than this (a million events) is taken to be a server fault."""
CURSOR_VERSION = 1


class GoogleCalendar:
    """One Google calendar of one account."""

    def __init__(self, session: Session, env: ConnectorEnv, *, calendar_id: str,
                 history_days: int, color_id: str | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        """Remember what to read; nothing is fetched until :meth:`changes`."""
        self.session = session
        self.env = env
        self.calendar_id = calendar_id
        self.history_days = history_days
        self.color_id = color_id
        self.page_size = page_size

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        """Yield the meetings changed or removed since ``cursor`` (all of them when
        ``cursor`` is ``None``), a page at a time, and return the new cursor ``{"version",
        "calendar_id", "sync_token"}``.

        Raises ``CursorExpired`` when Google answers 410 or the cursor belongs to another
        calendar or format, ``AuthError``, ``TransientError`` or ``ConnectorError``.
        """
        params: dict[str, Any] = {"calendarId": self.calendar_id, "singleEvents": True,
                                  "showDeleted": True, "maxResults": self.page_size}
        if cursor is None:
            since = self.env.clock() - timedelta(days=self.history_days)
            params["timeMin"] = since.isoformat()
        else:
            params["syncToken"] = self._token_of(cursor)
        seen_pages: set[str] = set()
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._page(params, page_token)
            for item in page.get("items") or []:
                change = self._map(item)
                if change is not None:
                    yield change
            sync_token = page.get("nextSyncToken")
            page_token = page.get("nextPageToken")
            del page  # the next page is read without this one still in memory
            if isinstance(sync_token, str) and sync_token:
                return {"version": CURSOR_VERSION, "calendar_id": self.calendar_id,
                                "sync_token": sync_token}
            if not isinstance(page_token, str) or not page_token or page_token in seen_pages:
                raise ConnectorError(
                    f"account {self.session.account!r}: Google's event listing ended without "
                    "a sync token; the next cycle will read the calendar again")
            seen_pages.add(page_token)
        raise ConnectorError(f"account {self.session.account!r}: Google's event listing ran "
                             f"past {MAX_PAGES} pages; the next cycle will try again")

    def _page(self, params: dict[str, Any], page_token: str | None) -> dict[str, Any]:
        query = dict(params)
        if page_token:
            query["pageToken"] = page_token
        try:
            answer = self.session.call(
                lambda: self.session.resource("calendar", "events").list(**query),
                f"reading calendar {self.calendar_id!r}")
        except NotFound:
            raise ConnectorError(
                f"account {self.session.account!r}: Google has no calendar "
                f"{self.calendar_id!r} that this account can read; fix calendar_id in the "
                "config (\"primary\" is the account's own calendar)") from None
        if not isinstance(answer, dict):
            raise ConnectorError(f"account {self.session.account!r}: Google's event listing "
                                 "was not a JSON object; the next cycle will try again")
        return answer

    def _token_of(self, cursor: JSON) -> str:
        token = cursor.get("sync_token")
        if (cursor.get("version") != CURSOR_VERSION or not isinstance(token, str) or not token
                or cursor.get("calendar_id") != self.calendar_id):
            raise CursorExpired(f"account {self.session.account!r}: the saved sync position "
                                "is not for this calendar; reading it again in full")
        return token

    def _map(self, item: Any) -> Change | None:
        if not isinstance(item, dict):
            return None
        try:
            mapped = to_change(item, tz=self.env.timezone, color_id=self.color_id)
        except BadEvent as exc:
            log.warning("account %s: skipped Google event %r: %s", self.session.account,
                        str(item.get("id", "?"))[:100], exc)
            return None
        if isinstance(mapped, Removed):
            return mapped
        for problem in mapped.problems:
            log.warning("account %s: Google event %r: %s", self.session.account,
                        str(item.get("id", "?"))[:100], problem)
        return mapped.meeting
