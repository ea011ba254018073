"""The local connector: a vdir (folder of .ics files) or one .ics file as the calendar, a
Maildir folder as Drafts, and (for ``reply_detection``) Maildir folders as the mail history.
It needs no account, no network and no credentials, which makes it the embedded default and
the reference the other connectors are tested against."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.local.calendar import (
    DEFAULT_FULL_CHECK_MINUTES,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_MAX_FILE_MB,
    VdirCalendar,
)
from connectors.local.drafts import MaildirDrafts
from connectors.local.history import MaildirHistory, shared_index
from daemon.core.errors import ConnectorError

__all__ = ["MaildirDrafts", "MaildirHistory", "VdirCalendar", "open_account"]


def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the local account ``name``.

    ``options``: ``calendar`` (a vdir folder or one .ics file), ``drafts`` (a Maildir folder,
    created on first use), ``history_days`` (default 400), ``horizon_days`` (default 365),
    ``full_check_minutes`` (default 60: how often every file is compared even when the folder
    shows no change), ``max_file_mb`` (default 10: a larger calendar file is not read) and
    ``reply_detection`` (default false); when it is true, ``mail`` (a Maildir folder or a
    folder of Maildir folders) and ``my_emails`` (the user's addresses) give the account its
    mail history. Nothing is read or created here; a missing calendar or mail folder is
    reported by the first use.

    Returns the account. Raises ``ConnectorError`` when an option is missing or of the wrong
    type.
    """
    calendar = _path_option(name, options, "calendar")
    drafts = _path_option(name, options, "drafts")
    history_days = _count_option(name, options, "history_days", DEFAULT_HISTORY_DAYS, "days")
    horizon_days = _count_option(name, options, "horizon_days", DEFAULT_HORIZON_DAYS, "days")
    full_check = _count_option(name, options, "full_check_minutes", DEFAULT_FULL_CHECK_MINUTES,
                               "minutes")
    max_file_mb = _count_option(name, options, "max_file_mb", DEFAULT_MAX_FILE_MB, "MB",
                                least=1)
    mail = None
    if _bool_option(name, options, "reply_detection"):
        root = _path_option(name, options, "mail")
        mail = MaildirHistory(root, _emails_option(name, options), drafts=drafts, account=name,
                              index=shared_index(root, drafts))
    return Account(
        name=name,
        calendar=VdirCalendar(calendar, env, account=name, history_days=history_days,
                              horizon_days=horizon_days, full_check_minutes=full_check,
                              max_file_mb=max_file_mb),
        drafts=MaildirDrafts(drafts, account=name),
        mail=mail,
    )


def _path_option(account: str, options: Mapping[str, Any], key: str) -> Path:
    value = options.get(key)
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ConnectorError(
            f"account {account!r}: `{key}` is missing; set it in the config to an absolute path"
        )
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ConnectorError(
            f"account {account!r}: `{key}` is {str(value)!r}, a relative path; set it in the "
            "config to an absolute path"
        )
    return path


def _count_option(account: str, options: Mapping[str, Any], key: str, default: int,
                  unit: str, least: int = 0) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConnectorError(
            f"account {account!r}: `{key}` is {value!r}; set it in the config to a whole "
            f"number of {unit}, {least} or more"
        )
    return value


def _bool_option(account: str, options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool):
        raise ConnectorError(
            f"account {account!r}: `{key}` is {value!r}; set it in the config to true or false"
        )
    return value


def _emails_option(account: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    value = options.get("my_emails")
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(address, str) and "@" in address for address in value)):
        raise ConnectorError(
            f"account {account!r}: reply detection needs your own addresses; list them in "
            "the config under [me] as `emails`"
        )
    return tuple(address.strip().lower() for address in value)
