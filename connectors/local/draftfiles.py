"""The files of a Maildir Drafts folder, as :class:`connectors.local.drafts.MaildirDrafts`
(its only user) looks through them: the message files of ``new/`` and ``cur/`` by Maildir key
and by ``X-Coffeechat-Key``, the key and Message-ID in each file's header block, and a file's
bytes, bounded. Nothing here writes, renames or removes a file, or decides what a draft is:
the drafts module does both, and calls :meth:`DraftFiles.forget` after each change it makes.

Looking a key up reads only header blocks, once per file name (Maildir files do not change
under a name), with ``O_NONBLOCK`` and ``O_NOFOLLOW`` and only regular files, so a FIFO, a link
or a huge file in the folder cannot block a scan or fill memory. The listing and what the
headers said are kept while ``new/`` and ``cur/`` are unchanged, so the new name a draft was
found under is remembered: a folder of renamed drafts costs one pass over their headers after
a start, then a look-up in memory (figures: docs/performance.md). The service keeps the folder
open from cycle to cycle (:mod:`daemon.cycle.kept`), so all of this is checked at every call,
never trusted from an earlier one: the listing is used again only while both folders keep the
(inode, time) they had, and only when it was made over 2 s after their last change; a file's
headers only while it keeps the inode it was read under.

Every method raises ``ConnectorError`` (from :meth:`DraftFiles.error`, saying which folder and
what to check) when the folder cannot be listed or a file in it read.
"""

from __future__ import annotations

import email.policy
import os
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from connectors.base import KEY_HEADER
from connectors.local.maildir import TRASHED_FLAG, open_regular, read_header_block, split_name
from daemon.core.errors import ConnectorError

MAX_DRAFT_BYTES = 4 * 1024 * 1024
"""A file larger than this is not read to compare it: no draft coffeechat writes comes close
(its body is cut at 100,000 characters), so it is one the user changed."""
_SETTLED_NS = 2 * 10**9
"""A folder changed less than this before it was listed is listed again next time (file
system clocks tick coarsely: a change in the same tick leaves its time as it was)."""


@dataclass(frozen=True)
class Entry:
    """A message file as listed."""

    key: str
    """The unique part of the name: what is left when ``,...`` and ``:2,FLAGS`` are cut."""
    path: Path
    flags: str
    inode: int = 0
    """The file's inode when listed: a new file renamed over an old one under the same name
    (as an editor saves) has another, so its header block is read again."""

    @property
    def trashed(self) -> bool:
        return TRASHED_FLAG in self.flags


class Vanished(Exception):
    """A file listed a moment ago is gone (renamed or removed since)."""


@dataclass(frozen=True)
class Headers:
    """What a file's header block says about it: its key header and its Message-ID."""

    key: str | None
    message_id: str | None


class Listing:
    """The message files of new/ and cur/ at one moment, by Maildir key and (filled in as
    asked, by :meth:`DraftFiles.with_key`) by ``X-Coffeechat-Key``."""

    def __init__(self, stamps: tuple[tuple[int, int] | None, ...],
                 entries: list[Entry], settled: bool) -> None:
        self.stamps = stamps
        """The (inode, mtime) of new/ and cur/ when listed: any file added, removed or
        renamed there changes them."""
        self.entries = entries
        self.settled = settled
        """Whether both folders were last changed well before the listing, so that a change
        made in the same clock tick as the listing cannot hide behind equal stamps."""
        self.by_name: dict[str, list[Entry]] = {}
        for entry in entries:
            self.by_name.setdefault(entry.key, []).append(entry)
        self.by_key: dict[str | None, list[Entry]] | None = None


