"""How a large state is laid out in part files (schema 3), so that a save costs what changed,
not what the state holds.

A table whose JSON would be over ``INLINE_BYTES`` / 8 in a state file over ``INLINE_BYTES``
(:mod:`daemon.state.storage`) moves to *part files* in the folder ``<name>.parts`` beside the
state: each sync cursor and each ``meta`` record in a file of its own, the other tables'
records shared out over a power of two of files by their document id (about
:data:`PART_RECORDS` each). The state file then holds the small tables and, in its table
:data:`PARTS_TABLE`, which file holds each part. A flush writes only the parts whose content
changed, each to a new file (fsynced, then the folder), and then the state file atomically:
its rename is the one moment the new state takes the place of the old, whole; the files it no
longer names are removed after it (and swept by the next writer, if it was killed first). A
part file is parsed only when its table is first read: opening a large state reads the small
file and the cursors. A state small enough stays one file, as before.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from daemon.core.errors import StateError
from daemon.core.fileio import write_synced
from daemon.core.model import JSON
from daemon.state.shape import dumps

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


def parts_for(table: str, records: int, now: int) -> int:
    """How many parts ``table``'s ``records`` are shared over (0: a file per record): as now,
    unless a part would hold over twice :data:`PART_RECORDS`."""
    if table in PER_RECORD:
        return 0
    n = max(now, 1)
    while records > n * PART_RECORDS * 2:
        n *= 2
    return n


def shard_of(ident: str, n: int) -> str:
    """The part that holds the record ``ident`` of a table shared over ``n`` parts."""
    return ident if n == 0 else str(int(ident) & (n - 1))


def share(table: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    """The records of ``table`` by part: a part per record (``n`` = 0), or by document id
    modulo ``n`` (a power of two)."""
    shards: dict[str, dict[str, Any]] = {}
    if n == 0:
        return {ident: {ident: doc} for ident, doc in table.items()}
    mask = n - 1
    for ident, doc in table.items():
        shards.setdefault(str(int(ident) & mask), {})[ident] = doc
    return shards


def holds(file: Path, content: bytes) -> bool:
    """Whether the part file ``file`` holds exactly ``content``: a flush then keeps it. A part
    file is never changed once written (new content gets a new name), so this is what was read
    from it, without the cost of keeping a digest of every part a read-only command reads."""
    try:
        with file.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size != len(content):
                return False
            return handle.read() == content
    except OSError:
        return False


def dumps_part(path: Path, records: Any) -> bytes:
    """A part file's content (orjson: a tenth of the time of the json module), or the json
    module's for what orjson refuses. Raises ``RecursionError`` for values nested too
    deep."""
    try:
        return orjson.dumps(records, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return dumps(records)


def manifest_problem(manifest: Any) -> str | None:
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


def open_parts(parts_dir: Path, manifest: JSON, fds: dict[str, int]) -> None:
    """Open into ``fds`` (file name -> descriptor) every part file ``manifest`` names, so that
    a writer removing one after this reader read the state file leaves it readable. Raises
    ``FileNotFoundError`` (those opened stay in ``fds``), or ``StateError``."""
    for table in manifest.get("tables", {}).values():
        for name in table["files"].values():
            try:
                fds[name] = os.open(parts_dir / name, os.O_RDONLY)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise StateError(f"cannot read the state's part file "
                                 f"{parts_dir / name}: {exc.strerror}") from None


def read_part(fd: int | None) -> bytes:
    """The content of the part file opened as ``fd`` (by :func:`open_parts`), which it
    closes. Raises ``OSError``, for ``None`` too (the file was not there to open)."""
    if fd is None:
        raise OSError(2, "it is missing")
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def close_parts(fds: dict[str, int]) -> None:
    """Close and forget every descriptor of ``fds``."""
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def write_parts(parts_dir: Path, writes: dict[str, bytes]) -> None:
    """Write each new part file (name -> content) and fsync it, then the folder. Raises
    ``OSError``."""
    if not writes:
        return
    parts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for file, content in writes.items():
        write_synced(parts_dir / file, content, os.O_CREAT | os.O_TRUNC)
    dir_fd = os.open(parts_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def sweep_parts(parts_dir: Path, manifest: JSON) -> int:
    """Remove the files of ``parts_dir`` that ``manifest`` does not name (a writer killed
    before or after its state file was replaced leaves some); returns how many."""
    named = {file for table in manifest.get("tables", {}).values()
             for file in table["files"].values()}
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for leftover in parts_dir.iterdir():
            if leftover.name not in named:
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    removed += 1
    return removed
