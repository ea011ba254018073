"""Carries out a plan against one account's Drafts folder, exactly once per draft key.

Before each provider call the store records the intent (``creating``) and is flushed; after it,
the provider's reference (``created``). A ``creating`` record found later (after a kill, or a
failed call) is resolved with ``DraftBox.find``: if the draft exists it is adopted, otherwise the
record is dropped so that the planner plans it again. Hence a kill at any instant leaves neither
a duplicate nor a lost draft.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from connectors.base import DraftBox
from daemon.errors import TemplateError, UnsafeMessageError
from daemon.model import DraftRecord, DraftSpec, Me
from daemon.render import Renderer, build_message, draft_variables
from daemon.store import Store

log = logging.getLogger(__name__)


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

    def resolve_leftovers(self, account: str, box: DraftBox) -> list[DraftRecord]:
        """Settle every ``creating`` record of ``account``: adopt the draft if the provider has
        it, else forget the record so it is planned again. Returns the adopted records.

        Provider errors (``ConnectorError`` and subclasses) propagate; the records then stay
        ``creating`` and nothing is planned for them until a later cycle resolves them.
        """
        adopted = []
        for record in self.store.drafts().values():
            if record.account != account or record.state != "creating":
                continue
            ref = box.find(record.key)
            if ref is None:
                log.info("draft %s was not written before an interruption; it will be made "
                         "again", record.key)
                self.store.delete_draft(record.key)
            else:
                done = replace(record, state="created", ref=ref,
                               created_at=record.created_at or self.clock())
                self.store.put_draft(done)
                adopted.append(done)
        self.store.flush()
        return adopted

    def write(self, specs: Sequence[DraftSpec], box: DraftBox) -> Written:
        """Render and create each draft in ``specs`` (all of one account), in order.

        A draft whose template fails or whose message fails the safety check is reported in
        ``problems`` and skipped; the others go on. A provider error stops the run and
        propagates, leaving at most one ``creating`` record for the next cycle to resolve.
        """
        result = Written()
        for spec in specs:
            try:
                message = self._message(spec)
            except (TemplateError, UnsafeMessageError, LookupError) as exc:
                result.problems.append(f"{spec.key}: {exc}")
                log.error("no draft for %s: %s", spec.key, exc)
                continue
            intent = DraftRecord(key=spec.key, kind=spec.kind, contact=spec.contact.email,
                                 account=spec.account, meeting_uid=spec.meeting_uid,
                                 state="creating", due=spec.due, reason=spec.reason,
                                 created_at=self.clock())
            self.store.put_draft(intent)
            self.store.flush()
            ref = box.create(message, spec.key)
            made_at = self.clock()
            done = replace(intent, state="created", ref=ref, created_at=made_at,
                           observed_at=made_at)
            self.store.put_draft(done)
            result.made.append(done)
            log.info("drafted %s to %s (%s)", spec.kind, spec.contact.email, spec.reason)
        self.store.flush()
        return result

    def _message(self, spec: DraftSpec) -> EmailMessage:
        interview = (None if spec.meeting_uid is None
                     else self.store.interview(spec.account, spec.meeting_uid))
        if interview is None:
            raise LookupError(f"its meeting {spec.meeting_uid} is no longer in the state")
        variables = draft_variables(spec.kind, spec.contact, interview, self.me, self.timezone)
        rendered = self.renderer.render(spec.kind, variables)
        return build_message(rendered, self.me, spec.contact, spec.key, self.clock())
