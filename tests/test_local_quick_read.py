"""The local calendar's quick reader against icalendar's full read: the same meetings, the
same warnings and the same errors, on generated .ics files (folded lines, escapes, odd
parameters, every kind of time, alarms, time zones, series, junk) and on the benchmark's
files. And its parts, each against the icalendar code it stands in for."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from icalendar import Parameters
from icalendar.parser import Contentline
from icalendar.parser.content_line import NEWLINE, UFOLD

from bench.events import build_calendar
from bench.formats import ics_file
from connectors.local.ics import MalformedCalendar, parse_file
from connectors.local.quicklines import (
    content_line,
    content_lines,
    fresh_parameters,
    name_and_parameters,
)
from connectors.local.quickread import _PROPERTIES, read_plain
from connectors.local.window import Window

ZONE = ZoneInfo("America/New_York")
WINDOW = Window.around(date(2026, 3, 1), 400, 365)
PATH = Path("/calendar/generated.ics")
EXAMPLES = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Outcome = tuple[object, ...]


@contextmanager
def warnings_of_the_connector() -> Iterator[list[str]]:
    """Collect what connectors.local.ics logs (pytest's caplog does not mix with
    Hypothesis)."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.levelname} {record.getMessage()}")

    logger = logging.getLogger("connectors.local.ics")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def outcome(data: bytes, *, quick: bool) -> Outcome:
    """Everything parse_file gives: the meetings (their repr shows each time's zone), whether
    the file holds a series, the error, and the warnings, in order."""
    with warnings_of_the_connector() as logged:
        try:
            parsed = parse_file(data, path=PATH, tz=ZONE, window=WINDOW, quick=quick)
        except MalformedCalendar as exc:
            return ("malformed", str(exc), tuple(logged))
    return ("read", parsed, repr(parsed), tuple(logged))


def assert_same(data: bytes) -> None:
    quick = outcome(data, quick=True)
    assert quick == outcome(data, quick=False)


# --- generated calendars -------------------------------------------------------------------

LETTERS = "aZé9 -_.@/'ü中"
TEXT = st.text(alphabet=LETTERS + ',;:\\"^%\tnN', max_size=30)
NAME_CASES = st.sampled_from((str.upper, str.lower, str.title))

ZONES = ("America/Chicago", "Europe/Berlin", "W. Europe Standard Time", "Not/AZone",
         "/mozilla.org/20050126_1/America/New_York", "Custom Zone")
STAMP = st.tuples(st.integers(2025, 2027), st.integers(1, 12), st.integers(1, 28),
                  st.integers(0, 23), st.sampled_from((0, 15, 30, 45)))


@st.composite
def when(draw: st.DrawFn, name: str) -> str:
    """A DTSTART or DTEND line in one of the shapes exporters write, or a broken one."""
    year, month, day, hour, minute = draw(STAMP)
    day_text = f"{year:04d}{month:02d}{day:02d}"
    time_text = f"{day_text}T{hour:02d}{minute:02d}00"
    zone = draw(st.sampled_from(ZONES))
    broken = draw(st.sampled_from(("2026-03-01", "soon", "", "20261399T250000")))
    return draw(st.sampled_from((
        f"{name};TZID={zone}:{time_text}",
        f"{name};TZID={zone}:{day_text}",
        f"{name}:{time_text}Z",
        f"{name}:{time_text}",
        f"{name};VALUE=DATE:{day_text}",
        f"{name}:{day_text}",
        f"{name}:{broken}",
    )))


PLAIN_PARAM_VALUES = st.one_of(
    st.text(alphabet="aZ-09é^'n", max_size=12),
    st.text(alphabet="aZ 09é,;:^'n%\\", max_size=12).map(lambda text: f'"{text}"'),
    st.sampled_from(('"a","b"', "a,b", "")),
)
PARAM_VALUES = st.one_of(PLAIN_PARAM_VALUES,
                         st.sampled_from(("Ortiz Sam", " padded ", "x\\,y", '"a\\"')))
