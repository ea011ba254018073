"""A fake Microsoft Graph on 127.0.0.1: calendarView delta and a Drafts folder, over real HTTP.

The connector talks to it through requests exactly as to Graph: ``{root}/me/...`` with a bearer
token. It serves

* ``GET /me/calendarView/delta`` with paging (``Prefer: odata.maxpagesize``), next and delta
  links pointing back at this server, ``@removed`` entries, and 410 ``SyncStateNotFound`` for a
  delta link from before :meth:`FakeGraph.expire_delta`;
* ``GET /me/events/{id}`` (``$select``), for series masters;
* ``POST /me/messages``, ``GET/PATCH/DELETE /me/messages/{id}`` (``If-Match`` honoured),
  ``POST /me/messages/{id}/createReply``, ``GET /me/mailFolders/{folder}`` and the message
  lists ``GET /me/messages`` and ``GET /me/mailFolders/{folder}/messages`` with ``$filter``,
  ``$orderby``, ``$search``, ``$expand``, ``$select``, ``$top``, ``$skip`` and next links (the
  query language is :mod:`tests.fakes.graph_query`); bodies are checked against
  :mod:`tests.fakes.graph_schema`;
* extended properties as Exchange keeps them: a string property in the ``PS_INTERNET_HEADERS``
  set is an Internet header of that name (MS-OXCMAIL), ``String 0x1042`` is ``In-Reply-To`` and
  ``String 0x1039`` is ``References``; they are shown only through ``$expand``. Whether
  ``internetMessageHeaders`` given at creation can in turn be found as such properties is not
  documented, so the fake does not assume it;
* ``/send``, ``/sendMail``, ``/reply``, ``/replyAll`` and ``/forward`` (which all send) are
  recorded and refused with 403 (no ``Mail.Send``).

Mail that arrives, is sent or sits in Drafts is put in with :meth:`FakeGraph.put_mail`.

Every request is recorded (:attr:`FakeGraph.requests`). Faults are injected from a script
(:meth:`FakeGraph.inject`) or at random (:meth:`FakeGraph.chaos`, bounded in count): 429 and
503 with ``Retry-After``, 500, slow replies (the request is carried out, the answer comes late),
connections dropped before or after the request is carried out, and 403 (a permission the
app lacks).
"""

from __future__ import annotations

import base64
import copy
import email.policy
import hashlib
import html
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.fakes.graph_query import (
    EXTENDED,
    QueryError,
    newest_sent_first,
    ordered,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_search,
)
from tests.fakes.graph_schema import READABLE, check_message, error

JSON = dict[str, Any]
FaultKind = Literal["throttle", "unavailable", "server_error", "forbidden", "slow", "drop",
                    "drop_after"]
DRAFTS_ID = "AAMkADraftsFolder0001"
DELETED_ID = "AAMkADeletedItems0002"
SENT_ID = "AAMkASentItems000003"
INBOX_ID = "AAMkAInboxFolder00004"
_WELL_KNOWN = {"drafts": DRAFTS_ID, "deleteditems": DELETED_ID, "sentitems": SENT_ID,
               "inbox": INBOX_ID}
_FOLDER_NAMES = {DRAFTS_ID: "Drafts", DELETED_ID: "Deleted Items", SENT_ID: "Sent Items",
                 INBOX_ID: "Inbox"}
