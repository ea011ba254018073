"""Signing in to Microsoft Graph: msal's device-code flow, a private token cache, silent refresh.

``coffeechat auth outlook --account NAME`` runs :func:`authorize`: msal's device-code flow
(it works over SSH: the user opens the address shown on any device and types the code), asking
for the delegated permissions ``Calendars.Read`` and ``Mail.ReadWrite`` (plus ``Mail.Read`` when
the account has ``reply_detection`` on), never ``Mail.Send``. msal adds ``openid``,
``profile`` and ``offline_access`` itself (and refuses them when passed). The token cache is
written to ``tokens/<account>.msal.json`` in the private data folder, mode 0600, atomically,
whenever msal says it changed.

The daemon only uses :class:`MsalTokens`, which never prompts: a cached access token, or a
silent refresh; when that is impossible it raises ``AuthError`` naming the command to run.

msal's ``PublicClientApplication`` contacts the sign-in service in its constructor, so it is
built lazily, on the first token needed, and once per process for each account (it keeps its
discovered endpoints); an unreachable service is a ``TransientError`` for that account only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msal
import requests

from connectors.base import AuthPrompt, ConnectorEnv, token_file
from connectors.tokens import run_token_command
from daemon.core.errors import AuthError, ConnectorError, TransientError
from daemon.core.fileio import write_atomically

log = logging.getLogger(__name__)

SCOPES = ("Calendars.Read", "Mail.ReadWrite")
"""The delegated permissions asked for: read the calendar, write drafts. No ``Mail.Send``."""
READ_MAIL = "Mail.Read"
"""Asked for as well when the account has ``reply_detection`` on: read the user's mail."""
CACHE_SUFFIX = ".msal.json"
NEEDS_SIGN_IN = frozenset({"invalid_grant", "interaction_required", "consent_required",
                           "login_required", "invalid_client", "unauthorized_client"})
PASSING = frozenset({"temporarily_unavailable", "server_error"})

UNREACHABLE = (requests.RequestException, msal.exceptions.MsalServiceError)
"""What msal raises when the sign-in service cannot be reached or answers with a server error
(5xx): a passing failure of the account, never a crash."""


class MsalApp(Protocol):
    """The part of ``msal.PublicClientApplication`` coffeechat uses."""

    def get_accounts(self) -> list[dict[str, Any]]:
        """The accounts in the token cache."""
        ...

    def acquire_token_silent_with_error(self, scopes: list[str], account: dict[str, Any],
                                        force_refresh: bool = False) -> dict[str, Any] | None:
        """A cached or refreshed token, an error dict, or ``None``."""
        ...

    def initiate_device_flow(self, scopes: list[str]) -> dict[str, Any]:
        """Start a device-code flow; the dict has ``message`` and ``user_code``."""
        ...

    def acquire_token_by_device_flow(self, flow: dict[str, Any]) -> dict[str, Any]:
        """Wait for the user to finish the flow; a token or an error dict."""
        ...


AppFactory = Callable[[Any], MsalApp]
"""Builds the msal application around a ``msal.SerializableTokenCache`` (injected by tests)."""


def msal_factory(client_id: str, authority: str, timeout: float,
                 http_client: requests.Session | None = None) -> AppFactory:
    """Return a factory of real ``msal.PublicClientApplication`` objects.

    ``http_client`` is handed to msal as its HTTP layer (msal's own ``http_client`` argument);
    ``None``, the default, lets msal build its own session with ``timeout``. A session passed
    here must apply its own timeouts: msal then ignores ``timeout``. Tests use it to route the
    sign-in service's https addresses to a fake on 127.0.0.1.

    The factory raises ``TransientError`` when the sign-in service cannot be reached and
    ``ConnectorError`` when msal rejects the authority.
    """
    def build(cache: Any) -> MsalApp:
        try:
            app: MsalApp = msal.PublicClientApplication(
                client_id, authority=authority, token_cache=cache, timeout=timeout,
                http_client=http_client)
        except UNREACHABLE as exc:
            raise TransientError(f"cannot reach the Microsoft sign-in service at {authority} "
                                 f"({type(exc).__name__}); the next cycle will try again"
                                 ) from None
        except ValueError as exc:
            raise ConnectorError(f"msal does not accept the authority {authority!r} ({exc}); "
                                 "fix `authority` in the config") from None
        return app
    return build


def _command(account: str) -> str:
    return f"coffeechat auth outlook --account {account}"


@dataclass
class _Loaded:
    app: MsalApp
    cache: Any
    mtime_ns: int


_SHARED: dict[tuple[str, str, str], _Loaded] = {}
_SHARED_LOCK = threading.Lock()


