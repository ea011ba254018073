"""Gmail as a :class:`connectors.base.MailHistory`: who wrote to whom, and when
(``reply_detection``, scope ``gmail.readonly``).

Only ``users.messages.list`` and ``users.messages.get`` (``format=metadata``, a few headers)
are called: no body is read, nothing is changed or sent. For each contact two searches, newest
first, a few results each:

* from the contact: ``from:"ADDR" -in:drafts after:SECONDS``;
* from the user: ``{from:me in:sent} {to:"ADDR" cc:"ADDR"} -in:drafts after:SECONDS``
  (``in:sent`` too, because the API does not expand a Workspace alias in ``from:me``).

Then the headers of the newest result are read, until one passes the exact checks. Gmail's
search matches loosely (words, parts of addresses), so what counts is decided here, on the
headers: the contact's address is the sender (or a To/Cc recipient), the message is not a
draft, and its ``internalDate`` (when Google accepted it, in ms) is at or after ``since``.
From the contact, automatic mail (an out-of-office reply, list mail) is passed over too.

Automatic mail, as checked in Gmail's documentation (2026): Gmail has no label, search
operator or message field for an automatic reply, and search cannot look at a header's value.
What it does give is the headers: ``messages.get`` with ``format=metadata`` returns, in
``payload.headers``, exactly those named in ``metadataHeaders``
(https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages/get). So
the marks :mod:`daemon.core.automatic` reads (``Auto-Submitted``, ``Precedence``,
``List-Id``...) are added to the headers already asked for, in the same request: no request
more per message. A contact whose few newest messages (:data:`PAGE_SIZE`) are all automatic
shows no answer. ``after:`` takes epoch seconds, so a second is taken off to keep the boundary
in. A typical contact costs two searches and up to two reads; a search reads at most
:data:`PAGE_SIZE`.

Addresses come from calendars: only a plain ``local@domain`` address (checked by
:func:`daemon.core.text.clean_address`, which admits no quote, space or bracket) is searched, inside
double quotes; any other is skipped with a warning. A message whose ``Message-ID`` is missing
or malformed cannot be replied to: it is skipped (logged) and the next result is used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from connectors.google.client import NotFound, Session
from daemon.core import msgid
from daemon.core.automatic import HEADERS as AUTOMATIC_HEADERS
from daemon.core.automatic import is_automatic
from daemon.core.errors import ConnectorError
from daemon.core.model import ContactMail, MailSeen, ThreadRef
from daemon.core.text import clean_address, clean_line

log = logging.getLogger(__name__)

USER = "me"
PAGE_SIZE = 3
"""Results asked of each search; the headers of no more than these are read."""
HEADERS = ("Message-ID", "Subject", "References", "In-Reply-To", "From", "To", "Cc",
           *AUTOMATIC_HEADERS)
"""The headers asked for (``metadataHeaders``), the marks of automatic mail among them."""


@dataclass(frozen=True)
class Found:
    """One message as ``messages.get`` (``format=metadata``) describes it, checked."""

    at: datetime
    """``internalDate``, in UTC."""
    labels: frozenset[str]
    senders: frozenset[str]
    """The From addresses, lower-case."""
    recipients: frozenset[str]
    """The To and Cc addresses, lower-case."""
    thread: ThreadRef | None
    """How to reply to it; ``None`` when it has no usable Message-ID."""
    automatic: bool = False
    """Its headers mark it as sent by a machine (:mod:`daemon.core.automatic`)."""


def read_message(data: Mapping[str, Any]) -> Found | None:
    """Map one Gmail ``Message`` (``format=metadata``) to :class:`Found`.

    Returns ``None`` when it has no id or no readable ``internalDate``. Header text is
    untrusted: the subject is cleaned to one safe line, ids and addresses are kept only in
    their plain forms.
    """
    message_id, thread_id = data.get("id"), data.get("threadId")
    raw_date = data.get("internalDate")
    if not isinstance(message_id, str) or not message_id:
        return None
    try:
        millis = int(str(raw_date))
        at = datetime.fromtimestamp(millis / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    headers = _headers(data)
    labels = data.get("labelIds")
    own_id = msgid.found_in(headers.get("message-id", ""))
    thread = None
    if len(own_id) == 1 and headers.get("message-id", "").strip() == own_id[0]:
        thread = ThreadRef(
            message_id=own_id[0],
            subject=clean_line(headers.get("subject", "")),
            references=_references(headers),
            thread_id=thread_id if isinstance(thread_id, str) else "",
            provider_message_id=message_id,
        )
    return Found(
        at=at,
        labels=frozenset(x for x in labels if isinstance(x, str))
        if isinstance(labels, list) else frozenset(),
        senders=_addresses(headers.get("from", "")),
        recipients=_addresses(headers.get("to", "")) | _addresses(headers.get("cc", "")),
        thread=thread,
        automatic=is_automatic(_header_items(data)),
    )


def _headers(data: Mapping[str, Any]) -> dict[str, str]:
    """The payload's headers by lower-case name; the first of a repeated name wins."""
    result: dict[str, str] = {}
    for name, value in _header_items(data):
        result.setdefault(name.lower(), value)
    return result