PARAM_NAMES = st.sampled_from(("CN", "cn", "PARTSTAT", "partstat", "CUTYPE", "ROLE", "RSVP",
                               "X-NUM-GUESTS", "DELEGATED-TO", "LANGUAGE", "X-FOO", "Bad Key"))
PARTSTATS = st.sampled_from(("ACCEPTED", "declined", "Tentative", "NEEDS-ACTION", "DELEGATED"))


@st.composite
def person(draw: st.DrawFn, name: str, plain: bool) -> str:
    values = PLAIN_PARAM_VALUES if plain else PARAM_VALUES
    keys = PARAM_NAMES.filter(lambda key: " " not in key) if plain else PARAM_NAMES
    params = [f"{key}={value}" for key, value in
              draw(st.lists(st.tuples(keys, values), max_size=4))]
    if draw(st.booleans()):
        params.append(f"PARTSTAT={draw(PARTSTATS)}")
    if draw(st.booleans()):
        params.append(f"CUTYPE={draw(st.sampled_from(('ROOM', 'resource', 'INDIVIDUAL')))}")
    address = draw(st.sampled_from(("mailto:dana@example.org", "MAILTO:Lee@Example.ORG",
                                    "mailto:not an address", "dana@example.org", "")))
    spaces = "" if plain else draw(st.sampled_from(("", " ")))
    return "".join(f";{spaces}{param}" for param in params).join((name, f":{address}"))


