"""Signing a Google account in (``coffeechat auth google``) and the credentials the daemon uses.

Scopes, the fewest that do the job:

* ``calendar.events.readonly`` reads events on the user's calendars. It is narrower than
  ``calendar.readonly`` (which also reads calendar settings, sharing and the calendar list),
  and ``events.list`` needs no more.
* ``gmail.compose`` creates, reads, updates and deletes drafts. Google has no drafts-only
  scope: it would also allow sending. coffeechat never calls a send method; its tests prove it.
* ``gmail.readonly``, only for an account with ``reply_detection`` on: it lists and reads
  messages (their headers) to learn who wrote to whom. ``gmail.metadata`` would be narrower
  but cannot search (``q``), so it would mean reading every message's headers.

The interactive flow runs only in ``coffeechat auth``; it stores the credentials as JSON, mode
0600, written atomically, under the data folder. The daemon only loads and refreshes them, and
when Google no longer accepts them it says which command to run. It never prompts.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import google.auth.credentials
import google_auth_httplib2
from google.oauth2.credentials import Credentials

from connectors.base import AuthPrompt, ConnectorEnv, token_file
from connectors.google.client import OneShotHttp, auth_command
from connectors.tokens import run_token_command
from daemon.core.errors import AuthError, ConnectorError
from daemon.core.fileio import write_atomically

log = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/gmail.compose",
)
READ_MAIL_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
"""Asked for, in addition to :data:`SCOPES`, when the account has ``reply_detection`` on."""
AUTH_TIMEOUT_SECONDS = 300
"""How long ``coffeechat auth google`` waits for the browser to come back."""

_PROMPT_BROWSER = ("Your browser should open Google's sign-in page. If it does not, open this "
                   "address yourself:\n{url}")
_PROMPT_NO_BROWSER = (
    "Open this address in a browser to let coffeechat read your calendar and write drafts:\n"
    "{url}\nGoogle then sends the browser back to this machine's port shown in the address; "
    "on a machine without a browser, forward that port first (ssh -L PORT:localhost:PORT).")
_READ_MAIL_NOTICE = (
    "Reply detection is on for account {name!r}: coffeechat also asks to read your Gmail, "
    "only to see who wrote to whom and when. It never changes, deletes or sends a message.")
_SUCCESS = ("coffeechat is signed in to Google. You can close this tab and go back to the "
            "terminal.")


# --- the interactive sign-in -----------------------------------------------------------------


class _EchoLines(io.TextIOBase):
    """A text stream that hands every complete line to ``echo``."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        super().__init__()
        self._echo = echo
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._echo(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._echo(self._pending)
            self._pending = ""


def scopes_for(reply_detection: bool) -> tuple[str, ...]:
    """Return the scopes an account needs: :data:`SCOPES`, plus :data:`READ_MAIL_SCOPE` with
    ``reply_detection``."""
    return (*SCOPES, READ_MAIL_SCOPE) if reply_detection else SCOPES


def authorize(name: str, options: Mapping[str, Any], env: ConnectorEnv,
              prompt: AuthPrompt) -> str:
    """Sign account ``name`` in with Google's installed-app flow on a loopback port and store
    its credentials in ``token_file(env, name)`` (JSON, mode 0600, written atomically).

    With ``prompt.open_browser`` False the address to open is shown with ``prompt.echo``.
    With ``reply_detection`` in ``options``, read-only access to the mail is asked for too,
    and a line says so first. Returns a sentence saying what was stored. Raises
    ``ConnectorError`` when ``client_secrets`` is missing or unreadable, ``AuthError`` when
    the sign-in fails or does not grant every scope.
    """
    from google_auth_oauthlib.flow import (
        InstalledAppFlow,
        WSGITimeoutError,
    )
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    secrets = options.get("client_secrets")
    if not secrets:
        raise ConnectorError(
            f"account {name!r} has no client_secrets, so there is nothing to sign in (it gets "
            "its token from token_command); to use coffeechat's own sign-in, download the "
            "OAuth client JSON from the Google Cloud console and set client_secrets to it")
    path = Path(str(secrets))
    if not path.is_file():
        raise ConnectorError(
            f"account {name!r}: client_secrets {str(path)!r} does not exist; download the "
            "Desktop OAuth client JSON from the Google Cloud console (APIs & Services > "
            "Credentials) and point client_secrets at it")
    reads_mail = options.get("reply_detection") is True
    needed = scopes_for(reads_mail)
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(path), scopes=list(needed))
    except (ValueError, KeyError, OSError) as exc:
        raise ConnectorError(
            f"account {name!r}: client_secrets {str(path)!r} is not a Desktop OAuth client "
            f"file ({exc}); download it again from the Google Cloud console") from None
    if reads_mail:
        prompt.echo(_READ_MAIL_NOTICE.format(name=name))
    message = _PROMPT_BROWSER if prompt.open_browser else _PROMPT_NO_BROWSER
    stream = _EchoLines(prompt.echo)
    try:
        with contextlib.redirect_stdout(stream):
            credentials = flow.run_local_server(
                host="localhost", port=0, open_browser=prompt.open_browser,
                authorization_prompt_message=message, success_message=_SUCCESS,
                timeout_seconds=AUTH_TIMEOUT_SECONDS, prompt="consent")
    except WSGITimeoutError:
        raise AuthError(f"account {name!r}: no answer came back from the browser within "
                        f"{AUTH_TIMEOUT_SECONDS // 60} minutes; run `{auth_command(name)}` "
                        "again") from None
    except Warning as exc:  # oauthlib's "Scope has changed": a box was left unticked
        raise AuthError(_missing_scopes(name, needed, getattr(exc, "new_scope", None))) \
            from None
    except OAuth2Error as exc:
        raise AuthError(f"account {name!r}: Google did not sign you in "
                        f"({exc.error}: {exc.description or 'no details'}); run "
                        f"`{auth_command(name)}` again") from None
    except OSError as exc:
        raise ConnectorError(f"account {name!r}: the sign-in could not complete ({exc}); "
                             "check the network connection and try again") from None
    finally:
        stream.flush()
    granted = getattr(credentials, "granted_scopes", None)
    if granted and not set(needed) <= set(granted):
        raise AuthError(_missing_scopes(name, needed, granted))
    if not credentials.refresh_token:
        raise AuthError(
            f"account {name!r}: Google gave no refresh token, so the service could not keep "
            "working on its own; remove coffeechat at https://myaccount.google.com/permissions "
            f"and run `{auth_command(name)}` again")
    target = token_file(env, name)
    try:
        write_atomically(target, credentials.to_json().encode("utf-8"), 0o600)
    except OSError as exc:
        raise ConnectorError(f"account {name!r}: the credentials could not be saved to "
                             f"{target} ({exc.strerror or exc}); check that folder") from None
    reading = ", read your mail's senders and recipients" if reads_mail else ""
    return (f"Signed in: account {name!r} may now read your Google Calendar events{reading} "
            f"and write Gmail drafts. The credentials are in {target} (only you can read "
            "it); the service refreshes them by itself.")


