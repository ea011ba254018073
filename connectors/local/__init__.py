"""The local connector: a vdir (folder of .ics files) or one .ics file as the calendar, a
Maildir folder as Drafts, and (for ``reply_detection``) Maildir folders as the mail history.
It needs no account, no network and no credentials, which makes it the embedded default and
the reference the other connectors are tested against."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.local.calendar import VdirCalendar
from connectors.local.drafts import MaildirDrafts
from connectors.local.history import MaildirHistory, shared_index

__all__ = ["MaildirDrafts", "MaildirHistory", "VdirCalendar", "open_account"]


def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the local account ``name`` from its validated ``options`` (the keys of
    :class:`connectors.local.options.LocalOptions`, every default filled in and every path
    absolute, plus ``my_emails``: the user's addresses). Nothing is read or created here; a
    missing calendar or mail folder is reported by the first use."""
    drafts = Path(options["drafts"])
    mail = None
    if options["reply_detection"]:
        root = Path(options["mail"])
        mail = MaildirHistory(root, tuple(options["my_emails"]), drafts=drafts, account=name,
                              index=shared_index(root, drafts))
    return Account(
        name=name,
        calendar=VdirCalendar(Path(options["calendar"]), env, account=name,
                              history_days=options["history_days"],
                              horizon_days=options["horizon_days"],
                              full_check_minutes=options["full_check_minutes"],
                              max_file_mb=options["max_file_mb"]),
        drafts=MaildirDrafts(drafts, account=name),
        mail=mail,
    )
