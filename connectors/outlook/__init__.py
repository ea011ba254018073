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

__all__ = ["GraphCalendar", "GraphClient", "GraphDrafts", "GraphHistory", "open_account"]

def open_account(name: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the Outlook account ``name`` from its validated ``options`` (the keys of
    :class:`connectors.outlook.options.OutlookOptions`, every default filled in).

    Returns the account, with its mail history only when ``reply_detection`` is on; no
    network is used here.
    """
    client = GraphClient(options["graph_root"], token_source(name, options, env), account=name,
                         timeout=float(options["timeout_seconds"]))
    calendar = GraphCalendar(client, env, history_days=options["history_days"],
                             horizon_days=options["horizon_days"])
    mail = GraphHistory(client) if options["reply_detection"] else None
    return Account(name=name, calendar=calendar, drafts=GraphDrafts(client), mail=mail)
