"""The state file opened as TinyDB tables over :class:`~daemon.state.storage.AtomicJSONStorage`:
changes stay in memory until :meth:`Database.flush`, which writes the whole state atomically.
Each document's ``doc_id`` is a stable hash of its natural key (account and uid, draft key,
address), so look-ups and updates never scan a table. The file carries a schema version; a
file from a newer coffeechat, or one that is empty, damaged or of the wrong shape, is refused
rather than overwritten, with advice naming a backup that reads back whole
(:func:`daemon.state.schema.damage`).

Drafts made after the state was saved are not lost by restoring an older copy: each save also
writes the ledger of drafts (:mod:`~daemon.state.roster`), and a writer that opens a state
missing some of the ledger's drafts keeps their ids as *to be looked up* (a record in
``meta``); the executor looks each of them up in Drafts by its key before writing it
(:meth:`Database.may_exist`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from tinydb import TinyDB
from tinydb.table import Document, Table

from daemon.core.errors import DamagedState, StateError
from daemon.core.fileio import sweep_temporaries
from daemon.core.model import JSON, DraftRecord
from daemon.state import backups, roster
from daemon.state.schema import (
    CHECKED_AT_OPEN,
    DECODERS,
    DERIVED,
    LOOK_UP_ID,
    META_ID,
    ONE_FILE_SCHEMA,
    PLAN_MEMO_ID,
    SCHEMA_VERSION,
    UNREADABLE,
    mark_parted,
    records_problem,
    restore_advice,
)
from daemon.state.storage import AtomicJSONStorage
from daemon.state.tracked import TrackedTable

log = logging.getLogger(__name__)


class _TinyDB(TinyDB):
    """TinyDB whose tables change the stored records in place (see
    :class:`daemon.state.tracked.TrackedTable`)."""

    table_class = TrackedTable


def doc_id(*parts: str) -> int:
    """A stable positive 63-bit document id for a natural key."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


class Database:
    """The state file, opened: its tables, schema, backups, ledger of drafts and saving (the
    records themselves are :class:`daemon.state.store.Store`'s). Not thread-safe; one writer at
    a time (see :mod:`daemon.state.locks`)."""

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
        self._settled: Self | None = None
        """The settled file, once opened (see :mod:`daemon.state.settled`)."""
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
        self._storage.advice = functools.partial(restore_advice, path)  # no cycle: the
        # part files it holds open are closed as soon as the store is dropped
        self._storage.parted = mark_parted
        self._storage.derived = dict(DERIVED)
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
        problem = records_problem(self._storage.read() or {})
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
        self._upsert(self.meta, LOOK_UP_ID, {"drafts": sorted(look_up | missing)})

    def _look_up(self) -> set[str]:
        doc = self.meta.get(doc_id=LOOK_UP_ID)
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
        problem = records_problem(self._storage.read() or {})
        if problem is not None:
            raise self._damaged(f"the state file {self.path} is damaged ({problem}) and was "
                                "left as it is.")

    def _damaged(self, problem: str) -> StateError:
        return restore_advice(self.path, problem)

    def _check_schema(self) -> None:
        assert self._storage is not None
        existing = self._storage.read()
        meta = self.meta.get(doc_id=META_ID)
        if existing is None:
            self.meta.insert(Document({"schema": ONE_FILE_SCHEMA}, doc_id=META_ID))
            return
        if not isinstance(meta, dict) or not isinstance(meta.get("schema"), int):
            raise StateError(f"{self.path} has no coffeechat schema version: it is not a "
                             "coffeechat state file; check [state] path in the config")
        if meta["schema"] > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer coffeechat (schema {meta['schema']}, this "
                f"one knows {SCHEMA_VERSION}); upgrade coffeechat")
        if meta["schema"] < ONE_FILE_SCHEMA and self.writable:
            self.meta.upsert(Document({**meta, "schema": ONE_FILE_SCHEMA}, doc_id=META_ID))
        if self.writable:
            self._storage.split_if_large()  # a large state of schema 2: in parts at next flush
            self._storage.make_derived_if_stale()  # or in parts without its briefs
        for table in CHECKED_AT_OPEN:  # read only in a cycle: checked now, for every command
            for document in existing.get(table, {}).values():
                self._decode(DECODERS[table], document)

    def _put_documents(self, table: Table, documents: list[tuple[int, JSON]]) -> None:
        """Insert or replace ``documents`` (id and content) in one write of ``table``."""
        if not documents:
            return
        ids = [key for key, _ in documents]
        present = [key for key in ids if table.contains(doc_id=key)]
        if present:
            table.remove(doc_ids=present)
        table.insert_multiple(Document(dict(doc), doc_id=key) for key, doc in documents)

    def _plan_inputs_changed(self) -> None:
        if self.meta.contains(doc_id=PLAN_MEMO_ID):
            self.meta.remove(doc_ids=[PLAN_MEMO_ID])

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
                self._upsert(self.meta, LOOK_UP_ID,
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
        except UNREADABLE as exc:
            raise self._damaged(
                f"{self.path}: a record does not read back ({exc!r}); the file was changed by "
                "hand or is damaged.") from None
