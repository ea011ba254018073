"""A fake Google API on 127.0.0.1 that the real client libraries talk to.

It serves Calendar ``events.list`` (paging, sync tokens, 410 on demand, cancelled events in
incremental results), Gmail ``users.drafts`` create/list/get/update/delete, and an OAuth token
endpoint (``/token``: refresh and authorization-code grants, ``invalid_grant`` on demand).
Every request is recorded; every JSON request body is checked against the schema of the
discovery document shipped with google-api-python-client, and unknown or mistyped fields are
refused with 400 as Google does. Faults can be scripted or drawn at random (bounded): 429 with
Retry-After, 403 rate limit, 500, slow replies, connections dropped before or after the
request took effect. Send endpoints exist only to be recorded and refused.
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
from collections.abc import Iterator
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
                                        kwargs={"poll_interval": 0.05}, daemon=True)
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

    def add_draft(self, raw: bytes) -> str:
        """Put a draft straight into Drafts (as if written elsewhere); returns its id."""
        with self._lock:
            draft = _Draft(self._new_id("r"), self._new_id("m"), raw, self._new_id("t"))
            self.drafts[draft.id] = draft
            return draft.id

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
            match = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events", path)
            if match and method == "GET":
                return self._list_events(match.group(1), query)
            match = re.fullmatch(r"/gmail/v1/users/([^/]+)/drafts(?:/([^/]+))?", path)
            if match:
                if match.group(1) != "me":
                    return _error(400, "Only userId 'me' is served.", "invalidArgument")
                return self._drafts(method, match.group(2), query, body)
            return _error(404, f"No such method: {method} {path}", "notFound", "NOT_FOUND")

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
            made = _Draft(self._new_id("r"), self._new_id("m"), parsed, self._new_id("t"))
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
            draft.raw, draft.message_id = parsed, self._new_id("m")
            return _ok(self._draft_json(draft, "minimal", []))
        if method == "DELETE":
            del self.drafts[draft_id]
            return _Reply(204)
        return _error(405, "Method not allowed.", "invalid")

    def _draft_body(self, body: bytes, draft_id: str | None) -> bytes | _Reply:
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
        return decoded

    def _draft_json(self, draft: _Draft, fmt: str, wanted: list[str]) -> dict[str, Any]:
        message: dict[str, Any] = {"id": draft.message_id, "threadId": draft.thread_id,
                                   "labelIds": ["DRAFT"]}
        parsed = email.message_from_bytes(draft.raw, policy=email.policy.default)
        if fmt == "raw":
            message["raw"] = base64.urlsafe_b64encode(draft.raw).decode()
        elif fmt in ("metadata", "full"):
            names = {w.lower() for w in wanted}
            headers = [{"name": k, "value": str(v)} for k, v in parsed.items()
                       if fmt == "full" or not names or k.lower() in names]
            payload: dict[str, Any] = {"mimeType": parsed.get_content_type(),
                                       "headers": headers}
            if fmt == "full" and not parsed.is_multipart():
                data = parsed.get_payload(decode=True)
                payload["body"] = {"size": len(data) if isinstance(data, bytes) else 0,
                                   "data": base64.urlsafe_b64encode(
                                       data if isinstance(data, bytes) else b"").decode()}
            message["payload"] = payload
        return {"id": draft.id, "message": message}


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
    """A :class:`connectors.google.http.Session` on the fake with a fixed bearer token and
    retries that wait no more than a few milliseconds (each wait is appended to ``sleeps``)."""
    from datetime import UTC

    from connectors.google.auth import CommandCredentials
    from connectors.google.http import Session
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
