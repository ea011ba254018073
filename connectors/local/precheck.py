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

:func:`looks_whole` keeps files that are not valid UTF-8 or not whole calendars for the
full reader, so that what is wrong with them is still named on a first sync (a bad event
inside a file that cannot be tagged is named once the file changes).

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
_STRUCTURE = re.compile(r"^(?:BEGIN|END|UID)[:;][^\n]*", re.IGNORECASE | re.MULTILINE)
"""The lines that say which component each UID line is in."""
_FOLD = re.compile(r"\r?\n[ \t]")
"""A fold, where no line break comes right after another (then it is icalendar's UFOLD)."""
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def coarse(text: str) -> str:
    """``text`` case-folded, without white space (``str.isspace``) or characters that are
    not printable."""
    text = "".join(text.casefold().split())
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
        """Whether a file's text (:func:`text_of`) may hold an event that could be tagged."""
        if self.every_file:
            return True
        if not self.needles:
            return False
        if "\\" in text:
            text = _UNESCAPE.sub(_unescaped, text)
        seen = coarse(text)
        return any(needle in seen for needle in self.needles)


def text_of(data: bytes) -> str:
    """The text of a file as the reader decodes it (bad bytes replaced), unfolded as
    icalendar unfolds it."""
    text = data.decode("utf-8-sig", errors="replace")
    if "\n\n" in text or "\n\r" in text:
        # a line break right after another: icalendar's pattern takes the whole run
        return UFOLD.sub("", text)
    if "\n " not in text and "\n\t" not in text:
        return text  # nothing folded
    # otherwise a fold is exactly a line break and one space or tab (and much quicker)
    return _FOLD.sub("", text)


def looks_whole(text: str) -> bool:
    """Whether a file's text (:func:`text_of`) is valid UTF-8 (no replaced bytes) and one or
    more whole calendars (BEGIN:VCALENDAR first, END:VCALENDAR last), as a file the reader
    would have nothing to say about as a whole must be. Only such a file may be turned away:
    another is read in full, so that what is wrong with it is named."""
    if "\ufffd" in text:
        return False
    return (text[:15].upper() == "BEGIN:VCALENDAR" or text.lstrip()[:15].upper()
            == "BEGIN:VCALENDAR") and text.rstrip()[-13:].upper() == "END:VCALENDAR"


def could_be_tagged(data: bytes, rules: TaggingRules) -> bool:
    """Whether the file's bytes may hold an event the rules tag (see the module)."""
    return PreCheck(rules).passes(text_of(data))


def event_uids(text: str) -> tuple[str, ...] | None:
    """The UIDs of the events (VEVENT, wherever it is) of a file's text (:func:`text_of`),
    cleaned as the reader cleans an event's, in text order without repeats; ``None`` when a
    UID line cannot be read (the file is then read in full)."""
    found: list[str] = []
    open_: list[str] = []
    for line in _STRUCTURE.findall(text):  # lines as icalendar splits them (at LF)
        head = line[:6].upper()
        if head.startswith("BEGIN"):
            open_.append(line.partition(":")[2].strip().upper())
            continue
        if head.startswith("END"):
            if open_ and open_[-1] == line.partition(":")[2].strip().upper():
                open_.pop()
            continue
        if not open_ or open_[-1] != "VEVENT":
            continue
        line = line.removesuffix("\r")
        if line[3] == ":" and "\\" not in line:
            value = line[4:]  # no parameter, nothing escaped: the value as written
        else:
            try:
                _, _, value = Contentline(line).parts()  # type: ignore[no-untyped-call]
            except Exception:  # icalendar refuses the line: let the full reader decide
                return None
        uid = clean_line(str(value), limit=MAX_UID)
        if uid:
            found.append(uid)
    return tuple(dict.fromkeys(found))


def _unescaped(match: re.Match[str]) -> str:
    return "\n" if match.group(1) in "nN" else match.group(1)


__all__ = ["PreCheck", "coarse", "could_be_tagged", "event_uids", "looks_whole", "text_of"]
