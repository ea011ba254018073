"""Tests for daemon.core.tagging: what counts as an interview, who the contacts are, the notes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.core.model import Attendee, Interview, Meeting, Person, TaggingRules
from daemon.core.tagging import fingerprint, interview_from, is_tagged, notes_from

TZ = ZoneInfo("Europe/Berlin")
ME = "me@example.org"
MINE = frozenset({ME, "me.too@work.example"})
RULES = TaggingRules()
ANA = Attendee("ana.li@corp.example", "Ana Li", "accepted")


def meeting(**changes: object) -> Meeting:
    base = Meeting(
        uid="uid-1",
        title="Coffee chat with Ana",
        start=datetime(2024, 5, 6, 10, 0, tzinfo=TZ),
        end=datetime(2024, 5, 6, 10, 30, tzinfo=TZ),
        organizer=Attendee(ME, "Me", "accepted", is_self=True),
        attendees=(Attendee(ME, "Me", "accepted", is_self=True), ANA),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def tag(m: Meeting, rules: TaggingRules = RULES) -> Interview:
    result = interview_from(m, "work", rules, MINE)
    assert result is not None
    return result


# --- is it tagged? -------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["COFFEE CHAT", "Informational Interview w/ Ana",
                                   "#InfoInterview Ana", "an info interview"])
def test_keyword_in_title_any_case(title: str) -> None:
    assert tag(meeting(title=title)).meeting.title == title


def test_keyword_in_description_any_case() -> None:
    m = meeting(title="Ana", description="Agenda\n#INFOINTERVIEW\n")
    assert tag(m).contacts == (Person("ana.li@corp.example", "Ana Li"),)


def test_untagged_meeting_is_none() -> None:
    assert interview_from(meeting(title="Sprint review", description="coffee"), "work",
                          RULES, MINE) is None


def test_custom_keywords_replace_the_defaults() -> None:
    rules = TaggingRules(keywords=("#career",), categories=())
    assert interview_from(meeting(title="coffee chat"), "w", rules, MINE) is None
    assert interview_from(meeting(title="Ana #Career"), "w", rules, MINE) is not None


def test_blank_keyword_does_not_tag_everything() -> None:
    rules = TaggingRules(keywords=("", "  "), categories=("",))
    assert interview_from(meeting(title="Lunch", categories=("",)), "w", rules, MINE) is None


def test_category_matches_case_insensitively() -> None:
    m = meeting(title="Lunch", categories=("Work", " informational INTERVIEW "))
    assert is_tagged(m, RULES)
    assert interview_from(m, "w", RULES, MINE) is not None


def test_category_must_equal_not_contain() -> None:
    m = meeting(title="Lunch", categories=("Not an Informational Interview",))
    assert interview_from(m, "w", RULES, MINE) is None


def test_provider_tagged_without_any_text() -> None:
    m = meeting(title="Lunch", provider_tagged=True)
    assert tag(m).contacts == (Person("ana.li@corp.example", "Ana Li"),)


def test_all_day_event_is_never_an_interview() -> None:
    m = meeting(all_day=True, provider_tagged=True, categories=("Informational Interview",))
    assert interview_from(m, "w", RULES, MINE) is None


def test_account_is_kept() -> None:
    assert interview_from(meeting(), "personal", RULES, MINE) == Interview(
        meeting=meeting(), account="personal",
        contacts=(Person("ana.li@corp.example", "Ana Li"),),
    )


# --- who the contacts are ------------------------------------------------------------------


def test_user_excluded_by_my_emails_any_case() -> None:
    m = meeting(organizer=None, attendees=(Attendee("ME.TOO@Work.Example", "Me"), ANA))
    assert [p.email for p in tag(m).contacts] == ["ana.li@corp.example"]


def test_user_excluded_by_is_self() -> None:
    m = meeting(organizer=None,
                attendees=(Attendee("alias@elsewhere.example", "Me", is_self=True), ANA))
    assert [p.email for p in tag(m).contacts] == ["ana.li@corp.example"]


def test_resources_excluded() -> None:
    room = Attendee("room-4@resource.example", "Room 4", "accepted", is_resource=True)
    assert [p.email for p in tag(meeting(attendees=(room, ANA))).contacts] == [
        "ana.li@corp.example"]



@pytest.mark.parametrize("address", [
    "c_4f2a9e@group.calendar.google.com",         # a secondary calendar's own address
    "en.usa#holiday@group.v.calendar.google.com",  # a holiday calendar
    "AB12cd@import.calendar.google.com",           # a calendar subscribed by URL
    "corp.example_3436@resource.calendar.google.com",  # a room not marked as a resource
])
def test_calendar_system_addresses_are_not_contacts(address: str) -> None:
    system = Attendee(address, "Team calendar", "accepted")
    as_attendee = tag(meeting(attendees=(system, ANA)))
    assert as_attendee.contacts == (Person("ana.li@corp.example", "Ana Li"),)
    as_organizer = tag(meeting(organizer=system, attendees=(ANA,)))
    assert as_organizer.contacts == (Person("ana.li@corp.example", "Ana Li"),)
    assert as_organizer.declined == ()


def test_a_calendar_organizer_does_not_hide_the_contact_line() -> None:
    # an event kept on a secondary Google calendar has that calendar as its organizer
    calendar = Attendee("team_x1@group.calendar.google.com", "Team", "accepted")
    text = "Contact: Dana Roe <dana@firm.example>\nContact: c_1@group.calendar.google.com"
    iv = tag(meeting(organizer=calendar, attendees=(), description=text))
    assert iv.contacts == (Person("dana@firm.example", "Dana Roe"),)


@pytest.mark.parametrize("address", ["ana@calendar.google.com.evil.example",
                                     "ana@mycalendar.google.com", "ana@google.com"])
def test_addresses_that_only_look_alike_stay_contacts(address: str) -> None:
    iv = tag(meeting(attendees=(Attendee(address, "Ana"),)))
    assert [p.email for p in iv.contacts] == [address]

def test_declined_attendee_split_out() -> None:
    bo = Attendee("bo@corp.example", "Bo Chen", "declined")
    iv = tag(meeting(attendees=(ANA, bo)))
    assert iv.contacts == (Person("ana.li@corp.example", "Ana Li"),)
    assert iv.declined == (Person("bo@corp.example", "Bo Chen"),)
    assert iv.user_declined is False


def test_user_declined() -> None:
    m = meeting(attendees=(Attendee(ME, "Me", "declined", is_self=True), ANA))
    assert tag(m).user_declined is True


def test_duplicate_addresses_merged_name_filled() -> None:
    m = meeting(attendees=(Attendee("ANA.LI@corp.example", ""), ANA,
                           Attendee("mailto:ana.li@corp.example", "Other")))
    assert tag(m).contacts == (Person("ana.li@corp.example", "Ana Li"),)


def test_organizer_who_is_someone_else_is_a_contact() -> None:
    org = Attendee("Dana@Firm.example", "Dana Roe")
    m = meeting(organizer=org, attendees=(Attendee(ME, is_self=True, response="accepted"),))
    iv = tag(m)
    assert iv.contacts == (Person("dana@firm.example", "Dana Roe"),)


def test_organizer_listed_among_attendees_counted_once() -> None:
    org = Attendee("dana@firm.example", "Dana Roe")
    m = meeting(organizer=org, attendees=(Attendee("dana@firm.example", "", "accepted"), ANA))
    assert [p.email for p in tag(m).contacts] == ["dana@firm.example", "ana.li@corp.example"]
    assert tag(m).contacts[0].name == "Dana Roe"


def test_organizer_who_declined_in_the_attendee_list_stays_declined() -> None:
    org = Attendee("dana@firm.example", "Dana Roe")
    m = meeting(organizer=org, attendees=(Attendee("dana@firm.example", "", "declined"), ANA))
    iv = tag(m)
    assert iv.declined == (Person("dana@firm.example", "Dana Roe"),)
    assert iv.contacts == (Person("ana.li@corp.example", "Ana Li"),)


def test_name_equal_to_address_becomes_empty() -> None:
    m = meeting(attendees=(Attendee("ana.li@corp.example", "Ana.Li@corp.example"),))
    assert tag(m).contacts == (Person("ana.li@corp.example", ""),)


# --- the Contact: line -------------------------------------------------------------------


def test_contact_line_with_name_when_no_attendee() -> None:
    m = meeting(attendees=(), description="Contact: Ana Li <Ana.Li@Corp.example>\nAsk about UX")
    iv = tag(m)
    assert iv.contacts == (Person("ana.li@corp.example", "Ana Li"),)
    assert iv.notes == "Ask about UX"


def test_contact_line_address_only_any_case_label() -> None:
    m = meeting(organizer=None, attendees=(), description="CONTACT:   bo@corp.example  ")
    assert tag(m).contacts == (Person("bo@corp.example", ""),)


def test_several_contact_lines() -> None:
    text = "contact: Ana Li <ana@a.example>\nnotes\nContact: bo@b.example\nContact: ana@a.example"
    iv = tag(meeting(attendees=(), description=text))
    assert iv.contacts == (Person("ana@a.example", "Ana Li"), Person("bo@b.example", ""))
    assert iv.notes == "notes"


def test_contact_line_ignored_when_attendees_exist_but_removed_from_notes() -> None:
    m = meeting(description="Contact: Zed <zed@z.example>\nBring resume")
    iv = tag(m)
    assert [p.email for p in iv.contacts] == ["ana.li@corp.example"]
    assert iv.notes == "Bring resume"


def test_contact_line_ignored_when_only_declined_attendees() -> None:
    bo = Attendee("bo@corp.example", "Bo", "declined")
    iv = tag(meeting(attendees=(bo,), description="Contact: zed@z.example"))
    assert iv.contacts == ()
    assert iv.declined == (Person("bo@corp.example", "Bo"),)


def test_contact_line_used_when_organizer_address_is_unusable() -> None:
    m = meeting(organizer=Attendee("not an address", "Dana"), attendees=(),
                description="Contact: Dana Roe <dana@firm.example>")
    assert tag(m).contacts == (Person("dana@firm.example", "Dana Roe"),)


def test_contact_line_ignored_when_organizer_is_someone_else() -> None:
    m = meeting(organizer=Attendee("dana@firm.example", "Dana"), attendees=(),
                description="Contact: zed@z.example")
    assert tag(m).contacts == (Person("dana@firm.example", "Dana"),)


def test_contact_line_naming_the_user_is_ignored() -> None:
    iv = tag(meeting(attendees=(), description=f"Contact: Me <{ME.upper()}>"))
    assert iv.contacts == ()


def test_contact_line_with_invalid_address_dropped_and_removed() -> None:
    iv = tag(meeting(attendees=(), description="Contact: Ana <ana@@bad>\nhello"))
    assert iv.contacts == ()
    assert iv.notes == "hello"


def test_contact_word_in_prose_is_kept() -> None:
    text = "Contact: reach out on LinkedIn first"
    iv = tag(meeting(description=text))
    assert iv.notes == text


def test_tagged_meeting_without_any_contact_is_returned() -> None:
    iv = tag(meeting(attendees=(Attendee(ME, is_self=True),), description="no one"))
    assert iv.contacts == ()
    assert iv.declined == ()


# --- notes -------------------------------------------------------------------------------


def test_notes_drop_hashtag_and_tag_only_lines_keep_the_rest() -> None:
    text = ("Informational interview\n"
            "She suggested   talking to Raj #infointerview about data.\n"
            "\n"
            "  - I promised to send my portfolio\n"
            "#InfoInterview\n"
            "\n"
            "Coffee chat:\n")
    iv = tag(meeting(description=text))
    assert iv.notes == ("She suggested talking to Raj about data.\n"
                        "\n"
                        "  - I promised to send my portfolio")


def test_notes_keep_keywords_inside_sentences() -> None:
    text = "This coffee chat was her idea.\nInfo interview prep: read her blog"
    assert notes_from(text, RULES.keywords) == text


def test_notes_hashtag_of_keyword_configured_without_hash() -> None:
    assert notes_from("Great talk #career!\n#careers stays", ("career",)) == (
        "Great talk !\n#careers stays")


def test_notes_no_double_blank_line_where_a_line_was_removed() -> None:
    text = "First\n\n#infointerview\n\nSecond"
    assert notes_from(text, RULES.keywords) == "First\n\nSecond"


def test_notes_normalise_crlf_and_drop_control_characters() -> None:
    text = "line one\r\nline\x00 two\r\n#infointerview\r\n"
    assert notes_from(text, RULES.keywords) == "line one\nline two"


# --- hostile text -----------------------------------------------------------------------


def test_crlf_in_names_is_flattened() -> None:
    evil = Attendee("eve@x.example", "Eve\r\nBcc: all@x.example", "accepted")
    iv = tag(meeting(attendees=(evil,)))
    assert iv.contacts == (Person("eve@x.example", "Eve Bcc: all@x.example"),)
    assert "\n" not in iv.contacts[0].name


def test_encoded_word_in_name_is_broken_up() -> None:
    evil = Attendee("eve@x.example", "=?utf-8?q?Eve=0ABcc:_x@y?=")
    name = tag(meeting(attendees=(evil,))).contacts[0].name
    assert "=?" not in name and "?=" not in name


@pytest.mark.parametrize("address", ["not-an-address", "a@b@c.example", "a b@c.example",
                                     "eve@x.example\r\nBcc: x@y.example", ""])
def test_invalid_attendee_address_dropped(address: str) -> None:
    iv = tag(meeting(attendees=(Attendee(address, "Eve"), ANA)))
    assert [p.email for p in iv.contacts] == ["ana.li@corp.example"]


def test_line_separator_splits_a_contact_line_and_names_nobody() -> None:
    text = "Contact: Eve\u2028Bcc: x@y.example <eve@x.example>"
    iv = tag(meeting(attendees=(), description=text))
    assert iv.contacts == ()
    assert iv.notes == "Contact: Eve\nBcc: x@y.example <eve@x.example>"


def test_control_characters_in_contact_line_name_are_cleaned() -> None:
    iv = tag(meeting(attendees=(), description="Contact: Eve\x07 \tRoe <eve@x.example>"))
    assert iv.contacts == (Person("eve@x.example", "Eve Roe"),)


# --- the fingerprint of the tagging settings -------------------------------------------------


def test_the_fingerprint_is_stable_and_ignores_order_and_unset_marks() -> None:
    rules = TaggingRules(keywords=("coffee chat", "#career"), categories=("Mentoring",))
    reordered = TaggingRules(keywords=(" #career", "coffee chat"), categories=("Mentoring ",))
    first = fingerprint(rules, ["Me@Example.org", "b@x.example"], {"color_id": None})
    assert first == fingerprint(reordered, ["b@x.example", "me@example.org"], {})


@pytest.mark.parametrize("change", ["keyword", "category", "address", "colour"])
def test_the_fingerprint_changes_with_what_decides_tagging(change: str) -> None:
    rules = TaggingRules(keywords=("coffee chat",), categories=("Mentoring",))
    emails, marks = ["me@example.org"], {"color_id": "5"}
    before = fingerprint(rules, emails, marks)
    if change == "keyword":
        rules = replace(rules, keywords=("coffee chat", "mentor call"))
    elif change == "category":
        rules = replace(rules, categories=())
    elif change == "address":
        emails = [*emails, "me.too@work.example"]
    else:
        marks = {"color_id": "6"}
    assert fingerprint(rules, emails, marks) != before
