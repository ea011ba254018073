"""CalDAV calendars and IMAP Drafts: the account kind for iCloud, Fastmail, Nextcloud, Yahoo and
any standard server.

One account is a CalDAV calendar (:class:`~connectors.caldav.calendar.CalDavCalendar`), the
Drafts folder of an IMAP mailbox (:class:`~connectors.caldav.drafts.ImapDrafts`) and, with
``reply_detection``, that mailbox's INBOX and Sent (:class:`~connectors.caldav.history.
ImapHistory`), all reached with ``username`` and the password ``password_command`` prints:
the command runs once each time the account is opened (once a cycle), and the password is
held in memory for that cycle only, never written anywhere. ``imap_username`` and
``imap_password_command`` give the IMAP server a login of its own when it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.caldav.calendar import CalDavCalendar
from connectors.caldav.drafts import ImapDrafts
from connectors.caldav.history import ImapHistory, shared_cache
from connectors.caldav.imap import ImapSession, ImapSettings
from connectors.caldav.options import app_password_hint
from connectors.tokens import run_token_command

__all__ = ["CalDavCalendar", "ImapDrafts", "ImapHistory", "open_account"]


def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the caldav account ``name`` from its validated options (the keys of
    :class:`connectors.caldav.options.CalDavOptions`, every default filled in and every
    address resolved, plus ``my_emails``: the user's addresses).

    Runs ``password_command`` (raising ``ConnectorError`` when it fails); nothing is asked of
    either server until the account is used.
    """
    password = run_token_command(options["password_command"], name, option="password_command")
    imap_command = options["imap_password_command"] or options["password_command"]
    imap_password = password if imap_command == options["password_command"] else (
        run_token_command(imap_command, name, option="imap_password_command"))
    ca_file = options["ca_file"] or None
    timeout = float(options["timeout_seconds"])
    settings = ImapSettings(
        account=name, host=options["imap_host"], port=int(options["imap_port"]),
        tls=options["imap_tls"], username=options["imap_username"] or options["username"],
        password_command=imap_command, ca_file=ca_file, timeout=timeout,
        password_hint=app_password_hint(options["provider"]),
        keys=(("imap_username" if options["imap_username"] else "username"),
              ("imap_password_command" if options["imap_password_command"]
               else "password_command")))
    session = ImapSession(settings, password=lambda: imap_password)
    calendar = CalDavCalendar(
        url=options["caldav_url"], username=options["username"], password=password, env=env,
        account=name, calendars=tuple(options["calendars"]),
        ca_file=Path(ca_file) if ca_file else None, timeout_seconds=timeout,
        history_days=options["history_days"],
        horizon_days=options["horizon_days"])
    mail = None
    if options["reply_detection"]:
        mail = ImapHistory(session, tuple(options["my_emails"]),
                           cache=shared_cache(settings.where, settings.username))
    return Account(name=name, calendar=calendar,
                   drafts=ImapDrafts(session, options["drafts_folder"], account=name),
                   mail=mail)
