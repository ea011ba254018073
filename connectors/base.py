"""The connector contract: what every provider implements, and the registry of providers.

A connector maps provider data to :mod:`daemon.core.model` types at its edge and raises only
:mod:`daemon.core.errors` errors. The core never imports a provider SDK: the registry imports a
connector module only when an account of that kind is opened.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from daemon.core.errors import ConnectorError
from daemon.core.model import (
    JSON,
    Change,
    ContactMail,
    DraftRef,
    DraftState,
    TaggingRules,
    ThreadRef,
)
from daemon.core.model import KEY_HEADER as KEY_HEADER

if TYPE_CHECKING:
    from connectors.options import AccountOptions


class CalendarSource(Protocol):
    """Where meetings come from."""

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        """Yield the meetings changed or removed since ``cursor`` as they are read, and return
        the new cursor once the whole listing has been read.

        A generator, so that a calendar of any size is never held in memory at once: a
        connector reads it a page (or a file) at a time and yields each change as it is mapped.
        The cursor comes only at the end; a consumer that stops early, or sees an error, has no
        new cursor and must not keep what it was given (see :func:`collect`).

        ``cursor=None`` means a full sync: every meeting in reach is yielded. The cursor is a
        JSON object the core stores untouched and hands back next time.

        ``only_tagged`` comes only with ``cursor=None``, when the core holds no meeting of the
        account (a first sync): then meetings that these rules cannot tag may be left out,
        since the core would not store them, as long as the cursor still lets later syncs
        tell what changed. A connector may ignore it (only the local one uses it: a file
        whose text cannot hold a tagged event is not read in full).

        Raises (while being iterated) ``CursorExpired`` when the cursor is no longer accepted
        (the core then does a full sync), ``AuthError``, ``TransientError`` or
        ``ConnectorError``.
        """
        ...


def collect(changes: Generator[Change, None, JSON]) -> tuple[list[Change], JSON]:
    """Read a :meth:`CalendarSource.changes` stream to its end: every change, and the cursor.

    For callers that want the whole listing at once (a small calendar, a check, a test); the
    cycle folds the stream as it comes instead. The stream's errors propagate.
    """
    items: list[Change] = []
    while True:
        try:
            items.append(next(changes))
        except StopIteration as end:
            return items, end.value


class DraftBox(Protocol):
    """The user's Drafts folder. Nothing here ever sends a message."""

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Save ``message`` as a new draft. ``message`` already carries ``key`` in its
        ``X-Coffeechat-Key`` header. Returns where it went and a fingerprint of its content.

        With ``reply_to``, the draft is a reply in that conversation: the core has already set
        ``In-Reply-To``, ``References`` and the ``Re:`` subject; the connector adds what its
        provider needs (Gmail's ``threadId``; Graph's ``createReply`` on the message). A
        ``reply_to`` the provider no longer knows is not an error: the draft is then made as a
        new conversation (and a warning logged).
        """
        ...

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """Return the draft whose ``X-Coffeechat-Key`` header is ``key``, or ``None``.

        Used after a crash to learn whether a create that was started actually happened, and
        after a restore of an older state to find the drafts made since, before writing them.
        With ``message_id`` (the Message-ID the core gave the message), a connector that can
        read a draft's Message-ID counts only a draft that has it, so that a file merely
        carrying the key is never adopted as coffeechat's own after a crash.
        """
        ...

    def get(self, ref: DraftRef) -> DraftState:
        """Say whether the draft is still as written, was edited by the user, or is gone."""
        ...

    def update(self, ref: DraftRef, message: EmailMessage,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Replace an untouched draft's content; returns the new reference. ``reply_to`` as
        for :meth:`create`.

        Checks again that the draft is untouched first: if the user edited or removed it in
        the meantime, raises ``ConnectorError`` and changes nothing.
        """
        ...

    def delete(self, ref: DraftRef) -> None:
        """Remove an untouched draft. A draft that is already gone is not an error; one the
        user edited in the meantime is left in place (and a warning logged)."""
        ...


class MailHistory(Protocol):
    """The user's sent and received mail, read only to learn who wrote to whom and when
    (``reply_detection``). Nothing here changes or sends a message."""

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        """For each address in ``contacts`` (lower-case), the newest message from that contact
        to the user and the newest from the user to that contact, each dated at or after
        ``since`` (aware). Drafts never count. Every address asked about is in the result;
        one with no mail maps to a ``ContactMail`` with both fields ``None``. Addresses are
        compared case-insensitively, in From, To and Cc.

        Raises ``AuthError`` when the mailbox may not be read (saying to run ``coffeechat
        auth`` again to grant it), ``TransientError`` or ``ConnectorError``.
        """
        ...


@dataclass(frozen=True)
class Account:
    """An opened account: its calendar, its Drafts folder, and its mail history when the
    account has ``reply_detection`` on (``None`` otherwise)."""

    name: str
    calendar: CalendarSource
    drafts: DraftBox
    mail: MailHistory | None = None


@dataclass(frozen=True)
class ConnectorEnv:
    """What a connector may know of the core's world, injected so tests can control it."""

    timezone: ZoneInfo
    """The user's zone: floating times are read in it."""
    clock: Callable[[], datetime]
    """Returns the current aware time."""
    data_dir: Path
    """A private folder where the connector may keep tokens and caches."""


