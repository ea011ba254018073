"""Gmail's Drafts folder as a :class:`connectors.base.DraftBox`.

Only ``users.drafts.create``, ``list``, ``get``, ``update`` and ``delete`` are ever called;
nothing here sends (no ``drafts.send``, no ``messages.send``).

A reference is the Gmail draft id, with the id of the draft's current message as its
fingerprint: Gmail gives a draft a new message (a new message id, same draft id) every time it
is saved, by the user in Gmail or by ``drafts.update``. So a draft whose message id is still
the one coffeechat wrote is untouched, another message id means the user edited it, and a 404
means it is gone (deleted, or sent by the user).

A reply draft carries the conversation's ``threadId`` (Gmail files a draft in a thread only
when ``threadId`` is given and its ``In-Reply-To``/``References`` and subject fit, which the
core has set). Gmail refuses a ``threadId`` it does not know: 400 "Invalid thread_id value",
or 404 for a conversation that is gone. The draft is then written as a new conversation, with
a warning: a reply that cannot be threaded is still better than no draft.

Gmail takes no idempotency key. When a create fails in a way that leaves its outcome unknown
(a timeout, a dropped connection, a server error), the draft is looked for by its key before
the create is tried again, so a retry never makes a second draft.
"""

from __future__ import annotations

import base64
import email.policy
import logging
from email.message import EmailMessage
from typing import Any

from connectors.base import KEY_HEADER
from connectors.drafts import GuardedDrafts, check_key
from connectors.google.client import BadRequest, NotFound, Session, Throttled
from connectors.retry import with_retries
from daemon.core.errors import ConnectorError, TransientError
from daemon.core.model import DraftRef, DraftState, ThreadRef

log = logging.getLogger(__name__)

USER = "me"
FIND_PAGE_SIZE = 100
FIND_MAX_PAGES = 5
"""``find`` reads the key of at most this many pages of the newest drafts (500 drafts)."""
_WRITE_POLICY = email.policy.default.clone(max_line_length=998)
"""Keep the key header on one line (RFC 5322 allows 998 characters)."""


def encode(message: EmailMessage) -> str:
    """Return ``message`` as the base64url text Gmail's ``Message.raw`` holds."""
    return base64.urlsafe_b64encode(message.as_bytes(policy=_WRITE_POLICY)).decode("ascii")


