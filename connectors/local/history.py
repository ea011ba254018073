"""The user's mail history, read from Maildir folders on disk (``reply_detection``).

The ``mail`` option names one Maildir folder, or a folder holding Maildir folders at any depth:
mbsync and offlineimap layouts (``~/Mail/INBOX``, ``~/Mail/Sent``, ``~/Mail/Work/Projects``) and
Maildir++ dot-folders (``.Sent`` inside the inbox) are all found. Any folder with ``cur`` and
``new`` inside is a Maildir; the account's own Drafts folder is left out.

Only header blocks are read, each file once: an in-memory index keyed by folder and Maildir key
(the file name without its ``:2,FLAGS`` part, which changes when a flag does) holds what each
message said, so a long-running service reads only new files on later calls, and a file that
disappears leaves the index. The index outlives one account object (:func:`shared_index`),
since the service opens its accounts again on every cycle. Flags are read from the current
file name on every call: a message flagged ``D`` (draft) never counts.

A file whose modification time is more than :data:`MTIME_SLACK` before ``since`` is not read
at all (delivery writes a message after its Date, so its Date is older still); it is read if a
later call asks about an earlier time.

A message the headers mark as automatic (:mod:`daemon.core.automatic`) never counts as one from
its sender.

Nothing here changes a file or sends anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.local.headers import BadHeaders, MessageInfo, newest_mail, parse_headers
from connectors.local.maildir import DRAFT_FLAG, read_header_block, split_name
from daemon.core.errors import ConnectorError
from daemon.core.model import ContactMail

log = logging.getLogger(__name__)

MTIME_SLACK = timedelta(days=7)
"""How far a message's Date may lie after its file's modification time (clock skew, slow
delivery) and the message still be found by the modification-time shortcut."""
MAX_DEPTH = 16
"""Folders nested deeper than this under ``mail`` are not looked into."""
_MAILDIR_PARTS = ("cur", "new", "tmp")


@dataclass(frozen=True)
class _TooOld:
    """A file not read because it was written long before the times asked about so far."""

    mtime: float


_Indexed = MessageInfo | _TooOld | None
"""What the index knows of one file: what it says, that it was too old to read, or that it
has nothing to learn from (no sender or Message-ID, or broken: warned about once)."""
_Key = tuple[str, str]
"""(Maildir folder, Maildir key)."""


class MailIndex:
    """What each message file's headers said, kept between calls so that each file is read
    once, and which problems were already warned about."""

    def __init__(self) -> None:
        """Start empty."""
        self.entries: dict[_Key, _Indexed] = {}
        self.warned: set[_Key] = set()
        self.warned_folders: set[str] = set()
        self.parsed = 0
        """How many message files have had their headers read so far."""


_SHARED: dict[tuple[str, str | None], MailIndex] = {}


def shared_index(root: Path, drafts: Path | None) -> MailIndex:
    """Return the index this process keeps for the mail folder ``root`` read without the
    Drafts folder ``drafts``, made on first use: an account opened again on every cycle
    still reads each file once."""
    key = (os.path.realpath(root), None if drafts is None else os.path.realpath(drafts))
    return _SHARED.setdefault(key, MailIndex())


class MaildirHistory:
    """A :class:`connectors.base.MailHistory` over Maildir folders on disk.

    ``root`` is the ``mail`` option, ``my_emails`` the user's addresses (a message from one of
    them is the user's), ``drafts`` the account's Drafts folder (never read), ``account`` the
    account's name for messages, ``index`` where what was read is kept (a new, private one
    by default; :func:`shared_index` gives the one kept for the whole process).
    """

    def __init__(self, root: Path, my_emails: Collection[str], *, drafts: Path | None = None,
                 account: str = "", index: MailIndex | None = None) -> None:
        """Remember where to look; nothing is read until :meth:`history` is called."""
        self._root = root
        self._mine = frozenset(address.strip().lower() for address in my_emails)
        self._drafts = os.path.realpath(drafts) if drafts is not None else None
        self._account = account
        self._index = index if index is not None else MailIndex()

    @property
    def parsed(self) -> int:
        """How many message files have had their headers read into this history's index so
        far (each is read once)."""
        return self._index.parsed

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        """For each address in ``contacts``, the newest message from it to the user and the
        newest from the user to it (in To or Cc), dated at or after ``since``; drafts never
        count, nor does automatic mail from the contact (an out-of-office reply, list mail:
        :mod:`daemon.core.automatic`). One scan serves every contact.

        Returns an entry for every address asked about (lower-cased). Raises ``ValueError``
        for a naive ``since``, ``ConnectorError`` when the ``mail`` folder is missing,
        unreadable or holds no Maildir folder. Broken or unreadable messages are skipped,
        each with one warning.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        wanted = {address.strip().lower() for address in contacts}
        return newest_mail(self._messages(since), wanted, self._mine, since)

    # --- scanning ------------------------------------------------------------------------

    def _messages(self, since: datetime) -> list[MessageInfo]:
        """Bring the index up to date with the files on disk; return every message that is
        not a draft. Files written long before ``since`` are left unread."""
        oldest = (since - MTIME_SLACK).timestamp()
        index: dict[_Key, _Indexed] = {}
        listed: set[_Key] = set()
        messages: list[MessageInfo] = []
        looked_at = 0
        for folder in self._folders():
            name = str(folder)
            for path, key, flags in _message_files(folder):
                if DRAFT_FLAG in flags:
                    continue
                where = (name, key)
                listed.add(where)
                if self._needs_reading(where, oldest):
                    looked_at += 1
                    try:
                        index[where] = self._read(path, where, oldest)
                    except _Unreadable:
                        continue
                else:
                    index[where] = self._index.entries[where]
                known = index[where]
                if isinstance(known, MessageInfo):
                    messages.append(known)
        self._index.entries = index
        self._index.warned &= listed
        log.debug("%smail history: %d message files indexed, %d looked at this time",
                  self._who(), len(index), looked_at)
        return messages

    def _needs_reading(self, where: _Key, oldest: float) -> bool:
        """A file not in the index, or one left unread as too old that is now recent
        enough, is read."""
        if where not in self._index.entries:
            return True
        known = self._index.entries[where]
        return isinstance(known, _TooOld) and known.mtime >= oldest

    def _read(self, path: str, where: _Key, oldest: float) -> _Indexed:
        """Read one file's headers, unless it was written before ``oldest`` (a timestamp).

        Returns what goes into the index. Raises ``_Unreadable`` when the file cannot be read
        this time: it stays out of the index and is tried again next time.
        """
        try:
            mtime = os.stat(path).st_mtime
            if mtime < oldest:
                return _TooOld(mtime)
            block = read_header_block(path)
        except FileNotFoundError as exc:  # moved (new/ to cur/) or expunged since listed
            raise _Unreadable from exc
        except OSError as exc:
            self._warn_once(where, f"it cannot be read ({exc.strerror or exc}); fix its "
                            "permissions, or move it out of the mail folder if it is not mail",
                            path)
            raise _Unreadable from exc
        self._index.parsed += 1
        try:
            return parse_headers(block, datetime.fromtimestamp(mtime, UTC))
        except BadHeaders as exc:
            self._warn_once(where, str(exc), path)
            return None

    def _warn_once(self, where: _Key, problem: str, path: str) -> None:
        if where not in self._index.warned:
            self._index.warned.add(where)
            log.warning("%sskipping the message %s: %s", self._who(), path, problem)

    def _folders(self) -> list[Path]:
        """Every Maildir folder under the root (the root included), the Drafts folder left
        out. Raises ``ConnectorError`` when the root is missing or unreadable or holds none.
        """
        if not self._root.is_dir():
            raise self._error(f"the mail folder {self._root} does not exist or is not a folder")
        found: list[Path] = []
        seen: set[str] = set()
        pending: list[tuple[Path, int]] = [(self._root, 0)]
        while pending:
            folder, depth = pending.pop()
            real = os.path.realpath(folder)
            if real in seen:
                continue
            seen.add(real)
            try:
                children = _subfolders(folder)
            except NotADirectoryError:  # a link to a file
                continue
            except OSError as exc:
                if folder == self._root:
                    raise self._error(f"the mail folder {self._root} cannot be read "
                                      f"({exc.strerror or exc})") from exc
                if str(folder) not in self._index.warned_folders:
                    self._index.warned_folders.add(str(folder))
                    log.warning("%sskipping the mail folder %s: it cannot be read (%s); fix "
                                "its permissions or links to read the mail in it",
                                self._who(), folder, exc.strerror or exc)
                continue
            is_maildir = "cur" in children and "new" in children
            if is_maildir:
                found.append(folder)
            if depth < MAX_DEPTH:
                pending.extend((folder / name, depth + 1) for name in children
                               if not (is_maildir and name in _MAILDIR_PARTS))
        if not found:
            raise self._error(f"the mail folder {self._root} holds no Maildir folder (one with "
                              "cur and new inside)")
        return [folder for folder in found if os.path.realpath(folder) != self._drafts]

    def _error(self, problem: str) -> ConnectorError:
        return ConnectorError(
            f"{self._who()}{problem}: fix `mail` in the config so that it names your Maildir "
            "folder, or the folder of Maildir folders (such as ~/Mail) where your sent and "
            "received mail is kept"
        )

    def _who(self) -> str:
        return f"account {self._account!r}: " if self._account else ""


class _Unreadable(Exception):
    """A file that could not be read this time; it stays out of the index."""


def _subfolders(folder: Path) -> list[str]:
    """The names of the folders (and links, which may lead to folders) inside ``folder``,
    sorted. Raises ``OSError`` when it cannot be listed."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries
                      if entry.is_dir(follow_symlinks=False) or entry.is_symlink())


def _message_files(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(path, Maildir key, flags) of every message file in ``new/`` and ``cur/``. A listing
    that fails is skipped (the folder may be mid-rename by a sync tool)."""
    for part in ("new", "cur"):
        directory = os.path.join(folder, part)
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.startswith("."):
                key, flags = split_name(name)
                yield os.path.join(directory, name), key, flags
