"""Pure reading of one message's header block: who wrote it to whom, when, and its thread;
and, over many such messages, the newest mail from and to each contact (what a mail history
answers, for the local Maildir and for IMAP alike).

Nothing here touches a file or the clock. Header text is other people's data: addresses go
through :func:`daemon.core.text.clean_address`, the subject through
:func:`daemon.core.text.clean_line`, and only Message-IDs of a strict, plain shape are kept
(they end up in the headers of a reply).

A first scan of a real mailbox reads tens of thousands of header blocks, so only the few
fields needed are picked out (unfolded as RFC 5322 says), and the common address forms
(``name@example.org``, ``Name <name@example.org>``, lists of them) are read by one regular
expression; anything else goes through :func:`email.utils.getaddresses`.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header

from daemon.core import msgid
from daemon.core.automatic import HEADERS as AUTOMATIC_HEADERS
from daemon.core.automatic import is_automatic
from daemon.core.model import ContactMail, MailSeen, ThreadRef
from daemon.core.text import clean_address, clean_line

_ADDR_SPEC = r"[^<>\s\",()\[\]\\:;@]+@[^<>\s\",()\[\]\\:;@]+"
_PLAIN_ADDRESS = re.compile(rf"\s*(?:[^\",<>()\[\]\\:;@]*<({_ADDR_SPEC})>|({_ADDR_SPEC}))\s*")
"""One address with an unquoted display name, or a bare one: no quotes, comments, groups or
escapes, so a comma can only separate two addresses."""
_AUTOMATIC = tuple(name.lower() for name in AUTOMATIC_HEADERS)
_NEEDED = frozenset({"from", "to", "cc", "date", "message-id", "references", "in-reply-to",
                     "subject", *_AUTOMATIC})


class BadHeaders(ValueError):
    """A header block that cannot be read at all; the message says why, in a few words."""


@dataclass(frozen=True)
class MessageInfo:
    """What one message's headers say, kept in the index of a mail history.

    The subject and the references are kept as raw header text and decoded only when the
    message is the one a draft may reply to (:meth:`thread`): most never are.
    """

    senders: frozenset[str]
    """The From addresses, lower-case."""
    recipients: frozenset[str]
    """The To and Cc addresses, lower-case."""
    at: datetime
    """The Date header in UTC, or the file's time when the Date cannot be used."""
    message_id: str
    raw_subject: str
    raw_references: str
    """The References header, or In-Reply-To when there is none."""
    automatic: bool = False
    """Sent by a machine (an out-of-office reply, list mail: see :mod:`daemon.core.automatic`),
    so no answer from its sender."""

    def thread(self) -> ThreadRef:
        """Return the reference a reply to this message needs: its Message-ID, its decoded
        and cleaned subject, and the valid Message-IDs it refers to (oldest first)."""
        return ThreadRef(message_id=self.message_id, subject=_subject(self.raw_subject),
                         references=msgid.trimmed(msgid.found_in(self.raw_references)))


def newest_mail(messages: Iterable[MessageInfo], wanted: Collection[str],
                mine: frozenset[str], since: datetime) -> dict[str, ContactMail]:
    """For each address of ``wanted`` (lower-case; the result keeps its order), the newest of
    ``messages`` dated at or after ``since`` from it to the user (not an automatic one) and
    from the user (a sender in ``mine``) to it (in To or Cc); ties go to the greater
    Message-ID. ``since`` is aware."""
    targets = set(wanted)
    newest_from: dict[str, MessageInfo] = {}
    newest_to: dict[str, MessageInfo] = {}
    for info in messages:
        if info.at < since:
            continue
        if not info.automatic:  # an out-of-office reply is no answer
            for address in info.senders & targets:
                _keep_newest(newest_from, address, info)
        if info.senders & mine:
            for address in info.recipients & targets:
                _keep_newest(newest_to, address, info)
    return {address: ContactMail(contact=address,
                                 last_from_contact=_seen(newest_from.get(address)),
                                 last_to_contact=_seen(newest_to.get(address)))
            for address in wanted}


