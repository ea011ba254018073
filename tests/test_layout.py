"""The wings of ``daemon`` import one way (see ``daemon/__init__.py``): each wing only from the
wings below it, and connectors only from ``daemon.core``. Every import counts, including those
inside functions and under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEVELS = {"app": 1, "cycle": 2, "plan": 3, "mail": 3, "state": 3, "settings": 4, "core": 5}
"""Lower numbers sit higher; a wing imports only wings with a larger number (or itself)."""


def imported(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every ``daemon`` import in ``source``; ``from daemon import x`` gives
    ``daemon.x``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "daemon":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "daemon":
                for alias in node.names:
                    yield node.lineno, f"daemon.{alias.name}"
            elif node.module.split(".")[0] == "daemon":
                yield node.lineno, node.module


def wing_of(module: str) -> str | None:
    """The wing of a ``daemon`` module name, or None for the package itself or a name that is
    not in a wing."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LEVELS else None


def problems(importer: str, source: str) -> list[str]:
    """What breaks the rule in ``source``, the text of module ``importer`` (dotted)."""
    top = importer.split(".")[0]
    mine = wing_of(importer) if top == "daemon" else None
    found = []
    for line, module in imported(source):
        theirs = wing_of(module)
        if module in ("daemon", "daemon.templates", "daemon.systemd"):
            continue  # the package (a docstring), the templates and the unit (data): no wing
        if theirs is None:
            found.append(f"{importer}:{line} imports {module}, which is in no wing")
        elif top == "connectors":
            if theirs != "core":
                found.append(f"{importer}:{line}: a connector imports {module}; only "
                             "daemon.core is theirs")
        elif mine is None:
            if importer != "daemon.__main__" or theirs != "app":
                found.append(f"{importer}:{line} imports {module} from outside the wings")
        elif theirs != mine and LEVELS[theirs] <= LEVELS[mine]:
            found.append(f"{importer}:{line}: {mine} imports {module}, which is {theirs}, "
                         "not below it")
    return found


def modules() -> Iterator[tuple[str, Path]]:
    for top in ("daemon", "connectors"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts), path


def test_every_import_runs_down_the_wings() -> None:
    found = [problem for name, path in modules()
             for problem in problems(name, path.read_text(encoding="utf-8"))]
    assert found == []


def test_every_daemon_module_is_in_a_wing() -> None:
    loose = [name for name, _ in modules() if name.startswith("daemon.")
             and wing_of(name) is None and name not in ("daemon.__init__", "daemon.__main__")]
    assert loose == []


def test_each_wing_says_what_it_is_and_who_may_import_it() -> None:
    for wing in LEVELS:
        doc = ast.get_docstring(ast.parse((ROOT / "daemon" / wing / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), wing


@pytest.mark.parametrize(("importer", "source", "complaint"), [
    ("daemon.core.model", "from daemon.state.store import Store", "not below it"),
    ("daemon.plan.planner", "def f():\n    from daemon.mail import render", "not below it"),
    ("daemon.state.store", "import daemon.app.cli", "not below it"),
    ("connectors.local.ics", "from daemon.settings.config import load", "only daemon.core"),
    ("daemon.cycle.run", "from daemon import store", "in no wing"),
])
def test_the_checker_catches_each_kind_of_break(importer: str, source: str,
                                                complaint: str) -> None:
    assert any(complaint in problem for problem in problems(importer, source))


def test_the_checker_lets_the_right_direction_through() -> None:
    assert problems("daemon.app.cli", "from daemon.core import text\nimport daemon.cycle.run") == []
    assert problems("connectors.google.history", "from daemon.core.text import clean_line") == []
