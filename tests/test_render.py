"""Tests for daemon.mail (variables, templates, message): the variables, the default templates,
the sandbox, template errors, reply headers, and the header check of build_message (including
CVE-2024-6923 payloads)."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import daemon.mail.message as message_module
from daemon.core import msgid
from daemon.core.errors import TemplateError, UnsafeMessageError
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.model import (
    KEY_HEADER,
    DraftKind,
    Interview,
    Me,
    Meeting,
    Person,
    ThreadRef,
)
from daemon.core.msgid import MAX_REFERENCES
from daemon.mail.message import Rendered, build_message, reply_problem
from daemon.mail.templates import Renderer
from daemon.mail.variables import VARIABLES, draft_variables

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ME = Me(name="Ana Pérez", emails=("ana@example.org",), signature="Ana Pérez\nData analyst")
JANE = Person(email="jane.doe@example.com", name="Jane Doe")
KEY = "uid-123@example.com/thank_you/jane.doe@example.com"
WHEN = datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK)
CVE_PAYLOAD = "=?utf-8?q?=0ABcc:_evil@x.com?="
INTENDED_HEADERS = sorted([
    "from", "to", "subject", "date", "message-id", "x-coffeechat-key",
    "mime-version", "content-type", "content-transfer-encoding",
])
NOTES = "Suggested I talk to Maria Lopez.\nBook: The Effective Engineer\nPromised: my portfolio"


FULL_NOTES = ("Great chat about data teams.\n"
              "Suggested:\n- talk to Maria Lopez\n- read The Effective Engineer\n"
              "Promised:\n- send my portfolio\n- share the meetup link\n")


def make_interview(title: str = "Coffee chat #infointerview", notes: str = NOTES,
                   contact: Person = JANE, start: datetime | None = None,
                   minutes: int = 30, location: str = "Blue Bottle, 5th Ave",
                   link: str = "https://zoom.us/j/123", all_day: bool = False,
                   uid: str = "uid-123@example.com", cancelled: bool = False) -> Interview:
    begin = start or datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    meeting = Meeting(uid=uid, title=title, start=begin,
                      end=begin + timedelta(minutes=minutes), description=notes,
                      location=location, link=link, all_day=all_day, cancelled=cancelled)
    return Interview(meeting=meeting, account="work", contacts=(contact,), notes=notes)


def variables(kind: DraftKind = "thank_you", contact: Person = JANE, message: str = "",
              earlier: tuple[Interview, ...] = (), **kwargs: Any) -> dict[str, object]:
    interview = make_interview(contact=contact, **kwargs)
    return draft_variables(kind, contact, interview, ME, NEW_YORK, message=message,
                           earlier=earlier)


def parse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_intended(message: EmailMessage, recipient: str = JANE.email) -> EmailMessage:
    """The serialised message, parsed back, has exactly the intended headers and recipient."""
    parsed = parse(message)
    assert sorted(name.lower() for name in parsed) == INTENDED_HEADERS
    to = parsed["To"].addresses
    assert [a.addr_spec for a in to] == [recipient]
    assert [a.addr_spec for a in parsed["From"].addresses] == [ME.emails[0]]
    assert str(parsed[KEY_HEADER]) == KEY
    return parsed


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- default templates


EARLIER = (
    make_interview(uid="first", start=datetime(2026, 5, 8, 14, 0, tzinfo=UTC),
                   title="First coffee", notes="Notes: met at a meetup\nPromised: intro to Bob"),
    make_interview(uid="second", start=datetime(2026, 8, 16, 14, 0, tzinfo=UTC),
                   title="Second coffee", notes=""),
)


@pytest.mark.parametrize("notes", ["", NOTES, FULL_NOTES])
@pytest.mark.parametrize("kind", DRAFT_KINDS)
def test_each_default_template_renders_a_subject_and_a_personal_body(kind: DraftKind,
                                                                     notes: str) -> None:
    values = variables(kind, notes=notes, message="I got the job!" if notes else "",
                       earlier=EARLIER if notes else ())
    rendered = Renderer().render(kind, values)
    assert rendered.subject and "\n" not in rendered.subject
    if kind == "prep":  # a note to the user, not to the contact
        assert rendered.body.startswith("A note to yourself")
        assert "Hi Jane" not in rendered.body
    else:
        assert rendered.body.startswith("Hi Jane,\n\n")
        assert rendered.body.endswith("Ana Pérez\nData analyst\n")
    assert "{{" not in rendered.body and "{%" not in rendered.body
    assert "\n\n\n" not in rendered.body
    assert rendered.body.count("[") == rendered.body.count("]")
    message = build_message(rendered, ME, JANE, KEY, WHEN)
    assert parse(message).get_content() == rendered.body


def test_confirmation_states_date_local_time_place_and_length() -> None:
    rendered = Renderer().render("confirmation", variables("confirmation"))
    assert rendered.subject == "Confirming our chat on Tuesday 24 November"
    assert "Tuesday 24 November at 10:00 AM EST" in rendered.body
    assert "Blue Bottle, 5th Ave (https://zoom.us/j/123)" in rendered.body
    assert "30 minutes" in rendered.body


def test_confirmation_without_place_or_length_leaves_those_lines_out() -> None:
    rendered = Renderer().render(
        "confirmation", variables("confirmation", location="", link="", all_day=True))
    assert "Where:" not in rendered.body and "Length:" not in rendered.body
    assert "When: Tuesday 24 November\n" in rendered.body


def test_thank_you_uses_the_notes_when_there_are_some() -> None:
    body = Renderer().render("thank_you", variables()).body
    assert "- Suggested I talk to Maria Lopez.\n- Book: The Effective Engineer\n" in body
    assert "LinkedIn" in body and "in return" in body
    assert "[one thing you learned]" not in body


def test_thank_you_leaves_a_placeholder_when_there_are_no_notes() -> None:
    body = Renderer().render("thank_you", variables(notes="")).body
    assert "[one thing you learned]" in body
    assert "notes" not in body and "follow up on" not in body


def test_thank_you_follows_through_on_each_promise() -> None:
    body = Renderer().render("thank_you", variables(notes=FULL_NOTES)).body
    assert "I said I would follow up on a few things, so here they are:\n" in body
    assert "- send my portfolio [" in body and "- share the meetup link [" in body
    assert "- They suggested: talk to Maria Lopez\n" in body
    assert "- Great chat about data teams.\n" in body
    assert "- Promised" not in body  # promises are followed through, not listed as notes
    one = Renderer().render("thank_you", variables(notes="Promised: my portfolio")).body
    assert "follow up on one thing, so here it is:\n- my portfolio [" in one
    assert "[one thing you learned]" in one


def test_follow_up_gives_each_suggestion_its_own_line_to_fill_in() -> None:
    body = Renderer().render("follow_up", variables("follow_up", notes=FULL_NOTES)).body
    assert "- talk to Maria Lopez: [what you did about it, and how it went]\n" in body
    assert "- read The Effective Engineer: [what you did about it, and how it went]\n" in body
    assert "[Keep only the ones" in body
    assert "- Great chat about data teams.\n" in body
    assert "[A good outcome" not in body
    one = Renderer().render("follow_up", variables("follow_up", notes="Suggested: Maria")).body
    assert "a suggestion, and here is where it led:\n- Maria: [" in one
    assert "[Keep only the ones" not in one


def test_follow_up_without_suggestions_asks_for_one_outcome() -> None:
    body = Renderer().render("follow_up", variables("follow_up", notes="")).body
    assert "[A good outcome from their advice" in body
    assert "reminder" not in body


def test_news_shares_the_message_and_thanks_again_without_a_request() -> None:
    news = "I start at Acme in January,\nas a junior data analyst."
    rendered = Renderer().render("news", variables("news", message=news))
    assert news + "\n" in rendered.body
    assert "thank" in rendered.subject.lower() and "Thank you again" in rendered.body
    assert "November 2026" in rendered.body
    assert "?" not in rendered.body  # no question, so no request
    empty = Renderer().render("news", variables("news", message="")).body
    assert "[Your news:" in empty


def test_prep_is_a_checklist_with_questions_talking_points_and_history() -> None:
    body = Renderer().render("prep", variables("prep", notes=FULL_NOTES, earlier=EARLIER)).body
    assert "With: Jane Doe <jane.doe@example.com>" in body
    assert "When: Tuesday 24 November at 10:00 AM EST" in body
    assert "Where: Blue Bottle, 5th Ave (https://zoom.us/j/123)" in body
    assert "resume" in body and "Read up on Jane and their organisation" in body
    questions = body.split("Questions you could ask:\n", 1)[1].split("\n\n", 1)[0]
    assert 4 <= len(questions.splitlines()) <= 5
    assert all(q.startswith("- ") and q.endswith("?") for q in questions.splitlines())
    points = body.split("Talking points about yourself:\n", 1)[1].split("\n\n", 1)[0]
    assert 3 <= len(points.splitlines()) <= 4
    assert "- Suggested: talk to Maria Lopez\n- Suggested: read The Effective Engineer" in body
    assert "- Promised: send my portfolio" in body
    assert ("- From Friday 8 May 2026 (First coffee):\n    met at a meetup\n"
            "    Promised: intro to Bob\n") in body
    assert "- From Sunday 16 August 2026 (Second coffee):\n    (no notes)\n" in body
    assert "[Nothing yet" not in body


def test_prep_without_any_notes_prompts_for_some() -> None:
    body = Renderer().render("prep", variables("prep", notes="", location="", link="")).body
    assert "Your notes so far:\n- [Nothing yet" in body
    assert "Where:" not in body and "From " not in body


def test_signature_falls_back_to_the_name() -> None:
    me = Me(name="Ana Pérez", emails=("ana@example.org",))
    values = draft_variables("catch_up", JANE, make_interview(), me, NEW_YORK)
    body = Renderer().render("catch_up", values).body
    assert body.endswith("Warm regards,\nAna Pérez\n")


def test_variables_table_documents_exactly_the_variables_provided() -> None:
    provided = set(variables())
    assert provided == set(VARIABLES)
    required = {"contact_name", "contact_first_name", "contact_email", "meeting_title",
                "meeting_start", "meeting_date", "meeting_time", "meeting_duration_minutes",
                "meeting_location", "meeting_link", "meeting_place", "notes", "my_name",
                "my_first_name", "signature", "kind", "note_lines", "suggested", "promised",
                "message", "earlier_meetings"}
    assert required <= provided


def test_notes_are_offered_whole_and_by_section() -> None:
    values = variables(notes=FULL_NOTES)
    assert values["notes"] == FULL_NOTES.strip()
    assert values["note_lines"] == ["Great chat about data teams."]
    assert values["suggested"] == ["talk to Maria Lopez", "read The Effective Engineer"]
    assert values["promised"] == ["send my portfolio", "share the meetup link"]
    empty = variables(notes="")
    assert (empty["notes"], empty["note_lines"], empty["suggested"], empty["promised"]) == (
        "", [], [], [])


def test_message_is_cleaned_multi_line_text() -> None:
    values = variables("news", message="  New job!\r\nStarting in May.\x00\x1b  \n")
    assert values["message"] == "New job!\nStarting in May."
    assert variables("news")["message"] == ""


def test_earlier_meetings_are_the_past_uncancelled_ones_oldest_first() -> None:
    later = make_interview(uid="later", start=datetime(2027, 1, 5, 15, 0, tzinfo=UTC))
    cancelled = make_interview(uid="off", start=datetime(2026, 6, 1, 15, 0, tzinfo=UTC),
                               cancelled=True)
    same = make_interview()  # this very meeting, e.g. seen through another account
    earlier = (EARLIER[1], later, cancelled, same, EARLIER[0], EARLIER[0])
    shown = variables("prep", earlier=earlier)["earlier_meetings"]
    assert shown == [
        {"date": "Friday 8 May 2026", "title": "First coffee", "notes": ["met at a meetup"],
         "suggested": [], "promised": ["intro to Bob"]},
        {"date": "Sunday 16 August 2026", "title": "Second coffee", "notes": [],
         "suggested": [], "promised": []},
    ]
    assert variables("prep")["earlier_meetings"] == []


def test_earlier_dates_are_in_the_users_zone() -> None:
    late = make_interview(uid="e", start=datetime(2026, 5, 9, 2, 30, tzinfo=UTC))
    values = draft_variables("prep", JANE, make_interview(), ME, NEW_YORK, earlier=(late,))
    shown = values["earlier_meetings"]
    assert isinstance(shown, list) and shown[0]["date"] == "Friday 8 May 2026"


DEFAULTS = Renderer()


@settings(max_examples=60, deadline=None)
@given(notes=st.text(max_size=300), message=st.text(max_size=300),
       earlier_notes=st.text(max_size=200), title=st.text(max_size=100))
def test_odd_text_never_breaks_the_variables_or_a_default_template(
        notes: str, message: str, earlier_notes: str, title: str) -> None:
    earlier = (make_interview(uid="e", title=title, notes=earlier_notes,
                              start=datetime(2026, 1, 1, 12, 0, tzinfo=UTC)),)
    values = variables("prep", notes=notes, message=message, earlier=earlier, title=title)
    for kind in DRAFT_KINDS:
        rendered = DEFAULTS.render(kind, {**values, "kind": kind})
        assert "\n" not in rendered.subject
    for key in ("note_lines", "suggested", "promised"):
        items = values[key]
        assert isinstance(items, list)
        assert all(isinstance(i, str) and i and "\n" not in i for i in items)


def test_variables_fall_back_to_the_address_when_there_is_no_name() -> None:
    nameless = Person(email="jdoe@example.com")
    values = variables(contact=nameless)
    assert values["contact_name"] == "jdoe@example.com"
    assert values["contact_first_name"] == "jdoe"


@pytest.mark.parametrize(("link", "location", "place"), [
    ("http://zoom.us/j/1", "Room 4", "Room 4"),
    ("javascript:alert(1)", "", ""),
    ("https://meet.example.com/abc", "", "https://meet.example.com/abc"),
    ("https://meet.example.com/abc", "https://meet.example.com/abc", "https://meet.example.com/abc"),
    ("https://x.example/ has space", "Cafe", "Cafe"),
])
def test_only_https_links_are_used(link: str, location: str, place: str) -> None:
    values = variables(link=link, location=location)
    assert values["meeting_place"] == place
    assert values["meeting_link"] in ("", link)
    assert not str(values["meeting_link"]) or str(values["meeting_link"]).startswith("https://")


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(("utc", "tz", "expected"), [
    # New York: DST ends 1 November 2026 and starts 8 March 2026.
    (datetime(2026, 10, 31, 14, 0, tzinfo=UTC), NEW_YORK, "Saturday 31 October at 10:00 AM EDT"),
    (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), NEW_YORK, "Monday 2 November at 10:00 AM EST"),
    (datetime(2026, 3, 7, 15, 0, tzinfo=UTC), NEW_YORK, "Saturday 7 March at 10:00 AM EST"),
    (datetime(2026, 3, 9, 14, 0, tzinfo=UTC), NEW_YORK, "Monday 9 March at 10:00 AM EDT"),
    # Berlin: DST starts 29 March 2026 and ends 25 October 2026.
    (datetime(2026, 3, 28, 13, 30, tzinfo=UTC), BERLIN, "Saturday 28 March at 2:30 PM CET"),
    (datetime(2026, 3, 30, 12, 30, tzinfo=UTC), BERLIN, "Monday 30 March at 2:30 PM CEST"),
    (datetime(2026, 10, 26, 13, 30, tzinfo=UTC), BERLIN, "Monday 26 October at 2:30 PM CET"),
])
def test_meeting_start_is_local_and_dst_correct(utc: datetime, tz: ZoneInfo,
                                                expected: str) -> None:
    values = draft_variables("confirmation", JANE, make_interview(start=utc), ME, tz)
    assert values["meeting_start"] == expected


def test_duration_is_real_elapsed_time_across_a_dst_change() -> None:
    # 01:30 to 03:30 Berlin wall-clock time on the spring-forward night is one real hour.
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)
    meeting = Meeting(uid="u", title="t", start=start,
                      end=datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN))
    interview = Interview(meeting=meeting, account="a", contacts=(JANE,))
    values = draft_variables("confirmation", JANE, interview, ME, BERLIN)
    assert values["meeting_duration_minutes"] == 60
    assert values["meeting_length"] == "1 hour"
    assert values["meeting_start"] == "Sunday 29 March at 1:30 AM CET"


# --------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize("text", [
    "{{ 7*7 }}",
    "{% raw %}x{% endraw %}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
])
def test_event_text_is_data_never_template_source(text: str, tmp_path: Path) -> None:
    body = Renderer().render("thank_you", variables(notes=f"before {text} after")).body
    assert f"before {text} after" in body
    sections = f"Suggested: {text}\nPromised:\n- {text}"
    follow_up = Renderer().render("follow_up", variables("follow_up", notes=sections)).body
    assert f"- {text}: [" in follow_up
    thanks = Renderer().render("thank_you", variables(notes=sections)).body
    assert f"- {text} [" in thanks
    news = Renderer().render("news", variables("news", message=f"news {text}")).body
    assert f"news {text}\n" in news
    earlier = (make_interview(uid="e", start=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
                              title=text, notes=sections),)
    prep = Renderer().render("prep", variables("prep", notes=sections, earlier=earlier)).body
    assert f"({text}):\n    Suggested: {text}\n    Promised: {text}\n" in prep
    write(tmp_path, "confirmation.txt", "Subject: {{ meeting_title }}\n\n{{ meeting_title }}\n")
    rendered = Renderer(tmp_path).render("confirmation", variables(title=text))
    assert rendered.subject == text.replace("=?", "= ?").replace("?=", "? =")
    assert rendered.body == text + "\n"
    assert "49" not in rendered.body


def test_sandbox_violation_in_a_template_is_a_template_error(tmp_path: Path) -> None:
    path = write(tmp_path, "catch_up.txt",
                 "Subject: hi\n\n{{ contact_name.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render("catch_up", variables("catch_up"))
    assert f"template {path}, line 3:" in str(caught.value)
    assert "unsafe" in str(caught.value)


# --------------------------------------------------------------------------- overrides and errors


def test_an_override_wins_over_the_default_for_its_kind_only(tmp_path: Path) -> None:
    path = write(tmp_path, "thank_you.txt",
                 "Subject: Cheers {{ contact_first_name }}\n\nThanks, {{ contact_name }}!\n")
    renderer = Renderer(tmp_path)
    rendered = renderer.render("thank_you", variables())
    assert rendered == Rendered(subject="Cheers Jane", body="Thanks, Jane Doe!\n")
    assert renderer.template_path("thank_you") == str(path)
    assert renderer.render("confirmation", variables("confirmation")).subject.startswith(
        "Confirming our chat")


def test_a_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "follow_up.txt",
                 "Subject: hi\n\nHi {{ contact_first_name }},\n\n{% if notes %}\nno end\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render("follow_up", variables("follow_up"))
    message = str(caught.value)
    assert message.startswith(f"template {path}, line ")
    assert str(path).startswith("/")
    assert "endif" in message


def test_a_syntax_error_on_a_later_line_reports_that_line(tmp_path: Path) -> None:
    path = write(tmp_path, "follow_up.txt", "Subject: hi\n\nline 3\nline 4\n{{ oops( }}\n")
    with pytest.raises(TemplateError, match=rf"^template {path}, line 5: "):
        Renderer(tmp_path).render("follow_up", variables("follow_up"))


def test_an_undefined_variable_names_the_file_and_the_real_line(tmp_path: Path) -> None:
    lines = ["Subject: Thanks {{ contact_first_name }}", "", "Hi {{ contact_first_name }},",
             "", "{% if notes %}", "Notes:", "{{ foo }}", "{% endif %}", "{{ signature }}"]
    path = write(tmp_path, "thank_you.txt", "\n".join(lines) + "\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render("thank_you", variables())
    assert str(caught.value).startswith(f"template {path}, line 7: 'foo' is undefined")


def test_an_undefined_variable_in_the_subject_is_line_one(tmp_path: Path) -> None:
    path = write(tmp_path, "thank_you.txt", "Subject: {{ nope }}\n\nbody\n")
    with pytest.raises(TemplateError, match=rf"^template {path}, line 1: 'nope' is undefined"):
        Renderer(tmp_path).render("thank_you", variables())


def test_a_missing_subject_line_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "confirmation.txt", "Hi {{ contact_first_name }},\n\nSee you.\n")
    with pytest.raises(TemplateError, match=rf"^template {path}, line 1: .*Subject"):
        Renderer(tmp_path).render("confirmation", variables("confirmation"))


def test_a_missing_blank_line_after_the_subject_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "confirmation.txt", "Subject: hi\nHi there\n")
    with pytest.raises(TemplateError, match=rf"^template {path}, line 2: .*blank line"):
        Renderer(tmp_path).render("confirmation", variables("confirmation"))


def test_a_missing_variable_fails_the_default_template_too() -> None:
    values = variables()
    del values["signature"]
    with pytest.raises(TemplateError, match=r"thank_you\.txt, line \d+: 'signature' is undefined"):
        Renderer().render("thank_you", values)


def test_check_all_reports_each_broken_template(tmp_path: Path) -> None:
    assert Renderer().check_all(variables) == []
    write(tmp_path, "catch_up.txt", "Subject: hi\n\n{{ missing }}\n")
    write(tmp_path, "prep.txt", "Subject: hi\n\n{% for m in earlier_meetings %}{{ m.nope }}"
                                "{% endfor %}\n")
    problems = Renderer(tmp_path).check_all(
        lambda kind: variables(kind, notes=FULL_NOTES, earlier=EARLIER))
    assert len(problems) == 2
    assert "catch_up.txt, line 3: 'missing' is undefined" in problems[0]
    assert "prep.txt, line 3:" in problems[1] and "nope" in problems[1]


def test_check_all_renders_every_kind(tmp_path: Path) -> None:
    for kind in DRAFT_KINDS:
        write(tmp_path, f"{kind}.txt", "Subject: hi\n\n{{ oops }}\n")
    problems = Renderer(tmp_path).check_all(variables)
    assert [p.split(", line")[0].rsplit("/", 1)[1] for p in problems] == [
        f"{kind}.txt" for kind in DRAFT_KINDS]
    assert {"news", "prep"} <= set(DRAFT_KINDS)


# --------------------------------------------------------------------------- build_message


def test_build_message_has_exactly_the_intended_headers() -> None:
    rendered = Rendered(subject="Thank you, Jane", body="Hi Jane,\n\nThanks!\n")
    parsed = assert_intended(build_message(rendered, ME, JANE, KEY, WHEN))
    assert str(parsed["Subject"]) == "Thank you, Jane"
    assert parsed["Date"].datetime == WHEN
    assert str(parsed["Message-ID"]).endswith("@example.org>")
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == "Hi Jane,\n\nThanks!\n"


def test_message_id_domain_can_be_chosen() -> None:
    message = build_message(Rendered("s", "b\n"), ME, JANE, KEY, WHEN, "mail.example.net")
    assert str(message["Message-ID"]).endswith("@mail.example.net>")


def test_a_long_key_stays_on_one_unencoded_line() -> None:
    key = "x" * 200 + "@google.com/thank_you/jane.doe@example.com"
    message = build_message(Rendered("s", "b\n"), ME, JANE, key, WHEN)
    assert f"\n{KEY_HEADER}: {key}\n".encode() in message.as_bytes()


@pytest.mark.parametrize("key", ["a\nBcc: evil@x.com", "a" * 901, "", f"k/{CVE_PAYLOAD}",
                                 "naïve/key"])
def test_a_key_that_cannot_travel_intact_is_refused(key: str) -> None:
    with pytest.raises(UnsafeMessageError):
        build_message(Rendered("s", "b\n"), ME, JANE, key, WHEN)


@pytest.mark.parametrize("address", ["not-an-address", "a@b.com, evil@x.com", "a@b.com\nBcc: c@d"])
def test_an_unusable_contact_address_is_refused(address: str) -> None:
    with pytest.raises(UnsafeMessageError):
        build_message(Rendered("s", "b\n"), ME, Person(email=address, name="X"), KEY, WHEN)


def test_a_naive_date_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(Rendered("s", "b\n"), ME, JANE, KEY, datetime(2026, 1, 1))


@pytest.mark.parametrize("payload", [
    "\r\nBcc: evil@x.com", "\nBcc: evil@x.com", "\rBcc: evil@x.com", "\u2028Bcc: evil@x.com",
    "\u2029Bcc: evil@x.com", "\x85Bcc: evil@x.com", "\x0bBcc: evil@x.com", CVE_PAYLOAD,
    f"x {CVE_PAYLOAD} y", "=?utf-8?b?CkJjYzogZXZpbEB4LmNvbQ==?=",
])
def test_line_breaks_and_encoded_words_in_title_and_name_add_no_header(
        payload: str, tmp_path: Path) -> None:
    write(tmp_path, "thank_you.txt",
          "Subject: {{ meeting_title }} / {{ contact_name }}\n\nHi {{ contact_first_name }}\n")
    contact = Person(email=JANE.email, name=f"Jane {payload} Doe")
    values = draft_variables("thank_you", contact, make_interview(title=f"Chat {payload}",
                                                                  contact=contact), ME, NEW_YORK)
    rendered = Renderer(tmp_path).render("thank_you", values)
    parsed = assert_intended(build_message(rendered, ME, contact, KEY, WHEN))
    assert "Bcc" not in parsed
    assert "evil" not in str(parsed["To"].addresses[0].addr_spec)
    assert "\n" not in str(parsed["Subject"]) and "\n" not in parsed["To"].addresses[0].display_name


def test_cve_2024_6923_payload_in_the_subject_is_neutralised() -> None:
    rendered = Rendered(subject=f"Thanks {CVE_PAYLOAD}", body="b\n")
    contact = Person(email=JANE.email, name=CVE_PAYLOAD)
    message = build_message(rendered, ME, contact, KEY, WHEN)
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw
    assert_intended(message)


def test_the_readback_check_refuses_what_cleaning_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Second line of defence: with cleaning switched off, the header check alone must stop a
    # message with an added header (this Python has CVE-2024-6923; a fixed one encodes it).
    monkeypatch.setattr(message_module, "clean_line", lambda value, limit=300: value)
    rendered = Rendered(subject=f"Thanks {CVE_PAYLOAD}", body="b\n")
    try:
        message = build_message(rendered, ME, JANE, KEY, WHEN)
    except UnsafeMessageError as exc:
        assert "header check" in str(exc) or "could not be built" in str(exc)
    else:
        assert_intended(message)
    with pytest.raises(UnsafeMessageError):
        build_message(Rendered(subject="a\r\nBcc: evil@x.com", body="b\n"), ME, JANE, KEY, WHEN)


def test_non_ascii_names_are_encoded_and_read_back_intact() -> None:
    contact = Person(email="jose@example.com", name="José Müller-Ōtsuka 王")
    rendered = Rendered(subject="Merci, José — à bientôt", body="Grüße aus Köln\n")
    message = build_message(rendered, ME, contact, KEY, WHEN)
    raw = message.as_bytes()
    header_block = raw.split(b"\n\n", 1)[0]
    assert header_block.isascii()
    parsed = assert_intended(message, recipient="jose@example.com")
    assert parsed["To"].addresses[0].display_name == "José Müller-Ōtsuka 王"
    assert parsed["From"].addresses[0].display_name == "Ana Pérez"
    assert str(parsed["Subject"]) == "Merci, José — à bientôt"
    assert parsed.get_content() == "Grüße aus Köln\n"


def test_display_names_with_address_syntax_stay_one_recipient() -> None:
    contact = Person(email=JANE.email, name='Doe, Jane <evil@x.com>; "bob" <b@y.com>')
    parsed = assert_intended(build_message(Rendered("s", "b\n"), ME, contact, KEY, WHEN))
    assert parsed["To"].addresses[0] == Address(
        display_name='Doe, Jane <evil@x.com>; "bob" <b@y.com>', addr_spec=JANE.email)


@pytest.fixture(scope="module")
def property_renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    folder = tmp_path_factory.mktemp("templates")
    write(folder, "thank_you.txt",
          "Subject: {{ meeting_title }} | {{ contact_name }}\n\n"
          "Hi {{ contact_first_name }},\n{{ notes }}\n{{ meeting_title }}\n")
    return Renderer(folder)


HEADERISH = st.text(alphabet="=?qQbB_:-\r\n\u2028\u2029\x85\x0b\t <>@.,;\"\\()éü王\x00\x1b",
                    max_size=200)
CALENDAR_TEXT = st.one_of(st.text(), HEADERISH)


@settings(max_examples=100, deadline=None)
@given(title=CALENDAR_TEXT, name=CALENDAR_TEXT, notes=CALENDAR_TEXT)
def test_arbitrary_calendar_text_never_adds_a_header(property_renderer: Renderer, title: str,
                                                     name: str, notes: str) -> None:
    contact = Person(email=JANE.email, name=name)
    values = draft_variables("thank_you", contact,
                             make_interview(title=title, notes=notes, contact=contact),
                             ME, NEW_YORK)
    for rendered in (property_renderer.render("thank_you", values),
                     Rendered(subject=title, body=notes)):
        try:
            message = build_message(rendered, ME, contact, KEY, WHEN)
        except UnsafeMessageError:
            continue
        parsed = assert_intended(message)
        assert len(parsed["To"].addresses) == 1


# --------------------------------------------------------------------------- replies

REPLY_HEADERS = sorted([*INTENDED_HEADERS, "in-reply-to", "references"])
THEIR_ID = "<CAH=4xq+7Yz_k-1@mail.gmail.com>"
THREAD = ThreadRef(message_id=THEIR_ID, subject="Coffee next week?",
                   references=("<root.1@corp.example>", "<2.reply@ana.example.org>"))


def reply(thread: ThreadRef, rendered: Rendered | None = None) -> EmailMessage:
    return build_message(rendered or Rendered("Thank you, Jane", "Hi Jane,\n"), ME, JANE, KEY,
                         WHEN, reply_to=thread)


def test_a_reply_carries_in_reply_to_references_and_the_re_subject() -> None:
    message = reply(THREAD)
    raw = message.as_bytes()
    assert b"\nIn-Reply-To: <CAH=4xq+7Yz_k-1@mail.gmail.com>\n" in raw
    assert (b"\nReferences: <root.1@corp.example> <2.reply@ana.example.org>\n"
            b" <CAH=4xq+7Yz_k-1@mail.gmail.com>\n") in raw
    parsed = parse(message)
    assert sorted(name.lower() for name in parsed) == REPLY_HEADERS
    assert str(parsed["Subject"]) == "Re: Coffee next week?"
    assert str(parsed["In-Reply-To"]) == THEIR_ID
    assert str(parsed[KEY_HEADER]) == KEY
    assert parsed.get_content() == "Hi Jane,\n"
    assert reply_problem(THREAD) is None


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: Coffee", "Re: Coffee"),
    ("RE: Coffee", "RE: Coffee"),
    ("re:Coffee", "re:Coffee"),
    ("Aw: Kaffee", "Aw: Kaffee"),
    ("Re : Coffee", "Re : Coffee"),
    ("Fwd: Coffee", "Re: Fwd: Coffee"),
    ("Regarding coffee", "Re: Regarding coffee"),
    ("  Coffee\r\n chat  ", "Re: Coffee chat"),
    ("", "Thank you, Jane"),
    ("\r\n", "Thank you, Jane"),
])
def test_the_reply_subject_is_re_once_and_one_line(subject: str, expected: str) -> None:
    parsed = parse(reply(ThreadRef(message_id=THEIR_ID, subject=subject)))
    assert str(parsed["Subject"]) == expected
    assert sorted(name.lower() for name in parsed) == REPLY_HEADERS


def test_references_keep_the_first_and_the_newest_ids() -> None:
    older = tuple(f"<m{i}@lists.example.org>" for i in range(15))
    parsed = parse(reply(ThreadRef(message_id=THEIR_ID, subject="s", references=older)))
    ids = str(parsed["References"]).split()
    assert len(ids) == MAX_REFERENCES
    assert ids == ["<m0@lists.example.org>",
                   *(f"<m{i}@lists.example.org>" for i in range(7, 15)), THEIR_ID]


def test_invalid_duplicate_and_repeated_references_are_dropped() -> None:
    refs = ("<a@x.example>", "not an id", "<a@x.example>", THEIR_ID,
            "<b@x.example>\r\nBcc: evil@x.com", "<c@x.example>")
    parsed = parse(reply(ThreadRef(message_id=THEIR_ID, subject="s", references=refs)))
    assert str(parsed["References"]).split() == ["<a@x.example>", "<c@x.example>", THEIR_ID]
    assert "Bcc" not in parsed


def test_a_long_id_is_written_as_is_never_encoded() -> None:
    long_id = "<" + "x" * 200 + "@mail.example.com>"
    refs = tuple(f"<{i}.{'y' * 60}@host.example>" for i in range(4))
    message = reply(ThreadRef(message_id=long_id, subject="s", references=refs))
    raw = message.as_bytes()
    assert f"\nIn-Reply-To: {long_id}\n".encode() in raw
    threading = raw.split(b"\nIn-Reply-To: ", 1)[1].split(b"\nContent-Type:", 1)[0]
    assert threading.startswith(long_id.encode()) and b"=?" not in threading
    assert max(len(line) for line in raw.split(b"\n")) < 998
    assert str(parse(message)["References"]).split() == [*refs, long_id]


@pytest.mark.parametrize("message_id", [
    "", "abc@example.com", "<abc>", "<a b@example.com>", "<@example.com>", "<a@>",
    "<a@example.com> <b@example.com>", "<a@example.com>\r\nBcc: evil@x.com",
    "<a@example.com>\nX-Evil: 1", "<a@example.com\r>", " <a@example.com>",
    f"<{CVE_PAYLOAD}@example.com>", "<a=?b@example.com>", "<ü@example.com>",
    '<"quoted"@example.com>', "<a..b@example.com>", "<.a@example.com>",
    "<a@[192.0.2.1]>", "<a@b@example.com>", "<a(comment)@example.com>",
    "<" + "a" * 240 + "@example.com>",
])
def test_an_invalid_message_id_makes_a_new_conversation(
        message_id: str, caplog: pytest.LogCaptureFixture) -> None:
    assert not msgid.valid(message_id)
    thread = ThreadRef(message_id=message_id, subject="Coffee", references=(THEIR_ID,))
    problem = reply_problem(thread)
    assert problem is not None and "new conversation" in problem
    assert "\n" not in problem and "\r" not in problem
    with caplog.at_level(logging.WARNING, logger="daemon.mail.message"):
        message = reply(thread)
    parsed = assert_intended(message)
    assert str(parsed["Subject"]) == "Thank you, Jane"
    assert "In-Reply-To" not in parsed and "References" not in parsed
    assert [r.getMessage() for r in caplog.records] == [f"draft {KEY}: {problem}"]


@pytest.mark.parametrize("message_id", [
    THEIR_ID, "<1234.5678@mail.example.com>", "<a!#$%&'*+/=^_`{|}~-@x>",
    "<DM6PR11MB1234ABCD.namprd11.prod.outlook.com@DM6PR11MB1234.namprd11.prod.outlook.com>",
    "<" + "a" * 236 + "@example.com>",
])
def test_valid_message_ids_are_accepted(message_id: str) -> None:
    assert msgid.valid(message_id)
    assert str(parse(reply(ThreadRef(message_id, "s")))["In-Reply-To"]) == message_id


@pytest.mark.parametrize("payload", [
    "\r\nBcc: evil@x.com", "\nBcc: evil@x.com", "\u2028Bcc: evil@x.com", CVE_PAYLOAD,
    f"x {CVE_PAYLOAD} y", "=?utf-8?b?CkJjYzogZXZpbEB4LmNvbQ==?=",
])
def test_header_injection_in_the_thread_subject_is_neutralised(payload: str) -> None:
    parsed = parse(reply(ThreadRef(message_id=THEIR_ID, subject=f"Coffee {payload}")))
    assert sorted(name.lower() for name in parsed) == REPLY_HEADERS
    assert "Bcc" not in parsed
    assert str(parsed["Subject"]).startswith("Re: Coffee")
    assert "\n" not in str(parsed["Subject"])


def test_the_readback_check_covers_the_reply_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Second line of defence: were validation to let a hostile id through, the check refuses
    # it, whether the email package rejects it or writes it out.
    monkeypatch.setattr(msgid, "valid", lambda value: True)
    for hostile in ("<a@b.example>\r\nBcc: evil@x.com", f"<{CVE_PAYLOAD}@b.example>",
                    "<a@b.example> <c@d.example>"):
        with pytest.raises(UnsafeMessageError, match="no draft was written"):
            reply(ThreadRef(message_id=hostile, subject="s"))


def test_the_readback_check_refuses_a_changed_id(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_fold(self: object, *, policy: email.policy.Policy) -> str:
        return f"{self.name}: <other@x.example>{policy.linesep}"  # type: ignore[attr-defined]

    monkeypatch.setattr(message_module._IdListHeader, "fold", wrong_fold)
    with pytest.raises(UnsafeMessageError, match="In-Reply-To does not read back"):
        reply(THREAD)


def test_no_reply_to_means_no_reply_headers() -> None:
    parsed = assert_intended(build_message(Rendered("s", "b\n"), ME, JANE, KEY, WHEN,
                                           reply_to=None))
    assert "In-Reply-To" not in parsed


ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
VALID_ID = st.from_regex(rf"\A<[{ATEXT}]{{1,40}}(\.[{ATEXT}]{{1,20}}){{0,3}}@"
                         rf"[{ATEXT}]{{1,30}}(\.[{ATEXT}]{{1,10}}){{0,3}}>\Z") \
    .filter(lambda v: "=?" not in v and "?=" not in v)


@settings(max_examples=30, deadline=None)
@given(message_id=VALID_ID, refs=st.lists(VALID_ID, max_size=12))
def test_every_valid_id_reads_back_exactly(message_id: str, refs: list[str]) -> None:
    assert msgid.valid(message_id)
    parsed = parse(reply(ThreadRef(message_id=message_id, subject="s", references=tuple(refs))))
    assert str(parsed["In-Reply-To"]) == message_id
    ids = str(parsed["References"]).split()
    assert ids[-1] == message_id and len(ids) <= MAX_REFERENCES


@settings(max_examples=60, deadline=None)
@given(message_id=st.one_of(HEADERISH, st.text(max_size=60), VALID_ID),
       subject=CALENDAR_TEXT, refs=st.lists(st.one_of(HEADERISH, VALID_ID), max_size=12))
def test_arbitrary_thread_data_never_adds_a_header(message_id: str, subject: str,
                                                   refs: list[str]) -> None:
    thread = ThreadRef(message_id=message_id, subject=subject, references=tuple(refs))
    parsed = parse(reply(thread))
    names = sorted(name.lower() for name in parsed)
    if msgid.valid(message_id):
        assert names == REPLY_HEADERS
        assert str(parsed["In-Reply-To"]) == message_id
    else:
        assert names == INTENDED_HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == [JANE.email]
