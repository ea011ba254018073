"""A fake Microsoft identity platform (Entra ID, v2.0 endpoints) on 127.0.0.1, for real msal.

msal insists on an ``https`` authority and canonicalises every endpoint it discovers as
``https``, so the fake cannot be named directly. Instead the application is built with msal's
own ``http_client`` argument set to a :class:`LoopbackSession`: a ``requests.Session`` that
sends ``https://login.microsoftonline.com/...`` to this server over plain http, and refuses
every other address (no request ever leaves the machine). Because the authority keeps the real
host name, msal takes exactly the path it takes in production: no instance discovery when the
app is built, instance discovery (served here) after a refused refresh.

Served, for any tenant segment (``common``, ``organizations``, a GUID):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the endpoints below, as ``https``
  addresses on :attr:`FakeEntra.host`;
* ``GET /common/discovery/instance``: the cloud's host aliases (msal asks after a failed
  silent refresh, to look for refresh tokens under another alias);
* ``POST /{tenant}/oauth2/v2.0/devicecode``: a device code, a user code and the message;
* ``POST /{tenant}/oauth2/v2.0/token``: the device-code grant (``authorization_pending``
  :attr:`FakeEntra.pending` times, then tokens, or ``authorization_declined``) and the
  refresh-token grant (rotated tokens, or ``invalid_grant`` once revoked).

Tokens: an opaque access token, a rotating refresh token, an unsigned id token (msal 1.39
decodes its claims and does not verify it: ``msal.oauth2cli.oidc._decode_id_token_claims``)
and ``client_info`` (base64url JSON with ``uid``/``utid``), from which msal builds the account.
Every request is recorded (:attr:`FakeEntra.requests`), with its form fields, so tests can
check which scopes were asked for. :meth:`FakeEntra.inject` makes the next request to an
endpoint fail with a chosen status and OAuth error (e.g. 400 ``invalid_client`` from the
device-code endpoint, 503 ``temporarily_unavailable`` from the token endpoint).
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests

JSON = dict[str, Any]
HOST = "login.microsoftonline.com"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_URI = "https://microsoft.com/devicelogin"


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, str]
    """The url-encoded body's fields (last value of each)."""
    status: int
    answer: JSON
    """The JSON body the fake sent back."""

    @property
    def scopes(self) -> list[str]:
        """The scopes in the ``scope`` field (empty when there is none)."""
        return self.form.get("scope", "").split()


