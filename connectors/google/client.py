"""Talking to Google: the HTTP transport, the API services, and turning failures into the
core's errors.

The transport (:class:`OneShotHttp`) offers the part of ``httplib2.Http`` that
google-api-python-client and google-auth-httplib2 use, with two differences that matter here:
every request has a timeout, and a request is sent exactly once. httplib2 silently sends a
request again when the connection drops before the answer arrives, even a POST; for
``drafts.create`` that would be a second draft. Retrying is done above, by
:func:`connectors.retry.with_retries`, where ``Retry-After`` is honoured, sleeping can be
injected, and a create whose outcome is unknown is checked before it is tried again.

:class:`Session` builds the Calendar and Gmail services from the discovery documents shipped
with the library (nothing is fetched at run time), lazily: opening an account does no I/O. A
session is meant to live as long as the process (the service keeps its accounts open, see
:mod:`daemon.cycle.kept`): one transport, so one TLS context, and each service built once. Its
credentials are obtained at the first call and kept, refreshed by google-auth when they expire;
after Google refused them (``AuthError``) they are dropped, so that the next call reads them
again, as the user's ``coffeechat auth google`` left them.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import json
import logging
import random
import ssl
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from connectors.retry import Backoff, with_retries
from daemon.core.errors import AuthError, ConnectorError, CursorExpired, TransientError

log = logging.getLogger(__name__)

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
"""403 reasons that mean "slow down", not "forbidden"."""
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
DEFAULT_BACKOFF = Backoff()
"""Five tries, waits from 1 s doubling to 32 s, a provider's Retry-After honoured."""


class NotFound(ConnectorError):
    """Google answered 404: the thing asked for does not exist (any more)."""


class BadRequest(ConnectorError):
    """Google answered 400: it refused the request as malformed or naming something it does
    not accept. ``google_message`` is Google's own explanation (for the caller to inspect)."""

    def __init__(self, message: str, google_message: str) -> None:
        """Keep the user-facing ``message`` and Google's ``google_message``."""
        super().__init__(message)
        self.google_message = google_message


class Throttled(TransientError):
    """Google refused the request because of a rate limit (429, or 403 with a rate-limit
    reason): nothing was done, and the request may be sent again after a pause."""


def auth_command(account: str) -> str:
    """The command that signs ``account`` in again."""
    return f"coffeechat auth google --account {account}"


# --- transport -------------------------------------------------------------------------------


class OneShotHttp:
    """A minimal ``httplib2.Http`` stand-in: one attempt per request, ``timeout`` seconds for
    connecting and for each read, gzip and deflate answers decoded, no redirects followed.

    ``request`` returns ``(httplib2.Response, bytes)`` like httplib2 does, and raises
    ``OSError`` (``TimeoutError``, ``ConnectionError``...) or ``http.client.HTTPException``
    when the exchange fails.
    """

    def __init__(self, timeout: float) -> None:
        """Remember the timeout (seconds)."""
        self.timeout = timeout
        self.follow_redirects = False
        self._tls = ssl.create_default_context()

    def request(self, uri: str, method: str = "GET", body: bytes | str | None = None,
                headers: dict[str, str] | None = None, redirections: int = 0,
                connection_type: Any = None, **_: Any) -> tuple[Any, bytes]:
        """Send one request and return the response and its (decoded) body."""
        parts = urlsplit(uri)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                                     timeout=self.timeout, context=self._tls)
        elif parts.scheme == "http":
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                    timeout=self.timeout)
        else:
            raise ConnectorError(f"cannot call {parts.scheme!r} addresses; fix api_root")
        try:
            connection.request(method, target, body=body, headers=dict(headers or {}))
            answer = connection.getresponse()
            content = answer.read()
            response = httplib2.Response(answer)
        finally:
            connection.close()
        encoding = str(response.get("content-encoding", "")).lower()
        if encoding in ("gzip", "x-gzip"):
            content = gzip.decompress(content)
        elif encoding == "deflate":
            content = zlib.decompress(content)
        if encoding in ("gzip", "x-gzip", "deflate"):
            response["-content-encoding"] = response.pop("content-encoding")
            response["content-length"] = str(len(content))
        return response, content

    def close(self) -> None:
        """Nothing to close: each request has its own connection."""


# --- errors ----------------------------------------------------------------------------------


