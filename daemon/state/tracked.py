"""TinyDB tables that change the stored records in place and say which records they changed,
so that a save of a state in parts writes only the parts holding a changed record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tinydb.table import Table

ALL = "*"
"""In a table's touched ids: every record may have changed."""


class _Changes:
    """The records of one stored table (its raw dict, by decimal id), as TinyDB's updaters
    see a table (by int id), noting each id they may have changed: read for an update in
    place, written or removed."""

    def __init__(self, raw: dict[str, Any], touched: set[str]) -> None:
        self.raw = raw
        self.touched = touched

    def __contains__(self, ident: object) -> bool:
        return str(ident) in self.raw

    def __getitem__(self, ident: int) -> Any:
        key = str(ident)
        doc = self.raw[key]
        self.touched.add(key)  # TinyDB updates a document in place
        return doc

    def __setitem__(self, ident: int, doc: Any) -> None:
        key = str(ident)
        self.raw[key] = doc
        self.touched.add(key)

    def __delitem__(self, ident: int) -> None:
        key = str(ident)
        del self.raw[key]
        self.touched.add(key)

    def pop(self, ident: int, *default: Any) -> Any:
        key = str(ident)
        self.touched.add(key)
        return self.raw.pop(key, *default)

    def keys(self) -> list[int]:
        return [int(key) for key in self.raw]

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.raw)

    def items(self) -> Iterator[tuple[int, Any]]:
        self.touched.add(ALL)
        return ((int(key), doc) for key, doc in self.raw.items())

    def values(self) -> Any:
        self.touched.add(ALL)
        return self.raw.values()

    def clear(self) -> None:
        self.touched.add(ALL)
        self.raw.clear()


class TrackedTable(Table):
    """A TinyDB table that changes its stored records in place and tells the storage which
    it changed: TinyDB's own ``_update_table`` copies the whole table twice for every write
    (tens of milliseconds at 50,000 records), and a state in parts writes only the parts that
    hold a changed record."""

    def _update_table(self, updater: Callable[[dict[int, Any]], None]) -> None:
        storage = self._storage
        tables = storage.read()
        touch = getattr(storage, "touch", None)  # AtomicJSONStorage's
        if touch is None or tables is None:
            super()._update_table(updater)
            return
        raw = tables.get(self.name)
        if raw is None:
            raw = tables[self.name] = {}
        touched: set[str] = set()
        try:
            updater(_Changes(raw, touched))  # type: ignore[arg-type]
        finally:
            touch(self.name, touched)
            self.clear_cache()
