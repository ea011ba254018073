"""The local calendar beyond the contract: exporters' time zones, malformed input, the cursor,
the moving window and recurrence overrides. Files live in tmp_path; the clock is injected."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorEnv, collect
from connectors.local import open_account
from connectors.local.calendar import VdirCalendar
from connectors.local.cursor import SyncState
from connectors.local.files import read_file
from daemon.core.errors import ConfigError, ConnectorError, CursorExpired
from daemon.core.model import JSON, Change, Meeting, Removed, SourceNotes
from tests.accounts import checked
from tests.vdir import save

DATA = Path(__file__).parent / "data" / "ics"
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=NEW_YORK)
GOOGLE_SERIES = "5q2l8f0v3kq1m7n4c9b6d0e2ah@google.com"
OUTLOOK_ONE_OFF = ("040000008200E00074C5B7101A82E00800000000D0D2A1F3C5A8DC01000000000000000010"
                   "000000B62F1E9A64C0E84A9E2F8C1D7A3B5E44")
OUTLOOK_SERIES = ("040000008200E00074C5B7101A82E00800000000F1E2D3C4B5A6DC01000000000000000010"
                  "0000004D8E2C6A1B3F9E4C8A7D5B2E1F0C9A83")


def a_minute_on() -> int:
    """The file system's clock a minute from now: a folder that just changed looks settled."""
    return time.time_ns() + 60 * 10**9


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingReader:
    """The injected file reader: records every file opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, path: Path, most: int) -> bytes:
        self.opened.append(path.name)
        return read_file(path, most)


class Vdir:
    """A vdir in tmp_path whose every write gets a strictly later mtime."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = Clock(NOW)
        self.reader = CountingReader()
        self._tick = 1_770_000_000 * 10**9

    def write(self, name: str, content: str | bytes) -> Path:
        """Write a file as vdir tools do (a temporary file renamed over it)."""
        path = self.folder / name
        self._tick += 10**9
        save(path, _crlf(content), self._tick)
        return path

    def write_in_place(self, name: str, content: str | bytes) -> Path:
        """Rewrite a file in place, as some editors do: the folder itself does not change."""
        path = self.folder / name
        path.write_bytes(_crlf(content))
        self._tick += 10**9
        os.utime(path, ns=(self._tick, self._tick))
        return path

    def settle(self) -> None:
        """Set the folder's time back, as if it had not changed for a while (give the calendar
        ``file_clock=a_minute_on`` too); a later change gives it a new time for sure."""
        self._tick += 10**9
        os.utime(self.folder, ns=(self._tick, self._tick))

    def copy(self, name: str, target: str | None = None) -> Path:
        return self.write(target or name, (DATA / name).read_bytes())

    def calendar(self, tz: ZoneInfo = NEW_YORK, path: Path | None = None,
                 **options: Any) -> VdirCalendar:
        env = ConnectorEnv(timezone=tz, clock=self.clock, data_dir=self.folder.parent)
        return VdirCalendar(path or self.folder, env, account="test",
                            **{"reader": self.reader, **options})


def _crlf(content: str | bytes) -> bytes:
    data = content.encode() if isinstance(content, str) else content
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
def vdir(tmp_path: Path) -> Vdir:
    return Vdir(tmp_path / "calendar")


def sync(source: VdirCalendar, cursor: JSON | None) -> tuple[list[Change], JSON]:
    changes, new_cursor = collect(source.changes(cursor))
    return changes, json.loads(json.dumps(new_cursor))


def meetings(changes: list[Change]) -> dict[str, Meeting]:
    return {c.uid: c for c in changes if isinstance(c, Meeting)}


def removed(changes: list[Change]) -> set[str]:
    return {c.uid for c in changes if isinstance(c, Removed)}


def notes(changes: list[Change]) -> list[SourceNotes]:
    return [c for c in changes if isinstance(c, SourceNotes)]


def ics(*events: str, head: str = "") -> str:
    body = "".join(events)
    return ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//coffeechat//tests//EN\n"
            f"{head}{body}END:VCALENDAR\n")


def vevent(uid: str, start: str = "DTSTART:20260310T150000Z", extra: str = "",
           summary: str | None = None) -> str:
    title = summary if summary is not None else f"Event {uid}"
    return (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260301T000000Z\n{start}\n"
            f"SUMMARY:{title}\n{extra}END:VEVENT\n")


# --- time zones as the exporters write them ----------------------------------------------------


def test_google_export_series_across_dst_with_a_moved_occurrence(vdir: Vdir) -> None:
    vdir.copy("google.ics")
    found = meetings(sync(vdir.calendar(), None)[0])
    series = sorted((m for m in found.values() if m.uid.startswith(GOOGLE_SERIES)),
                    key=lambda m: m.uid)
    assert [m.uid for m in series] == [
        f"{GOOGLE_SERIES}/2026-03-02T15:00:00Z",  # 10:00 EST
        f"{GOOGLE_SERIES}/2026-03-09T14:00:00Z",  # 10:00 EDT, after the change on 8 March
        f"{GOOGLE_SERIES}/2026-03-16T14:00:00Z",  # this slot was moved to Tuesday 11:30
        f"{GOOGLE_SERIES}/2026-03-23T14:00:00Z",
    ]
    assert [m.start for m in series] == [utc(2026, 3, 2, 15), utc(2026, 3, 9, 14),
                                         utc(2026, 3, 17, 15, 30), utc(2026, 3, 23, 14)]
    assert all(m.end - m.start == timedelta(minutes=30) for m in series)
    moved = series[2]
    assert moved.title == "Coffee chat: Dana / Sam (moved)"
    assert moved.description == "Moved to Tuesday: Dana is travelling on Monday."
    dana = moved.attendees[0]
    assert (dana.email, dana.response) == ("dana.whitfield@example.org", "tentative")
    assert series[0].link == "https://meet.google.com/qwe-rtyu-iop"
    assert series[0].organizer is not None and series[0].organizer.name == "Sam Ortiz"
    assert all(m.source == "google.ics" for m in found.values())


