"""A fake Google API on 127.0.0.1 that the real client libraries talk to.

It serves Calendar ``events.list`` (paging, sync tokens, 410 on demand, cancelled events in
incremental results), Gmail ``users.drafts`` create/list/get/update/delete (``threadId``
checked: 400 "Invalid thread_id value" for an id never handed out, 404 for a conversation
whose messages are all gone; a draft joins the thread only when it has In-Reply-To or
References and the same subject, as Gmail documents), Gmail ``users.messages`` list (the part
of the search language coffeechat uses, parsed for real; anything else is refused with 400 so
that a test cannot pass by accident) and get (``format``, ``metadataHeaders``), and an OAuth
token endpoint (``/token``: refresh and authorization-code grants, ``invalid_grant`` on
demand). Drafts are messages too: ``messages.list`` returns them with the ``DRAFT`` label.
Every request is recorded; every JSON request body is checked against the schema of the
discovery document shipped with google-api-python-client, and unknown or mistyped fields are
refused with 400 as Google does; query parameters are checked against the method's declared
parameters; an access token handed out with a scope (``token_scopes``) may only call the
methods the discovery document allows that scope (403 insufficient scopes otherwise).
Faults can be scripted or drawn at random (bounded): 429 with Retry-After, 403 rate limit,
500, slow replies, connections dropped before or after the request took effect. Send
endpoints exist only to be recorded and refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import email.policy
import itertools
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import googleapiclient

FaultKind = Literal["429", "403-rate", "500", "503", "slow", "drop", "drop-after"]
DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
SEND_PATHS = ("/gmail/v1/users/me/drafts/send", "/gmail/v1/users/me/messages/send")


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str


@dataclass(frozen=True)
class Fault:
    """A fault to inject into the next request that matches ``path``/``method``.

    ``path`` is a substring of the request path; by default every API request matches (not the
    token endpoint).
    """

    kind: FaultKind
    retry_after: str | None = "1"
    path: str = ""
    method: str = ""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        if self.path:
            return self.path in path
        return path.startswith(("/calendar/", "/gmail/", "/upload/"))


class Schemas:
    """The request schemas of one discovery document, and a checker for them."""

    def __init__(self, name: str) -> None:
        self.document = json.loads((DOCUMENTS / f"{name}.json").read_text())
        self.schemas: dict[str, Any] = self.document["schemas"]

    def check(self, schema_name: str, value: Any) -> list[str]:
        """Problems of ``value`` as an instance of schema ``schema_name`` (empty: valid)."""
        return self._check({"$ref": schema_name}, value, "")

    def _check(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        if "$ref" in schema:
            return self._check(self.schemas[schema["$ref"]], value, where)
        kind = schema.get("type")
        name = where or "body"
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{name}: expected an object"]
            problems: list[str] = []
            properties = schema.get("properties", {})
            for key, item in value.items():
                inner = f"{where}.{key}" if where else key
                if key in properties:
                    problems += self._check(properties[key], item, inner)
                elif "additionalProperties" in schema:
                    problems += self._check(schema["additionalProperties"], item, inner)
                else:
                    problems.append(f'Invalid JSON payload received. Unknown name "{inner}"')
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return [f"{name}: expected a list"]
            return [p for i, item in enumerate(value)
                    for p in self._check(schema.get("items", {}), item, f"{name}[{i}]")]
        if kind == "string":
            if not isinstance(value, str):
                return [f"{name}: expected a string"]
            fmt = schema.get("format")
            if fmt == "byte" and decode_base64(value) is None:
                return [f"{name}: not valid base64"]
            if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
                return [f"{name}: expected a number in a string"]
            return []
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return [] if ok else [f"{name}: expected an integer"]
        if kind == "boolean":
            return [] if isinstance(value, bool) else [f"{name}: expected true or false"]
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else [f"{name}: expected a number"]
        return []


def decode_base64(value: str) -> bytes | None:
    """Decode base64url (or standard base64), padding optional; ``None`` when invalid."""
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def event_json(event_id: str, uid: str, title: str, start: datetime, end: datetime,
               **extra: Any) -> dict[str, Any]:
    """A Google Calendar ``Event`` as events.list returns it (times with their zone)."""
    zone = getattr(start.tzinfo, "key", "UTC")
    body: dict[str, Any] = {
        "id": event_id, "status": "confirmed", "iCalUID": uid, "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": zone},
        "end": {"dateTime": end.isoformat(), "timeZone": zone},
    }
    body.update(extra)
    return body


@dataclass
class _Draft:
    id: str
    message_id: str
    raw: bytes
    thread_id: str
    internal_ms: int = 0


@dataclass
class StoredMessage:
    """A message in the fake mailbox (not a draft: drafts live in ``FakeGoogle.drafts``)."""

    id: str
    thread_id: str
    raw: bytes
    labels: tuple[str, ...]
    internal_ms: int
    """When Google accepted it (``internalDate``), in epoch milliseconds."""


@dataclass
class _Listing:
    items: list[dict[str, Any]]
    sync_version: int


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, reason: str, google_status: str = "") -> _Reply:
    payload = {"error": {"code": status, "message": message,
                         "errors": [{"message": message, "domain": "global", "reason": reason}],
                         "status": google_status}}
    return _Reply(status, json.dumps(payload).encode())


def _scope_error() -> _Reply:
    """What Google answers a token whose scopes do not cover the method."""
    message = "Request had insufficient authentication scopes."
    payload = {"error": {"code": 403, "message": message, "errors": [
        {"message": "Insufficient Permission", "domain": "global",
         "reason": "insufficientPermissions"}], "status": "PERMISSION_DENIED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                     "domain": "googleapis.com"}]}}
    return _Reply(403, json.dumps(payload).encode())


def _ok(payload: Any, status: int = 200) -> _Reply:
    return _Reply(status, b"" if payload is None else json.dumps(payload).encode())


class FakeGoogle:
    """The fake server and its in-memory calendars, drafts and tokens."""

    def __init__(self, *, page_size: int = 250, slow_seconds: float = 1.0) -> None:
        self.page_size = page_size
        """The largest page served, whatever maxResults asks (tests make it small)."""
        self.slow_seconds = slow_seconds
        self.empty_first_page = False
        """Serve an empty first page with a nextPageToken (Google may)."""
        self.requests: list[Recorded] = []
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._version = 0
        self._min_sync_version = 0
        self._listings: dict[str, _Listing] = {}
        self.drafts: dict[str, _Draft] = {}
        self.messages: dict[str, StoredMessage] = {}
        """The mailbox (drafts aside), by message id."""
        self.me: tuple[str, ...] = ("sam@example.com",)
        """The mailbox owner's addresses: what ``from:me`` / ``to:me`` match."""
        self.token_scopes: dict[str, frozenset[str]] = {}
        """Access token -> the scopes it carries; a token not in here may call anything.
        Tokens from the token endpoint are added with the scope it reported."""
        self._threads_issued: set[str] = set()
        self.faults: deque[Fault] = deque()
        self._random: tuple[float, tuple[FaultKind, ...], int, random.Random] | None = None
        self.faults_served: list[FaultKind] = []
        """Every fault injected so far, scripted or random, in order."""
        self.access_tokens: set[str] | None = None
        """Bearer tokens accepted (``None``: any non-empty one)."""
        self.refresh_tokens: set[str] = set()
        self.auth_codes: dict[str, str] = {}
        """Authorization code -> the refresh token it is exchanged for."""
        self.granted_scope = ""
        """The scope the token endpoint reports ("" = what was asked)."""
        self.token_down = False
        """The token endpoint answers 503."""
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._calendar = Schemas("calendar.v3")
        self._gmail = Schemas("gmail.v1")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        """Listen on 127.0.0.1 on a free port, in a background thread."""
        fake = self

        class Handler(_Handler):
            owner = fake

        server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def api_root(self) -> str:
        """What an account's ``api_root`` is set to."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def token_uri(self) -> str:
        """The token endpoint's address."""
        return self.api_root + "token"

    # --- calendar ------------------------------------------------------------------------

    def put_event(self, event: dict[str, Any], calendar_id: str = "primary") -> None:
        """Create or replace an event (``event["id"]`` names it); it becomes a change."""
        with self._lock:
            self._version += 1
            stored = dict(event, kind="calendar#event", etag=f'"{self._version}"',
                          updated="2026-01-01T00:00:00.000Z")
            self.events.setdefault(calendar_id, {})[event["id"]] = stored
            self._versions[(calendar_id, event["id"])] = self._version

    def delete_event(self, event_id: str, calendar_id: str = "primary", *,
                     keep_uid: bool = False) -> None:
        """Delete an event: it stays as a tombstone (``status: cancelled``, id only; with
        ``keep_uid`` also its iCalUID, and for an occurrence its series and original start)."""
        with self._lock:
            old = self.events[calendar_id][event_id]
            tomb: dict[str, Any] = {"id": event_id, "status": "cancelled"}
            for key in ("recurringEventId", "originalStartTime"):
                if key in old:
                    tomb[key] = old[key]
            if keep_uid and "iCalUID" in old:
                tomb["iCalUID"] = old["iCalUID"]
            self.put_event(tomb, calendar_id)

    def expire_sync_tokens(self) -> None:
        """Every sync token handed out so far now gets 410 Gone."""
        with self._lock:
            self._min_sync_version = self._version + 1

    # --- drafts --------------------------------------------------------------------------

    def draft_message(self, draft_id: str) -> EmailMessage:
        """The stored message of a draft, parsed."""
        parsed = email.message_from_bytes(self.drafts[draft_id].raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def draft_raw(self, draft_id: str) -> bytes:
        """The exact bytes stored for a draft."""
        return self.drafts[draft_id].raw

    def add_draft(self, raw: bytes, at: datetime | None = None) -> str:
        """Put a draft straight into Drafts (as if written elsewhere), dated ``at`` (default
        now); returns its id."""
        with self._lock:
            draft = _Draft(self._new_id("r"), self._new_id("m"), raw, self._new_thread(),
                           _millis(at))
            self.drafts[draft.id] = draft
            return draft.id

    # --- the mailbox ---------------------------------------------------------------------

    def put_message(self, raw: bytes, at: datetime,
                    labels: tuple[str, ...] = ("INBOX",)) -> StoredMessage:
        """Deliver ``raw`` (RFC 5322 bytes) into the mailbox with ``labels`` (``INBOX``,
        ``SENT``...), accepted at ``at``. Like Gmail, it joins the conversation of a stored
        message that its In-Reply-To/References name and whose subject it shares, else it
        starts one. Returns what was stored."""
        with self._lock:
            thread = self._thread_of_reply(raw) or self._new_thread()
            stored = StoredMessage(self._new_id("m"), thread, raw, tuple(labels),
                                   _millis(at))
            self.messages[stored.id] = stored
            return stored

    def user_sends_draft(self, draft_id: str, at: datetime) -> StoredMessage:
        """The user sends a draft from Gmail at ``at``: it leaves Drafts and its message, in
        the draft's conversation, is labelled SENT. (Test-side only: no request may send.)"""
        with self._lock:
            draft = self.drafts.pop(draft_id)
            stored = StoredMessage(self._new_id("m"), draft.thread_id, draft.raw, ("SENT",),
                                   _millis(at))
            self.messages[stored.id] = stored
            return stored

    def delete_message(self, message_id: str) -> None:
        """The user deletes a message for good (its conversation may become empty)."""
        with self._lock:
            del self.messages[message_id]

    def user_edits_draft(self, draft_id: str, text: str = "P.S. Thanks again.") -> None:
        """What Gmail does when the user edits a draft: same draft id, new message id."""
        with self._lock:
            draft = self.drafts[draft_id]
            draft.raw = draft.raw.rstrip(b"\r\n") + b"\r\n" + text.encode() + b"\r\n"
            draft.message_id = self._new_id("m")

    def user_deletes_draft(self, draft_id: str) -> None:
        """The user discards the draft."""
        with self._lock:
            del self.drafts[draft_id]

    # --- faults and records --------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Inject these faults, in order, into the next matching requests."""
        with self._lock:
            self.faults.extend(faults)

    def random_faults(self, rate: float, kinds: tuple[FaultKind, ...], limit: int,
                      seed: int = 7) -> None:
        """Inject a fault into a ``rate`` fraction of API requests, at most ``limit`` times."""
        with self._lock:
            self._random = (rate, kinds, limit, random.Random(seed))

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """The recorded requests, filtered by method and by a substring of the path."""
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and (path is None or path in r.path)]

    def send_requests(self) -> list[Recorded]:
        """Every request to a send endpoint or an upload path (there must be none)."""
        return [r for r in self.calls() if r.path in SEND_PATHS or r.path.startswith("/upload/")
                or r.path.endswith("/send")]

    # --- serving (called by the handler) -------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    def _new_thread(self) -> str:
        thread = self._new_id("t")
        self._threads_issued.add(thread)
        return thread

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    self.faults.remove(fault)
                    self.faults_served.append(fault.kind)
                    return fault
            if self._random is not None and path.startswith(("/calendar/", "/gmail/")):
                rate, kinds, left, rng = self._random
                if left > 0 and rng.random() < rate:
                    self._random = (rate, kinds, left - 1, rng)
                    fault = Fault(rng.choice(kinds))
                    self.faults_served.append(fault.kind)
                    return fault
        return None

    def serve(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
              headers: dict[str, str]) -> _Reply:
        with self._lock:
            if path == "/token" and method == "POST":
                return self._token(parse_qs(body.decode()))
            bearer = headers.get("authorization", "")
            token = bearer[7:] if bearer.lower().startswith("bearer ") else ""
            if not token or (self.access_tokens is not None and token not in self.access_tokens):
                return _error(401, "Request had invalid authentication credentials.",
                              "authError", "UNAUTHENTICATED")
            if path in SEND_PATHS or path.startswith("/upload/"):
                return _error(403, "This fake refuses to send or upload anything.", "forbidden")
            allowed = self._method_scopes(method, path)
            granted = self.token_scopes.get(token)
            if allowed is not None and granted is not None and not granted & allowed:
                return _scope_error()
            match = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events", path)
            if match and method == "GET":
                return self._list_events(match.group(1), query)
            match = re.fullmatch(r"/gmail/v1/users/([^/]+)/(drafts|messages)(?:/([^/]+))?",
                                 path)
            if match:
                if match.group(1) != "me":
                    return _error(400, "Only userId 'me' is served.", "invalidArgument")
                if match.group(2) == "messages":
                    return self._messages(method, match.group(3), query)
                return self._drafts(method, match.group(3), query, body)
            return _error(404, f"No such method: {method} {path}", "notFound", "NOT_FOUND")

    def _method_scopes(self, method: str, path: str) -> frozenset[str] | None:
        """The scopes the discovery document allows for the method at ``path``."""
        if re.fullmatch(r"/calendar/v3/calendars/[^/]+/events", path) and method == "GET":
            return frozenset(self._calendar.document["resources"]["events"]["methods"]
                             ["list"]["scopes"])
        match = re.fullmatch(r"/gmail/v1/users/[^/]+/(drafts|messages)(/[^/]+)?", path)
        if match is None:
            return None
        name = {("GET", False): "list", ("POST", False): "create", ("GET", True): "get",
                ("PUT", True): "update", ("DELETE", True): "delete"}.get(
                    (method, match.group(2) is not None))
        methods = self._gmail.document["resources"]["users"]["resources"][
            match.group(1)]["methods"]
        if name is None or name not in methods:
            return None
        return frozenset(methods[name]["scopes"])

    def _token(self, form: dict[str, list[str]]) -> _Reply:
        if self.token_down:
            return _Reply(503, b'{"error": "temporarily_unavailable"}')
        grant = form.get("grant_type", [""])[0]
        refresh = ""
        if grant == "refresh_token":
            refresh = form.get("refresh_token", [""])[0]
            ok = refresh in self.refresh_tokens
        elif grant == "authorization_code":
            refresh = self.auth_codes.pop(form.get("code", [""])[0], "")
            ok = bool(refresh)
            if ok:
                self.refresh_tokens.add(refresh)
        else:
            ok = False
        if not ok:
            return _Reply(400, json.dumps({"error": "invalid_grant", "error_description":
                                           "Token has been expired or revoked."}).encode())
        access = self._new_id("at-")
        if self.access_tokens is not None:
            self.access_tokens.add(access)
        scope = self.granted_scope or (form.get("scope", [""])[0] or " ".join([
            "https://www.googleapis.com/auth/calendar.events.readonly",
            "https://www.googleapis.com/auth/gmail.compose"]))
        self.token_scopes[access] = frozenset(scope.split())
        answer: dict[str, Any] = {"access_token": access, "expires_in": 3599,
                                  "token_type": "Bearer", "scope": scope}
        if grant == "authorization_code":
            answer["refresh_token"] = refresh
        return _ok(answer)

    # --- events.list ---------------------------------------------------------------------

    def _list_events(self, calendar_id: str, query: dict[str, list[str]]) -> _Reply:
        params = {k: v[-1] for k, v in query.items()}
        known = set(self._calendar.document["resources"]["events"]["methods"]["list"]
                    ["parameters"]) | {"alt", "prettyPrint", "fields"}
        unknown = set(params) - known
        if unknown:
            return _error(400, f"Unknown parameters: {sorted(unknown)}", "invalidParameter")
        if params.get("singleEvents") != "true":
            return _error(400, "This fake serves singleEvents=true only.", "invalidParameter")
        size = int(params.get("maxResults", "250"))
        if not 1 <= size <= 2500:
            return _error(400, "Invalid maxResults.", "invalid")
        size = min(size, self.page_size)
        if "syncToken" in params and set(params) & {"timeMin", "timeMax", "q", "updatedMin",
                                                    "orderBy", "iCalUID",
                                                    "privateExtendedProperty"}:
            return _error(400, "syncToken cannot be combined with those filters.", "invalid")
        if calendar_id not in self.events and calendar_id != "primary":
            return _error(404, "Not Found", "notFound")
        page_token = params.get("pageToken")
        if page_token:
            listing_id, _, offset_text = page_token.rpartition(".")
            listing = self._listings.get(listing_id)
            if listing is None:
                return _error(400, "Invalid page token.", "invalid")
            offset = int(offset_text)
        else:
            built = self._new_listing(calendar_id, params)
            if isinstance(built, _Reply):
                return built
            listing_id, listing = built
            offset = 0
            if self.empty_first_page:
                return _ok({"kind": "calendar#events", "items": [],
                            "nextPageToken": f"{listing_id}.0"})
        items = listing.items[offset:offset + size]
        page: dict[str, Any] = {"kind": "calendar#events", "summary": calendar_id,
                                "timeZone": "UTC", "items": items}
        if offset + size < len(listing.items):
            page["nextPageToken"] = f"{listing_id}.{offset + size}"
        else:
            page["nextSyncToken"] = f"sync-{listing.sync_version}"
        return _ok(page)

    def _new_listing(self, calendar_id: str,
                     params: dict[str, str]) -> tuple[str, _Listing] | _Reply:
        events = self.events.get(calendar_id, {})
        ordered = sorted(events.values(),
                         key=lambda e: self._versions[(calendar_id, e["id"])])
        if "syncToken" in params:
            match = re.fullmatch(r"sync-(\d+)", params["syncToken"])
            if match is None or int(match.group(1)) < self._min_sync_version:
                return _error(410, "Sync token is no longer valid, a full sync is required.",
                              "fullSyncRequired", "GONE")
            since = int(match.group(1))
            items = [e for e in ordered if self._versions[(calendar_id, e["id"])] > since]
        else:
            show_deleted = params.get("showDeleted") == "true"
            time_min = params.get("timeMin")
            items = [e for e in ordered
                     if (show_deleted or e.get("status") != "cancelled")
                     and (time_min is None or _ends_after(e, time_min))]
        listing_id = self._new_id("L")
        listing = _Listing([json.loads(json.dumps(e)) for e in items], self._version)
        self._listings[listing_id] = listing
        return listing_id, listing

    # --- drafts --------------------------------------------------------------------------

    def _drafts(self, method: str, draft_id: str | None, query: dict[str, list[str]],
                body: bytes) -> _Reply:
        if draft_id is None and method == "GET":
            size = int(query.get("maxResults", ["100"])[-1])
            offset = int(query.get("pageToken", ["0"])[-1])
            newest = list(reversed(self.drafts.values()))
            chosen = newest[offset:offset + size]
            page: dict[str, Any] = {"drafts": [{"id": d.id, "message": {
                "id": d.message_id, "threadId": d.thread_id}} for d in chosen],
                "resultSizeEstimate": len(newest)}
            if offset + size < len(newest):
                page["nextPageToken"] = str(offset + size)
            return _ok(page)
        if draft_id is None and method == "POST":
            parsed = self._draft_body(body, None)
            if isinstance(parsed, _Reply):
                return parsed
            raw, requested = parsed
            thread = self._draft_thread(raw, requested, None)
            if isinstance(thread, _Reply):
                return thread
            made = _Draft(self._new_id("r"), self._new_id("m"), raw,
                          thread or self._new_thread(), _millis(None))
            self.drafts[made.id] = made
            return _ok(self._draft_json(made, "minimal", []))
        if draft_id is None:
            return _error(405, "Method not allowed.", "invalid")
        draft = self.drafts.get(draft_id)
        if draft is None:
            return _error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        if method == "GET":
            fmt = query.get("format", ["full"])[-1]
            return _ok(self._draft_json(draft, fmt, query.get("metadataHeaders", [])))
        if method == "PUT":
            parsed = self._draft_body(body, draft_id)
            if isinstance(parsed, _Reply):
                return parsed
            raw, requested = parsed
            thread = self._draft_thread(raw, requested, draft_id)
            if isinstance(thread, _Reply):
                return thread
            draft.raw, draft.message_id = raw, self._new_id("m")
            draft.thread_id = thread or draft.thread_id
            draft.internal_ms = _millis(None)
            return _ok(self._draft_json(draft, "minimal", []))
        if method == "DELETE":
            del self.drafts[draft_id]
            return _Reply(204)
        return _error(405, "Method not allowed.", "invalid")

    def _draft_body(self, body: bytes,
                    draft_id: str | None) -> tuple[bytes, str | None] | _Reply:
        """The raw message of a Draft body and the threadId it asks for, or the error."""
        try:
            data = json.loads(body.decode() or "null")
        except ValueError:
            return _error(400, "Invalid JSON payload received.", "parseError")
        problems = self._gmail.check("Draft", data)
        if problems:
            return _error(400, "; ".join(problems), "invalidArgument", "INVALID_ARGUMENT")
        raw = data.get("message", {}).get("raw")
        if not isinstance(raw, str) or not raw:
            return _error(400, "Missing draft message", "invalidArgument", "INVALID_ARGUMENT")
        if draft_id is not None and data.get("id", draft_id) != draft_id:
            return _error(400, "The draft id in the body does not match.", "invalidArgument")
        decoded = decode_base64(raw)
        if decoded is None or b":" not in decoded.split(b"\n", 1)[0]:
            return _error(400, "Invalid raw message.", "invalidArgument")
        return decoded, data["message"].get("threadId")

    def _draft_thread(self, raw: bytes, requested: str | None,
                      draft_id: str | None) -> str | _Reply | None:
        """The conversation a draft written with ``threadId=requested`` goes to: ``None``
        when none was asked for; a new one when the draft does not fit the thread (no
        In-Reply-To/References, or another subject: Gmail's documented criteria); an error
        when Gmail does not know the thread."""
        if requested is None:
            return None
        members = [m.raw for m in self.messages.values() if m.thread_id == requested]
        members += [d.raw for d in self.drafts.values()
                    if d.thread_id == requested and d.id != draft_id]
        if not members:
            if requested in self._threads_issued:
                return _error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
            return _error(400, "Invalid thread_id value", "invalidArgument",
                          "INVALID_ARGUMENT")
        parsed = _parse(raw)
        replying = bool(parsed["In-Reply-To"] or parsed["References"])
        subject = _topic(str(parsed["Subject"] or ""))
        if replying and any(_topic(str(_parse(m)["Subject"] or "")) == subject
                            for m in members):
            return requested
        return self._new_thread()

    def _thread_of_reply(self, raw: bytes) -> str | None:
        """The thread of a stored message that ``raw`` replies to, with the same subject."""
        parsed = _parse(raw)
        cited = set(_MESSAGE_IDS.findall(f"{parsed['In-Reply-To'] or ''} "
                                         f"{parsed['References'] or ''}"))
        subject = _topic(str(parsed["Subject"] or ""))
        for stored in self.messages.values():
            other = _parse(stored.raw)
            if str(other["Message-ID"] or "").strip() in cited and \
                    _topic(str(other["Subject"] or "")) == subject:
                return stored.thread_id
        return None

    # --- messages ------------------------------------------------------------------------

    def _mailbox(self) -> list[StoredMessage]:
        """Every message, drafts included (with the DRAFT label), newest first."""
        drafts = [StoredMessage(d.message_id, d.thread_id, d.raw, ("DRAFT",), d.internal_ms)
                  for d in self.drafts.values()]
        every = [*self.messages.values(), *drafts]
        return sorted(every, key=lambda m: (m.internal_ms, m.id), reverse=True)

    def _messages(self, method: str, message_id: str | None,
                  query: dict[str, list[str]]) -> _Reply:
        if method != "GET":
            return _error(405, "Method not allowed.", "invalid")
        name = "list" if message_id is None else "get"
        declared = self._gmail.document["resources"]["users"]["resources"]["messages"][
            "methods"][name]["parameters"]
        unknown = set(query) - set(declared) - {"alt", "prettyPrint", "fields"}
        if unknown:
            return _error(400, f"Unknown parameters: {sorted(unknown)}", "invalidParameter")
        for key, values in query.items():
            if len(values) > 1 and not declared.get(key, {}).get("repeated"):
                return _error(400, f"{key} is given more than once.", "invalidParameter")
        if message_id is None:
            return self._list_messages({k: v[-1] for k, v in query.items()},
                                       query.get("labelIds", []))
        fmt = query.get("format", ["full"])[-1]
        if fmt not in declared["format"]["enum"]:
            return _error(400, f"Invalid format: {fmt}", "invalidArgument")
        for stored in self._mailbox():
            if stored.id == message_id:
                return _ok(_message_json(stored, fmt, query.get("metadataHeaders", [])))
        return _error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")

    def _list_messages(self, params: dict[str, str], label_ids: list[str]) -> _Reply:
        size_text = params.get("maxResults", "100")
        if not size_text.isdigit() or not 1 <= int(size_text) <= 500:
            return _error(400, "Invalid maxResults.", "invalidArgument")
        size = int(size_text)
        try:
            matches = _compile(params.get("q", ""), self.me)
        except ValueError as exc:
            return _error(400, f"Invalid query: {exc}", "invalidArgument", "INVALID_ARGUMENT")
        hidden = set() if params.get("includeSpamTrash") == "true" else {"SPAM", "TRASH"}
        found = [m for m in self._mailbox()
                 if not hidden & set(m.labels) and set(label_ids) <= set(m.labels)
                 and matches(m)]
        offset = int(params.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"resultSizeEstimate": len(found)}
        chosen = found[offset:offset + size]
        if chosen:
            page["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in chosen]
        if offset + size < len(found):
            page["nextPageToken"] = str(offset + size)
        return _ok(page)

    def _draft_json(self, draft: _Draft, fmt: str, wanted: list[str]) -> dict[str, Any]:
        stored = StoredMessage(draft.message_id, draft.thread_id, draft.raw, ("DRAFT",),
                               draft.internal_ms)
        return {"id": draft.id, "message": _message_json(stored, fmt, wanted)}


def _message_json(stored: StoredMessage, fmt: str, wanted: list[str]) -> dict[str, Any]:
    """A ``Message`` resource in ``format`` ``fmt``; with ``metadata``, only the headers
    named in ``wanted`` (all when empty), as Gmail does."""
    message: dict[str, Any] = {"id": stored.id, "threadId": stored.thread_id,
                               "labelIds": list(stored.labels)}
    if fmt != "minimal":
        message["internalDate"] = str(stored.internal_ms)
        message["sizeEstimate"] = len(stored.raw)
    parsed = _parse(stored.raw)
    if fmt == "raw":
        message["raw"] = base64.urlsafe_b64encode(stored.raw).decode()
    elif fmt in ("metadata", "full"):
        names = {w.lower() for w in wanted}
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items()
                   if fmt == "full" or not names or k.lower() in names]
        payload: dict[str, Any] = {"mimeType": parsed.get_content_type(), "headers": headers}
        if fmt == "full" and not parsed.is_multipart():
            data = parsed.get_payload(decode=True)
            payload["body"] = {"size": len(data) if isinstance(data, bytes) else 0,
                               "data": base64.urlsafe_b64encode(
                                   data if isinstance(data, bytes) else b"").decode()}
        message["payload"] = payload
    return message


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _millis(at: datetime | None) -> int:
    return int((at.timestamp() if at is not None else time.time()) * 1000)


