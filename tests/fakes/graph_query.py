"""The part of Graph's query language the fake Graph understands, for message collections.

Parsed, not pattern-matched: a request the fake does not understand is refused with a 400, the
way Graph refuses what it does not support.

* ``$filter``: comparisons (``eq ne gt ge lt le``) of the message properties in
  :data:`FILTERABLE` with string (``'it''s'``), date-time (unquoted ISO 8601), ``true``/``false``
  and ``null`` literals; ``and``, ``or``, ``not`` and parentheses; and the lambda
  ``singleValueExtendedProperties/any(ep: ep/id eq '...' and ep/value eq '...')``. String
  comparisons ignore case, as Exchange does, except the id of an extended property (its name is
  case-sensitive, as documented). A lambda over ``toRecipients``/``ccRecipients``/
  ``bccRecipients`` is refused with ``ErrorInvalidUrlQueryFilter``, as Graph does (reported in
  microsoft-graph-explorer-v4 #3957).
* ``$orderby``: one or more of :data:`ORDERABLE`, ``asc``/``desc``. With a ``$filter``, Graph's
  documented rule holds: the ``$orderby`` properties must come first in the ``$filter``, in the
  same order, else 400 ``InefficientFilter``.
* ``$search``: a KQL subset, ``"prop:value"`` terms (``from to cc bcc recipients participants
  subject body``) or bare words (from, subject, body), joined by ``AND``/``OR`` (``AND`` when
  none is written). An address term matches an address, its local part (an alias) or a word of
  the display name. Results come newest sent first, at most 1000, and ``$search`` cannot be
  combined with ``$filter`` or ``$orderby`` (400), as documented.
* ``$expand=singleValueExtendedProperties($filter=id eq '...')``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
Value = str | bool | datetime | None
EXTENDED = "singleValueExtendedProperties"
SEARCH_LIMIT = 1000


class QueryError(Exception):
    """A query Graph would refuse: the error ``code`` and ``message`` of its 400 answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def instant(value: Any) -> datetime | None:
    """The aware time in a Graph date-time string (``...Z``, up to seven fraction digits)."""
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _path(item: JSON, *keys: str) -> Any:
    value: Any = item
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _time_of(name: str) -> Callable[[JSON], Value]:
    return lambda m: instant(m.get(name))


def _value_of(name: str) -> Callable[[JSON], Value]:
    return lambda m: m.get(name)


_TIMES = ("receivedDateTime", "sentDateTime", "createdDateTime", "lastModifiedDateTime")
FILTERABLE: dict[str, Callable[[JSON], Value]] = {
    **{name: _time_of(name) for name in _TIMES},
    **{name: _value_of(name) for name in (
        "id", "subject", "internetMessageId", "conversationId", "parentFolderId", "isDraft",
        "isRead", "importance")},
    "from/emailAddress/address": lambda m: _path(m, "from", "emailAddress", "address"),
    "from/emailAddress/name": lambda m: _path(m, "from", "emailAddress", "name"),
    "sender/emailAddress/address": lambda m: _path(m, "sender", "emailAddress", "address"),
}
"""Message properties a ``$filter`` may compare, and how to read each."""
ORDERABLE = frozenset({*_TIMES, "subject", "from/emailAddress/address", "importance"})
RECIPIENT_LISTS = frozenset({"toRecipients", "ccRecipients", "bccRecipients", "replyTo"})