def _header_items(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The payload's headers as (name, value), in order; malformed entries left out."""
    payload = data.get("payload")
    raw = payload.get("headers") if isinstance(payload, Mapping) else None
    items: list[tuple[str, str]] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            name, value = item.get("name"), item.get("value")
            if isinstance(name, str) and isinstance(value, str):
                items.append((name, value))
    return items


def _references(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The ids in ``References`` (or, when it has none, ``In-Reply-To``), oldest first."""
    return msgid.trimmed(msgid.found_in(headers.get("references", ""))
                         or msgid.found_in(headers.get("in-reply-to", "")))


def _addresses(value: str) -> frozenset[str]:
    found = (clean_address(address) for _, address in getaddresses([value]))
    return frozenset(a for a in found if a is not None)


class GmailHistory:
    """The sent and received mail of one Gmail account, read only."""

    def __init__(self, session: Session) -> None:
        """Remember the session; nothing is fetched until :meth:`history`."""
        self.session = session

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        """For each address in ``contacts``, the newest message from the contact and the
        newest from the user to the contact (To or Cc), at or after ``since``; drafts never
        count. An address that is not a plain ``local@domain`` is not searched (its entry is
        empty, and a warning logged).

        Raises ``ValueError`` for a naive ``since``; ``AuthError`` when the sign-in may not
        read mail, ``TransientError`` or ``ConnectorError``.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        after = math.floor(since.timestamp()) - 1
        result: dict[str, ContactMail] = {}
        for contact in contacts:
            key = contact.strip().lower()
            if key in result:
                continue
            address = clean_address(key)
            if address is None or address != key:
                log.warning("account %s: %r is not a plain e-mail address, so its mail is not "
                            "searched", self.session.account, clean_line(contact, 80))
                result[key] = ContactMail(contact=key)
                continue
            result[key] = self._contact_mail(address, since, after)
        return result

    def _contact_mail(self, address: str, since: datetime, after: int) -> ContactMail:
        """Both searches for one checked address; ``after`` is the ``after:`` bound."""
        quoted = f'"{address}"'
        return ContactMail(
            contact=address,
            last_from_contact=self._newest(
                f"from:{quoted} -in:drafts after:{after}", since,
                lambda m: address in m.senders and not m.automatic),
            last_to_contact=self._newest(
                f"{{from:me in:sent}} {{to:{quoted} cc:{quoted}}} -in:drafts after:{after}",
                since, lambda m: address in m.recipients),
        )

    def _newest(self, query: str, since: datetime,
                fits: Callable[[Found], bool]) -> MailSeen | None:
        """The newest message of the search ``query`` that ``fits``, is no draft, is dated at
        or after ``since`` and has a usable Message-ID."""
        answer = self._call(lambda: self._messages().list(userId=USER, q=query,
                                                          maxResults=PAGE_SIZE),
                            "searching mail")
        items = answer.get("messages")
        for item in (items if isinstance(items, list) else [])[:PAGE_SIZE]:
            message_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(message_id, str) or not message_id:
                continue
            found = self._read(message_id)
            if found is None:
                continue
            if found.at < since:
                return None  # results come newest first: the rest are older still
            if "DRAFT" in found.labels or not fits(found):
                continue
            if found.thread is None:
                log.info("account %s: message %s has no usable Message-ID, so it cannot be "
                         "replied to; the next older one is used", self.session.account,
                         message_id)
                continue
            return MailSeen(at=found.at, thread=found.thread)
        return None

    def _read(self, message_id: str) -> Found | None:
        """The message's headers, or ``None`` when it is gone or unreadable."""
        try:
            data = self._call(
                lambda: self._messages().get(userId=USER, id=message_id, format="metadata",
                                             metadataHeaders=list(HEADERS)),
                "reading a message's headers")
        except NotFound:
            return None
        found = read_message(data)
        if found is None:
            log.info("account %s: message %s has no date Gmail could give; skipped",
                     self.session.account, message_id)
        return found

    def _messages(self) -> Any:
        return self.session.resource("gmail", "users", "messages")

    def _call(self, make: Callable[[], Any], what: str) -> dict[str, Any]:
        answer = self.session.call(make, what)
        if not isinstance(answer, dict):
            raise ConnectorError(f"account {self.session.account!r}: Gmail's answer when "
                                 f"{what} was not a JSON object; the next cycle will try again")
        return answer
