"""The JSON of a state file and of its part files: written compact with sorted keys, parsed
(orjson, else the json module), and checked to be shaped as TinyDB's tables of records; a file
that does not read is ``DamagedState``, never taken for a fresh start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError


def dumps(data: Any) -> bytes:
    """The state file's content. Raises ``RecursionError`` for values nested too deep."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def parse_checked(path: Path, raw: bytes, table: str | None = None) -> Any:
    """``raw`` (the content of ``path``) parsed and shaped as TinyDB's tables (or, for the
    part file of ``table``, as records of that table, returned as that table alone); raises
    ``DamagedState``."""
    try:
        with collector.paused():
            loaded = parse(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = ("it nests arrays or objects deeper than any state does"
                  if isinstance(exc, RecursionError) else f"it is not JSON: {exc}")
        raise damaged(path, reason) from None
    if table is not None:
        loaded = {table: loaded}
    problem = shape_problem(loaded)
    if problem is not None:
        raise damaged(path, problem)
    return loaded


def damaged(path: Path, reason: str) -> DamagedState:
    return DamagedState(f"the state file {path} is damaged ({reason}) and was left as it is.",
                        reason)


def shape_problem(data: Any) -> str | None:
    """What keeps ``data`` (a parsed state file) from being TinyDB's tables: an object of
    tables, each an object of records (JSON objects) under decimal document ids; ``None``
    when it is so shaped. What each record holds is the store's to check."""
    if not isinstance(data, dict):
        return f"it holds {kind_of(data)}, not a set of tables"
    for name, table in data.items():
        if not isinstance(table, dict):
            return f"its table {name!r} is {kind_of(table)}, not a table of records"
        ids = "".join(table)
        if not table or (set(map(type, table.values())) <= {dict} and ids.isascii()
                         and ids.isdigit()):
            continue  # the usual case, checked at C speed (docs/performance.md)
        for ident, document in table.items():
            if not (ident.isascii() and ident.isdigit()):
                return f"its table {name!r} has a record under {ident[:40]!r}, not a number"
            if not isinstance(document, dict):
                return f"its table {name!r} holds {kind_of(document)} where a record belongs"
    return None


def kind_of(value: Any) -> str:
    """``value``'s JSON type, as a phrase."""
    if isinstance(value, bool) or value is None:
        return "true, false or null"
    kinds = {dict: "an object", list: "a list", str: "a text", int: "a number",
             float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def parse(raw: bytes) -> Any:
    """The state file's JSON, read with orjson (a third faster on a large state), or with the
    json module for what only it accepts (a byte-order mark, NaN, an escaped lone surrogate).
    Raises ``UnicodeDecodeError``, ``json.JSONDecodeError`` or ``RecursionError`` (arrays
    nested a thousand deep, which orjson refuses and json cannot follow) when neither can read
    it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc.strerror}") from None
