"""coffeechat's state: tagged meetings, drafts, the user's contact choices, sync cursors (each
with the tagging settings it was read with), what each calendar could not give, and (with
reply detection) the mail last seen with each contact.

Kept in TinyDB over :class:`~daemon.state.storage.AtomicJSONStorage`: changes stay in memory until
:meth:`Store.flush`, which writes the whole state atomically. Each document's ``doc_id`` is a
stable hash of its natural key (account and uid, draft key, address), so look-ups and updates
never scan a table. The file carries a schema version; a file from a newer coffeechat, or one
that is empty, damaged or of the wrong shape, is refused rather than overwritten, with advice
naming a backup that reads back whole (:func:`damage`).

Drafts made after the state was saved are not lost by restoring an older copy: each save also
writes the ledger of drafts (:mod:`~daemon.state.roster`), and a writer that opens a state
missing some of the ledger's drafts keeps their ids as *to be looked up* (a record in
``meta``); the executor looks each of them up in Drafts by its key before writing it
(:meth:`Store.may_exist`).

Settled history (meetings and draft records the planner can never need again; see
:mod:`daemon.plan.settle`) is moved by :meth:`Store.settle` to a second file of the same kind beside
the state, ``<name>.settled.json``, which is read only when a calendar change touches one of
those meetings or history is asked for, and written only when more settle. The state keeps
the document ids of the meetings concerned, so a meeting coming back is found without reading
that file. The file is written before the state forgets what moved, so after a kill at any
instant a meeting or record is in the state, in the settled file, or in both (then the
state's copy counts).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError
from daemon.core.model import (
    JSON,
    ContactMail,
    ContactPrefs,
    DraftRecord,
    Interview,
    SettledPerson,
    SettledSummary,
)
from daemon.core.skipped import Skipped
from daemon.state import backups, codec, roster
from daemon.state.storage import AtomicJSONStorage, TrackedTable, sweep_temporaries

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
"""2: settled history may be in the settled file (1 had none); 3: a large state keeps its
large tables in part files (see :mod:`daemon.state.storage`). Older files upgrade in place."""
ONE_FILE_SCHEMA = 2
"""The schema written in a state that is one file: it reads as schema 2 did, so a state
says 3 only once it has part files (a coffeechat that knows only 2 then refuses it, rather
than missing the tables kept in parts)."""
_META_ID = 1
_PLAN_MEMO_ID = 2
_SETTLED_ID = 3
"""The meta document saying what was moved to the settled file: ``ids``, the document ids
of the meetings whose records moved there (16 hex digits each, concatenated; some of those
meetings stay in the state too), ``latest_end``, when the latest of them ended, and
``people``, ``drafts`` and ``taken_over``, what :meth:`Store.settled_summary` gives."""
_SETTLE_CHECK_ID = 4
"""The meta document with the time (``at``) settled meetings were last looked for."""
_LOOK_UP_ID = 5
"""The ``meta`` record of the drafts to look up in Drafts before writing them (their ids)."""
_BY_ACCOUNT_UID = itemgetter("account", "uid")
"""The order of :meth:`Store.interviews`, on the stored documents."""


def _people(meetings: Iterable[JSON]) -> JSON:
    """The ``people`` of the settled record, from the stored meetings that left the state."""
    out: dict[str, list[Any]] = {}
    for doc in meetings:
        end = None if doc["cancelled"] else codec.parse_time(doc["end"])
        for role in ("contacts", "declined"):
            for person in doc[role]:
                entry = out.setdefault(person["email"], [person["name"], 0, None])
                entry[1] += 1
                if end is not None and role == "contacts" and (entry[2] is None or
                                                               end > entry[2]):
                    entry[2] = end
    return {email: [name, count, None if last is None else codec.format_time(last)]
            for email, (name, count, last) in out.items()}


class _TinyDB(TinyDB):
    """TinyDB whose tables change the stored records in place (see
    :class:`daemon.state.storage.TrackedTable`)."""

    table_class = TrackedTable


def settled_path(state: Path) -> Path:
    """The settled file of the state file ``state``: ``state.settled.json`` beside the file a
    link at ``state`` points to."""
    real = Path(os.path.realpath(state))
    return real.with_name(f"{real.stem}.settled{real.suffix}")


def doc_id(*parts: str) -> int:
    """A stable positive 63-bit document id for a natural key."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