_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")


def _topic(subject: str) -> str:
    """A subject without its reply/forward prefixes, for comparing conversations."""
    return re.sub(r"^(\s*(re|fwd?|aw)\s*:)+", "", subject, flags=re.IGNORECASE).strip().lower()


# --- the search language (the part coffeechat uses) ------------------------------------------

Matcher = Callable[[StoredMessage], bool]
_TERM = re.compile(r'([A-Za-z_]+):(?:"([^"]*)"|([^\s(){}"]+))')


def _tokens(query: str) -> list[str | tuple[str, str]]:
    """Split a search into ``{ } ( ) - OR`` and ``(operator, value)`` terms."""
    tokens: list[str | tuple[str, str]] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "{}()":
            tokens.append(char)
            i += 1
        elif char == "-" and i + 1 < len(query) and not query[i + 1].isspace():
            tokens.append("-")
            i += 1
        elif query.startswith("OR", i) and (i + 2 == len(query) or query[i + 2].isspace()):
            tokens.append("OR")
            i += 2
        else:
            match = _TERM.match(query, i)
            if match is None:
                raise ValueError(f"this fake does not understand {query[i:i + 30]!r}")
            value = match.group(2) if match.group(2) is not None else match.group(3)
            tokens.append((match.group(1).lower(), value))
            i = match.end()
    return tokens