@st.composite
def event(draw: st.DrawFn, uid: str, series: bool, plain: bool) -> list[str]:
    case = draw(NAME_CASES)
    lines = [f"BEGIN:{draw(st.sampled_from(('VEVENT', 'vevent')))}"]
    if draw(st.integers(0, 9)):
        lines.append(f"{case('UID')}:{uid}")
    lines.append(draw(when(case("DTSTART"))))
    ending = draw(st.sampled_from(("end", "duration", "none")))
    if ending == "end":
        lines.append(draw(when(case("DTEND"))))
    elif ending == "duration":
        lines.append(f"DURATION:{draw(st.sampled_from(('PT45M', 'P1D', '-PT5M', 'PT', 'x')))}")
    texts = st.sampled_from(("SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "URL",
                             "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL",
                             "CATEGORIES", "SEQUENCE", "TRANSP", "CLASS", "X-APPLE-FOO",
                             "COMMENT", "PRIORITY"))
    for name, value in draw(st.lists(st.tuples(texts, TEXT), max_size=8)):
        lines.append(f"{case(name)}:{value}")
    odd = ("garbage line", "NAME;:odd", "X-WEIRD;A=\"unclosed:x", "GEO:1;x")
    lines += draw(st.lists(st.sampled_from(EVENT_LINES + (() if plain else odd)), max_size=4))
    lines += [draw(person(case("ATTENDEE"), plain)) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        lines.append(draw(person("ORGANIZER", plain)))
    if series:
        lines.append(draw(st.sampled_from((
            "RRULE:FREQ=WEEKLY;COUNT=3", "RDATE:20260401T100000Z",
            "RECURRENCE-ID:20260310T150000Z", "RRULE:FREQ=SOMETIMES", "RDATE:"))))
    body = lines[1:]
    draw(st.randoms()).shuffle(body)
    if draw(st.booleans()):
        alarm = draw(st.sampled_from(ALARMS[:1] if plain else ALARMS))
        at = draw(st.integers(0, len(body)))
        body[at:at] = alarm
    if not plain and draw(st.integers(0, 9)) == 0:
        draw(st.randoms()).shuffle(body)  # alarm lines spill into the event
    return [lines[0], *body, f"END:{draw(st.sampled_from(('VEVENT', 'vevent')))}"]


EVENT_LINES = (
    "STATUS:CANCELLED", "SEQUENCE:3", "SEQUENCE:x", "CATEGORIES:Informational Interview",
    "CATEGORIES:Coffee\\, tea,Informational Interview", "CATEGORIES;LANGUAGE=en:a,b",
    "URL:https://example.zoom.us/j/1", "LOCATION:https://teams.microsoft.com/l/x",
    "DESCRIPTION:Join https://meet.google.com/abc-defg-hij\\nthen",
    "DTSTAMP:20260301T000000Z", "DTSTAMP:20269999T000000Z", "DTSTAMP:garbage",
    "CREATED:20240115T093000Z", "LAST-MODIFIED;X-A=1:20240115T093000Z",
    "X-EMPTY:", "SUMMARY;LANGUAGE=en:With \\; and \\, and \\n", "EXDATE:20260301T000000Z",
)


ALARMS = (
    ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:This is an event reminder",
     "TRIGGER:-P0DT0H10M0S", "END:VALARM"],
    ["BEGIN:VALARM", "ACTION:AUDIO", "TRIGGER:garbage", "END:VALARM"],
    ["BEGIN:VALARM", "TRIGGER;VALUE=DATE-TIME:20260301T100000Z", "END:VALARM"],
    ["BEGIN:VALARM", "TRIGGER;TZID=Custom Zone:20260301T100000", "END:VALARM"],
    ["BEGIN:VALARM", "BEGIN:VEVENT", "UID:hidden", "DTSTART:20260301T100000Z", "END:VEVENT",
     "END:VALARM"],
    ["BEGIN:VEVENT", "UID:nested", "DTSTART:20260301T100000Z", "END:VEVENT"],
)
"""Components inside an event: an alarm as exporters write it, then odd ones."""
TIMEZONES = (
    ["BEGIN:VTIMEZONE", "TZID:America/Chicago", "X-LIC-LOCATION:America/Chicago",
     "BEGIN:DAYLIGHT", "TZOFFSETFROM:-0600", "TZOFFSETTO:-0500", "TZNAME:CDT",
     "DTSTART:19700308T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "END:DAYLIGHT",
     "BEGIN:STANDARD", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0600", "TZNAME:CST",
     "DTSTART:19701101T020000", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU", "END:STANDARD",
     "END:VTIMEZONE"],
    ["BEGIN:VTIMEZONE", "TZID:Custom Zone", "BEGIN:STANDARD", "TZOFFSETFROM:+0300",
     "TZOFFSETTO:+0330", "DTSTART:19700101T000000", "END:STANDARD", "END:VTIMEZONE"],
    ["BEGIN:VTIMEZONE", "TZID:Broken Zone", "BEGIN:STANDARD", "TZOFFSETFROM:+0300",
     "TZOFFSETTO:sideways", "DTSTART:19700101T000000", "END:STANDARD", "END:VTIMEZONE"],
    ["BEGIN:X-VENDOR", "X-THING:1", "END:X-VENDOR"],
)
HEADERS = ("VERSION:2.0", "PRODID:-//tests//EN", "CALSCALE:GREGORIAN", "METHOD:CANCEL",
           "method:cancel", "METHOD:PUBLISH", "X-WR-TIMEZONE:Europe/Berlin",
           "X-WR-CALNAME:Mine\\, all", "DTSTAMP;TZID=Custom Zone:20260301T000000",
           "garbage header")


@st.composite
def calendar(draw: st.DrawFn, series: bool, plain: bool, first: bool) -> list[str]:
    headers = HEADERS[:-2] if plain else HEADERS
    lines = ["BEGIN:VCALENDAR", *draw(st.lists(st.sampled_from(headers), max_size=3))]
    zones = TIMEZONES[:2] if plain else TIMEZONES
    zone_count = draw(st.integers(0, 2 if first or not plain else 0))
    parts = [draw(st.sampled_from(zones)) for _ in range(zone_count)]
    uids = st.sampled_from(("one@example.org", "two@example.org", "Three\\, four", ""))
    events = [draw(event(draw(uids), series and draw(st.booleans()), plain))
              for _ in range(draw(st.integers(1, 3)))]
    zones_first = plain or draw(st.booleans())  # zones after events: icalendar reads twice
    parts = [*parts, *events] if zones_first else [*events, *parts]
    if draw(st.booleans()):
        parts.append(TIMEZONES[3])  # a component of no known kind
    return [*lines, *(line for part in parts for line in part), "END:VCALENDAR"]


