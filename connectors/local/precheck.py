"""A cheap look at a calendar file's raw text: could any of its events be tagged?

A first sync (issue 18, item 5) need not read in full the files whose events can never be
tagged: the core stores only tagged meetings. :func:`could_be_tagged` says, from the text
alone, whether a file may hold an event that :func:`daemon.core.tagging.is_tagged` would tag
(a keyword in its title or description, or one of the categories). It never says no to such
a file; it may say yes to others (a keyword in a location, an attendee's name, a comment).

It is exact under folding, escaping and case because it compares what the tagging compares,
made coarser the same way on both sides. The text is decoded as the reader decodes it
(UTF-8 with a BOM allowed, bad bytes replaced), unfolded with icalendar's own pattern and
unescaped with icalendar's own rule for property values (``\\n``, ``\\N``, ``\\,``, ``\\;``,
``\\:``, ``\\\\``), then case-folded, and every white space and every character that is not
printable is taken out, of the text and of each keyword and category alike. Whatever the
reader and :func:`daemon.core.text.clean_line` / ``clean_block`` make of a title or a
description (line breaks and control or format characters made spaces or dropped, spaces
collapsed or added around ``=?``, the text cut short) only changes characters that are taken
out here, or cuts the text; so a keyword found in a meeting's title or description, case
folded, is found here too. (A category equal to one configured is a keyword found, too.)

Only a keyword with a line break in it could match across the end of a title and the start
of its description; with such a keyword every file passes.

:func:`event_uids` gives the UIDs of the file's events, as the reader gives an event's (one
clean line), so that files sharing an event are still read together. (It may name an event
the reader would skip, with a RECURRENCE-ID it cannot read: that only ever joins files in one
reading. An event without a UID is one no other file can share.)
"""

from __future__ import annotations

import re

from icalendar.parser import Contentline
from icalendar.parser.content_line import UFOLD

from connectors.local.mapping import MAX_UID
from daemon.core.model import TaggingRules
from daemon.core.text import clean_line

_UNESCAPE = re.compile(r"\\([\\,;:nN])")
"""icalendar's unescaping of property values (``icalendar.parser.property``)."""
_SPACE = re.compile(r"\s+")
_ASCII_OUT = {code: None for code in (*range(0x21), 0x7F)}
"""White space and control characters of ASCII: taken out."""
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_STRUCTURE = re.compile(r"^(?:UID|BEGIN|END)[;:].*$", re.IGNORECASE | re.MULTILINE)
"""The lines that say where each UID is."""


def coarse(text: str) -> str:
    """``text`` case-folded, without white space or characters that are not printable."""
    text = text.casefold()
    if text.isascii():
        return text.translate(_ASCII_OUT)
    text = _SPACE.sub("", text)
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable())
    return text


class PreCheck:
    """:func:`could_be_tagged` with the rules made coarse once."""

    def __init__(self, rules: TaggingRules) -> None:
        """Remember the rules' keywords and categories, made coarse (see :func:`coarse`)."""
        words = [k.strip() for k in rules.keywords if k.strip()]
        words += [c.strip() for c in rules.categories if c.strip()]
        self.every_file = any(brk in word for word in words for brk in _LINE_BREAKS)
        """A keyword holds a line break: every file passes."""
        self.needles = tuple(dict.fromkeys(coarse(word) for word in words))

    def passes(self, text: str) -> bool:
        """Whether the decoded text of a file may hold an event that could be tagged."""
        if self.every_file:
            return True
        if not self.needles:
            return False
        seen = coarse(_UNESCAPE.sub(_unescaped, UFOLD.sub("", text)))
        return any(needle in seen for needle in self.needles)


def decoded(data: bytes) -> str:
    """The text of a file as the reader decodes it (bad bytes replaced)."""
    return data.decode("utf-8-sig", errors="replace")


def could_be_tagged(data: bytes, rules: TaggingRules) -> bool:
    """Whether the file's bytes may hold an event the rules tag (see the module)."""
    return PreCheck(rules).passes(decoded(data))


def event_uids(text: str) -> tuple[str, ...] | None:
    """The UIDs of the events (VEVENT, wherever it is) named in the decoded text, cleaned as
    the reader cleans an event's, in text order without repeats; ``None`` when a UID line
    cannot be read (the file is then read in full)."""
    found: list[str] = []
    open_: list[str] = []
    for line in _STRUCTURE.findall(UFOLD.sub("", text)):
        head = line[:4].upper()
        if head in ("BEGI", "END:", "END;"):
            name = line.partition(":")[2].strip().upper()
            if head == "BEGI":
                open_.append(name)
            elif open_ and open_[-1] == name:
                open_.pop()
            continue
        if not open_ or open_[-1] != "VEVENT":
            continue
        try:
            _, _, value = Contentline(line.rstrip("\r")).parts()  # type: ignore[no-untyped-call]
        except Exception:  # icalendar refuses the line: let the full reader decide
            return None
        uid = clean_line(str(value), limit=MAX_UID)
        if uid:
            found.append(uid)
    return tuple(dict.fromkeys(found))


def _unescaped(match: re.Match[str]) -> str:
    return "\n" if match.group(1) in "nN" else match.group(1)


__all__ = ["PreCheck", "coarse", "could_be_tagged", "decoded", "event_uids"]
