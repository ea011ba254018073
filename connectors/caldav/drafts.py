"""Drafts in an IMAP folder (the server's SPECIAL-USE ``\\Drafts`` folder by default).

A draft is written with APPEND, flagged ``\\Draft``, with the message exactly as the core made
it (CRLF line ends) and its ``X-Coffeechat-Key`` header. Its reference's id is that key, and
its fingerprint that of the bytes written (the same fingerprint as a Maildir draft:
:func:`connectors.local.maildir.fingerprint`). A UID is no id: every edit in a mail program
gives the draft a new one, while the key header stays, so the key is what names the draft
across edits (and what :meth:`ImapDrafts.find` returns again for an edited draft). Each look
is therefore a header SEARCH, then a FETCH of what it found.

A draft is the same draft for as long as a message with its key is in the folder:

* under its UID, with the bytes written: untouched;
* an edit on the server or in any client is a new message (APPEND of the new version, then
  EXPUNGE of the old: a new UID). The key is looked up with a header SEARCH on the server; a
  message with the key and the bytes written is the draft, untouched (a client that copied it
  back); one with the key and other bytes is the user's edit: reported as edited, never
  changed or deleted;
* no message with the key (or only ones flagged ``\\Deleted``): gone.

Deleting an untouched draft flags its UID ``\\Deleted`` and expunges that UID only, with
UIDPLUS ``UID EXPUNGE``, so nothing else the user marked deleted is expunged. On a server
without UIDPLUS the draft is only flagged ``\\Deleted`` (which counts as gone here), and the
user's mail program expunges it in its own time: a plain EXPUNGE is never sent.

``find(key)`` after a crash: an APPEND whose answer was lost (a dropped connection, a kill)
may or may not have reached the server; the header SEARCH tells, so a draft is never written
twice nor lost. With a Message-ID, only a message carrying it is adopted.

Nothing here sends mail: IMAP has no way to.
"""

from __future__ import annotations

import email.policy
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from connectors.base import KEY_HEADER
from connectors.caldav.imap import ImapSession
from connectors.drafts import GuardedDrafts, check_key
from connectors.local.maildir import fingerprint
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

DRAFT = rb"\Draft"
DELETED = rb"\Deleted"
SPECIAL_DRAFTS = rb"\Drafts"
MAX_DRAFT_BYTES = 4 * 1024 * 1024
"""A message larger than this is not fetched to compare it: no draft of ours comes close."""
_WRITE_POLICY = email.policy.default.clone(max_line_length=998, linesep="\r\n")
"""IMAP messages have CRLF line ends; long header lines stay one line (as in a Maildir)."""
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
_KEY_FIELDS = f"BODY.PEEK[HEADER.FIELDS ({KEY_HEADER.upper()} MESSAGE-ID)]"
_KEY_FIELDS_ANSWER = f"BODY[HEADER.FIELDS ({KEY_HEADER.upper()} MESSAGE-ID)]".encode()


@dataclass(frozen=True)
class _Found:
    uid: int
    data: bytes


