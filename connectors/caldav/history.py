"""The user's mail history over IMAP (``reply_detection`` on a caldav account).

Two folders are read: INBOX and the folder the server marks SPECIAL-USE ``\\Sent`` (RFC 6154;
when it marks none, INBOX alone, with one warning). In each, one SEARCH per batch of
:data:`BATCH` contacts asks the server for the messages from, to or copied to any of them
since ``since`` (less :data:`SLACK`, as the server's SINCE compares the arrival date, to the
day), not flagged ``\\Draft``; then only the header fields the reader needs are fetched
(``BODY.PEEK[HEADER.FIELDS (...)]``: nothing is marked read, no body is downloaded) and read
by the same code as the Maildir history (:func:`connectors.local.headers.parse_headers`),
with the same rules: a message the headers mark as automatic (:mod:`daemon.core.automatic`)
is no answer from its sender, and a thread is its Message-ID, subject and References.

What a message's headers said is kept per folder and UIDVALIDITY for the life of the process
(:func:`shared_cache`), so a later call fetches only messages it has not seen; and a folder
whose UIDNEXT and message count have not moved since the last search (for the same contacts
and day) is not searched again: an idle call is one SELECT per folder.

Nothing here changes a message or sends anything.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.caldav.imap import ImapSession
from connectors.local.headers import BadHeaders, MessageInfo, newest_mail, parse_headers
from daemon.core.automatic import HEADERS as AUTOMATIC_HEADERS
from daemon.core.errors import ConnectorError, TransientError
from daemon.core.model import ContactMail

log = logging.getLogger(__name__)

BATCH = 40
"""Contacts per SEARCH: three criteria each keeps a command well under servers' line limits
(Dovecot's is 64 KB)."""
FETCH_BATCH = 500
"""UIDs per FETCH."""
SLACK = timedelta(days=2)
"""SEARCH SINCE compares the server's arrival date, by whole days in the server's zone."""
SPECIAL_SENT = rb"\Sent"
FIELDS = ("From", "To", "Cc", "Date", "Message-ID", "References", "In-Reply-To", "Subject",
          *AUTOMATIC_HEADERS)
_FETCH = f"BODY.PEEK[HEADER.FIELDS ({' '.join(name.upper() for name in FIELDS)})]"
_ANSWER = _FETCH.replace("BODY.PEEK", "BODY").encode()

_CacheKey = tuple[str, str, str, int]
"""(server, user, folder, UIDVALIDITY)."""


class HeaderCache:
    """What was read from one mailbox: each message's headers by folder and UID, and each
    folder's last search (the folder's shape then, and the UIDs found)."""

    def __init__(self) -> None:
        self.headers: dict[_CacheKey, dict[int, MessageInfo | None]] = {}
        self.searched: dict[_CacheKey, tuple[tuple[Any, ...], frozenset[int]]] = {}
        self.folders: list[str] | None = None
        """INBOX and the \\Sent folder, once listed."""


_SHARED: dict[tuple[str, str], HeaderCache] = {}


def shared_cache(server: str, user: str) -> HeaderCache:
    """What this process has read from ``user``'s mailbox on ``server`` (the account is
    opened again every cycle; this outlives it)."""
    return _SHARED.setdefault((server, user), HeaderCache())


class ImapHistory:
    """A :class:`connectors.base.MailHistory` over an IMAP mailbox.

    ``my_emails`` are the user's addresses (a message from one of them is the user's).
    """

    def __init__(self, session: ImapSession, my_emails: Collection[str], *,
                 cache: HeaderCache | None = None) -> None:
        self._session = session
        self._mine = frozenset(address.strip().lower() for address in my_emails)
        self._cache = cache if cache is not None else HeaderCache()
        self._folders: list[str] | None = None
        self.fetched = 0
        """How many messages' headers were fetched so far."""

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        """For each address in ``contacts``, the newest message from it to the user (not an
        automatic one) and the newest from the user to it (To or Cc), dated at or after
        ``since``. Raises ``ValueError`` for a naive ``since``; ``AuthError``,
        ``TransientError`` and ``ConnectorError`` as the session does."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        wanted = sorted({address.strip().lower() for address in contacts})
        return newest_mail(self._messages(wanted, since) if wanted else (), wanted, self._mine,
                           since)

    # --- reading -----------------------------------------------------------------------------

    def folders(self) -> list[str]:
        """INBOX and the SPECIAL-USE ``\\Sent`` folder (found once, and kept in the cache:
        a later cycle's account does not list the folders again)."""
        if self._folders is None and self._cache.folders is not None:
            self._folders = self._cache.folders
        if self._folders is None:
            with self._session.call("list the folders") as client:
                listed = client.list_folders()
            sent = [str(name) for flags, _d, name in listed
                    if SPECIAL_SENT.lower() in {bytes(f).lower() for f in flags}]
            if not sent:
                log.warning("account %r: the IMAP server marks no folder as \\Sent, so only "
                            "INBOX is read for replies", self._session.settings.account)
            self._folders = ["INBOX", *(name for name in sent if name.upper() != "INBOX")]
            self._cache.folders = self._folders
        return self._folders

    def _messages(self, wanted: list[str], since: datetime) -> list[MessageInfo]:
        found: list[MessageInfo] = []
        day = (since.astimezone(UTC) - SLACK).date()
        for folder in self.folders():
            try:
                info = self._session.select(folder)
            except ConnectorError as exc:
                if not isinstance(exc, TransientError):  # renamed or removed since listed:
                    self._cache.folders = None           # list the folders again next time
                raise
            key: _CacheKey = (self._session.settings.where, self._session.settings.username,
                              folder, int(info.get(b"UIDVALIDITY", 0)))
            known = self._cache.headers.setdefault(key, {})
            # A folder whose UIDNEXT and message count are what they were holds the same
            # messages (a new one raises UIDNEXT, an expunge lowers the count): the last
            # answer for the same contacts and day stands, and no SEARCH is sent.
            shape = (int(info.get(b"UIDNEXT", 0)), int(info.get(b"EXISTS", -1)),
                     tuple(wanted), day)
            last = self._cache.searched.get(key)
            if last is not None and last[0] == shape and shape[0] > 0:
                found.extend(m for uid in last[1] if (m := known.get(uid)) is not None)
                continue
            uids: set[int] = set()
            for start in range(0, len(wanted), BATCH):
                criteria = [*_any_of(wanted[start:start + BATCH]), "SINCE", day, "UNDRAFT"]
                charset = None if all(a.isascii() for a in wanted) else "UTF-8"
                with self._session.call(f"search {folder!r}") as client:
                    uids.update(int(uid) for uid in client.search(criteria, charset=charset))
            missing = sorted(uids - known.keys())
            for start in range(0, len(missing), FETCH_BATCH):
                with self._session.call(f"read headers in {folder!r}") as client:
                    answer = client.fetch(missing[start:start + FETCH_BATCH],
                                          [_FETCH, "INTERNALDATE", "FLAGS"])
                for uid, item in answer.items():
                    known[int(uid)] = _parse(item)
                    self.fetched += 1
            self._cache.searched[key] = (shape, frozenset(uids))
            found.extend(m for uid in uids if (m := known.get(uid)) is not None)
        return found


def _any_of(addresses: list[str]) -> list[Any]:
    """SEARCH criteria matching a message from, to or copied to any of ``addresses``: IMAP's
    ``OR`` takes two keys, so ``OR k1 OR k2 k3`` in prefix form (no nesting of parentheses,
    however many addresses)."""
    keys: list[list[Any]] = []
    for address in addresses:
        keys += [["FROM", address], ["TO", address], ["CC", address]]
    flat: list[Any] = []
    for key in keys[:-1]:
        flat += ["OR", *key]
    return [*flat, *keys[-1]]


def _parse(item: dict[bytes, Any]) -> MessageInfo | None:
    if rb"\Draft" in item.get(b"FLAGS", ()):
        return None
    block = item.get(_ANSWER)
    if not isinstance(block, bytes):
        return None
    arrived = item.get(b"INTERNALDATE")
    when = arrived if isinstance(arrived, datetime) else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return parse_headers(block, when.astimezone(UTC))
    except BadHeaders:
        return None