def fold(line: str, rng: Random) -> str:
    """Fold a line at random places, as exporters do."""
    if len(line) < 2 or rng.random() < 0.5:
        return line
    cuts = sorted(rng.sample(range(1, len(line)), min(len(line) - 1, rng.randint(1, 3))))
    pieces = [line[start:end] for start, end in zip([0, *cuts], [*cuts, len(line)],
                                                    strict=True)]
    return "\r\n".join(pieces[:1] + [rng.choice((" ", "\t")) + piece for piece in pieces[1:]])


@st.composite
def ics_bytes(draw: st.DrawFn, plain: bool = False) -> bytes:
    """A file of one or two calendars; ``plain``: one the quick reader should take (no series,
    no junk)."""
    lines = [line for number in range(draw(st.integers(1, 2)))
             for line in draw(calendar(not plain, plain, number == 0))]
    if not plain and draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(("", "END:VEVENT", "BEGIN:VEVENT", "X-COMMENT:x",
                                               "BEGIN;X=1:VEVENT", "END:VTODO", "  ",
                                               "BEGIN:bad name"))))
    rng = draw(st.randoms(use_true_random=False))
    text = "".join(fold(line, rng) + "\r\n" for line in lines)
    ending = draw(st.sampled_from(("crlf", "lf", "mixed", "blank lines", "no last")))
    ending = "crlf" if plain and ending == "blank lines" else ending
    if ending == "lf":
        text = text.replace("\r\n", "\n")
    elif ending == "mixed":
        text = text.replace("\r\n", "\n", draw(st.integers(1, 5)))
    elif ending == "blank lines":
        text = text.replace("\r\nEND:", "\r\n\r\nEND:", 1)
    elif ending == "no last":
        text = text.removesuffix("\r\n")
    data = text.encode()
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 0:
        data = data.replace(b"SUMMARY:", b"SUMMARY:\xff", 1)
    return data


@EXAMPLES
@given(ics_bytes())
def test_the_quick_reader_gives_what_icalendar_gives(data: bytes) -> None:
    assert_same(data)


@settings(EXAMPLES, max_examples=100)
@given(ics_bytes(plain=True))
def test_plain_files_are_read_quickly_and_alike(data: bytes) -> None:
    """Files without series or junk take the quick path (so the test above is not only about
    files it leaves to icalendar), and read alike."""
    assert read_plain(data.decode("utf-8-sig", errors="replace")) is not None
    assert_same(data)


