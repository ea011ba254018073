"""The Outlook connector: the Outlook calendar and Drafts folder through Microsoft Graph.

Meetings come from ``/me/calendarView/delta`` (:mod:`connectors.outlook.calendar`), drafts go
to the Drafts folder with ``POST /me/messages`` or ``createReply``
(:mod:`connectors.outlook.drafts`), who wrote to whom is read from the mailbox when
``reply_detection`` is on (:mod:`connectors.outlook.history`), tokens come
from msal's cache or the account's ``token_command`` (:mod:`connectors.outlook.auth`), and every
request goes through :class:`connectors.outlook.client.GraphClient`. Opening an account contacts
nothing: the first request of a cycle does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.outlook.auth import token_source
from connectors.outlook.calendar import GraphCalendar
from connectors.outlook.client import GraphClient
from connectors.outlook.drafts import GraphDrafts
from connectors.outlook.history import GraphHistory
from daemon.core.errors import ConnectorError

__all__ = ["GraphCalendar", "GraphClient", "GraphDrafts", "GraphHistory", "open_account"]

DEFAULT_GRAPH_ROOT = "https://graph.microsoft.com/v1.0"


def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the Outlook account ``name``.

    ``options`` (validated by the config): ``graph_root``, ``client_id`` and ``authority``
    (msal) or ``token_command``, ``timeout_seconds`` (default 30), ``history_days`` (400),
    ``horizon_days`` (365) and ``reply_detection`` (False).

    Returns the account, with its mail history only when ``reply_detection`` is on; no
    network is used here. Raises ``ConnectorError`` when an option is
    unusable.
    """
    root = str(options.get("graph_root") or DEFAULT_GRAPH_ROOT).rstrip("/")
    if not root.startswith(("https://", "http://")):
        raise ConnectorError(f"account {name!r}: `graph_root` is {root!r}; set it to an "
                             "https:// address such as https://graph.microsoft.com/v1.0")
    timeout = _number(name, options, "timeout_seconds", 30)
    client = GraphClient(root, token_source(name, options, env), account=name,
                         timeout=timeout)
    calendar = GraphCalendar(client, env,
                             history_days=int(_number(name, options, "history_days", 400)),
                             horizon_days=int(_number(name, options, "horizon_days", 365)))
    mail = GraphHistory(client) if options.get("reply_detection") is True else None
    return Account(name=name, calendar=calendar, drafts=GraphDrafts(client), mail=mail)


def _number(name: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConnectorError(f"account {name!r}: `{key}` is {value!r}; set it in the config to "
                             "a positive number")
    return float(value)
