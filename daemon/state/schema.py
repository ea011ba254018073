"""What a state file must be to be read: its schema version, the ids of its ``meta`` records,
the decoder of each table's records, and why a file (or backup) does not read back whole,
with how to restore a backup that does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError
from daemon.core.model import JSON
from daemon.state import backups, codec
from daemon.state.derived import Derived
from daemon.state.storage import AtomicJSONStorage

SCHEMA_VERSION = 3
"""2: settled history may be in the settled file (1 had none); 3: a large state keeps its
large tables in part files (see :mod:`daemon.state.parts`). Older files upgrade in place."""
ONE_FILE_SCHEMA = 2
"""The schema written in a state that is one file: it reads as schema 2 did, so a state
says 3 only once it has part files (a coffeechat that knows only 2 then refuses it, rather
than missing the tables kept in parts)."""
META_ID = 1
PLAN_MEMO_ID = 2
SETTLED_ID = 3
"""The meta document saying what was moved to the settled file: ``ids``, the document ids
of the meetings whose records moved there (16 hex digits each, concatenated; some of those
meetings stay in the state too), ``latest_end``, when the latest of them ended, and
``people``, ``drafts`` and ``taken_over``, what
:meth:`daemon.state.store.Store.settled_summary` gives."""
SETTLE_CHECK_ID = 4
"""The meta document with the time (``at``) settled meetings were last looked for."""
LOOK_UP_ID = 5
"""The ``meta`` record of the drafts to look up in Drafts before writing them (their ids)."""


def restore_advice(path: Path, problem: str) -> StateError:
    """The error for a state that does not read back, with how to restore a backup."""
    return StateError(f"{problem} {backups.how_to_restore(path, damage)}")


def mark_parted(data: dict[str, Any]) -> None:
    """Say :data:`SCHEMA_VERSION` in the schema record of ``data`` (the tables about to be
    written with part files)."""
    meta = data.get("meta") or {}
    doc = meta.get(str(META_ID))
    if isinstance(doc, dict) and doc.get("schema") != SCHEMA_VERSION:
        data["meta"] = {**meta, str(META_ID): {**doc, "schema": SCHEMA_VERSION}}


UNREADABLE = (KeyError, TypeError, ValueError, AttributeError)
"""What a decoder raises on a record that is not as it was written."""


def cursor_from(document: JSON) -> JSON:
    cursor = document["cursor"]
    if not isinstance(cursor, dict):
        raise TypeError(f"a sync cursor must be an object, not {type(cursor).__name__}")
    return dict(cursor)


def pending_from(document: JSON) -> set[str]:
    uids = document["uids"]
    if not isinstance(uids, list) or not all(isinstance(u, str) for u in uids):
        raise TypeError("the meetings to reconcile must be a list of uids")
    return set(uids)


DECODERS: dict[str, Any] = {
    "meetings": codec.interview_from_json, "drafts": codec.record_from_json,
    "contacts": codec.prefs_from_json, "mail": codec.mail_from_json,
    "skipped": codec.skipped_from_json, "cursors": cursor_from, "pending": pending_from}
"""Each table's decoder, as the store's methods use them."""
BRIEFS = "briefs"
"""The table of the stored meetings' briefs, by the same ids (:func:`codec.brief_from_json`),
kept in a state in parts for ``plan`` and ``status`` to read instead of the meetings."""
DERIVED: dict[str, Derived] = {BRIEFS: Derived("meetings", codec.brief_from_json)}
"""The tables the storage derives from others (see :mod:`daemon.state.derived`)."""
CHECKED_AT_OPEN = ("cursors", "pending")
"""Small tables (one record per account) decoded whenever the state is opened, so that a
damaged one is refused by every command, not only by the cycle that reads it."""


def records_problem(data: dict[str, dict[str, Any]]) -> str | None:
    """Why the tables ``data`` (shaped as :func:`daemon.state.shape.shape_problem` checks) do not
    read back whole: the schema, or the first record that does not decode; ``None`` if all
    do."""
    meta = data.get("meta", {}).get(str(META_ID))
    schema = meta.get("schema") if isinstance(meta, dict) else None
    if not isinstance(schema, int) or isinstance(schema, bool):
        return "it has no coffeechat schema version"
    if schema > SCHEMA_VERSION:
        return f"it was written by a newer coffeechat (schema {schema})"
    with collector.paused():
        for table, decoder in DECODERS.items():
            for document in data.get(table, {}).values():
                try:
                    decoder(document)
                except UNREADABLE as exc:
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
    return "it does not exist" if data is None else records_problem(data)
