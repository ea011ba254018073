"""One IMAP connection for a caldav account, over ``imapclient``: encrypted, verified, logged in.

:class:`ImapSession` opens the connection on first use and keeps it for the account's life
(the Drafts folder and the mail history of one account share it). Every failure becomes one
of the core's errors, with what to do:

* the server refuses the user name or password: :class:`~daemon.core.errors.AuthError`, saying
  to check ``username`` and the app password ``password_command`` prints (and where the
  provider lets you make one);
* the certificate does not verify: ``ConnectorError`` naming ``ca_file``;
* a server offering no STARTTLS on a STARTTLS port: ``ConnectorError`` (the password is never
  sent in the clear);
* the network, a timeout, a dropped connection, a server that says BYE:
  :class:`~daemon.core.errors.TransientError`; the connection is dropped and the next call
  opens a new one.

A command that fails with a dropped connection is never sent again here: whether an APPEND
reached the server is for the caller to find out (by the draft's key), so nothing is written
twice.

The password comes from ``password_command`` each time a connection is opened, is handed to
LOGIN and kept nowhere.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from connectors.tokens import run_token_command
from daemon.core.errors import AuthError, ConnectorError, TransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapSettings:
    """Where and how to log in (the account's validated options)."""

    account: str
    host: str
    port: int
    tls: str
    """``implicit``, ``starttls`` or ``none`` (the options allow ``none`` only to loopback)."""
    username: str
    password_command: str
    ca_file: str | None = None
    timeout: float = 30.0
    password_hint: str = ""
    """Where to make an app password, for the wrong-password message."""
    keys: tuple[str, str] = ("username", "password_command")
    """The config keys holding the login and the password command, as messages name them."""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and host name, against
    ``ca_file`` when given (else the system's bundle)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class ImapSession:
    """A lazily opened, logged-in IMAP connection.

    ``password`` returns the password (by default: runs ``password_command``); ``connect``
    is for tests that count logins or wrap the socket. :attr:`logins` and :attr:`commands`
    count what was done (for the bench and the tests).
    """

    def __init__(self, settings: ImapSettings,
                 password: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self._password = password
        self._client: Any = None
        self._selected: str | None = None
        self.logins = 0
        self.commands = 0

    # --- the connection ------------------------------------------------------------------

    def client(self) -> Any:
        """The logged-in ``IMAPClient``, opened now if need be."""
        if self._client is None:
            self._client = self._open()
            self._selected = None
            # An account is opened again every cycle and dropped after it: log out when
            # this session is collected, so the server is not left with stale connections.
            weakref.finalize(self, _logout, self._client)
        return self._client

    def close(self) -> None:
        """Log out (best effort) and forget the connection."""
        client, self._client, self._selected = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()

    def drop(self) -> None:
        """Forget a connection that failed, without talking to the server again."""
        client, self._client, self._selected = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def select(self, folder: str) -> dict[bytes, Any]:
        """Select ``folder`` (read-write); returns the SELECT response (``UIDVALIDITY``...)."""
        with self.call(f"open the folder {folder!r}") as client:
            info: dict[bytes, Any] = client.select_folder(folder)
        self._selected = folder
        return info

    @property
    def selected(self) -> str | None:
        return self._selected

    @contextmanager
    def call(self, doing: str) -> Iterator[Any]:
        """Run IMAP commands on the client inside this block, mapping failures: a dropped
        connection or a timeout is a ``TransientError`` (and the connection is dropped), a
        ``NO``/``BAD`` answer a ``ConnectorError`` naming ``doing``."""
        client = self.client()
        self.commands += 1
        try:
            yield client
        except (IMAPClientAbortError, OSError, EOFError) as exc:  # socket.timeout is OSError
            self.drop()
            raise TransientError(
                f"{self._who()}the connection to the IMAP server {self.settings.where} was "
                f"lost while trying to {doing} ({_reason(exc)}); it is tried again at the "
                "next cycle") from None
        except IMAPClientError as exc:
            raise ConnectorError(
                f"{self._who()}the IMAP server {self.settings.where} refused to {doing}: "
                f"{_reason(exc)}") from None

    def _open(self) -> Any:
        s = self.settings
        context = tls_context(s.ca_file) if s.tls != "none" else None
        try:
            client = imapclient.IMAPClient(s.host, port=s.port, ssl=s.tls == "implicit",
                                           ssl_context=context, timeout=s.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise self._certificate_error(exc) from None
        except (OSError, IMAPClientError, EOFError) as exc:
            raise TransientError(f"{self._who()}cannot reach the IMAP server {s.where} "
                                 f"({_reason(exc)}); check imap_host and imap_port, it is "
                                 "tried again at the next cycle") from None
        client.normalise_times = False  # aware INTERNALDATEs, not naive local times
        try:
            if s.tls == "starttls":
                self._starttls(client, context)
            password = self._password() if self._password is not None else (
                run_token_command(s.password_command, s.account, option=s.keys[1]))
            try:
                client.login(s.username, password)
            except LoginError as exc:
                if "[UNAVAILABLE]" in str(exc).upper():  # RFC 5530: the server's own trouble
                    raise TransientError(
                        f"{self._who()}the IMAP server {s.where} could not check the "
                        f"password just now ({_reason(exc)}); it is tried again at the next "
                        "cycle") from None
                raise AuthError(
                    f"{self._who()}the IMAP server {s.where} refused the user name "
                    f"{s.username!r} or its password ({_reason(exc)}): check `{s.keys[0]}`, "
                    f"and that `{s.keys[1]}` prints the right password; "
                    f"{s.password_hint or 'many providers need an app password here'}. "
                    "Then run `coffeechat doctor`") from None
            self.logins += 1
            return client
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise

    def _starttls(self, client: Any, context: ssl.SSLContext | None) -> None:
        s = self.settings
        try:
            if not client.has_capability("STARTTLS"):
                raise ConnectorError(
                    f"{self._who()}the IMAP server {s.where} offers no STARTTLS, so the "
                    "password would travel unencrypted: coffeechat does not log in. Use its "
                    "TLS port (imap_port = 993) if it has one")
            client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise self._certificate_error(exc) from None
        except (OSError, IMAPClientAbortError, EOFError) as exc:
            raise TransientError(f"{self._who()}STARTTLS with {s.where} failed "
                                 f"({_reason(exc)}); tried again at the next cycle") from None

    def _certificate_error(self, exc: ssl.SSLCertVerificationError) -> ConnectorError:
        return ConnectorError(
            f"{self._who()}the certificate of the IMAP server {self.settings.where} does not "
            f"verify ({exc.verify_message or exc}): check imap_host; for a self-hosted server "
            "with its own certificate authority, set `ca_file` to its CA certificate (PEM)")

    def _who(self) -> str:
        return f"account {self.settings.account!r}: "


def _logout(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.logout()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(text, str) and text.startswith("b'") and text.endswith("'"):
        text = text[2:-1]
    return text.strip()[:300] or type(exc).__name__
