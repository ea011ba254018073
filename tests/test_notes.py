"""Tests for daemon.mail.notes: splitting the user's notes into notes, suggestions and promises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.text import clean_line
from daemon.mail.notes import Notes, parse_notes


def test_text_without_headings_is_all_notes() -> None:
    parsed = parse_notes("Great chat about data teams.\n\nBook: The Effective Engineer\n")
    assert parsed == Notes(notes=("Great chat about data teams.", "Book: The Effective Engineer"))


def test_empty_text_has_no_items() -> None:
    assert parse_notes("") == Notes()
    assert parse_notes("\n  \n\t\n") == Notes()


def test_each_heading_opens_its_section_until_the_next() -> None:
    text = ("Met at the alumni event.\n"
            "Suggested:\n"
            "- talk to Maria Lopez\n"
            "- read The Effective Engineer\n"
            "Promised:\n"
            "- send my portfolio\n"
            "Notes:\n"
            "- she hires in spring\n")
    assert parse_notes(text) == Notes(
        notes=("Met at the alumni event.", "she hires in spring"),
        suggested=("talk to Maria Lopez", "read The Effective Engineer"),
        promised=("send my portfolio",),
    )


@pytest.mark.parametrize("heading", ["Suggested:", "SUGGESTED:", "suggested :", "  Suggested:",
                                     "Suggestions:", "sUgGeStEd:\t"])
def test_headings_ignore_case_and_spaces(heading: str) -> None:
    assert parse_notes(f"{heading}\nthe local meetup").suggested == ("the local meetup",)


def test_text_after_the_colon_is_the_first_item() -> None:
    parsed = parse_notes("Promised: my portfolio\n- a short writing sample\n"
                         "Suggested: the ALA job list\nNote: very friendly")
    assert parsed.promised == ("my portfolio", "a short writing sample")
    assert parsed.suggested == ("the ALA job list",)
    assert parsed.notes == ("very friendly",)


def test_a_bullet_after_the_colon_is_removed() -> None:
    assert parse_notes("Promised: - my portfolio").promised == ("my portfolio",)
    assert parse_notes("Suggested: 1) Maria").suggested == ("Maria",)


@pytest.mark.parametrize("bullet", ["- ", "* ", "• ", "– ", "1. ", "12) ", "3.\t", "  - "])
def test_bullets_and_numbers_are_removed(bullet: str) -> None:
    assert parse_notes(f"Suggested:\n{bullet}talk to Maria").suggested == ("talk to Maria",)


def test_things_that_only_look_like_bullets_are_kept() -> None:
    parsed = parse_notes("-5 degrees outside\n2026 plans\n1.5 hours well spent\n*starred*")
    assert parsed.notes == ("-5 degrees outside", "2026 plans", "1.5 hours well spent",
                            "*starred*")


def test_other_colon_lines_and_mid_line_words_are_not_headings() -> None:
    parsed = parse_notes("Book: Range\nShe suggested: a podcast\nPromised to write soon")
    assert parsed == Notes(notes=("Book: Range", "She suggested: a podcast",
                                  "Promised to write soon"))


def test_empty_items_and_empty_headings_are_dropped() -> None:
    parsed = parse_notes("Suggested:\n-\n*   \n1.\nPromised:\nNotes:   \n")
    assert parsed == Notes()


def test_windows_and_old_mac_line_ends_are_understood() -> None:
    parsed = parse_notes("Suggested:\r\n- Maria\r\n- the meetup\rPromised: portfolio\r\n")
    assert parsed == Notes(suggested=("Maria", "the meetup"), promised=("portfolio",))


def test_a_wrapped_bullet_line_continues_its_item() -> None:
    text = ("Suggested:\n"
            "- read The Effective Engineer,\n"
            "  especially the chapter on leverage\n"
            "- talk to Maria\n")
    assert parse_notes(text).suggested == (
        "read The Effective Engineer, especially the chapter on leverage", "talk to Maria")


def test_plain_indented_lines_are_items_of_their_own() -> None:
    text = "Suggested:\n    talk to Maria\n    read Range\n"
    assert parse_notes(text).suggested == ("talk to Maria", "read Range")


def test_a_blank_line_ends_a_wrapped_item() -> None:
    text = "Suggested:\n- talk to Maria\n\n  the meetup in March\n"
    assert parse_notes(text).suggested == ("talk to Maria", "the meetup in March")


def test_items_are_cleaned_to_one_line() -> None:
    parsed = parse_notes("Promised:\n- my\u2028portfolio\x0b  and =?utf-8?q?x?= a\tsample")
    assert parsed.promised == ("my", "portfolio and = ?utf-8?q?x? = a sample")


def test_sections_may_come_back() -> None:
    text = "Suggested: Maria\nPromised: portfolio\nSuggested: the meetup"
    assert parse_notes(text) == Notes(suggested=("Maria", "the meetup"),
                                      promised=("portfolio",))


def test_template_code_in_notes_is_plain_text() -> None:
    parsed = parse_notes("Suggested:\n- {{ 7*7 }}\n- {% for x in y %}")
    assert parsed.suggested == ("{{ 7*7 }}", "{% for x in y %}")


def test_notes_are_frozen() -> None:
    parsed = parse_notes("x")
    with pytest.raises(AttributeError):
        parsed.notes = ()  # type: ignore[misc]


LINE_BREAKS = "\r\n\u2028\u2029\x0b\x0c\x85"
NOTE_TEXT = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(["Notes:", "suggested: x", "PROMISED:", "- ", "* a", "• b",
                              "1. c", "2) d", "  wrapped", "", "\r", "plain", "\u2028",
                              "=?utf-8?q?=0A?=", "\x00", "–"]),
             max_size=30).map("\n".join),
)


@settings(max_examples=200, deadline=None)
@given(text=NOTE_TEXT)
def test_parsing_never_raises_and_every_item_is_one_clean_line(text: str) -> None:
    parsed = parse_notes(text)
    for item in (*parsed.notes, *parsed.suggested, *parsed.promised):
        assert item
        assert item == clean_line(item)
        assert not any(ch in item for ch in LINE_BREAKS)


SIMPLE_ITEM = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=30).map(clean_line) \
    .filter(bool)


@settings(max_examples=100, deadline=None)
@given(notes=st.lists(SIMPLE_ITEM, max_size=5), suggested=st.lists(SIMPLE_ITEM, max_size=5),
       promised=st.lists(SIMPLE_ITEM, max_size=5), bullet=st.sampled_from(["- ", "* ", "1. ", ""]))
def test_written_sections_read_back(notes: list[str], suggested: list[str],
                                    promised: list[str], bullet: str) -> None:
    text = "\n".join([*notes, "Suggested:", *(bullet + s for s in suggested),
                      "Promised:", *(bullet + p for p in promised)])
    assert parse_notes(text) == Notes(tuple(notes), tuple(suggested), tuple(promised))
