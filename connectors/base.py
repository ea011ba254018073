"""The connector contract: what every provider implements, and the registry of providers.

A connector maps provider data to :mod:`daemon.model` types at its edge and raises only
:mod:`daemon.errors` errors. The core never imports a provider SDK: the registry imports a
connector module only when an account of that kind is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from daemon.errors import ConnectorError
from daemon.model import JSON, Change, DraftRef, DraftState
from daemon.model import KEY_HEADER as KEY_HEADER


class CalendarSource(Protocol):
    """Where meetings come from."""

    def changes(self, cursor: JSON | None) -> tuple[list[Change], JSON]:
        """Return the meetings changed or removed since ``cursor`` and the new cursor.

        ``cursor=None`` means a full sync: every meeting in reach is returned. The cursor is a
        JSON object the core stores untouched and hands back next time.

        Raises ``CursorExpired`` when the cursor is no longer accepted (the core then does a
        full sync), ``AuthError``, ``TransientError`` or ``ConnectorError``.
        """
        ...


class DraftBox(Protocol):
    """The user's Drafts folder. Nothing here ever sends a message."""

    def create(self, message: EmailMessage, key: str) -> DraftRef:
        """Save ``message`` as a new draft. ``message`` already carries ``key`` in its
        ``X-Coffeechat-Key`` header. Returns where it went and a fingerprint of its content."""
        ...

    def find(self, key: str) -> DraftRef | None:
        """Return the draft whose ``X-Coffeechat-Key`` header is ``key``, or ``None``.

        Used after a crash to learn whether a create that was started actually happened.
        """
        ...

    def get(self, ref: DraftRef) -> DraftState:
        """Say whether the draft is still as written, was edited by the user, or is gone."""
        ...

    def update(self, ref: DraftRef, message: EmailMessage) -> DraftRef:
        """Replace an untouched draft's content; returns the new reference."""
        ...

    def delete(self, ref: DraftRef) -> None:
        """Remove an untouched draft. Deleting a draft that is already gone is not an error."""
        ...


@dataclass(frozen=True)
class Account:
    """An opened account: its calendar and its Drafts folder."""

    name: str
    calendar: CalendarSource
    drafts: DraftBox


@dataclass(frozen=True)
class ConnectorEnv:
    """What a connector may know of the core's world, injected so tests can control it."""

    timezone: ZoneInfo
    """The user's zone: floating times are read in it."""
    clock: Callable[[], datetime]
    """Returns the current aware time."""
    data_dir: Path
    """A private folder where the connector may keep tokens and caches."""


Opener = Callable[[str, Mapping[str, Any], ConnectorEnv], Account]

REGISTRY: dict[str, str] = {
    "local": "connectors.local:open_account",
}
"""Account kind -> ``module:function`` that opens an account of that kind (imported lazily)."""


def open_account(name: str, kind: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the account ``name`` of ``kind`` with its validated ``options``.

    Raises ``ConnectorError`` for an unknown kind; the opener's own errors pass through.
    """
    target = REGISTRY.get(kind)
    if target is None:
        known = ", ".join(sorted(REGISTRY))
        raise ConnectorError(f"account {name!r}: unknown kind {kind!r} (known: {known})")
    module_name, _, attr = target.partition(":")
    opener: Opener = getattr(importlib.import_module(module_name), attr)
    return opener(name, options, env)