def _missing_scopes(name: str, needed: tuple[str, ...], granted: Any) -> str:
    got = set(granted.split() if isinstance(granted, str) else granted or [])
    missing = [s.rsplit("/", 1)[-1] for s in needed if s not in got]
    return (f"account {name!r}: the sign-in did not grant every permission coffeechat needs "
            f"(missing: {', '.join(missing) or 'unknown'}); run `{auth_command(name)}` again "
            "and tick every box on Google's consent page")


# --- the daemon's credentials ----------------------------------------------------------------


class StoredCredentials:
    """The credentials ``coffeechat auth google`` stored, refreshed when expired and saved
    back (atomically, mode 0600) whenever they change."""

    token_command = False

    def __init__(self, env: ConnectorEnv, account: str,
                 requires: tuple[str, ...] = ()) -> None:
        """Remember where the account's token file is, and the scopes the stored sign-in
        must include (``(READ_MAIL_SCOPE,)`` with ``reply_detection``); nothing is read yet."""
        self.account = account
        self.path = token_file(env, account)
        self.requires = requires
        self._credentials: Credentials | None = None
        self._saved_token: str | None = None

    def credentials(self, http: OneShotHttp) -> google.auth.credentials.Credentials:
        """Load the stored credentials and refresh them when expired (saving the result).

        Raises ``AuthError`` when there are none, they are damaged, or they lack a scope in
        ``requires`` (the user turned ``reply_detection`` on after signing in); a refresh
        failure
        propagates as google-auth raised it (``RefreshError``, ``TransportError``) or as
        ``OSError``, for the caller's error mapping.
        """
        info = self._read()
        self._check_scopes(info)
        try:
            credentials: Credentials = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, info.get("scopes"))
        except (ValueError, TypeError) as exc:
            raise AuthError(f"account {self.account!r}: the stored Google credentials in "
                            f"{self.path} are incomplete ({exc}); run "
                            f"`{auth_command(self.account)}`") from None
        # from_authorized_user_info always resets token_uri to Google's: keep the stored one.
        # with_token_uri copies everything but the expiry (google-auth 2.62), so carry it over.
        token_uri = info.get("token_uri")
        if isinstance(token_uri, str) and token_uri and token_uri != credentials.token_uri:
            expiry = credentials.expiry
            credentials = credentials.with_token_uri(token_uri)
            credentials.expiry = expiry
        self._credentials = credentials
        self._saved_token = credentials.token
        if not credentials.valid:
            credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
            self.after_call()
        return credentials

    def after_call(self) -> None:
        """Save the credentials if their access token changed since they were last saved.

        Raises ``OSError`` when the file cannot be written."""
        credentials = self._credentials
        if credentials is None or credentials.token == self._saved_token:
            return
        text: str = credentials.to_json()  # type: ignore[no-untyped-call]
        write_atomically(self.path, text.encode("utf-8"), 0o600)
        self._saved_token = credentials.token

    def _check_scopes(self, info: dict[str, Any]) -> None:
        stored = info.get("scopes")
        granted = set(stored.split() if isinstance(stored, str) else
                      stored if isinstance(stored, list) else [])
        if any(scope not in granted for scope in self.requires):
            raise AuthError(
                f"account {self.account!r} has reply_detection on, but its stored Google "
                "sign-in does not allow reading mail; run "
                f"`{auth_command(self.account)}` again to grant it (or turn reply_detection "
                "off)")

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AuthError(f"account {self.account!r} is not signed in to Google yet: run "
                            f"`{auth_command(self.account)}`") from None
        except (OSError, ValueError) as exc:
            raise AuthError(f"account {self.account!r}: the stored Google credentials in "
                            f"{self.path} cannot be read ({exc}); run "
                            f"`{auth_command(self.account)}`") from None
        if not isinstance(data, dict):
            raise AuthError(f"account {self.account!r}: the stored Google credentials in "
                            f"{self.path} are damaged; run `{auth_command(self.account)}`")
        return data


