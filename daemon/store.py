"""coffeechat's state: tagged meetings, drafts, the user's contact choices, sync cursors (each
with the tagging settings it was read with), what each calendar could not give, and (with
reply detection) the mail last seen with each contact.

Kept in TinyDB over :class:`~daemon.storage.AtomicJSONStorage`: changes stay in memory until
:meth:`Store.flush`, which writes the whole state atomically. Each document's ``doc_id`` is a
stable hash of its natural key (account and uid, draft key, address), so look-ups and updates
never scan a table. The file carries a schema version; a file from a newer coffeechat, or one
that is empty, damaged or of the wrong shape, is refused rather than overwritten, with advice
naming a backup that reads back whole (:func:`damage`).

Drafts made after the state was saved are not lost by restoring an older copy: each save also
writes the :mod:`~daemon.ledger`, and a writer that opens a state missing some of the ledger's
drafts keeps their ids as *to be looked up* (a record in ``meta``); the executor looks each of
them up in Drafts by its key before writing it (:meth:`Store.may_exist`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from daemon import backups, codec, collector, ledger
from daemon.errors import DamagedState, StateError
from daemon.model import JSON, ContactMail, ContactPrefs, DraftRecord, Interview
from daemon.skipped import Skipped
from daemon.storage import AtomicJSONStorage, sweep_temporaries

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_META_ID = 1
_PLAN_MEMO_ID = 2
_LOOK_UP_ID = 5
"""The ``meta`` record of the drafts to look up in Drafts before writing them (their ids; 3
and 4 are taken by the settled history on main)."""
_BY_ACCOUNT_UID = itemgetter("account", "uid")
"""The order of :meth:`Store.interviews`, on the stored documents."""


def doc_id(*parts: str) -> int:
    """A stable positive 63-bit document id for a natural key."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


