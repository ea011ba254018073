"""Which messages a machine sent rather than a person wrote: out-of-office and other automatic
replies, and mailing-list mail. None of them is an answer from a contact, so reply detection
(all three mail readers) passes over them: they neither reset the catch-up clock nor lift a
pause. This module is the one home of the rules; each reader hands it what its provider shows.

The marks, and where they are defined or documented:

* ``Auto-Submitted`` with any keyword but ``no`` (RFC 3834 section 5: ``auto-replied``,
  ``auto-generated``; RFC 5436 adds ``auto-notified``; ``no`` means written by a person, the
  same as no header). https://www.rfc-editor.org/rfc/rfc3834#section-5
* ``X-Autoreply`` and ``X-Autorespond``, written by older vacation programs instead.
* ``Precedence: auto_reply``, ``bulk``, ``list`` or ``junk``: a header no standard defines,
  written by mailing lists, bulk senders and some vacation programs.
* ``List-Id`` (RFC 2919): mail that came through a mailing list, even when its From is the
  contact's own address.
* Exchange: an out-of-office reply between two mailboxes of one organisation has the message
  class ``IPM.Note.Rules.OofTemplate.Microsoft`` (PidTagMessageClass, ``PR_MESSAGE_CLASS``,
  property tag ``0x001A``); one from another server is a plain ``IPM.Note`` and carries the
  headers above. https://learn.microsoft.com/office/client-developer/outlook/mapi/pidtagmessageclass-canonical-property

``X-Auto-Response-Suppress`` is deliberately not a mark: Exchange puts it on mail to ask that
no automatic reply be sent to it, so people's own messages carry it too ([MS-OXCMAIL] 2.1.3.2.20,
https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxcmail/ced68690-498a-4567-9d14-5c01f974d8b1;
sisimai/p5-sisimai#491 dropped it from auto-reply detection for this reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

HEADERS = ("Auto-Submitted", "X-Autoreply", "X-Autorespond", "Precedence", "List-Id")
"""The header fields the rules read: a reader asks its provider for these, and no others."""
OOF_CLASS = "IPM.Note.Rules.OofTemplate.Microsoft"
"""The Exchange message class of an out-of-office reply within one organisation."""
MESSAGE_CLASS_PROPERTY = "String 0x001A"
"""How Microsoft Graph names PidTagMessageClass as a single-value extended property."""
_NAMES = frozenset(name.lower() for name in HEADERS)
_PRECEDENCE = frozenset({"auto_reply", "bulk", "list", "junk"})
_COMMENT = re.compile(r"\([^()]*\)")
"""A comment, which RFC 5322 allows around the keyword (``no (a person wrote this)``)."""


def is_automatic(headers: Iterable[tuple[str, str]]) -> bool:
    """Return whether the header fields ``(name, value)`` mark a message as sent by a machine
    (see the module). Names are compared without regard to case; fields the rules do not read
    are ignored, so a reader may pass every header it has. Raises nothing."""
    for name, value in headers:
        field = name.strip().lower()
        if field not in _NAMES:
            continue
        text = value.strip().lower()
        if field == "auto-submitted":
            keyword = _COMMENT.sub(" ", text).split(";", 1)[0].strip()
            if keyword != "no":  # "auto-replied; owner-email=..." too
                return True
        elif field == "precedence":
            if text in _PRECEDENCE:
                return True
        elif field == "list-id":
            if text:
                return True
        else:  # X-Autoreply, X-Autorespond: their presence is the mark
            return True
    return False


def is_automatic_class(message_class: str) -> bool:
    """Return whether an Exchange message class is the out-of-office reply's (or a class
    derived from it: classes are dotted, compared without regard to case). Raises nothing."""
    wanted = OOF_CLASS.lower()
    got = message_class.strip().lower()
    return got == wanted or got.startswith(wanted + ".")
