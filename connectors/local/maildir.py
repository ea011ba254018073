"""Maildir on disk, as the local connector reads and writes it: file names and their flags,
the header block of a message read without following a link or waiting on a FIFO, unique
names, flushing to disk, and the normal form of a message that sync tools (mbsync,
offlineimap) copied. No draft logic: :mod:`connectors.local.drafts` (with its files,
:mod:`connectors.local.draftfiles`) and :mod:`connectors.local.history` build on it.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import stat
import time
from pathlib import Path
from typing import BinaryIO

DRAFT_FLAG = "D"
TRASHED_FLAG = "T"
MAX_HEADER_BYTES = 256 * 1024
"""Header blocks larger than this are not read further (no draft of ours comes close)."""
SYNC_HEADERS = (b"x-tuid", b"x-offlineimap")
"""Header fields mbsync and offlineimap add to a message they copy (to find it again on a
server without UIDPLUS); they do not make a draft edited."""
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_COUNTER = itertools.count(1)


def normalised(data: bytes) -> bytes:
    """Return ``data`` with what sync tools change in a message they copy undone: CRLF line
    ends made LF, and the header fields of :data:`SYNC_HEADERS` (with their continuation
    lines) dropped. A message coffeechat writes is returned unchanged."""
    data = data.replace(b"\r\n", b"\n")
    end = data.find(b"\n\n")
    head, rest = (data, b"") if end < 0 else (data[:end + 1], data[end + 1:])
    if not any(name in head.lower() for name in SYNC_HEADERS):
        return data
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() in SYNC_HEADERS
        if not dropping:
            kept.append(line)
    return b"".join(kept) + rest


def fingerprint(data: bytes) -> str:
    """Return the SHA-256 hex digest of :func:`normalised` ``data``: what a reference's
    fingerprint holds (for what coffeechat writes, the digest of the bytes on disk)."""
    return hashlib.sha256(normalised(data)).hexdigest()


def split_name(name: str) -> tuple[str, str]:
    """Return the Maildir key and the flags of a message file name: ``key:2,FLAGS`` gives
    ``(key, FLAGS)``; a name without the ``:2,`` part (as in ``new/``) has no flags. What
    follows a ``,`` in the unique part (mbsync's ``,U=12``, Dovecot's ``,S=1234``) is not part
    of the key."""
    unique, _, info = name.partition(":")
    return unique.partition(",")[0], info[2:] if info.startswith("2,") else ""


def read_header_block(path: str | Path, limit: int = MAX_HEADER_BYTES) -> bytes:
    """Return the header block of the message file at ``path``: its bytes up to the first
    empty line, cut after about ``limit`` bytes (the body is never read, and a file without
    line breaks cannot make this read more). Raises ``OSError`` when the file cannot be read,
    is a link (``ELOOP``) or is not a regular file (``EINVAL``): a FIFO is never waited on.
    """
    lines: list[bytes] = []
    size = 0
    with open_regular(path) as handle:
        while size <= limit:
            line = handle.readline(limit + 1 - size)
            if not line or line in (b"\n", b"\r\n"):
                break
            lines.append(line)
            size += len(line)
    return b"".join(lines)


def open_regular(path: str | Path) -> BinaryIO:
    """Open the regular file ``path`` for reading without following a link or waiting on a
    FIFO. Raises ``OSError`` (``ELOOP`` for a link, ``EINVAL`` for anything not a regular
    file)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def unique_name() -> str:
    """A Maildir unique name, as Python's :mod:`mailbox` makes them: the time, microseconds,
    process id and a counter, then the host name (``/`` and ``:`` escaped)."""
    now = time.time()
    host = os.uname().nodename.replace("/", r"\057").replace(":", r"\072")
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_COUNTER)}.{host}"


def fsync(path: Path) -> None:
    """Flush a file or a folder to disk, so a draft reported written survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