def _compile(query: str, me: tuple[str, ...]) -> Matcher:
    """Turn a Gmail search into a predicate. Juxtaposed terms must all match; ``OR`` and
    ``{...}`` need one; ``(...)`` groups; ``-`` negates. Operators: from, to, cc, bcc (an
    address or part of one, or ``me``), in/label, after/before (epoch seconds only). Matching
    an address is looser than Gmail (any part of the header), which is what makes the
    connector's own header checks matter."""
    tokens = _tokens(query)
    position = 0

    def peek() -> str | tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str | tuple[str, str]:
        nonlocal position
        token = tokens[position]
        position += 1
        return token

    def sequence(closing: str | None) -> list[Matcher]:
        items: list[Matcher] = []
        while peek() != closing:
            if peek() is None or peek() in ("}", ")"):
                raise ValueError("unbalanced brackets")
            items.append(alternatives())
        if closing is not None:
            take()
        return items

    def alternatives() -> Matcher:
        options = [unary()]
        while peek() == "OR":
            take()
            options.append(unary())
        return options[0] if len(options) == 1 else _any_of(options)

    def unary() -> Matcher:
        token = take()
        if token == "-":
            inner = unary()
            return lambda m: not inner(m)
        if token == "{":
            return _any_of(sequence("}"))
        if token == "(":
            return _all_of(sequence(")"))
        if isinstance(token, tuple):
            return _term(token[0], token[1], me)
        raise ValueError(f"unexpected {token!r}")

    return _all_of(sequence(None))