def _keep_newest(newest: dict[str, MessageInfo], address: str, info: MessageInfo) -> None:
    current = newest.get(address)
    if current is None or (info.at, info.message_id) > (current.at, current.message_id):
        newest[address] = info


def _seen(info: MessageInfo | None) -> MailSeen | None:
    return None if info is None else MailSeen(at=info.at, thread=info.thread())


def parse_headers(block: bytes, file_time: datetime) -> MessageInfo | None:
    """Read a header block (as :func:`connectors.local.maildir.read_header_block` returns it).

    ``file_time`` (aware) is the message's time when it has no usable Date. Returns ``None``
    for a message there is nothing to learn from: no valid sender or no valid Message-ID.
    Raises ``BadHeaders`` when the block cannot be parsed.
    """
    try:
        fields = _fields(block.decode("utf-8", errors="replace"))
        senders = _addresses(fields.get("from", ()))
        message_id = msgid.first_in(_first(fields, "message-id"))
        if not senders or message_id is None:
            return None
        references = _first(fields, "references") or _first(fields, "in-reply-to")
        return MessageInfo(
            senders=senders,
            recipients=_addresses([*fields.get("to", ()), *fields.get("cc", ())]),
            at=_date(_first(fields, "date"), file_time),
            message_id=message_id,
            raw_subject=_first(fields, "subject"),
            raw_references=references,
            automatic=is_automatic((name, value) for name in _AUTOMATIC
                                   for value in fields.get(name, ())),
        )
    except Exception as exc:  # hostile or mangled text must never stop the scan
        raise BadHeaders(f"its headers cannot be parsed ({type(exc).__name__}); it is left "
                         "out, and the rest of the mail is still read") from exc


def _fields(text: str) -> dict[str, list[str]]:
    """The needed header fields of a header block, by lower-case name, each value unfolded
    (a line that starts with a space or a tab continues the field before it). Lines split
    only at line feeds: other line-break characters in a value stay part of it."""
    fields: dict[str, list[str]] = {}
    name = ""
    pieces: list[str] = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t"):
            pieces.append(line)
            continue
        if name:
            fields.setdefault(name, []).append("".join(pieces))
        field, colon, value = line.partition(":")
        name = field.strip().lower() if colon else ""
        if name not in _NEEDED:
            name = ""
        pieces = [value]
    if name:
        fields.setdefault(name, []).append("".join(pieces))
    return fields


def _first(fields: dict[str, list[str]], name: str) -> str:
    """The first value of field ``name``, "" when absent."""
    values = fields.get(name)
    return values[0] if values else ""


def _addresses(values: Iterable[str]) -> frozenset[str]:
    """Every valid address in the header values, lower-case."""
    found: list[str] = []
    for value in values:
        plain = [_PLAIN_ADDRESS.fullmatch(item) for item in value.split(",") if item.strip()]
        if all(plain):
            found.extend(m.group(1) or m.group(2) for m in plain if m is not None)
        else:
            found.extend(address for _, address in email.utils.getaddresses([value]))
    cleaned = (clean_address(address) for address in found)
    return frozenset(address for address in cleaned if address is not None)


def _date(value: str, file_time: datetime) -> datetime:
    """The Date header in UTC (a date without a zone is read as UTC); ``file_time`` when
    there is none or it cannot be read."""
    if value.strip():
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.astimezone(UTC)
        except (ValueError, TypeError, OverflowError, IndexError):
            pass
    return file_time.astimezone(UTC)


def _subject(raw: str) -> str:
    """The subject decoded from RFC 2047 encoded words and cleaned to one safe line; the raw
    text (cleaned) when it cannot be decoded."""
    try:
        text = str(make_header(decode_header(raw)))
    except Exception:  # the standard decoder raises many kinds on odd text; keep the raw
        text = raw
    return clean_line(text)
