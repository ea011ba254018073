"""docs/configuration.md and docs/templates.md are made from the code: a key, a default, a bound
or a template variable the code has and the page lacks fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import OPTIONS, options_model
from daemon.app import reference
from daemon.core.kinds import DRAFT_KINDS
from daemon.settings import schema


def test_the_generated_pages_are_up_to_date() -> None:
    assert reference.stale() == [], (
        f"stale: run `make docs` ({reference.COMMAND}) and commit the pages it rewrites")


def test_every_config_key_has_a_description() -> None:
    models = [f.annotation for name, f in schema._ConfigModel.model_fields.items()
              if name != "accounts"]
    models += [options_model(kind) for kind in OPTIONS]
    bare = [f"{model.__name__}.{key}" for model in models if isinstance(model, type)
            for key, field in model.model_fields.items()
            if key != "kind" and not field.description]
    assert bare == []


def test_the_reference_names_every_key_default_and_bound() -> None:
    text = reference.configuration()
    assert "| `confirmation_days_before` | integer | `2` | ≥ 1, ≤ 60 |" in text
    assert "| `poll_minutes` | number | `5` | > 0, ≤ 1440 |" in text
    assert '| `graph_root` | string | `"https://graph.microsoft.com/v1.0"` |' in text
    for kind in OPTIONS:
        assert f"### Accounts of kind {kind}" in text
        for key in options_model(kind).model_fields:
            assert f"| `{key}` |" in text or key == "kind"


def test_the_templates_page_names_every_kind_and_its_template() -> None:
    row = next(line for line in reference.variables().splitlines()
               if line.startswith("| `kind` |"))
    assert "`<kind>.txt`" in row
    assert all(kind in row for kind in DRAFT_KINDS)


def test_a_changed_page_is_found_stale_and_rewritten_as_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in reference.PAGES:
        (tmp_path / name).write_text((reference.DOCS / name).read_text(encoding="utf-8")
                                     .replace("| `kind` |", "| `kinds` |"), encoding="utf-8")
    monkeypatch.setattr(reference, "DOCS", tmp_path)
    assert reference.stale() == ["templates.md"]
    assert reference.write() == ["templates.md"]
    assert reference.stale() == []
    assert "| `kind` |" in (tmp_path / "templates.md").read_text(encoding="utf-8")


def test_a_page_without_the_marks_is_refused() -> None:
    with pytest.raises(ValueError, match="generated"):
        reference.filled("# a page\n", "| x |\n")
