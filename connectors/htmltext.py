"""HTML to plain text, for what a user reads of a meeting: Outlook event bodies and Google
Calendar descriptions, one reading for both.

It reads HTML exactly as html.parser.HTMLParser (convert_charrefs=True) does, but faster; held
to an HTMLParser-based reference by tests/test_htmltext.py (how: docs/performance.md).

A link keeps its address when its text does not show it ("my CV (https://example.org/cv)"):
an invitation's "Join here" or "agenda" is of no use in a plain-text draft or log without the
address behind it. Only ``https:``, ``http:`` and ``mailto:`` addresses are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial
from html import unescape
from itertools import islice

_BLOCKS = frozenset({"div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5",
                     "h6", "blockquote", "pre", "hr", "dt", "dd", "section", "article",
                     "header", "footer", "address", "center"})
_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})
_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_LINK_SCHEMES = ("https://", "http://", "mailto:")
"""The addresses a link keeps next to its text (others, such as ``javascript:``, are dropped)."""
_BLANK_LINES = re.compile(r"\n{3,}")

_PLAIN_TAG = re.compile(r"""
    (?P<start>[a-zA-Z][^\t\n\r\f />\x00]*+)           # a start tag whose attributes are
      (?:\s++[a-zA-Z_:][-a-zA-Z0-9_:.]*+               # name, name=value, name="value"...
         (?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s"'=<>`]++))?
      )*+\s*+(?P<slash>/?)
  | /\s*+(?P<end>[a-zA-Z][-.a-zA-Z0-9:_]*+)\s*+        # an end tag
""", re.VERBOSE)
"""What comes between ``<`` and ``>`` in a plain tag: one HTMLParser reads as a start, a
self-closing or an end tag, whatever follows it."""
_LONGEST_PLAIN_TAG = 500
"""Longer tags are read by _markup (the cache of plain tags keeps only short ones)."""
_RAW_TEXT = {"script": re.compile(r"</\s*script\s*>", re.IGNORECASE),
             "style": re.compile(r"</\s*style\s*>", re.IGNORECASE)}
"""Elements whose content is not markup, and what ends them."""

# HTMLParser's own patterns (Python 3.11), for the markup that is not a plain tag.
_TAG_OPEN = re.compile(r"<[a-zA-Z]")
_LOCATE_START_END = re.compile(r"""
  <[a-zA-Z][^\t\n\r\f />\x00]*
  (?:[\s/]*
    (?:(?<=['"\s/])[^\s/>][^\s/=>]*
      (?:\s*=+\s*
        (?:'[^']*'
          |"[^"]*"
          |(?!['"])[^>\s]*
         )
        \s*
       )?(?:\s|/(?!>))*
     )*
   )?
  \s*
""", re.VERBOSE)
_TAG_NAME = re.compile(r"([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*"
                        r"('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?(?:\s|/(?!>))*")
_END_TAG = re.compile(r"</\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>")
_COMMENT_END = re.compile(r"--\s*>")
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*\s*")
_SECTION_ENDS = {**dict.fromkeys(("temp", "cdata", "ignore", "include", "rcdata"),
                                 re.compile(r"]\s*]\s*>")),
                 **dict.fromkeys(("if", "else", "endif"), re.compile(r"]\s*>"))}
_NOT_YET_ENDED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=/")


class _Text:
    """Collects the text of an HTML body, turning block elements into line breaks: what each
    tag does is in :data:`_ON_START`, :data:`_ON_START_END` and :data:`_ON_END`."""

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
        if (action := _ON_START.get(tag)) is not None:
            action(self)

    def start_end(self, tag: str) -> None:
        """Take a self-closing tag ``<tag .../>``."""
        if (action := _ON_START_END.get(tag)) is not None:
            action(self)

    def end(self, tag: str) -> None:
        """Take an end tag ``</tag>``."""
        if (action := _ON_END.get(tag)) is not None:
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


_Action = Callable[[_Text], None]
_ON_START: dict[str, _Action] = {
    **dict.fromkeys(_BLOCKS, _Text.block), "li": _Text.item, "pre": _Text.pre,
    **dict.fromkeys(_SKIPPED, _Text.skip), "br": _Text.new_line, "p": _Text.paragraph,
    "td": _Text.cell, "th": _Text.cell,
}
_ON_START_END: dict[str, _Action] = {**dict.fromkeys(_BLOCKS, _Text.line_break),
                                     "br": _Text.new_line}
_ON_END: dict[str, _Action] = {
    **dict.fromkeys(_BLOCKS - _VOID, _Text.line_break), "pre": _Text.end_pre,
    **dict.fromkeys(_SKIPPED, _Text.end_skip), "p": _Text.paragraph, "a": _Text.end_link,
}


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML body: paragraphs separated by a blank line, ``div``,
    list items, table rows and ``<br>`` on their own lines, scripts and styles dropped,
    entities decoded, runs of spaces collapsed, a link's address after its text."""
    text = _Text()
    _read_html(html, text)
    return text.text()


def _read_html(html: str, text: _Text) -> None:
    """Give ``text`` the tags and text of ``html`` as HTMLParser would, in order: each piece
    of text between two pieces of markup whole, its entities decoded."""
    pieces = html.split("<")  # after the first, each is a "<" and what follows up to the next
    at = resume = len(pieces[0])  # where the current piece starts; where reading goes on
    data = text.data
    if at:
        data(unescape(pieces[0]))
    for piece in islice(pieces, 1, None):
        stop = at + len(piece) + 1
        if at >= resume:  # else this "<" is inside markup or a script already read
            head, closed, rest = piece.partition(">")
            plain = (_plain_tag(head) if closed and len(head) <= _LONGEST_PLAIN_TAG
                     else None)
            if plain is None:
                resume = _markup(html, at, text)
            else:
                action, raw_text = plain
                if action is not None:
                    action(text)
                if raw_text is None:  # the usual case: on with the text after the tag
                    if rest:
                        data(unescape(rest))
                    at = resume = stop
                    continue
                resume = _skip_raw_text(html, at + len(head) + 2, raw_text, text)
        if resume < stop:
            data(unescape(html[resume:stop]))
            resume = stop
        at = stop


@lru_cache(maxsize=512)
def _plain_tag(head: str) -> tuple[_Action | None, str | None] | None:
    """Read ``<head>`` as a plain tag. Returns what it does (``None``: nothing) and, when it
    opens a ``script`` or ``style`` element, its name; ``None`` when it is not a plain tag."""
    found = _PLAIN_TAG.fullmatch(head)
    if found is None:
        return None
    if found["end"] is not None:
        return _ON_END.get(found["end"].lower()), None
    tag = found["start"].lower()
    if tag == "a":
        href = _href(f"<{head}>")
        return partial(_Text.empty_link if found["slash"] else _Text.link, href=href), None
    if found["slash"]:
        return _ON_START_END.get(tag), None
    return _ON_START.get(tag), tag if tag in _RAW_TEXT else None


def _href(tag: str) -> str:
    """The ``href`` of the start tag ``tag`` (from its ``<`` to its end), its attributes read
    as HTMLParser reads them: a value's quotes dropped, its entities decoded, the last
    ``href`` winning (as in a dict of them); "" when it has none."""
    name = _TAG_NAME.match(tag, 1)
    assert name is not None  # it is a start tag
    href, pos = "", name.end()
    while pos < len(tag) and (attribute := _ATTRIBUTE.match(tag, pos)) is not None:
        attr, rest, value = attribute.group(1, 2, 3)
        if attr.lower() == "href":
            if not rest:
                value = ""
            elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                value = value[1:-1]
            href = unescape(value) if value else ""
        pos = attribute.end()
    return href


def _skip_raw_text(html: str, pos: int, tag: str, text: _Text) -> int:
    """Pass on the content of a ``script`` or ``style`` element as it is, and its end tag.

    Returns where the element ends, or the end of ``html`` when it never does (HTMLParser
    then keeps the rest back and never reports it)."""
    search = _RAW_TEXT[tag].search
    while (close := search(html, pos)) is not None:
        at = close.start()
        if at > pos:
            text.data(html[pos:at])
        pos = close.end()
        named = _END_TAG.match(html, at)
        if named is not None and named[1].lower() == tag:
            text.end(tag)
            return pos
        text.data(html[at:pos])
    return len(html)


def _markup(html: str, at: int, text: _Text) -> int:
    """Take the markup at ``html[at]`` (a ``<``) that is not a plain tag, by HTMLParser's
    rules; returns where reading goes on."""
    if _TAG_OPEN.match(html, at):
        end, raw_text = _start_tag(html, at, text)
        if raw_text is not None:
            return _skip_raw_text(html, end, raw_text, text)
    elif html.startswith("</", at):
        end = _end_tag(html, at, text)
    elif html.startswith("<!--", at):
        comment = _COMMENT_END.search(html, at + 4)
        end = comment.end() if comment is not None else -1
    elif html.startswith("<![", at):
        end = _marked_section(html, at)
    elif html.startswith(("<!", "<?"), at):  # a declaration, a bogus comment, a <?...>
        end = html.find(">", at + 2) + 1 or -1
    else:  # a "<" that opens nothing
        text.data("<")
        end = at + 1
    return end if end >= 0 else _unfinished(html, at, text)


def _start_tag(html: str, at: int, text: _Text) -> tuple[int, str | None]:
    """HTMLParser's ``parse_starttag``: returns where the tag ends (-1 when it does not) and
    its name when it opens a ``script`` or ``style`` element."""
    located = _LOCATE_START_END.match(html, at)
    assert located is not None  # it matches any "<" and letter
    after = located.end()
    following = html[after:after + 1]
    if following == ">":
        end = after + 1
    elif html.startswith("/>", after):
        end = after + 2
    elif not following or following in _NOT_YET_ENDED:
        return -1, None
    else:
        end = after
    name = _TAG_NAME.match(html, at + 1)
    assert name is not None  # as above
    tag, pos = name[1].lower(), name.end()
    while pos < end and (attribute := _ATTRIBUTE.match(html, pos)) is not None:
        pos = attribute.end()
    rest = html[pos:end].strip()
    if rest == ">":
        if tag == "a":
            text.link(_href(html[at:end]))
        else:
            text.start(tag)
        return end, tag if tag in _RAW_TEXT else None
    if rest == "/>":
        if tag == "a":
            text.empty_link(_href(html[at:end]))
        else:
            text.start_end(tag)
    else:
        text.data(html[at:end])
    return end, None


def _end_tag(html: str, at: int, text: _Text) -> int:
    """HTMLParser's ``parse_endtag`` (outside ``script`` and ``style``): returns where the tag
    ends, -1 when no ``>`` follows. ``</>`` and ``</`` without a name are dropped."""
    close = html.find(">", at + 1)
    if close < 0:
        return -1
    named = _END_TAG.match(html, at) or _TAG_NAME.match(html, at + 2)
    if named is not None:
        text.end(named[1].lower())
    return close + 1


def _marked_section(html: str, at: int) -> int:
    """HTMLParser's ``parse_marked_section`` (``<![CDATA[...]]>``, ``<![if ...]>``): returns
    where it ends, -1 when it does not. A section of another name (on which HTMLParser
    raised AssertionError) is read as a bogus comment, up to the next ``>``."""
    name = _SECTION_NAME.match(html, at + 3)
    if name is not None and name.end() == len(html):
        return -1
    close = _SECTION_ENDS.get(name[0].strip().lower()) if name is not None else None
    if close is None:
        return html.find(">", at + 2) + 1 or -1
    section_end = close.search(html, at + 3)
    return section_end.end() if section_end is not None else -1


def _unfinished(html: str, at: int, text: _Text) -> int:
    """Markup that never ends is text, up to the next ``>`` (included) or else the next ``<``
    (excluded) or else the ``<`` alone. Returns where that text ends."""
    end = html.find(">", at + 1) + 1
    if not end:
        end = html.find("<", at + 1)
        if end < 0:
            end = at + 1
    text.data(unescape(html[at:end]))
    return end