def _any_of(items: list[Matcher]) -> Matcher:
    return lambda m: any(item(m) for item in items)


def _all_of(items: list[Matcher]) -> Matcher:
    return lambda m: all(item(m) for item in items)


def _term(operator: str, value: str, me: tuple[str, ...]) -> Matcher:
    wanted = value.lower()
    if operator in ("from", "to", "cc", "bcc"):
        header = operator.capitalize()
        if wanted == "me":
            mine = {a.lower() for a in me}
            return lambda m: any(a.addr_spec.lower() in mine
                                 for a in _addresses_in(m.raw, header))
        return lambda m: wanted in str(_parse(m.raw)[header] or "").lower()
    if operator in ("in", "label"):
        label = {"drafts": "DRAFT", "anywhere": ""}.get(wanted, wanted.upper())
        return lambda m: not label or label in m.labels
    if operator in ("after", "before"):
        if not value.isdigit():
            raise ValueError(f"this fake takes {operator}: in epoch seconds only")
        bound = int(value) * 1000
        if operator == "after":
            return lambda m: m.internal_ms > bound
        return lambda m: m.internal_ms < bound
    raise ValueError(f"this fake does not understand {operator}:")


def _addresses_in(raw: bytes, header: str) -> list[Any]:
    value = _parse(raw)[header]
    return list(getattr(value, "addresses", ()))


