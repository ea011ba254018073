"""The roster of drafts: which drafts the newest state written knew of, kept beside the state
file, outside it, in the file users know as the ledger of drafts (``state.json.ledger``).
(Not :mod:`daemon.state.ledger`, the exactly-once protocol for changes to Drafts.)

A state file that is older than the Drafts folders (restored from a backup, re-linked to an
old copy, or moved away) has no record of the drafts made since it was saved; without one,
each would be written again. The ledger holds the document ids of every draft record of the
last state written (and of those still to be checked, see :class:`daemon.state.store.Store`). A
writer that opens a state missing some of them knows that those drafts may already be in
Drafts, and looks each up by its key before writing it. Nothing else reads the ledger; it
costs no provider call while the state is the newest one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson

from daemon.core.fileio import write_atomically, write_synced

log = logging.getLogger(__name__)


def ledger_path(state: Path) -> Path:
    """Where the ledger of ``state`` lives."""
    return state.with_name(state.name + ".ledger")


def read(state: Path) -> frozenset[str] | None:
    """The document ids the ledger of ``state`` holds; ``None`` when there is no ledger, or
    it does not read (then logged: a state restored now could not tell what it misses)."""
    path = ledger_path(state)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("the ledger %s does not read (%s); it is written again at the next save",
                    path, exc)
        return None
    return _parse(path, raw)


def _parse(path: Path, raw: bytes) -> frozenset[str] | None:
    """The ids of a ledger's content: its first line (all of it, as written whole), then the
    changes appended after it, one a line (a line cut short by a kill is left out)."""
    first, *changes = raw.split(b"\n")
    try:
        try:
            base = orjson.loads(first)  # a few times faster on tens of thousands of ids
        except orjson.JSONDecodeError:
            base = json.loads(first)
    except (ValueError, RecursionError) as exc:
        log.warning("the ledger %s does not read (%s); it is written again at the next save",
                    path, exc)
        return None
    ids = base.get("drafts") if isinstance(base, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        log.warning("the ledger %s does not hold a list of drafts; it is written again at the "
                    "next save", path)
        return None
    out = set(ids)
    for line in changes:
        try:
            change = json.loads(line)
            add, remove = change["add"], change["remove"]
        except (ValueError, RecursionError, TypeError, KeyError):
            continue  # the last change, cut short by a kill: the state it went with is saved
        if all(isinstance(i, str) for i in [*add, *remove]):
            out.difference_update(remove)
            out.update(add)
    return frozenset(out)


APPENDED_UP_TO = 200
"""Changes appended to a ledger before it is written whole again."""


class Writer:
    """The ledger of one state as this process last read or wrote it. A state in parts
    appends each change of its drafts to it (a line: the ids added and removed), so that a
    save costs what changed; it is written whole again every :data:`APPENDED_UP_TO`
    changes or after a large change (settling), and always for a state that is one file (as
    before)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = ledger_path(state)
        self.ids: frozenset[str] | None = None
        """The ids the file holds (``None``: not read yet, or there is no ledger)."""
        self._read = False
        self._hash: Any = None
        """A digest in progress over the file's content, or ``None`` when it is not known."""
        self._appended = 0
        self._pending: tuple[frozenset[str], bytes, bool, Any] | None = None

    def file_digest(self) -> str | None:
        """The :func:`digest` of the file as it is (``None``: none, or unreadable); reads it,
        without parsing it."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        self._hash = hashlib.blake2b(raw, digest_size=16)
        self._appended = raw.count(b"\n")
        return str(self._hash.hexdigest())

    @property
    def known(self) -> bool:
        """Whether the ids the file holds are known (read, seeded or written)."""
        return self._read

    def seed(self, ids: frozenset[str]) -> None:
        """Take ``ids`` as what the file holds, without parsing it: the caller found, by
        :meth:`file_digest`, that it is the ledger written with the state that holds them."""
        if self._hash is not None:
            self.ids, self._read = ids, True

    def load(self) -> frozenset[str] | None:
        """Read the file (see :func:`read`)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            log.warning("the ledger %s does not read (%s); it is written again at the next "
                        "save", self.path, exc)
            raw = None
        self._read = True
        if raw is None:
            self.ids, self._hash = None, None
            return None
        self.ids = _parse(self.path, raw)
        self._hash = hashlib.blake2b(raw, digest_size=16) if self.ids is not None else None
        self._appended = raw.count(b"\n")
        return self.ids

    def prepare(self, ids: frozenset[str], append: bool) -> str | None:
        """Make the change that gives the ledger ``ids`` (appended if ``append`` and the file
        is known), to be written by :meth:`commit` after the state; returns the digest the
        file will then have (``None``: there is no ledger, and none is needed). Whether
        :meth:`commit` has anything to write is :attr:`pending`."""
        self._pending = None
        if not self._read:
            self.load()
        if ids == self.ids or (not ids and self.ids is None):
            return None if self._hash is None else str(self._hash.hexdigest())
        add: frozenset[str] = frozenset()
        remove: frozenset[str] = frozenset()
        if self.ids is not None:
            add, remove = ids - self.ids, self.ids - ids
        if append and self.ids is not None and self._hash is not None and (
                self._appended < APPENDED_UP_TO and len(add) + len(remove) <= 1 + len(ids) // 8):
            line = b"\n" + json.dumps({"add": sorted(add), "remove": sorted(remove)},
                                      separators=(",", ":")).encode("ascii")
            after = self._hash.copy()
            after.update(line)
            self._pending = (ids, line, True, after)
        else:
            content = payload(ids)
            self._pending = (ids, content, False, hashlib.blake2b(content, digest_size=16))
        return str(self._pending[3].hexdigest())

    @property
    def pending(self) -> bool:
        """Whether :meth:`commit` has a change to write."""
        return self._pending is not None

    def commit(self) -> None:
        """Write the change :meth:`prepare` made. Raises ``OSError`` (the file is then as it
        was, or holds a cut-short last line, which reads as before it)."""
        if self._pending is None:
            return
        ids, content, appended, after = self._pending
        self._pending = None
        if appended:
            write_synced(self.path, content, os.O_APPEND)
            self._appended += 1
        else:
            write_atomically(self.path, content)
            self._appended = 0
        self.ids, self._hash = ids, after


def payload(ids: Collection[str]) -> bytes:
    """The ledger's content for ``ids``."""
    return json.dumps({"drafts": sorted(ids)}, separators=(",", ":")).encode("ascii")


def digest(content: bytes) -> str:
    """A digest of a ledger's content, which a state in parts keeps to tell, without reading
    its drafts, that the ledger beside it is the one written with it."""
    return hashlib.blake2b(content, digest_size=16).hexdigest()


def write(state: Path, ids: Collection[str]) -> None:
    """Replace the ledger of ``state`` with ``ids``. Raises ``OSError``."""
    write_atomically(ledger_path(state), payload(ids))