class Store:
    """The state file, opened. Not thread-safe; one writer at a time (see :mod:`daemon.locks`)."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        """Open ``path`` (created on the first flush if missing). Only a ``writable`` store,
        opened under the write lock, may flush; it first removes temporary files that a killed
        writer left behind.

        Raises ``StateError`` if the file is empty, damaged, of the wrong shape, or from a
        newer schema. A writable store also keeps the daily backup (only of a state that reads
        back whole) and compares the state with its ledger.
        """
        self.path = path
        self.writable = writable
        if writable and path.parent.exists():
            sweep_temporaries(path.parent)
        self._storage: AtomicJSONStorage | None = None
        self._records: dict[str, DraftRecord] | None = None
        """The drafts table decoded once, then kept in step by put_draft/delete_draft."""

        def storage_factory() -> AtomicJSONStorage:
            self._storage = AtomicJSONStorage(path)
            return self._storage

        try:
            self._db = TinyDB(storage=storage_factory)
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
        self._check_schema()
        self._ledger: frozenset[str] | None = None
        """What the ledger holds, as read or last written (writable stores only)."""
        if writable:
            self._keep_backup()
            self._compare_ledger()

    def _keep_backup(self) -> None:
        """Keep today's backup, if due, of a state that reads back whole: a state that does
        not is never rotated in, so the backups are never all copies of the damage."""
        assert self._storage is not None
        good = self._storage.good_bytes()
        if good is None or not backups.due(self.path):
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
        self._ledger = ledger.read(self.path)
        if not self._ledger:
            return
        assert self._storage is not None
        recorded = (self._storage.read() or {}).get("drafts", {})
        look_up = self._look_up()
        missing = {i for i in self._ledger if i not in recorded and i not in look_up}
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
        known = ledger.read(self.path) or frozenset()
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
        return StateError(f"{problem} {backups.how_to_restore(self.path, damage)}")

    def _check_schema(self) -> None:
        assert self._storage is not None
        existing = self._storage.read()
        meta = self.meta.get(doc_id=_META_ID)
        if existing is None:
            self.meta.insert(Document({"schema": SCHEMA_VERSION}, doc_id=_META_ID))
            return
        if not isinstance(meta, dict) or not isinstance(meta.get("schema"), int):
            raise StateError(f"{self.path} has no coffeechat schema version: it is not a "
                             "coffeechat state file; check [state] path in the config")
        if meta["schema"] > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer coffeechat (schema {meta['schema']}, this "
                f"one knows {SCHEMA_VERSION}); upgrade coffeechat")
        for table in _CHECKED_AT_OPEN:  # read only in a cycle: checked now, for every command
            for document in existing.get(table, {}).values():
                self._decode(_DECODERS[table], document)

    # -- meetings ---------------------------------------------------------------------------

    def interviews(self) -> list[Interview]:
        """Every stored tagged meeting, in a stable order (account, then uid)."""
        with collector.paused():
            docs = sorted(self._documents("meetings"), key=_BY_ACCOUNT_UID)
            return [self._decode(codec.interview_from_json, d) for d in docs]

    def interview(self, account: str, uid: str) -> Interview | None:
        """The stored meeting ``uid`` of ``account``, or ``None``."""
        doc = self.meetings.get(doc_id=doc_id(account, uid))
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
        new = {key for key in latest if not self.meetings.contains(doc_id=key)}
        if new:
            self.meetings.insert_multiple(Document(latest[key], doc_id=key) for key in new)
            self._plan_inputs_changed()
        for key, document in latest.items():
            if key not in new:
                self._upsert(self.meetings, key, document, plan_input=True)

    def remove_meeting(self, account: str, uid: str) -> bool:
        """Forget a meeting (deleted, or no longer tagged); returns whether it was stored."""
        key = doc_id(account, uid)
        if self.meetings.contains(doc_id=key):
            self.meetings.remove(doc_ids=[key])
            self._plan_inputs_changed()
            return True
        return False

    # -- drafts -----------------------------------------------------------------------------

    def drafts(self) -> dict[str, DraftRecord]:
        """Every draft record, by key (a copy: the caller may change the store meanwhile)."""
        if self._records is None:
            with collector.paused():
                records = (self._decode(codec.record_from_json, d)
                           for d in self._documents("drafts"))
                self._records = {r.key: r for r in records}
        return dict(self._records)

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
        :func:`daemon.tagging.fingerprint`), or ``None`` when there is no cursor or it was
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

    # -- what the calendars could not give (see daemon.skipped) ------------------------------

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

    # -- the last plan's wake-up time (see daemon.idle) --------------------------------------

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
        recorded = (self._storage.read() or {}).get("drafts", {})
        look_up = self._look_up()
        if any(i in recorded for i in look_up):  # written or adopted since: nothing to look up
            self._upsert(self.meta, _LOOK_UP_ID,
                         {"drafts": sorted(i for i in look_up if i not in recorded)})
        try:
            written = self._storage.flush()
        except DamagedState as exc:
            raise self._damaged(str(exc)) from None
        if written:
            self._write_ledger()
        return written

    def _write_ledger(self) -> None:
        assert self._storage is not None
        ids = frozenset((self._storage.read() or {}).get("drafts", {})) | self._look_up()
        if ids == self._ledger or (not ids and self._ledger is None):
            return
        try:
            ledger.write(self.path, ids)
        except OSError as exc:
            raise StateError(
                f"could not save {ledger.ledger_path(self.path)}: {exc.strerror or exc}. The "
                "state was saved; free some space or fix the folder's permissions.") from None
        self._ledger = ids

    def _upsert(self, table: Table, ident: int, document: JSON, plan_input: bool = False) -> None:
        """Insert or replace a document, unless it is already stored as it is. A change to
        what the planner reads (``plan_input``) drops the last plan's wake-up time."""
        if table.get(doc_id=ident) == document:
            return
        table.upsert(Document(document, doc_id=ident))
        if plan_input:
            self._plan_inputs_changed()

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
    """Why the tables ``data`` (shaped as :func:`daemon.storage.shape_problem` checks) do not
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
