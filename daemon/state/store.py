"""coffeechat's state: tagged meetings, drafts, the user's contact choices, sync cursors (each
with the tagging settings it was read with), what each calendar could not give, and (with
reply detection) the mail last seen with each contact; and the last plan's wake-up time.

:class:`Store` reads and writes these records; the file they live in, its schema, backups and
saving are :class:`~daemon.state.database.Database`'s, and the meetings and records that
settled are in the settled file (:mod:`daemon.state.settled`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter, itemgetter

from tinydb.table import Document

from daemon.core import collector
from daemon.core.facts import NormalMeeting
from daemon.core.model import JSON, ContactMail, ContactPrefs, DraftRecord, Interview
from daemon.core.skipped import Skipped
from daemon.state import codec
from daemon.state.database import doc_id
from daemon.state.schema import BRIEFS, PLAN_MEMO_ID, UNREADABLE, cursor_from, pending_from
from daemon.state.settled import SettledHistory

_BY_ACCOUNT_UID = itemgetter("account", "uid")
"""The order of :meth:`Store.interviews`, on the stored documents."""
_NORMAL_BY_ACCOUNT_UID = attrgetter("account", "uid")
"""The same order, on :class:`NormalMeeting`."""


class Store(SettledHistory):
    """The state file, opened, and its records. Not thread-safe; one writer at a time (see
    :mod:`daemon.state.locks`)."""

    # -- meetings ---------------------------------------------------------------------------

    def interviews(self, *, settled: bool = False) -> list[Interview]:
        """Every stored tagged meeting but the settled ones (with ``settled``, those too), in a
        stable order (account, then uid). Without the settled ones, the planner's plan is the
        same (see :mod:`daemon.plan.settle`) unless
        :func:`daemon.plan.settle.still_planned_for` says otherwise."""
        with collector.paused():
            return [self._decode(codec.interview_from_json, d)
                    for d in self._meeting_documents(settled)]

    def normal_meetings(self, *, settled: bool = False) -> list[NormalMeeting]:
        """What :meth:`interviews` gives, as the planner reads it (normalised the same way as
        :func:`daemon.plan.meetings.normalise` would): decoded without the attendees,
        descriptions and other fields only a draft being rendered needs, for ``plan`` and
        ``status`` on a large state. A state in parts is read from its briefs of the meetings
        (:data:`~daemon.state.schema.BRIEFS`) when they are in step."""
        with collector.paused():
            quick = self._normal_from_briefs(settled)
            if quick is not None:
                return quick
            return [self._decode(codec.normal_from_json, d)
                    for d in self._meeting_documents(settled)]

    def _normal_from_briefs(self, settled: bool) -> list[NormalMeeting] | None:
        """:meth:`normal_meetings` from the briefs, or ``None`` when they are out of step or
        one does not read back (the meetings themselves are read then)."""
        assert self._storage is not None
        briefs = self._storage.derived_table(BRIEFS)
        if briefs is None:
            return None
        try:
            found = [codec.normal_from_brief(b) for b in briefs.values()]
        except UNREADABLE:
            return None
        history = self._history() if settled else None
        if history is not None:
            index = self._settled_index()
            found.extend(self._decode(codec.normal_from_json, d)
                         for key, d in history._documents_by_id("meetings")
                         if key in index and str(key) not in briefs)
        found.sort(key=_NORMAL_BY_ACCOUNT_UID)
        return found

    def _meeting_documents(self, settled: bool) -> list[JSON]:
        """The stored meetings' documents for :meth:`interviews`, in its order."""
        docs = list(self._documents("meetings"))
        history = self._history() if settled else None
        if history is not None:
            index = self._settled_index()
            docs.extend(d for key, d in history._documents_by_id("meetings")
                        if key in index and not self.meetings.contains(doc_id=key))
        docs.sort(key=_BY_ACCOUNT_UID)
        return docs

    def interview(self, account: str, uid: str) -> Interview | None:
        """The stored meeting ``uid`` of ``account`` (settled or not), or ``None``."""
        key = doc_id(account, uid)
        doc = self.meetings.get(doc_id=key) or self._settled_copy(key)
        return None if doc is None else self._decode(codec.interview_from_json, doc)

    def put_interview(self, interview: Interview) -> None:
        """Insert or replace a tagged meeting."""
        self.put_interviews([interview])

    def put_interviews(self, interviews: Iterable[Interview]) -> None:
        """Insert or replace tagged meetings, in order (of two with the same uid the last
        stays). The new ones are inserted in one write of the table: TinyDB rewrites the whole
        table for each write, which made a first sync's thousands of inserts quadratic."""
        latest = {doc_id(iv.account, iv.meeting.uid): codec.interview_to_json(iv)
                  for iv in interviews}
        changed = set()
        for key in latest.keys() & self._settled_index():
            if self._settled_copy(key) != latest[key]:
                changed.add(key)
            elif not self.meetings.contains(doc_id=key):
                del latest[key]  # as it settled: it stays so
        self._unsettle(changed)
        new = {key for key in latest if not self.meetings.contains(doc_id=key)}
        if new:
            self.meetings.insert_multiple(Document(latest[key], doc_id=key) for key in new)
            self._plan_inputs_changed()
        for key, document in latest.items():
            if key not in new:
                self._upsert(self.meetings, key, document, plan_input=True)

    def remove_meeting(self, account: str, uid: str) -> bool:
        """Forget a meeting (deleted, or no longer tagged); returns whether it was stored. A
        settled one comes back into the state first, with its records (they keep its drafts
        from being written again should it be tagged again), and is then forgotten."""
        key = doc_id(account, uid)
        self._unsettle({key})
        if self.meetings.contains(doc_id=key):
            self.meetings.remove(doc_ids=[key])
            self._plan_inputs_changed()
            return True
        return False

    # -- drafts -----------------------------------------------------------------------------

    def drafts(self, *, settled: bool = False) -> dict[str, DraftRecord]:
        """Every draft record but those of settled meetings (with ``settled``, those too), by
        key (a copy: the caller may change the store meanwhile)."""
        if self._records is None:
            with collector.paused():
                records = (self._decode(codec.record_from_json, d)
                           for d in self._documents("drafts"))
                self._records = {r.key: r for r in records}
        history = self._history() if settled else None
        if history is None:
            return dict(self._records)
        uids = {doc["uid"] for doc in map(self._settled_copy, self._settled_index())
                if doc is not None}
        kept = {k: r for k, r in history.drafts().items() if r.meeting_uid in uids}
        return {**kept, **self._records}

    def put_draft(self, record: DraftRecord) -> None:
        """Insert or replace the record of one draft."""
        self._upsert(self.drafts_table, doc_id(record.key), codec.record_to_json(record),
                     plan_input=True)
        if self._records is not None:
            self._records[record.key] = record

    def delete_draft(self, key: str) -> None:
        """Forget the record of one draft (missing is fine)."""
        ident = doc_id(key)
        if self.drafts_table.contains(doc_id=ident):
            self.drafts_table.remove(doc_ids=[ident])
            self._plan_inputs_changed()
        if self._records is not None:
            self._records.pop(key, None)

    # -- contacts ---------------------------------------------------------------------------

    def prefs(self) -> dict[str, ContactPrefs]:
        """The user's choices about contacts, by address."""
        items = (self._decode(codec.prefs_from_json, d) for d in self.contacts_table.all())
        return {p.email: p for p in items}

    def put_prefs(self, prefs: ContactPrefs) -> None:
        """Record the user's choice about one contact."""
        self._upsert(self.contacts_table, doc_id(prefs.email), codec.prefs_to_json(prefs),
                     plan_input=True)

    # -- mail seen (reply detection) ---------------------------------------------------------

    def mail_seen(self) -> list[tuple[str, ContactMail, datetime]]:
        """What each account's mailbox last showed about each contact: (account, the mail
        seen, when it was looked at)."""
        return [self._decode(codec.mail_from_json, d) for d in self.mail_table.all()]

    def put_mail(self, account: str, mail: ContactMail, checked_at: datetime) -> None:
        """Record what ``account``'s mailbox shows about one contact, looked at ``checked_at``."""
        self._upsert(self.mail_table, doc_id(account, mail.contact),
                     codec.mail_to_json(account, mail, checked_at), plan_input=True)

    # -- meetings whose drafts are still to be reconciled ------------------------------------

    def pending(self, account: str) -> set[str]:
        """Uids of ``account``'s meetings that changed while drafts of theirs were written, and
        whose drafts were not yet checked against the change."""
        doc = self.pending_table.get(doc_id=doc_id(account))
        return set() if doc is None else self._decode(pending_from, doc)

    def set_pending(self, account: str, uids: set[str]) -> None:
        """Replace the set :meth:`pending` returns (an empty set removes the entry)."""
        ident = doc_id(account)
        if not uids:
            if self.pending_table.contains(doc_id=ident):
                self.pending_table.remove(doc_ids=[ident])
            return
        self._upsert(self.pending_table, ident, {"account": account, "uids": sorted(uids)})

    # -- cursors ----------------------------------------------------------------------------

    def cursor(self, account: str) -> JSON | None:
        """The stored sync cursor of ``account``, or ``None`` for a full sync."""
        doc = self.cursors_table.get(doc_id=doc_id(account))
        return None if doc is None else self._decode(cursor_from, doc)

    def cursor_tagging(self, account: str) -> str | None:
        """The tagging fingerprint stored with ``account``'s cursor (see
        :func:`daemon.core.tagging.fingerprint`), or ``None`` when there is no cursor or it was
        stored by a coffeechat that did not record one."""
        doc = self.cursors_table.get(doc_id=doc_id(account))
        tagging = None if doc is None else doc.get("tagging")
        return tagging if isinstance(tagging, str) else None

    def set_cursor(self, account: str, cursor: JSON | None, tagging: str) -> None:
        """Store the sync cursor of ``account`` with the ``tagging`` fingerprint its meetings
        were read with, or, with ``None``, drop both."""
        ident = doc_id(account)
        if cursor is None:
            if self.cursors_table.contains(doc_id=ident):
                self.cursors_table.remove(doc_ids=[ident])
            return
        self._upsert(self.cursors_table, ident,
                     {"account": account, "cursor": cursor, "tagging": tagging})

    # -- what the calendars could not give (see daemon.core.skipped) ------------------------------

    def skipped(self) -> dict[str, Skipped]:
        """What each account's calendar could not give when last read, by account (accounts
        with nothing to say are left out)."""
        found = (self._decode(codec.skipped_from_json, d) for d in self.skipped_table.all())
        return dict(found)

    def set_skipped(self, account: str, skipped: Skipped) -> None:
        """Replace what :meth:`skipped` gives for ``account`` (an empty one removes it)."""
        ident = doc_id(account)
        if skipped.empty:
            if self.skipped_table.contains(doc_id=ident):
                self.skipped_table.remove(doc_ids=[ident])
            return
        self._upsert(self.skipped_table, ident, codec.skipped_to_json(account, skipped))

    def pending_uids(self) -> set[str]:
        """The uids pending reconciliation in any account (see :meth:`pending`)."""
        return {uid for doc in self.pending_table.all() for uid in doc["uids"]}

    # -- the last plan's wake-up time (see daemon.cycle.idle) --------------------------------------

    def plan_memo(self) -> tuple[str, datetime] | None:
        """The settings key and wake-up time the last plan left, if nothing the planner reads
        has changed in the store since (any change drops it)."""
        doc = self.meta.get(doc_id=PLAN_MEMO_ID)
        if not isinstance(doc, dict):
            return None
        try:
            return str(doc["settings"]), codec.parse_time(doc["wake"])
        except (KeyError, TypeError, ValueError):
            return None  # unreadable: as if there were none, so the planner runs

    def set_plan_memo(self, settings_key: str, wake: datetime | None) -> None:
        """Record that, with settings ``settings_key`` and the store as it is now, the planner
        has nothing due before ``wake``; ``None`` drops the record."""
        if wake is None:
            self._plan_inputs_changed()
            return
        document = {"settings": settings_key, "wake": codec.format_time(wake)}
        self._upsert(self.meta, PLAN_MEMO_ID, document)
