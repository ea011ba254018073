"""Filling a template: :class:`Renderer` renders a trusted file (a packaged default from
``daemon.templates`` or one from the user's override folder) in a Jinja2 sandbox with
``StrictUndefined``, bounded in time and output size (:mod:`daemon.mail.bounded`). Text from a
calendar reaches a template only as a variable, never as template source, so ``{{ 7*7 }}`` in
an event title stays literal. A template's first line is its subject; it is split off before
rendering, so a multi-line variable can never push text into the header area.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.core.errors import TemplateError
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.model import DraftKind
from daemon.core.text import clean_line
from daemon.mail.message import Rendered

if TYPE_CHECKING:
    import jinja2

    from daemon.mail.bounded import BoundedEnvironment

_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends Jinja2 counts, so line numbers agree
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")


class Renderer:
    """Renders the draft templates: the packaged defaults, each replaced by a file of the same
    name (``confirmation.txt``, ``thank_you.txt``, ``follow_up.txt``, ``catch_up.txt``,
    ``news.txt``, ``prep.txt``) in ``override_dir`` when one exists there. Files are read on
    every render, so edits take effect without a restart; a file is compiled again only when
    its text changed."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._override_dir = override_dir
        self._compiled: dict[tuple[str, str], tuple[str, jinja2.Template]] = {}
        # (file, part) -> (source, error) of a part that went past a render bound: while its
        # source is unchanged it is not run again, so one slow file costs a cycle its bound once
        self._over_bounds: dict[tuple[str, str], tuple[str, str]] = {}

    @functools.cached_property
    def _env(self) -> BoundedEnvironment:
        """The sandbox, made at the first render: Jinja2 loads only when a draft is rendered
        (an idle cycle renders nothing)."""
        import jinja2

        from daemon.mail.bounded import BoundedEnvironment

        # Plain-text email, not HTML: escaping would corrupt names like "O'Brien & Co".
        return BoundedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                  trim_blocks=True, lstrip_blocks=True,
                                  keep_trailing_newline=True)

    def template_path(self, kind: DraftKind) -> str:
        """Return the full path of the file used for ``kind`` (the override if present)."""
        return str(self._locate(kind)[0])

    def render(self, kind: DraftKind, variables: Mapping[str, object]) -> Rendered:
        """Render the template for ``kind`` with ``variables``.

        Returns the cleaned one-line subject and the body (blank-line runs collapsed, ending in
        one newline). Raises :class:`TemplateError`, naming the file and line, when the file
        cannot be read, lacks the ``Subject:`` line or the blank line after it, has a syntax
        error, uses an undefined variable, breaks the sandbox, runs past the time or size bound
        of :mod:`daemon.mail.bounded` (a file that did is not run again by this renderer until it
        changes), or fails in any other way.
        """
        location, is_override = self._locate(kind)
        filename = str(location)
        hint = _hint(is_override)
        source = _read(location, filename, hint)
        subject_source, body_source = _split(source, filename, hint)
        subject = self._render_part("subject", subject_source, filename, hint, variables)
        body = self._render_part("body", body_source, filename, hint, variables)
        return Rendered(subject=clean_line(subject), body=_tidy_body(body))

    def check_all(self, variables_for: Callable[[DraftKind], Mapping[str, object]]) -> list[str]:
        """Render every kind with ``variables_for(kind)``; return the problems found, one
        message per failing template (an empty list means every template is fine)."""
        problems = []
        for kind in DRAFT_KINDS:
            try:
                self.render(kind, variables_for(kind))
            except TemplateError as exc:
                problems.append(str(exc))
        return problems

    def _locate(self, kind: DraftKind) -> tuple[Path | Traversable, bool]:
        """The file for ``kind``, and whether it is the user's override."""
        name = f"{kind}.txt"
        if self._override_dir is not None:
            candidate = self._override_dir / name
            if candidate.is_file():
                return candidate.absolute(), True
        return files("daemon.templates") / name, False

    def _render_part(self, part: str, source: str, filename: str, hint: str,
                     variables: Mapping[str, object]) -> str:
        from daemon.mail import bounded

        template = self._compile(part, source, filename, hint)
        over = self._over_bounds.get((filename, part))
        if over is not None and over[0] == source:  # it would only go past its bound again
            raise TemplateError(over[1])
        try:
            return bounded.render(template, dict(variables))
        except Exception as exc:  # any failure inside a template is the template's problem
            line = _template_line(exc, filename)
            message = f"{_where(filename, line)}: {_describe(exc)}{hint}"
            if isinstance(exc, bounded.RenderBoundError):
                self._over_bounds[(filename, part)] = (source, message)
            raise TemplateError(message) from exc


    def _compile(self, part: str, source: str, filename: str, hint: str) -> jinja2.Template:
        """The compiled ``part`` (subject or body) of a file, compiled again only when its
        source changed. Raises TemplateError for a syntax error."""
        import jinja2

        from daemon.mail.bounded import OneSource

        cached = self._compiled.get((filename, part))
        if cached is not None and cached[0] == source:
            return cached[1]
        try:
            template = OneSource(source, filename).load(self._env, filename)
        except jinja2.TemplateSyntaxError as exc:
            message = exc.message or "syntax error"
            raise TemplateError(f"{_where(filename, exc.lineno)}: {message}{hint}") from exc
        self._compiled[(filename, part)] = (source, template)
        return template


def _read(location: Path | Traversable, filename: str, hint: str) -> str:
    """The file's text, or a TemplateError saying why it cannot be read."""
    try:
        return location.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"template {filename}: cannot be read ({exc}){hint}") from exc


def _split(source: str, filename: str, hint: str) -> tuple[str, str]:
    """Split a template into the subject's source and the body's source.

    The body keeps two leading blank lines in place of the subject and separator lines, so
    Jinja2's line numbers are the file's. Raises TemplateError for a bad layout.
    """
    lines = _NEWLINE.split(source.removeprefix("\ufeff"))
    first = lines[0]
    if not first.lower().startswith("subject:"):
        raise TemplateError(
            f"template {filename}, line 1: the first line must be the subject, as "
            f"'Subject: ...', but it is {first[:60]!r}; add a Subject line, then a blank line, "
            f"then the body{hint}")
    if len(lines) < 2 or lines[1].strip():
        raise TemplateError(
            f"template {filename}, line 2: expected a blank line between the Subject line and "
            f"the body; add one{hint}")
    return first[len("subject:"):].strip(), "\n\n" + "\n".join(lines[2:])


def _tidy_body(body: str) -> str:
    """Drop leading and trailing blank lines, collapse runs of blank lines, end with one newline."""
    lines = [line.rstrip() for line in body.split("\n")]
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
    return text + "\n"


def _where(filename: str, line: int | None) -> str:
    return f"template {filename}, line {line}" if line else f"template {filename}"


def _hint(is_override: bool) -> str:
    """What the user can do about a broken template."""
    if is_override:
        return (" (fix this template, or delete it to use the default; docs/templates.md "
                "lists the variables)")
    return " (this is a fault in coffeechat's default template: please report it)"


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line Jinja2 put in the traceback (it rewrites frames to template lines)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename:
            return frame.lineno
    return None


def _describe(exc: BaseException) -> str:
    import jinja2

    if isinstance(exc, jinja2.TemplateError) and exc.message:
        return exc.message
    return f"{type(exc).__name__}: {exc}"
