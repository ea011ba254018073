"""Tables derived from another table of a state in parts, record by record, and saved with it.

A *derived* table holds, under each document id of its *source* table, what a function makes
of that record (the store's ``briefs``: each stored meeting cut down to what the planner reads,
so that ``plan`` and ``status`` parse a quarter of the bytes). The storage brings it in step
with its source in every flush that writes the state in parts, from the ids the source's
writes touched, so no writer of the source has to remember it; it is never written in a state
that is one file, nor in a backup (restoring one makes it again).

Both are written in the same flush, so they are replaced together when the state file is. The
part file manifest records, for each derived table, the source's part files it was made from
(``derived``); a part file's name is never reused, so if the source was written without it (by
a coffeechat that did not keep it), the names differ and the table is out of step: readers
then read the source, and the next writer makes it again whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from daemon.core.model import JSON
from daemon.state.lazy import Tables
from daemon.state.tracked import ALL

DERIVED_KEY = "derived"
"""The key of the part file manifest: for each derived table, the source's ``files`` (part ->
file name) as they were when it was last brought in step."""


@dataclass(frozen=True)
class Derived:
    """A table made record by record from the table ``source``: ``make`` is given a stored
    record of it and gives the derived record (a JSON object). It must not raise for any record
    the source may hold; a reader of the derived table checks what it reads."""

    source: str
    make: Callable[[JSON], JSON]


def in_step(manifest: JSON, name: str, source: str) -> bool:
    """Whether the derived table ``name``, as the state on disk described by ``manifest``
    holds it, was made from the ``source`` table held there: both in parts, and the source's
    part files those it was made from."""
    tables = manifest.get("tables", {})
    made_from = manifest.get(DERIVED_KEY, {})
    return (name in tables and source in tables and isinstance(made_from, dict)
            and made_from.get(name) == tables[source]["files"])


def bring_in_step(data: Tables, name: str, derived: Derived, *, valid: bool,
                  touched: set[str] | None) -> set[str]:
    """Make ``data[name]`` hold what ``derived`` makes of each record of its source.

    ``valid``: the table as stored was in step with the source as stored (:func:`in_step`);
    ``touched``: the ids of the source's records that may have changed since it was read or
    saved (``None``: any may have, or the table was replaced). Only those are made again, when
    both hold; otherwise the whole table is. Returns the ids of the derived table changed in
    place (the whole table, when it is made again, is a new one, which the storage writes
    whole)."""
    if valid and (touched == set() or not data.loaded(derived.source)):
        return set()  # nothing of the source changed since it was read (if it was)
    source: dict[str, Any] = data[derived.source]
    if not valid or touched is None or ALL in touched or name not in data:
        data[name] = {ident: derived.make(doc) for ident, doc in source.items()}
        return set()
    table: dict[str, Any] = data[name]
    for ident in touched:
        doc = source.get(ident)
        if doc is None:
            table.pop(ident, None)
        else:
            table[ident] = derived.make(doc)
    return set(touched)


def keep_derived(data: Tables, specs: Mapping[str, Derived], manifest: JSON,
                 parted: Collection[str], seen: Mapping[str, Any],
                 touched: Mapping[str, set[str]]) -> tuple[dict[str, Derived], dict[str, set[str]]]:
    """Before a flush: bring each derived table of ``data`` in step with its source where the
    source is saved in parts (``parted``: the tables that will be), and drop it where not.
    ``manifest`` describes the state as stored, ``seen`` holds each table as read or saved and
    ``touched`` the ids of each table changed since. Returns the derived tables kept, and the
    ids of each changed in place."""
    kept: dict[str, Derived] = {}
    changes: dict[str, set[str]] = {}
    for name, derived in specs.items():
        if derived.source not in parted:
            if name in data:
                del data[name]
            continue
        replaced = dict.get(data, derived.source) is not seen.get(derived.source)
        changes[name] = bring_in_step(
            data, name, derived, valid=in_step(manifest, name, derived.source),
            touched=None if replaced else touched.get(derived.source, set()))
        kept[name] = derived
    return kept, changes


def made_from(manifest: JSON, kept: Mapping[str, Derived]) -> dict[str, dict[str, str]]:
    """The manifest's :data:`DERIVED_KEY` record for the derived tables ``kept``, all written
    with their sources in the state ``manifest`` describes."""
    tables = manifest.get("tables", {})
    return {name: dict(tables[d.source]["files"]) for name, d in kept.items()
            if name in tables and d.source in tables}
