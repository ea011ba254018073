"""The tables of a state in parts as the storage holds them: a table, or a record of a table
kept a file per record, is parsed only when first read, so opening a large state reads the
small state file and little else (see :mod:`daemon.state.parts`)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from daemon.core.errors import StateError


class Tables(dict[str, Any]):
    """The database's tables; a table kept in part files is parsed when it is first read."""

    def __init__(self, inline: dict[str, Any], lazy: set[str],
                 load: Callable[[str], dict[str, Any]]) -> None:
        super().__init__(inline)
        self._lazy = set(lazy)
        self._load = weakref.WeakMethod(load)
        """The storage's loader, held weakly: no cycle keeps the storage (and the part files
        it holds open) alive once the store is dropped."""

    def loaded(self, name: str) -> bool:
        return name not in self._lazy

    def names(self) -> list[str]:
        """Every table's name, those not read yet too, without reading any."""
        return [*dict.keys(self), *sorted(self._lazy)]

    def _ensure(self, name: str) -> None:
        if name in self._lazy:
            load = self._load()
            if load is None:
                raise StateError("the state was closed before this table was read")
            table = load(name)
            self._lazy.discard(name)
            dict.__setitem__(self, name, table)

    def _ensure_all(self) -> None:
        for name in sorted(self._lazy):
            self._ensure(name)

    def __getitem__(self, name: str) -> Any:
        self._ensure(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        self._ensure(name)
        return dict.get(self, name, default)

    def __setitem__(self, name: str, value: Any) -> None:
        self._lazy.discard(name)
        dict.__setitem__(self, name, value)

    def __delitem__(self, name: str) -> None:
        if name in self._lazy:  # never read: nothing to drop from the dict
            self._lazy.discard(name)
            return
        dict.__delitem__(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        self._ensure_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._lazy)

    def keys(self) -> Any:
        self._ensure_all()
        return dict.keys(self)

    def values(self) -> Any:
        self._ensure_all()
        return dict.values(self)

    def items(self) -> Any:
        self._ensure_all()
        return dict.items(self)


UNREAD = object()
"""The value of a record not read yet in a :class:`LazyRecords`."""


class LazyRecords(dict[str, Any]):
    """The records of a table kept a file per record (the cursors, ``meta``), each read when
    first asked for: a state's settled-history record is megabytes, and most cycles read only
    the schema and the plan's wake-up time."""

    def __init__(self, records: dict[str, Any], load: Callable[[str], Any]) -> None:
        super().__init__(records)
        self._load = load

    def _value(self, ident: str) -> Any:
        value = dict.__getitem__(self, ident)
        if value is UNREAD:
            value = self._load(ident)
            dict.__setitem__(self, ident, value)
        return value

    def __getitem__(self, ident: str) -> Any:
        return self._value(ident)

    def get(self, ident: str, default: Any = None) -> Any:
        return self._value(ident) if dict.__contains__(self, ident) else default

    def pop(self, ident: str, *default: Any) -> Any:
        if dict.__contains__(self, ident):
            self._value(ident)
        return dict.pop(self, ident, *default)

    def values(self) -> Any:
        return [self._value(ident) for ident in dict.keys(self)]

    def items(self) -> Any:
        return [(ident, self._value(ident)) for ident in dict.keys(self)]

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    __hash__ = None


def weak_call(method: weakref.WeakMethod[Callable[[str, str], Any]], table: str,
               ident: str) -> Any:
    load = method()
    if load is None:
        raise StateError("the state was closed before this record was read")
    return load(table, ident)
