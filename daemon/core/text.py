"""Cleaning text that comes from a calendar before it is used anywhere.

Calendar text (titles, names, descriptions, addresses) is data from other people. These
functions make it safe to put in a mail header or a template variable: no line breaks, no
control characters, no RFC 2047 encoded-word markers (CVE-2024-6923), no odd addresses.
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
MAX_LINE = 300
_NOT_IN_A_LINE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Control, format, surrogate and separator characters (``str.isprintable`` is False for
every one of them, which gives printable text a fast path)."""


def clean_line(value: str, limit: int = MAX_LINE) -> str:
    """Return ``value`` as one safe line: line breaks and control or format characters become
    spaces, runs of white space collapse, encoded-word markers (``=?``, ``?=``) are broken up,
    and the result is cut to ``limit`` characters."""
    if (value.isprintable() and len(value) <= limit and "  " not in value
            and value[:1] != " " and value[-1:] != " " and "=?" not in value
            and "?=" not in value):
        return value  # already one clean line: in printable text " " is the only space
    value = _LINE_BREAKS.sub(" ", value)
    if not value.isprintable():  # printable text holds none of them: skip the scan
        value = "".join(" " if unicodedata.category(ch) in _NOT_IN_A_LINE else ch
                        for ch in value)
    value = value.replace("=?", "= ?").replace("?=", "? =")
    value = _SPACES.sub(" ", value).strip()
    return value[:limit].rstrip()


def clean_block(value: str, limit: int = 20_000) -> str:
    """Return multi-line text with normalised line ends and no control characters other than
    newlines and tabs, cut to ``limit`` characters."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    value = value.replace("\u2029", "\n")
    if not value.replace("\n", "").replace("\t", "").isprintable():
        value = "".join(ch for ch in value
                        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return value[:limit].strip()


def clean_address(value: str) -> str | None:
    """Return the address lower-cased if it is a plain ``local@domain`` address, else ``None``.

    A ``mailto:`` prefix (as in iCalendar) is removed first.
    """
    lowered = value.lower()
    if len(lowered) <= 254 and _ADDRESS.fullmatch(lowered):
        return lowered  # a plain address already: no spaces, no prefix
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    value = value.strip().lower()
    if len(value) > 254 or not _ADDRESS.match(value):
        return None
    return value