class MsalTokens:
    """Access tokens from msal's cache for one account, refreshed silently; never prompts."""

    def __init__(self, account: str, client_id: str, authority: str, cache_path: Path, *,
                 factory: AppFactory,
                 shared: dict[tuple[str, str, str], _Loaded] | None = None,
                 scopes: tuple[str, ...] = SCOPES) -> None:
        """Remember where the cache is and how to build the msal app; nothing is read yet.

        ``shared`` keeps built apps between cycles (default: one table per process);
        ``scopes`` are the permissions tokens are asked for (see :func:`scopes_for`).
        """
        self._account = account
        self._scopes = list(scopes)
        self._key = (client_id, authority, str(cache_path))
        self._path = cache_path
        self._factory = factory
        self._shared = _SHARED if shared is None else shared

    def token(self, *, fresh: bool = False) -> str:
        """Return an access token for Graph, refreshing it silently when needed (always when
        ``fresh``). The cache is saved when msal changed it.

        Raises ``AuthError`` (no cache, no account in it, refresh refused: the message names
        ``coffeechat auth outlook --account NAME``), ``TransientError`` (sign-in service
        unreachable) or ``ConnectorError``.
        """
        with _SHARED_LOCK:
            loaded = self._load()
            accounts = loaded.app.get_accounts()
            if not accounts:
                raise AuthError(f"account {self._account!r}: the token cache holds no signed-in "
                                f"user; run `{_command(self._account)}`")
            try:
                result = loaded.app.acquire_token_silent_with_error(
                    self._scopes, account=accounts[0], force_refresh=fresh)
            except (*UNREACHABLE, ValueError) as exc:  # ValueError: a reply that is not JSON
                raise TransientError(f"account {self._account!r}: cannot reach the Microsoft "
                                     f"sign-in service ({type(exc).__name__})") from None
            self._save(loaded)
        return _access_token(result, self._account)

    def _load(self) -> _Loaded:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            raise AuthError(f"account {self._account!r}: not signed in yet; run "
                            f"`{_command(self._account)}`") from None
        loaded = self._shared.get(self._key)
        if loaded is not None and loaded.mtime_ns == stat.st_mtime_ns:
            return loaded
        try:
            text = self._path.read_text(encoding="utf-8")
            cache = loaded.cache if loaded is not None else msal.SerializableTokenCache()
            cache.deserialize(text)
        except (OSError, ValueError) as exc:
            raise AuthError(f"account {self._account!r}: the token cache {self._path} cannot "
                            f"be read ({type(exc).__name__}); run `{_command(self._account)}`"
                            ) from None
        if loaded is None:
            loaded = _Loaded(self._factory(cache), cache, stat.st_mtime_ns)
            self._shared[self._key] = loaded
        loaded.mtime_ns = stat.st_mtime_ns
        return loaded

    def _save(self, loaded: _Loaded) -> None:
        if not loaded.cache.has_state_changed:
            return
        save_cache(self._path, loaded.cache)
        loaded.mtime_ns = self._path.stat().st_mtime_ns


def save_cache(path: Path, cache: Any) -> None:
    """Write the msal token cache to ``path`` (mode 0600, atomically) and mark it saved.

    Raises ``ConnectorError`` when the file cannot be written.
    """
    try:
        write_atomically(path, str(cache.serialize()).encode("utf-8"), 0o600)
    except OSError as exc:
        raise ConnectorError(f"cannot write the token cache {path} ({exc.strerror or exc}); "
                             "check that the data folder is writable") from None
    cache.has_state_changed = False


def _access_token(result: Mapping[str, Any] | None, account: str) -> str:
    if result is None:
        raise AuthError(f"account {account!r}: the sign-in has expired; run "
                        f"`{_command(account)}`")
    token = result.get("access_token")
    if isinstance(token, str) and token:
        return token
    error = str(result.get("error", "unknown_error"))
    if error in PASSING:
        raise TransientError(f"account {account!r}: the Microsoft sign-in service answered "
                             f"{error}; the next cycle will try again")
    detail = str(result.get("error_description", "")).splitlines()[0:1]
    shown = f": {detail[0][:160]}" if detail else ""
    raise AuthError(f"account {account!r}: Microsoft refused to renew the sign-in ({error}"
                    f"{shown}); run `{_command(account)}`")