def test_google_export_utc_one_off_and_all_day(vdir: Vdir) -> None:
    vdir.copy("google.ics")
    found = meetings(sync(vdir.calendar(), None)[0])
    marcus = found["1c7h3t9p0o4r6e2d8a5n1w3x7y@google.com"]
    assert marcus.start == utc(2026, 3, 5, 17) and marcus.end == utc(2026, 3, 5, 17, 30)
    assert marcus.start.tzinfo == NEW_YORK
    assert marcus.location == "Historical Society, 170 Central Park West, New York, NY 10024, USA"
    assert marcus.description.startswith("#infointerview\nMarcus runs the archives team")
    room = [a for a in marcus.attendees if a.is_resource]
    assert [a.email for a in room] == ["c_1889h2kq3b7c4@resource.calendar.google.com"]
    assert marcus.link == ""
    fair = found["0a9s8d7f6g5h4j3k2l1q0w9e8r@google.com"]
    assert fair.all_day is True
    assert fair.start == datetime(2026, 3, 20, tzinfo=NEW_YORK)
    assert fair.end == datetime(2026, 3, 21, tzinfo=NEW_YORK)


def test_outlook_export_with_windows_zone_names(vdir: Vdir) -> None:
    vdir.copy("outlook.ics")
    found = meetings(sync(vdir.calendar(), None)[0])
    priya = found[OUTLOOK_ONE_OFF]
    # 09:30 Pacific on 10 March 2026 is daylight time (the US changed on 8 March): UTC-7.
    assert priya.start == utc(2026, 3, 10, 16, 30) and priya.end == utc(2026, 3, 10, 17)
    assert priya.categories == ("Informational Interview", "Networking")
    assert priya.link.startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert priya.location == "Microsoft Teams Meeting"
    assert [(a.email, a.name, a.response, a.is_resource) for a in priya.attendees] == [
        ("priya.raman@contoso.com", "Priya Raman", "needs_action", False),
        ("sea-bldg4-201@fabrikam.com", "SEA-Bldg4-Room 201", "accepted", True),
    ]
    # A weekly series in W. Europe Standard Time across the EU change on 29 March.
    lena = sorted((m for m in found.values() if m.uid.startswith(OUTLOOK_SERIES)),
                  key=lambda m: m.start)
    assert [m.start for m in lena] == [utc(2026, 3, 27, 13), utc(2026, 4, 3, 12),
                                       utc(2026, 4, 10, 12)]
    assert lena[0].uid == f"{OUTLOOK_SERIES}/2026-03-27T13:00:00Z"
    assert lena[0].link == "https://us06web.zoom.us/j/84512376012?pwd=bGVuYS1ob2ZmbWFubi1tZW50b3Jpbmc"


def test_outlook_windows_zone_without_vtimezone(vdir: Vdir) -> None:
    vdir.write("bare.ics", ics(vevent(
        "no-vtimezone", start='DTSTART;TZID="W. Europe Standard Time":20260330T090000')))
    found = meetings(sync(vdir.calendar(), None)[0])
    assert found["no-vtimezone"].start == utc(2026, 3, 30, 7)  # CEST, UTC+2


def test_apple_export_with_x_lic_location(vdir: Vdir) -> None:
    vdir.copy("apple.ics")
    found = meetings(sync(vdir.calendar(), None)[0])
    tomasz = sorted((m for m in found.values() if m.title == "Coffee with Tomasz"),
                    key=lambda m: m.start)
    # 10:00 in London is GMT on 27 March and BST (UTC+1) from 29 March.
    assert [m.start for m in tomasz] == [utc(2026, 3, 27, 10), utc(2026, 4, 3, 9)]
    assert tomasz[0].location == "Monmouth Coffee 27 Coal Drops Yard London N1C 4AB England"
    assert tomasz[0].link == ""  # Apple writes an empty URL
    assert tomasz[0].organizer is not None and tomasz[0].organizer.name == "Ortiz, Sam"
    assert tomasz[0].attendees[0].name == "Nowak, Tomasz"
    panel = found["B9E4D2A1-7C6F-4B3E-8D2A-1F0E9C8B7A65"]
    assert panel.cancelled is True
    assert panel.link == "https://us02web.zoom.us/j/81234567890?pwd=VG9tYXN6IE5vd2Fr"


