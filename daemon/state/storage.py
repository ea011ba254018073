"""A TinyDB storage that keeps the database in memory and writes it atomically on ``flush``.

TinyDB's own ``JSONStorage`` rewrites the file in place, so a kill mid-write leaves a file that
does not parse, and it writes on every change. This one writes a temporary file in the same
folder, fsyncs it, ``os.replace``s it over the state file and fsyncs the folder: after a kill at
any instant the file holds either the old or the new state, whole. It writes only on ``flush``
and only when the content changed, so an idle cycle writes nothing.

A large state is kept in parts, so that a write costs what changed, not what the state holds
(schema 3). A table whose JSON would be over :data:`INLINE_BYTES` / 8 in a state file over
:data:`INLINE_BYTES` moves to *part files* in the folder ``<name>.parts`` beside the state:
each sync cursor and each ``meta`` record in a file of its own, the other tables' records
shared out over a power of two of files by their document id (about :data:`PART_RECORDS`
each). The state file then holds the small tables and, in its table ``_parts``, which file
holds each part. A flush writes only the parts whose content changed, each to a new file
(fsynced, then the folder), and then the state file atomically: its rename is the one moment
the new state takes the place of the old, whole; the files it no longer names are removed
after it (and swept by the next writer, if it was killed first). A part file is parsed only
when its table is first read: opening a large state reads the small file and the cursors.
A state small enough stays one file, as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage
from tinydb.table import Table

from daemon.core import collector
from daemon.core.errors import DamagedState, StateError
from daemon.core.fileio import TEMP_PREFIX, write_atomically
from daemon.core.model import JSON

INLINE_BYTES = int(os.environ.get("COFFEECHAT_STATE_INLINE_BYTES", "262144"))
"""A state file whose JSON would be over this many bytes keeps its large tables in parts
(``COFFEECHAT_STATE_INLINE_BYTES=0`` puts every table in parts: the tests use it to run the
suites over a state in parts)."""
PART_RECORDS = 256
"""About how many records a part of a shared-out table holds (it is split again past twice
as many)."""
PARTS_TABLE = "_parts"
"""The table of the state file naming the part files (one record, id 1): ``gen``, the last
number given to a part file; ``tables``, for each table in parts, ``n`` (the number of parts
its records are shared over, 0 for a file per record) and ``files`` (part -> file name); and
``ledger``, the digest of the ledger written with this state (see the store)."""
PER_RECORD = frozenset({"cursors", "meta"})
"""Tables of few, maybe large records: each record in a part file of its own."""


class _Tables(dict[str, Any]):
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
        self._lazy.discard(name)
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


_UNREAD = object()
"""The value of a record not read yet in a :class:`_LazyRecords`."""


class _LazyRecords(dict[str, Any]):
    """The records of a table kept a file per record (the cursors, ``meta``), each read when
    first asked for: a state's settled-history record is megabytes, and most cycles read only
    the schema and the plan's wake-up time."""

    def __init__(self, records: dict[str, Any], load: Callable[[str], Any]) -> None:
        super().__init__(records)
        self._load = load

    def _value(self, ident: str) -> Any:
        value = dict.__getitem__(self, ident)
        if value is _UNREAD:
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


_ALL = "*"
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
        self.touched.add(_ALL)
        return ((int(key), doc) for key, doc in self.raw.items())

    def values(self) -> Any:
        self.touched.add(_ALL)
        return self.raw.values()

    def clear(self) -> None:
        self.touched.add(_ALL)
        self.raw.clear()


