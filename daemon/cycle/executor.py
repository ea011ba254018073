"""Carries out a plan against one account's Drafts folder, exactly once per draft key.

Each draft is made through the :class:`~daemon.state.ledger.Ledger`: its intent (``creating``,
with the Message-ID of the message about to be written) is saved before the provider call, its
reference after it; a ``creating`` record an interrupted cycle left is settled first
(:meth:`Executor.resolve_leftovers`): adopted if Drafts has that very message, otherwise
dropped so that the planner plans it again. Hence a kill at any instant leaves neither a
duplicate nor a lost draft.

A state older than the Drafts folder (restored from a backup) has no record of the drafts made
since it was saved; the store knows which keys those may be (:meth:`Store.may_exist`), and each
is looked up with ``DraftBox.find`` before it is written: one found is adopted as it is (by its
key alone: the state never knew its Message-ID).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from connectors.base import DraftBox
from daemon.core.errors import TemplateError, UnsafeMessageError
from daemon.core.kinds import ABOUT_ONE_MEETING, IN_THREAD
from daemon.core.model import DraftRecord, DraftSpec, Interview, Me, Person, ThreadRef
from daemon.cycle.reconcile import facts_of
from daemon.mail.message import build_message
from daemon.mail.templates import Renderer
from daemon.mail.variables import draft_variables
from daemon.state.ledger import Ledger
from daemon.state.store import Store

log = logging.getLogger(__name__)

Threads = Mapping[tuple[str, str], ThreadRef]
"""The conversation to reply in, by (account, contact address)."""


@dataclass(frozen=True)
class _Draft:
    message: EmailMessage
    facts: str
    reply_to: ThreadRef | None


@dataclass
class Written:
    """What one execution did: the drafts it made and the drafts it could not make."""

    made: list[DraftRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Executor:
    """Writes planned drafts into Drafts folders, recording each step in the store."""

    def __init__(self, store: Store, renderer: Renderer, me: Me, timezone: ZoneInfo,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.renderer = renderer
        self.me = me
        self.timezone = timezone
        self.clock = clock
        self.ledger = Ledger(store, clock)

    def resolve_leftovers(self, account: str, box: DraftBox) -> list[DraftRecord]:
        """Settle every ``creating`` record of ``account`` (:meth:`Ledger.resolve`: adopt the
        draft if the provider has it, else forget the record so it is planned again). Returns
        the adopted records.

        Provider errors (``ConnectorError`` and subclasses) propagate; the records then stay
        ``creating`` and nothing is planned for them until a later cycle resolves them.
        """
        adopted = []
        for record in self.ledger.creating(account):
            done = self.ledger.resolve(record, box)
            if done is not None:
                adopted.append(done)
        return adopted

    def write(self, specs: Sequence[DraftSpec], box: DraftBox,
              threads: Threads | None = None) -> Written:
        """Render and create each draft in ``specs`` (all of one account), in order; a
        follow-up or catch-up replies in the conversation ``threads`` gives for its contact.

        A draft whose template fails or whose message fails the safety check is reported in
        ``problems`` and skipped; the others go on. A provider error stops the run and
        propagates, leaving at most one ``creating`` record for the next cycle to resolve.
        """
        result = Written()
        for spec in specs:
            try:
                draft = self._draft(spec, threads or {})
            except (TemplateError, UnsafeMessageError, LookupError) as exc:
                result.problems.append(f"{spec.key}: {exc}")
                log.error("no draft for %s: %s", spec.key, exc)
                continue
            intent = DraftRecord(key=spec.key, kind=spec.kind, contact=spec.contact.email,
                                 account=spec.account, meeting_uid=spec.meeting_uid,
                                 state="creating", due=spec.due, reason=spec.reason,
                                 created_at=self.clock(), facts=draft.facts,
                                 message_id=str(draft.message.get("Message-ID", "")))
            found = box.find(spec.key) if self.store.may_exist(spec.key) else None
            if found is not None:
                result.made.append(self.ledger.adopt(intent, found))
                log.info("draft %s was already in Drafts, made after the state was saved; "
                         "kept, not written again", spec.key)
                continue
            result.made.append(self.ledger.create(intent, functools.partial(
                box.create, draft.message, spec.key, reply_to=draft.reply_to)))
            log.info("drafted %s to %s (%s)", spec.kind, spec.contact.email, spec.reason)
        return result

    def message_for(self, spec: DraftSpec, threads: Threads | None = None) -> EmailMessage:
        """The message ``spec`` would be written as, for previews: in its conversation, when
        ``threads`` (as for :meth:`write`) has one for it. Raises ``TemplateError``,
        ``UnsafeMessageError`` or ``LookupError`` like ``write`` reports them."""
        return self._draft(spec, threads or {}).message

    def _draft(self, spec: DraftSpec, threads: Threads) -> _Draft:
        interview = (None if spec.meeting_uid is None
                     else self.store.interview(spec.account, spec.meeting_uid))
        if interview is None:
            raise LookupError(f"its meeting {spec.meeting_uid} is no longer in the state")
        earlier: tuple[Interview, ...] = ()
        if spec.kind == "prep":
            earlier = tuple(iv for iv in self.store.interviews(settled=True)
                            if iv.meeting.start < interview.meeting.start
                            and not iv.meeting.cancelled
                            and spec.contact.email in {p.email.lower() for p in iv.contacts})
        variables = draft_variables(spec.kind, spec.contact, interview, self.me, self.timezone,
                                    message=spec.message, earlier=earlier)
        rendered = self.renderer.render(spec.kind, variables)
        # A prep note is the user's own: it goes to them, about the contact.
        recipient = (Person(self.me.emails[0], self.me.name)
                     if spec.kind == "prep" and self.me.emails else spec.contact)
        thread = (threads.get((spec.account, spec.contact.email))
                  if spec.kind in IN_THREAD else None)
        message = build_message(rendered, self.me, recipient, spec.key, self.clock(),
                                reply_to=thread)
        facts = facts_of(interview.meeting) if spec.kind in ABOUT_ONE_MEETING else ""
        # build_message leaves out a conversation whose ids are not safe to quote
        reply_to = thread if thread is not None and "In-Reply-To" in message else None
        return _Draft(message=message, facts=facts, reply_to=reply_to)
