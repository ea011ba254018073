"""The local calendar's files as they come: too big, not regular files, links, unreadable, the
same event in several files; what is said of them (SourceNotes), and said once."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest

from connectors.base import collect
from connectors.local.cursor import SyncState
from connectors.local.files import read_file
from daemon.core.errors import ConfigError
from daemon.core.model import Meeting, Removed, SourceNotes
from tests.accounts import checked
from tests.test_local_calendar import (
    Vdir,
    a_minute_on,
    ics,
    meetings,
    notes,
    removed,
    sync,
    utc,
    vevent,
)

MB = 1 << 20


@pytest.fixture
def vdir(tmp_path: Path) -> Vdir:
    return Vdir(tmp_path / "calendar")


def warnings_naming(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and name in r.getMessage()]


def padded(uid: str, size: int) -> str:
    """A one-event calendar of about ``size`` bytes (a long description)."""
    return ics(vevent(uid, extra=f"DESCRIPTION:{'x' * size}\n"))


# --- the size limit ----------------------------------------------------------------------------


def test_a_file_over_the_limit_is_not_opened_and_keeps_its_meetings(
        vdir: Vdir, caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("big.ics", ics(vevent("big-1"), vevent("big-2")))
    vdir.write("good.ics", ics(vevent("good")))
    source = vdir.calendar(max_file_mb=1)
    _, cursor = sync(source, None)
    vdir.write("big.ics", padded("big-1", 3 * MB // 2))  # an export grown past 1 MB
    vdir.reader.opened.clear()
    with caplog.at_level(logging.INFO):
        changes, cursor = sync(source, cursor)
    assert vdir.reader.opened == []
    assert not meetings(changes) and not removed(changes)  # its meetings are kept
    [note] = notes(changes)
    assert note.source == "big.ics"
    assert note.notes == ("it is 1.5 MB, over the limit of 1 MB, so it is not read and its "
                          "meetings are kept as they were; split it into smaller files, or "
                          "raise `max_file_mb` for this account in the config",)
    [warning] = warnings_naming(caplog, "big.ics")
    assert "1.5 MB" in warning and "1 MB" in warning and "max_file_mb" in warning
    entry = SyncState.from_json(cursor).files["big.ics"]
    assert entry.uids == ("big-1", "big-2") and entry.broken and entry.noted
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert sync(vdir.calendar(max_file_mb=1, full_check_minutes=0), cursor)[0] == []
    assert warnings_naming(caplog, "big.ics") == []  # named once, not every cycle


def test_raising_the_limit_reads_the_file_that_was_too_big(vdir: Vdir) -> None:
    vdir.write("big.ics", padded("big-1", 3 * MB // 2))
    vdir.settle()
    first, cursor = sync(vdir.calendar(max_file_mb=1, file_clock=a_minute_on), None)
    assert not meetings(first) and len(notes(first)) == 1
    quiet = vdir.calendar(max_file_mb=1, file_clock=a_minute_on)
    assert collect(quiet.changes(cursor)) == ([], cursor)  # idle: nothing listed
    changes, cursor = sync(vdir.calendar(max_file_mb=2, file_clock=a_minute_on), cursor)
    assert set(meetings(changes)) == {"big-1"}
    assert notes(changes) == [SourceNotes("big.ics", ())]
    assert not SyncState.from_json(cursor).files["big.ics"].noted


def test_a_file_that_grows_after_the_listing_is_read_no_further_than_the_limit(
        vdir: Vdir, caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("growing.ics", ics(vevent("g")))
    asked: list[int] = []

    def growing_reader(path: Path, most: int) -> bytes:
        asked.append(most)
        return b"x" * most  # it is bigger now than the listing said

    with caplog.at_level(logging.WARNING):
        changes, _ = sync(vdir.calendar(max_file_mb=1, reader=growing_reader), None)
    assert asked == [MB + 1]
    [note] = notes(changes)
    assert note.notes[0].startswith("it is over 1 MB, over the limit of 1 MB")
    assert warnings_naming(caplog, "growing.ics")


def test_read_file_reads_no_more_than_asked(tmp_path: Path) -> None:
    path = tmp_path / "large.ics"
    with path.open("wb") as file:
        file.truncate(64 * MB)  # sparse: no disk used
    assert read_file(path, 1000) == b"\0" * 1000
    path.write_bytes(b"short")
    assert read_file(path, 1000) == b"short"


# --- entries that are not regular files --------------------------------------------------------


def test_read_file_does_not_block_on_a_fifo_nor_follow_a_link(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.ics"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(OSError) as caught:
        read_file(fifo, 100)  # no writer: a blocking open would never return
    assert caught.value.errno == errno.EINVAL and time.monotonic() - started < 5
    link = tmp_path / "link.ics"
    link.symlink_to("/dev/zero")
    with pytest.raises(OSError) as caught:
        read_file(link, 100)
    assert caught.value.errno == errno.ELOOP


def test_odd_entries_are_named_once_and_never_opened(
        vdir: Vdir, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outside = tmp_path / "elsewhere.ics"
    outside.write_text(ics(vevent("secret")))
    (vdir.folder / "sub").mkdir()
    (vdir.folder / "sub" / "inner.ics").write_text(ics(vevent("inner")))
    vdir.write("good.ics", ics(vevent("good")))
    os.mkfifo(vdir.folder / "pipe.ics")
    (vdir.folder / "folder.ics").mkdir()
    (vdir.folder / "zero.ics").symlink_to("/dev/zero")
    (vdir.folder / "out.ics").symlink_to(outside)
    (vdir.folder / "dangling.ics").symlink_to(vdir.folder / "gone.ics")
    (vdir.folder / "loop.ics").symlink_to(vdir.folder / "loop.ics")
    (vdir.folder / "inside.ics").symlink_to("sub/inner.ics")  # inside the folder: followed
    source = vdir.calendar(full_check_minutes=0)
    with caplog.at_level(logging.WARNING):
        changes, cursor = sync(source, None)
    assert set(meetings(changes)) == {"good", "inner"}
    assert meetings(changes)["inner"].source == "inside.ics"  # named as it is in the folder
    assert sorted(vdir.reader.opened) == ["good.ics", "inner.ics"]
    said = {n.source: n.notes for n in notes(changes)}
    assert sorted(said) == ["dangling.ics", "folder.ics", "loop.ics", "out.ics", "pipe.ics",
                            "zero.ics"]
    assert said["pipe.ics"][0].startswith("it is a named pipe (FIFO), not a regular file")
    assert said["folder.ics"][0].startswith("it is a folder, not a regular file")
    assert said["zero.ics"][0].startswith(
        "it is a link to /dev/zero, outside the calendar folder")
    assert said["out.ics"][0].startswith(f"it is a link to {outside}, outside")
    assert said["dangling.ics"][0].startswith(f"it is a link to {vdir.folder / 'gone.ics'}, "
                                              "which does not exist")
    assert said["loop.ics"][0].startswith("it is a link that leads back to itself")
    for name in said:
        assert len(warnings_naming(caplog, name)) == 1, name
    caplog.clear()
    vdir.reader.opened.clear()
    with caplog.at_level(logging.WARNING):
        assert sync(source, cursor)[0] == []  # listed again, and nothing said again
    assert caplog.records == [] and vdir.reader.opened == []


def test_a_calendar_path_that_is_a_fifo_is_not_opened(vdir: Vdir, tmp_path: Path) -> None:
    fifo = tmp_path / "calendar.ics"
    os.mkfifo(fifo)
    changes, _ = sync(vdir.calendar(path=fifo), None)
    assert [n.source for n in notes(changes)] == ["calendar.ics"]
    assert vdir.reader.opened == []


# --- unreadable files --------------------------------------------------------------------------


def test_an_unreadable_file_is_named_once_tried_each_cycle_and_read_once_it_can_be(
        vdir: Vdir, caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("locked.ics", ics(vevent("locked")))
    vdir.write("good.ics", ics(vevent("good")))
    vdir.settle()
    locked = {"locked.ics"}

    def reader(path: Path, most: int) -> bytes:
        vdir.reader.opened.append(path.name)
        if path.name in locked:  # as mode 000 is for a user other than root
            raise PermissionError(errno.EACCES, "Permission denied")
        return read_file(path, most)

    source = vdir.calendar(reader=reader, file_clock=a_minute_on)
    with caplog.at_level(logging.WARNING):
        first, cursor = sync(source, None)
        second, cursor = sync(source, cursor)
    assert set(meetings(first)) == {"good"}
    assert [n.source for n in notes(first)] == ["locked.ics"]
    assert "Permission denied" in notes(first)[0].notes[0]
    assert second == [] and vdir.reader.opened.count("locked.ics") == 2  # tried again
    assert len(warnings_naming(caplog, "locked.ics")) == 1
    locked.clear()
    changes, _ = sync(source, cursor)
    assert set(meetings(changes)) == {"locked"}
    assert notes(changes) == [SourceNotes("locked.ics", ())]


def test_a_file_of_mode_000_is_read_by_root_and_named_for_anyone_else(vdir: Vdir) -> None:
    path = vdir.write("locked.ics", ics(vevent("locked")))
    path.chmod(0)
    changes, _ = sync(vdir.calendar(), None)
    if os.geteuid() == 0:  # root reads any file: nothing is refused
        assert set(meetings(changes)) == {"locked"} and notes(changes) == []
    else:
        assert not meetings(changes)
        assert "cannot be read (Permission denied)" in notes(changes)[0].notes[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0


# --- what is said, and when --------------------------------------------------------------------


def test_notes_go_when_the_file_goes_and_a_full_sync_says_them_all(vdir: Vdir) -> None:
    vdir.write("bad.ics", "not a calendar")
    vdir.write("worse.ics", "nor this")
    vdir.write("good.ics", ics(vevent("good")))
    source = vdir.calendar()
    first, cursor = sync(source, None)
    assert sorted(n.source for n in notes(first)) == ["bad.ics", "worse.ics"]
    assert sorted(n.source for n in notes(sync(source, None)[0])) == ["bad.ics", "worse.ics"]
    (vdir.folder / "bad.ics").unlink()
    (vdir.folder / "good.ics").unlink()
    changes, _ = sync(source, cursor)
    assert notes(changes) == [SourceNotes("bad.ics", ())]  # good.ics had nothing to clear
    assert removed(changes) == {"good"}


def test_a_changed_limit_lists_the_folder_again(vdir: Vdir) -> None:
    vdir.write("a.ics", ics(vevent("a1")))
    vdir.settle()
    _, cursor = sync(vdir.calendar(file_clock=a_minute_on), None)
    assert cursor["max_file_bytes"] == 10 * MB
    again = vdir.calendar(max_file_mb=20, file_clock=a_minute_on)
    changes, cursor2 = collect(again.changes(cursor))
    assert changes == [] and cursor2 is not cursor and cursor2["max_file_bytes"] == 20 * MB


@pytest.mark.parametrize("value", [0, -1, "10", 2.5, True])
def test_the_config_refuses_a_bad_max_file_mb(value: object) -> None:
    with pytest.raises(ConfigError, match="max_file_mb"):
        checked("local", "work", calendar="/tmp/cal", drafts="/tmp/Drafts", max_file_mb=value)


# --- the same event in several files -----------------------------------------------------------


def invite(uid: str, sequence: int, title: str, start: str = "DTSTART:20260310T150000Z"
           ) -> str:
    return ics(vevent(uid, start=start, summary=title, extra=f"SEQUENCE:{sequence}\n"),
               head="METHOD:REQUEST\n")


def test_an_invitation_next_to_its_synced_copy_is_read_with_it(
        vdir: Vdir, caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("synced.ics", invite("chat", 0, "Coffee chat"))
    vdir.write("other.ics", ics(vevent("other")))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.reader.opened.clear()
    vdir.write("zz-invite.ics", invite("chat", 1, "Coffee chat (moved)"))
    with caplog.at_level(logging.WARNING):
        changes, cursor = sync(source, cursor)
    assert meetings(changes)["chat"].title == "Coffee chat (moved)"
    assert sorted(vdir.reader.opened) == ["synced.ics", "zz-invite.ics", "zz-invite.ics"]
    assert any("synced.ics and zz-invite.ics" in m and "SEQUENCE" in m
               for m in warnings_naming(caplog, "zz-invite.ics"))
    files = SyncState.from_json(cursor).files
    assert files["synced.ics"].uids == files["zz-invite.ics"].uids == ("chat",)
    assert files["synced.ics"].events == ("chat",)
    vdir.reader.opened.clear()
    vdir.write("other.ics", ics(vevent("other", summary="Renamed")))
    changes, cursor = sync(source, cursor)
    assert vdir.reader.opened == ["other.ics"]  # the group did not change: not read again
    (vdir.folder / "zz-invite.ics").unlink()
    changes, cursor = sync(source, cursor)
    assert not removed(changes)  # synced.ics still holds it: it is read again, alone
    assert meetings(changes)["chat"].title == "Coffee chat"
    (vdir.folder / "synced.ics").unlink()
    assert removed(sync(source, cursor)[0]) == {"chat"}


@pytest.mark.parametrize("names", [("a.ics", "b.ics"), ("b.ics", "a.ics")])
def test_the_copy_with_the_highest_sequence_wins_whatever_the_file_names(
        vdir: Vdir, names: tuple[str, str]) -> None:
    newer, older = names
    vdir.write(newer, invite("chat", 3, "Newer"))
    vdir.write(older, invite("chat", 1, "Older"))
    changes, _ = sync(vdir.calendar(), None)
    assert meetings(changes)["chat"].title == "Newer"  # the last reported of it counts


SERIES = vevent("weekly", start="DTSTART;TZID=America/New_York:20260302T100000",
                summary="Weekly chat", extra="RRULE:FREQ=WEEKLY;COUNT=4\nDURATION:PT30M\n")
MOVED = vevent("weekly", start="DTSTART;TZID=America/New_York:20260310T160000",
               summary="Moved", extra="RECURRENCE-ID;TZID=America/New_York:20260309T100000\n"
                                      "DURATION:PT30M\n")


@pytest.mark.parametrize("names", [("series.ics", "x-moved.ics"), ("series.ics", "a-moved.ics")])
def test_an_override_in_a_file_of_its_own_joins_its_series(vdir: Vdir,
                                                           names: tuple[str, str]) -> None:
    series, moved = names
    vdir.write(series, ics(SERIES))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    vdir.write(moved, ics(MOVED))
    changes, cursor = sync(source, cursor)
    slot = meetings(changes)["weekly/2026-03-09T14:00:00Z"]
    assert (slot.title, slot.start) == ("Moved", utc(2026, 3, 10, 20))
    assert not removed(changes)
    files = SyncState.from_json(cursor).files
    assert len(files[series].uids) == 4
    assert files[moved].uids == files[series].uids  # both hold the series
    (vdir.folder / series).unlink()
    changes, _ = sync(source, cursor)  # the override is read again, alone
    assert removed(changes) == {"weekly/2026-03-02T15:00:00Z", "weekly/2026-03-16T14:00:00Z",
                                "weekly/2026-03-23T14:00:00Z"}


def test_a_first_sync_removes_what_only_the_losing_copy_gave(vdir: Vdir) -> None:
    # a.ics is read alone first and gives four occurrences; b.ics then shares the series, and
    # the two read together give the two of the winning copy (SEQUENCE 1)
    vdir.write("a.ics", ics(SERIES))
    vdir.write("b.ics", ics(SERIES.replace("COUNT=4", "COUNT=2").replace(
        "DURATION", "SEQUENCE:1\nDURATION")))
    changes, cursor = sync(vdir.calendar(), None)
    kept = {"weekly/2026-03-02T15:00:00Z", "weekly/2026-03-09T14:00:00Z"}
    assert removed(changes) == {"weekly/2026-03-16T14:00:00Z", "weekly/2026-03-23T14:00:00Z"}
    assert kept <= set(meetings(changes))
    last = {c.uid: c for c in changes if isinstance(c, Meeting | Removed)}
    assert {uid for uid, c in last.items() if isinstance(c, Removed)} == removed(changes)
    files = SyncState.from_json(cursor).files
    assert set(files["a.ics"].uids) == set(files["b.ics"].uids) == kept


def test_files_of_a_cursor_without_events_are_still_found_to_share_one(vdir: Vdir) -> None:
    vdir.write("synced.ics", invite("chat", 0, "Coffee chat"))
    source = vdir.calendar()
    _, cursor = sync(source, None)
    state = SyncState.from_json(cursor)
    # a cursor of the version before events were kept: rows of five
    rows = {name: entry.to_row()[:5] for name, entry in state.files.items()}
    cursor = {**cursor, "files": json.dumps(rows)}
    vdir.reader.opened.clear()
    vdir.write("zz-invite.ics", invite("chat", 1, "Coffee chat (moved)"))
    changes, cursor = sync(source, cursor)
    assert "synced.ics" in vdir.reader.opened  # read again with the invitation
    assert meetings(changes)["chat"].title == "Coffee chat (moved)"
    assert SyncState.from_json(cursor).files["synced.ics"].events == ("chat",)


def test_files_too_big_to_read_together_are_read_alone(
        vdir: Vdir, caplog: pytest.LogCaptureFixture) -> None:
    vdir.write("a.ics", padded("chat", 6 * MB // 10))
    vdir.write("b.ics", padded("chat", 6 * MB // 10))
    with caplog.at_level(logging.WARNING):
        changes, cursor = sync(vdir.calendar(max_file_mb=1), None)
    assert "chat" in meetings(changes) and not removed(changes) and not notes(changes)
    assert any("a.ics and b.ics" in m and "over the limit of 1 MB" in m
               for m in warnings_naming(caplog, "b.ics"))
    files = SyncState.from_json(cursor).files
    assert files["a.ics"].uids == files["b.ics"].uids == ("chat",)


def test_a_file_names_its_events_even_when_they_give_no_meeting_now(vdir: Vdir) -> None:
    # A series wholly out of the window gives no meeting, but an override of it saved in
    # another file later must still be read with it; an event without a UID is named by the
    # identity it is given.
    vdir.write("old.ics", ics(vevent("old-series", start="DTSTART:20100301T150000Z",
                                     extra="RRULE:FREQ=WEEKLY;COUNT=2\n")))
    vdir.write("nouid.ics", ics(vevent("x").replace("UID:x\n", "")))
    changes, cursor = sync(vdir.calendar(), None)
    files = SyncState.from_json(cursor).files
    assert files["old.ics"].uids == () and files["old.ics"].events == ("old-series",)
    [made_up] = meetings(changes)
    assert files["nouid.ics"].events == (made_up,)
