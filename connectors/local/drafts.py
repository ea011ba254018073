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

Looking a key up reads only header blocks, once per file, and the listing of the folder and
what the headers said are kept while ``new/`` and ``cur/`` are unchanged; how, and how a
folder kept open from cycle to cycle checks them at every call, is in
:mod:`connectors.local.draftfiles`. Whether a draft is untouched or edited is always decided
from its current bytes. The stored reference keeps the name the draft was written under; its
key finds it again after a restart.

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
from email.message import EmailMessage
from pathlib import Path

from connectors.drafts import GuardedDrafts, check_key
from connectors.local.draftfiles import DraftFiles, Entry, Listing, Vanished
from connectors.local.maildir import DRAFT_FLAG, fingerprint, fsync, unique_name
from daemon.core.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

TMP_MAX_AGE_SECONDS = 24 * 3600
"""A file in ``tmp/`` older than this is a leftover of an interrupted write."""
_SUBDIRS = ("cur", "new", "tmp")
_WRITE_POLICY = email.policy.default.clone(max_line_length=998)
"""RFC 5322's hard line limit: a long key header stays one plain line that any tool (or grep)
can read, instead of being cut into RFC 2047 encoded words to fit 78 columns."""


class MaildirDrafts(GuardedDrafts[Entry]):
    """A :class:`connectors.base.DraftBox` over a Maildir folder (``update`` and ``delete``
    check the draft is untouched first, as :class:`connectors.drafts.GuardedDrafts` does).

    Every method raises ``ConnectorError`` (saying which folder and what to check) when the
    folder cannot be created, read or written.
    """

    def __init__(self, path: Path, *, account: str = "") -> None:
        """Remember the folder; it is created (with cur, new and tmp) on first use."""
        self._path = path
        self._files = DraftFiles(path, account=account)
        """Its message files: the last listing and the header blocks read, kept between
        calls as :mod:`connectors.local.draftfiles` says."""

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
            self._files.forget()
            fsync(final.parent)
        except OSError as exc:
            raise self._files.error("write a draft into", exc) from exc
        return DraftRef(id=new_key, fingerprint=fingerprint(data), key=key)

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """Return the draft whose ``X-Coffeechat-Key`` is ``key`` (and, with ``message_id``,
        whose Message-ID is that one), else ``None``.

        Reads only the header block of files not seen before. When several match, a live one
        wins over a trashed one, then the newest. The fingerprint is that of its current bytes.
        """
        files = self._files
        best: tuple[bool, int, str] | None = None
        best_entry: Entry | None = None
        for entry in files.with_key(files.listing(), key):
            if message_id and files.headers(entry).message_id != message_id:
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
        data = files.read(best_entry.path)
        if data is None:
            return None
        return DraftRef(id=best_entry.key, fingerprint=fingerprint(data), key=key)

    # --- GuardedDrafts -------------------------------------------------------------------

    def _replace(self, ref: DraftRef, where: Entry, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """Write the new draft, then remove the old file, then any identical copy with the
        same key (left by an interrupted update). ``reply_to`` is not used, as for
        :meth:`create`."""
        files = self._files
        new_ref = self.create(message, key)
        self._unlink(where)
        for entry in files.with_key(files.listing(), key):
            if entry.key == new_ref.id:
                continue
            data = files.read(entry.path)
            if data is not None and fingerprint(data) == new_ref.fingerprint:
                self._unlink(entry)
        return new_ref

    def _remove(self, ref: DraftRef, where: Entry) -> None:
        """Remove the draft's file (under whatever name it has now)."""
        self._unlink(where)

    def _name(self, ref: DraftRef) -> str:
        return f"{self._files.who()}the draft {ref.id} in {self._path}"

    # --- finding a draft -------------------------------------------------------------------

    def _locate(self, ref: DraftRef) -> tuple[DraftState, Entry | None]:
        """"untouched" when the draft is in the folder as written (under its name or, by its
        key, under another), "edited" when its message changed, "gone" when no live file
        (one not flagged ``T``) holds it; with the file that holds it now (for "gone", a
        trashed file still under its name, if any).

        A live file under the reference's name is the draft. Otherwise a live file with the
        reference's key is: the first whose message is the one written (untouched), else the
        newest (edited). A reference stored without a key (before they had one) is looked
        for among the files with any key, by its message only.
        """
        listing = self._files.listing()
        try:
            return self._resolve_in(listing, ref)
        except Vanished:
            self._files.forget()  # a file listed is gone: the listing was out of date
        try:
            return self._resolve_in(self._files.listing(), ref)
        except Vanished:
            return "gone", None

    def _resolve_in(self, listing: Listing, ref: DraftRef
                    ) -> tuple[DraftState, Entry | None]:
        """:meth:`_locate` over ``listing``; raises ``Vanished`` when a file it lists is
        gone."""
        files = self._files
        named = listing.by_name.get(ref.id, [])
        live = [e for e in named if not e.trashed]
        if live:
            entry = live[0]
            same = fingerprint(files.read_listed(entry)) == ref.fingerprint
            return ("untouched" if same else "edited"), entry
        if ref.key:
            others = [e for e in files.with_key(listing, ref.key) if not e.trashed]
        else:
            others = [e for e in listing.entries
                      if not e.trashed and files.headers(e).key]
        edited: tuple[int, Entry] | None = None
        for entry in others:
            data = files.read_listed(entry)
            if ref.fingerprint and fingerprint(data) == ref.fingerprint:
                return "untouched", entry
            if ref.key:
                mtime_ns = _mtime_ns(entry.path)
                if edited is None or mtime_ns > edited[0]:
                    edited = (mtime_ns, entry)
        if edited is not None:
            return "edited", edited[1]
        return "gone", named[0] if named else None

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
                                 "day ago", self._files.who(), item.name, folder)
                except FileNotFoundError:
                    continue
                except OSError as exc:  # someone else's leftover: not a reason to stop
                    log.info("%scould not remove the old leftover %s in %s (%s)",
                             self._files.who(), item.name, folder, exc.strerror or exc)

    def _unlink(self, entry: Entry) -> None:
        self._files.forget()
        try:
            entry.path.unlink()
            fsync(entry.path.parent)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._files.error("remove a draft from", exc) from exc


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
