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

__all__ = ["GmailDrafts", "GmailHistory", "GoogleCalendar", "Session", "open_account"]

def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the Google account ``name`` from its validated ``options`` (the keys of
    :class:`connectors.google.options.GoogleOptions`, every default filled in). With
    ``token_command`` its token is used instead of the stored sign-in; ``reply_detection``
    reads the account's mail history too, which needs the ``gmail.readonly`` scope.

    Returns the account, with ``mail`` only when ``reply_detection`` is on; nothing is read or
    fetched here.
    """
    reply_detection: bool = options["reply_detection"]
    command = options["token_command"]
    source: CredentialSource
    if command:
        source = CommandCredentials(command, name)
    else:
        source = StoredCredentials(env, name, (READ_MAIL_SCOPE,) if reply_detection else ())
    session = Session(name, options["api_root"], float(options["timeout_seconds"]), source,
                      clock=env.clock)
    color = options["color_id"]
    calendar = GoogleCalendar(session, env, calendar_id=options["calendar_id"],
                              history_days=options["history_days"],
                              color_id=None if color is None else str(color))
    return Account(name=name, calendar=calendar, drafts=GmailDrafts(session),
                   mail=GmailHistory(session) if reply_detection else None)
