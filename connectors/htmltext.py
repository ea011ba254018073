"""HTML to plain text, for what a user reads of a meeting: Outlook event bodies and Google
Calendar descriptions, one reading for both.

It reads HTML exactly as html.parser.HTMLParser (convert_charrefs=True) does, but faster; held
to an HTMLParser-based reference by tests/test_htmltext.py (how: docs/performance.md). Here is
the reading: the tags and the text between them, in order, entities decoded. What each tag
does to the text (line breaks, paragraphs, list items, a link's address after its text) is
:mod:`connectors.htmllayout`.

:func:`html_to_text` is the entry point its callers (the Outlook and Google mappings) import.
"""

from __future__ import annotations

import re
from functools import lru_cache, partial
from html import unescape
from itertools import islice

from connectors.htmllayout import ON_END, ON_START, ON_START_END, Action, Text

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

def html_to_text(html: str) -> str:
    """Return the readable text of an HTML body: paragraphs separated by a blank line, ``div``,
    list items, table rows and ``<br>`` on their own lines, scripts and styles dropped,
    entities decoded, runs of spaces collapsed, a link's address after its text."""
    text = Text()
    _read_html(html, text)
    return text.text()


def _read_html(html: str, text: Text) -> None:
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
def _plain_tag(head: str) -> tuple[Action | None, str | None] | None:
    """Read ``<head>`` as a plain tag. Returns what it does (``None``: nothing) and, when it
    opens a ``script`` or ``style`` element, its name; ``None`` when it is not a plain tag."""
    found = _PLAIN_TAG.fullmatch(head)
    if found is None:
        return None
    if found["end"] is not None:
        return ON_END.get(found["end"].lower()), None
    tag = found["start"].lower()
    if tag == "a":
        href = _href(f"<{head}>")
        return partial(Text.empty_link if found["slash"] else Text.link, href=href), None
    if found["slash"]:
        return ON_START_END.get(tag), None
    return ON_START.get(tag), tag if tag in _RAW_TEXT else None


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


def _skip_raw_text(html: str, pos: int, tag: str, text: Text) -> int:
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


def _markup(html: str, at: int, text: Text) -> int:
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


def _start_tag(html: str, at: int, text: Text) -> tuple[int, str | None]:
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


def _end_tag(html: str, at: int, text: Text) -> int:
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


def _unfinished(html: str, at: int, text: Text) -> int:
    """Markup that never ends is text, up to the next ``>`` (included) or else the next ``<``
    (excluded) or else the ``<`` alone. Returns where that text ends."""
    end = html.find(">", at + 1) + 1
    if not end:
        end = html.find("<", at + 1)
        if end < 0:
            end = at + 1
    text.data(unescape(html[at:end]))
    return end
