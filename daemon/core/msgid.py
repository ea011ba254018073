"""Message-IDs: the one grammar coffeechat accepts, for every connector and for the replies it
writes. An id read from a mailbox ends up in the ``In-Reply-To`` and ``References`` headers of a
draft, so only a plain, strictly valid shape is kept.

A valid id is ``<left@right>``, both sides dot-atoms (RFC 5322 section 3.6.4: printable ASCII
without spaces, quotes, brackets or line breaks), at most :data:`MAX_LENGTH` characters, and
without ``=?`` or ``?=`` (which a reader would take for an encoded word). Of a conversation's
ids, a reply refers to at most :data:`MAX_REFERENCES`: its first and its newest
(:func:`trimmed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_LENGTH = 250
"""The longest Message-ID kept, brackets included."""
MAX_REFERENCES = 10
"""At most this many ids in a ``References`` header: the conversation's first and the newest."""
MAX_SCANNED = 1000
"""At most this many bracketed tokens are looked at in one header value."""

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_VALID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*>")
_CANDIDATE = re.compile(rf"<[^<>\s]{{1,{MAX_LENGTH - 2}}}>")


def valid(value: str) -> bool:
    """Whether ``value`` is a valid Message-ID that can go in a header as it is."""
    return (len(value) <= MAX_LENGTH and "=?" not in value and "?=" not in value
            and _VALID.fullmatch(value) is not None)


def found_in(value: str) -> tuple[str, ...]:
    """Every valid Message-ID in a header value (``References``, ``In-Reply-To``,
    ``Message-ID``), in order, each once; anything else in it is ignored."""
    result: list[str] = []
    for n, match in enumerate(_CANDIDATE.finditer(value)):
        if n >= MAX_SCANNED:
            break
        found = match.group()
        if valid(found) and found not in result:
            result.append(found)
    return tuple(result)


def first_in(value: str) -> str | None:
    """The first valid Message-ID in a header value, or None."""
    found = found_in(value)
    return found[0] if found else None


def trimmed(ids: Iterable[str]) -> tuple[str, ...]:
    """``ids`` (oldest first) cut to :data:`MAX_REFERENCES`: the first, then the newest."""
    kept = tuple(ids)
    if len(kept) <= MAX_REFERENCES:
        return kept
    return (kept[0], *kept[len(kept) - MAX_REFERENCES + 1:])
