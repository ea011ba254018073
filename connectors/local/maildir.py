"""Drafts kept in a Maildir folder, the way mutt and mbsync keep them.

Each draft is one file in ``cur/`` flagged ``D`` (draft). Its reference is the Maildir key (the
file name without the ``:2,FLAGS`` part, which mail clients change when they set flags) and the
SHA-256 of the bytes written, so a draft whose flags changed is still "untouched" while one whose
content changed is "edited".

Updating writes the new file first and removes the old one after, so a crash in between never
leaves zero copies. If it leaves two, both carry the same ``X-Coffeechat-Key``:

* :meth:`MaildirDrafts.find` returns the newest one (live copies before trashed ones);
* the stored reference still names the old copy, which :meth:`MaildirDrafts.get` reports as
  untouched, so the core may update it again; that update removes the old copy and also any
  byte-identical copy carrying the same key, which is what the interrupted update left when
  the new content is the same; a leftover with different content stays in Drafts, where the
  user can see and delete it (nothing is ever lost).

Nothing here sends mail: there is no transport, only files.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
import mailbox
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from connectors.base import KEY_HEADER
from daemon.errors import ConnectorError
from daemon.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

DRAFT_FLAG = "D"
TRASHED_FLAG = "T"
MAX_HEADER_BYTES = 256 * 1024
"""Header blocks larger than this are not read further (no draft of ours comes close)."""
_SUBDIRS = ("cur", "new", "tmp")
_WRITE_POLICY = email.policy.default.clone(max_line_length=998)
"""RFC 5322's hard line limit: a long key header stays one plain line that any tool (or grep)
can read, instead of being cut into RFC 2047 encoded words to fit 78 columns."""


@dataclass(frozen=True)
class _Entry:
    key: str
    path: Path
    flags: str

    @property
    def trashed(self) -> bool:
        return TRASHED_FLAG in self.flags


def fingerprint(data: bytes) -> str:
    """Return the SHA-256 hex digest of ``data``: what a reference's fingerprint holds."""
    return hashlib.sha256(data).hexdigest()