@dataclass(frozen=True)
class User:
    """Who signs in: the claims the fake puts in the id token and ``client_info``."""

    oid: str = "7f3a5c1e-0000-4000-8000-00000000a11c"
    tid: str = "9188040d-6c67-4c5b-b112-36a304b66dad"
    username: str = "sam.lee@example.org"
    name: str = "Sam Lee"


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next request whose path ends with ``path_end``."""

    status: int
    error: str
    path_end: str = "/token"
    aadsts: int = 90033


@dataclass
class _Device:
    client_id: str
    scopes: list[str]
    polls: int = 0


@dataclass
class _State:
    devices: dict[str, _Device] = field(default_factory=dict)
    refresh: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """Live refresh token -> (client id, scopes granted)."""


class FakeEntra:
    """The fake identity platform; see the module docstring. Start it with :func:`running`.

    Attributes tests change between requests: :attr:`expires_in` (lifetime of the access
    tokens issued next), :attr:`pending` (``authorization_pending`` answers before a device
    code is redeemed), :attr:`interval` (polling interval announced), :attr:`declined` (the
    user refuses the sign-in).
    """

    def __init__(self, user: User | None = None, *, host: str = HOST) -> None:
        """Prepare the fake; nothing listens until :meth:`start`."""
        self.user = user or User()
        self.host = host
        self.expires_in = 3600
        self.pending = 1
        self.interval = 0
        self.declined = False
        self.requests: list[Recorded] = []
        self._faults: list[Fault] = []
        self._state = _State()
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._connections: set[socket.socket] = set()

    # --- life ------------------------------------------------------------------------------

    def start(self) -> FakeEntra:
        """Listen on 127.0.0.1 (a free port the first time, the same port after a
        :meth:`stop`), in a background thread. Returns ``self``."""
        server = _QuietServer(("127.0.0.1", self._port), _handler_for(self))
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop the open (kept-alive) connections, as a server going down
        does; the port then refuses connections. State is kept."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for connection in self._connections:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``, where the fake listens (or listened)."""
        assert self._port, "start the fake first"
        return f"http://127.0.0.1:{self._port}"

    def authority(self, tenant: str = "common") -> str:
        """The authority to configure: ``https://{host}/{tenant}``."""
        return f"https://{self.host}/{tenant}"

    # --- controls and records --------------------------------------------------------------

    def revoke(self) -> None:
        """Revoke every refresh token issued so far (as a password reset or an admin does)."""
        with self._lock:
            self._state.refresh.clear()

    def inject(self, *faults: Fault) -> None:
        """Queue faults: each answers the next request it matches, once."""
        with self._lock:
            self._faults.extend(faults)

    def seen(self, path_end: str, grant_type: str | None = None) -> list[Recorded]:
        """The recorded requests whose path ends with ``path_end`` (and, when given, whose
        ``grant_type`` field is ``grant_type``)."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_end)
                    and (grant_type is None or r.form.get("grant_type") == grant_type)]

    def scopes_requested(self) -> set[str]:
        """Every scope any request asked for."""
        with self._lock:
            return {scope for r in self.requests for scope in r.scopes}

    # --- behaviour -------------------------------------------------------------------------

    def handle(self, method: str, path: str, form: Mapping[str, str]) -> tuple[int, JSON]:
        """Answer one request: ``(status, JSON body)``."""
        with self._lock:
            for fault in self._faults:
                if path.endswith(fault.path_end):
                    self._faults.remove(fault)
                    return fault.status, _error(fault.error, fault.aadsts,
                                                f"Injected {fault.error}.")
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts == ["common", "discovery", "instance"]:
            return 200, self._instance_metadata()
        if method == "GET" and len(parts) == 4 and parts[1:] == [
                "v2.0", ".well-known", "openid-configuration"]:
            return 200, self._openid_configuration(parts[0])
        if method == "POST" and len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"]:
            if parts[3] == "devicecode":
                return self._device_code(form)
            if parts[3] == "token":
                return self._token(form)
        return 404, _error("invalid_request", 900561, f"The endpoint {path} does not exist.")

    def _openid_configuration(self, tenant: str) -> JSON:
        root = f"https://{self.host}/{tenant}"
        issuer_tenant = "{tenantid}" if tenant in ("common", "organizations") else tenant
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"https://{self.host}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://{self.host}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                 "preferred_username", "name", "tid", "ver", "email", "oid"],
            "kerberos_endpoint": f"{root}/kerberos",
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _instance_metadata(self) -> JSON:
        return {
            "tenant_discovery_endpoint": (f"https://{self.host}/common/v2.0/.well-known/"
                                          "openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": self.host, "preferred_cache": "login.windows.net",
                          "aliases": [self.host, "login.windows.net", "login.microsoft.com",
                                      "sts.windows.net"]}],
        }

    def _device_code(self, form: Mapping[str, str]) -> tuple[int, JSON]:
        client_id = form.get("client_id", "")
        if not client_id:
            return 400, _error("invalid_request", 900144,
                               "The request body must contain the parameter 'client_id'.")
        n = next(self._counter)
        device_code = f"DAQABAAEAAAD-fake-device-code-{n}"
        user_code = f"F{n:03d}KE{n % 10}Q"
        with self._lock:
            self._state.devices[device_code] = _Device(client_id, form.get("scope", "").split())
        return 200, {
            "user_code": user_code, "device_code": device_code,
            "verification_uri": VERIFICATION_URI, "expires_in": 900,
            "interval": self.interval,
            "message": (f"To sign in, use a web browser to open the page {VERIFICATION_URI} "
                        f"and enter the code {user_code} to authenticate."),
        }

    def _token(self, form: Mapping[str, str]) -> tuple[int, JSON]:
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        with self._lock:
            if grant == DEVICE_GRANT:
                device = self._state.devices.get(form.get("device_code", ""))
                if device is None or device.client_id != client_id:
                    return 400, _error("invalid_grant", 70000,
                                       "The provided device code is not valid.")
                if self.declined:
                    del self._state.devices[form["device_code"]]
                    return 400, _error("authorization_declined", 70016,
                                       "The end user declined the authorization request.")
                device.polls += 1
                if device.polls <= self.pending:
                    return 400, _error("authorization_pending", 70016,
                                       "OAuth 2.0 device flow error. Authorization is pending. "
                                       "Continue polling.")
                del self._state.devices[form["device_code"]]
                return 200, self._issue(client_id, device.scopes)
            if grant == "refresh_token":
                known = self._state.refresh.pop(form.get("refresh_token", ""), None)
                if known is None or known[0] != client_id:
                    return 400, _error("invalid_grant", 50173,
                                       "The provided grant has expired due to it being "
                                       "revoked, a fresh auth token is needed.")
                asked = form.get("scope", "").split()
                return 200, self._issue(client_id, asked or known[1])
        return 400, _error("unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")

    def _issue(self, client_id: str, scopes: list[str]) -> JSON:
        """Mint tokens for the user (under ``self._lock``)."""
        n = next(self._counter)
        refresh = f"0.fake-refresh-token-{n}"
        self._state.refresh[refresh] = (client_id, scopes)
        resource = [s for s in scopes if s not in ("openid", "profile", "offline_access")]
        now = int(time.time())
        claims = {"aud": client_id, "iss": f"https://{self.host}/{self.user.tid}/v2.0",
                  "iat": now, "nbf": now, "exp": now + 3600, "name": self.user.name,
                  "oid": self.user.oid, "preferred_username": self.user.username,
                  "sub": f"sub-{self.user.oid}", "tid": self.user.tid, "ver": "2.0"}
        return {
            "token_type": "Bearer",
            "scope": " ".join([*resource, "openid", "profile", "email"]),
            "expires_in": self.expires_in, "ext_expires_in": self.expires_in,
            "access_token": f"fake-access-token-{n}",
            "refresh_token": refresh,
            "id_token": _unsigned_jwt(claims),
            "client_info": _b64url(json.dumps({"uid": self.user.oid, "utid": self.user.tid})),
        }


class LoopbackSession(requests.Session):
    """A ``requests.Session`` for msal's ``http_client`` argument: ``https://{fake.host}/...``
    goes to the fake over http; any other address raises :class:`OffLoopback` (which is not a
    ``requests`` error, so no code under test can mistake it for a network failure). Every
    request gets ``timeout`` unless it brings its own (msal passes none to a custom client).
    """

    def __init__(self, fake: FakeEntra, timeout: float = 5.0) -> None:
        """Route to ``fake`` (read at each request, so a restarted fake is followed)."""
        super().__init__()
        self._fake = fake
        self._timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        """Send the request to the fake; see the class docstring."""
        text = url.decode() if isinstance(url, bytes) else url
        parts = urlsplit(text)
        if parts.scheme != "https" or parts.netloc != self._fake.host:
            raise OffLoopback(f"refused to contact {text!r}: only https://{self._fake.host} "
                              "is routed (to the fake)")
        local = urlsplit(self._fake.base)
        target = urlunsplit((local.scheme, local.netloc, parts.path, parts.query, ""))
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, target, *args, **kwargs)


class OffLoopback(RuntimeError):
    """Code under test tried to reach an address other than the fake's."""


@contextmanager
def running(user: User | None = None) -> Iterator[FakeEntra]:
    """Start a :class:`FakeEntra`, yield it, stop it."""
    fake = FakeEntra(user).start()
    try:
        yield fake
    finally:
        fake.stop()


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: JSON) -> str:
    """A JWT with ``alg: none`` and no signature: enough for a client that only decodes."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "none"}))
    return f"{header}.{_b64url(json.dumps(claims))}."


def _error(code: str, aadsts: int, text: str) -> JSON:
    return {"error": code, "error_description": f"AADSTS{aadsts}: {text}",
            "error_codes": [aadsts], "timestamp": "2026-01-01 09:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000"}


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _handler_for(fake: FakeEntra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            with suppress(OSError):
                super().finish()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            parts = urlsplit(self.path)
            status, answer = fake.handle(self.command, parts.path, form)
            with fake._lock:
                fake.requests.append(Recorded(self.command, parts.path,
                                              parse_qs(parts.query), form, status, answer))
            payload = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store, no-cache")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler
