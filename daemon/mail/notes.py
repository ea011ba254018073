"""Reading the sections of the user's notes: what was noted, suggested and promised.

Pure: no I/O. :func:`parse_notes` splits the notes of an event (the description without tag and
contact lines, see :func:`daemon.core.tagging.notes_from`) into three lists of one-line items.

The rules, in one place:

- A heading is a line holding ``Notes:``, ``Suggested:`` or ``Promised:`` (any case, spaces
  allowed around the word; the variants ``Note:``, ``Suggestions:`` and ``Promises:`` too).
  Text after the colon on the same line is the section's first item. A heading opens its
  section, which runs until the next heading.
- Lines before any heading are notes.
- Every other non-blank line is one item. A bullet or number in front (``- ``, ``* ``, ``• ``,
  ``– ``, ``1. ``, ``1) ``) is removed, also from the text after a heading's colon.
- A line without a bullet, indented deeper than the bullet of the item just before it,
  continues that item (a wrapped bullet line). Plain indented lines are items of their own.
- Each item is cleaned to one line with :func:`daemon.core.text.clean_line`; empty items are
  dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from daemon.core.text import clean_block, clean_line

Section = Literal["notes", "suggested", "promised"]

_HEADINGS: dict[str, Section] = {
    "note": "notes", "notes": "notes",
    "suggested": "suggested", "suggestions": "suggested",
    "promised": "promised", "promises": "promised",
}
_HEADING = re.compile(r"^[ \t]*(?P<word>[A-Za-z]+)[ \t]*:(?P<rest>.*)$")
_BULLET = re.compile(r"^[ \t]*(?:[-*•–]|\d{1,3}[.)])(?:[ \t]+|$)")


@dataclass(frozen=True)
class Notes:
    """The user's notes by section, each item one cleaned, non-empty line, in their order."""

    notes: tuple[str, ...] = ()
    """What the user noted: lines under ``Notes:`` and lines before any heading."""
    suggested: tuple[str, ...] = ()
    """What the contact suggested (people to contact, books, events), under ``Suggested:``."""
    promised: tuple[str, ...] = ()
    """What the user promised to do or send, under ``Promised:``."""


def parse_notes(text: str) -> Notes:
    """Return the sections of ``text`` (see the module's rules). Raises nothing."""
    items: dict[Section, list[str]] = {"notes": [], "suggested": [], "promised": []}
    section: Section = "notes"
    bullet_indent: int | None = None  # indentation of the bullet of the item just added
    for line in clean_block(text).split("\n"):
        heading = _heading(line)
        if heading is not None:
            section, first = heading
            _add(items[section], _unbullet(first))
            bullet_indent = None
            continue
        if not line.strip():
            bullet_indent = None
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        bullet = _BULLET.match(line)
        if bullet is None and bullet_indent is not None and indent > bullet_indent:
            items[section][-1] = clean_line(f"{items[section][-1]} {line}")
            continue
        added = _add(items[section], _unbullet(line))
        bullet_indent = indent if bullet is not None and added else None
    return Notes(notes=tuple(items["notes"]), suggested=tuple(items["suggested"]),
                 promised=tuple(items["promised"]))


def _heading(line: str) -> tuple[Section, str] | None:
    """The section a heading line opens and the text after its colon, or ``None``."""
    match = _HEADING.match(line)
    if match is None:
        return None
    section = _HEADINGS.get(match["word"].lower())
    return None if section is None else (section, match["rest"])


def _unbullet(line: str) -> str:
    """``line`` without a leading bullet or number."""
    bullet = _BULLET.match(line)
    return line[bullet.end():] if bullet else line


def _add(items: list[str], raw: str) -> bool:
    """Append ``raw`` cleaned to one line unless it is empty; return whether it was added."""
    item = clean_line(raw)
    if item:
        items.append(item)
    return bool(item)