class ImapDrafts(GuardedDrafts[int]):
    """A :class:`connectors.base.DraftBox` over one IMAP folder (``update`` and ``delete``
    check the draft is untouched first, as :class:`connectors.drafts.GuardedDrafts` does).

    ``folder`` is the ``drafts_folder`` option; empty means the folder the server marks
    ``\\Drafts`` (SPECIAL-USE, RFC 6154), found on first use. Raises ``ConnectorError`` when
    there is none, ``AuthError`` and ``TransientError`` as :class:`ImapSession` does.
    """

    def __init__(self, session: ImapSession, folder: str = "", *, account: str = "") -> None:
        self._session = session
        self._wanted = folder
        self._folder: str | None = folder or None
        self._account = account or session.settings.account
        self._uidvalidity: int | None = None
        self._warned_uidplus = False
        self._sizes: dict[int, int] = {}
        """RFC822.SIZE of the messages the last key search found, by UID."""
        self.last_uid: int | None = None
        """The UID of the message the last :meth:`create` wrote (for tests and logs)."""

    # --- DraftBox ------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """APPEND ``message`` to the Drafts folder flagged ``\\Draft``; returns its reference.

        ``reply_to`` is accepted and not used: IMAP has no conversations of its own, and the
        ``In-Reply-To``, ``References`` and subject the core set are what mail programs
        thread by. Raises ``ValueError`` when the message does not carry ``key``,
        ``TransientError`` when the connection drops (the draft may or may not be on the
        server: :meth:`find` tells), ``ConnectorError`` when the server refuses.
        """
        check_key(message, key)
        data = message.as_bytes(policy=_WRITE_POLICY)
        folder = self._select()
        with self._session.call(f"save a draft into {folder!r}") as client:
            answer = client.append(folder, data, flags=(DRAFT,))
        self.last_uid = self._appended_uid(answer, key,
                                           str(message.get("Message-ID", "")).strip())
        return DraftRef(id=key, fingerprint=fingerprint(data), key=key)

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """The draft whose ``X-Coffeechat-Key`` is ``key`` (and, with ``message_id``, whose
        Message-ID is that one), searched on the server; the newest when several match.
        ``None`` when there is none (messages flagged ``\\Deleted`` do not count)."""
        self._select()
        for uid in sorted(self._with_key(key, message_id), reverse=True):
            found = self._fetch(uid)
            if found is not None:
                return DraftRef(id=key, fingerprint=fingerprint(found.data), key=key)
        return None

    # --- GuardedDrafts -------------------------------------------------------------------

    def _replace(self, ref: DraftRef, where: int, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """APPEND the new draft, then expunge the old UID (and any identical copy with the
        key that an interrupted update left)."""
        new_ref = self.create(message, key)
        new_uid = self.last_uid
        doomed = {where}
        for other in self._with_key(key, ""):
            if other in (new_uid, where):
                continue
            found = self._fetch(other)
            if found is not None and fingerprint(found.data) == new_ref.fingerprint:
                doomed.add(other)
        self._expunge(doomed)
        return new_ref

    def _remove(self, ref: DraftRef, where: int) -> None:
        """Expunge the draft's UID only."""
        self._expunge({where})

    def _name(self, ref: DraftRef) -> str:
        return f"{self._who()}the draft {ref.id} in {self._folder!r}"

    # --- the folder --------------------------------------------------------------------------

    @property
    def folder(self) -> str:
        """The Drafts folder's name (found on the server when not configured)."""
        if self._folder is None:
            self._folder = self._special_folder()
        return self._folder

    def _special_folder(self) -> str:
        with self._session.call("list the folders") as client:
            listed = client.list_folders()
        for flags, _delimiter, name in listed:
            if SPECIAL_DRAFTS.lower() in {bytes(f).lower() for f in flags}:
                return str(name)
        names = ", ".join(repr(str(name)) for _f, _d, name in listed[:20])
        raise ConnectorError(
            f"{self._who()}the IMAP server {self._session.settings.where} marks no folder as "
            f"\\Drafts (SPECIAL-USE); set `drafts_folder` in the config to the name of your "
            f"Drafts folder (the server has: {names or 'no folders'})")

    def _select(self) -> str:
        """Select the Drafts folder (once per connection); remember its UIDVALIDITY."""
        folder = self.folder
        if self._session.selected != folder:
            try:
                info = self._session.select(folder)
            except ConnectorError as exc:
                if type(exc) is ConnectorError and self._wanted:
                    raise ConnectorError(
                        f"{exc}; check `drafts_folder` (it is {self._wanted!r}), or leave it "
                        "empty to use the folder the server marks \\Drafts") from None
                raise
            self._uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        return folder

    # --- finding drafts ------------------------------------------------------------------------

    def _locate(self, ref: DraftRef) -> tuple[DraftState, int | None]:
        """``untouched`` when a message with the draft's key holds the bytes written,
        ``edited`` when the key is there with other bytes, ``gone`` otherwise; with the UID
        that holds it now (``None`` when gone): among the messages with its key, the one with
        the bytes written, else the newest."""
        key = ref.key or ref.id
        self._select()
        edited: int | None = None
        for uid in sorted(self._with_key(key, ""), reverse=True):
            found = self._fetch(uid)
            if found is None:
                continue
            if ref.fingerprint and fingerprint(found.data) == ref.fingerprint:
                return "untouched", uid
            if edited is None:
                edited = uid
        if edited is not None:
            return "edited", edited
        return "gone", None

    def _with_key(self, key: str, message_id: str) -> list[int]:
        """The UIDs of messages not flagged ``\\Deleted`` whose key header is exactly ``key``
        (and Message-ID ``message_id`` when given). The server's SEARCH matches substrings
        without case, so the headers of what it finds are read back and compared."""
        criteria: list[Any] = ["UNDELETED", "HEADER", KEY_HEADER, key]
        if message_id:
            criteria += ["HEADER", "Message-ID", message_id]
        charset = None if (key + message_id).isascii() else "UTF-8"
        self._sizes.clear()
        with self._session.call("search the Drafts folder") as client:
            # A server answers a SEARCH over its view of the folder as it was, and reports
            # what other sessions changed only afterwards: NOOP first brings the view up to
            # date (an edit made a moment ago in a mail program is seen).
            client.noop()
            uids = client.search(criteria, charset=charset)
            if not uids:
                return []
            answer = client.fetch(uids, [_KEY_FIELDS, "FLAGS", "RFC822.SIZE"])
        exact: list[int] = []
        for uid, items in answer.items():
            if DELETED in items.get(b"FLAGS", ()):
                continue
            block = items.get(_KEY_FIELDS_ANSWER)
            if not isinstance(block, bytes):
                continue
            headers = BytesHeaderParser(policy=email.policy.default).parsebytes(block)
            if str(headers.get(KEY_HEADER, "")).strip() != key:
                continue
            if message_id and str(headers.get("Message-ID", "")).strip() != message_id:
                continue
            exact.append(int(uid))
            self._sizes[int(uid)] = int(items.get(b"RFC822.SIZE", 0))
        return exact

    def _fetch(self, uid: int) -> _Found | None:
        """The message at ``uid`` (one the last key search found, not flagged
        ``\\Deleted``), when it is still there."""
        size = self._sizes.pop(uid, None)
        with self._session.call("read a draft") as client:
            if size is None:
                item = client.fetch([uid], ["FLAGS", "RFC822.SIZE"]).get(uid)
                if item is None or DELETED in item.get(b"FLAGS", ()):
                    return None
                size = int(item.get(b"RFC822.SIZE", 0))
            if size > MAX_DRAFT_BYTES:
                return _Found(uid, b"")  # too large to be ours as written: an edit
            body = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if not isinstance(body, bytes):
            return None
        return _Found(uid, body)

    def _appended_uid(self, answer: Any, key: str, message_id: str) -> int:
        """The UID the server gave the message just appended: from UIDPLUS's APPENDUID, else
        the newest message with the key (and Message-ID)."""
        text = answer if isinstance(answer, bytes) else str(answer).encode()
        match = _APPENDUID.search(text)
        if match is not None:
            uidvalidity = int(match.group(1))
            if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
                self._uidvalidity = uidvalidity
            return int(match.group(2))
        self._session.select(self.folder)  # see the new message
        found = self._with_key(key, message_id)
        if not found:
            raise ConnectorError(f"{self._who()}the draft saved into {self._folder!r} "
                                 "cannot be found there again; check the folder")
        return max(found)

    # --- removing ---------------------------------------------------------------------------

    def _expunge(self, uids: set[int]) -> None:
        """Flag ``uids`` ``\\Deleted`` and, with UIDPLUS, expunge exactly them."""
        if not uids:
            return
        wanted = sorted(uids)
        with self._session.call("delete a draft") as client:
            client.add_flags(wanted, [DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(wanted)
                return
        if not self._warned_uidplus:
            self._warned_uidplus = True
            log.warning("%sthe IMAP server %s has no UIDPLUS: drafts coffeechat removes are "
                        "flagged deleted and left for your mail program to expunge",
                        self._who(), self._session.settings.where)

    def _who(self) -> str:
        return f"account {self._account!r}: " if self._account else ""
