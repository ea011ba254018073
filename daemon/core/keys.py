"""Draft keys: the idempotency key of every draft, carried in its ``X-Coffeechat-Key`` header
and used as its record's id. A key is a pure function of what the draft is for, so the same
draft is recognised in Drafts and in the state whatever happened in between.

- A meeting's draft: ``meeting-uid/kind/contact`` (:func:`draft_key`).
- A catch-up: ``contact/catch_up/n``, n counting from 1 (:func:`catch_up_key`).
- A news note: ``news/digest/contact``, the digest taken of the cleaned message
  (:func:`news_key`).
"""

from __future__ import annotations

import hashlib
import re

from daemon.core.model import DraftKind
from daemon.core.text import clean_block

_PLAIN_UID = re.compile(r"[\x21-\x7e]{1,400}")


def draft_key(kind: DraftKind, meeting_uid: str, contact_email: str) -> str:
    """Return the idempotency key of a meeting's draft: ``meeting-uid/kind/contact``.

    A uid that could not travel in a mail header as it is (not printable ASCII, too long, or
    holding an encoded-word marker) is replaced by ``h-`` and a hash of it.
    """
    return f"{_key_safe(meeting_uid)}/{kind}/{contact_email}"


def _key_safe(uid: str) -> str:
    if _PLAIN_UID.fullmatch(uid) and "=?" not in uid and "?=" not in uid:
        return uid
    return "h-" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def catch_up_key(contact_email: str, n: int) -> str:
    """Return the idempotency key of the ``n``-th catch-up with a contact (``n`` from 1)."""
    return f"{contact_email}/catch_up/{n}"


def news_key(message: str, email: str) -> str:
    """Return the idempotency key of one contact's note about ``message``."""
    digest = hashlib.sha256(clean_block(message).strip().encode("utf-8")).hexdigest()[:16]
    return f"news/{digest}/{email}"
