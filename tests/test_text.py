"""Cleaning calendar text: the fast path for printable text changes nothing."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.text import clean_address, clean_block, clean_line


def slow_line(value: str, limit: int = 300) -> str:
    value = re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", value)
    value = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch
                    for ch in value)
    value = value.replace("=?", "= ?").replace("?=", "? =")
    return re.sub(r"\s+", " ", value).strip()[:limit].rstrip()


def slow_block(value: str, limit: int = 20_000) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    value = value.replace("\u2029", "\n")
    value = "".join(ch for ch in value
                    if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return value[:limit].strip()


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_clean_line_and_block_match_the_character_by_character_definition(text: str) -> None:
    assert clean_line(text) == slow_line(text)
    assert clean_block(text) == slow_block(text)


def test_what_cleaning_removes() -> None:
    assert clean_line("Coffee\r\nBcc: x@y.z\u2028\u200b=?utf-8?q?x?=") == \
        "Coffee Bcc: x@y.z = ?utf-8?q?x? ="
    assert clean_block("a\r\nb\x00\x07c\u2029d\te") == "a\nbc\nd\te"
    assert clean_address("MAILTO:Ana@Example.ORG") == "ana@example.org"
    assert clean_address("ana@example.org\r\nBcc: x") is None


def old_address(value: str) -> str | None:
    """clean_address before its fast path for plain addresses."""
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    value = value.strip().lower()
    if len(value) > 254 or not re.match(
            r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$",
            value):
        return None
    return value


LINE_PARTS = st.sampled_from(("Coffee", "with", "Dana", " ", "  ", "=?", "?=", "=", "?", "é",
                              "日本", "\t", "\n", "\u00a0", "\u200b", "x" * 40))


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE_PARTS, max_size=12).map("".join), st.integers(0, 120))
def test_clean_line_of_nearly_clean_lines_matches_the_definition(text: str, limit: int) -> None:
    assert clean_line(text, limit) == slow_line(text, limit)


ADDRESS_PARTS = st.sampled_from(("ana", "Ana", "o'neil", "a.b+c", "@", "example", ".org", "-",
                                 ".", "mailto:", "MAILTO:", " ", "\n", "\r\nBcc: x", "\u212a",
                                 "\u0130", "é", "x" * 130, ":", "_"))


@settings(max_examples=200, deadline=None)
@given(st.lists(ADDRESS_PARTS, max_size=8).map("".join))
def test_clean_address_matches_what_it_was(value: str) -> None:
    assert clean_address(value) == old_address(value)


def test_clean_address_of_odd_forms() -> None:
    for value in ("ana@example.org\n", " Ana@Example.ORG ", "mailto: ana@x.org", "\u212a@x.org",
                  "a" * 250 + "@x.org", "a" * 240 + "@x.org", "ana@-x.org", "ana@x.org-"):
        assert clean_address(value) == old_address(value)