def crlf(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


EVENT = ("BEGIN:VEVENT", "UID:outer", "DTSTART:20260301T100000Z", "SUMMARY:Outer")
TRICKY = {
    "an event inside an event": crlf("BEGIN:VCALENDAR", *EVENT, "BEGIN:VEVENT", "UID:inner",
                                     "DTSTART:20260302T100000Z", "END:VEVENT", "END:VEVENT",
                                     "END:VCALENDAR"),
    "an event inside an alarm": crlf("BEGIN:VCALENDAR", *EVENT, "BEGIN:VALARM",
                                     "BEGIN:VEVENT", "UID:inner", "DTSTART:20260302T100000Z",
                                     "END:VEVENT", "END:VALARM", "END:VEVENT", "END:VCALENDAR"),
    "an event inside another component": crlf(
        "BEGIN:VCALENDAR", "BEGIN:X-BOX", "BEGIN:VEVENT", "UID:boxed",
        "DTSTART:20260302T100000Z", "END:VEVENT", "END:X-BOX", *EVENT, "END:VEVENT",
        "END:VCALENDAR"),
    "a zone defined after its use": crlf(
        "BEGIN:VCALENDAR", "BEGIN:VEVENT", "UID:late", "DTSTART;TZID=Late Zone:20260302T100000",
        "END:VEVENT", "BEGIN:VTIMEZONE", "TZID:Late Zone", "BEGIN:STANDARD",
        "TZOFFSETFROM:+0500", "TZOFFSETTO:+0545", "DTSTART:19700101T000000", "END:STANDARD",
        "END:VTIMEZONE", "END:VCALENDAR"),
    "a zone used by a later file": crlf(
        "BEGIN:VCALENDAR", "BEGIN:VEVENT", "UID:later", "DTSTART;TZID=Late Zone:20260302T100000",
        "END:VEVENT", "END:VCALENDAR"),
    "an alarm with a TZID": crlf("BEGIN:VCALENDAR", *EVENT, "BEGIN:VALARM",
                                 "TRIGGER;TZID=Late Zone:20260301T090000", "END:VALARM",
                                 "END:VEVENT", "END:VCALENDAR"),
    "a bad alarm": crlf("BEGIN:VCALENDAR", *EVENT, "BEGIN:VALARM", "TRIGGER:soon",
                        "END:VALARM", "END:VEVENT", "END:VCALENDAR"),
    "a bad header": crlf("BEGIN:VCALENDAR", "GEO:north", *EVENT, "END:VEVENT",
                         "END:VCALENDAR"),
    "a comment after the calendar": crlf("BEGIN:VCALENDAR", *EVENT, "END:VEVENT",
                                         "END:VCALENDAR", "X-COMMENT:bye"),
    "a property outside any component": crlf("VERSION:2.0", "BEGIN:VCALENDAR", *EVENT,
                                             "END:VEVENT", "END:VCALENDAR"),
    "mismatched ends": crlf("BEGIN:VCALENDAR", *EVENT, "END:VALARM", "END:VCALENDAR"),
    "no end": crlf("BEGIN:VCALENDAR", *EVENT, "END:VEVENT"),
    "a bare event": crlf(*EVENT, "END:VEVENT"),
    "one line naming a file": b"/etc/hostname",
    "an empty file": b"",
}


@pytest.mark.parametrize("name", list(TRICKY))
def test_tricky_files_read_alike(name: str) -> None:
    assert_same(TRICKY[name])


def test_benchmark_files_take_the_quick_path_and_read_alike() -> None:
    calendar = build_calendar(300, datetime(2026, 3, 1, 12, tzinfo=UTC))
    for event in calendar.events:
        data = ics_file(event)
        assert read_plain(data.decode()) is not None
        assert_same(data)


def test_exporters_files_read_alike() -> None:
    """Google's, Outlook's and Apple's exports: as they are (with series, read in full), and
    without their series (read quickly)."""
    for path in sorted((Path(__file__).parent / "data" / "ics").glob("*.ics")):
        data = path.read_bytes()
        assert_same(data)
        plain = data.replace(b"RRULE:", b"X-NO-RULE:").replace(b"RECURRENCE-ID",
                                                              b"X-NO-RECURRENCE-ID")
        assert read_plain(plain.decode()) is not None
        assert_same(plain)


# --- the parts -----------------------------------------------------------------------------

LINE_BREAKS = st.lists(st.sampled_from(("a", "b:", " ", "\t", "\r", "\n", "\r\n", "\r\n ",
                                        "\n\t")), max_size=30).map("".join)


@EXAMPLES
@given(st.one_of(LINE_BREAKS, LINE_BREAKS.map(lambda text: text.replace("\r", "")),
                 LINE_BREAKS.map(lambda text: text.replace("\r", "").replace("\n", "\r\n"))))
@example("A\r\n B\r\n\tC\r\nD\r\n")
@example("A\n B\n\n C\n")
@example("A\r\n\r\n B\r\n")
def test_lines_are_unfolded_and_split_as_icalendar_does(text: str) -> None:
    assert content_lines(text) == NEWLINE.split(UFOLD.sub("", text))


PREFIX_PARAMS = st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES).map("=".join), max_size=5)
VALUES = st.text(alphabet='aZ:;,"\\ n^', max_size=12)


@EXAMPLES
@given(st.sampled_from(("ATTENDEE", "dtstart", "X-A", "BAD NAME", "")), PREFIX_PARAMS,
       st.sampled_from(("", " ", "\t")), VALUES)
@example("ATTENDEE", ['CN="a"', "CN=b"], "", "mailto:x")
@example("ATTENDEE", ["CN=a b", 'X="c:d;e"'], "", "v")
@example("ATTENDEE", ["A=1", "", "B=2"], "", "v")
@example("ATTENDEE", ['A="x\\"', "B=2"], "", "v")
@example("X-APPLE-STRUCTURED-LOCATION", ['X-ADDRESS="27 Coal\\nLondon\\, N1C"', "X-T=1"],
         "", "geo:51.5,-0.1")
