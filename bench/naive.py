"""The reference naive poller: what a trigger-style automation does each cycle.

It lists every event in the calendar window, following every page (Google ``events.list``
without a sync token; Graph ``calendarView``, not its delta), keeps the events whose title or
description holds a tag keyword, and compares each listed event's id and version stamp with
those it saw last time (a "new or updated event" trigger's de-duplication). It rewrites its
seen-file only when something changed.

It is deliberately lean, so that the ratios against it are fair to it: it keeps one HTTP
connection, parses each page once and does nothing else (no rendering, no drafts). The
benchmark runs it with the largest pages the service allows, and also with the API's default
page size, which is what a poller that asks for no particular size gets. Run as a script
(it imports nothing from coffeechat or the benchmark):

    python bench/naive.py google|outlook --root URL --token T --state FILE [--page-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

KEYWORDS = ("#infointerview", "informational interview", "info interview", "coffee chat")
TIMEOUT = 30


def google_events(session: requests.Session, root: str, window: tuple[datetime, datetime],
                  page_size: int) -> Iterator[dict[str, Any]]:
    """Every event of the primary calendar in ``window``, page after page.

    Raises ``requests.HTTPError`` on a failed request."""
    url = root.rstrip("/") + "/calendar/v3/calendars/primary/events"
    params: dict[str, str] = {"singleEvents": "true", "maxResults": str(page_size),
                              "timeMin": window[0].isoformat(),
                              "timeMax": window[1].isoformat()}
    while True:
        reply = session.get(url, params=params, timeout=TIMEOUT)
        reply.raise_for_status()
        page = reply.json()
        yield from page.get("items", [])
        token = page.get("nextPageToken")
        if not token:
            return
        params = {**params, "pageToken": token}


def graph_events(session: requests.Session, root: str, window: tuple[datetime, datetime],
                 page_size: int) -> Iterator[dict[str, Any]]:
    """Every event of the user's calendarView in ``window``, following next links.

    Raises ``requests.HTTPError`` on a failed request."""
    url: str | None = root.rstrip("/") + "/me/calendarView"
    params: dict[str, str] | None = {
        "startDateTime": window[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": window[1].strftime("%Y-%m-%dT%H:%M:%SZ"), "$top": str(page_size)}
    while url:
        reply = session.get(url, params=params, timeout=TIMEOUT,
                            headers={"Prefer": 'outlook.timezone="UTC"'})
        reply.raise_for_status()
        page = reply.json()
        yield from page.get("value", [])
        url, params = page.get("@odata.nextLink"), None


def _text_of(event: dict[str, Any]) -> str:
    body = event.get("body")
    content = body.get("content", "") if isinstance(body, dict) else ""
    return " ".join(str(part) for part in (event.get("summary"), event.get("subject"),
                                           event.get("description"), content) if part)


def is_tagged(event: dict[str, Any]) -> bool:
    """Whether a keyword occurs in the event's title or description (case-insensitive)."""
    text = _text_of(event).casefold()
    return any(keyword in text for keyword in KEYWORDS)


def stamp(event: dict[str, Any]) -> str:
    """The event's version: Google's etag or Graph's change key."""
    return str(event.get("etag") or event.get("changeKey") or event.get("@odata.etag") or "")


def poll(kind: str, root: str, token: str, state: Path, history_days: int, horizon_days: int,
         page_size: int) -> tuple[int, int, int]:
    """One polling cycle; returns (events listed, tagged, new or changed since last time)."""
    now = datetime.now(UTC)
    window = (now - timedelta(days=history_days), now + timedelta(days=horizon_days))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    lister = google_events if kind == "google" else graph_events
    seen: dict[str, str] = {}
    tagged = 0
    for event in lister(session, root, window, page_size):
        seen[str(event.get("id"))] = stamp(event)
        tagged += is_tagged(event)
    before: dict[str, str] = json.loads(state.read_text("utf-8")) if state.exists() else {}
    fresh = sum(1 for key, value in seen.items() if before.get(key) != value)
    if seen != before:
        _write(state, json.dumps(seen, sort_keys=True).encode("utf-8"))
    return len(seen), tagged, fresh


def _write(path: Path, payload: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".naive-")
    with os.fdopen(fd, "wb") as out:
        out.write(payload)
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    """Parse the command line, poll once, print a summary line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("google", "outlook"))
    parser.add_argument("--root", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--history-days", type=int, default=400)
    parser.add_argument("--horizon-days", type=int, default=365)
    parser.add_argument("--page-size", type=int, default=250)
    args = parser.parse_args(argv)
    listed, tagged, fresh = poll(args.kind, args.root, args.token, args.state,
                                 args.history_days, args.horizon_days, args.page_size)
    print(f"{listed} events listed, {tagged} tagged, {fresh} new or changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
