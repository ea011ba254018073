"""The one set of rules for automatic mail (:mod:`daemon.core.automatic`), on header fields as
providers hand them over: any case, any order, other fields mixed in."""

from __future__ import annotations

import pytest

from daemon.core.automatic import HEADERS, is_automatic, is_automatic_class


@pytest.mark.parametrize("fields", [
    [("AUTO-SUBMITTED", "Auto-Replied")],
    [("auto-submitted", " auto-generated ")],
    [("Auto-Submitted", "")],  # any value but "no"
    [("Subject", "Hello"), ("x-autorespond", "")],
    [("Precedence", "BULK")],
    [("list-id", "<news.example.org>")],
])
def test_marks_of_automatic_mail(fields: list[tuple[str, str]]) -> None:
    assert is_automatic(fields)


@pytest.mark.parametrize("fields", [
    [],
    [("Auto-Submitted", "No")],
    [("Auto-Submitted", "no (written by a person)")],
    [("Precedence", "normal")],
    [("List-Id", "  ")],
    [("X-Auto-Response-Suppress", "OOF, AutoReply")],
    [("Subject", "Auto-Submitted: auto-replied")],
])
def test_a_persons_mail(fields: list[tuple[str, str]]) -> None:
    assert not is_automatic(fields)


def test_every_field_the_rules_read_is_asked_for() -> None:
    for name in HEADERS:
        assert is_automatic([(name, "auto-replied" if name != "Precedence" else "bulk")])


def test_the_exchange_out_of_office_class_and_classes_derived_from_it() -> None:
    assert is_automatic_class("IPM.Note.Rules.OofTemplate.Microsoft")
    assert is_automatic_class("ipm.note.rules.ooftemplate.microsoft.custom")
    assert not is_automatic_class("IPM.Note")
    assert not is_automatic_class("IPM.Note.Rules.OofTemplate.MicrosoftX")
    assert not is_automatic_class("")
