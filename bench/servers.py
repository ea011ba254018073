"""The test fakes of Google and Graph, adapted for calendars of tens of thousands of events.

They behave as the test fakes do (same endpoints, same paging, same tokens, same request log),
with four differences, all on the server's side of the wire:

- events are loaded in bulk;
- an incremental listing (Google ``syncToken``, Graph ``$deltatoken``) looks only at the
  events changed since the token, from a change log, as a real service's does, instead of
  sorting the whole calendar: the fake's own cost must not grow with the calendar where a real
  server's does not, or it would be charged to coffeechat's idle cycle;
- listings hold references to the stored events instead of deep copies (stored events are
  never changed in place: every change stores a new dict), so the server's share of a first
  sync stays small;
- Graph also serves the plain ``GET /me/calendarView`` (``$top``/``$skip`` paging with next
  links carrying the window), which the naive poller uses.

Whatever the server still spends is measured (the bench process's CPU time during each run)
and reported next to the wall time.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tests.fakes.google import FakeGoogle, _ends_after, _error, _Listing, _Reply
from tests.fakes.graph import JSON, FakeGraph, _encode, _Event, _instant, _overlaps, _Round

GOOGLE_MAX_PAGE = 2500
"""The largest page Google's events.list serves (``maxResults`` up to 2,500)."""
GRAPH_MAX_TOP = 1000
"""The largest ``$top`` the benchmark's Graph accepts on calendarView."""


class BenchGoogle(FakeGoogle):
    """:class:`tests.fakes.google.FakeGoogle` with bulk loading and a change log."""

    def __init__(self) -> None:
        """A fake serving pages of up to 2,500 events, as Google does."""
        super().__init__(page_size=GOOGLE_MAX_PAGE)
        self._log_versions: list[int] = []
        self._log_ids: list[tuple[str, str]] = []

    def put_event(self, event: dict[str, Any], calendar_id: str = "primary") -> None:
        """Create or replace an event, and note it in the change log."""
        with self._lock:
            super().put_event(event, calendar_id)
            self._log_versions.append(self._version)
            self._log_ids.append((calendar_id, event["id"]))

    def put_events(self, events: Iterable[dict[str, Any]], calendar_id: str = "primary") -> None:
        """Store many events (each becomes a change)."""
        with self._lock:
            for event in events:
                self.put_event(event, calendar_id)

    def forget(self) -> None:
        """Drop finished listings, recorded requests and drafts (between measured runs)."""
        with self._lock:
            self._listings.clear()
            self.requests.clear()

    def _new_listing(self, calendar_id: str,
                     params: dict[str, str]) -> tuple[str, _Listing] | _Reply:
        events = self.events.get(calendar_id, {})
        if "syncToken" in params:
            match = re.fullmatch(r"sync-(\d+)", params["syncToken"])
            if match is None or int(match.group(1)) < self._min_sync_version:
                return _error(410, "Sync token is no longer valid, a full sync is required.",
                              "fullSyncRequired", "GONE")
            since = int(match.group(1))
            first = bisect.bisect_right(self._log_versions, since)
            changed = dict.fromkeys(event_id for cal, event_id in self._log_ids[first:]
                                    if cal == calendar_id)
            items = sorted((events[event_id] for event_id in changed),
                           key=lambda e: self._versions[(calendar_id, e["id"])])
        else:
            show_deleted = params.get("showDeleted") == "true"
            time_min = params.get("timeMin")
            ordered = sorted(events.values(),
                             key=lambda e: self._versions[(calendar_id, e["id"])])
            items = [e for e in ordered
                     if (show_deleted or e.get("status") != "cancelled")
                     and (time_min is None or _ends_after(e, time_min))]
        listing_id = self._new_id("L")
        listing = _Listing(items, self._version)
        self._listings[listing_id] = listing
        return listing_id, listing


