"""A Jinja2 sandbox whose renders are bounded in time and in size.

A template override is the user's own file, but a slip in it (a loop inside a loop over a long
text, ``{{ "x" * 10**9 }}``) must not stall a cycle for every account or eat the machine's
memory. :class:`BoundedEnvironment` is Jinja2's immutable sandbox with these limits:

* **time**: a render may take :data:`RENDER_SECONDS`. The deadline is checked on every step of
  every ``{% for %}`` loop (the parsed template's loops are wrapped), on every call from the
  template, and between output chunks;
* **size**: no text, list or number a template makes may exceed :data:`MAX_CHARS` characters
  (items, digits): ``*``, ``**``, ``%`` and ``+`` are checked *before* they are computed,
  ``~`` and every filter and call result after, and the integer arguments of calls and filters
  (widths, counts) may not exceed it either, nor may ``replace`` grow a text beyond it. The
  rendered output is capped at :data:`MAX_CHARS` too.

Passing a bound raises :class:`RenderBoundError`; the caller turns it into a template error
naming the file.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

RENDER_SECONDS = 2.0
"""The longest one render (a subject or a body) may take."""
MAX_CHARS = 200_000
"""The most characters (or items, or digits) any value or the output of a render may have;
a draft is a few hundred."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("render_deadline",
                                                                         default=None)
_FORMAT_WIDTH = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderBoundError(jinja2.TemplateRuntimeError):
    """A render went past its time or size bound."""


def _check_time() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise RenderBoundError(
            f"the template ran for more than {RENDER_SECONDS:g} s (a loop that is too long?)")


def _too_big(what: str) -> RenderBoundError:
    return RenderBoundError(f"{what} would be longer than {MAX_CHARS:,} characters")


def _check_size(value: object) -> object:
    """Return ``value``, refusing a text or collection over the bound."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        if len(value) > MAX_CHARS:
            raise _too_big("a value")
    elif isinstance(value, int) and value.bit_length() > MAX_CHARS * 3.33:
        raise _too_big("a number")
    return value


def _check_arguments(args: Iterable[object], kwargs: dict[str, Any]) -> None:
    """Refuse an integer argument (a width, a count) over the bound."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_CHARS:
            raise _too_big(f"a call with the argument {arg}")


def _check_replace(text: object, old: object, new: object) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * max(0, len(new) - len(old)) > MAX_CHARS:
            raise _too_big("a replaced text")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its arguments checked before and its result after."""
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        _check_arguments(args, kwargs)
        if name == "replace":
            # (eval_context,) value, old, new
            values = [a for a in args if isinstance(a, str)]
            if len(values) >= 3:
                _check_replace(*values[:3])
        return _check_size(function(*args, **kwargs))
    return bounded


def _through(method: str, node: nodes.Node) -> nodes.Call:
    """``node``'s value passed through the environment's ``method``."""
    return nodes.Call(nodes.EnvironmentAttribute(method), [node], [], None, None,
                      lineno=node.lineno)


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so its loops and ``~`` joins are checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _through("bounded_items", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _through("bounded_value", node)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every render bounded in time and size (see the module)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, function)
                        for name, function in self.filters.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse as Jinja2 does, then route every loop's items and every ``~`` through the
        bounds."""
        tree = _Bounds().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    @staticmethod
    def bounded_items(items: Iterable[Any]) -> Iterator[Any]:
        """The items of a ``{% for %}`` loop, checking the deadline before each."""
        for item in items:
            _check_time()
            yield item

    @staticmethod
    def bounded_value(value: object) -> object:
        """A ``~`` result, refused when over the size bound."""
        return _check_size(value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``%`` and ``+``, refused before they make a value over the bound."""
        _check_time()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, Sized) and isinstance(times, int) and \
                        len(seq) * max(0, times) > MAX_CHARS:
                    raise _too_big("a repeated text or list")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                    abs(left) > 1 and right * math.log10(abs(left)) > MAX_CHARS:
                raise _too_big("a power")
        elif operator == "%" and isinstance(left, str):
            for width, precision in _FORMAT_WIDTH.findall(left):
                for number in (width, precision):
                    if number == "*" or (number and int(number) > MAX_CHARS):
                        raise _too_big("a formatted text")
        elif operator == "+" and isinstance(left, Sized) and isinstance(right, Sized) and \
                len(left) + len(right) > MAX_CHARS:
            raise _too_big("a joined text or list")
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        """A call from the template: the deadline, its arguments, ``replace``, its result."""
        _check_time()
        _check_arguments(args, kwargs)
        if getattr(__obj, "__name__", "") == "replace" and isinstance(
                getattr(__obj, "__self__", None), str) and len(args) >= 2:
            _check_replace(__obj.__self__, args[0], args[1])
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def render(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """Render ``template`` within the bounds; raises :class:`RenderBoundError` past one (and
    whatever the template raises otherwise)."""
    token = _deadline.set(time.monotonic() + RENDER_SECONDS)
    try:
        size = 0
        chunks = []
        for chunk in template.generate(variables):
            size += len(chunk)
            if size > MAX_CHARS:
                raise RenderBoundError(
                    f"the template's output is longer than {MAX_CHARS:,} characters")
            _check_time()
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        _deadline.reset(token)


class OneSource(jinja2.BaseLoader):
    """Serves one already-read source under its real file name, so tracebacks name the file."""

    def __init__(self, source: str, filename: str) -> None:
        self._source = source
        self._filename = filename

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        """The source, its file name, and an up-to-date check that never asks again."""
        return self._source, self._filename, lambda: False