class Store:
    """The state file, opened. Not thread-safe; one writer at a time (see
    :mod:`daemon.state.locks`)."""

    def __init__(self, path: Path, writable: bool = False, *, settled: bool = True) -> None:
        """Open ``path`` (created on the first flush if missing). Only a ``writable`` store,
        opened under the write lock, may flush; it first removes temporary files that a killed
        writer left behind. The settled file is opened only when needed; ``settled=False``
        opens a store without one or a ledger (the settled file itself).

        Raises ``StateError`` if the file is empty, damaged, of the wrong shape, or from a
        newer schema. A writable store also keeps the daily backup (only of a state that reads
        back whole) and compares the state with its ledger.
        """
        self.path = path
        self.writable = writable
        self._main = settled
        """The state itself, not its settled file: only it has a settled file and a ledger."""
        self._settled: Store | None = None
        self._settled_ids: set[int] | None = None
        if writable and path.parent.exists():
            sweep_temporaries(path.parent)
        self._storage: AtomicJSONStorage | None = None
        self._records: dict[str, DraftRecord] | None = None
        """The drafts table decoded once, then kept in step by put_draft/delete_draft."""

        def storage_factory() -> AtomicJSONStorage:
            self._storage = AtomicJSONStorage(path)
            return self._storage

        try:
            self._db = _TinyDB(storage=storage_factory)
        except DamagedState as exc:
            raise self._damaged(str(exc)) from None
        self.meetings: Table = self._db.table("meetings", cache_size=0)
        self.drafts_table: Table = self._db.table("drafts", cache_size=0)
        self.contacts_table: Table = self._db.table("contacts", cache_size=0)
        self.cursors_table: Table = self._db.table("cursors", cache_size=0)
        self.mail_table: Table = self._db.table("mail", cache_size=0)
        self.pending_table: Table = self._db.table("pending", cache_size=0)
        self.skipped_table: Table = self._db.table("skipped", cache_size=0)
        self.meta: Table = self._db.table("meta", cache_size=0)
        assert self._storage is not None
        self._storage.advice = functools.partial(_restore_advice, path)  # no cycle: the
        # part files it holds open are closed as soon as the store is dropped
        self._storage.parted = _mark_parted
        self._check_schema()
        self._ledger: roster.Writer = roster.Writer(self.path)
        """The ledger as read or last written (writable stores only)."""
        self._ledger_current: bool = False
        """Whether the ledger is known to be the one written with this state."""
        self._looked_up_at_open: set[str] = self._look_up()
        if writable:
            self._storage.sweep()
            self._keep_backup()
            if self._main:
                self._compare_ledger()

    def _keep_backup(self) -> None:
        """Keep today's backup, if due, of a state that reads back whole: a state that does
        not is never rotated in, so the backups are never all copies of the damage."""
        assert self._storage is not None
        if not backups.due(self.path):
            return
        good = self._storage.good_bytes()  # a state in parts is read whole for it
        if good is None:
            return
        problem = _records_problem(self._storage.read() or {})
        if problem is not None:
            log.warning("%s was not kept as a backup, because %s", self.path, problem)
            return
        try:
            backups.rotate(self.path, good)
        except OSError as exc:
            log.warning("could not keep a backup of %s: %s", self.path, exc)

    def _compare_ledger(self) -> None:
        """Keep as *to be looked up* the drafts the ledger knows and this state does not."""
        assert self._storage is not None
        kept = self._storage.ledger_digest
        if kept is not None and self._ledger.file_digest() == kept:
            self._ledger_current = True  # the ledger written with this state: none is missing
            return
        known = self._ledger.load()
        if not known:
            return
        recorded = (self._storage.read() or {}).get("drafts", {})
        look_up = self._look_up()
        missing = {i for i in known if i not in recorded and i not in look_up}
        if not missing:
            return
        log.warning("%s is older than its drafts: %d draft(s) made after it was saved will be "
                    "looked up in Drafts by their key before any is written again", self.path,
                    len(missing))
        self._upsert(self.meta, _LOOK_UP_ID, {"drafts": sorted(look_up | missing)})

    def _look_up(self) -> set[str]:
        doc = self.meta.get(doc_id=_LOOK_UP_ID)
        ids = doc.get("drafts") if isinstance(doc, dict) else None
        return {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set()

    def may_exist(self, key: str) -> bool:
        """Whether the draft ``key``, of which the state has no record, may be in Drafts all
        the same (made after this state was saved): it must then be looked up before it is
        written."""
        return str(doc_id(key)) in self._look_up()

    def drafts_to_look_up(self) -> int:
        """How many drafts may be in Drafts although this state has no record of them (made
        after it was saved, as its ledger or its own list says); each is looked up by its key
        before it is written again. For ``doctor``: reads the ledger, changes nothing."""
        assert self._storage is not None
        recorded = (self._storage.read() or {}).get("drafts", {})
        known = roster.read(self.path) or frozenset()
        return len({i for i in known if i not in recorded} | self._look_up())

    def check(self) -> None:
        """Decode every record; raises ``StateError`` (with the restore advice) naming the
        first that does not read back."""
        assert self._storage is not None
        problem = _records_problem(self._storage.read() or {})
        if problem is not None:
            raise self._damaged(f"the state file {self.path} is damaged ({problem}) and was "
                                "left as it is.")

    def _damaged(self, problem: str) -> StateError:
        return _restore_advice(self.path, problem)

    def _check_schema(self) -> None:
        assert self._storage is not None
        existing = self._storage.read()
        meta = self.meta.get(doc_id=_META_ID)
        if existing is None:
            self.meta.insert(Document({"schema": ONE_FILE_SCHEMA}, doc_id=_META_ID))
            return
        if not isinstance(meta, dict) or not isinstance(meta.get("schema"), int):
            raise StateError(f"{self.path} has no coffeechat schema version: it is not a "
                             "coffeechat state file; check [state] path in the config")
        if meta["schema"] > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer coffeechat (schema {meta['schema']}, this "
                f"one knows {SCHEMA_VERSION}); upgrade coffeechat")
        if meta["schema"] < ONE_FILE_SCHEMA and self.writable:
            self.meta.upsert(Document({**meta, "schema": ONE_FILE_SCHEMA}, doc_id=_META_ID))
        if self.writable:
            self._storage.split_if_large()  # a large state of schema 2: in parts at next flush
        for table in _CHECKED_AT_OPEN:  # read only in a cycle: checked now, for every command
            for document in existing.get(table, {}).values():
                self._decode(_DECODERS[table], document)

    # -- meetings ---------------------------------------------------------------------------

    def interviews(self, *, settled: bool = False) -> list[Interview]:
        """Every stored tagged meeting but the settled ones (with ``settled``, those too), in a
        stable order (account, then uid). Without the settled ones, the planner's plan is the
        same (see :mod:`daemon.plan.settle`) unless
        :func:`daemon.plan.settle.still_planned_for` says otherwise."""
        with collector.paused():
            docs = list(self._documents("meetings"))
            history = self._history() if settled else None
            if history is not None:
                index = self._settled_index()
                docs.extend(d for key, d in history._documents_by_id("meetings")
                            if key in index and not self.meetings.contains(doc_id=key))
            docs.sort(key=_BY_ACCOUNT_UID)
            return [self._decode(codec.interview_from_json, d) for d in docs]

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
        return set() if doc is None else self._decode(_pending_from, doc)

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
        return None if doc is None else self._decode(_cursor_from, doc)

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

    # -- settled history (see daemon.plan.settle) -----------------------------------------------

    def pending_uids(self) -> set[str]:
        """The uids pending reconciliation in any account (see :meth:`pending`)."""
        return {uid for doc in self.pending_table.all() for uid in doc["uids"]}

    def settled_end(self) -> datetime | None:
        """When the latest meeting moved to the settled file ended (``None``: none was)."""
        doc = self.meta.get(doc_id=_SETTLED_ID)
        if not isinstance(doc, dict):
            return None
        try:
            return codec.parse_time(doc["latest_end"])
        except (KeyError, TypeError, ValueError):
            raise StateError(f"{self.path}: the record of settled meetings does not read "
                             "back; the file was changed by hand or is damaged. Restore it "
                             "from a backup.") from None

    def settled_summary(self) -> SettledSummary:
        """What left the state for the settled file, counted (see :class:`SettledSummary`)."""
        doc = self.meta.get(doc_id=_SETTLED_ID)
        if not isinstance(doc, dict):
            return SettledSummary({}, 0, 0)
        try:
            people = {email: SettledPerson(str(name), int(count),
                                           None if last is None else codec.parse_time(last))
                      for email, (name, count, last) in doc["people"].items()}
            return SettledSummary(people, int(doc["drafts"]), int(doc["taken_over"]))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise StateError(f"{self.path}: the record of settled meetings does not read "
                             "back; the file was changed by hand or is damaged. Restore it "
                             "from a backup.") from None

    def settle_checked(self) -> datetime | None:
        """When :meth:`settle` was last offered meetings (``None``: never, or unreadable)."""
        doc = self.meta.get(doc_id=_SETTLE_CHECK_ID)
        try:
            return codec.parse_time(doc["at"]) if isinstance(doc, dict) else None
        except (KeyError, TypeError, ValueError):
            return None  # as if never: the check runs again

    def settle(self, meetings: set[str], records: set[str], checked: datetime) -> int:
        """Move to the settled file the meetings ``meetings`` (uids: every account's copy)
        and the draft records ``records`` (keys), as :func:`daemon.plan.settle.settleable` gives
        them. The settled file is written at once; the state forgets what moved at its next
        flush. ``checked`` is recorded for :meth:`settle_checked`. Returns how many meetings
        and records moved. Raises ``StateError`` if the settled file cannot be written
        (nothing is forgotten then)."""
        self._upsert(self.meta, _SETTLE_CHECK_ID, {"at": codec.format_time(checked)})
        papers = [(key, doc) for key, doc in self._documents_by_id("drafts")
                  if doc.get("key") in records]
        touched = meetings | {doc.get("meeting_uid") for _, doc in papers}
        index = self._settled_index()
        marked = [(key, doc) for key, doc in self._documents_by_id("meetings")
                  if doc["uid"] in touched]
        moving = [(key, doc) for key, doc in marked if doc["uid"] in meetings]
        if not moving and not papers:
            return 0
        history = self._history(create=True)
        assert history is not None
        history._put_documents(history.meetings, marked)
        history._put_documents(history.drafts_table, papers)
        history.flush()
        if moving:
            self.meetings.remove(doc_ids=[key for key, _ in moving])
        if papers:
            self.drafts_table.remove(doc_ids=[key for key, _ in papers])
            if self._records is not None:
                for _, doc in papers:
                    self._records.pop(doc["key"], None)
        ends = [codec.parse_time(doc["end"]) for _, doc in marked]
        before = self.settled_end()
        latest = max(ends if before is None else [*ends, before])
        self._set_settled(index | {key for key, _ in marked}, latest)
        return len(moving) + len(papers)

    def unsettle_all(self) -> int:
        """Bring every settled meeting and record back into the state (when the planner may
        need them again); returns how many meetings had settled."""
        index = set(self._settled_index())
        self._unsettle(index)
        return len(index)

    def _settled_index(self) -> set[int]:
        """The document ids of the meetings whose records (and maybe themselves) settled."""
        if self._settled_ids is None:
            doc = self.meta.get(doc_id=_SETTLED_ID) if self._main else None
            ids = doc.get("ids", "") if isinstance(doc, dict) else ""
            try:
                if not isinstance(ids, str) or len(ids) % 16:
                    raise ValueError(ids)
                self._settled_ids = {int(ids[i:i + 16], 16) for i in range(0, len(ids), 16)}
            except ValueError:
                raise StateError(f"{self.path}: the record of settled meetings does not read "
                                 "back; the file was changed by hand or is damaged. Restore "
                                 "it from a backup.") from None
        return self._settled_ids

    def _set_settled(self, index: set[int], latest: datetime | None) -> None:
        self._settled_ids = set(index)
        if not index:
            if self.meta.contains(doc_id=_SETTLED_ID):
                self.meta.remove(doc_ids=[_SETTLED_ID])
            return
        assert latest is not None
        ids = "".join(f"{key:016x}" for key in sorted(index))
        history = self._history()
        settled = [] if history is None else [
            (key, doc) for key, doc in history._documents_by_id("meetings") if key in index]
        uids = {doc["uid"] for _, doc in settled}
        papers = [] if history is None else [
            doc for key, doc in history._documents_by_id("drafts")
            if doc.get("meeting_uid") in uids and not self.drafts_table.contains(doc_id=key)]
        away = [doc for key, doc in settled if not self.meetings.contains(doc_id=key)]
        self._upsert(self.meta, _SETTLED_ID, {
            "ids": ids, "latest_end": codec.format_time(latest), "people": _people(away),
            "drafts": len(papers),
            "taken_over": sum(1 for doc in papers if doc.get("observed") != "untouched")},
            plan_input=True)

    def _settled_copy(self, key: int) -> JSON | None:
        """The meeting ``key`` as stored, if its records settled: the state's copy, else the
        settled file's."""
        if key not in self._settled_index():
            return None
        doc = self.meetings.get(doc_id=key)
        if doc is None:
            history = self._history()
            doc = None if history is None else history.meetings.get(doc_id=key)
        return None if doc is None else dict(doc)

    def _unsettle(self, keys: set[int]) -> None:
        """Bring the settled meetings ``keys`` (document ids; others are ignored), every copy
        of their uids and their records back into the state, in one pass over each file."""
        index = self._settled_index()
        keys = keys & index
        if not keys:
            return
        history = self._history()
        hot = dict(self._documents_by_id("meetings"))
        away = {} if history is None else dict(history._documents_by_id("meetings"))
        uids = {doc["uid"] for doc in (hot.get(key) or away.get(key) for key in keys) if doc}
        back = [(k, d) for k, d in away.items() if d["uid"] in uids and k in index
                and k not in hot]
        papers = [] if history is None else [
            (k, d) for k, d in history._documents_by_id("drafts")
            if d.get("meeting_uid") in uids and not self.drafts_table.contains(doc_id=k)]
        self._put_documents(self.meetings, back)
        self._put_documents(self.drafts_table, papers)
        if papers:
            self._records = None  # decoded again when next asked for
        copies = {k for k, d in (*hot.items(), *back) if d["uid"] in uids}
        self._set_settled(index - keys - copies, self.settled_end())
        self._plan_inputs_changed()

    def _history(self, create: bool = False) -> Store | None:
        """The settled file, opened once; ``None`` when there is none (and not ``create``)."""
        if self._settled is None and self._main:
            path = settled_path(self.path)
            if create or path.exists():
                self._settled = Store(path, self.writable, settled=False)
        return self._settled

    def _put_documents(self, table: Table, documents: list[tuple[int, JSON]]) -> None:
        """Insert or replace ``documents`` (id and content) in one write of ``table``."""
        if not documents:
            return
        ids = [key for key, _ in documents]
        present = [key for key in ids if table.contains(doc_id=key)]
        if present:
            table.remove(doc_ids=present)
        table.insert_multiple(Document(dict(doc), doc_id=key) for key, doc in documents)

    # -- the last plan's wake-up time (see daemon.cycle.idle) --------------------------------------

    def plan_memo(self) -> tuple[str, datetime] | None:
        """The settings key and wake-up time the last plan left, if nothing the planner reads
        has changed in the store since (any change drops it)."""
        doc = self.meta.get(doc_id=_PLAN_MEMO_ID)
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
        self._upsert(self.meta, _PLAN_MEMO_ID, document)

    def _plan_inputs_changed(self) -> None:
        if self.meta.contains(doc_id=_PLAN_MEMO_ID):
            self.meta.remove(doc_ids=[_PLAN_MEMO_ID])

    # -- persistence ------------------------------------------------------------------------

    def flush(self) -> bool:
        """Write every change to disk atomically; returns whether anything was written.

        Raises ``StateError`` if the write failed; the file on disk is then the previous state.
        After the state, the ledger is written (when its drafts changed); if that fails, the
        state is saved but ``StateError`` is raised all the same, so that no draft is made
        that the ledger would not know of.
        """
        assert self._storage is not None
        if not self.writable:
            raise StateError(f"{self.path} was opened read-only; nothing was written")
        look_up = self._look_up()
        if look_up:
            recorded = (self._storage.read() or {}).get("drafts", {})
            if any(i in recorded for i in look_up):  # written or adopted since: none to look up
                self._upsert(self.meta, _LOOK_UP_ID,
                             {"drafts": sorted(i for i in look_up if i not in recorded)})
        update = computed = False
        if self._main and self._storage.dirty and (
                self._storage.changed("drafts") or not self._ledger_current
                or self._look_up() != self._looked_up_at_open):
            if self._ledger_current and not self._ledger.known:
                stored = self._storage.stored_ids("drafts")  # as saved, so as in the ledger
                if stored is not None:
                    self._ledger.seed(frozenset(stored | self._looked_up_at_open))
            ids = frozenset((self._storage.read() or {}).get("drafts", {})) | self._look_up()
            computed = True
            after = self._ledger.prepare(ids, append=self._storage.in_parts)
            if after is not None:
                self._storage.ledger_digest = after
            update = self._ledger.pending
        try:
            written = self._storage.flush()
        except DamagedState as exc:
            raise self._damaged(str(exc)) from None
        if written and update:
            try:
                self._ledger.commit()
            except OSError as exc:
                self._ledger_current = False
                raise StateError(
                    f"could not save {roster.ledger_path(self.path)}: {exc.strerror or exc}. "
                    "The state was saved; free some space or fix the folder's permissions."
                ) from None
        if written and computed:
            self._ledger_current = True
        self._looked_up_at_open = self._look_up()
        return written

    def _upsert(self, table: Table, ident: int, document: JSON, plan_input: bool = False) -> None:
        """Insert or replace a document, unless it is already stored as it is. A change to
        what the planner reads (``plan_input``) drops the last plan's wake-up time."""
        if table.get(doc_id=ident) == document:
            return
        table.upsert(Document(document, doc_id=ident))
        if plan_input:
            self._plan_inputs_changed()

    def _documents_by_id(self, table: str) -> list[tuple[int, JSON]]:
        """The documents of ``table`` with their ids, as the storage holds them (read only)."""
        assert self._storage is not None
        return [(int(key), doc) for key, doc in
                (self._storage.read() or {}).get(table, {}).items()]

    def _documents(self, table: str) -> Iterable[JSON]:
        """The documents of ``table`` as the storage holds them, for reading only: TinyDB's
        ``Table.all`` copies each one first, a tenth of the time of reading a large state."""
        assert self._storage is not None
        return (self._storage.read() or {}).get(table, {}).values()

    def _decode(self, decoder: Any, document: Any) -> Any:
        try:
            return decoder(document)
        except _UNREADABLE as exc:
            raise self._damaged(
                f"{self.path}: a record does not read back ({exc!r}); the file was changed by "
                "hand or is damaged.") from None


def _restore_advice(path: Path, problem: str) -> StateError:
    """The error for a state that does not read back, with how to restore a backup."""
    return StateError(f"{problem} {backups.how_to_restore(path, damage)}")


def _mark_parted(data: dict[str, Any]) -> None:
    """Say :data:`SCHEMA_VERSION` in the schema record of ``data`` (the tables about to be
    written with part files)."""
    meta = data.get("meta") or {}
    doc = meta.get(str(_META_ID))
    if isinstance(doc, dict) and doc.get("schema") != SCHEMA_VERSION:
        data["meta"] = {**meta, str(_META_ID): {**doc, "schema": SCHEMA_VERSION}}


_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError)
"""What a decoder raises on a record that is not as it was written."""


