"""Cleaning calendar text: the fast path for printable text changes nothing."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.text import clean_address, clean_block, clean_line


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
