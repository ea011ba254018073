"""The ledger: the one owner of the exactly-once protocol for changes to Drafts (intent, flush,
act, done), for making a draft and for withdrawing one.

Each provider call that makes or removes a draft is bracketed by records in the store: first
the intent (a record ``creating`` or ``withdrawing``), written and **flushed** before the call,
so that it is on disk whatever happens next; then, after the call, the outcome, in memory until
the next save. After a kill (or a failed call) at any instant, the state on disk holds one of:

- neither intent nor outcome: killed before the intent was flushed; Drafts was not touched;
- the intent: the call may or may not have happened. The next cycle settles it by looking at
  Drafts (:meth:`Ledger.resolve`, :meth:`Ledger.settle`): a draft being made is adopted only
  if Drafts has one with the intent's Message-ID (a file that merely carries the key is never
  taken for ours), otherwise the record is dropped and the draft planned again; a draft being
  withdrawn is forgotten once gone, removed again while untouched, and handed back to the user
  (``created``, ``edited``) once edited;
- the outcome: the change is done and recorded.

Hence a kill at any instant leaves neither a duplicate nor a lost draft. A ``creating`` or
``withdrawing`` record keeps its key out of the plan until it is settled. Only the ledger
flushes in the middle of a cycle; every other change waits for the cycle's save.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from daemon.core.model import DraftRecord, DraftRef, DraftState
from daemon.state.store import Store

log = logging.getLogger(__name__)


class Drafts(Protocol):
    """What the ledger asks of a Drafts folder to settle what an interrupted change left
    (``connectors.base.DraftBox`` has it)."""

    def find(self, key: str, message_id: str = "") -> DraftRef | None: ...

    def get(self, ref: DraftRef) -> DraftState: ...

    def delete(self, ref: DraftRef) -> None: ...


class Ledger:
    """The intent-first protocol over one store; ``clock`` dates the drafts made."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    # -- making a draft ----------------------------------------------------------------------

    def create(self, intent: DraftRecord, act: Callable[[], DraftRef]) -> DraftRecord:
        """Record ``intent`` (state ``creating``, with the Message-ID of the message ``act``
        writes), flush, call ``act`` (which makes the draft), and record the draft it made
        (``created``); returns that record. An error from ``act`` (or a kill) leaves the
        intent for :meth:`resolve`. Raises ``StateError`` when the intent cannot be saved
        (then ``act`` is not called)."""
        assert intent.state == "creating"
        self.store.put_draft(intent)
        self.store.flush()
        ref = act()
        made_at = self.clock()
        done = replace(intent, state="created", ref=ref, created_at=made_at,
                       observed_at=made_at)
        self.store.put_draft(done)
        return done

    def adopt(self, intent: DraftRecord, found: DraftRef) -> DraftRecord:
        """Record as made the draft ``found`` in Drafts for ``intent``'s key, which the state
        had no record of (made after the state was saved, see :meth:`Store.may_exist`);
        returns its record. Nothing is written in Drafts."""
        adopted = replace(intent, state="created", ref=found, observed_at=self.clock())
        self.store.put_draft(adopted)
        return adopted

    def creating(self, account: str) -> Iterator[DraftRecord]:
        """The ``creating`` records of ``account``: drafts an interrupted cycle was making."""
        for record in list(self.store.drafts().values()):
            if record.account == account and record.state == "creating":
                yield record

    def resolve(self, record: DraftRecord, drafts: Drafts) -> DraftRecord | None:
        """Settle the ``creating`` ``record``: adopt the draft if ``drafts`` has it (by key and
        Message-ID) and return its record, else forget the record (so the draft is planned
        again) and return ``None``. Provider errors propagate, and the record stays."""
        ref = drafts.find(record.key, message_id=record.message_id)
        if ref is None:
            log.info("draft %s was not written before an interruption; it will be made again",
                     record.key)
            self.store.delete_draft(record.key)
            return None
        done = replace(record, state="created", ref=ref,
                       created_at=record.created_at or self.clock())
        self.store.put_draft(done)
        return done

    # -- withdrawing a draft -----------------------------------------------------------------

    def withdraw(self, record: DraftRecord, why: str, drafts: Drafts) -> DraftState:
        """Remove ``record``'s untouched draft from ``drafts``: record the intent
        (``withdrawing``, its reason ``why`` in ``flag``), flush, delete, then :meth:`settle`;
        returns what :meth:`settle` saw. Provider errors (or a kill) leave the intent for
        :meth:`settle`. Raises ``StateError`` when the intent cannot be saved (then nothing
        is deleted)."""
        assert record.ref is not None
        intent = replace(record, state="withdrawing", flag=why)
        self.store.put_draft(intent)
        self.store.flush()
        drafts.delete(record.ref)
        return self.settle(intent, drafts)

    def settle(self, record: DraftRecord, drafts: Drafts) -> DraftState:
        """Finish the withdrawal ``record`` (state ``withdrawing``, its reason in ``flag``)
        and return the draft's state as it ends: ``gone``, the record is forgotten;
        ``untouched`` (the removal did not take, although tried again), the record stays
        ``withdrawing`` for the next cycle; ``edited``, the user got there first, and the
        record is back to ``created``, ``observed`` edited (the caller flags it). Provider
        errors propagate, and the record stays."""
        assert record.ref is not None
        state = drafts.get(record.ref)
        if state == "untouched":
            drafts.delete(record.ref)
            state = drafts.get(record.ref)
        if state == "edited":
            self.store.put_draft(replace(record, state="created", observed="edited"))
        elif state == "gone":
            self.store.delete_draft(record.key)
        return state