def _error_details(exc: HttpError) -> tuple[str, set[str]]:
    """Google's error message and the ``reason`` codes of an HttpError's JSON body."""
    message, reasons = "", set()
    try:
        data = json.loads(exc.content.decode("utf-8"))
        error = data.get("error", {}) if isinstance(data, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message", ""))
            for item in error.get("errors", []) or []:
                if isinstance(item, dict) and item.get("reason"):
                    reasons.add(str(item["reason"]))
            for item in error.get("details", []) or []:
                if isinstance(item, dict) and item.get("reason"):
                    reasons.add(str(item["reason"]))
            if error.get("status"):
                reasons.add(str(error["status"]))
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    return message[:300], reasons


def retry_after(value: str | None, now: datetime) -> float | None:
    """Read a ``Retry-After`` header (seconds, or an HTTP date relative to ``now``); ``None``
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def map_error(exc: BaseException, *, account: str, what: str, token_command: bool,
              now: datetime) -> ConnectorError | None:
    """Translate a failure of one Google call into the core's error, or ``None`` when it is
    not a failure this module knows (a bug: let it propagate).

    ``what`` names the call for the message; ``token_command`` says how the account gets its
    token (so a rejected token names the right remedy).
    """
    who = f"account {account!r}: {what}"
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        message, reasons = _error_details(exc)
        detail = f"{status} {message}".strip()
        delay = retry_after(exc.resp.get("retry-after"), now)
        if status == 429 or (status == 403 and reasons & RATE_LIMIT_REASONS):
            return Throttled(f"{who}: Google asked to slow down ({detail})", delay)
        if status >= 500:
            return TransientError(f"{who}: Google is failing for now ({detail})", delay)
        if status == 403 and reasons & SCOPE_REASONS:
            if token_command:
                return AuthError(f"{who}: the token printed by token_command does not allow "
                                 f"this ({detail}); have that command print a token with every "
                                 "scope coffeechat needs (gmail.readonly too when "
                                 "reply_detection is on), or remove token_command and run "
                                 f"`{auth_command(account)}`")
            return AuthError(f"{who}: the stored sign-in does not allow this ({detail}); run "
                             f"`{auth_command(account)}` again and grant every permission it "
                             "asks for")
        if status == 401:
            if token_command:
                return AuthError(f"{who}: Google rejected the token printed by token_command "
                                 f"({detail}); check that command, or remove token_command "
                                 f"and run `{auth_command(account)}`")
            return AuthError(f"{who}: Google rejected the stored sign-in ({detail}); run "
                             f"`{auth_command(account)}`")
        if status == 404:
            return NotFound(f"{who}: not found ({detail})")
        if status == 400:
            return BadRequest(f"{who}: Google refused the request ({detail}); if this "
                              "persists, report it as a coffeechat bug", message)
        if status == 410:
            return CursorExpired(f"{who}: Google no longer accepts the saved sync position")
        if status == 403:
            return ConnectorError(
                f"{who}: Google refused ({detail}); check that the Google Calendar API and "
                "the Gmail API are enabled for your OAuth client's project in the Google "
                "Cloud console, and that calendar_id names a calendar you can read")
        return ConnectorError(f"{who}: Google refused the request ({detail}); if this "
                              "persists, report it as a coffeechat bug")
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return TransientError(f"{who}: refreshing the sign-in failed for now ({exc})")
        return AuthError(f"{who}: Google no longer accepts the stored sign-in ({exc}); run "
                         f"`{auth_command(account)}`")
    if isinstance(exc, google.auth.exceptions.TransportError | OSError
                  | httplib2.HttpLib2Error | http.client.HTTPException):
        kind = "timed out" if isinstance(exc, TimeoutError) else "could not reach Google"
        return TransientError(f"{who}: {kind} ({type(exc).__name__}: {exc}); check the "
                              "network connection")
    return None


# --- services and calls ----------------------------------------------------------------------


class CredentialSource(Protocol):
    """Where a session's credentials come from."""

    token_command: bool
    """True when the token comes from ``token_command`` (no refresh possible)."""

    def credentials(self, http: OneShotHttp) -> google.auth.credentials.Credentials:
        """Return usable credentials (refreshing them with ``http`` when needed).

        Raises ``AuthError`` or ``TransientError``."""
        ...

    def after_call(self) -> None:
        """Persist the credentials if a call refreshed them."""
        ...


class Session:
    """One account's connection to Google: credentials, transport, services, kept from call
    to call (for the life of the process when the account is kept open).

    Nothing happens until the first call; then the credentials are obtained and each service
    is built, once, from the shipped discovery documents.
    """

    def __init__(self, account: str, api_root: str, timeout: float, source: CredentialSource,
                 *, clock: Callable[[], datetime], policy: Backoff = DEFAULT_BACKOFF,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        """Remember how to connect; ``api_root`` ends with ``/``."""
        self.account = account
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.timeout = timeout
        self.source = source
        self.clock = clock
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self._transport: OneShotHttp | None = None
        self._authed: google_auth_httplib2.AuthorizedHttp | None = None
        self._signed_in = False
        self._services: dict[str, Any] = {}
        self._resources: dict[tuple[str, ...], Any] = {}

    def service(self, name: str) -> Any:
        """Return the ``"calendar"`` or ``"gmail"`` service, obtaining the credentials when
        the session has none (first use, or after Google refused them) and building the
        service on its first use.

        Raises ``AuthError``, ``TransientError`` (credentials could not be refreshed) or
        ``ConnectorError``."""
        authed = self._authorized()
        if name not in self._services:
            version, endpoint = {
                "calendar": ("v3", f"{self.api_root}calendar/v3/"),
                "gmail": ("v1", self.api_root),
            }[name]
            self._services[name] = discovery.build(
                name, version, http=authed, static_discovery=True, cache_discovery=False,
                client_options={"api_endpoint": endpoint})
        return self._services[name]

    def resource(self, name: str, *path: str) -> Any:
        """The collection at ``path`` of service ``name`` (``"calendar", "events"`` or
        ``"gmail", "users", "drafts"``), built once: googleapiclient builds a collection's
        methods (and their documentation) anew at every access, which took most of an idle
        cycle. A collection only builds requests, so keeping it keeps no answer.

        Raises as :meth:`service` does."""
        service = self.service(name)
        key = (name, *path)
        found = self._resources.get(key)
        if found is None:
            found = service
            for step in path:
                found = getattr(found, step)()
            self._resources[key] = found
        return found

    def _authorized(self) -> google_auth_httplib2.AuthorizedHttp:
        """The authorised transport, with credentials: the same object for the session's
        life (the services hold it); the credentials in it are replaced when dropped."""
        if self._transport is None:
            self._transport = OneShotHttp(self.timeout)
        if not self._signed_in or self._authed is None:
            credentials = self.source.credentials(self._transport)
            if self._authed is None:
                # A 401 refreshes once and retries: stored credentials by the token
                # endpoint, a token_command's by running the command again.
                self._authed = google_auth_httplib2.AuthorizedHttp(
                    credentials, http=self._transport, refresh_status_codes=(401,),
                    max_refresh_attempts=1)
            else:
                self._authed.credentials = credentials
            self._signed_in = True
        return self._authed

    def forget_credentials(self) -> None:
        """Drop the credentials: the next call obtains them again from the source."""
        self._signed_in = False

    def call(self, make: Callable[[], Any], what: str) -> Any:
        """Execute the request ``make()`` builds, with retries; return its JSON answer.

        Raises ``NotFound`` (404), ``BadRequest`` (400), ``CursorExpired`` (410),
        ``AuthError``, ``TransientError`` once the retries are spent, or ``ConnectorError``.
        """
        return with_retries(lambda: self.once(make, what), f"account {self.account!r}: {what}",
                            self.policy, self.sleep, self.rng)

    def once(self, make: Callable[[], Any], what: str) -> Any:
        """Execute ``make()`` once; failures come out as the core's errors (as for
        :meth:`call`, but a passing failure is raised as ``TransientError`` at once)."""
        try:
            result = make().execute(num_retries=0)
        except Exception as exc:
            mapped = map_error(exc, account=self.account, what=what,
                               token_command=self.source.token_command, now=self.clock())
            if isinstance(mapped, AuthError):
                self.forget_credentials()
            if mapped is None:
                raise
            if mapped is not exc:
                raise mapped from exc
            raise
        finally:
            self._persist()
        return result

    def _persist(self) -> None:
        try:
            self.source.after_call()
        except OSError as exc:
            log.warning("account %s: the refreshed Google token could not be saved (%s); it "
                        "will be refreshed again next time", self.account, exc)
