"""The layout of the text an HTML body reads as: what each tag does to the lines being
written (a block or a table row starts a new line, a paragraph a blank one, a list item gets a
``- ``, a cell a space, ``pre`` keeps its spaces, scripts and styles are dropped, a link's
address follows its text), and the collecting of the text itself.

Its only user is :mod:`connectors.htmltext`, whose reader gives a :class:`Text` the tags and
the text of a body in order (each tag through :data:`ON_START`, :data:`ON_START_END` and
:data:`ON_END`); nothing here reads HTML.

A link keeps its address when its text does not show it ("my CV (https://example.org/cv)"):
an invitation's "Join here" or "agenda" is of no use in a plain-text draft or log without the
address behind it. Only ``https:``, ``http:`` and ``mailto:`` addresses are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BLOCKS = frozenset({"div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5",
                     "h6", "blockquote", "pre", "hr", "dt", "dd", "section", "article",
                     "header", "footer", "address", "center"})
_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})
_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_LINK_SCHEMES = ("https://", "http://", "mailto:")
"""The addresses a link keeps next to its text (others, such as ``javascript:``, are dropped)."""
_BLANK_LINES = re.compile(r"\n{3,}")


class Text:
    """Collects the text of an HTML body, turning block elements into line breaks: what each
    tag does is in :data:`ON_START`, :data:`ON_START_END` and :data:`ON_END`."""

    __slots__ = ("_bullet", "_links", "_pre", "_skip", "lines")

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self._skip = 0
        self._pre = 0
        self._bullet = False
        self._links: list[list[str]] = []
        """The links open (innermost last): each its address and the text read inside it."""

    def line_break(self) -> None:
        """Go on on a new line (unless the current one is still empty)."""
        if self.lines[-1].strip():
            self.lines.append("")

    def paragraph(self) -> None:
        """Go on after a blank line (unless the text so far ends with one)."""
        self.line_break()
        lines = self.lines
        if len(lines) >= 2 and lines[-2].strip():
            lines.append("")

    def block(self) -> None:
        """Start a block on a new line."""
        self.line_break()
        self._bullet = False

    def item(self) -> None:
        """Start a list item: a new line whose text gets a ``- ``."""
        self.line_break()
        self._bullet = True

    def pre(self) -> None:
        """Start preformatted text, whose spaces and line breaks are kept."""
        self.block()
        self._pre += 1

    def end_pre(self) -> None:
        """End preformatted text."""
        self._pre = max(0, self._pre - 1)
        self.line_break()

    def new_line(self) -> None:
        """Add a line (``<br>``), even after an empty one."""
        self.lines.append("")

    def cell(self) -> None:
        """Put a space after the text of the table cell before."""
        if self.lines[-1].strip():
            self.lines[-1] += " "

    def skip(self) -> None:
        """Drop text until the matching :meth:`end_skip`."""
        self._skip += 1

    def end_skip(self) -> None:
        """Undo one :meth:`skip`."""
        self._skip = max(0, self._skip - 1)

    def link(self, href: str) -> None:
        """Open a link ``<a href=...>``."""
        self._links.append([href, ""])

    def end_link(self) -> None:
        """Close the innermost link: its address follows its text, unless the text is the
        address already (an address alone when it has no text)."""
        if not self._links:
            return
        href, shown = self._links.pop()
        shown = _SPACE.sub(" ", shown).strip()
        if self._skip or href == shown or not href.lower().startswith(_LINK_SCHEMES):
            return
        self._write(f" ({href})" if shown else href)

    def empty_link(self, href: str) -> None:
        """Take a self-closing ``<a href=.../>``: a link without text."""
        self.link(href)
        self.end_link()

    def start(self, tag: str) -> None:
        """Take a start tag ``<tag ...>``."""
        if (action := ON_START.get(tag)) is not None:
            action(self)

    def start_end(self, tag: str) -> None:
        """Take a self-closing tag ``<tag .../>``."""
        if (action := ON_START_END.get(tag)) is not None:
            action(self)

    def end(self, tag: str) -> None:
        """Take an end tag ``</tag>``."""
        if (action := ON_END.get(tag)) is not None:
            action(self)

    def data(self, data: str) -> None:
        """Take a piece of text (entities already decoded)."""
        if self._skip:
            return
        if self._links:
            self._links[-1][1] += data
        self._write(data)

    def _write(self, data: str) -> None:
        """Add ``data`` to the text (spaces collapsed outside ``pre``; a list item's dash)."""
        lines = self.lines
        if self._pre:
            parts = data.split("\n")
            lines[-1] += parts[0]
            lines.extend(parts[1:])
            return
        if "  " in data or not data.isprintable():  # else no white space to collapse
            data = _SPACE.sub(" ", data)
        current = lines[-1]
        if not current.strip():
            data = data.lstrip()
            if data and self._bullet:
                data = "- " + data
                self._bullet = False
        lines[-1] = current + data

    def text(self) -> str:
        """Return the text collected: lines without trailing spaces, at most one blank line
        in a row, no-break spaces as spaces, no blank lines around."""
        text = "\n".join([line.rstrip() for line in self.lines])
        return _BLANK_LINES.sub("\n\n", text).replace("\u00a0", " ").strip()


Action = Callable[[Text], None]
"""What a tag does to the text: one of :class:`Text`'s methods, called on it."""
ON_START: dict[str, Action] = {
    **dict.fromkeys(_BLOCKS, Text.block), "li": Text.item, "pre": Text.pre,
    **dict.fromkeys(_SKIPPED, Text.skip), "br": Text.new_line, "p": Text.paragraph,
    "td": Text.cell, "th": Text.cell,
}
"""What a start tag ``<tag ...>`` does, by its lower-case name (a tag not here does nothing;
``<a>`` is :meth:`Text.link`, called with its address)."""
ON_START_END: dict[str, Action] = {**dict.fromkeys(_BLOCKS, Text.line_break),
                                   "br": Text.new_line}
"""What a self-closing tag ``<tag .../>`` does (``<a/>`` is :meth:`Text.empty_link`)."""
ON_END: dict[str, Action] = {
    **dict.fromkeys(_BLOCKS - _VOID, Text.line_break), "pre": Text.end_pre,
    **dict.fromkeys(_SKIPPED, Text.end_skip), "p": Text.paragraph, "a": Text.end_link,
}
"""What an end tag ``</tag>`` does."""