def occurrence_uid(uid: str, original: date | datetime) -> str:
    """The identity of one occurrence of the series ``uid``, the same for every provider:
    ``uid/2026-03-02T15:00:00Z`` (original start, an aware datetime, in UTC), or
    ``uid/2026-03-02`` for an all-day occurrence. Raises ``ValueError`` on a naive datetime."""
    if isinstance(original, datetime):
        if original.tzinfo is None:
            raise ValueError(f"naive original start for {uid!r}")
        return f"{uid}/{original.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return f"{uid}/{original.isoformat()}"


_OCCURRENCE_SUFFIX = re.compile(r"/(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2}):(\d{2})Z)?$")


def occurrence_start(uid: str) -> date | datetime | None:
    """Return the original start encoded in an occurrence uid made by :func:`occurrence_uid`
    (an aware UTC datetime, or a date for an all-day occurrence), or ``None`` for the uid of an
    event that does not repeat."""
    match = _OCCURRENCE_SUFFIX.search(uid)
    if match is None:
        return None
    day_text, hour, minute, second = match.groups()
    try:
        day = date.fromisoformat(day_text)
        if hour is None:
            return day
        return datetime.combine(day, time(int(hour), int(minute), int(second)), tzinfo=UTC)
    except ValueError:
        return None


KindOpener = Callable[[str, Mapping[str, Any], ConnectorEnv], Account]
"""What each kind's ``open_account`` is: (name, validated options, env) -> the account."""
Opener = Callable[[str, str, Mapping[str, Any], ConnectorEnv], Account]
"""What :func:`open_account` is: (name, kind, validated options, env) -> the account. The cycle
takes one, so that tests and the service (which keeps accounts open) can stand in for it."""

@dataclass(frozen=True)
class AuthPrompt:
    """How an interactive sign-in talks to the user (only ``coffeechat auth`` has one)."""

    echo: Callable[[str], None]
    """Shows a line to the user (a URL to open, a device code, progress)."""
    open_browser: bool = True
    """False on a machine without a browser: print the URL instead of opening it."""


Authorizer = Callable[[str, Mapping[str, Any], ConnectorEnv, AuthPrompt], str]
"""Signs the account in interactively, stores its credentials privately under
``ConnectorEnv.data_dir``, and returns a sentence saying what was stored."""

REGISTRY: dict[str, str] = {
    "local": "connectors.local:open_account",
    "google": "connectors.google:open_account",
    "outlook": "connectors.outlook:open_account",
    "caldav": "connectors.caldav:open_account",
}
"""Account kind -> ``module:function`` that opens an account of that kind (imported lazily, so
that no provider SDK is imported unless an account of its kind is used)."""

OPTIONS: dict[str, str] = {
    "local": "connectors.local.options:LocalOptions",
    "google": "connectors.google.options:GoogleOptions",
    "outlook": "connectors.outlook.options:OutlookOptions",
    "caldav": "connectors.caldav.options:CalDavOptions",
}
"""Account kind -> ``module:class`` of its options model (a :class:`connectors.options.
AccountOptions`), which ``daemon.settings.schema`` validates the kind's ``[[accounts]]``
entries with."""

AUTHORIZERS: dict[str, str] = {
    "google": "connectors.google.auth:authorize",
    "outlook": "connectors.outlook.auth:authorize",
}
"""Account kind -> ``module:function`` of its :data:`Authorizer` (kinds that need sign-in)."""


def _load(table: dict[str, str], kind: str, name: str) -> Any:
    target = table.get(kind)
    if target is None:
        known = ", ".join(sorted(table))
        raise ConnectorError(f"account {name!r}: kind {kind!r} is not one of {known}")
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConnectorError(f"account {name!r}: the {kind} connector cannot be loaded ({exc}); "
                             "reinstall coffeechat") from exc


def open_account(name: str, kind: str, options: Mapping[str, Any], env: ConnectorEnv) -> Account:
    """Open the account ``name`` of ``kind`` with its validated ``options``.

    Raises ``ConnectorError`` for an unknown kind; the opener's own errors pass through.
    """
    opener: KindOpener = _load(REGISTRY, kind, name)
    return opener(name, options, env)


def options_model(kind: str) -> type[AccountOptions]:
    """The options model of account ``kind`` (a subclass of
    :class:`connectors.options.AccountOptions`); raises ``ConnectorError`` for an unknown kind."""
    model: type[AccountOptions] = _load(OPTIONS, kind, kind)
    return model


def authorize(name: str, kind: str, options: Mapping[str, Any], env: ConnectorEnv,
              prompt: AuthPrompt) -> str:
    """Run the interactive sign-in of account ``name``; returns what was stored.

    Raises ``ConnectorError`` for a kind without sign-in, ``AuthError`` when sign-in fails.
    """
    authorizer: Authorizer = _load(AUTHORIZERS, kind, name)
    return authorizer(name, options, env, prompt)


def token_file(env: ConnectorEnv, account: str, suffix: str = ".json") -> Path:
    """Where account ``account`` keeps its credentials: ``tokens/<account><suffix>`` in the
    private data folder (the folder is created with mode 0700 by the writer)."""
    return env.data_dir / "tokens" / f"{account}{suffix}"
