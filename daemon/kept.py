"""Accounts kept open for the life of the service process.

Opening an account afresh for each cycle rebuilds its connections: a new TLS context (loading
the CA bundle), newly built Google services, a new ``requests.Session`` for Graph. The
service instead opens each account once and hands the same :class:`~connectors.base.Account`
to every cycle, for as long as its configuration stays the same. When it changes (a SIGHUP
reload with other options, or another zone), the account is opened again and the old one
dropped.

What must not outlive a refusal does not: a Google session drops its credentials when Google
refuses them and reads them again at the next call (so that ``coffeechat auth`` takes effect
without a restart), and a Graph client asks for a new token after a 401 or once its token is a
few minutes old. ``run --once`` opens its accounts for its one cycle, as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.base import Account, ConnectorEnv
from connectors.base import open_account as default_opener
from daemon.cycle import Opener


def _identity(kind: str, options: Mapping[str, Any], env: ConnectorEnv) -> tuple[Any, ...]:
    """What an opened account depends on: its kind, options and environment."""
    text = json.dumps(options, sort_keys=True, default=str)
    return kind, text, env.timezone.key, str(env.data_dir), env.clock


class KeptAccounts:
    """An :data:`~daemon.cycle.Opener` that opens each account once and hands it out again
    while its kind, options and environment are unchanged."""

    def __init__(self, opener: Opener = default_opener) -> None:
        """Open accounts with ``opener`` (which raises the connectors' errors)."""
        self.opener = opener
        self._open: dict[str, tuple[tuple[Any, ...], Account]] = {}
        self.opened = 0
        """How many times an account was actually opened (for tests and the benchmark)."""

    def __call__(self, name: str, kind: str, options: Mapping[str, Any],
                 env: ConnectorEnv) -> Account:
        """Return the account ``name``, opened now or at an earlier cycle with the same
        configuration. An account that fails to open is not kept (the next cycle tries
        again); the opener's errors pass through."""
        identity = _identity(kind, options, env)
        kept = self._open.get(name)
        if kept is not None and kept[0] == identity:
            return kept[1]
        self._open.pop(name, None)
        account = self.opener(name, kind, options, env)
        self.opened += 1
        self._open[name] = (identity, account)
        return account

    def keep_only(self, names: set[str]) -> None:
        """Drop the accounts not in ``names`` (no longer configured)."""
        for name in [n for n in self._open if n not in names]:
            del self._open[name]