class BenchGraph(FakeGraph):
    """:class:`tests.fakes.graph.FakeGraph` with bulk loading, a change log and calendarView."""

    def __init__(self) -> None:
        """A fake Graph accepting the token ``test-token``."""
        super().__init__()
        self._log_seqs: list[int] = []
        self._log_ids: list[str] = []
        self._view: tuple[tuple[str, str, int, bool], list[JSON]] | None = None

    def put_event(self, event: JSON) -> JSON:
        """Create or replace one event, and note it in the change log."""
        with self._lock:
            stored = super().put_event(event)
            self._log_seqs.append(self._seq)
            self._log_ids.append(stored["id"])
            return stored

    def put_events(self, events: Iterable[JSON]) -> None:
        """Store many events (each with its ``id``) without copying them."""
        with self._lock:
            for event in events:
                self._seq += 1
                self._state.events[event["id"]] = _Event(event, self._seq)
                self._state.tombstones.pop(event["id"], None)
                self._log_seqs.append(self._seq)
                self._log_ids.append(event["id"])

    def forget(self) -> None:
        """Drop unfinished listings and recorded requests (between measured runs)."""
        with self._lock:
            self._state.rounds.clear()
            self.requests.clear()
            self._view = None

    def drafts_count(self) -> int:
        """How many messages are in Drafts."""
        with self._lock:
            return sum(1 for m in self._state.messages.values()
                       if m["parentFolderId"] == "AAMkADraftsFolder0001")

    def clear_drafts(self) -> None:
        """Empty every mail folder."""
        with self._lock:
            self._state.messages.clear()

    # --- serving -----------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        if path.lower().rstrip("/") == "/me/calendarview" and method == "GET":
            return self._calendar_view(query, headers)
        return super()._route(method, path, query, headers, body)

    def _calendar_view(self, query: dict[str, list[str]],
                       headers: dict[str, str]) -> tuple[int, JSON | None, dict[str, str]]:
        try:
            raw_start, raw_end = query["startDateTime"][0], query["endDateTime"][0]
            start, end = _instant(raw_start), _instant(raw_end)
            top = int(query.get("$top", ["10"])[0])
            skip = int(query.get("$skip", ["0"])[0])
        except (KeyError, ValueError):
            return 400, {"error": {"code": "ErrorInvalidParameter", "message":
                                   "startDateTime and endDateTime are required."}}, {}
        if not 1 <= top <= GRAPH_MAX_TOP:
            return 400, {"error": {"code": "ErrorInvalidParameter",
                                   "message": f"$top must be 1 to {GRAPH_MAX_TOP}."}}, {}
        utc = 'outlook.timezone="utc"' in headers.get("prefer", "").lower()
        key = (raw_start, raw_end, self._seq, utc)
        if self._view is None or self._view[0] != key:
            items = [self._listed(e.data, utc) for e in self._sorted_events()
                     if _overlaps(e.data, start, end)]
            self._view = (key, items)
        items = self._view[1]
        page: JSON = {"@odata.context": f"{self.root}/$metadata#users('me')/calendarView",
                      "value": items[skip:skip + top]}
        if skip + top < len(items):
            page["@odata.nextLink"] = (
                f"{self.root}/me/calendarView?startDateTime={quote(raw_start)}"
                f"&endDateTime={quote(raw_end)}&$top={top}&$skip={skip + top}")
        return 200, page, {}

    def _changed(self, start: datetime, end: datetime, since: int, utc: bool) -> list[JSON]:
        first = bisect.bisect_right(self._log_seqs, since)
        ids = dict.fromkeys(self._log_ids[first:])
        events = sorted((self._state.events[i] for i in ids if i in self._state.events
                         and self._state.events[i].seq > since), key=lambda e: e.seq)
        items: list[JSON] = []
        for event in events:
            if _overlaps(event.data, start, end):
                items.append(self._listed(event.data, utc))
            else:
                items.append({"@odata.type": "#microsoft.graph.event", "id": event.data["id"],
                              "@removed": {"reason": "deleted"}})
        for event_id, seq in sorted(self._state.tombstones.items(), key=lambda kv: kv[1]):
            if seq > since:
                items.append({"@odata.type": "#microsoft.graph.event", "id": event_id,
                              "@removed": {"reason": "deleted"}})
        return items

    def _listed(self, event: JSON, utc: bool) -> JSON:
        listed = dict(event)
        listed.setdefault("@odata.etag", f'W/"{listed["id"][-8:]}"')
        if not utc:
            listed.setdefault("originalStartTimeZone", "UTC")
        return listed

    def _page(self, listing: _Round, round_id: str, offset: int,
              size: int) -> tuple[int, JSON | None, dict[str, str]]:
        chunk = listing.items[offset:offset + size]
        body: JSON = {"@odata.context": f"{self.root}/$metadata#Collection(event)",
                      "value": chunk}
        link = f"{self.root}/me/calendarView/delta"
        if offset + size < len(listing.items):
            token = _encode({"r": round_id, "o": offset + size, "g": self._generation})
            body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            body["@odata.deltaLink"] = f"{link}?$deltatoken={listing.delta_token}"
            self._state.rounds.pop(round_id, None)
        return 200, body, {"Preference-Applied": f"odata.maxpagesize={size}"}