def _ends_after(event: dict[str, Any], time_min: str) -> bool:
    """Google's timeMin keeps events that end after it."""
    end = event.get("end")
    if not isinstance(end, dict):
        return True
    bound = datetime.fromisoformat(time_min)
    if "dateTime" in end:
        return bool(datetime.fromisoformat(end["dateTime"]) > bound)
    return date.fromisoformat(end["date"]) > bound.date()


class _QuietServer(ThreadingHTTPServer):
    """Threads that never block shutdown, and no tracebacks for clients that went away."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and closed its socket is expected here."""


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGoogle
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _handle(self) -> None:
        fake = self.owner
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        method = self.command
        query = parse_qs(parts.query)
        if method == "POST" and self.headers.get("x-http-method-override"):
            method = self.headers["x-http-method-override"].upper()
            query = parse_qs(body.decode())
            body = b""
        recorded_body: Any = body.decode(errors="replace")
        if body and "json" in (self.headers.get("content-type") or ""):
            with contextlib.suppress(ValueError):
                recorded_body = json.loads(body)
        elif body and parts.path == "/token":
            recorded_body = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        with fake._lock:
            fake.requests.append(Recorded(method, parts.path, query, recorded_body,
                                          headers.get("authorization", "")))
        fault = fake.take_fault(method, parts.path)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind in ("429", "403-rate", "500", "503"):
            reply = {
                "429": _error(429, "Rate Limit Exceeded", "rateLimitExceeded",
                              "RESOURCE_EXHAUSTED"),
                "403-rate": _error(403, "User Rate Limit Exceeded", "userRateLimitExceeded",
                                   "PERMISSION_DENIED"),
                "500": _error(500, "Backend Error", "backendError", "INTERNAL"),
                "503": _error(503, "Service unavailable", "backendError", "UNAVAILABLE"),
            }[fault.kind]
            if fault.retry_after is not None and fault.kind != "500":
                reply.headers["Retry-After"] = fault.retry_after
        else:
            reply = fake.serve(method, parts.path, query, body, headers)
        if fault is not None and fault.kind == "drop-after":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fake.slow_seconds)
        try:
            self.send_response(reply.status)
            if reply.body:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


# --- wiring the connector to the fake (for tests) ------------------------------------------


def fast_session(fake: FakeGoogle, *, account: str = "gmail", timeout: float = 2.0,
                 clock: Any = None, token: str = "test-token",
                 sleeps: list[float] | None = None, attempts: int = 5) -> Any:
    """A :class:`connectors.google.client.Session` on the fake with a fixed bearer token and
    retries that wait no more than a few milliseconds (each wait is appended to ``sleeps``)."""
    from datetime import UTC

    from connectors.google.auth import CommandCredentials
    from connectors.google.client import Session
    from connectors.retry import Backoff

    waits = sleeps if sleeps is not None else []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, 0.01))

    return Session(account, fake.api_root, timeout,
                   CommandCredentials("unused", account, run=lambda command, name: token),
                   clock=clock or (lambda: datetime.now(UTC)),
                   policy=Backoff(attempts=attempts, base=0.001, cap=0.01), sleep=sleep,
                   rng=lambda: 0.5)


@contextlib.contextmanager
def running(**options: Any) -> Iterator[FakeGoogle]:
    """Run a fake for the duration of a ``with`` block (``options`` go to the constructor)."""
    fake = FakeGoogle(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
