"""Drafts kept in a Maildir folder, the way mutt and mbsync keep them.

Each draft is one file, written mode 0600 into ``cur/`` flagged ``D`` (draft). Its reference
holds the Maildir key the file got (its unique name: the part before any ``,`` or ``:``), the
draft's ``X-Coffeechat-Key`` and a fingerprint of the bytes written.

A draft is the same draft for as long as its key header is in the folder, whatever the tools
that share the folder do to the file:

* sync tools rename it: mbsync adds ``,U=N`` to the name, offlineimap gives it a new name, a
  client sets or clears flags (``D`` among them) or moves it between ``new/`` and ``cur/``;
* mail clients rewrite it: neomutt's recall-and-postpone and aerc's postpone write a new file
  and delete the old one, and an edit on the IMAP server (APPEND, then EXPUNGE) reaches the
  folder through the sync tool as one new file and one removed.

When no file has the reference's name any more, the draft is looked for by its key. A file with
the key whose message is the one written is the draft, untouched; one whose message changed is
the draft, edited by the user (never touched again); no file with the key means gone. "The
message written" is compared after undoing only what the sync tools change in a message they
copy (see :func:`normalised`): CRLF line ends, and the ``X-TUID`` (mbsync) and
``X-OfflineIMAP`` header lines they add on servers without UIDPLUS. Anything else that differs,
a header a client adds included, is an edit.

Looking a key up reads only header blocks, once per file name (Maildir files do not change
under a name), with ``O_NONBLOCK`` and ``O_NOFOLLOW`` and only regular files, so a FIFO, a link
or a huge file in the folder cannot block a scan or fill memory. The listing and what the
headers said are kept while ``new/`` and ``cur/`` are unchanged, so the new name a draft was
found under is remembered: a folder of renamed drafts costs one pass over their headers after
a start, then a look-up in memory (figures: docs/performance.md). The service keeps the folder
open from cycle to cycle (:mod:`daemon.cycle.kept`), so all of this is checked at every call,
never trusted from an earlier one: the listing is used again only while both folders keep the
(inode, time) they had, and only when it was made over 2 s after their last change; a file's
headers only while it keeps the inode it was read under; whether a draft is untouched or
edited always from its current bytes. The stored reference keeps the
name the draft was written under; its key finds it again after a restart.

Updating writes the new file first and removes the old one after, so a crash in between never
leaves zero copies. If it leaves two, both carry the same ``X-Coffeechat-Key``:

* :meth:`MaildirDrafts.find` returns the newest one (live copies before trashed ones);
* the stored reference still names the old copy, which :meth:`MaildirDrafts.get` reports as
  untouched, so the core may update it again; that update removes the old copy and also any
  identical copy carrying the same key, which is what the interrupted update left when the new
  content is the same; a leftover with different content stays in Drafts, where the user can
  see and delete it (nothing is ever lost).

A file left in ``tmp/`` for more than a day is removed when a draft is written, as the Maildir
convention says (a write that was interrupted; nothing else there is touched).

Nothing here sends mail: there is no transport, only files.
"""

from __future__ import annotations

import email.policy
import logging
import os
import stat
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from connectors.base import KEY_HEADER
from connectors.drafts import GuardedDrafts, check_key
from connectors.local.maildir import (
    DRAFT_FLAG,
    TRASHED_FLAG,
    fingerprint,
    fsync,
    open_regular,
    read_header_block,
    split_name,
    unique_name,
)
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

MAX_DRAFT_BYTES = 4 * 1024 * 1024
"""A file larger than this is not read to compare it: no draft coffeechat writes comes close
(its body is cut at 100,000 characters), so it is one the user changed."""
TMP_MAX_AGE_SECONDS = 24 * 3600
"""A file in ``tmp/`` older than this is a leftover of an interrupted write."""
_SUBDIRS = ("cur", "new", "tmp")
_WRITE_POLICY = email.policy.default.clone(max_line_length=998)
"""RFC 5322's hard line limit: a long key header stays one plain line that any tool (or grep)
can read, instead of being cut into RFC 2047 encoded words to fit 78 columns."""
_SETTLED_NS = 2 * 10**9
"""A folder changed less than this before it was listed is listed again next time (file
system clocks tick coarsely: a change in the same tick leaves its time as it was)."""