def _cursor_from(document: JSON) -> JSON:
    cursor = document["cursor"]
    if not isinstance(cursor, dict):
        raise TypeError(f"a sync cursor must be an object, not {type(cursor).__name__}")
    return dict(cursor)


def _pending_from(document: JSON) -> set[str]:
    uids = document["uids"]
    if not isinstance(uids, list) or not all(isinstance(u, str) for u in uids):
        raise TypeError("the meetings to reconcile must be a list of uids")
    return set(uids)


_DECODERS: dict[str, Any] = {
    "meetings": codec.interview_from_json, "drafts": codec.record_from_json,
    "contacts": codec.prefs_from_json, "mail": codec.mail_from_json,
    "skipped": codec.skipped_from_json, "cursors": _cursor_from, "pending": _pending_from}
"""Each table's decoder, as the store's methods use them."""
_CHECKED_AT_OPEN = ("cursors", "pending")
"""Small tables (one record per account) decoded whenever the state is opened, so that a
damaged one is refused by every command, not only by the cycle that reads it."""


def _records_problem(data: dict[str, dict[str, Any]]) -> str | None:
    """Why the tables ``data`` (shaped as :func:`daemon.state.storage.shape_problem` checks) do not
    read back whole: the schema, or the first record that does not decode; ``None`` if all
    do."""
    meta = data.get("meta", {}).get(str(_META_ID))
    schema = meta.get("schema") if isinstance(meta, dict) else None
    if not isinstance(schema, int) or isinstance(schema, bool):
        return "it has no coffeechat schema version"
    if schema > SCHEMA_VERSION:
        return f"it was written by a newer coffeechat (schema {schema})"
    with collector.paused():
        for table, decoder in _DECODERS.items():
            for document in data.get(table, {}).values():
                try:
                    decoder(document)
                except _UNREADABLE as exc:
                    return f"a record of its table {table!r} does not read back ({exc!r})"
    return None


def damage(path: Path) -> str | None:
    """Why the state file (or backup) ``path`` does not read back whole, in a phrase; ``None``
    when every record of it decodes. Reads the whole file: for checks and advice, not for
    every open."""
    try:
        storage = AtomicJSONStorage(path)
    except DamagedState as exc:
        return exc.reason
    except StateError as exc:
        return str(exc)
    data = storage.read()
    return "it does not exist" if data is None else _records_problem(data)