PS_INTERNET_HEADERS = "{00020386-0000-0000-C000-000000000046}"
IN_REPLY_TO = "String 0x1042"
"""PidTagInReplyToId: the In-Reply-To of a message."""
REFERENCES = "String 0x1039"
"""PidTagInternetReferences: the References of a message."""
MESSAGE_CLASS = "String 0x001A"
"""PidTagMessageClass: ``IPM.Note`` for mail, ``IPM.Note.Rules.OofTemplate.Microsoft`` for an
out-of-office reply from a mailbox of the same organisation."""
SENDING = ("/send", "/sendmail", "/reply", "/replyall", "/forward")
"""Actions that send mail (they need Mail.Send, which coffeechat never has)."""
DEFAULT_PAGE = 10
"""Graph's own page size for delta when the client does not ask for one."""


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    """Below the version segment, e.g. ``/me/messages``."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    fault: str = ""


@dataclass
class Fault:
    """One fault to inject into the next request matching ``method`` and ``path`` (a
    substring of the path; both optional)."""

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    retry_after: float | None = 1
    delay: float = 0.0
    skip: int = 0
    """Let this many matching requests through before striking."""

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path is None or self.path in path))


@dataclass
class _Chaos:
    rate: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    remaining: int
    retry_after: float | None
    delay: float


@dataclass
class _Round:
    """A listing in progress: the items of a full or incremental delta and the token that
    ends it."""

    items: list[JSON]
    delta_token: str


@dataclass
class _Event:
    data: JSON
    seq: int


@dataclass
class _State:
    events: dict[str, _Event] = field(default_factory=dict)
    masters: dict[str, JSON] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)
    messages: dict[str, JSON] = field(default_factory=dict)
    rounds: dict[str, _Round] = field(default_factory=dict)


class FakeGraph:
    """The fake server. Use :func:`running` (or :meth:`start`/:meth:`stop`)."""

    def __init__(self, *, token: str = "test-token",
                 owner: tuple[str, str] = ("Sam Ortiz", "sam@example.com")) -> None:
        self.token = token
        self.owner = owner
        self.requests: list[Recorded] = []
        self._state = _State()
        self._lock = threading.RLock()
        self._seq = 0
        self._generation = 0
        self._ids = 0
        self._faults: deque[Fault] = deque()
        self._chaos: _Chaos | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)

    # --- life ------------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        """Listen on 127.0.0.1 on a free port, in a background thread."""
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def root(self) -> str:
        """What ``graph_root`` is set to: ``http://127.0.0.1:PORT/v1.0``."""
        return self.base + "/v1.0"

    # --- faults ----------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Queue faults: each hits the next request it matches, once."""
        with self._lock:
            self._faults.extend(faults)

    def chaos(self, rate: float, kinds: Sequence[FaultKind], *, seed: int = 0,
              limit: int = 20, retry_after: float | None = 0, delay: float = 0.0) -> None:
        """Fault a fraction ``rate`` of requests at random, at most ``limit`` times in all."""
        with self._lock:
            self._chaos = _Chaos(rate, tuple(kinds), random.Random(seed), limit, retry_after,
                                 delay)

    def clear_faults(self) -> None:
        """Forget the queued faults and stop the random ones."""
        with self._lock:
            self._faults.clear()
            self._chaos = None

    def _next_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    self._faults.remove(fault)
                    return fault
            chaos = self._chaos
            if chaos is not None and chaos.remaining > 0 and chaos.rng.random() < chaos.rate:
                chaos.remaining -= 1
                return Fault(chaos.rng.choice(chaos.kinds), retry_after=chaos.retry_after,
                             delay=chaos.delay)
        return None

    # --- what tests see --------------------------------------------------------------------

    def requested(self, method: str | None = None, path: str = "") -> list[Recorded]:
        """The recorded requests with ``method`` (any when None) whose path contains
        ``path``."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and path in r.path]

    def send_requests(self) -> list[Recorded]:
        """Every request that tried to send mail (send, reply, reply all, forward)."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").lower().endswith(SENDING)]

    # --- calendar, as the user changes it ------------------------------------------------

    def new_id(self, prefix: str = "AAMkAGI") -> str:
        """A fresh Graph-like id."""
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids:06d}{random.Random(self._ids).getrandbits(48):012x}="

    def put_event(self, event: JSON) -> JSON:
        """Create or replace one calendarView item (single, occurrence or exception); an id is
        given when missing. Returns the stored event."""
        with self._lock:
            stored = copy.deepcopy(event)
            stored.setdefault("id", self.new_id())
            stored.setdefault("type", "singleInstance")
            self._seq += 1
            self._state.events[stored["id"]] = _Event(stored, self._seq)
            self._state.tombstones.pop(stored["id"], None)
            return copy.deepcopy(stored)

    def put_master(self, master: JSON) -> JSON:
        """Create or replace a series master (not listed by calendarView itself)."""
        with self._lock:
            stored = copy.deepcopy(master)
            stored.setdefault("id", self.new_id("AAMkMaster"))
            stored["type"] = "seriesMaster"
            self._state.masters[stored["id"]] = stored
            return copy.deepcopy(stored)

    def delete_event(self, event_id: str) -> None:
        """Delete one calendarView item; the next delta reports it ``@removed``."""
        with self._lock:
            self._state.events.pop(event_id, None)
            self._seq += 1
            self._state.tombstones[event_id] = self._seq

    def delete_master(self, master_id: str) -> None:
        """Delete a series master."""
        with self._lock:
            self._state.masters.pop(master_id, None)

    def events(self) -> list[JSON]:
        """Every calendarView item."""
        with self._lock:
            return [copy.deepcopy(e.data) for e in self._state.events.values()]

    def expire_delta(self) -> None:
        """Make every delta and skip link handed out so far answer 410 SyncStateNotFound."""
        with self._lock:
            self._generation += 1

    # --- mail, as the user changes it --------------------------------------------------------

    def messages(self, folder: str = DRAFTS_ID) -> list[JSON]:
        """The messages in ``folder`` (default Drafts), oldest first."""
        with self._lock:
            found = [copy.deepcopy(m) for m in self._state.messages.values()
                     if m["parentFolderId"] == folder]
        return sorted(found, key=lambda m: str(m["createdDateTime"]))

    def message(self, message_id: str) -> JSON | None:
        """One message by id."""
        with self._lock:
            found = self._state.messages.get(message_id)
            return copy.deepcopy(found) if found is not None else None

    def user_edits(self, message_id: str, text: str = "\nP.S. Thanks again.") -> None:
        """Change a draft's body, as the user would in Outlook."""
        with self._lock:
            item = self._state.messages[message_id]
            item["body"]["content"] += text
            self._touch(item)

    def user_deletes(self, message_id: str) -> str:
        """Delete a draft in Outlook: it moves to Deleted Items and gets a new id (Graph ids
        change when an item moves). Returns the new id."""
        with self._lock:
            return self._move(message_id, DELETED_ID)

    def user_sends(self, message_id: str, at: datetime | None = None) -> str:
        """The user sends a draft (at ``at``, default the fake's clock): it moves to Sent
        Items, no longer a draft, dated when it was sent. Returns its new id."""
        with self._lock:
            new_id = self._move(message_id, SENT_ID)
            item = self._state.messages[new_id]
            item["isDraft"] = False
            item["sentDateTime"] = item["receivedDateTime"] = (
                self._now() if at is None else _iso(at))
            return new_id

    def put_mail(self, folder: str, *, to: Sequence[str], subject: str, message_id: str,
                 at: datetime, sender: str | None = None, cc: Sequence[str] = (),
                 bcc: Sequence[str] = (), references: Sequence[str] = (),
                 body: str = "", headers: Sequence[tuple[str, str]] = (),
                 message_class: str = "IPM.Note") -> JSON:
        """Put a message in ``folder`` (``inbox``, ``sentitems`` or ``drafts``) as Exchange
        holds it: from ``sender`` (default the mailbox's owner) to ``to``, ``cc`` and ``bcc``,
        dated ``at``, with its Message-ID, References and In-Reply-To (the last reference), in
        the conversation of the newest message it refers to (else a new one), and its
        ``message_class`` (:data:`MESSAGE_CLASS`, shown through ``$expand``). Mail in the
        Inbox also carries its transport headers in ``internetMessageHeaders``, the sender's
        ``headers`` (such as ``Auto-Submitted``) among them. Returns the stored message."""
        with self._lock:
            folder_id = _WELL_KNOWN[folder.lower()]
            when = _iso(at)
            item = self._new_message(folder_id, when)
            owner_name, owner = self.owner
            who = sender or owner
            item.update({
                "subject": subject,
                "body": {"contentType": "text", "content": body},
                "from": {"emailAddress": {"name": owner_name if who == owner else "",
                                          "address": who}},
                "toRecipients": [{"emailAddress": {"address": a}} for a in to],
                "ccRecipients": [{"emailAddress": {"address": a}} for a in cc],
                "bccRecipients": [{"emailAddress": {"address": a}} for a in bcc],
                "internetMessageId": message_id,
                "isRead": folder_id != INBOX_ID,
            })
            item["sender"] = copy.deepcopy(item["from"])
            earlier = {m["internetMessageId"]: m for m in self._state.messages.values()}
            for reference in reversed(references):
                if reference in earlier:
                    item["conversationId"] = earlier[reference]["conversationId"]
                    break
            if references:
                _set_extended(item, REFERENCES, " ".join(references))
                _set_extended(item, IN_REPLY_TO, references[-1])
            _set_extended(item, MESSAGE_CLASS, message_class)
            if folder_id == INBOX_ID:
                item["internetMessageHeaders"] = [
                    {"name": name, "value": value} for name, value in (
                        ("Message-ID", message_id), ("From", who), ("To", ", ".join(to)),
                        ("Cc", ", ".join(cc)), ("Subject", subject),
                        ("Date", at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")),
                        ("In-Reply-To", references[-1] if references else ""),
                        ("References", " ".join(references)), *headers) if value]
            self._touch(item)
            self._state.messages[item["id"]] = item
            return _public(item)

    def _move(self, message_id: str, folder: str) -> str:
        item = self._state.messages.pop(message_id)
        item["id"] = self.new_id("AAMkMsg")
        item["parentFolderId"] = folder
        self._touch(item)
        self._state.messages[item["id"]] = item
        return str(item["id"])

    def _now(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _touch(self, item: JSON) -> None:
        item["lastModifiedDateTime"] = self._now()
        item["changeKey"] = "CQAAABYAAA" + base64.b64encode(
            random.Random(f"{item['id']}{item['lastModifiedDateTime']}").randbytes(9)
        ).decode()
        item["@odata.etag"] = f'W/"{item["changeKey"]}"'

    # --- request handling --------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        """Answer one request: (status, JSON body or None, extra headers)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = unquote(parts.path)
        if not path.startswith("/v1.0/"):
            return 404, error("BadRequest", "Invalid version."), {}
        path = path[len("/v1.0"):]
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, error("InvalidAuthenticationToken",
                              "Access token is empty or invalid."), {}
        with self._lock:
            return self._route(method, path, query, headers, body)

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        lower = path.lower().rstrip("/")
        if lower.endswith(SENDING):
            return 403, error("ErrorAccessDenied",
                              "Access is denied. Check credentials and try again."), {}
        if lower == "/me/calendarview/delta" and method == "GET":
            return self._delta(query, headers)
        match = re.fullmatch(r"/me/events/([^/]+)", path)
        if match and method == "GET":
            return self._get_event(match.group(1), query)
        if lower == "/me/messages" and method == "POST":
            return self._create(body)
        if lower == "/me/messages" and method == "GET":
            return self._list(None, path, query)
        match = re.fullmatch(r"/me/messages/([^/]+)/createreply", path, re.IGNORECASE)
        if match and method == "POST":
            return self._create_reply(match.group(1), body)
        match = re.fullmatch(r"/me/mailfolders/([^/]+)", lower)
        if match and method == "GET":
            folder = _WELL_KNOWN.get(match.group(1), match.group(1))
            return 200, {"id": folder, "displayName": _FOLDER_NAMES.get(folder, folder)}, {}
        match = re.fullmatch(r"/me/mailFolders/([^/]+)/messages", path, re.IGNORECASE)
        if match and method == "GET":
            folder = _WELL_KNOWN.get(match.group(1).lower(), match.group(1))
            return self._list(folder, path, query)
        match = re.fullmatch(r"/me/messages/([^/]+)", path)
        if match:
            if method == "GET":
                return self._get_message(match.group(1), query)
            if method == "PATCH":
                return self._patch(match.group(1), headers, body)
            if method == "DELETE":
                return self._delete(match.group(1), headers)
        return 400, error("BadRequest", f"Resource not found for the segment '{path}'."), {}

    # --- calendar ----------------------------------------------------------------------------

    def _delta(self, query: dict[str, list[str]],
               headers: dict[str, str]) -> tuple[int, JSON | None, dict[str, str]]:
        for name in ("$select", "$filter", "$expand", "$orderby", "$search"):
            if name in query:
                return 400, error("ErrorInvalidUrlQuery",
                                  f"The query parameter '{name}' is not supported with "
                                  "change tracking over the 'CalendarView' resource."), {}
        size = _page_size(headers.get("prefer", ""))
        utc = 'outlook.timezone="utc"' in headers.get("prefer", "").lower()
        if "$skiptoken" in query:
            token = _decode(query["$skiptoken"][0])
            if token is None or token["g"] != self._generation:
                return _expired()
            listing = self._state.rounds.get(token["r"])
            if listing is None:
                return _expired()
            return self._page(listing, token["r"], int(token["o"]), size)
        if "$deltatoken" in query:
            token = _decode(query["$deltatoken"][0])
            if token is None or token["g"] != self._generation:
                return _expired()
            start, end, since = _instant(token["s"]), _instant(token["e"]), int(token["q"])
            items = self._changed(start, end, since, utc)
        else:
            try:
                start = _instant(query["startDateTime"][0])
                end = _instant(query["endDateTime"][0])
            except (KeyError, ValueError):
                return 400, error("ErrorInvalidParameter",
                                  "startDateTime and endDateTime are required."), {}
            items = [self._listed(e.data, utc) for e in self._sorted_events()
                     if _overlaps(e.data, start, end)]
        round_id = self.new_id("round")
        delta = _encode({"s": _iso(start), "e": _iso(end), "q": self._seq,
                         "g": self._generation})
        self._state.rounds[round_id] = _Round(items, delta)
        return self._page(self._state.rounds[round_id], round_id, 0, size)

    def _page(self, listing: _Round, round_id: str, offset: int,
              size: int) -> tuple[int, JSON | None, dict[str, str]]:
        chunk = listing.items[offset:offset + size]
        body: JSON = {"@odata.context": f"{self.root}/$metadata#Collection(event)",
                      "value": copy.deepcopy(chunk)}
        link = f"{self.root}/me/calendarView/delta"
        if offset + size < len(listing.items):
            token = _encode({"r": round_id, "o": offset + size, "g": self._generation})
            body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            body["@odata.deltaLink"] = f"{link}?$deltatoken={listing.delta_token}"
            self._state.rounds.pop(round_id, None)
        return 200, body, {"Preference-Applied": f"odata.maxpagesize={size}"}

    def _changed(self, start: datetime, end: datetime, since: int, utc: bool) -> list[JSON]:
        items: list[JSON] = []
        for event in self._sorted_events():
            if event.seq <= since:
                continue
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

    def _sorted_events(self) -> list[_Event]:
        return sorted(self._state.events.values(), key=lambda e: e.seq)

    def _listed(self, event: JSON, utc: bool) -> JSON:
        """An event as delta lists it: in UTC when asked, else in its own zone (the fake
        keeps UTC internally, so this only relabels), with an etag."""
        listed = copy.deepcopy(event)
        listed["@odata.etag"] = f'W/"{listed["id"][-8:]}"'
        if not utc:
            listed.setdefault("originalStartTimeZone", "UTC")
        return listed

    def _get_event(self, event_id: str,
                   query: dict[str, list[str]]) -> tuple[int, JSON | None, dict[str, str]]:
        item = self._state.masters.get(event_id)
        if item is None and event_id in self._state.events:
            item = self._state.events[event_id].data
        if item is None:
            return 404, error("ErrorItemNotFound",
                              "The specified object was not found in the store."), {}
        return 200, _select(item, query, None), {}

    # --- messages ----------------------------------------------------------------------------

    def _new_message(self, folder: str, created: str) -> JSON:
        name, address = self.owner
        return {
            "id": self.new_id("AAMkMsg"),
            "createdDateTime": created,
            "isDraft": folder == DRAFTS_ID,
            "parentFolderId": folder,
            "subject": "",
            "body": {"contentType": "text", "content": ""},
            "toRecipients": [], "ccRecipients": [], "bccRecipients": [], "replyTo": [],
            "from": {"emailAddress": {"name": name, "address": address}},
            "sender": {"emailAddress": {"name": name, "address": address}},
            "internetMessageHeaders": [],
            "importance": "normal",
            "isRead": True,
            "conversationId": self.new_id("AAQkConv"),
            "internetMessageId": f"<{self.new_id('fake')}@fake.outlook.com>",
            "receivedDateTime": created,
            "sentDateTime": None if folder == DRAFTS_ID else created,
            EXTENDED: [],
        }

    def _create(self, body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        problem = check_message(body, creating=True)
        if problem is not None:
            return 400, problem, {}
        now = self._now()
        item = self._new_message(DRAFTS_ID, now)
        _apply(item, body)
        self._touch(item)
        item["lastModifiedDateTime"] = now
        self._state.messages[item["id"]] = item
        return 201, _public(item), {"Location": f"{self.root}/me/messages/{item['id']}"}

    def _create_reply(self, message_id: str,
                      body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        """createReply: a draft in Drafts, in the original's conversation, addressed to its
        Reply-To (else its sender), ``RE:`` subject, the original quoted under the comment,
        In-Reply-To and References set; then the ``message`` parameter applied. Graph's
        documentation does not say that ``internetMessageHeaders`` may be given here, so the
        fake refuses them (as on an update)."""
        original = self._state.messages.get(message_id)
        if original is None:
            return _not_found()
        body = {} if body is None else body
        if not isinstance(body, dict) or set(body) - {"comment", "message"}:
            return 400, error("RequestBodyRead", "createReply takes only 'comment' and "
                                                 "'message'."), {}
        changes = body.get("message") or {}
        problem = check_message(changes, creating=False)
        if problem is not None:
            return 400, problem, {}
        if "comment" in body and "body" in changes:
            return 400, error("ErrorInvalidRequest", "Specify either a comment or the body of "
                                                     "the message, not both."), {}
        now = self._now()
        item = self._new_message(DRAFTS_ID, now)
        reply_to = original.get("replyTo") or [original["from"]]
        quoted = html.escape(str((original.get("body") or {}).get("content", "")))
        item.update({
            "subject": "RE: " + str(original.get("subject", "")),
            "toRecipients": copy.deepcopy(reply_to),
            "conversationId": original["conversationId"],
            "body": {"contentType": "html",
                     "content": f"<html><body>{html.escape(str(body.get('comment', '')))}"
                                f"<hr><div>{quoted}</div></body></html>"},
        })
        references = _extended(original, REFERENCES).split()
        _set_extended(item, IN_REPLY_TO, original["internetMessageId"])
        _set_extended(item, REFERENCES,
                      " ".join([*references, original["internetMessageId"]][-20:]))
        _apply(item, changes)
        self._touch(item)
        self._state.messages[item["id"]] = item
        return 201, _public(item), {"Location": f"{self.root}/me/messages/{item['id']}"}

    def _list(self, folder: str | None, path: str,
              query: dict[str, list[str]]) -> tuple[int, JSON | None, dict[str, str]]:
        """A message list: ``folder``'s, or the whole mailbox's when ``None``."""
        items = [m for m in self._state.messages.values()
                 if folder is None or m["parentFolderId"] == folder]
        try:
            items = _queried(items, query)
            expand = _expansion(query)
            top = int(query.get("$top", ["10"])[0])
            skip = int(query.get("$skip", ["0"])[0])
        except QueryError as exc:
            return 400, error(exc.code, exc.message), {}
        except ValueError:
            return 400, error("BadRequest", "$top and $skip must be numbers."), {}
        if not 1 <= top <= 1000:
            return 400, error("ErrorInvalidParameter", "$top must be between 1 and 1000."), {}
        problem = _bad_select(query.get("$select", [""])[0])
        if problem is not None:
            return 400, problem, {}
        chunk = [_select(m, query, expand) for m in items[skip:skip + top]]
        body: JSON = {"value": chunk}
        if skip + top < len(items):
            params = {name: values[0] for name, values in query.items() if name != "$skip"}
            params["$skip"] = str(skip + top)
            body["@odata.nextLink"] = (f"{self.root}{path}?"
                                       + urlencode(params, quote_via=quote))
        return 200, body, {}

    def _get_message(self, message_id: str,
                     query: dict[str, list[str]]) -> tuple[int, JSON | None, dict[str, str]]:
        item = self._state.messages.get(message_id)
        if item is None:
            return _not_found()
        problem = _bad_select(query.get("$select", [""])[0])
        if problem is not None:
            return 400, problem, {}
        try:
            expand = _expansion(query)
        except QueryError as exc:
            return 400, error(exc.code, exc.message), {}
        return 200, _select(item, query, expand), {}

    def _patch(self, message_id: str, headers: dict[str, str],
               body: Any) -> tuple[int, JSON | None, dict[str, str]]:
        item = self._state.messages.get(message_id)
        if item is None:
            return _not_found()
        conflict = _if_match(item, headers)
        if conflict is not None:
            return conflict
        problem = check_message(body, creating=False)
        if problem is not None:
            return 400, problem, {}
        _apply(item, body)
        self._touch(item)
        return 200, _public(item), {}

    def _delete(self, message_id: str,
                headers: dict[str, str]) -> tuple[int, JSON | None, dict[str, str]]:
        item = self._state.messages.get(message_id)
        if item is None:
            return _not_found()
        conflict = _if_match(item, headers)
        if conflict is not None:
            return conflict
        self._move(message_id, DELETED_ID)
        return 204, None, {}


# --- building events ---------------------------------------------------------------------------

GRAPH_RESPONSE = {"accepted": "accepted", "declined": "declined",
                  "tentative": "tentativelyAccepted", "needs_action": "notResponded"}


def graph_time(value: datetime) -> JSON:
    """A Graph ``dateTimeTimeZone`` in UTC, with Graph's seven fraction digits."""
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC"}


def html_body(text: str) -> JSON:
    """An HTML body the way Outlook writes one: a ``div`` per line, ``<br>`` for a blank."""
    lines = "".join(f"<div>{html.escape(line)}</div>" if line else "<div><br></div>"
                    for line in text.split("\n"))
    content = ('<html><head><meta http-equiv="Content-Type" content="text/html; '
               'charset=utf-8"><style>p{margin:0}</style></head><body>'
               f"{lines}</body></html>")
    return {"contentType": "html", "content": content}


def make_event(uid: str, title: str, start: datetime, end: datetime, *,
               description: str = "", location: str = "",
               organizer: tuple[str, str] | None = None, is_organizer: bool = False,
               attendees: Sequence[tuple[str, str, str]] = (),
               categories: Sequence[str] = (), cancelled: bool = False,
               join_url: str = "", event_id: str | None = None) -> JSON:
    """A single event as Graph lists it. ``attendees`` are (address, name, response) with
    the model's responses (accepted, declined, tentative, needs_action)."""
    event: JSON = {
        "iCalUId": uid,
        "type": "singleInstance",
        "subject": title,
        "start": graph_time(start),
        "end": graph_time(end),
        "isAllDay": False,
        "isCancelled": cancelled,
        "isOrganizer": is_organizer,
        "categories": list(categories),
        "body": html_body(description) if description else {"contentType": "html",
                                                             "content": ""},
        "location": {"displayName": location},
        "organizer": ({"emailAddress": {"address": organizer[0], "name": organizer[1]}}
                      if organizer else None),
        "attendees": [{"type": "required",
                       "status": {"response": GRAPH_RESPONSE[response],
                                  "time": "0001-01-01T00:00:00Z"},
                       "emailAddress": {"address": address, "name": name}}
                      for address, name, response in attendees],
        "onlineMeeting": {"joinUrl": join_url} if join_url else None,
        "isOnlineMeeting": bool(join_url),
    }
    if event_id is not None:
        event["id"] = event_id
    return event


def add_series(fake: FakeGraph, template: JSON, starts: Sequence[datetime],
               master_id: str | None = None,
               occurrence_ids: Sequence[str] | None = None) -> tuple[JSON, list[JSON]]:
    """Store a series: its master (``iCalUId`` = the template's) and one occurrence per start,
    each with its own ``iCalUId``, ``seriesMasterId`` and ``originalStart``. Returns both."""
    length = (_instant(template["end"]["dateTime"] + "Z")
              - _instant(template["start"]["dateTime"] + "Z"))
    master = fake.put_master({**template, "id": master_id or fake.new_id("AAMkMaster")})
    occurrences = []
    for n, start in enumerate(starts):
        occurrence = {**copy.deepcopy(template), "type": "occurrence",
                      "seriesMasterId": master["id"],
                      "iCalUId": _digest(f"{template['iCalUId']}/{n}"),
                      "originalStart": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "start": graph_time(start), "end": graph_time(start + length)}
        if occurrence_ids is not None:
            occurrence["id"] = occurrence_ids[n]
        occurrences.append(fake.put_event(occurrence))
    return master, occurrences


@contextmanager
def running(**options: Any) -> Iterator[FakeGraph]:
    """Run a fake for the duration of a ``with`` block."""
    fake = FakeGraph(**options).start()
    try:
        yield fake
    finally:
        fake.stop()


# --- helpers -----------------------------------------------------------------------------------


def _digest(text: str) -> str:
    """An Exchange-looking, per-occurrence iCalUId."""
    return "040000008200E00074C5B7101A82E008" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _page_size(prefer: str) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer, re.IGNORECASE)
    return max(1, int(match.group(1))) if match else DEFAULT_PAGE


def _encode(data: JSON) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(token: str) -> JSON | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _overlaps(event: JSON, start: datetime, end: datetime) -> bool:
    begins = _instant(event["start"]["dateTime"])
    ends = _instant(event["end"]["dateTime"])
    return begins < end and ends > start


def _expired() -> tuple[int, JSON | None, dict[str, str]]:
    return 410, error("SyncStateNotFound", "The sync state generation is not found."), {}


def _not_found() -> tuple[int, JSON | None, dict[str, str]]:
    return 404, error("ErrorItemNotFound", "The specified object was not found in the store."), {}


def _public(item: JSON) -> JSON:
    """A message as Graph shows it: no extended properties (those need ``$expand``)."""
    return {k: copy.deepcopy(v) for k, v in item.items() if k != EXTENDED}


def _apply(item: JSON, changes: JSON) -> None:
    """Write a create or update body into ``item``; extended properties are created or
    replaced one by one (by id), the others kept, as Graph does."""
    for name, value in changes.items():
        if name == EXTENDED:
            for prop in value:
                _set_extended(item, prop["id"], prop["value"])
        else:
            item[name] = copy.deepcopy(value)


def _extended(item: JSON, prop_id: str) -> str:
    for prop in item.get(EXTENDED) or []:
        if prop["id"] == prop_id:
            return str(prop["value"])
    return ""


def _set_extended(item: JSON, prop_id: str, value: str) -> None:
    props = [p for p in item.get(EXTENDED) or [] if p["id"] != prop_id]
    item[EXTENDED] = [*props, {"id": prop_id, "value": value}]


def _queried(items: list[JSON], query: dict[str, list[str]]) -> list[JSON]:
    """``items`` after ``$search`` or ``$filter`` and ``$orderby``. Raises ``QueryError``."""
    search = query.get("$search", [""])[0]
    if search:
        for name in ("$filter", "$orderby"):
            if name in query:
                raise QueryError("ErrorInvalidUrlQuery",
                                 f"The query parameter '{name}' is not supported with "
                                 "'$search'.")
        matches = parse_search(search)
        return newest_sent_first([m for m in items if matches(m)])
    text = query.get("$filter", [""])[0]
    test = parse_filter(text) if text else None
    keys = parse_orderby(query.get("$orderby", [""])[0], test)
    kept = [m for m in items if test is None or test(m)]
    return ordered(kept, keys)


def _expansion(query: dict[str, list[str]]) -> Callable[[JSON], list[JSON]] | None:
    text = query.get("$expand", [""])[0]
    return parse_expand(text) if text else None


def _bad_select(selected: str) -> JSON | None:
    for name in filter(None, (s.strip() for s in selected.split(","))):
        if name not in READABLE:
            return error("RequestBroker--ParseUri",
                         f"Could not find a property named '{name}' on type "
                         "'microsoft.graph.message'.")
    return None


def _select(item: JSON, query: dict[str, list[str]],
            expand: Callable[[JSON], list[JSON]] | None) -> JSON:
    """``item`` with the ``$select``ed properties only (all when none is named), and its
    extended properties when ``expand`` (a parsed ``$expand``) is given."""
    selected = [s.strip() for s in query.get("$select", [""])[0].split(",") if s.strip()]
    shown = _public(item)
    if selected:
        keep = {"id", "@odata.etag", *selected}
        shown = {k: v for k, v in shown.items() if k in keep}
    if expand is not None:
        shown[EXTENDED] = expand(item)
    return shown


def _if_match(item: JSON, headers: dict[str, str]) -> tuple[int, JSON | None,
                                                             dict[str, str]] | None:
    wanted = headers.get("if-match")
    if wanted is None or wanted == "*" or wanted == item.get("@odata.etag"):
        return None
    return 412, error("ErrorIrresolvableConflict",
                      "The send or update operation could not be performed because the change "
                      "key passed in the request does not match the current change key for "
                      "the item."), {}


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up (timeouts and dropped connections are the point)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


_STATUS_FAULTS = {"throttle": 429, "unavailable": 503, "server_error": 500, "forbidden": 403}


def _handler_for(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm and
            # delayed ACKs add 40 ms to every reply.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            parts = urlsplit(self.path)
            record = Recorded(self.command, unquote(parts.path).removeprefix("/v1.0"),
                              parse_qs(parts.query, keep_blank_values=True), headers, body)
            with fake._lock:
                fake.requests.append(record)
            fault = fake._next_fault(self.command, record.path)
            if fault is not None:
                record.fault = fault.kind
            if fault is not None and fault.kind in _STATUS_FAULTS:
                status = _STATUS_FAULTS[fault.kind]
                code = {429: "TooManyRequests", 503: "ServiceUnavailable",
                        500: "InternalServerError", 403: "ErrorAccessDenied"}[status]
                extra = ({"Retry-After": f"{fault.retry_after:g}"}
                         if fault.retry_after is not None and status in (429, 503) else {})
                record.status = status
                self._write(status, error(code, "Please retry later."), extra)
                return
            if fault is not None and fault.kind == "drop":
                record.status = -1
                self.close_connection = True
                return
            answer: JSON | None
            if isinstance(body, str):
                status, answer, extra = 400, error("RequestBodyRead", "Invalid JSON."), {}
            else:
                status, answer, extra = fake.handle(self.command, self.path, headers, body)
            record.status = status
            if fault is not None and fault.kind == "drop_after":
                record.status = -status
                self.close_connection = True
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            with suppress(OSError):
                self._write(status, answer, extra)

        def _write(self, status: int, answer: JSON | None, extra: dict[str, str]) -> None:
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            if answer is not None:
                self.send_header("Content-Type", "application/json; odata.metadata=minimal")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve
        do_PATCH = _serve
        do_DELETE = _serve
        do_PUT = _serve

    return Handler


class StaticTokens:
    """A token source that always gives the same token (``connectors.outlook.client``'s
    ``TokenSource``), counting how often it was asked."""

    def __init__(self, token: str = "test-token") -> None:
        self.value = token
        self.asked = 0

    def token(self, *, fresh: bool = False) -> str:
        self.asked += 1
        return self.value


def as_email(item: JSON) -> EmailMessage:
    """Rebuild an ``EmailMessage`` from a stored Graph message (From, To, Cc, Subject, the
    custom headers and the body), the way a mail client would show it."""
    message = EmailMessage(policy=email.policy.default)
    sender = item.get("from") or {}
    if sender:
        message["From"] = _address(sender)
    for prop, header in (("toRecipients", "To"), ("ccRecipients", "Cc")):
        people = [_address(r) for r in item.get(prop) or []]
        if people:
            message[header] = people
    message["Subject"] = item.get("subject", "")
    for name, value in _headers(item):
        if message[name] is None:
            message[name] = value
    body = item.get("body") or {}
    subtype = "html" if body.get("contentType") == "html" else "plain"
    message.set_content(body.get("content", ""), subtype=subtype)
    return message


def _headers(item: JSON) -> list[tuple[str, str]]:
    """The Internet headers a message carries: its ``internetMessageHeaders``, then its
    ``PS_INTERNET_HEADERS`` extended properties (which Exchange writes out as headers of those
    names), then In-Reply-To and References."""
    found = [(str(h["name"]), str(h["value"])) for h in item.get("internetMessageHeaders") or []]
    prefix = f"String {PS_INTERNET_HEADERS} Name "
    for prop in item.get(EXTENDED) or []:
        if prop["id"].upper().startswith(prefix.upper()):
            found.append((prop["id"][len(prefix):], prop["value"]))
    for prop_id, name in ((IN_REPLY_TO, "In-Reply-To"), (REFERENCES, "References")):
        value = _extended(item, prop_id)
        if value:
            found.append((name, value))
    return found


def _address(recipient: JSON) -> Address:
    address = recipient["emailAddress"]
    return Address(display_name=address.get("name", ""), addr_spec=address["address"])