@pytest.fixture
def machine_in_auckland(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_auckland")
def test_floating_times_are_read_in_the_users_zone_not_the_machines(vdir: Vdir) -> None:
    vdir.write("floating.ics", ics(vevent("float-1", start="DTSTART:20260310T090000",
                                          extra="DTEND:20260310T093000\n")))
    in_new_york = meetings(sync(vdir.calendar(NEW_YORK), None)[0])["float-1"]
    in_berlin = meetings(sync(vdir.calendar(BERLIN), None)[0])["float-1"]
    assert in_new_york.start == utc(2026, 3, 10, 13)
    assert in_berlin.start == utc(2026, 3, 10, 8)
    assert in_berlin.end == utc(2026, 3, 10, 8, 30)


def test_floating_series_uids_use_the_users_zone(vdir: Vdir) -> None:
    vdir.write("floating.ics", ics(vevent("float-2", start="DTSTART:20260306T090000",
                                          extra="RRULE:FREQ=WEEKLY;COUNT=2\n")))
    found = meetings(sync(vdir.calendar(NEW_YORK), None)[0])
    assert set(found) == {"float-2/2026-03-06T14:00:00Z", "float-2/2026-03-13T13:00:00Z"}


def test_missing_end_duration_and_all_day(vdir: Vdir) -> None:
    vdir.write("times.ics", ics(
        vevent("zero", start="DTSTART:20260310T150000Z"),
        # PT2H is elapsed time: 01:30 EST + 2 hours is 04:30 EDT on the night of the change.
        vevent("hours", start="DTSTART;TZID=America/New_York:20260308T013000",
               extra="DURATION:PT2H\n"),
        vevent("day", start="DTSTART;VALUE=DATE:20260312"),
        vevent("days", start="DTSTART;VALUE=DATE:20260312", extra="DURATION:P2D\n"),
        vevent("backwards", start="DTSTART:20260310T150000Z", extra="DTEND:20260310T140000Z\n"),
    ))
    found = meetings(sync(vdir.calendar(BERLIN), None)[0])
    assert found["zero"].start == found["zero"].end == utc(2026, 3, 10, 15)
    assert found["hours"].start == utc(2026, 3, 8, 6, 30)
    assert found["hours"].end == utc(2026, 3, 8, 8, 30)
    day = found["day"]
    assert day.all_day is True
    assert (day.start, day.end) == (datetime(2026, 3, 12, tzinfo=BERLIN),
                                    datetime(2026, 3, 13, tzinfo=BERLIN))
    assert found["days"].end == datetime(2026, 3, 14, tzinfo=BERLIN)
    assert found["backwards"].end == found["backwards"].start
    assert all(m.start.tzinfo == BERLIN for m in found.values())


# --- mapping -----------------------------------------------------------------------------------


def test_mapping_cleans_text_and_reads_people(vdir: Vdir, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    vdir.write("people.ics", ics(vevent(
        "people-1",
        summary="Chat =?utf-8?q?Bcc=3A_x?= \\nBcc: evil@example.com",
        extra=(
            "DESCRIPTION:Line one\\nLine two\\n\\nLine three\x07\n"
            "ORGANIZER;CN=\"Ortiz, Sam\":mailto:Sam@Example.COM\n"
            "ATTENDEE;CN=Dana;PARTSTAT=ACCEPTED:mailto:dana@example.org\n"
            "ATTENDEE;CN=Lee;PARTSTAT=DECLINED:mailto:lee@example.org\n"
            "ATTENDEE;CN=Ola;PARTSTAT=TENTATIVE:mailto:ola@example.org\n"
            "ATTENDEE;CN=Max;PARTSTAT=DELEGATED:mailto:max@example.org\n"
            "ATTENDEE;CN=Board room;CUTYPE=ROOM:mailto:board@example.org\n"
            "ATTENDEE;CN=Projector;CUTYPE=RESOURCE:mailto:projector@example.org\n"
            "ATTENDEE;CN=Nobody:mailto:not an address\n"
            "ATTENDEE;CN=Dana again;PARTSTAT=DECLINED:mailto:DANA@example.org\n"
            "CATEGORIES:Informational Interview,Coffee\n"
            "CATEGORIES:Coffee\n"
            "CATEGORIES:Follow up\n"
        ),
    )))
    with caplog.at_level(logging.WARNING):
        meeting = meetings(sync(vdir.calendar(), None)[0])["people-1"]
    assert meeting.title == "Chat = ?utf-8?q?Bcc=3A_x? = Bcc: evil@example.com"
    assert meeting.description == "Line one\nLine two\n\nLine three"
    assert meeting.organizer is not None
    assert (meeting.organizer.email, meeting.organizer.name) == ("sam@example.com", "Ortiz, Sam")
    assert [(a.email, a.response, a.is_resource) for a in meeting.attendees] == [
        ("dana@example.org", "accepted", False),
        ("lee@example.org", "declined", False),
        ("ola@example.org", "tentative", False),
        ("max@example.org", "needs_action", False),
        ("board@example.org", "needs_action", True),
        ("projector@example.org", "needs_action", True),
    ]
    assert meeting.categories == ("Informational Interview", "Coffee", "Follow up")
    warning = [r.getMessage() for r in caplog.records if "not an address" in r.getMessage()]
    assert len(warning) == 1 and "people.ics" in warning[0] and "people-1" in warning[0]


@pytest.mark.parametrize(("extra", "link"), [
    ("URL:https://example.zoom.us/j/123\n", "https://example.zoom.us/j/123"),
    ("URL:http://example.com/not-secure\n", ""),
    ("LOCATION:Room 4 or https://teams.microsoft.com/l/meetup-join/abc).\n",
     "https://teams.microsoft.com/l/meetup-join/abc"),
    ("LOCATION:https://maps.example.com/cafe\n", ""),
    ("DESCRIPTION:Join: https://meet.google.com/abc-defg-hij\\n\n",
     "https://meet.google.com/abc-defg-hij"),
    ("X-GOOGLE-CONFERENCE:https://meet.google.com/xyz\nURL:https://example.com/page\n",
     "https://meet.google.com/xyz"),
])
def test_online_meeting_link(vdir: Vdir, extra: str, link: str) -> None:
    vdir.write("link.ics", ics(vevent("link-1", extra=extra)))
    assert meetings(sync(vdir.calendar(), None)[0])["link-1"].link == link


def test_cancel_method_and_duplicate_uids(vdir: Vdir) -> None:
    vdir.write("cancel.ics", ics(vevent("cancel-1"), head="METHOD:CANCEL\n"))
    vdir.write("dupes.ics", ics(vevent("dup", summary="Newer", extra="SEQUENCE:2\n"),
                                vevent("dup", summary="Older", extra="SEQUENCE:1\n")))
    found = meetings(sync(vdir.calendar(), None)[0])
    assert found["cancel-1"].cancelled is True
    assert found["dup"].title == "Newer"


# --- recurrence --------------------------------------------------------------------------------


SERIES = ("DTSTART;TZID=America/New_York:20260302T100000\n", "RRULE:FREQ=WEEKLY;COUNT=4\n")


def series_file(*overrides: str, exdate: str = "") -> str:
    master = vevent("weekly", start=SERIES[0], summary="Weekly chat",
                    extra=SERIES[1] + exdate + "DURATION:PT30M\n")
    return ics(master, *overrides)


def test_override_keeps_the_uid_of_the_slot_it_replaces(vdir: Vdir) -> None:
    vdir.write("s.ics", series_file())
    source = vdir.calendar()
    before, cursor = sync(source, None)
    vdir.write("s.ics", series_file(vevent(
        "weekly", start="DTSTART;TZID=America/New_York:20260310T160000", summary="Moved",
        extra="RECURRENCE-ID;TZID=America/New_York:20260309T100000\nDURATION:PT30M\n")))
    after, _ = sync(source, cursor)
    assert set(meetings(before)) == set(meetings(after))
    moved = meetings(after)["weekly/2026-03-09T14:00:00Z"]
    assert (moved.title, moved.start) == ("Moved", utc(2026, 3, 10, 20))
    assert not removed(after)


def test_cancelled_occurrence_and_exdate(vdir: Vdir) -> None:
    vdir.write("s.ics", series_file())
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.write("s.ics", series_file(
        vevent("weekly", start="DTSTART;TZID=America/New_York:20260316T100000",
               extra="RECURRENCE-ID;TZID=America/New_York:20260316T100000\nSTATUS:CANCELLED\n"),
        exdate="EXDATE;TZID=America/New_York:20260309T100000\n"))
    changes, _ = sync(source, cursor)
    assert removed(changes) == {"weekly/2026-03-09T14:00:00Z"}
    found = meetings(changes)
    assert found["weekly/2026-03-16T14:00:00Z"].cancelled is True
    assert found["weekly/2026-03-02T15:00:00Z"].cancelled is False


def test_all_day_series_uses_the_date(vdir: Vdir) -> None:
    vdir.write("days.ics", ics(vevent("conf", start="DTSTART;VALUE=DATE:20260316",
                                      extra="RRULE:FREQ=DAILY;COUNT=2\n")))
    found = meetings(sync(vdir.calendar(), None)[0])
    assert set(found) == {"conf/2026-03-16", "conf/2026-03-17"}
    assert found["conf/2026-03-17"].start == datetime(2026, 3, 17, tzinfo=NEW_YORK)


# --- the cursor --------------------------------------------------------------------------------


def test_unchanged_vdir_opens_no_file(vdir: Vdir) -> None:
    for name in ("google.ics", "outlook.ics", "apple.ics"):
        vdir.copy(name)
    source = vdir.calendar()
    first, cursor = sync(source, None)
    assert len(first) == 13
    assert sorted(vdir.reader.opened) == ["apple.ics", "google.ics", "outlook.ics"]
    vdir.reader.opened.clear()
    vdir.clock.now = NOW + timedelta(hours=5)  # same day: the window has not moved
    changes, cursor2 = sync(source, cursor)
    assert changes == []
    assert vdir.reader.opened == []
    assert cursor2 == cursor


def test_changed_file_returns_all_its_meetings_and_what_left_it(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1"), vevent("a2"), vevent("a3")))
    vdir.write("b.ics", ics(vevent("b1")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.reader.opened.clear()
    vdir.write("a.ics", ics(vevent("a1", summary="Renamed"), vevent("a3")))
    changes, cursor = sync(source, cursor)
    assert vdir.reader.opened == ["a.ics"]
    assert set(meetings(changes)) == {"a1", "a3"}
    assert meetings(changes)["a1"].title == "Renamed"
    assert removed(changes) == {"a2"}
    assert sync(source, cursor)[0] == []


def test_same_size_change_is_seen_through_mtime(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1", summary="Alpha")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.write("a.ics", ics(vevent("a1", summary="Omega")))
    assert meetings(sync(source, cursor)[0])["a1"].title == "Omega"


def test_deleted_file_removes_its_meetings_unless_another_file_has_them(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1"), vevent("shared")))
    vdir.write("b.ics", ics(vevent("shared")))
    vdir.write("series.ics", series_file())
    source = vdir.calendar()
    _, cursor = sync(source, None)
    (vdir.folder / "a.ics").unlink()
    (vdir.folder / "series.ics").unlink()
    changes, _ = sync(source, cursor)
    assert removed(changes) == {"a1", "weekly/2026-03-02T15:00:00Z",
                                "weekly/2026-03-09T14:00:00Z", "weekly/2026-03-16T14:00:00Z",
                                "weekly/2026-03-23T14:00:00Z"}
    # b.ics held "shared" too: it is read again, its copy now the one that counts
    assert set(meetings(changes)) == {"shared"}
    assert vdir.reader.opened[-1] == "b.ics"


def test_new_file_is_read(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.reader.opened.clear()
    vdir.write("b.ics", ics(vevent("b1")))
    changes, _ = sync(source, cursor)
    assert vdir.reader.opened == ["b.ics"]
    assert set(meetings(changes)) == {"b1"} and not removed(changes)


def test_only_visible_ics_files_count(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.write(".hidden.ics", ics(vevent("hidden")))
    vdir.write("notes.txt", ics(vevent("txt")))
    vdir.write("UPPER.ICS", ics(vevent("upper")))
    (vdir.folder / "folder.ics").mkdir()
    assert set(meetings(sync(vdir.calendar(), None)[0])) == {"a1", "upper"}


def test_one_ics_file_as_the_calendar(vdir: Vdir) -> None:
    path = vdir.copy("apple.ics")
    source = vdir.calendar(path=path)
    changes, cursor = sync(source, None)
    assert len(meetings(changes)) == 3
    assert {m.source for m in meetings(changes).values()} == {"apple.ics"}
    assert sync(source, cursor)[0] == []


WEEKLY_OPEN = vevent("open", start="DTSTART;TZID=America/New_York:20260202T100000",
                     extra="RRULE:FREQ=WEEKLY\nDURATION:PT30M\n")


def test_window_moving_by_a_day_expands_series_again(vdir: Vdir) -> None:
    vdir.write("open.ics", ics(WEEKLY_OPEN))
    vdir.write("single.ics", ics(vevent("single")))
    source = vdir.calendar(history_days=7, horizon_days=14)
    first, cursor = sync(source, None)
    # 1 March: the window is 22 February to 15 March.
    assert set(meetings(first)) == {"single", "open/2026-02-23T15:00:00Z",
                                    "open/2026-03-02T15:00:00Z", "open/2026-03-09T14:00:00Z"}
    vdir.reader.opened.clear()
    vdir.clock.now = NOW + timedelta(days=7)  # 8 March: 1 to 22 March
    changes, cursor = sync(source, cursor)
    assert vdir.reader.opened == ["open.ics"]  # the file without a series is not opened
    assert set(meetings(changes)) == {"open/2026-03-16T14:00:00Z"}
    assert removed(changes) == set()  # 23 February fell out of the window: not "removed"
    assert "open/2026-02-23T15:00:00Z" not in SyncState.from_json(cursor).files["open.ics"].uids


def test_window_move_with_a_change_reports_only_removals_inside_the_window(vdir: Vdir) -> None:
    vdir.write("open.ics", ics(WEEKLY_OPEN))
    source = vdir.calendar(history_days=7, horizon_days=14)
    _, cursor = sync(source, None)
    vdir.clock.now = NOW + timedelta(days=7)
    vdir.write("open.ics", ics(WEEKLY_OPEN.replace(
        "DURATION", "EXDATE;TZID=America/New_York:20260309T100000\nDURATION")))
    changes, _ = sync(source, cursor)
    assert removed(changes) == {"open/2026-03-09T14:00:00Z"}
    assert set(meetings(changes)) == {"open/2026-03-02T15:00:00Z", "open/2026-03-16T14:00:00Z"}


def test_a_new_zone_reads_everything_again(vdir: Vdir) -> None:
    vdir.write("floating.ics", ics(vevent("f", start="DTSTART:20260310T090000")))
    _, cursor = sync(vdir.calendar(NEW_YORK), None)
    changes, _ = sync(vdir.calendar(BERLIN), cursor)
    assert meetings(changes)["f"].start == utc(2026, 3, 10, 8)


V2: JSON = {"version": 2, "kind": "local-vdir", "timezone": "UTC", "window_start": "2026-01-01",
            "window_end": "2027-01-01", "folder": None, "listed_at": None, "files": "{}"}


@pytest.mark.parametrize("cursor", [
    {},
    {"version": 99, "kind": "local-vdir"},
    {"pageToken": "abc"},
    {"version": 1, "kind": "local-vdir", "timezone": "UTC", "window_start": "2026-01-01",
     "window_end": "2027-01-01", "files": {"a.ics": {"mtime_ns": "x"}}},
    {"version": 1, "kind": "local-vdir", "timezone": "UTC", "window_start": "yesterday",
     "window_end": "2027-01-01", "files": {}},
    {"version": 1, "kind": "local-vdir", "timezone": "UTC", "window_start": "2026-01-01",
     "window_end": "2027-01-01", "files": []},
    {**V2, "files": {}},
    {**V2, "files": "{not json"},
    {**V2, "files": '{"a.ics": [1, 2, [], false]}'},
    {**V2, "files": '{"a.ics": [1, 2, [3], false, false]}'},
    {**V2, "folder": {"device": 1, "inode": 2, "mtime_ns": 3}},
    {**V2, "folder": {"device": 1, "inode": 2, "mtime_ns": 3, "ctime_ns": "4"}},
    {**V2, "listed_at": "an hour ago"},
    {**V2, "listed_at": "2026-03-01T12:00:00"},
])
def test_unknown_cursor_expires(vdir: Vdir, cursor: JSON) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    with pytest.raises(CursorExpired):
        collect(vdir.calendar().changes(cursor))


# --- the folder's stamp: an unchanged folder is not listed -----------------------------------


def test_an_unchanged_folder_is_not_listed_until_the_full_check(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1", summary="Alpha")))
    vdir.settle()
    source = vdir.calendar(file_clock=a_minute_on)
    _, cursor = sync(source, None)
    # An editor that rewrites the file in place leaves the folder as it was.
    vdir.write_in_place("a.ics", ics(vevent("a1", summary="Omega")))
    vdir.clock.now = NOW + timedelta(minutes=59)
    changes, same = collect(source.changes(cursor))
    assert changes == [] and same is cursor  # not listed: the cursor comes back as it was
    vdir.clock.now = NOW + timedelta(minutes=60)  # full_check_minutes (60) later: every file
    changes, cursor = sync(source, cursor)
    assert meetings(changes)["a1"].title == "Omega"
    assert sync(source, cursor)[0] == []


def test_a_file_written_as_vdir_tools_do_is_seen_at_once(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1", summary="Alpha")))
    vdir.settle()
    source = vdir.calendar(file_clock=a_minute_on)
    _, cursor = sync(source, None)
    vdir.reader.opened.clear()
    vdir.write("a.ics", ics(vevent("a1", summary="Omega")))  # renamed over: the folder changes
    vdir.write("b.ics", ics(vevent("b1")))
    changes, cursor = sync(source, cursor)
    assert sorted(vdir.reader.opened) == ["a.ics", "b.ics"]
    assert meetings(changes)["a1"].title == "Omega" and "b1" in meetings(changes)
    vdir.settle()
    (vdir.folder / "b.ics").unlink()
    assert removed(sync(source, cursor)[0]) == {"b1"}


def test_a_folder_whose_time_is_set_back_is_still_seen_to_change(vdir: Vdir) -> None:
    # rsync -t and backup tools restore a folder's modification time; its change time moves.
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.settle()
    source = vdir.calendar(file_clock=a_minute_on)
    _, cursor = sync(source, None)
    kept = (vdir.folder.stat().st_atime_ns, vdir.folder.stat().st_mtime_ns)
    time.sleep(0.05)  # the file system's clock ticks coarsely: let it move
    vdir.write("b.ics", ics(vevent("b1")))
    os.utime(vdir.folder, ns=kept)
    assert vdir.folder.stat().st_mtime_ns == kept[1]
    assert set(meetings(sync(source, cursor)[0])) == {"b1"}


def test_full_check_minutes_zero_lists_every_cycle(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1", summary="Alpha")))
    vdir.settle()
    source = vdir.calendar(file_clock=a_minute_on, full_check_minutes=0)
    _, cursor = sync(source, None)
    vdir.write_in_place("a.ics", ics(vevent("a1", summary="Omega")))
    changes, cursor = sync(source, cursor)
    assert meetings(changes)["a1"].title == "Omega"
    vdir.clock.now = NOW + timedelta(minutes=5)
    assert sync(source, cursor) == ([], cursor)  # no new listing time: nothing to write


def test_a_folder_that_just_changed_is_listed_again_next_time(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1", summary="Alpha")))
    source = vdir.calendar()  # the real clock: the folder changed a moment ago
    _, cursor = sync(source, None)
    assert SyncState.from_json(cursor).folder is None  # the same tick may still hide a change
    vdir.write_in_place("a.ics", ics(vevent("a1", summary="Omega")))
    assert meetings(sync(source, cursor)[0])["a1"].title == "Omega"


def test_a_folder_that_changes_while_it_is_listed_is_listed_again(
        vdir: Vdir, monkeypatch: pytest.MonkeyPatch) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.settle()
    source = vdir.calendar(file_clock=a_minute_on)
    scandir = os.scandir

    class BusyListing:
        """The folder's listing; a file arrives just after its last entry."""

        def __init__(self, path: Path) -> None:
            self._entries = scandir(path)

        def __enter__(self) -> BusyListing:
            return self

        def __exit__(self, *_: object) -> None:
            self._entries.close()

        def __iter__(self) -> Iterator[os.DirEntry[str]]:
            yield from self._entries
            vdir.write("late.ics", ics(vevent("late")))

    monkeypatch.setattr("connectors.local.calendar.os.scandir", BusyListing)
    _, cursor = sync(source, None)
    monkeypatch.undo()
    assert SyncState.from_json(cursor).folder is None
    assert "late" in meetings(sync(source, cursor)[0])


def test_a_long_first_sync_records_the_folder_once_it_has_settled(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.write("b.ics", ics(vevent("b1")))  # the folder changed a moment ago
    ahead = [0]

    def slow_reader(path: Path, most: int) -> bytes:
        ahead[0] += 3 * 10**9  # each file takes 3 s to read
        return read_file(path, most)

    source = vdir.calendar(reader=slow_reader, file_clock=lambda: time.time_ns() + ahead[0])
    _, cursor = sync(source, None)
    assert SyncState.from_json(cursor).folder is not None  # listed again and found the same
    assert sync(source, cursor) == ([], cursor)  # so the next cycle writes nothing


def test_a_file_that_arrives_during_a_long_first_sync_is_seen_next_time(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    ahead = [0]

    def slow_reader(path: Path, most: int) -> bytes:
        ahead[0] += 3 * 10**9
        if path.name == "a.ics":
            vdir.write("late.ics", ics(vevent("late")))
        return read_file(path, most)

    source = vdir.calendar(reader=slow_reader, file_clock=lambda: time.time_ns() + ahead[0])
    _, cursor = sync(source, None)
    assert SyncState.from_json(cursor).folder is None
    assert "late" in meetings(sync(source, cursor)[0])


def test_a_file_that_could_not_be_read_is_tried_again_in_a_quiet_folder(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.write("b.ics", ics(vevent("b1")))
    vdir.settle()
    failing = {"b.ics"}

    def flaky_reader(path: Path, most: int) -> bytes:
        if path.name in failing:
            raise PermissionError(13, "Permission denied")
        return read_file(path, most)

    source = vdir.calendar(reader=flaky_reader, file_clock=a_minute_on)
    first, cursor = sync(source, None)
    assert set(meetings(first)) == {"a1"}
    failing.clear()
    assert set(meetings(sync(source, cursor)[0])) == {"b1"}


def test_the_next_day_expands_series_again_in_a_quiet_folder(vdir: Vdir) -> None:
    vdir.write("open.ics", ics(WEEKLY_OPEN))
    vdir.settle()
    source = vdir.calendar(history_days=7, horizon_days=14, file_clock=a_minute_on)
    _, cursor = sync(source, None)
    vdir.clock.now = NOW + timedelta(days=7)
    assert set(meetings(sync(source, cursor)[0])) == {"open/2026-03-16T14:00:00Z"}


def test_a_new_zone_reads_a_quiet_folder_again(vdir: Vdir) -> None:
    vdir.write("floating.ics", ics(vevent("f", start="DTSTART:20260310T090000")))
    vdir.settle()
    _, cursor = sync(vdir.calendar(NEW_YORK, file_clock=a_minute_on), None)
    changes, _ = sync(vdir.calendar(BERLIN, file_clock=a_minute_on), cursor)
    assert meetings(changes)["f"].start == utc(2026, 3, 10, 8)


def test_a_series_that_could_not_be_expanded_again_is_tried_next_time(vdir: Vdir) -> None:
    vdir.write("open.ics", ics(WEEKLY_OPEN))
    vdir.settle()
    failing: set[str] = set()

    def flaky_reader(path: Path, most: int) -> bytes:
        if path.name in failing:
            raise PermissionError(13, "Permission denied")
        return read_file(path, most)

    source = vdir.calendar(history_days=7, horizon_days=14, reader=flaky_reader,
                           file_clock=a_minute_on)
    _, cursor = sync(source, None)
    vdir.clock.now = NOW + timedelta(days=7)  # the window moved: the series is read again...
    failing.add("open.ics")  # ...but cannot be, this time
    changes, cursor = sync(source, cursor)
    assert not meetings(changes) and not removed(changes)
    assert [(n.source, "Permission denied" in n.notes[0]) for n in notes(changes)] == [
        ("open.ics", True)]
    failing.clear()
    assert "open/2026-03-16T14:00:00Z" in meetings(sync(source, cursor)[0])


def test_a_version_1_cursor_is_read_and_rewritten_without_reading_files(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.write("open.ics", ics(WEEKLY_OPEN))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    state = SyncState.from_json(cursor)
    version_1 = {
        "version": 1, "kind": "local-vdir", "timezone": state.timezone,
        "window_start": state.window.start.isoformat(),
        "window_end": state.window.end.isoformat(),
        "files": {name: {"mtime_ns": e.mtime_ns, "size": e.size, "uids": list(e.uids),
                         "recurring": e.recurring, "broken": e.broken}
                  for name, e in state.files.items()}}
    vdir.reader.opened.clear()
    changes, upgraded = sync(source, version_1)
    assert changes == [] and vdir.reader.opened == []
    assert upgraded["version"] == 2
    assert SyncState.from_json(upgraded).files == state.files


def test_missing_calendar_path_says_what_to_fix(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.folder.rename(vdir.folder.with_name("elsewhere"))
    with pytest.raises(ConnectorError) as caught:
        collect(source.changes(cursor))
    assert str(vdir.folder) in str(caught.value)
    assert "`calendar`" in str(caught.value)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [
    b"",
    b"hello, this is not a calendar",
    b"\x00\xff\xfe\x89PNG\r\n\x1a\n",
    b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:cut\nDTSTART:20260310T150000Z\n",
    b"BEGIN:VCARD\nVERSION:3.0\nFN:Dana Whitfield\nEND:VCARD\n",
])
def test_malformed_file_is_skipped_and_others_count(vdir: Vdir, garbage: bytes,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("good.ics", ics(vevent("good")))
    vdir.write("broken.ics", garbage)
    source = vdir.calendar()
    with caplog.at_level(logging.WARNING, logger="connectors.local.calendar"):
        changes, cursor = sync(source, None)
    assert set(meetings(changes)) == {"good"}
    assert any("broken.ics" in r.getMessage() for r in caplog.records)
    vdir.reader.opened.clear()
    assert sync(source, cursor)[0] == []
    assert vdir.reader.opened == []  # not read again until it changes


def test_a_file_that_breaks_keeps_its_meetings_until_fixed(vdir: Vdir,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    vdir.write("a.ics", ics(vevent("a1"), vevent("a2")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.write("a.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a1\n")  # half-written by an editor
    with caplog.at_level(logging.WARNING):
        changes, cursor = sync(source, cursor)
    [note] = notes(changes)
    assert len(changes) == 1 and note.source == "a.ics"
    assert note.notes[0].startswith("it is not a valid iCalendar file")
    assert SyncState.from_json(cursor).files["a.ics"].uids == ("a1", "a2")
    assert SyncState.from_json(cursor).files["a.ics"].noted
    assert any("a.ics" in r.getMessage() and "kept" in r.getMessage() for r in caplog.records)
    assert sync(source, cursor)[0] == []
    vdir.write("a.ics", ics(vevent("a1", summary="Fixed")))
    changes, cursor = sync(source, cursor)
    assert meetings(changes)["a1"].title == "Fixed"
    assert removed(changes) == {"a2"}
    assert notes(changes) == [SourceNotes("a.ics", ())]  # fixed: what was said is cleared
    assert not SyncState.from_json(cursor).files["a.ics"].noted


@pytest.mark.parametrize(("bad", "uid"), [
    ("BEGIN:VEVENT\nUID:no-start\nSUMMARY:No start\nEND:VEVENT\n", "no-start"),
    (vevent("bad-date", start="DTSTART:2026-13-45"), "bad-date"),
    (vevent("bad-duration", extra="DURATION:soon\n"), "bad-duration"),
    (vevent("bad-end", extra="DTEND:tomorrow\n"), "bad-end"),
])
def test_one_bad_event_is_skipped_and_its_siblings_count(vdir: Vdir, bad: str, uid: str,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    vdir.write("mixed.ics", ics(vevent("before"), bad, vevent("after")))
    with caplog.at_level(logging.WARNING):
        changes, _ = sync(vdir.calendar(), None)
    assert set(meetings(changes)) == {"before", "after"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("mixed.ics" in m and uid in m for m in messages), messages


def test_event_without_uid_is_kept_under_an_identity_of_its_own(vdir: Vdir) -> None:
    vdir.write("x.ics", ics("BEGIN:VEVENT\nDTSTART:20260310T150000Z\nSUMMARY:Anon\nEND:VEVENT\n",
                            vevent("named")))
    found = meetings(sync(vdir.calendar(), None)[0])
    assert len(found) == 2 and "named" in found
    assert {m.title for m in found.values()} == {"Anon", "Event named"}


def test_non_utf8_bytes_are_replaced_not_fatal(vdir: Vdir,
                                               caplog: pytest.LogCaptureFixture) -> None:
    data = ics(vevent("latin", summary="Caf\u00e9 with Zo\u00eb")).encode("latin-1")
    vdir.write("latin1.ics", data)
    with caplog.at_level(logging.WARNING):
        meeting = meetings(sync(vdir.calendar(), None)[0])["latin"]
    assert meeting.title == "Caf\ufffd with Zo\ufffd"
    assert any("latin1.ics" in r.getMessage() and "UTF-8" in r.getMessage()
               for r in caplog.records)


# --- opening -----------------------------------------------------------------------------------


def test_open_account_is_cheap_and_reports_a_missing_calendar_on_sync(tmp_path: Path) -> None:
    env = ConnectorEnv(timezone=NEW_YORK, clock=lambda: NOW, data_dir=tmp_path)
    account = open_account("work", checked("local", "work", calendar=str(tmp_path / "nowhere"),
                                           drafts=str(tmp_path / "Drafts")), env)
    assert account.name == "work"
    assert not (tmp_path / "Drafts").exists()
    with pytest.raises(ConnectorError) as caught:
        collect(account.calendar.changes(None))
    message = str(caught.value)
    assert str(tmp_path / "nowhere") in message and "`calendar`" in message
    assert "'work'" in message


@pytest.mark.parametrize(("options", "key"), [
    ({"drafts": "/tmp/Drafts"}, "calendar"),
    ({"calendar": "/tmp/cal", "drafts": "/tmp/Drafts", "history_days": -1}, "history_days"),
    ({"calendar": "/tmp/cal", "drafts": "/tmp/Drafts", "horizon_days": "a year"}, "horizon_days"),
    ({"calendar": "/tmp/cal", "drafts": "/tmp/Drafts", "full_check_minutes": -5},
     "full_check_minutes"),
    ({"calendar": "/tmp/cal", "drafts": "/tmp/Drafts", "full_check_minutes": True},
     "full_check_minutes"),
    ({"calendar": "/tmp/cal"}, "drafts"),
])
def test_bad_options_are_refused_by_the_config_naming_the_key(options: dict[str, Any],
                                                               key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        checked("local", "work", **options)


def test_a_file_holding_a_path_is_not_read_as_that_path(vdir: Vdir, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.ics"  # outside the vdir: its meeting must not appear
    elsewhere.write_text(ics(vevent("secret")))
    vdir.write("pointer.ics", str(elsewhere).encode())
    vdir.write("good.ics", ics(vevent("good")))
    changes, _ = sync(vdir.calendar(), None)
    assert set(meetings(changes)) == {"good"}
