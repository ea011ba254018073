"""The Google connector: Google Calendar as the calendar, Gmail's Drafts folder as Drafts, and
(with ``reply_detection``) Gmail's sent and received mail as the mail history.

Built on google-api-python-client with the discovery documents it ships (nothing is fetched at
run time) and google-auth. Opening an account does no I/O: credentials are loaded (or the
``token_command`` run) at the first call, so a machine without network gets a
``TransientError`` for the account, not a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.google.auth import READ_MAIL_SCOPE, CommandCredentials, StoredCredentials
from connectors.google.calendar import GoogleCalendar
from connectors.google.client import CredentialSource, Session
from connectors.google.drafts import GmailDrafts
from connectors.google.history import GmailHistory
from daemon.core.errors import ConnectorError

__all__ = ["GmailDrafts", "GmailHistory", "GoogleCalendar", "Session", "open_account"]

DEFAULT_API_ROOT = "https://www.googleapis.com/"


def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the Google account ``name``.

    ``options`` (validated by the config): ``calendar_id`` (default ``"primary"``),
    ``client_secrets`` (used by ``coffeechat auth``), ``token_command`` (when set, its token
    is used instead of the stored sign-in), ``api_root`` (default
    ``https://www.googleapis.com/``), ``color_id`` (events of that colour are tagged),
    ``history_days`` (default 400), ``timeout_seconds`` (default 30) and ``reply_detection``
    (default false: when true, the account's mail history is read too, which needs the
    ``gmail.readonly`` scope).

    Returns the account, with ``mail`` only when ``reply_detection`` is on; nothing is read or
    fetched here. Raises ``ConnectorError`` when an option has the wrong type.
    """
    reply_detection = options.get("reply_detection", False)
    if not isinstance(reply_detection, bool):
        raise ConnectorError(f"account {name!r}: `reply_detection` is {reply_detection!r}; set "
                             "it in the config to true or false")
    command = options.get("token_command")
    source: CredentialSource
    if command:
        source = CommandCredentials(_text(name, options, "token_command", ""), name)
    else:
        source = StoredCredentials(env, name, (READ_MAIL_SCOPE,) if reply_detection else ())
    session = Session(
        name,
        _text(name, options, "api_root", DEFAULT_API_ROOT),
        _number(name, options, "timeout_seconds", 30.0),
        source,
        clock=env.clock,
    )
    color = options.get("color_id")
    calendar = GoogleCalendar(
        session, env,
        calendar_id=_text(name, options, "calendar_id", "primary"),
        history_days=int(_number(name, options, "history_days", 400)),
        color_id=None if color is None else str(color),
    )
    return Account(name=name, calendar=calendar, drafts=GmailDrafts(session),
                   mail=GmailHistory(session) if reply_detection else None)


def _text(account: str, options: Mapping[str, Any], key: str, default: str) -> str:
    value = options.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise ConnectorError(f"account {account!r}: `{key}` must be a non-empty text; fix it "
                             "in the config")
    return value


def _number(account: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConnectorError(f"account {account!r}: `{key}` is {value!r}; set it in the "
                             "config to a number above 0")
    return float(value)
