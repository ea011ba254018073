"""The half of every :class:`connectors.base.DraftBox` that is the same for every provider:
a draft is replaced or removed only while it is still as coffeechat wrote it.

The user's edit always wins, so :meth:`update` and :meth:`delete` look at the draft first
and refuse (or skip) one that was edited or is gone, with the same wording for every provider;
this is enforced once here, as vdirsyncer enforces a read-only storage once in its storage
base. A provider implements only what is its own: how to tell what became of a draft
(:meth:`GuardedDrafts._locate`, its fingerprint), the raw replace and the raw removal, and
how to name a draft in a message.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from email.message import EmailMessage
from typing import Generic, TypeVar

from connectors.base import KEY_HEADER
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

Where = TypeVar("Where")
"""What a provider's look at a draft found it in (a Maildir file, an IMAP UID, a draft id)."""


def carried_key(message: EmailMessage) -> str:
    """The ``X-Coffeechat-Key`` of ``message``; raises ``ValueError`` when it has none."""
    key = str(message.get(KEY_HEADER, "") or "").strip()
    if not key:
        raise ValueError(f"the message must carry an {KEY_HEADER} header")
    return key


def check_key(message: EmailMessage, key: str) -> None:
    """Raise ``ValueError`` unless ``message`` carries ``key`` in its ``X-Coffeechat-Key``
    header (what :meth:`connectors.base.DraftBox.create` requires)."""
    if str(message.get(KEY_HEADER, "") or "").strip() != key:
        raise ValueError(f"the message must carry {KEY_HEADER}: {key}")


class GuardedDrafts(ABC, Generic[Where]):
    """``get``, ``update`` and ``delete`` of a :class:`connectors.base.DraftBox`, over the
    provider's :meth:`_locate`, :meth:`_replace` and :meth:`_remove`.

    A subclass adds ``create`` and ``find``. Errors of its hooks propagate unchanged. A
    provider whose reference alone names the draft (Gmail, Graph) implements ``get`` and
    makes :meth:`_locate` of it; one that must find the draft's current place (a Maildir
    file, an IMAP UID) implements :meth:`_locate`, and ``get`` is read from it.
    """

    def get(self, ref: DraftRef) -> DraftState:
        """Say whether the draft is still as written, was edited by the user, or is gone."""
        return self._locate(ref)[0]

    def update(self, ref: DraftRef, message: EmailMessage,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Replace an untouched draft's content; returns the new reference.

        Raises ``ValueError`` when ``message`` has no ``X-Coffeechat-Key``, and
        ``ConnectorError`` (changing nothing) when the draft was edited or is gone.
        """
        key = carried_key(message)
        state, where = self._locate(ref)
        if state != "untouched" or where is None:
            raise self.not_replaced(ref, state)
        return self._replace(ref, where, message, key, reply_to)

    def delete(self, ref: DraftRef) -> None:
        """Remove an untouched draft. One already gone is fine; one the user edited is left
        in place, with a warning: their work wins."""
        state, where = self._locate(ref)
        if state == "edited":
            self.kept_edited(ref)
        elif where is not None:
            self._remove(ref, where)

    # --- the same wording for every provider ---------------------------------------------

    def not_replaced(self, ref: DraftRef, state: DraftState) -> ConnectorError:
        """The error of an update refused because the draft is ``state`` (also for a
        provider that learns so only from its write, as by a failed ``If-Match``)."""
        what = "was changed by you" if state == "edited" else "is no longer in Drafts"
        return ConnectorError(f"{self._name(ref)} {what}, so it was not replaced; nothing "
                              "needs doing")

    def kept_edited(self, ref: DraftRef) -> None:
        """Log that the draft was left in place because the user edited it."""
        log.warning("%s was edited, so it was not deleted", self._name(ref))

    # --- what each provider implements ---------------------------------------------------

    @abstractmethod
    def _locate(self, ref: DraftRef) -> tuple[DraftState, Where | None]:
        """What became of the draft, and where it is now: never ``None`` for an untouched
        or edited draft; for a gone one, ``None``, or a leftover that :meth:`delete` removes
        too (a trashed file still under the draft's name)."""

    @abstractmethod
    def _replace(self, ref: DraftRef, where: Where, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """Write ``message`` (carrying ``key``) over the untouched draft found at ``where``;
        returns the new reference."""

    @abstractmethod
    def _remove(self, ref: DraftRef, where: Where) -> None:
        """Remove what :meth:`_locate` found at ``where``; one removed meanwhile is fine."""

    @abstractmethod
    def _name(self, ref: DraftRef) -> str:
        """The draft as a message names it, with its account: "account 'work': the Gmail
        draft r123"."""