class DraftFiles:
    """The message files of the Maildir folder ``path`` (of the account ``account``, named in
    messages), with the last listing and the header blocks read, kept as the module says."""

    def __init__(self, path: Path, *, account: str = "") -> None:
        self._path = path
        self._account = account
        self._headers: dict[Path, tuple[int, Headers]] = {}
        """The header block of each file seen, by path, with the file's inode (a Maildir
        file's content does not change under its name: a new name, or a new file under the
        same name, is read again)."""
        self._listing: Listing | None = None
        """The last listing, used again while new/ and cur/ have not changed."""

    def listing(self) -> Listing:
        """Every regular message file in new/ and cur/: listed again when either folder
        changed since the last listing (a mail client or sync tool may have been at work), or
        when that one was made too soon after a change to be sure of it. Forgets the headers
        of files no longer there."""
        stamps = tuple(self._stamp(sub) for sub in ("new", "cur"))
        known = self._listing
        if known is not None and known.settled and known.stamps == stamps:
            return known
        now_ns = time.time_ns()
        found: list[Entry] = []
        for sub in ("new", "cur"):
            folder = self._path / sub
            try:
                with os.scandir(folder) as listing:
                    for item in listing:
                        if item.name.startswith(".") or not item.is_file(follow_symlinks=False):
                            continue
                        key, flags = split_name(item.name)
                        found.append(Entry(key, folder / item.name, flags, item.inode()))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise self.error("list", exc) from exc
        if len(self._headers) > len(found):
            present = {e.path for e in found}
            self._headers = {p: h for p, h in self._headers.items() if p in present}
        settled = all(stamp is None or now_ns - stamp[1] > _SETTLED_NS for stamp in stamps)
        self._listing = Listing(stamps, found, settled)
        return self._listing

    def forget(self) -> None:
        """Drop the last listing (a file was written or removed, or one listed is gone): the
        next :meth:`listing` lists the folder again."""
        self._listing = None

    def with_key(self, listing: Listing, key: str) -> list[Entry]:
        """The files of ``listing`` whose ``X-Coffeechat-Key`` is ``key`` (the header blocks
        of files not seen before are read once, when first asked)."""
        if listing.by_key is None:
            listing.by_key = {}
            for entry in listing.entries:
                listing.by_key.setdefault(self.headers(entry).key, []).append(entry)
        return listing.by_key.get(key, [])

    def headers(self, entry: Entry) -> Headers:
        """The key and Message-ID in the listed file's header block (``None`` when it has
        none or cannot be read), each file read once (again when a new file took its name)."""
        known = self._headers.get(entry.path)
        if known is None or known[0] != entry.inode:
            known = (entry.inode, _read_headers(entry.path))
            self._headers[entry.path] = known
        return known[1]

    def read(self, path: Path) -> bytes | None:
        """The bytes of the file at ``path``; ``None`` when it is gone. A file over
        :data:`MAX_DRAFT_BYTES` gives its first bytes only (enough to differ from any draft
        written)."""
        try:
            with open_regular(path) as handle:
                return handle.read(MAX_DRAFT_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error("read", exc) from exc

    def read_listed(self, entry: Entry) -> bytes:
        """The bytes of a listed file; raises :class:`Vanished` when it is gone."""
        data = self.read(entry.path)
        if data is None:
            raise Vanished
        return data

    def error(self, doing: str, exc: OSError) -> ConnectorError:
        """The error for an ``OSError`` met while doing ``doing`` ("list", "read", ...) to
        the folder: which folder, what went wrong and what to check."""
        return ConnectorError(
            f"{self.who()}cannot {doing} the Drafts folder {self._path} "
            f"({exc.strerror or exc}): check that it exists and is writable, or fix `drafts` "
            "in the config"
        )

    def who(self) -> str:
        """The account, as messages about the folder start with it ("" when unnamed)."""
        return f"account {self._account!r}: " if self._account else ""

    def _stamp(self, sub: str) -> tuple[int, int] | None:
        try:
            info = os.stat(self._path / sub)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error("list", exc) from exc
        return info.st_ino, info.st_mtime_ns


def _read_headers(path: Path) -> Headers:
    """The key header and Message-ID of a message file, reading its header block only; each
    ``None`` when absent or the file cannot be read."""
    try:
        block = read_header_block(path)
    except OSError:
        return Headers(None, None)
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(block)
        key, message_id = headers.get(KEY_HEADER), headers.get("Message-ID")
    except Exception:  # a mangled header in someone else's draft is not our business
        return Headers(None, None)
    return Headers(None if key is None else str(key).strip(),
                   None if message_id is None else str(message_id).strip())
