"""A TinyDB storage that keeps the database in memory and writes it atomically on ``flush``.

TinyDB's own ``JSONStorage`` rewrites the file in place, so a kill mid-write leaves a file that
does not parse, and it writes on every change. This one writes a temporary file in the same
folder, fsyncs it, ``os.replace``s it over the state file and fsyncs the folder: after a kill at
any instant the file holds either the old or the new state, whole. It writes only on ``flush``
and only when the content changed, so an idle cycle writes nothing.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError
from daemon.core.fileio import TEMP_PREFIX, write_atomically


class AtomicJSONStorage(Storage):
    """In-memory TinyDB storage backed by a JSON file replaced atomically on :meth:`flush`."""

    def __init__(self, path: Path) -> None:
        """Load ``path`` if it exists. Raises ``DamagedState`` if it exists but is empty, does
        not parse, or is not shaped as TinyDB's tables of records (see :func:`shape_problem`):
        such a file is never taken for a fresh start. Raises ``StateError`` if it cannot be
        read."""
        self.path = path
        self._data: dict[str, dict[str, Any]] | None = None
        self._written: bytes | None = None
        self._dirty = False
        if path.exists():
            raw = _read(path)
            if not raw.strip():
                raise DamagedState(
                    f"the state file {path} is empty and was left as it is: coffeechat will not "
                    "start from scratch, because that would draft every email again.",
                    "it is empty")
            try:
                with collector.paused():
                    loaded = _parse(raw)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                reason = ("it nests arrays or objects deeper than any state does"
                          if isinstance(exc, RecursionError) else f"it is not JSON: {exc}")
                raise _damaged(path, reason) from None
            problem = shape_problem(loaded)
            if problem is not None:
                raise _damaged(path, problem)
            self._data = loaded
            self._written = raw

    def good_bytes(self) -> bytes | None:
        """The file's content as loaded (it parsed), or ``None`` for a new file."""
        return self._written

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the in-memory database (``None`` when the file did not exist)."""
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the in-memory database; nothing reaches the disk before :meth:`flush`."""
        self._data = data
        self._dirty = True

    def flush(self) -> bool:
        """Write the database to disk if it changed since the last write; returns whether it
        wrote. Raises ``StateError`` if the write failed (the previous file is then intact)."""
        if self._data is None or not self._dirty:
            return False  # nothing was written since the last flush: not even serialised
        try:
            payload = json.dumps(self._data, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":")).encode("utf-8")
        except RecursionError:
            raise _damaged(self.path, "it nests arrays or objects deeper than any state does, "
                                      "so it could not be saved") from None
        if payload == self._written:
            self._dirty = False
            return False
        try:
            write_atomically(self.path, payload)
        except OSError as exc:
            raise StateError(
                f"could not save the state file {self.path}: {exc.strerror or exc}. The previous "
                "state is intact; free some space or fix the folder's permissions.") from None
        self._written = payload
        self._dirty = False
        return True

    def close(self) -> None:
        """Nothing to release: flushing is explicit."""


def sweep_temporaries(folder: Path) -> int:
    """Remove temporary files a killed writer left in ``folder``; returns how many."""
    removed = 0
    for leftover in folder.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


def _damaged(path: Path, reason: str) -> DamagedState:
    return DamagedState(f"the state file {path} is damaged ({reason}) and was left as it is.",
                        reason)


def shape_problem(data: Any) -> str | None:
    """What keeps ``data`` (a parsed state file) from being TinyDB's tables: an object of
    tables, each an object of records (JSON objects) under decimal document ids; ``None``
    when it is so shaped. What each record holds is the store's to check."""
    if not isinstance(data, dict):
        return f"it holds {_kind(data)}, not a set of tables"
    for name, table in data.items():
        if not isinstance(table, dict):
            return f"its table {name!r} is {_kind(table)}, not a table of records"
        ids = "".join(table)
        if not table or (set(map(type, table.values())) <= {dict} and ids.isascii()
                         and ids.isdigit()):
            continue  # the usual case, checked at C speed (docs/performance.md)
        for ident, document in table.items():
            if not (ident.isascii() and ident.isdigit()):
                return f"its table {name!r} has a record under {ident[:40]!r}, not a number"
            if not isinstance(document, dict):
                return f"its table {name!r} holds {_kind(document)} where a record belongs"
    return None


def _kind(value: Any) -> str:
    """``value``'s JSON type, as a phrase."""
    if isinstance(value, bool) or value is None:
        return "true, false or null"
    kinds = {dict: "an object", list: "a list", str: "a text", int: "a number",
             float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _parse(raw: bytes) -> Any:
    """The state file's JSON, read with orjson (a third faster on a large state), or with the
    json module for what only it accepts (a byte-order mark, NaN, an escaped lone surrogate).
    Raises ``UnicodeDecodeError``, ``json.JSONDecodeError`` or ``RecursionError`` (arrays
    nested a thousand deep, which orjson refuses and json cannot follow) when neither can read
    it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc.strerror}") from None
