"""A TinyDB storage that keeps the database in memory and writes it atomically on ``flush``.

TinyDB's own ``JSONStorage`` rewrites the file in place, so a kill mid-write leaves a file that
does not parse, and it writes on every change. This one writes a temporary file in the same
folder, fsyncs it, ``os.replace``s it over the state file and fsyncs the folder: after a kill at
any instant the file holds either the old or the new state, whole. It writes only on ``flush``
and only when the content changed, so an idle cycle writes nothing. A large state is kept in
part files (:mod:`daemon.state.parts`), read lazily (:mod:`daemon.state.lazy`), and a save
writes only the parts holding a record changed (:mod:`daemon.state.tracked`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError
from daemon.core.fileio import write_atomically
from daemon.core.model import JSON
from daemon.state.derived import DERIVED_KEY, Derived, in_step, keep_derived, made_from
from daemon.state.lazy import UNREAD, LazyRecords, Tables, weak_call
from daemon.state.parts import (
    PARTS_TABLE,
    PER_RECORD,
    close_parts,
    dumps_part,
    holds,
    manifest_problem,
    open_parts,
    parts_for,
    read_part,
    shard_of,
    share,
    sweep_parts,
    write_parts,
)
from daemon.state.shape import damaged, dumps, parse_checked, read_file
from daemon.state.tracked import ALL

INLINE_BYTES = int(os.environ.get("COFFEECHAT_STATE_INLINE_BYTES", "262144"))
"""A state file whose JSON would be over this many bytes keeps its large tables in parts
(``COFFEECHAT_STATE_INLINE_BYTES=0`` puts every table in parts: the tests use it to run the
suites over a state in parts)."""


class AtomicJSONStorage(Storage):
    """In-memory TinyDB storage backed by a JSON file (and, for a large state, its part
    files) replaced atomically on :meth:`flush`."""

    def __init__(self, path: Path) -> None:
        """Load ``path`` if it exists (its part files are opened, and parsed when first read).
        Raises ``DamagedState`` if it exists but is empty, does not parse, or is not shaped as
        TinyDB's tables of records (see :func:`shape_problem`), or a part file it names is
        missing: such a file is never taken for a fresh start. Raises ``StateError`` if it
        cannot be read."""
        self.path = path
        self.real = Path(os.path.realpath(path))
        self.parts_dir = self.real.with_name(self.real.name + ".parts")
        self._data: Tables | None = None
        self._written: bytes | None = None
        self._dirty = False
        self._manifest: JSON = {}
        self._fds: dict[str, int] = {}
        self._seen: dict[str, Any] = {}
        self._ledger_note: str | None = None
        self._touched: dict[str, set[str]] = {}
        """Per table, the ids of the records changed since the last flush (see
        :class:`TrackedTable`)."""
        self._members: dict[str, dict[str, set[str]]] = {}
        """Per table in parts, the ids of the records each part holds."""
        self.parted: Callable[[dict[str, Any]], None] | None = None
        """Called with the tables before a state with part files is written (the store
        records its schema there)."""
        self.derived: dict[str, Derived] = {}
        """The tables derived from another (see :mod:`daemon.state.derived`), by name; the
        store sets them."""
        self.advice: Callable[[str], Exception] | None = None
        """Makes the error raised when a part file read later does not read back (the store
        adds how to restore a backup)."""
        if path.exists():
            for attempt in range(5):  # a writer may replace the parts between two reads
                raw = read_file(path)
                loaded = self._parse_main(raw)
                manifest = loaded.pop(PARTS_TABLE, {}).get("1", {})
                try:
                    open_parts(self.parts_dir, manifest, self._fds)
                except FileNotFoundError as exc:
                    close_parts(self._fds)
                    if attempt == 4:
                        raise damaged(path, f"its part file {exc.filename} is missing") from None
                    continue
                break
            self._manifest = manifest
            self._data = Tables(loaded, set(manifest.get("tables", {})), self._load_table)
            self._written = raw
            self._seen = {name: dict.get(self._data, name) for name in loaded}

    def _parse_main(self, raw: bytes) -> dict[str, Any]:
        path = self.path
        if not raw.strip():
            raise DamagedState(
                f"the state file {path} is empty and was left as it is: coffeechat will not "
                "start from scratch, because that would draft every email again.",
                "it is empty")
        loaded = parse_checked(path, raw)
        manifest = loaded.get(PARTS_TABLE, {}).get("1")
        if PARTS_TABLE in loaded and manifest_problem(manifest):
            raise damaged(path, f"its table {PARTS_TABLE!r} {manifest_problem(manifest)}")
        return dict(loaded)

    def __del__(self) -> None:
        close_parts(self._fds)

    def _load_table(self, table: str) -> dict[str, Any]:
        """Parse the part files of ``table``; raises the store's error when one does not read
        back."""
        with collector.paused():
            return self._load_parts(table)

    def _load_parts(self, table: str) -> dict[str, Any]:
        files = self._manifest["tables"][table]
        if files["n"] == 0:  # a file per record: each read when the record is
            records = LazyRecords(dict.fromkeys(files["files"], UNREAD),
                                   functools.partial(weak_call, weakref.WeakMethod(
                                       self._load_record), table))
            self._members[table] = {ident: {ident} for ident in files["files"]}
            self._seen[table] = records
            return records
        out: dict[str, Any] = {}
        for shard in sorted(files["files"]):
            part = self._read_part(table, shard)
            self._members.setdefault(table, {})[shard] = set(part)
            out.update(part)
        self._seen[table] = out
        return out

    def _read_part(self, table: str, shard: str) -> dict[str, Any]:
        """The records of the part ``shard`` of ``table``, read from its file."""
        name = self._manifest["tables"][table]["files"][shard]
        file = self.parts_dir / name
        try:
            raw = read_part(self._fds.pop(name, None))
        except OSError as exc:
            raise self._problem(f"cannot read its part file {file}: {exc.strerror}") from None
        try:
            part: dict[str, Any] = parse_checked(file, raw, table)[table]
        except DamagedState as exc:
            raise self._problem(str(exc)) from None
        return part

    def _load_record(self, table: str, ident: str) -> Any:
        """The record ``ident`` of a table kept a file per record."""
        part = self._read_part(table, ident)
        if set(part) != {ident}:
            raise self._problem(f"the state's part file for record {ident} of {table!r} "
                                "holds another record; it was changed by hand or is damaged.")
        return part[ident]

    def _problem(self, message: str) -> Exception:
        return DamagedState(message, message) if self.advice is None else self.advice(message)

    def stored_ids(self, table: str) -> set[str] | None:
        """The ids of ``table``'s records as last read or saved, if it is in parts and was
        read (``None`` otherwise)."""
        members = self._members.get(table)
        if members is None or not self.loaded(table):
            return None
        return set().union(*members.values())

    def split_if_large(self) -> None:
        """Have the next :meth:`flush` write a state that is one file over
        :data:`INLINE_BYTES` in parts (upgrading a state written as one file)."""
        if not self._manifest and self._written is not None and (
                len(self._written) > INLINE_BYTES):
            self._dirty = True

    def make_derived_if_stale(self) -> None:
        """Have the next :meth:`flush` make again the derived tables of a state in parts that
        are out of step with their sources (the state was written by a coffeechat that did not
        keep them)."""
        tables = self._manifest.get("tables", {})
        if any(d.source in tables and not in_step(self._manifest, name, d.source)
               for name, d in self.derived.items()):
            self._dirty = True

    def derived_table(self, name: str) -> dict[str, Any] | None:
        """The derived table ``name`` if it is in step with its source as held here (saved
        with it and not changed since); ``None`` otherwise: read the source."""
        derived = self.derived.get(name)
        if (derived is None or self._data is None or self.changed(derived.source)
                or not in_step(self._manifest, name, derived.source)):
            return None
        table: dict[str, Any] = self._data[name]
        return table

    def touch(self, table: str, ids: set[str]) -> None:
        """Note that the records ``ids`` of ``table`` may have changed."""
        if ids:
            self._touched.setdefault(table, set()).update(ids)
            self._dirty = True

    @property
    def dirty(self) -> bool:
        """Whether anything was written since the last flush."""
        return self._dirty

    def changed(self, table: str) -> bool:
        """Whether ``table`` may have changed since it was read or last flushed."""
        return (self._data is not None and self._data.loaded(table) and (
            table in self._touched or dict.get(self._data, table) is not self._seen.get(table)))

    def loaded(self, table: str) -> bool:
        """Whether ``table`` was read (a table in parts is read when first asked for)."""
        return self._data is None or self._data.loaded(table)

    @property
    def in_parts(self) -> bool:
        """Whether the state has part files."""
        return bool(self._manifest)

    @property
    def ledger_digest(self) -> str | None:
        """The digest of the ledger written with this state (kept only for a state in
        parts)."""
        value = self._manifest.get("ledger")
        return value if isinstance(value, str) else None

    @ledger_digest.setter
    def ledger_digest(self, value: str) -> None:
        self._ledger_note = value
        if self._manifest and self._manifest.get("ledger") != value:
            self._manifest["ledger"] = value
            self._dirty = True

    def good_bytes(self) -> bytes | None:
        """The state as loaded (it parsed), as one file (what a backup keeps), or ``None`` for
        a new file. A state in parts is read whole for it."""
        if self._data is None or not self._manifest:
            return self._written
        return dumps({name: dict(table.items()) for name, table in self._data.items()
                      if name not in self.derived})

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the in-memory database (``None`` when the file did not exist)."""
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the in-memory database; nothing reaches the disk before :meth:`flush`."""
        if self._data is None:
            self._data = Tables(data, set(), self._load_table)
        elif data is not self._data:
            for name in list(self._data.keys()):
                if name not in data:
                    del self._data[name]
            for name, table in data.items():
                self._data[name] = table
        self._dirty = True

    def flush(self) -> bool:
        """Write the database to disk if it changed since the last write; returns whether it
        wrote. Raises ``StateError`` if the write failed (the previous state is then
        intact)."""
        if self._data is None or not self._dirty:
            return False  # nothing was written since the last flush: not even serialised
        try:
            return self._flush(self._data)
        except RecursionError:
            raise damaged(self.path, "it nests arrays or objects deeper than any state does, "
                                      "so it could not be saved") from None

    def _flush(self, data: Tables) -> bool:
        tables: JSON = self._manifest.get("tables", {})
        inline = {name: dict.get(data, name) for name in data.names()
                  if data.loaded(name) and name not in tables}
        payload = dumps(self._main_content(inline))
        big: set[str] = set()
        if len(payload) > INLINE_BYTES:
            big = {name for name, table in inline.items() if table
                   and len(dumps({name: table})) > INLINE_BYTES // 8}
        if (tables or big) and self.parted is not None:
            self.parted(data)
        kept, changes = keep_derived(data, self.derived, self._manifest, {*tables, *big},
                                     self._seen, self._touched)
        for name, ids in changes.items():
            self.touch(name, ids)
        big |= {name for name in kept if name not in tables}  # made now: into parts with it
        inline = {name: dict.get(data, name) for name in data.names()
                  if data.loaded(name) and name not in tables and name not in big}
        changed = {name for name in data.names() if self.changed(name)}
        changed |= {name for name in tables if name not in data} | big
        writes: dict[str, bytes] = {}
        manifest = {**self._manifest, "tables": dict(tables)}
        dropped: list[str] = []
        gen = int(manifest.get("gen", 0))
        new_members: dict[str, dict[str, set[str]]] = {}
        for name in sorted(changed):
            if name not in data:
                if name in manifest["tables"]:
                    dropped.extend(manifest["tables"].pop(name)["files"].values())
                continue
            if name in inline:
                continue
            old = manifest["tables"].get(name, {"n": 0 if name in PER_RECORD else 1,
                                                "files": {}})
            table: dict[str, Any] = dict.__getitem__(data, name)
            n = parts_for(name, len(table), int(old["n"]))
            files = dict(old["files"]) if n == old["n"] else {}
            if n != old["n"]:
                dropped.extend(old["files"].values())
            touched = self._touched.get(name, {ALL})
            members = self._members.get(name)
            if (members is None or n != old["n"] or ALL in touched
                    or table is not self._seen.get(name)):
                members = {shard: set(records) for shard, records in share(table, n).items()}
                dirty = set(members) | set(files)
            else:
                members = dict(members)  # the sets of the parts changed are copied: the
                dirty = set()              # ones kept stay as they are until the commit
                for ident in touched:
                    shard = shard_of(ident, n)
                    if shard not in dirty:
                        dirty.add(shard)
                        members[shard] = set(members.get(shard, ()))
                    if ident in table:
                        members.setdefault(shard, set()).add(ident)
                    elif shard in members:
                        members[shard].discard(ident)
                members = {shard: ids for shard, ids in members.items() if ids}
            new_members[name] = members
            for shard in sorted(dirty):
                if shard not in members:
                    if shard in files:
                        dropped.append(files.pop(shard))
                    continue
                records = {ident: table[ident] for ident in members[shard]}
                content = dumps_part(self.path, records)
                if shard in files and holds(self.parts_dir / files[shard], content):
                    continue
                gen += 1
                file = f"{name}.{shard}.{gen}.json"
                if shard in files:
                    dropped.append(files[shard])
                files[shard] = file
                writes[file] = content
            manifest["tables"][name] = {"n": n, "files": files}
        manifest["gen"] = gen
        if self.derived:
            manifest[DERIVED_KEY] = made_from(manifest, kept)
        if self._ledger_note is not None:
            manifest["ledger"] = self._ledger_note
        if not manifest["tables"]:
            manifest = {}
        main = dict(inline)
        if manifest:
            main[PARTS_TABLE] = {"1": manifest}
        payload = dumps(main) if (manifest or self._manifest) else payload
        if payload == self._written and not writes:
            self._flushed(new_members)
            return False
        try:
            write_parts(self.parts_dir, writes)
            write_atomically(self.path, payload)
        except OSError as exc:
            for file in writes:
                with contextlib.suppress(OSError):
                    (self.parts_dir / file).unlink()
            raise StateError(
                f"could not save the state file {self.path}: {exc.strerror or exc}. The previous "
                "state is intact; free some space or fix the folder's permissions.") from None
        for file in dropped:
            with contextlib.suppress(OSError):
                (self.parts_dir / file).unlink()
            fd = self._fds.pop(file, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._manifest = manifest
        self._written = payload
        self._flushed(new_members)
        return True

    def _flushed(self, members: dict[str, dict[str, set[str]]]) -> None:
        """Remember the tables as written."""
        assert self._data is not None
        self._members.update(members)
        for name in list(self._members):
            if name not in self._manifest.get("tables", {}):
                del self._members[name]
        self._dirty = False
        self._touched.clear()
        self._seen = {name: dict.get(self._data, name) for name in self._data.names()
                      if self._data.loaded(name)}

    def _main_content(self, inline: JSON) -> JSON:
        if not self._manifest:
            return inline
        return {**inline, PARTS_TABLE: {"1": self._manifest}}

    def sweep(self) -> int:
        """Remove the part files the state does not name (see :func:`sweep_parts`); only under
        the write lock. Returns how many."""
        return sweep_parts(self.parts_dir, self._manifest)

    def close(self) -> None:
        """Nothing to release: flushing is explicit."""