class CommandTokens:
    """Access tokens printed by the account's ``token_command``; kept until Graph refuses."""

    def __init__(self, account: str, command: str,
                 runner: Callable[[str, str], str] = run_token_command) -> None:
        """Remember the command; it runs on the first token needed."""
        self._account = account
        self._command = command
        self._runner = runner
        self._token: str | None = None

    def token(self, *, fresh: bool = False) -> str:
        """Return the command's token (run again when ``fresh``).

        Raises ``ConnectorError`` as :func:`run_token_command` does.
        """
        if fresh or self._token is None:
            self._token = self._runner(self._command, self._account)
        return self._token


def scopes_for(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The delegated permissions account ``options`` need: :data:`SCOPES`, and
    :data:`READ_MAIL` too when ``reply_detection`` is on."""
    return (*SCOPES, READ_MAIL) if options.get("reply_detection") is True else SCOPES


def token_source(name: str, options: Mapping[str, Any], env: ConnectorEnv,
                 factory: AppFactory | None = None) -> CommandTokens | MsalTokens:
    """Return how account ``name`` gets its tokens: its ``token_command`` when set, else msal
    with the cache written by ``coffeechat auth outlook``. Nothing is contacted here.

    Raises ``ConnectorError`` when neither ``token_command`` nor ``client_id`` is set.
    """
    command = options.get("token_command")
    if isinstance(command, str) and command.strip():
        return CommandTokens(name, command)
    client_id, authority = _client(name, options)
    timeout = float(options["timeout_seconds"])
    return MsalTokens(name, client_id, authority, token_file(env, name, CACHE_SUFFIX),
                      factory=factory or msal_factory(client_id, authority, timeout),
                      scopes=scopes_for(options))


def authorize(name: str, options: Mapping[str, Any], env: ConnectorEnv, prompt: AuthPrompt,
              factory: AppFactory | None = None) -> str:
    """Sign account ``name`` in with the device-code flow and save msal's token cache.

    Shows msal's instructions (an address and a code) through ``prompt.echo`` (after a line
    saying what reading mail is for, when ``reply_detection`` is on) and waits until the user
    has finished. Returns a sentence saying who signed in and where the cache is.
    Raises ``AuthError`` when the sign-in fails or is declined, ``TransientError`` when the
    sign-in service cannot be reached, ``ConnectorError`` when ``client_id`` is missing.
    """
    client_id, authority = _client(name, options)
    timeout = float(options["timeout_seconds"])
    scopes = scopes_for(options)
    cache = msal.SerializableTokenCache()
    app = (factory or msal_factory(client_id, authority, timeout))(cache)
    if READ_MAIL in scopes:
        prompt.echo(f"Reply detection is on for account {name!r}: coffeechat will also ask to "
                    "read your mail (Mail.Read), only to see who wrote to whom and when. It "
                    "never changes, moves or sends a message.")
    try:
        flow = app.initiate_device_flow(scopes=list(scopes))
        if "user_code" not in flow:
            raise AuthError(f"account {name!r}: Microsoft did not start the sign-in "
                            f"({flow.get('error', 'no code')}: "
                            f"{str(flow.get('error_description', ''))[:200]}); check "
                            "`client_id` and that the app registration allows public client "
                            "flows")
        prompt.echo(str(flow.get("message", "")))
        result = app.acquire_token_by_device_flow(flow)
    except UNREACHABLE as exc:
        raise TransientError(f"account {name!r}: cannot reach the Microsoft sign-in service "
                             f"({type(exc).__name__}); check the network and try again"
                             ) from None
    if "access_token" not in result:
        raise AuthError(f"account {name!r}: the sign-in did not complete "
                        f"({result.get('error', 'unknown error')}: "
                        f"{str(result.get('error_description', ''))[:200]}); run "
                        f"`{_command(name)}` again")
    path = token_file(env, name, CACHE_SUFFIX)
    save_cache(path, cache)
    with _SHARED_LOCK:
        _SHARED.pop((client_id, authority, str(path)), None)
    who = _username(result)
    asked = ", ".join(scopes[:-1]) + f" and {scopes[-1]}"
    return (f"Signed in{who}; the token cache is saved in {path}, readable only by you. "
            f"coffeechat asked for {asked}, never Mail.Send.")


def _client(name: str, options: Mapping[str, Any]) -> tuple[str, str]:
    client_id = options.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise ConnectorError(f"account {name!r}: `client_id` is not set; copy the Application "
                             "(client) id of your app registration into the config")
    authority = str(options["authority"])
    return client_id.strip(), authority.rstrip("/")


def _username(result: Mapping[str, Any]) -> str:
    claims = result.get("id_token_claims")
    if isinstance(claims, Mapping):
        user = claims.get("preferred_username") or claims.get("email")
        if isinstance(user, str) and user:
            return f" as {user}"
    return ""