# --- $filter -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<punct>[(),:])
  | (?P<word>[A-Za-z_$][A-Za-z0-9_./$]*)
)""", re.VERBOSE)
_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
Env = dict[str, Any]
Test = Callable[[Env], bool]


@dataclass
class Filter:
    """A parsed ``$filter``: the test and the message properties it names, in order."""

    test: Test
    paths: list[str] = field(default_factory=list)

    def __call__(self, item: JSON) -> bool:
        return self.test({"$it": item})


def _tokens(text: str) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise _syntax(text, position)
        kind = match.lastgroup or ""
        result.append((kind, match.group(kind)))
        position = match.end()
    return result


def _syntax(text: str, position: int) -> QueryError:
    return QueryError("BadRequest", f"Invalid filter clause: syntax error at position {position} "
                                    f"in '{text}'.")


class _Parser:
    """Recursive descent over the tokens; ``element`` parses an ``$expand`` filter, whose bare
    names (``id``, ``value``) are the extended property's own."""

    def __init__(self, text: str, element: bool = False) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.element = element
        self.paths: list[str] = []
        self.variables: list[str] = []

    def parse(self) -> Filter:
        test = self._or()
        if self.at != len(self.tokens):
            raise _syntax(self.text, self.at)
        return Filter(test, self.paths)

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("", "")

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token == ("", "") or (value is not None and token[1].lower() != value):
            raise _syntax(self.text, self.at)
        self.at += 1
        return token

    def _or(self) -> Test:
        tests = [self._and()]
        while self._peek()[1].lower() == "or":
            self._take()
            tests.append(self._and())
        return tests[0] if len(tests) == 1 else (lambda env: any(t(env) for t in tests))

    def _and(self) -> Test:
        tests = [self._unary()]
        while self._peek()[1].lower() == "and":
            self._take()
            tests.append(self._unary())
        return tests[0] if len(tests) == 1 else (lambda env: all(t(env) for t in tests))

    def _unary(self) -> Test:
        kind, value = self._peek()
        if value.lower() == "not":
            self._take()
            inner = self._unary()
            return lambda env: not inner(env)
        if value == "(":
            self._take("(")
            inner = self._or()
            self._take(")")
            return inner
        if kind != "word":
            raise _syntax(self.text, self.at)
        self._take()
        if value.endswith(("/any", "/all")) and self._peek()[1] == "(":
            return self._lambda(value)
        return self._comparison(value)

    def _lambda(self, word: str) -> Test:
        collection, _, quantifier = word.rpartition("/")
        if collection in RECIPIENT_LISTS:
            raise QueryError("ErrorInvalidUrlQueryFilter",
                             "The query filter contains one or more invalid nodes.")
        if collection != EXTENDED:
            raise _unknown(collection)
        self.paths.append(collection)
        self._take("(")
        kind, variable = self._take()
        if kind != "word":
            raise _syntax(self.text, self.at)
        self._take(":")
        self.variables.append(variable)
        inner = self._or()
        self.variables.pop()
        self._take(")")
        combine = any if quantifier == "any" else all

        def test(env: Env) -> bool:
            elements = env["$it"].get(EXTENDED) or []
            return combine(inner({**env, variable: e}) for e in elements)
        return test

    def _comparison(self, path: str) -> Test:
        read, exact = self._reader(path)
        _, operator = self._take()
        operator = operator.lower()
        if operator not in _OPERATORS:
            raise _syntax(self.text, self.at)
        literal = self._literal()

        def test(env: Env) -> bool:
            return _compare(read(env), operator, literal, exact)
        return test

    def _reader(self, path: str) -> tuple[Callable[[Env], Value], bool]:
        head, _, rest = path.partition("/")
        if head in self.variables or self.element:
            name = rest if head in self.variables else path
            if name not in ("id", "value"):
                raise _unknown(name, "singleValueLegacyExtendedProperty")
            key = head if head in self.variables else "$it"
            return (lambda env: env[key].get(name)), name == "id"
        reader = FILTERABLE.get(path)
        if reader is None:
            raise _unknown(path)
        self.paths.append(path)
        return (lambda env: reader(env["$it"])), False

    def _literal(self) -> Value:
        kind, value = self._take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "time":
            return instant(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word" and value.lower() == "null":
            return None
        raise _syntax(self.text, self.at)


def _unknown(name: str, where: str = "microsoft.graph.message") -> QueryError:
    return QueryError("RequestBroker--ParseUri",
                      f"Could not find a property named '{name}' on type '{where}'.")


def _compare(left: Value, operator: str, right: Value, exact: bool) -> bool:
    if left is None or right is None:
        same = left is None and right is None
        return {"eq": same, "ne": not same}.get(operator, False)
    if type(left) is not type(right):
        raise QueryError("BadRequest", "Invalid filter clause: the operand types are not "
                                       "compatible.")
    if isinstance(left, str) and isinstance(right, str) and not exact:
        left, right = left.casefold(), right.casefold()
    if operator == "eq":
        return left == right
    if operator == "ne":
        return left != right
    if isinstance(left, bool):
        raise QueryError("BadRequest", "Invalid filter clause: booleans have no order.")
    ordered: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
    return ordered[operator](left, right)


def parse_filter(text: str) -> Filter:
    """Parse a ``$filter`` over messages. Raises ``QueryError``."""
    return _Parser(text).parse()


# --- $orderby --------------------------------------------------------------------------------


def parse_orderby(text: str, filtered: Filter | None) -> list[tuple[str, bool]]:
    """Parse ``$orderby`` into (property, descending) pairs and check it against the
    ``$filter`` (Graph's InefficientFilter rule). Raises ``QueryError``."""
    keys: list[tuple[str, bool]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in ORDERABLE or direction not in ("asc", "desc"):
            raise _unknown(name)
        keys.append((name, direction == "desc"))
    if filtered is not None:
        named = list(dict.fromkeys(filtered.paths))
        if [name for name, _ in keys] != named[:len(keys)]:
            raise QueryError("InefficientFilter",
                             "The restriction or sort order is too complex for this operation.")
    return keys


def ordered(items: list[JSON], keys: list[tuple[str, bool]]) -> list[JSON]:
    """``items`` sorted by ``keys`` (missing values first when ascending, last when
    descending)."""
    result = list(items)
    for name, descending in reversed(keys):
        read = FILTERABLE[name]
        result.sort(key=lambda m: _sortable(read(m)), reverse=descending)
    return result


def _sortable(value: Value) -> tuple[bool, Any]:
    if isinstance(value, str):
        return True, value.casefold()
    return value is not None, value if value is not None else 0


# --- $search (KQL) ---------------------------------------------------------------------------

_ADDRESS_FIELDS: dict[str, tuple[str, ...]] = {
    "from": ("from",), "to": ("toRecipients",), "cc": ("ccRecipients",),
    "bcc": ("bccRecipients",), "recipients": ("toRecipients", "ccRecipients", "bccRecipients"),
    "participants": ("from", "toRecipients", "ccRecipients", "bccRecipients"),
}
_TERM = re.compile(r'\s*(?:(?P<op>AND|OR)(?=\s)|(?:(?P<prop>[A-Za-z]+):)?'
                   r'(?P<value>"[^"]*"|[^\s"]+))')


def parse_search(text: str) -> Callable[[JSON], bool]:
    """Parse a ``$search`` value (a KQL subset) into a test of one message. Raises
    ``QueryError``."""
    query = text.strip()
    if len(query) >= 2 and query[0] == query[-1] == '"':
        query = query[1:-1]
    groups: list[list[Callable[[JSON], bool]]] = [[]]
    position = 0
    while query[position:].strip():
        match = _TERM.match(query, position)
        if match is None:
            raise QueryError("BadRequest", f"Syntax error in the search query '{text}'.")
        position = match.end()
        if match.group("op") == "OR":
            groups.append([])
        elif match.group("op") is None:
            groups[-1].append(_term(match.group("prop"), match.group("value").strip('"')))
    if not any(groups):
        raise QueryError("BadRequest", "The search query is empty.")
    return lambda m: any(all(t(m) for t in group) for group in groups if group)


def _term(prop: str | None, value: str) -> Callable[[JSON], bool]:
    wanted = value.casefold()
    if prop is None:
        return lambda m: (_person_matches(m, ("from",), wanted)
                          or wanted in str(m.get("subject", "")).casefold()
                          or wanted in str(_path(m, "body", "content") or "").casefold())
    name = prop.lower()
    if name in _ADDRESS_FIELDS:
        fields = _ADDRESS_FIELDS[name]
        return lambda m: _person_matches(m, fields, wanted)
    if name == "subject":
        return lambda m: wanted in str(m.get("subject", "")).casefold()
    if name == "body":
        return lambda m: wanted in str(_path(m, "body", "content") or "").casefold()
    raise QueryError("BadRequest", f"The search property '{prop}' is not supported by the fake "
                                   "Graph.")


def _person_matches(item: JSON, fields: tuple[str, ...], wanted: str) -> bool:
    for name in fields:
        value = item.get(name)
        people = value if isinstance(value, list) else [value] if value else []
        for person in people:
            address = str(_path(person, "emailAddress", "address") or "").casefold()
            display = str(_path(person, "emailAddress", "name") or "").casefold()
            if wanted in (address, address.partition("@")[0]) or wanted in display.split():
                return True
    return False


def newest_sent_first(items: list[JSON]) -> list[JSON]:
    """Search results as Graph orders them: by the time sent, newest first, at most 1000."""
    return ordered(items, [("sentDateTime", True)])[:SEARCH_LIMIT]


# --- $expand ---------------------------------------------------------------------------------

_EXPAND = re.compile(rf"{EXTENDED}\(\$filter=(?P<filter>.+)\)", re.DOTALL)


def parse_expand(text: str) -> Callable[[JSON], list[JSON]]:
    """Parse ``$expand=singleValueExtendedProperties($filter=...)``: returns what a message
    shows of its extended properties. Raises ``QueryError``."""
    match = _EXPAND.fullmatch(text.strip())
    if match is None:
        raise QueryError("BadRequest", f"The $expand value '{text}' is not supported by the "
                                       "fake Graph.")
    test = _Parser(match.group("filter"), element=True).parse().test
    return lambda m: [dict(p) for p in m.get(EXTENDED) or [] if test({"$it": p})]