class _CommandToken(google.auth.credentials.Credentials):
    """A bearer token printed by a command; "refreshing" it runs the command again."""

    def __init__(self, fetch: Callable[[], str]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._fetch = fetch
        self.token = fetch()

    def refresh(self, request: Any) -> None:
        """Run the command again for a new token (Google refused the last one)."""
        self.token = self._fetch()


class CommandCredentials:
    """A bearer token printed by the account's ``token_command``: asked for at the first call
    and kept until Google refuses it (a 401), then asked for once more before the call is
    retried; a second refusal is an ``AuthError``. (As ``connectors.outlook.auth``'s
    ``CommandTokens``; the session lives as long as the process.)"""

    token_command = True

    def __init__(self, command: str, account: str,
                 run: Callable[[str, str], str] = run_token_command) -> None:
        """Remember the command; it is run on first use."""
        self.command = command
        self.account = account
        self._run = run

    def credentials(self, http: OneShotHttp) -> google.auth.credentials.Credentials:
        """Run the command and return its token as credentials that run it again when
        refreshed (``http`` is not used: the command is the source).

        Raises ``AuthError`` or ``ConnectorError`` (from :func:`run_token_command`)."""
        return _CommandToken(lambda: self._run(self.command, self.account))

    def after_call(self) -> None:
        """Nothing to save: the command is the store."""