class GmailDrafts(GuardedDrafts[str]):
    """The Drafts folder of one Gmail account (``get``, ``update`` and ``delete`` check the
    draft is untouched first, as :class:`connectors.drafts.GuardedDrafts` does for all)."""

    def __init__(self, session: Session) -> None:
        """Remember the session; nothing is fetched until a method is called."""
        self.session = session

    # --- DraftBox ------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str,
               reply_to: ThreadRef | None = None) -> DraftRef:
        """Save ``message`` as a new Gmail draft (``drafts.create`` with a ``raw`` body, plus
        ``threadId`` when ``reply_to`` names a conversation).

        Returns the draft id and message id. A conversation Gmail does not know is dropped
        (the draft is made as a new one, with a warning). Raises ``ValueError`` when the
        message's key header is not ``key``; ``AuthError``, ``TransientError`` or
        ``ConnectorError``.
        """
        check_key(message, key)
        body = _draft_body(message, reply_to)
        unsure = False

        def attempt() -> DraftRef:
            nonlocal unsure, body
            if unsure:
                found = self.find(key)
                if found is not None:
                    log.info("account %s: the draft %s was written before its answer was "
                             "lost; not writing it again", self.session.account, key)
                    return found
            try:
                answer = self.session.once(
                    lambda: self._drafts().create(userId=USER, body=body), "writing a draft")
            except TransientError as exc:
                unsure = unsure or not isinstance(exc, Throttled)
                raise
            except (BadRequest, NotFound) as exc:
                if not _thread_refused(exc, body):
                    raise
                body = self._without_thread(body, key)
                return attempt()
            return _ref(answer)

        return with_retries(attempt, f"account {self.session.account!r}: writing a draft",
                            self.session.policy, self.session.sleep, self.session.rng)

    def find(self, key: str, message_id: str = "") -> DraftRef | None:
        """Return the newest draft whose ``X-Coffeechat-Key`` is ``key``, or ``None``.
        ``message_id`` is not matched: Gmail may give a draft a Message-ID of its own, and its
        Drafts are written only through the API, not by file tools that copy headers.

        Reads the headers (``format=metadata``; ``drafts.get`` cannot narrow them to one, and
        ``messages.get``, which can, is not allowed by the ``gmail.compose`` scope) of the
        newest drafts, up to
        ``FIND_MAX_PAGES`` pages of ``FIND_PAGE_SIZE``. Raises ``AuthError``,
        ``TransientError`` or ``ConnectorError``.
        """
        page_token: str | None = None
        for _ in range(FIND_MAX_PAGES):
            query: dict[str, Any] = {"userId": USER, "maxResults": FIND_PAGE_SIZE}
            if page_token:
                query["pageToken"] = page_token
            answer = self._list(query)
            for item in answer.get("drafts") or []:
                draft_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(draft_id, str):
                    continue
                metadata = self._metadata(draft_id)
                if metadata is not None and _key_of(metadata) == key:
                    return _ref(metadata)
            page_token = answer.get("nextPageToken")
            if not isinstance(page_token, str) or not page_token:
                return None
        return None

    def get(self, ref: DraftRef) -> DraftState:
        """Return "gone" when Gmail no longer has the draft, "untouched" when its message is
        still the one written (same message id), else "edited". Raises ``AuthError``,
        ``TransientError`` or ``ConnectorError``."""
        metadata = self._metadata(ref.id)
        if metadata is None:
            return "gone"
        current = _ref(metadata)
        return "untouched" if ref.fingerprint and current.fingerprint == ref.fingerprint \
            else "edited"

    # --- GuardedDrafts -------------------------------------------------------------------

    def _locate(self, ref: DraftRef) -> tuple[DraftState, str | None]:
        """What :meth:`get` says, with the draft id (the reference names the draft)."""
        state = self.get(ref)
        return state, None if state == "gone" else ref.id

    def _replace(self, ref: DraftRef, where: str, message: EmailMessage, key: str,
                 reply_to: ThreadRef | None) -> DraftRef:
        """``drafts.update`` with the new message (``threadId`` as for :meth:`create`);
        returns the draft id with its new message id. Gmail offers no compare-and-swap: an
        edit made in the instant between the check and the update is overwritten."""
        body = {"id": where, **_draft_body(message, reply_to)}
        try:
            try:
                answer = self._put(where, body)
            except (BadRequest, NotFound) as exc:
                if not _thread_refused(exc, body):
                    raise
                answer = self._put(where, self._without_thread(body, key))
        except NotFound:
            raise self.not_replaced(ref, "gone") from None
        return _ref(answer)

    def _remove(self, ref: DraftRef, where: str) -> None:
        try:
            self.session.call(lambda: self._drafts().delete(userId=USER, id=where),
                              "deleting a draft")
        except NotFound:
            return

    def _name(self, ref: DraftRef) -> str:
        return f"account {self.session.account!r}: the Gmail draft {ref.id}"

    # --- helpers -------------------------------------------------------------------------

    def _drafts(self) -> Any:
        return self.session.resource("gmail", "users", "drafts")

    def _put(self, draft_id: str, body: dict[str, Any]) -> Any:
        return self.session.call(
            lambda: self._drafts().update(userId=USER, id=draft_id, body=body),
            "replacing a draft")

    def _without_thread(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """``body`` without its ``threadId``, after a warning that says so."""
        log.warning("account %s: Gmail does not know the conversation %s any more; the "
                    "draft %s is written as a new conversation", self.session.account,
                    body["message"].get("threadId"), key)
        return {**body, "message": {"raw": body["message"]["raw"]}}

    def _list(self, query: dict[str, Any]) -> dict[str, Any]:
        answer = self.session.call(lambda: self._drafts().list(**query), "listing drafts")
        if not isinstance(answer, dict):
            raise ConnectorError(f"account {self.session.account!r}: Gmail's draft listing "
                                 "was not a JSON object")
        return answer

    def _metadata(self, draft_id: str) -> dict[str, Any] | None:
        """The draft with its message's headers, or ``None`` on 404."""
        try:
            answer = self.session.call(
                lambda: self._drafts().get(userId=USER, id=draft_id, format="metadata"),
                "reading a draft")
        except NotFound:
            return None
        if not isinstance(answer, dict):
            raise ConnectorError(f"account {self.session.account!r}: Gmail's answer for draft "
                                 f"{draft_id} was not a JSON object")
        return answer


def _draft_body(message: EmailMessage, reply_to: ThreadRef | None) -> dict[str, Any]:
    """The ``Draft`` body: the raw message, in ``reply_to``'s conversation when it has one."""
    inner: dict[str, Any] = {"raw": encode(message)}
    if reply_to is not None and reply_to.thread_id:
        inner["threadId"] = reply_to.thread_id
    return {"message": inner}


def _thread_refused(exc: ConnectorError, body: dict[str, Any]) -> bool:
    """Whether ``exc`` is Gmail refusing the ``threadId`` of ``body``: a 404 (the
    conversation is gone) or a 400 about the thread id, and only when one was sent."""
    if "threadId" not in body["message"]:
        return False
    if isinstance(exc, NotFound):
        return True
    return isinstance(exc, BadRequest) and "thread" in exc.google_message.lower()


def _ref(draft: Any) -> DraftRef:
    if not isinstance(draft, dict) or not isinstance(draft.get("id"), str):
        raise ConnectorError("Gmail's answer did not name a draft; the next cycle will check "
                             "again")
    message = draft.get("message")
    message_id = message.get("id") if isinstance(message, dict) else None
    return DraftRef(id=draft["id"], fingerprint=message_id if isinstance(message_id, str)
                    else "")


def _key_of(draft: dict[str, Any]) -> str | None:
    message = draft.get("message")
    payload = message.get("payload") if isinstance(message, dict) else None
    headers = payload.get("headers") if isinstance(payload, dict) else None
    for header in headers if isinstance(headers, list) else []:
        if (isinstance(header, dict) and str(header.get("name", "")).lower()
                == KEY_HEADER.lower()):
            return str(header.get("value", "")).strip()
    return None
