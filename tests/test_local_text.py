"""One .ics text as a calendar app writes it: X-WR-TIMEZONE, several VCALENDARs sharing a UID,
events without a UID, and zones no one defines; read alike by the quick and the full reader."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.local.ics import MAX_NOTES, ParsedFile, parse_file
from connectors.local.window import Window

ZONE = ZoneInfo("Pacific/Auckland")
WINDOW = Window.around(date(2026, 3, 1), 400, 365)
CHICAGO = ZoneInfo("America/Chicago")


def vcalendar(*lines: str) -> str:
    return "".join(f"{line}\r\n" for line in ("BEGIN:VCALENDAR", *lines, "END:VCALENDAR"))


def vevent(uid: str | None, *lines: str, title: str = "Coffee chat") -> tuple[str, ...]:
    return ("BEGIN:VEVENT", *((f"UID:{uid}",) if uid else ()), f"SUMMARY:{title}", *lines,
            "END:VEVENT")


def read(text: str, *, quick: bool = True, name: str = "text.ics") -> ParsedFile:
    return parse_file(text.encode(), path=Path(name), tz=ZONE, window=WINDOW, quick=quick)


def both(text: str, name: str = "text.ics") -> ParsedFile:
    """The reading of ``text``, which both readers must give alike."""
    quick, full = read(text, name=name), read(text, quick=False, name=name)
    assert quick == full
    return full


# --- X-WR-TIMEZONE ------------------------------------------------------------------------


def test_x_wr_timezone_reads_floating_one_offs_as_it_reads_series() -> None:
    head = ("X-WR-TIMEZONE:America/Chicago",)
    one_off = both(vcalendar(*head, *vevent("once", "DTSTART:20260310T100000")))
    repeating = both(vcalendar(*head, *vevent("weekly", "DTSTART:20260310T100000",
                                              "RRULE:FREQ=WEEKLY;COUNT=2")))
    [once] = one_off.meetings
    first = min(m.start for m in repeating.meetings)
    assert once.start == first == datetime(2026, 3, 10, 10, tzinfo=CHICAGO)
    assert once.start.tzinfo == ZONE  # times come out in the user's zone


def test_x_wr_timezone_leaves_utc_and_zoned_times_where_they_are() -> None:
    parsed = both(vcalendar(
        "X-WR-TIMEZONE:America/Chicago",
        *vevent("utc", "DTSTART:20260310T100000Z"),
        *vevent("zoned", "DTSTART;TZID=Europe/Berlin:20260310T100000")))
    starts = {m.uid: m.start for m in parsed.meetings}
    assert starts["utc"] == datetime.fromisoformat("2026-03-10T10:00:00+00:00")
    assert starts["zoned"] == datetime(2026, 3, 10, 10, tzinfo=ZoneInfo("Europe/Berlin"))


def test_each_vcalendar_keeps_its_own_x_wr_timezone() -> None:
    parsed = both(vcalendar("X-WR-TIMEZONE:America/Chicago",
                            *vevent("a", "DTSTART:20260310T100000"))
                  + vcalendar(*vevent("b", "DTSTART:20260310T100000")))
    starts = {m.uid: m.start for m in parsed.meetings}
    assert starts == {"a": datetime(2026, 3, 10, 10, tzinfo=CHICAGO),
                      "b": datetime(2026, 3, 10, 10, tzinfo=ZONE)}


def test_an_unknown_x_wr_timezone_is_noted_and_the_users_zone_used() -> None:
    parsed = both(vcalendar("X-WR-TIMEZONE:Mars/Olympus", *vevent("a", "DTSTART:20260310T100000")))
    assert [m.start for m in parsed.meetings] == [datetime(2026, 3, 10, 10, tzinfo=ZONE)]
    assert parsed.notes == ("its calendar's time zone (X-WR-TIMEZONE) 'Mars/Olympus' is not a "
                            "zone coffeechat knows; its floating times were read in "
                            "Pacific/Auckland",)


# --- a TZID no one defines ----------------------------------------------------------------


@pytest.mark.parametrize(("head", "zone"), [((), "Pacific/Auckland"),
                                            (("X-WR-TIMEZONE:America/Chicago",),
                                             "America/Chicago")])
def test_a_tzid_no_one_defines_is_noted_with_the_zone_it_was_read_in(head: tuple[str, ...],
                                                                      zone: str) -> None:
    parsed = both(vcalendar(*head, *vevent("a", "DTSTART;TZID=Office Time:20260310T100000",
                                           title="Intro call")))
    assert [m.start for m in parsed.meetings] == [datetime(2026, 3, 10, 10,
                                                           tzinfo=ZoneInfo(zone))]
    assert parsed.notes == (f"the event 'Intro call' names the time zone 'Office Time', which "
                            f"no VTIMEZONE in the file defines and coffeechat does not know; "
                            f"its times were read in {zone}",)


def test_a_known_or_defined_tzid_is_not_noted() -> None:
    parsed = both(vcalendar(
        "BEGIN:VTIMEZONE", "TZID:Office Time", "BEGIN:STANDARD", "TZOFFSETFROM:+0530",
        "TZOFFSETTO:+0530", "DTSTART:19700101T000000", "END:STANDARD", "END:VTIMEZONE",
        *vevent("a", "DTSTART;TZID=Office Time:20260310T100000"),
        *vevent("b", "DTSTART;TZID=W. Europe Standard Time:20260310T100000")))
    assert len(parsed.meetings) == 2 and parsed.notes == ()


# --- the same UID several times in one text -----------------------------------------------


@pytest.mark.parametrize(("first", "second", "winner"), [
    (("SEQUENCE:2",), ("SEQUENCE:1",), "first"),
    (("SEQUENCE:1", "LAST-MODIFIED:20260201T000000Z"),
     ("SEQUENCE:1", "LAST-MODIFIED:20260101T000000Z"), "first"),
    (("DTSTAMP:20260201T000000Z",), ("DTSTAMP:20260101T000000Z",), "first"),
    (("LAST-MODIFIED:20260101T000000Z", "DTSTAMP:20260301T000000Z"),
     ("LAST-MODIFIED:20260102T000000Z", "DTSTAMP:20260101T000000Z"), "second"),
    (("DTSTAMP:20260101T000000Z",), ("DTSTAMP:20260101T000000Z",), "second"),
])
def test_of_copies_in_several_vcalendars_the_highest_sequence_then_the_latest_wins(
        first: tuple[str, ...], second: tuple[str, ...], winner: str) -> None:
    text = (vcalendar(*vevent("dup", "DTSTART:20260310T100000Z", *first, title="first"))
            + vcalendar(*vevent("dup", "DTSTART:20260311T100000Z", *second, title="second")))
    parsed = both(text)
    assert [m.title for m in parsed.meetings] == [winner]
    assert parsed.events == ("dup",)


def test_an_override_in_another_vcalendar_joins_its_series() -> None:
    series = vcalendar(*vevent("weekly", "DTSTART:20260302T010000Z",
                               "RRULE:FREQ=WEEKLY;COUNT=3", title="Weekly"))
    override = vcalendar(*vevent("weekly", "RECURRENCE-ID:20260309T010000Z",
                                 "DTSTART:20260309T030000Z", "SEQUENCE:1", title="Moved"))
    for text in (series + override, override + series):
        parsed = read(text)
        assert {m.uid: m.title for m in parsed.meetings} == {
            "weekly/2026-03-02T01:00:00Z": "Weekly", "weekly/2026-03-09T01:00:00Z": "Moved",
            "weekly/2026-03-16T01:00:00Z": "Weekly"}
        assert parsed.events == ("weekly",) and parsed.recurring


def test_of_two_copies_of_one_override_the_higher_sequence_wins() -> None:
    text = (vcalendar(*vevent("weekly", "DTSTART:20260302T010000Z",
                              "RRULE:FREQ=WEEKLY;COUNT=3", title="Weekly"),
                      *vevent("weekly", "RECURRENCE-ID:20260309T010000Z", "SEQUENCE:3",
                              "DTSTART:20260309T050000Z", title="Latest"))
            + vcalendar(*vevent("weekly", "RECURRENCE-ID:20260309T010000Z", "SEQUENCE:2",
                                "DTSTART:20260309T030000Z", title="Older")))
    moved = {m.uid: m for m in read(text).meetings}["weekly/2026-03-09T01:00:00Z"]
    assert moved.title == "Latest"


def test_method_cancel_cancels_only_the_events_of_its_vcalendar() -> None:
    parsed = both(vcalendar("METHOD:CANCEL", *vevent("gone", "DTSTART:20260310T100000Z"))
                  + vcalendar(*vevent("kept", "DTSTART:20260310T100000Z")))
    assert {m.uid: m.cancelled for m in parsed.meetings} == {"gone": True, "kept": False}
    assert parsed.events == ("gone", "kept")


# --- events without a UID -----------------------------------------------------------------


def test_events_without_uid_are_kept_under_a_stable_identity_of_their_own() -> None:
    text = vcalendar(*vevent(None, "DTSTART:20260310T100000Z", title="Episode 1"),
                     *vevent(None, "DTSTART:20260317T100000Z", title="Episode 2"),
                     *vevent(None, "DTSTART:20260317T100000Z", title="Episode 2"))
    first = both(text, "feed.ics")
    uids = [m.uid for m in first.meetings]
    assert len(set(uids)) == 3 and first.notes == ()
    assert list(first.events) == uids
    assert [m.uid for m in both(text, "feed.ics").meetings] == uids
    assert not set(uids) & {m.uid for m in both(text, "other.ics").meetings}
    fetched_again = text.replace("SUMMARY:", "DTSTAMP:20260401T000000Z\r\nSUMMARY:")
    assert [m.uid for m in both(fetched_again, "feed.ics").meetings] == uids


def test_a_series_without_uid_is_expanded_under_its_own_identity() -> None:
    parsed = read(vcalendar(*vevent(None, "DTSTART:20260302T010000Z",
                                    "RRULE:FREQ=WEEKLY;COUNT=3", title="Podcast")))
    [identity] = parsed.events
    assert [m.uid.rsplit("/", 1)[0] for m in parsed.meetings] == [identity] * 3


def test_a_text_full_of_bad_events_gives_a_bounded_list_of_notes() -> None:
    bad = [line for n in range(500) for line in vevent(f"bad-{n}", title=f"Broken {n}")]
    parsed = both(vcalendar(*bad, *vevent("good", "DTSTART:20260310T100000Z")))
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert len(parsed.notes) == MAX_NOTES + 1
    assert parsed.notes[0] == "skipped the event 'Broken 0': it has no DTSTART"
    assert parsed.notes[-1] == ("480 more events could not be read in full, for reasons like "
                                "these")
