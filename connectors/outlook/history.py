"""Who wrote to whom, read from an Outlook mailbox through Microsoft Graph (``reply_detection``).

Only reads: nothing here changes, moves or sends a message. Two requests per contact at most
(three when the newest sent mail needs a second page), whatever the size of the mailbox.

What Graph offers, as checked in its documentation and issue trackers (2026), and the choice:

* From the contact: ``GET /me/messages?$filter=receivedDateTime ge T and
  from/emailAddress/address eq 'x'&$orderby=receivedDateTime desc&$top=5``. Exact, one request,
  across every folder; the newest that is not automatic (below) counts. Graph's rule when
  ``$filter`` and ``$orderby`` are combined: the ``$orderby`` properties must come first in the
  ``$filter``, in the same order, else 400 ``InefficientFilter`` ("List messages"); so
  ``receivedDateTime`` leads.
* To the contact: ``$filter`` cannot do it. ``toRecipients/any(r: r/emailAddress/address eq
  'x')`` is refused ("The query filter contains one or more invalid nodes",
  microsoft-graph-explorer-v4 #3957; InefficientFilter with ``$orderby`` on personal accounts),
  and ``toRecipients/emailAddress/address`` is not a valid path. KQL ``$search`` can
  (``recipients:`` covers To, Cc and Bcc; ``to:``, ``cc:`` and ``participants:`` also exist),
  but it cannot be combined with ``$filter`` or ``$orderby``; its results come sorted by the
  time sent, newest first (at most 1000), and it matches display names and aliases too. So:
  ``$search="recipients:x"`` in Sent Items (which holds only what the user sent, never a
  draft), then on the client: To or Cc must hold the address exactly, and the walk stops at the
  first message sent before ``since``.
* Listing all sent mail since ``since`` would be one query for every contact, but its cost grows
  with the user's sent mail; the per-contact queries stay bounded.

The thread of a message: ``internetMessageId``, ``subject``, ``conversationId``, ``id``, and its
References from ``internetMessageHeaders`` (which Graph returns only when ``$select``ed, and only
for mail that came through transport: received mail has them, sent mail usually not).

Automatic mail from the contact (an out-of-office reply, list mail: :mod:`daemon.core.automatic`) is
no answer. What Graph shows of it, as checked in its documentation and issue trackers (2026):

* ``internetMessageHeaders``: "A collection of message headers defined by RFC5322 ...
  Returned only on applying a $select query option" (message resource,
  https://learn.microsoft.com/graph/api/resources/message). It is returned on a list too when
  ``$select``ed, for received mail (microsoftgraph/microsoft-graph-docs-contrib#7834), so the
  ``Auto-Submitted``, ``Precedence`` and ``List-Id`` of mail from outside come in the same
  request; sent mail has none (msgraph-sdk-dotnet#3025), which does not matter here.
* The message class, which the v1.0 message resource does not have as a property: it is
  PidTagMessageClass, read as the single-value extended property ``String 0x001A`` with
  ``$expand=singleValueExtendedProperties($filter=id eq 'String 0x001A')``, which works on a
  collection ("Get singleValueLegacyExtendedProperty",
  https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get). An
  out-of-office reply between mailboxes of one organisation is
  ``IPM.Note.Rules.OofTemplate.Microsoft`` (Exchange's own code tests delivered mail for that
  class). A third-party note, not checked here, says Graph leaves such replies out of folder
  listings altogether; either way they do not count.
* ``inferenceClassification`` (focused or other) is a guess at relevance, not a mark of
  automatic mail, and ``isDraft`` only tells drafts: neither is used for this.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.outlook.client import GraphClient, GraphError, odata_literal
from connectors.outlook.mapping import address_of, mail_seen, message_time
from daemon.core.automatic import MESSAGE_CLASS_PROPERTY, is_automatic, is_automatic_class
from daemon.core.errors import AuthError
from daemon.core.model import JSON, ContactMail, MailSeen
from daemon.core.text import clean_address

SEARCH_PAGE = 25
SEARCH_PAGES = 2
"""Sent mail read per contact: at most this many pages of this many messages."""
FROM_PAGE = 5
"""The newest messages from a contact read (one request): automatic ones are passed over, so a
contact whose this many newest messages are all automatic shows no answer."""
_SELECT = ("id,internetMessageId,subject,conversationId,isDraft,internetMessageHeaders,"
           "receivedDateTime,sentDateTime")
_MESSAGE_CLASS = f"singleValueExtendedProperties($filter=id eq '{MESSAGE_CLASS_PROPERTY}')"


class GraphHistory:
    """A :class:`connectors.base.MailHistory` over the signed-in user's Outlook mailbox."""

    def __init__(self, client: GraphClient) -> None:
        """Remember the client; nothing is read until :meth:`history`."""
        self._client = client

    def history(self, contacts: Collection[str], since: datetime) -> dict[str, ContactMail]:
        """For each address in ``contacts``, the newest message from it and the newest to it
        (To or Cc), both at or after ``since``; drafts never count. An address that is not a
        plain ``local@domain`` address is not looked up (it maps to an empty entry).

        Raises ``ValueError`` for a naive ``since``; ``AuthError`` when Graph refuses to let
        the mailbox be read; ``TransientError`` or ``ConnectorError`` as the client does.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        result: dict[str, ContactMail] = {}
        for contact in contacts:
            address = clean_address(contact)
            if address is None:
                result[contact] = ContactMail(contact=contact.strip().lower())
                continue
            result[contact] = ContactMail(contact=address,
                                          last_from_contact=self._from(address, since),
                                          last_to_contact=self._to(address, since))
        return result

    def _from(self, address: str, since: datetime) -> MailSeen | None:
        params = {
            "$filter": f"receivedDateTime ge {_odata_time(since)} and "
                       f"from/emailAddress/address eq '{odata_literal(address)}'",
            "$orderby": "receivedDateTime desc",
            "$select": _SELECT + ",from",
            "$expand": _MESSAGE_CLASS,
            "$top": str(FROM_PAGE),
        }
        for item in self._pages("/me/messages", params, pages=1):
            sender = address_of(item.get("from"))
            if sender == address and item.get("isDraft") is not True \
                    and not _automatic(item):
                return mail_seen(item, "receivedDateTime", since)
        return None

    def _to(self, address: str, since: datetime) -> MailSeen | None:
        params = {
            "$search": f'"recipients:{address}"',
            "$select": _SELECT + ",toRecipients,ccRecipients",
            "$top": str(SEARCH_PAGE),
        }
        for item in self._pages("/me/mailFolders/sentitems/messages", params, SEARCH_PAGES):
            sent = message_time(item.get("sentDateTime"))
            if sent is not None and sent < since:
                return None
            if item.get("isDraft") is True:
                continue
            people = {address_of(p) for field in ("toRecipients", "ccRecipients")
                      for p in _list(item.get(field))}
            if address in people:
                return mail_seen(item, "sentDateTime", since)
        return None

    def _pages(self, path: str, params: dict[str, str], pages: int) -> Iterator[JSON]:
        url: str = self._client.url(path)
        query: dict[str, str] | None = params
        for _ in range(pages):
            try:
                reply = self._client.request("GET", url, "reading mail", params=query)
            except GraphError as exc:
                if exc.status == 403:
                    raise AuthError(
                        f"account {self._client.account!r}: Microsoft Graph does not let "
                        f"coffeechat read mail ({exc.code or 'HTTP 403'}), which reply "
                        "detection needs; run `coffeechat auth outlook --account "
                        f"{self._client.account}` again to grant Mail.Read") from exc
                raise
            for item in _list(reply.body.get("value")):
                if isinstance(item, dict):
                    yield item
            link = reply.body.get("@odata.nextLink")
            if not isinstance(link, str) or not link:
                return
            url, query = self._client.check_link(link), None


def _automatic(item: JSON) -> bool:
    """Whether Graph's message is one a machine sent (:mod:`daemon.core.automatic`): by its
    ``internetMessageHeaders`` or by its message class."""
    headers = [(str(h.get("name", "")), str(h.get("value", "")))
               for h in _list(item.get("internetMessageHeaders")) if isinstance(h, dict)]
    classes = [str(p.get("value", "")) for p in _list(item.get("singleValueExtendedProperties"))
               if isinstance(p, dict)
               and str(p.get("id", "")).lower() == MESSAGE_CLASS_PROPERTY.lower()]
    return is_automatic(headers) or any(is_automatic_class(c) for c in classes)


def _odata_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