@example("X", ["A=x\\,y"], "", "v")
@example("X", ["A=x\\:y"], "", "v")
def test_lines_are_split_as_icalendar_splits_them(name: str, params: list[str], space: str,
                                                  value: str) -> None:
    text = name + "".join(f";{space}{param}" for param in params) + ":" + value
    try:
        expected: object = Contentline(text).parts()  # type: ignore[no-untyped-call]
    except ValueError:
        expected = ValueError
    try:
        got: object = content_line(text).parts()
    except ValueError:
        got = ValueError
    assert got == expected
    if got is not ValueError:
        assert isinstance(got, tuple) and isinstance(expected, tuple)
        assert type(got[1]) is type(expected[1]) and list(got[1].items()) == list(
            expected[1].items())


def test_cached_parameters_are_fresh_and_as_icalendar_builds_them() -> None:
    declared = name_and_parameters('ATTENDEE;CN="Ortiz, Sam";DELEGATED-TO="a","b";cn=Sam')
    assert declared is not None
    items = declared[1]
    first, second = fresh_parameters(items), fresh_parameters(items)
    built = Parameters((key, list(value) if isinstance(value, tuple) else value)
                       for key, value in items)
    assert type(first) is Parameters and first == built
    assert list(first.items()) == list(built.items()) == [("CN", "Sam"),
                                                         ("DELEGATED-TO", ["a", "b"])]
    first["CN"] = "changed"
    first["DELEGATED-TO"].append("c")
    assert second == built


def test_lines_read_before_are_not_read_again_and_events_come_out_alike() -> None:
    # Events that share lines (a stamp, an organizer, attendees in another order, a broken
    # date) are put together from lines already read: the meetings are those of a full read,
    # each event with its attendees in its own order, and a bad value is still the event's.
    def event(uid: str, attendees: list[str], start: str = "DTSTART:20260310T150000Z") -> str:
        return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260301T000000Z", start,
                            "DURATION:PT30M", "SUMMARY:#infointerview",
                            "ORGANIZER;CN=Sam:mailto:sam@example.com", *attendees,
                            "END:VEVENT"])
    ana, bo = "ATTENDEE;CN=Ana:mailto:ana@example.com", "ATTENDEE;CN=Bo:mailto:bo@example.com"
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN",
                        event("a", [ana, bo]), event("b", [bo, ana]), event("c", [ana]),
                        event("d", [bo, ana], start="DTSTART:20261399T250000"),
                        event("e", [ana, bo], start="DTSTART:20261399T250000"),
                        "END:VCALENDAR", ""]).encode()
    assert_same(text)
    parsed = parse_file(text, path=PATH, tz=ZONE, window=WINDOW)
    by_uid = {m.uid: [a.email for a in m.attendees] for m in parsed.meetings}
    assert by_uid["a"] == ["ana@example.com", "bo@example.com"]
    assert by_uid["b"] == ["bo@example.com", "ana@example.com"]
    assert by_uid["c"] == ["ana@example.com"]
    assert _PROPERTIES.get("DTSTAMP:20260301T000000Z") is not None
    assert not any(line.startswith("UID:") for line in _PROPERTIES)


def test_a_series_whose_event_repeats_its_uid_reads_the_same_both_ways() -> None:
    """Found by the property test above: two UID lines in one event of a series with an
    override made the expansion fail on an unhashable value."""
    data = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:Three\\, four\r\n"
            b"DTSTART;TZID=America/Chicago:20250101T000000\r\n"
            b"DTEND;TZID=America/Chicago:20250101T000000\r\nSTATUS:CANCELLED\r\n"
            b"RECURRENCE-ID:20260310T150000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n"
            b"DTSTART:20260301T100000Z\r\nUID:Three\\, four\r\nUID:nested\r\nEND:VEVENT\r\n"
            b"END:VCALENDAR\r\n")
    assert outcome(data, quick=True)[0] == "read"
    assert_same(data)
