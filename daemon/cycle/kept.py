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

Exactly-once with kept accounts (reviewed for issue 18). A kept connector must not carry from
one cycle to the next anything that could make a draft be written twice or missed: a cursor,
a ``find`` answer, a Drafts listing taken for current. What each keeps, and why it is safe:

- Calendars keep no cursor. The cycle reads the cursor from the state and hands it to
  ``changes`` each time, so a restored or older state is honoured by a kept calendar exactly
  as by a new one. ``VdirCalendar``, ``GoogleCalendar`` and ``GraphCalendar`` keep only their
  options and their session.
- ``find`` never answers from memory on Google or Outlook: every call lists or queries
  Drafts. Gmail's drafts, Graph's messages and the executor's intent records are read anew.
- Maildir Drafts (``MaildirDrafts``, through ``connectors.local.draftfiles``) keeps a
  listing and the header blocks it read. Both are checked at every call: the listing is used
  again only while ``new/`` and ``cur/`` keep the (inode, time) they had and it was made over
  2 s after their last change (coarse file-system clocks); a file's headers only while it
  keeps the inode it was read under (a new file saved under the same name is read again);
  untouched or edited is always decided from the file's current bytes. A write or removal by
  the box itself drops the listing.
- Graph Drafts keeps the Drafts folder's id; before it calls a draft gone because it lies in
  another folder, it reads the id again (a mailbox move changes ids).
- Connections: Google's transport opens a new connection for each request (only the TLS
  context, the built services and their collections are kept; they build requests and hold
  no answer); Graph's
  ``requests.Session`` reads every answer whole before the next request. An abandoned request
  leaves no answer behind to be taken for the next one's.
- Reply detection: the local mail index was process-wide before (``shared_index``); Google
  and Graph ask the provider each time.
- A kill, crash or abandoned cycle ends the process, and with it everything kept: recovery
  after a crash runs in a new process, on accounts opened afresh. A write that failed inside
  the process (a lost answer) is looked up by the next cycle's ``resolve_leftovers`` with
  ``find``, which reads Drafts anew (above).

The relationship and restore suites (``tests/e2e/test_relationship.py``, ``test_restore.py``)
run every behaviour on all three connectors both with accounts opened for each cycle and kept
for the whole run; ``tests/test_local_drafts_identity.py`` and ``tests/test_outlook_drafts.py``
test the two cases above where a kept object could otherwise answer from stale memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.base import Account, ConnectorEnv, Opener
from connectors.base import open_account as default_opener


def _identity(kind: str, options: Mapping[str, Any], env: ConnectorEnv) -> tuple[Any, ...]:
    """What an opened account depends on: its kind, options and environment."""
    text = json.dumps(options, sort_keys=True, default=str)
    return kind, text, env.timezone.key, str(env.data_dir), env.clock


class KeptAccounts:
    """An :data:`~connectors.base.Opener` that opens each account once and hands it out again
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
