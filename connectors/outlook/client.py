"""A small Microsoft Graph client over requests: bearer token, timeouts, error mapping, retries.

Every call has a timeout. Throttling (429), 503 and other 5xx answers, timeouts and dropped
connections become :class:`~daemon.core.errors.TransientError` and are retried with
:func:`connectors.retry.with_retries`, honouring ``Retry-After``. A 401 is retried once with a
fresh token, then becomes :class:`~daemon.core.errors.AuthError` naming the command to run. Other
4xx answers become :class:`GraphError` (a ``ConnectorError``) carrying the status and Graph's
error code, so callers can tell "not found" or "sync state expired" apart.

The access token is only ever sent to addresses under ``graph_root``: a link the server hands
back (``@odata.nextLink``, ``@odata.deltaLink``) that points anywhere else is refused.

A client is meant to live as long as the process (the service keeps its accounts open, see
:mod:`daemon.cycle.kept`): one ``requests.Session``, so one connection pool and TLS context. It asks
its token source again once its token is :data:`TOKEN_REUSE_SECONDS` old, as a client opened
afresh for each cycle did, so msal renews a token before it expires and a ``token_command``
is run about once a cycle.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import requests

from connectors.retry import Backoff, with_retries
from daemon.core.errors import AuthError, ConnectorError, TransientError
from daemon.core.model import JSON

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""Answers that may succeed when asked again later."""
MAX_ERROR_TEXT = 200
DEFAULT_BACKOFF = Backoff()
TOKEN_REUSE_SECONDS = 240.0
"""How long a client uses a token before it asks its source again (less than a cycle)."""


class TokenSource(Protocol):
    """Where the client gets its access token."""

    def token(self, *, fresh: bool = False) -> str:
        """Return an access token for Graph; ``fresh=True`` after Graph refused the last one.

        Raises ``AuthError`` when the user must sign in again, ``TransientError`` when the
        sign-in service cannot be reached.
        """
        ...