class MaildirDrafts:
    """A :class:`connectors.base.DraftBox` over a Maildir folder.

    Every method raises ``ConnectorError`` (saying which folder and what to check) when the
    folder cannot be created, read or written.
    """

    def __init__(self, path: Path, *, account: str = "") -> None:
        """Remember the folder; it is created (with cur, new and tmp) on first use."""
        self._path = path
        self._account = account

    # --- DraftBox ------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Write ``message`` as a new draft in ``cur/`` flagged ``D``.

        ``reply_to`` is accepted and not used: a Maildir has no conversations of its own, and
        the ``In-Reply-To``, ``References`` and subject the core already set are all a mail
        client needs to thread the reply.

        Returns its Maildir key and the SHA-256 of the bytes on disk. Raises ``ValueError``
        when the message's ``X-Coffeechat-Key`` header is not ``key``, ``ConnectorError`` when
        the folder cannot be written.
        """
        if str(message.get(KEY_HEADER, "")).strip() != key:
            raise ValueError(f"the message must carry {KEY_HEADER}: {key}")
        data = message.as_bytes(policy=_WRITE_POLICY)
        try:
            box = self._open()
            stored = mailbox.MaildirMessage(data)
            stored.set_subdir("cur")
            stored.set_flags(DRAFT_FLAG)
            new_key = box.add(stored)
            entry = self._locate(new_key)
            if entry is None:
                raise FileNotFoundError(f"the new draft {new_key} vanished")
            written = entry.path.read_bytes()
            _fsync(entry.path)
            _fsync(entry.path.parent)
        except OSError as exc:
            raise self._error("write a draft into", exc) from exc
        return DraftRef(id=new_key, fingerprint=fingerprint(written))

    def find(self, key: str) -> DraftRef | None:
        """Return the draft whose ``X-Coffeechat-Key`` is ``key``, else ``None``.

        Reads only the header block of each file. When several carry the key, a live one wins
        over a trashed one, then the newest. The fingerprint is that of its current bytes.
        """
        best: tuple[bool, int, str] | None = None
        best_entry: _Entry | None = None
        for entry in self._entries():
            if _key_of(entry.path) != key:
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
        try:
            data = best_entry.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", exc) from exc
        return DraftRef(id=best_entry.key, fingerprint=fingerprint(data))

    def get(self, ref: DraftRef) -> DraftState:
        """Return "gone" when the file no longer exists or is flagged ``T`` (trashed),
        "untouched" when its bytes still hash to the fingerprint, else "edited"."""
        entry = self._locate(ref.id)
        if entry is None or entry.trashed:
            return "gone"
        try:
            data = entry.path.read_bytes()
        except FileNotFoundError:
            return "gone"
        except OSError as exc:
            raise self._error("read", exc) from exc
        return "untouched" if fingerprint(data) == ref.fingerprint else "edited"

    def update(self, ref: DraftRef, message: EmailMessage,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Replace an untouched draft: the new one is written, then the old one removed, then
        any byte-identical copy with the same key (left by an interrupted update).
        ``reply_to`` is accepted and not used, as for :meth:`create`.

        Returns the new reference. Raises ``ConnectorError`` when the draft was edited or is
        gone (it is then left as it is) or the folder cannot be written, ``ValueError`` when
        ``message`` has no ``X-Coffeechat-Key``.
        """
        key = str(message.get(KEY_HEADER, "")).strip()
        if not key:
            raise ValueError(f"the message must carry an {KEY_HEADER} header")
        state = self.get(ref)
        if state != "untouched":
            what = "was changed by you" if state == "edited" else "is no longer in Drafts"
            raise ConnectorError(
                f"{self._who()}the draft {ref.id} in {self._path} {what}, so it was not "
                "replaced; nothing needs doing"
            )
        new_ref = self.create(message, key)
        self._remove(ref.id)
        for entry in self._entries():
            if entry.key == new_ref.id or _key_of(entry.path) != key:
                continue
            try:
                same = fingerprint(entry.path.read_bytes()) == new_ref.fingerprint
            except OSError:
                continue
            if same:
                self._remove(entry.key)
        return new_ref

    def delete(self, ref: DraftRef) -> None:
        """Remove the draft. One already gone is fine. One the user edited since it was
        written is left in place (with a warning): their work wins."""
        entry = self._locate(ref.id)
        if entry is None:
            return
        if ref.fingerprint and not entry.trashed:
            try:
                edited = fingerprint(entry.path.read_bytes()) != ref.fingerprint
            except FileNotFoundError:
                return
            except OSError as exc:
                raise self._error("read", exc) from exc
            if edited:
                log.warning("%sthe draft %s in %s was edited, so it was not deleted",
                            self._who(), ref.id, self._path)
                return
        self._remove(ref.id)

    # --- files ---------------------------------------------------------------------------

    def _open(self) -> mailbox.Maildir:
        """Create the folder and its cur/new/tmp as needed; return a fresh Maildir view."""
        for sub in _SUBDIRS:
            (self._path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        return mailbox.Maildir(str(self._path), factory=None, create=False)

    def _entries(self) -> list[_Entry]:
        """Every message file in new/ and cur/ (read fresh each time: a mail client may have
        changed the folder since)."""
        found: list[_Entry] = []
        for sub in ("new", "cur"):
            folder = self._path / sub
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise self._error("list", exc) from exc
            for name in names:
                if name.startswith("."):
                    continue
                key, flags = split_name(name)
                found.append(_Entry(key, folder / name, flags))
        return found

    def _locate(self, key: str) -> _Entry | None:
        for entry in self._entries():
            if entry.key == key:
                return entry
        return None

    def _remove(self, key: str) -> None:
        entry = self._locate(key)
        if entry is None:
            return
        try:
            entry.path.unlink()
            _fsync(entry.path.parent)
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


def split_name(name: str) -> tuple[str, str]:
    """Return the Maildir key and the flags of a message file name: ``key:2,FLAGS`` gives
    ``(key, FLAGS)``; a name without the ``:2,`` part (as in ``new/``) has no flags."""
    key, _, info = name.partition(mailbox.Maildir.colon)
    return key, info[2:] if info.startswith("2,") else ""


def read_header_block(path: str | Path, limit: int = MAX_HEADER_BYTES) -> bytes:
    """Return the header block of the message file at ``path``: its bytes up to the first
    empty line, cut after about ``limit`` bytes (the body is never read, and a file without
    line breaks cannot make this read more). Raises ``OSError`` when the file cannot be read.
    """
    lines: list[bytes] = []
    size = 0
    with open(path, "rb") as handle:
        while size <= limit:
            line = handle.readline(limit + 1 - size)
            if not line or line in (b"\n", b"\r\n"):
                break
            lines.append(line)
            size += len(line)
    return b"".join(lines)


def _key_of(path: Path) -> str | None:
    """Return the ``X-Coffeechat-Key`` of a message file, reading its header block only;
    ``None`` when there is none or the file cannot be read."""
    try:
        block = read_header_block(path)
    except OSError:
        return None
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(block)
        value = headers.get(KEY_HEADER)
    except Exception:  # a mangled header in someone else's draft is not our business
        return None
    return None if value is None else str(value).strip()


def _fsync(path: Path) -> None:
    """Flush a file or a folder to disk, so a draft reported written survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
