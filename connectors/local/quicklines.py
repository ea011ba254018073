"""The content lines of the quick reader (:mod:`connectors.local.quickread`): unfolded and split,
their names and parameters read by icalendar once per distinct text; held to icalendar with it
by tests/test_local_quick_read.py.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from typing import Any

from icalendar import Parameters
from icalendar.parser import Contentline
from icalendar.parser.content_line import NEWLINE as _NEWLINE
from icalendar.parser.content_line import UFOLD as _UNFOLD

DECLARED = re.compile(r'[A-Za-z0-9-]+(?:;(?:[^":\\]|"[^"]*")*)?(?=:)')
"""A line's name and parameters, when no backslash outside quotes comes before its value."""
_PLAIN_PARAMETERS = re.compile(r'(?:[^"\s]|"[^"]*")*')
"""Parameters with no white space outside quotes (no backslash or colon either: DECLARED)."""
_PARAMETER = re.compile(r'(?:^|;)((?:[^";]|"[^"]*")*)')
"""One parameter of such a list, without the semicolons around it."""
CACHED_PREFIXES = 4096
"""Distinct names and parameters remembered (a vdir's attendees repeat from file to file)."""
ParamItems = tuple[tuple[str, Any], ...]
"""A line's parameters as icalendar read them, lists of values as tuples (so they can be cached)."""


@functools.lru_cache(maxsize=CACHED_PREFIXES)
def name_and_parameters(prefix: str) -> tuple[str, ParamItems] | None:
    """Return icalendar's reading of a line's name and parameters (lists of values as
    tuples), or ``None`` when icalendar rejects them.

    Parameters are read one at a time when no white space lies outside their quotes (then
    icalendar reads each on its own, the last of a repeated name winning), so that a new
    attendee costs only its name.
    """
    name, _, params = prefix.partition(";")
    if not params or _PLAIN_PARAMETERS.fullmatch(params) is None:
        return _icalendar_parts(prefix)
    merged: dict[str, Any] = {}
    for segment in _PARAMETER.findall(params):
        items = _parameter(segment)
        if items is None:
            return None
        merged.update(items)
    return name, tuple(merged.items())


@functools.lru_cache(maxsize=CACHED_PREFIXES)
def _parameter(segment: str) -> ParamItems | None:
    """Return icalendar's reading of one ``NAME=value`` parameter, ``None`` when rejected."""
    parts = _icalendar_parts(f"X;{segment}")
    return None if parts is None else parts[1]


def _icalendar_parts(prefix: str) -> tuple[str, ParamItems] | None:
    try:
        name, params, _ = Contentline(prefix + ":").raw_parts()  # type: ignore[no-untyped-call]
    except ValueError:
        return None
    return name, tuple((key, tuple(value) if isinstance(value, list) else value)
                       for key, value in params.items())


def fresh_parameters(items: ParamItems) -> Parameters:
    """Return fresh parameters holding cached items (lists of values become lists again).

    The items come from icalendar's own parameters, so their names are already in upper
    case: they are stored as they are, which builds the very object ``Parameters(items)``
    would, without its per-item case folding.
    """
    params: Parameters = Parameters.__new__(Parameters)
    for key, value in items:
        OrderedDict.__setitem__(params, key, list(value) if isinstance(value, tuple) else value)
    return params


class _Line(Contentline):
    """A content line whose name and parameters are read once per distinct text."""

    __slots__ = ()

    def raw_parts(self) -> tuple[str, Parameters, str]:
        """Return what ``Contentline.raw_parts`` returns: name, parameters, raw value.

        Raises ``ValueError`` when the line cannot be split, as ``Contentline`` does.
        """
        match = DECLARED.match(self)
        declared = name_and_parameters(match.group()) if match is not None else None
        if match is None or declared is None:
            return super().raw_parts()
        name, items = declared
        return name, fresh_parameters(items), self[match.end() + 1:]


def content_line(text: str) -> Contentline:
    """A content line of ``text`` whose name and parameters are read once per distinct text."""
    return _Line(text)  # type: ignore[no-untyped-call]


def content_lines(text: str) -> list[str]:
    """Return the lines of ``text`` unfolded and split as icalendar does, with its blank lines.

    icalendar's own expressions are costly; when every line ends alike (all CRLF, or all LF
    with no CR anywhere) and no line is blank, a fold is only a line end followed by a space
    or a tab, and plain string operations find the same lines.
    """
    if text.count("\n") == text.count("\r\n") == text.count("\r") and "\r\n\r\n" not in text:
        return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")
    if "\r" not in text and "\n\n" not in text:
        return text.replace("\n ", "").replace("\n\t", "").split("\n")
    return _NEWLINE.split(_UNFOLD.sub("", text))


def has_tzid(items: ParamItems) -> bool:
    """Whether the parameters hold a TZID (a time whose reading depends on the zones known)."""
    return any(key == "TZID" for key, _ in items)


__all__ = ["CACHED_PREFIXES", "DECLARED", "ParamItems", "content_line", "content_lines",
           "fresh_parameters", "has_tzid", "name_and_parameters"]