class GraphError(ConnectorError):
    """Graph answered with an error that retrying will not fix (a 4xx other than 401/429)."""

    def __init__(self, message: str, status: int, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        """Graph's ``error.code`` (e.g. ``ErrorItemNotFound``, ``SyncStateNotFound``)."""


class MaybeDone(TransientError):
    """The request was sent but no answer came back (a read timeout or a connection dropped
    mid-way): Graph may or may not have carried it out. Only matters for requests that are
    not safe to repeat, such as creating a draft."""


@dataclass(frozen=True)
class GraphReply:
    """A successful answer: its status, its JSON body (empty for 204) and its headers."""

    status: int
    body: JSON
    headers: Mapping[str, str] = field(default_factory=dict)


class GraphClient:
    """Talks to ``{graph_root}/...`` with a bearer token; see the module docstring."""

    def __init__(self, root: str, tokens: TokenSource, *, account: str, kind: str = "outlook",
                 timeout: float = 30.0, session: requests.Session | None = None,
                 backoff: Backoff = DEFAULT_BACKOFF, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """Remember the settings; nothing is sent until the first request.

        ``root`` is ``graph_root`` without a trailing slash, ``timeout`` the seconds every
        request may take, ``backoff``/``sleep``/``rng`` how retries wait, ``monotonic`` how
        a token's age is told (injected by tests).
        """
        self.root = root.rstrip("/")
        self._tokens = tokens
        self._account = account
        self._kind = kind
        self._timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._backoff = backoff
        self._sleep = sleep
        self._rng = rng
        self._monotonic = monotonic
        self._token: str | None = None
        self._token_at = 0.0

    @property
    def account(self) -> str:
        """The account's name, for messages."""
        return self._account

    def url(self, path: str) -> str:
        """Return the absolute address of ``path`` (``/me/...``) under the Graph root."""
        return self.root + "/" + path.lstrip("/")

    def check_link(self, link: str) -> str:
        """Return ``link`` when it lies under the Graph root.

        Raises ``ConnectorError`` otherwise: the token is never sent anywhere else.
        """
        if not link.startswith(self.root + "/"):
            raise ConnectorError(
                f"account {self._account!r}: Microsoft Graph returned a link outside "
                f"{self.root} ({link[:80]!r}); it was not followed. Check `graph_root` in the "
                "config")
        return link

    def request(self, method: str, url: str, what: str, *,
                params: Mapping[str, str] | None = None, body: JSON | None = None,
                headers: Mapping[str, str] | None = None,
                on_retry: Callable[[], GraphReply | None] | None = None) -> GraphReply:
        """Send one request to ``url`` (under the root), retrying transient failures.

        ``what`` names the operation in messages. ``on_retry`` is for requests that are not
        safe to repeat: after a :class:`MaybeDone` failure it is called before the next
        attempt, and when it returns a reply (the first attempt did happen) that reply is
        returned instead of sending the request again.

        Returns the reply of a 2xx answer. Raises ``AuthError`` (401 twice),
        ``TransientError`` (retries exhausted), ``GraphError`` (other 4xx) or
        ``ConnectorError`` (an answer that is not JSON).
        """
        self.check_link(url)
        ambiguous = False

        def attempt() -> GraphReply:
            nonlocal ambiguous
            if ambiguous and on_retry is not None:
                found = on_retry()
                if found is not None:
                    return found
            ambiguous = False
            try:
                return self._send(method, url, what, params, body, headers)
            except MaybeDone:
                ambiguous = True
                raise

        label = f"account {self._account!r}: {what}"
        return with_retries(attempt, label, self._backoff, self._sleep, self._rng)

    # --- one attempt -----------------------------------------------------------------------

    def _send(self, method: str, url: str, what: str, params: Mapping[str, str] | None,
              body: JSON | None, headers: Mapping[str, str] | None) -> GraphReply:
        response = self._call(method, url, what, params, body, headers, fresh=False)
        if response.status_code == 401:
            response = self._call(method, url, what, params, body, headers, fresh=True)
            if response.status_code == 401:
                self._token = None
                raise AuthError(
                    f"account {self._account!r}: Microsoft Graph refused the access token "
                    f"({_error_text(response)}); run `coffeechat auth {self._kind} --account "
                    f"{self._account}` to sign in again")
        return self._reply(response, what)

    def _call(self, method: str, url: str, what: str, params: Mapping[str, str] | None,
              body: JSON | None, headers: Mapping[str, str] | None,
              fresh: bool) -> requests.Response:
        now = self._monotonic()
        if fresh or self._token is None or now - self._token_at >= TOKEN_REUSE_SECONDS:
            self._token = None
            self._token = self._tokens.token(fresh=fresh)
            self._token_at = now
        sent = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        sent.update(headers or {})
        try:
            return self._session.request(method, url, params=params, json=body, headers=sent,
                                         timeout=self._timeout, allow_redirects=False)
        except requests.ConnectTimeout as exc:
            raise TransientError(f"{what}: could not connect to {self.root} within "
                                 f"{self._timeout:g} s ({type(exc).__name__})") from None
        except requests.Timeout:
            raise MaybeDone(f"{what}: no answer from Microsoft Graph within "
                            f"{self._timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise MaybeDone(f"{what}: the connection to {self.root} failed "
                            f"({_short(exc)})") from None

    def _reply(self, response: requests.Response, what: str) -> GraphReply:
        status = response.status_code
        if status in RETRYABLE_STATUS:
            raise TransientError(f"{what}: Microsoft Graph answered {status} "
                                 f"({_error_text(response)})",
                                 retry_after=_retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            code, text = _error_parts(response)
            hint = _hint(status, self._kind, self._account)
            raise GraphError(f"account {self._account!r}: {what}: Microsoft Graph answered "
                             f"{status} ({text}){hint}", status=status, code=code)
        if status == 204 or not response.content:
            return GraphReply(status, {}, dict(response.headers))
        try:
            data = _parse(response.content)
        except ValueError:
            raise ConnectorError(f"account {self._account!r}: {what}: Microsoft Graph sent an "
                                 "answer that is not JSON; check `graph_root` in the config"
                                 ) from None
        if not isinstance(data, dict):
            raise ConnectorError(f"account {self._account!r}: {what}: Microsoft Graph sent an "
                                 "unexpected answer (not a JSON object)")
        return GraphReply(status, data, dict(response.headers))


def _parse(content: bytes) -> Any:
    """Read a JSON answer: with orjson (twice as fast on calendar pages), or with the json
    module for what only it accepts (an escaped lone surrogate, such as half an emoji cut off
    in a preview, or a byte-order mark). Raises ``ValueError`` when neither can read it."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def odata_literal(text: str) -> str:
    """Return ``text`` ready to sit between the quotes of an OData string literal (in a
    ``$filter``): each single quote doubled."""
    return text.replace("'", "''")


def _hint(status: int, kind: str, account: str) -> str:
    if status == 403:
        return (f"; the app may lack the Calendars.Read or Mail.ReadWrite permission (an "
                f"admin may have to consent), then run `coffeechat auth {kind} --account "
                f"{account}`")
    return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; ``None`` otherwise."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _error_parts(response: requests.Response) -> tuple[str, str]:
    """Graph's ``error.code`` and a short text for a message (never the whole body)."""
    try:
        data = _parse(response.content)
    except ValueError:
        return "", f"HTTP {response.status_code}"
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", f"HTTP {response.status_code}"
    code = str(error.get("code", ""))
    message = str(error.get("message", ""))[:MAX_ERROR_TEXT]
    return code, f"{code}: {message}" if code else message or f"HTTP {response.status_code}"


def _error_text(response: requests.Response) -> str:
    return _error_parts(response)[1]


def _short(exc: Exception) -> str:
    return type(exc).__name__