@dataclass(frozen=True)
class _Entry:
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


class _Vanished(Exception):
    """A file listed a moment ago is gone (renamed or removed since)."""


@dataclass(frozen=True)
class _Headers:
    """What a file's header block says about it: its key header and its Message-ID."""

    key: str | None
    message_id: str | None


class _Listing:
    """The message files of new/ and cur/ at one moment, by Maildir key and (filled in as
    asked) by ``X-Coffeechat-Key``."""

    def __init__(self, stamps: tuple[tuple[int, int] | None, ...],
                 entries: list[_Entry], settled: bool) -> None:
        self.stamps = stamps
        """The (inode, mtime) of new/ and cur/ when listed: any file added, removed or
        renamed there changes them."""
        self.entries = entries
        self.settled = settled
        """Whether both folders were last changed well before the listing, so that a change
        made in the same clock tick as the listing cannot hide behind equal stamps."""
        self.by_name: dict[str, list[_Entry]] = {}
        for entry in entries:
            self.by_name.setdefault(entry.key, []).append(entry)
        self.by_key: dict[str | None, list[_Entry]] | None = None






class MaildirDrafts(GuardedDrafts[_Entry]):
    """A :class:`connectors.base.DraftBox` over a Maildir folder (``update`` and ``delete``
    check the draft is untouched first, as :class:`connectors.drafts.GuardedDrafts` does).

    Every method raises ``ConnectorError`` (saying which folder and what to check) when the
    folder cannot be created, read or written.
    """

    def __init__(self, path: Path, *, account: str = "") -> None:
        """Remember the folder; it is created (with cur, new and tmp) on first use."""
        self._path = path
        self._account = account
        self._headers: dict[Path, tuple[int, _Headers]] = {}
        """The header block of each file seen, by path, with the file's inode (a Maildir
        file's content does not change under its name: a new name, or a new file under the
        same name, is read again)."""
        self._listing: _Listing | None = None
        """The last listing, used again while new/ and cur/ have not changed."""

    # --- DraftBox ------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Write ``message`` as a new draft in ``cur/`` flagged ``D``, mode 0600, the Maildir
        way: into ``tmp/`` first, flushed, then linked into ``cur/`` (never over another file)
        and unlinked from ``tmp/``. Files left in ``tmp/`` for more than a day are removed
        first; one that cannot be removed is logged and left.

        ``reply_to`` is accepted and not used: a Maildir has no conversations of its own, and
        the ``In-Reply-To``, ``References`` and subject the core already set are all a mail
        client needs to thread the reply.

        Returns its Maildir key, ``key`` and the fingerprint of the bytes on disk. Raises
        ``ValueError`` when the message's ``X-Coffeechat-Key`` header is not ``key``,
        ``ConnectorError`` when the folder cannot be written.
        """
        check_key(message, key)
        data = message.as_bytes(policy=_WRITE_POLICY)
        try:
            self._prepare()
            self._clean_tmp()
            new_key = unique_name()
            staged = self._path / "tmp" / new_key
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            final = self._path / "cur" / f"{new_key}:2,{DRAFT_FLAG}"
            os.link(staged, final)  # never over an existing file, as a rename could be
            os.unlink(staged)
            self._listing = None
            fsync(final.parent)
        except OSError as exc:
            raise self._error("write a draft into", exc) from exc
        return DraftRef(id=new_key, fingerprint=fingerprint(data), key=key)

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """Return the draft whose ``X-Coffeechat-Key`` is ``key`` (and, with ``message_id``,
        whose Message-ID is that one), else ``None``.

        Reads only the header block of files not seen before. When several match, a live one
        wins over a trashed one, then the newest. The fingerprint is that of its current bytes.
        """
        best: tuple[bool, int, str] | None = None
        best_entry: _Entry | None = None
        for entry in self._with_key(self._list(), key):
            if message_id and self._header_of(entry).message_id != message_id:
                continue
            try:
                mtime_ns = entry.path.stat().st_mtime_ns
            except OSError:
                continue
            rank = (not entry.trashed, mtime_ns, entry.key)
            if best is None or rank > best:
                best, best_entry = rank, entry
        if best_entry is None:
            return None
        data = self._read(best_entry.path)
        if data is None:
            return None
        return DraftRef(id=best_entry.key, fingerprint=fingerprint(data), key=key)

    # --- GuardedDrafts -------------------------------------------------------------------

    def _replace(self, ref: DraftRef, where: _Entry, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """Write the new draft, then remove the old file, then any identical copy with the
        same key (left by an interrupted update). ``reply_to`` is not used, as for
        :meth:`create`."""
        new_ref = self.create(message, key)
        self._unlink(where)
        for entry in self._with_key(self._list(), key):
            if entry.key == new_ref.id:
                continue
            data = self._read(entry.path)
            if data is not None and fingerprint(data) == new_ref.fingerprint:
                self._unlink(entry)
        return new_ref

    def _remove(self, ref: DraftRef, where: _Entry) -> None:
        """Remove the draft's file (under whatever name it has now)."""
        self._unlink(where)

    def _name(self, ref: DraftRef) -> str:
        return f"{self._who()}the draft {ref.id} in {self._path}"

    # --- finding a draft -------------------------------------------------------------------

    def _locate(self, ref: DraftRef) -> tuple[DraftState, _Entry | None]:
        """"untouched" when the draft is in the folder as written (under its name or, by its
        key, under another), "edited" when its message changed, "gone" when no live file
        (one not flagged ``T``) holds it; with the file that holds it now (for "gone", a
        trashed file still under its name, if any).

        A live file under the reference's name is the draft. Otherwise a live file with the
        reference's key is: the first whose message is the one written (untouched), else the
        newest (edited). A reference stored without a key (before they had one) is looked
        for among the files with any key, by its message only.
        """
        listing = self._list()
        try:
            return self._resolve_in(listing, ref)
        except _Vanished:
            self._listing = None  # a file listed is gone: the listing was out of date
        try:
            return self._resolve_in(self._list(), ref)
        except _Vanished:
            return "gone", None

    def _resolve_in(self, listing: _Listing, ref: DraftRef
                    ) -> tuple[DraftState, _Entry | None]:
        """:meth:`_locate` over ``listing``; raises ``_Vanished`` when a file it lists is
        gone."""
        named = listing.by_name.get(ref.id, [])
        live = [e for e in named if not e.trashed]
        if live:
            entry = live[0]
            same = fingerprint(self._read_listed(entry)) == ref.fingerprint
            return ("untouched" if same else "edited"), entry
        if ref.key:
            others = [e for e in self._with_key(listing, ref.key) if not e.trashed]
        else:
            others = [e for e in listing.entries
                      if not e.trashed and self._header_of(e).key]
        edited: tuple[int, _Entry] | None = None
        for entry in others:
            data = self._read_listed(entry)
            if ref.fingerprint and fingerprint(data) == ref.fingerprint:
                return "untouched", entry
            if ref.key:
                mtime_ns = _mtime_ns(entry.path)
                if edited is None or mtime_ns > edited[0]:
                    edited = (mtime_ns, entry)
        if edited is not None:
            return "edited", edited[1]
        return "gone", named[0] if named else None

    def _with_key(self, listing: _Listing, key: str) -> list[_Entry]:
        """The files of ``listing`` whose ``X-Coffeechat-Key`` is ``key`` (the header blocks
        of files not seen before are read once, when first asked)."""
        if listing.by_key is None:
            listing.by_key = {}
            for entry in listing.entries:
                listing.by_key.setdefault(self._header_of(entry).key, []).append(entry)
        return listing.by_key.get(key, [])

    def _read_listed(self, entry: _Entry) -> bytes:
        """The bytes of a listed file; raises ``_Vanished`` when it is gone."""
        data = self._read(entry.path)
        if data is None:
            raise _Vanished
        return data

    def _header_of(self, entry: _Entry) -> _Headers:
        """The key and Message-ID in the listed file's header block (``None`` when it has
        none or cannot be read), each file read once (again when a new file took its name)."""
        known = self._headers.get(entry.path)
        if known is None or known[0] != entry.inode:
            known = (entry.inode, _read_headers(entry.path))
            self._headers[entry.path] = known
        return known[1]

    # --- files ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the folder and its cur/new/tmp as needed."""
        for sub in _SUBDIRS:
            (self._path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)

    def _clean_tmp(self) -> None:
        """Remove the regular files in ``tmp/`` not changed for a day (leftovers of writes that
        were interrupted, by any tool). Links, folders and anything else stay."""
        folder = self._path / "tmp"
        limit = time.time() - TMP_MAX_AGE_SECONDS
        with os.scandir(folder) as listing:
            for item in listing:
                try:
                    info = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_mtime < limit:
                        os.unlink(item.path)
                        log.info("%sremoved %s, left in %s by an interrupted write over a "
                                 "day ago", self._who(), item.name, folder)
                except FileNotFoundError:
                    continue
                except OSError as exc:  # someone else's leftover: not a reason to stop
                    log.info("%scould not remove the old leftover %s in %s (%s)",
                             self._who(), item.name, folder, exc.strerror or exc)

    def _list(self) -> _Listing:
        """Every regular message file in new/ and cur/: listed again when either folder
        changed since the last listing (a mail client or sync tool may have been at work), or
        when that one was made too soon after a change to be sure of it. Forgets the headers
        of files no longer there."""
        stamps = tuple(self._stamp(sub) for sub in ("new", "cur"))
        known = self._listing
        if known is not None and known.settled and known.stamps == stamps:
            return known
        now_ns = time.time_ns()
        found: list[_Entry] = []
        for sub in ("new", "cur"):
            folder = self._path / sub
            try:
                with os.scandir(folder) as listing:
                    for item in listing:
                        if item.name.startswith(".") or not item.is_file(follow_symlinks=False):
                            continue
                        key, flags = split_name(item.name)
                        found.append(_Entry(key, folder / item.name, flags, item.inode()))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise self._error("list", exc) from exc
        if len(self._headers) > len(found):
            present = {e.path for e in found}
            self._headers = {p: h for p, h in self._headers.items() if p in present}
        settled = all(stamp is None or now_ns - stamp[1] > _SETTLED_NS for stamp in stamps)
        self._listing = _Listing(stamps, found, settled)
        return self._listing

    def _stamp(self, sub: str) -> tuple[int, int] | None:
        try:
            info = os.stat(self._path / sub)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("list", exc) from exc
        return info.st_ino, info.st_mtime_ns

    def _read(self, path: Path) -> bytes | None:
        """The bytes of the file at ``path``; ``None`` when it is gone. A file over
        :data:`MAX_DRAFT_BYTES` gives its first bytes only (enough to differ from any draft
        written)."""
        try:
            with open_regular(path) as handle:
                return handle.read(MAX_DRAFT_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", exc) from exc

    def _unlink(self, entry: _Entry) -> None:
        self._listing = None
        try:
            entry.path.unlink()
            fsync(entry.path.parent)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error("remove a draft from", exc) from exc

    def _error(self, doing: str, exc: OSError) -> ConnectorError:
        return ConnectorError(
            f"{self._who()}cannot {doing} the Drafts folder {self._path} "
            f"({exc.strerror or exc}): check that it exists and is writable, or fix `drafts` "
            "in the config"
        )

    def _who(self) -> str:
        return f"account {self._account!r}: " if self._account else ""








def _read_headers(path: Path) -> _Headers:
    """The key header and Message-ID of a message file, reading its header block only; each
    ``None`` when absent or the file cannot be read."""
    try:
        block = read_header_block(path)
    except OSError:
        return _Headers(None, None)
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(block)
        key, message_id = headers.get(KEY_HEADER), headers.get("Message-ID")
    except Exception:  # a mangled header in someone else's draft is not our business
        return _Headers(None, None)
    return _Headers(None if key is None else str(key).strip(),
                    None if message_id is None else str(message_id).strip())


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0