class TrackedTable(Table):
    """A TinyDB table that changes its stored records in place and tells the storage which
    it changed: TinyDB's own ``_update_table`` copies the whole table twice for every write
    (tens of milliseconds at 50,000 records), and a state in parts writes only the parts that
    hold a changed record."""

    def _update_table(self, updater: Callable[[dict[int, Any]], None]) -> None:
        storage = self._storage
        tables = storage.read()
        if not isinstance(storage, AtomicJSONStorage) or tables is None:
            super()._update_table(updater)
            return
        raw = tables.get(self.name)
        if raw is None:
            raw = tables[self.name] = {}
        touched: set[str] = set()
        try:
            updater(_Changes(raw, touched))  # type: ignore[arg-type]
        finally:
            storage.touch(self.name, touched)
            self.clear_cache()


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
        self._data: _Tables | None = None
        self._written: bytes | None = None
        self._dirty = False
        self._manifest: JSON = {}
        self._fds: dict[str, int] = {}
        self._digests: dict[tuple[str, str], bytes] = {}
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
        self.advice: Callable[[str], Exception] | None = None
        """Makes the error raised when a part file read later does not read back (the store
        adds how to restore a backup)."""
        if path.exists():
            for attempt in range(5):  # a writer may replace the parts between two reads
                raw = _read(path)
                loaded = self._parse_main(raw)
                manifest = loaded.pop(PARTS_TABLE, {}).get("1", {})
                try:
                    self._open_parts(manifest)
                except FileNotFoundError as exc:
                    self._close_parts()
                    if attempt == 4:
                        raise _damaged(path, f"its part file {exc.filename} is missing") from None
                    continue
                break
            self._manifest = manifest
            self._data = _Tables(loaded, set(manifest.get("tables", {})), self._load_table)
            self._written = raw
            self._seen = {name: dict.get(self._data, name) for name in loaded}

    def _parse_main(self, raw: bytes) -> dict[str, Any]:
        path = self.path
        if not raw.strip():
            raise DamagedState(
                f"the state file {path} is empty and was left as it is: coffeechat will not "
                "start from scratch, because that would draft every email again.",
                "it is empty")
        loaded = _parse_checked(path, raw)
        manifest = loaded.get(PARTS_TABLE, {}).get("1")
        if PARTS_TABLE in loaded and _manifest_problem(manifest):
            raise _damaged(path, f"its table {PARTS_TABLE!r} {_manifest_problem(manifest)}")
        return dict(loaded)

    def _open_parts(self, manifest: JSON) -> None:
        """Open every part file ``manifest`` names (so that a writer removing it after this
        reader read the state file leaves it readable). Raises ``FileNotFoundError``."""
        for table in manifest.get("tables", {}).values():
            for name in table["files"].values():
                try:
                    self._fds[name] = os.open(self.parts_dir / name, os.O_RDONLY)
                except FileNotFoundError:
                    raise
                except OSError as exc:
                    raise StateError(f"cannot read the state's part file "
                                     f"{self.parts_dir / name}: {exc.strerror}") from None

    def _close_parts(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        self._close_parts()

    def _load_table(self, table: str) -> dict[str, Any]:
        """Parse the part files of ``table``; raises the store's error when one does not read
        back."""
        with collector.paused():
            return self._load_parts(table)

    def _load_parts(self, table: str) -> dict[str, Any]:
        files = self._manifest["tables"][table]
        if files["n"] == 0:  # a file per record: each read when the record is
            records = _LazyRecords(dict.fromkeys(files["files"], _UNREAD),
                                   functools.partial(_weak_call, weakref.WeakMethod(
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
        fd = self._fds.pop(name, None)
        file = self.parts_dir / name
        try:
            if fd is None:
                raise OSError(2, "it is missing")
            with os.fdopen(fd, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise self._problem(f"cannot read its part file {file}: {exc.strerror}") from None
        try:
            part: dict[str, Any] = _parse_checked(file, raw, table)[table]
        except DamagedState as exc:
            raise self._problem(str(exc)) from None
        self._digests[(table, shard)] = _digest(raw)
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
        return _dumps_main({name: dict(table.items())
                            for name, table in self._data.items()})

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the in-memory database (``None`` when the file did not exist)."""
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the in-memory database; nothing reaches the disk before :meth:`flush`."""
        if self._data is None:
            self._data = _Tables(data, set(), self._load_table)
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
            raise _damaged(self.path, "it nests arrays or objects deeper than any state does, "
                                      "so it could not be saved") from None

    def _flush(self, data: _Tables) -> bool:
        tables: JSON = self._manifest.get("tables", {})
        inline = {name: dict.get(data, name) for name in data
                  if data.loaded(name) and name not in tables}
        payload = _dumps_main(self._main_content(inline))
        big: set[str] = set()
        if len(payload) > INLINE_BYTES:
            big = {name for name, table in inline.items() if table
                   and len(_dumps_main({name: table})) > INLINE_BYTES // 8}
        if (tables or big) and self.parted is not None:
            self.parted(data)
        inline = {name: dict.get(data, name) for name in data
                  if data.loaded(name) and name not in tables and name not in big}
        changed = {name for name in data if self.changed(name)}
        changed |= {name for name in tables if name not in data} | big
        writes: dict[str, bytes] = {}
        manifest = {**self._manifest, "tables": dict(tables)}
        dropped: list[str] = []
        gen = int(manifest.get("gen", 0))
        digests: dict[tuple[str, str], bytes] = {}
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
            n = _parts_for(name, len(table), int(old["n"]))
            files = dict(old["files"]) if n == old["n"] else {}
            if n != old["n"]:
                dropped.extend(old["files"].values())
            touched = self._touched.get(name, {_ALL})
            members = self._members.get(name)
            if (members is None or n != old["n"] or _ALL in touched
                    or table is not self._seen.get(name)):
                members = {shard: set(records) for shard, records in _share(table, n).items()}
                dirty = set(members) | set(files)
            else:
                members = dict(members)  # the sets of the parts changed are copied: the
                dirty = set()              # ones kept stay as they are until the commit
                for ident in touched:
                    shard = _shard_of(ident, n)
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
                content = _dumps_part(self.path, records)
                digest = _digest(content)
                if shard in files and self._digests.get((name, shard)) == digest:
                    continue
                gen += 1
                file = f"{name}.{shard}.{gen}.json"
                if shard in files:
                    dropped.append(files[shard])
                files[shard] = file
                writes[file] = content
                digests[(name, shard)] = digest
            manifest["tables"][name] = {"n": n, "files": files}
        manifest["gen"] = gen
        if self._ledger_note is not None:
            manifest["ledger"] = self._ledger_note
        if not manifest["tables"]:
            manifest = {}
        main = dict(inline)
        if manifest:
            main[PARTS_TABLE] = {"1": manifest}
        payload = _dumps_main(main) if (manifest or self._manifest) else payload
        if payload == self._written and not writes:
            self._flushed(new_members)
            return False
        try:
            self._write_parts(writes)
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
        self._digests.update(digests)
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
        self._seen = {name: dict.get(self._data, name) for name in self._data
                      if self._data.loaded(name)}

    def _main_content(self, inline: JSON) -> JSON:
        if not self._manifest:
            return inline
        return {**inline, PARTS_TABLE: {"1": self._manifest}}

    def _write_parts(self, writes: dict[str, bytes]) -> None:
        """Write each new part file and fsync it, then the folder. Raises ``OSError``."""
        if not writes:
            return
        self.parts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for file, content in writes.items():
            fd = os.open(self.parts_dir / file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        dir_fd = os.open(self.parts_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def sweep(self) -> int:
        """Remove the part files the state does not name (a writer killed before or after
        its state file was replaced leaves some); only under the write lock. Returns how
        many."""
        named = {file for table in self._manifest.get("tables", {}).values()
                 for file in table["files"].values()}
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for leftover in self.parts_dir.iterdir():
                if leftover.name not in named:
                    with contextlib.suppress(OSError):
                        leftover.unlink()
                        removed += 1
        return removed

    def close(self) -> None:
        """Nothing to release: flushing is explicit."""


def _parts_for(table: str, records: int, now: int) -> int:
    """How many parts ``table``'s ``records`` are shared over (0: a file per record): as now,
    unless a part would hold over twice :data:`PART_RECORDS`."""
    if table in PER_RECORD:
        return 0
    n = max(now, 1)
    while records > n * PART_RECORDS * 2:
        n *= 2
    return n


def _weak_call(method: weakref.WeakMethod[Callable[[str, str], Any]], table: str,
               ident: str) -> Any:
    load = method()
    if load is None:
        raise StateError("the state was closed before this record was read")
    return load(table, ident)


def _shard_of(ident: str, n: int) -> str:
    """The part that holds the record ``ident`` of a table shared over ``n`` parts."""
    return ident if n == 0 else str(int(ident) & (n - 1))


def _share(table: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    """The records of ``table`` by part: a part per record (``n`` = 0), or by document id
    modulo ``n`` (a power of two)."""
    shards: dict[str, dict[str, Any]] = {}
    if n == 0:
        return {ident: {ident: doc} for ident, doc in table.items()}
    mask = n - 1
    for ident, doc in table.items():
        shards.setdefault(str(int(ident) & mask), {})[ident] = doc
    return shards


def _digest(content: bytes) -> bytes:
    return hashlib.blake2b(content, digest_size=16).digest()


def _dumps_main(data: Any) -> bytes:
    """The state file's content. Raises ``RecursionError`` for values nested too deep."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def _dumps_part(path: Path, records: Any) -> bytes:
    """A part file's content (orjson: a tenth of the time of the json module), or the json
    module's for what orjson refuses. Raises ``RecursionError`` for values nested too
    deep."""
    try:
        return orjson.dumps(records, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return _dumps_main(records)


def _manifest_problem(manifest: Any) -> str | None:
    """Why ``manifest`` (the ``_parts`` record) does not say which files hold the parts."""
    try:
        if not isinstance(manifest, dict) or not isinstance(manifest.get("gen", 0), int):
            raise TypeError
        for table in manifest.get("tables", {}).values():
            if not isinstance(table["n"], int) or not all(
                    isinstance(f, str) and f and "/" not in f and not f.startswith(".")
                    for f in table["files"].values()):
                raise TypeError
    except (TypeError, KeyError, AttributeError):
        return "does not say which files hold the state's parts"
    return None


def _parse_checked(path: Path, raw: bytes, table: str | None = None) -> Any:
    """``raw`` (the content of ``path``) parsed and shaped as TinyDB's tables (or, for the
    part file of ``table``, as records of that table, returned as that table alone); raises
    ``DamagedState``."""
    try:
        with collector.paused():
            loaded = _parse(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = ("it nests arrays or objects deeper than any state does"
                  if isinstance(exc, RecursionError) else f"it is not JSON: {exc}")
        raise _damaged(path, reason) from None
    if table is not None:
        loaded = {table: loaded}
    problem = shape_problem(loaded)
    if problem is not None:
        raise _damaged(path, problem)
    return loaded


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
