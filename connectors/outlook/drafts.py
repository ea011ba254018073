"""Outlook drafts through Microsoft Graph: ``POST /me/messages`` saves a draft in Drafts.

Nothing here sends: no ``/send``, ``/reply``, ``/replyAll`` or ``/forward``, no ``Mail.Send``.
The idempotency key travels in the draft's ``internetMessageHeaders`` (which Graph accepts only
when a message is created), so :meth:`GraphDrafts.find` can read it back from the recent drafts
after a crash.

A reply draft is made with ``POST /me/messages/{id}/createReply``, so that Graph files it in the
conversation and sets In-Reply-To and References itself; then subject, body and recipients are
set to what the core rendered. Graph documents createReply's ``message`` parameter as "any
writeable properties" but does not say that ``internetMessageHeaders`` are among them (they are
documented as settable only when a message is created), so a reply draft carries its key as an
extended property instead: :data:`KEY_PROPERTY`, a string named property in the
``PS_INTERNET_HEADERS`` set, which Exchange writes out as the Internet header of that name
(MS-OXCMAIL) and which, unlike ``internetMessageHeaders``, Graph lets a client set on an
existing message and find with ``$filter=singleValueExtendedProperties/any(...)``. The key
goes in with createReply itself (so a create repeated after a lost answer finds the first
one) and again with the update that follows.

The fingerprint of a draft is its ``changeKey``, which Exchange changes on every change to the
item, so a draft the user opened and edited reads as "edited" (and so, rarely, does one whose
flags or categories they changed: coffeechat then leaves it alone, the safe side). When Graph
gives no ``changeKey``, ``lastModifiedDateTime`` stands in (prefixed ``modified:``).
Changes and deletions send ``If-Match`` with the change key, so a user's edit that lands
between our check and our change is not overwritten.

Creating is the one call that is not safe to repeat: when a create times out or its connection
drops, the Drafts folder is searched for the key before trying again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote

from connectors.base import KEY_HEADER
from connectors.drafts import GuardedDrafts, check_key
from connectors.outlook.client import GraphClient, GraphError, GraphReply, odata_literal
from daemon.core import msgid
from daemon.core.errors import ConnectorError
from daemon.core.model import JSON, DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

FIND_PAGE_SIZE = 50
FIND_MAX_PAGES = 4
"""``find`` reads at most this many pages of the newest drafts (a crash is resolved in the
next cycle, so the draft it looks for is among the newest)."""
MODIFIED_PREFIX = "modified:"
_CONFLICT = frozenset({409, 412})
KEY_PROPERTY = f"String {{00020386-0000-0000-C000-000000000046}} Name {KEY_HEADER}"
"""The key as a single-value extended property: the ``X-Coffeechat-Key`` Internet header
(``PS_INTERNET_HEADERS`` property set). Graph compares the name in the id case-sensitively."""
_UNKNOWN_SOURCE = frozenset({400, 404})
"""createReply's answers when the message to reply to is gone (404 ``ErrorItemNotFound``) or its
id is not one Graph accepts (400, e.g. ``ErrorInvalidIdMalformed``)."""


def to_graph_message(message: EmailMessage, *, key: str | None = None) -> JSON:
    """Return the Graph ``message`` JSON for ``message``: subject, body (text, or HTML when it
    has no text part), To/Cc/Bcc/Reply-To recipients, and, when ``key`` is given, the key in
    ``internetMessageHeaders`` (only allowed when creating). ``From`` is left to Graph, which
    sets the signed-in mailbox.

    Raises ``ValueError`` when ``key`` is given and the message does not carry it.
    """
    result: JSON = {"subject": str(message.get("Subject", "") or "")}
    content_type, content = _body(message)
    result["body"] = {"contentType": content_type, "content": content}
    for header, prop in (("To", "toRecipients"), ("Cc", "ccRecipients"),
                         ("Bcc", "bccRecipients"), ("Reply-To", "replyTo")):
        recipients = _recipients(message, header)
        if recipients or header == "To":
            result[prop] = recipients
    if key is not None:
        check_key(message, key)
        result["internetMessageHeaders"] = [{"name": KEY_HEADER, "value": key}]
    return result


def fingerprint(item: JSON) -> str:
    """Return the fingerprint of a Graph message: its ``changeKey``, else
    ``modified:<lastModifiedDateTime>``, else ""."""
    change_key = item.get("changeKey")
    if isinstance(change_key, str) and change_key:
        return change_key
    modified = item.get("lastModifiedDateTime")
    return f"{MODIFIED_PREFIX}{modified}" if isinstance(modified, str) and modified else ""


def key_of(item: JSON) -> str | None:
    """Return the ``X-Coffeechat-Key`` of a message: among its ``internetMessageHeaders`` (name
    compared without regard to case), else in its expanded :data:`KEY_PROPERTY`, else
    ``None``."""
    for field, name, wanted in (("internetMessageHeaders", "name", KEY_HEADER),
                                ("singleValueExtendedProperties", "id", KEY_PROPERTY)):
        entries = item.get(field)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get(name, "")).lower() == wanted.lower():
                return str(entry.get("value", "")).strip()
    return None


class GraphDrafts(GuardedDrafts[str]):
    """A :class:`connectors.base.DraftBox` over the signed-in user's Outlook Drafts folder
    (``update`` and ``delete`` check the draft is untouched first, as
    :class:`connectors.drafts.GuardedDrafts` does for all).

    Every method raises ``AuthError``, ``TransientError`` or ``ConnectorError``.
    """

    def __init__(self, client: GraphClient) -> None:
        """Remember the client; the Drafts folder's id is read on first need."""
        self._client = client
        self._drafts_folder: str | None = None

    # --- DraftBox --------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Save ``message`` as a new draft; returns its Graph id and change key.

        With ``reply_to``, the draft is a reply to that message (its ``provider_message_id``,
        else the message found by its Message-ID); when Graph no longer knows it, the draft is
        made as a new conversation and a warning logged.

        Raises ``ValueError`` when the message does not carry ``key``.
        """
        if reply_to is not None:
            check_key(message, key)
            made = self._create_reply(message, key, reply_to)
            if made is not None:
                return made
            log.warning("account %s: the message to reply to is no longer in the mailbox, so "
                        "the draft starts a new conversation", self._client.account)
        body = to_graph_message(message, key=key)

        def already_made() -> GraphReply | None:
            found = self._find_item(key)
            return GraphReply(200, found) if found is not None else None

        reply = self._client.request("POST", self._client.url("/me/messages"),
                                     "saving a draft", body=body, on_retry=already_made)
        return self._ref(reply.body, "saving a draft")

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """Return the newest draft in Drafts whose ``X-Coffeechat-Key`` is ``key``, else
        ``None``: a reply draft is found by its key property, any other among the newest few
        hundred drafts by its headers. ``message_id`` is not matched: Exchange gives every
        message an ``internetMessageId`` of its own."""
        item = self._find_item(key)
        return None if item is None else self._ref(item, "looking for a draft")

    def get(self, ref: DraftRef) -> DraftState:
        """Return "gone" when the draft no longer exists, was sent or left Drafts,
        "untouched" when its change key is still the one we wrote, else "edited"."""
        item = self._read(ref.id)
        if item is None or item.get("isDraft") is False:
            return "gone"
        folder = item.get("parentFolderId")
        if isinstance(folder, str) and folder and not self._in_drafts(folder):
            return "gone"
        return "untouched" if fingerprint(item) == ref.fingerprint else "edited"

    # --- GuardedDrafts -------------------------------------------------------------------

    def _locate(self, ref: DraftRef) -> tuple[DraftState, str | None]:
        """What :meth:`get` says, with the Graph id (the reference names the draft)."""
        state = self.get(ref)
        return state, None if state == "gone" else ref.id

    def _replace(self, ref: DraftRef, where: str, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """PATCH the subject, body and recipients, with ``If-Match`` (the key stays: Graph
        keeps headers from creation). ``reply_to`` changes nothing: a draft stays in the
        conversation it was made in (Graph cannot move a draft into another one)."""
        body = to_graph_message(message)

        def already_changed() -> GraphReply | None:
            item = self._read(where, "changeKey,lastModifiedDateTime,subject,body")
            if item is not None and _same_content(item, body):
                return GraphReply(200, item)
            return None

        try:
            reply = self._client.request("PATCH", self._message_url(where),
                                         "updating a draft", body=body,
                                         headers=_if_match(ref), on_retry=already_changed)
        except GraphError as exc:
            if exc.status in _CONFLICT:
                raise self.not_replaced(ref, "edited") from exc
            if exc.status == 404:
                raise self.not_replaced(ref, "gone") from exc
            raise
        return self._ref({**reply.body, "id": reply.body.get("id") or where},
                         "updating a draft")

    def _remove(self, ref: DraftRef, where: str) -> None:
        """DELETE with ``If-Match`` (Outlook moves the draft to Deleted Items); an edit that
        lands between the look and the delete keeps the draft."""
        try:
            self._client.request("DELETE", self._message_url(where), "deleting a draft",
                                 headers=_if_match(ref))
        except GraphError as exc:
            if exc.status == 404:
                return
            if exc.status in _CONFLICT:
                self.kept_edited(ref)
                return
            raise

    def _name(self, ref: DraftRef) -> str:
        return f"account {self._client.account!r}: the Outlook draft {_short(ref.id)}"

    # --- Graph -----------------------------------------------------------------------------

    def _find_item(self, key: str) -> JSON | None:
        return self._find_reply_draft(key) or self._find_by_header(key)

    def _find_reply_draft(self, key: str) -> JSON | None:
        """The newest draft carrying ``key`` in :data:`KEY_PROPERTY` (one request; Graph
        compares the value without regard to case, so it is compared again here)."""
        wanted = f"ep/id eq '{odata_literal(KEY_PROPERTY)}' and ep/value eq '{odata_literal(key)}'"
        reply = self._client.request(
            "GET", self._client.url("/me/mailFolders/drafts/messages"), "looking for a draft",
            params={"$filter": f"singleValueExtendedProperties/any(ep: {wanted})",
                    "$expand": f"singleValueExtendedProperties($filter=id eq "
                               f"'{odata_literal(KEY_PROPERTY)}')",
                    "$select": "id,changeKey,lastModifiedDateTime,createdDateTime",
                    "$top": "10"})
        items = reply.body.get("value", [])
        found = [item for item in (items if isinstance(items, list) else [])
                 if isinstance(item, dict) and key_of(item) == key]
        return max(found, key=lambda item: str(item.get("createdDateTime", "")), default=None)

    def _find_by_header(self, key: str) -> JSON | None:
        url = self._client.url("/me/mailFolders/drafts/messages")
        params: dict[str, str] | None = {
            "$select": "id,changeKey,lastModifiedDateTime,internetMessageHeaders",
            "$top": str(FIND_PAGE_SIZE),
            "$orderby": "createdDateTime desc",
        }
        for _ in range(FIND_MAX_PAGES):
            reply = self._client.request("GET", url, "looking for a draft", params=params)
            items = reply.body.get("value", [])
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and key_of(item) == key:
                    return item
            next_link = reply.body.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                return None
            url, params = self._client.check_link(next_link), None
        return None

    def _create_reply(self, message: EmailMessage, key: str,
                      thread: ThreadRef) -> DraftRef | None:
        """Make the reply draft and set its content; ``None`` when Graph does not know the
        message to reply to."""
        content = to_graph_message(message)
        tagged = {**content, "singleValueExtendedProperties": [{"id": KEY_PROPERTY,
                                                                 "value": key}]}
        for source in self._reply_sources(thread):
            made = self._start_reply(source, tagged, key)
            if made is not None:
                reply = self._client.request("PATCH", self._message_url(made),
                                             "writing a reply draft", body=tagged)
                return self._ref({**reply.body, "id": reply.body.get("id") or made},
                                 "writing a reply draft")
        return None

    def _reply_sources(self, thread: ThreadRef) -> Iterator[str]:
        """Graph ids of the message to reply to: the one remembered, then (looked up only if
        that one is unknown) the one with its Message-ID, as when the user moved it."""
        tried = ""
        if thread.provider_message_id:
            tried = thread.provider_message_id
            yield tried
        if not msgid.valid(thread.message_id):
            return
        reply = self._client.request(
            "GET", self._client.url("/me/messages"), "looking for the message to reply to",
            params={"$filter": f"internetMessageId eq '{odata_literal(thread.message_id)}'",
                    "$select": "id,isDraft", "$top": "5"})
        items = reply.body.get("value", [])
        for item in items if isinstance(items, list) else []:
            found = item.get("id") if isinstance(item, dict) else None
            if isinstance(found, str) and found and found != tried and not item.get("isDraft"):
                yield found
                return

    def _start_reply(self, source: str, tagged: JSON, key: str) -> str | None:
        """``POST .../createReply`` on ``source``; returns the new draft's id, or ``None`` when
        Graph does not know ``source``. A call whose answer was lost is not repeated when the
        draft it made can be found."""
        def already_made() -> GraphReply | None:
            found = self._find_reply_draft(key)
            return GraphReply(200, found) if found is not None else None

        url = self._client.url(f"/me/messages/{quote(source, safe='')}/createReply")
        try:
            reply = self._client.request("POST", url, "starting a reply draft",
                                         body={"message": tagged}, on_retry=already_made)
        except GraphError as exc:
            if exc.status in _UNKNOWN_SOURCE:
                log.info("account %s: Graph did not take the reply (%s)",
                         self._client.account, exc.code or exc.status)
                return None
            raise
        made = reply.body.get("id")
        if not isinstance(made, str) or not made:
            raise ConnectorError(f"account {self._client.account!r}: starting a reply draft: "
                                 "Graph's answer has no message id")
        return made

    def _read(self, message_id: str,
              select: str = "id,changeKey,lastModifiedDateTime,isDraft,parentFolderId"
              ) -> JSON | None:
        try:
            reply = self._client.request("GET", self._message_url(message_id),
                                         "reading a draft", params={"$select": select})
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise
        return reply.body

    def _in_drafts(self, folder: str) -> bool:
        """Whether ``folder`` is the Drafts folder. The folder's id is kept from an earlier
        call (the service keeps the account open for the process, see :mod:`daemon.cycle.kept`):
        before a draft is taken for gone because it lies elsewhere, the id is read again, so
        an id that changed since (a mailbox moved) never makes a draft look gone."""
        if folder == self._drafts_folder_id():
            return True
        self._drafts_folder = None
        return folder == self._drafts_folder_id()

    def _drafts_folder_id(self) -> str:
        if self._drafts_folder is None:
            reply = self._client.request("GET", self._client.url("/me/mailFolders/drafts"),
                                         "reading the Drafts folder",
                                         params={"$select": "id"})
            self._drafts_folder = str(reply.body.get("id", ""))
        return self._drafts_folder

    def _message_url(self, message_id: str) -> str:
        return self._client.url(f"/me/messages/{quote(message_id, safe='')}")

    def _ref(self, item: JSON, what: str) -> DraftRef:
        message_id = item.get("id")
        if not isinstance(message_id, str) or not message_id:
            raise ConnectorError(f"account {self._client.account!r}: {what}: Graph's answer "
                                 "has no message id")
        return DraftRef(id=message_id, fingerprint=fingerprint(item))


def _if_match(ref: DraftRef) -> dict[str, str]:
    if not ref.fingerprint or ref.fingerprint.startswith(MODIFIED_PREFIX):
        return {}
    return {"If-Match": f'W/"{ref.fingerprint}"'}


def _same_content(item: JSON, sent: JSON) -> bool:
    body: Any = item.get("body")
    content = body.get("content", "") if isinstance(body, dict) else ""
    return (item.get("subject") == sent["subject"]
            and str(content).strip() == str(sent["body"]["content"]).strip())


def _body(message: EmailMessage) -> tuple[str, str]:
    part = message.get_body(("plain", "html"))
    if part is None:
        return "text", ""
    kind = "html" if part.get_content_type() == "text/html" else "text"
    return kind, str(part.get_content())


def _recipients(message: EmailMessage, header: str) -> list[JSON]:
    values = [str(v) for v in message.get_all(header, [])]
    result: list[JSON] = []
    for name, address in getaddresses(values):
        if not address:
            continue
        entry: JSON = {"address": address}
        if name:
            entry["name"] = name
        result.append({"emailAddress": entry})
    return result



def _short(message_id: str) -> str:
    return message_id if len(message_id) <= 24 else message_id[:12] + "…" + message_id[-8:]
