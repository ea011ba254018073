"""The CalDAV calendar against a real Radicale on 127.0.0.1: first sync, idle cycles (with the
requests counted in the server's log), moved, cancelled and deleted events, an occurrence
override, an expired sync token, the ctag/ETag path, a wrong password, and calendars chosen by
display name or URL."""

from __future__ import annotations

import http.server
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorEnv, collect
from connectors.caldav.calendar import CalDavCalendar
from connectors.caldav.cursor import SyncState
from daemon.core.errors import AuthError, ConnectorError, CursorExpired, TransientError
from daemon.core.model import JSON, Change, Meeting, Removed, SourceNotes
from tests.servers.radicale import Account, Radicale
from tests.servers.radicale import radicale as radicale  # the fixtures
from tests.servers.radicale import radicale_tls as radicale_tls
from tests.servers.tls import make_certificates

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)


def ics(uid: str, start: datetime, *, title: str = "Coffee chat #infointerview",
        minutes: int = 30, status: str = "", rrule: str = "",
        overrides: tuple[tuple[datetime, datetime], ...] = (), sequence: int = 0) -> bytes:
    """One VCALENDAR object: an event (a series with ``rrule``) and its ``overrides``
    (original start, new start), times in UTC."""
    def stamp(when: datetime) -> str:
        return when.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")

    def event(begin: datetime, extra: list[str]) -> list[str]:
        return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260301T000000Z",
                f"SEQUENCE:{sequence}", f"DTSTART:{stamp(begin)}",
                f"DTEND:{stamp(begin + timedelta(minutes=minutes))}", f"SUMMARY:{title}",
                "ORGANIZER;CN=Sam Ortiz:mailto:sam@example.com",
                "ATTENDEE;CN=Dana Whitfield;PARTSTAT=ACCEPTED:mailto:dana@example.org",
                *extra, "END:VEVENT"]

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//coffeechat//tests//EN"]
    lines += event(start, [line for line in (f"STATUS:{status}" if status else "",
                                             f"RRULE:{rrule}" if rrule else "") if line])
    for original, moved in overrides:
        lines += event(moved, [f"RECURRENCE-ID:{stamp(original)}"])
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def source(account: Account, tmp_path: Path, clock: Clock | None = None,
           **options: object) -> CalDavCalendar:
    env = ConnectorEnv(timezone=ZONE, clock=clock or Clock(NOW), data_dir=tmp_path)
    return CalDavCalendar(url=account.url, username=account.username,
                          password=account.password, env=env, account="radicale",
                          timeout_seconds=20, **options)  # type: ignore[arg-type]


def sync(calendar: CalDavCalendar, cursor: JSON | None) -> tuple[list[Change], JSON]:
    return collect(calendar.changes(cursor))


def meetings(changes: list[Change]) -> dict[str, Meeting]:
    return {c.uid: c for c in changes if isinstance(c, Meeting)}


def removed(changes: list[Change]) -> set[str]:
    return {c.uid for c in changes if isinstance(c, Removed)}


def at(days: int, hour: int) -> datetime:
    return (NOW + timedelta(days=days)).replace(hour=hour, minute=0)


@pytest.fixture
def account(radicale: Radicale) -> Account:
    """A user with two event calendars (Work, Personal) and a task list."""
    user = radicale.new_user()
    user.make_calendar("work", "Work")
    user.make_calendar("personal", "Personal")
    user.make_calendar("tasks", "Tasks", ("VTODO",))
    user.put("work", "a.ics", ics("a@example.com", at(2, 10)))
    user.put("work", "b.ics", ics("b@example.com", at(5, 14), title="Stand-up"))
    user.put("personal", "c.ics", ics("c@example.com", at(3, 18)))
    return user


def test_first_sync_reads_every_event_calendar_then_idle_is_one_report_each(
        radicale: Radicale, account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    mark = radicale.log_size()
    changes, cursor = sync(calendar, None)
    first = radicale.requests(mark)
    got = meetings(changes)
    assert set(got) == {"a@example.com", "b@example.com", "c@example.com"}
    assert got["a@example.com"].start == at(2, 10)
    assert got["a@example.com"].title == "Coffee chat #infointerview"
    assert [a.email for a in got["a@example.com"].attendees] == ["dana@example.org"]
    assert got["a@example.com"].source == "a.ics"
    assert not removed(changes)
    # discovery (principal, home), then per calendar one sync-collection and one multiget
    assert first == [("PROPFIND", f"/{account.username}/")] * 2 + [
        ("REPORT", f"/{account.username}/personal/")] * 2 + [
        ("REPORT", f"/{account.username}/work/")] * 2, first

    for _ in range(3):
        mark = radicale.log_size()
        changes, again = sync(calendar, cursor)
        assert changes == []
        assert again == cursor  # so the core has nothing to write either
        cursor = again
        assert radicale.requests(mark) == [("REPORT", f"/{account.username}/personal/"),
                                           ("REPORT", f"/{account.username}/work/")]
    # the same from a new instance (the core opens the account each cycle)
    mark = radicale.log_size()
    assert sync(source(account, tmp_path), cursor) == ([], cursor)
    assert len(radicale.requests(mark)) == 2


def test_moved_cancelled_and_deleted_events(radicale: Radicale, account: Account,
                                            tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    _, cursor = sync(calendar, None)
    account.put("work", "a.ics", ics("a@example.com", at(4, 16), sequence=1))
    account.put("personal", "c.ics", ics("c@example.com", at(3, 18), status="CANCELLED",
                                         sequence=1))
    account.delete("work", "b.ics")
    mark = radicale.log_size()
    changes, cursor = sync(calendar, cursor)
    got = meetings(changes)
    assert set(got) == {"a@example.com", "c@example.com"}
    assert got["a@example.com"].start == at(4, 16)
    assert got["a@example.com"].end == at(4, 16) + timedelta(minutes=30)
    assert got["c@example.com"].cancelled is True
    assert removed(changes) == {"b@example.com"}
    # a sync-collection and a multiget for each calendar that changed, nothing else
    assert len(radicale.requests(mark)) == 4
    assert sync(calendar, cursor)[0] == []


def test_an_occurrence_override_changes_only_that_occurrence(
        radicale: Radicale, tmp_path: Path) -> None:
    user = radicale.new_user()
    user.make_calendar("work", "Work")
    first = at(1, 9)
    user.put("work", "series.ics", ics("series-1", first, rrule="FREQ=WEEKLY;COUNT=3"))
    calendar = source(user, tmp_path)
    changes, cursor = sync(calendar, None)
    series = meetings(changes)
    assert len(series) == 3
    second = first + timedelta(days=7)
    moved = second + timedelta(hours=3)
    user.put("work", "series.ics", ics("series-1", first, rrule="FREQ=WEEKLY;COUNT=3",
                                       overrides=((second, moved),)))
    changes, cursor = sync(calendar, cursor)
    again = meetings(changes)
    uid = f"series-1/{second.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%SZ}"
    assert again[uid].start == moved
    assert {u: m for u, m in again.items() if u != uid} == {
        u: m for u, m in series.items() if u != uid}
    assert not removed(changes)


def test_an_expired_sync_token_lists_in_full_and_delivers_only_what_changed(
        radicale: Radicale, account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    _, cursor = sync(calendar, None)
    state = SyncState.from_json(cursor)
    for kept in state.calendars:
        assert kept.sync and kept.token
        kept.token = "http://radicale.org/ns/sync/" + "0" * 64  # one the server never gave
    expired = state.to_json()
    account.put("work", "a.ics", ics("a@example.com", at(2, 11), sequence=1))
    account.delete("personal", "c.ics")
    mark = radicale.log_size()
    changes, cursor = sync(calendar, expired)
    requests = radicale.requests(mark)
    assert set(meetings(changes)) == {"a@example.com"}
    assert meetings(changes)["a@example.com"].start == at(2, 11)
    assert removed(changes) == {"c@example.com"}
    # per calendar: the refused REPORT and the full listing; one multiget for the change
    assert requests.count(("REPORT", f"/{account.username}/personal/")) == 2
    assert requests.count(("REPORT", f"/{account.username}/work/")) == 3
    assert len(requests) == 5
    # what it delivers is what a full sync gives, so the core sees the same meetings
    fresh = meetings(sync(source(account, tmp_path), None)[0])
    assert meetings(changes)["a@example.com"] == fresh["a@example.com"]
    assert sync(calendar, cursor)[0] == []


def test_a_full_sync_again_gives_identical_changes(account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    first, cursor = sync(calendar, None)
    again, _ = sync(calendar, None)
    assert again == first
    # a new instance (a restarted service) reads the same, and takes up the cursor
    other = source(account, tmp_path)
    assert sync(other, None)[0] == first
    assert sync(other, cursor)[0] == []


def test_without_sync_collection_ctag_and_etags_are_compared(
        radicale: Radicale, account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path, sync_collection=False)
    first, cursor = sync(calendar, None)
    assert set(meetings(first)) == {"a@example.com", "b@example.com", "c@example.com"}
    mark = radicale.log_size()
    assert sync(calendar, cursor)[0] == []
    assert radicale.requests(mark) == [("PROPFIND", f"/{account.username}/personal/"),
                                       ("PROPFIND", f"/{account.username}/work/")]
    account.put("work", "b.ics", ics("b@example.com", at(6, 14), title="Stand-up",
                                     sequence=1))
    account.delete("work", "a.ics")
    mark = radicale.log_size()
    changes, cursor = sync(calendar, cursor)
    assert set(meetings(changes)) == {"b@example.com"}
    assert removed(changes) == {"a@example.com"}
    # personal: its ctag; work: its ctag, its ETags, and a multiget of the changed object
    assert len(radicale.requests(mark)) == 4
    assert sync(calendar, cursor)[0] == []


def test_calendars_chosen_by_display_name_or_url(account: Account, tmp_path: Path) -> None:
    by_name = source(account, tmp_path, calendars=("Personal",))
    assert set(meetings(sync(by_name, None)[0])) == {"c@example.com"}
    by_case = source(account, tmp_path, calendars=("work",))
    assert set(meetings(sync(by_case, None)[0])) == {"a@example.com", "b@example.com"}
    by_url = source(account, tmp_path, calendars=(account.calendar_url("personal"),))
    assert set(meetings(sync(by_url, None)[0])) == {"c@example.com"}
    unknown = source(account, tmp_path, calendars=("Holidays",))
    with pytest.raises(ConnectorError) as caught:
        sync(unknown, None)
    assert "no calendar 'Holidays'" in str(caught.value)
    assert "'Personal'" in str(caught.value) and "'Work'" in str(caught.value)
    assert "'Tasks'" not in str(caught.value)
    assert "fix `calendars`" in str(caught.value)


def test_a_calendar_no_longer_chosen_has_its_meetings_removed(
        account: Account, tmp_path: Path) -> None:
    both = source(account, tmp_path)
    _, cursor = sync(both, None)
    one = source(account, tmp_path, calendars=("Work",))
    changes, _ = sync(one, cursor)
    assert removed(changes) == {"c@example.com"}
    # the settings changed, so what stays is read again, identically
    assert set(meetings(changes)) == {"a@example.com", "b@example.com"}


def test_a_wrong_password_says_what_to_do(radicale: Radicale, tmp_path: Path) -> None:
    user = radicale.new_user(password="the-right-one")
    user.make_calendar("work", "Work")
    wrong = Account(radicale, user.username, "a-wrong-one")
    with pytest.raises(AuthError) as caught:
        sync(source(wrong, tmp_path), None)
    message = str(caught.value)
    assert isinstance(caught.value, ConnectorError)
    assert "account 'radicale'" in message
    assert "refused the user name or password" in message
    assert "password_command" in message and "app password" in message
    assert "a-wrong-one" not in message


def test_plain_http_to_another_machine_is_refused(tmp_path: Path) -> None:
    env = ConnectorEnv(timezone=ZONE, clock=Clock(NOW), data_dir=tmp_path)
    with pytest.raises(ConnectorError, match="unencrypted"):
        CalDavCalendar(url="http://caldav.example.com/dav/", username="sam", password="x",
                       env=env)
    with pytest.raises(ConnectorError, match="https"):
        CalDavCalendar(url="ftp://caldav.example.com/dav/", username="sam", password="x",
                       env=env)
    with pytest.raises(ConnectorError, match="`password_command`"):
        CalDavCalendar(url="https://sam:secret@caldav.example.com/dav/", username="sam",
                       password="x", env=env)
    with pytest.raises(ConnectorError, match="unencrypted"):
        CalDavCalendar(url="https://caldav.example.com/dav/", username="sam", password="x",
                       env=env, calendars=("http://caldav.example.com/dav/work/",))
    CalDavCalendar(url="https://caldav.example.com/dav/", username="sam", password="x",
                   env=env)
    CalDavCalendar(url="http://[::1]:8080/dav/", username="sam", password="x", env=env)


def test_series_read_again_when_the_window_moves(radicale: Radicale, tmp_path: Path) -> None:
    user = radicale.new_user()
    user.make_calendar("work", "Work")
    user.put("work", "daily.ics", ics("daily-1", at(-1, 8), rrule="FREQ=DAILY"))
    user.put("work", "once.ics", ics("once-1", at(1, 8)))
    clock = Clock(NOW)
    calendar = source(user, tmp_path, clock, history_days=2, horizon_days=3)
    first, cursor = sync(calendar, None)
    assert len(meetings(first)) == 1 + 5  # -1 .. +3 of the daily series, and the one-off
    clock.now = NOW + timedelta(days=1)
    mark = radicale.log_size()
    changes, cursor = sync(calendar, cursor)
    new = meetings(changes)
    assert len(new) == 1 and next(iter(new.values())).start == at(4, 8)
    assert not removed(changes)  # the one that fell out of the window is not removed
    # a day on, the calendar list is fetched again (two PROPFINDs), which shows the
    # calendar's sync token unchanged; then a multiget of the series only
    assert [method for method, _ in radicale.requests(mark)] == ["PROPFIND"] * 2 + [
        "REPORT"]
    assert sync(calendar, cursor)[0] == []


def test_the_calendar_list_is_fetched_again_after_discover_minutes(
        radicale: Radicale, account: Account, tmp_path: Path) -> None:
    clock = Clock(NOW)
    calendar = source(account, tmp_path, clock, discover_minutes=60)
    _, cursor = sync(calendar, None)
    account.make_calendar("later", "Later")
    account.put("later", "d.ics", ics("d@example.com", at(2, 12)))
    clock.now = NOW + timedelta(minutes=30)
    assert sync(calendar, cursor)[0] == []
    clock.now = NOW + timedelta(minutes=61)
    mark = radicale.log_size()
    changes, cursor = sync(calendar, cursor)
    assert set(meetings(changes)) == {"d@example.com"}
    # the calendar list (whose sync tokens show Work and Personal unchanged), then the new
    # calendar's first sync-collection and multiget
    assert radicale.requests(mark) == [("PROPFIND", f"/{account.username}/")] * 2 + [
        ("REPORT", f"/{account.username}/later/")] * 2
    account.delete("work", "a.ics")
    clock.now = NOW + timedelta(minutes=200)
    changes, _ = sync(calendar, cursor)
    assert removed(changes) == {"a@example.com"} and not meetings(changes)


def test_an_object_over_the_size_limit_is_named_and_keeps_its_meetings(
        account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    _, cursor = sync(calendar, None)
    big = ics("a@example.com", at(2, 12), title="x" * 200, sequence=1)
    account.put("work", "a.ics", big)
    small = source(account, tmp_path, max_file_mb=0)
    changes, cursor = sync(small, cursor)
    notes = [c for c in changes if isinstance(c, SourceNotes)]
    # the size limit changed, so every object is read again: each is over 0 MB
    assert {n.source for n in notes} == {"a.ics", "b.ics", "c.ics"}
    assert all("over the limit of 0 MB" in n.notes[0] for n in notes)
    assert not removed(changes) and not meetings(changes)


def test_odd_names_of_calendars_and_objects(radicale: Radicale, tmp_path: Path) -> None:
    user = radicale.new_user()
    user.make_calendar("my cal", "Mon agenda é")
    user.put("my cal", "x y@example.com.ics", ics("x@example.com", at(2, 10)))
    user.put("my cal", "ünï+c%de.ics", ics("u@example.com", at(2, 11)))
    calendar = source(user, tmp_path, calendars=("Mon agenda é",))
    changes, cursor = sync(calendar, None)
    assert {m.uid: m.source for m in meetings(changes).values()} == {
        "x@example.com": "x y@example.com.ics", "u@example.com": "ünï+c%de.ics"}
    user.put("my cal", "x y@example.com.ics", ics("x@example.com", at(3, 10), sequence=1))
    user.delete("my cal", "ünï+c%de.ics")
    changes, cursor = sync(calendar, cursor)
    assert meetings(changes)["x@example.com"].start == at(3, 10)
    assert removed(changes) == {"u@example.com"}
    assert sync(calendar, cursor)[0] == []


def test_tls_is_verified_against_ca_file(radicale_tls: Radicale, tmp_path: Path) -> None:
    assert radicale_tls.base.startswith("https://") and radicale_tls.ca_file is not None
    user = radicale_tls.new_user()
    user.make_calendar("work", "Work")
    user.put("work", "a.ics", ics("a@example.com", at(2, 10)))
    trusted = source(user, tmp_path, ca_file=radicale_tls.ca_file)
    changes, cursor = sync(trusted, None)
    assert set(meetings(changes)) == {"a@example.com"}
    assert sync(trusted, cursor)[0] == []
    # the system's CAs do not know the test CA, nor does another CA
    other_ca, _, _ = make_certificates(tmp_path / "other")
    for ca_file in (None, other_ca):
        with pytest.raises(ConnectorError) as caught:
            sync(source(user, tmp_path, ca_file=ca_file), None)
        assert "could not be verified" in str(caught.value)
        assert "`ca_file`" in str(caught.value)
        assert not isinstance(caught.value, AuthError)


def test_a_server_that_is_down_or_silent_is_a_transient_error(tmp_path: Path) -> None:
    env = ConnectorEnv(timezone=ZONE, clock=Clock(NOW), data_dir=tmp_path)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does), never answers
        port = silent.getsockname()[1]
        calendar = CalDavCalendar(url=f"http://127.0.0.1:{port}/dav/", username="sam",
                                  password="x", env=env, timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(TransientError, match="cannot be reached"):
            sync(calendar, None)
        assert time.monotonic() - started < 10
    closed = CalDavCalendar(url=f"http://127.0.0.1:{port}/dav/", username="sam",
                            password="x", env=env, timeout_seconds=1)
    with pytest.raises(TransientError, match="cannot be reached"):
        sync(closed, None)


def test_what_an_object_could_not_give_is_said_then_cleared(
        radicale: Radicale, tmp_path: Path) -> None:
    user = radicale.new_user()
    user.make_calendar("work", "Work")
    good = ics("a@example.com", at(2, 10))
    odd = good.replace(b"DTSTART:", b"DTSTART;TZID=Mars/Olympus_Mons:").replace(
        b"Z\r\nDTEND", b"\r\nDTEND")
    user.put("work", "a.ics", odd)
    calendar = source(user, tmp_path)
    changes, cursor = sync(calendar, None)
    notes = [c for c in changes if isinstance(c, SourceNotes)]
    assert len(notes) == 1 and notes[0].source == "a.ics"
    assert "Mars/Olympus_Mons" in notes[0].notes[0]
    assert "a@example.com" in meetings(changes)  # read in the user's zone, and said so
    user.put("work", "a.ics", good.replace(b"SEQUENCE:0", b"SEQUENCE:1"))
    changes, cursor = sync(calendar, cursor)
    assert SourceNotes("a.ics", ()) in changes
    assert meetings(changes)["a@example.com"].start == at(2, 10)
    assert sync(calendar, cursor)[0] == []


class _Failing(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status the server was given."""

    def _answer(self) -> None:
        status, retry_after = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PROPFIND = do_REPORT = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "retry_after", "expected"), [
    (503, "120", 120.0), (429, "7", 7.0), (500, "", None), (502, "", None)])
def test_a_failing_server_is_a_transient_error(tmp_path: Path, status: int, retry_after: str,
                                               expected: float | None) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    server.answer = (status, retry_after)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = ConnectorEnv(timezone=ZONE, clock=Clock(NOW), data_dir=tmp_path)
        calendar = CalDavCalendar(url=f"http://127.0.0.1:{server.server_port}/dav/",
                                  username="sam", password="x", env=env, timeout_seconds=5)
        started = time.monotonic()
        with pytest.raises(TransientError) as caught:
            sync(calendar, None)
        assert caught.value.retry_after == expected
        assert time.monotonic() - started < 5  # the library did not sleep on it
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_object_deleted_between_listing_and_fetch_is_not_given(
        account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    work = next(c for c in calendar.calendars() if c.name == "Work")
    base = f"/{account.username}/work/"
    fetched = list(calendar._dav.fetch(work.url, [f"{base}a.ics", f"{base}gone.ics"]))
    assert [href for href, _, _ in fetched] == [f"{base}a.ics"]
    assert "UID:a@example.com" in fetched[0][2]


@pytest.mark.parametrize("sync_collection", [True, False])
def test_incremental_syncs_add_up_to_a_full_sync(radicale: Radicale, tmp_path: Path,
                                                 sync_collection: bool) -> None:
    """A bounded random run (seeded: 30 rounds of 1-3 edits) of adds, moves, cancellations,
    deletions, series with and without an override, and now and then an expired token: the
    meetings the incremental syncs leave, applied in order, are always those a full sync
    reads."""
    rng = random.Random(17 + sync_collection)
    user = radicale.new_user()
    user.make_calendar("work", "Work")
    user.make_calendar("home", "Home")
    calendar = source(user, tmp_path, sync_collection=sync_collection)
    held: dict[str, Meeting] = {}
    cursor: JSON | None = None
    objects: dict[tuple[str, str], int] = {}  # (calendar, name) -> sequence
    expired = removals = most = 0
    for round_ in range(30):
        for _ in range(rng.randint(1, 3)):
            where = rng.choice(["work", "home"])
            existing = [name for cal, name in objects if cal == where]
            if existing and rng.random() < 0.3:
                name = rng.choice(existing)
                user.delete(where, name)
                del objects[(where, name)]
                continue
            name = rng.choice(existing) if existing and rng.random() < 0.5 else \
                f"e{round_}-{rng.randrange(10**6)}.ics"
            sequence = objects.get((where, name), -1) + 1
            objects[(where, name)] = sequence
            start = at(rng.randint(-3, 20), rng.randint(8, 18))
            uid = f"{where}-{name}"
            kind = rng.random()
            if kind < 0.2:
                body = ics(uid, start, status="CANCELLED", sequence=sequence)
            elif kind < 0.4:
                second = start + timedelta(days=7)
                body = ics(uid, start, rrule="FREQ=WEEKLY;COUNT=4", sequence=sequence,
                           overrides=((second, second + timedelta(hours=2)),)
                           if rng.random() < 0.5 else ())
            else:
                body = ics(uid, start, sequence=sequence)
            user.put(where, name, body)
        if cursor is not None and sync_collection and rng.random() < 0.2:
            state = SyncState.from_json(cursor)
            for kept in state.calendars:
                kept.token = "http://radicale.org/ns/sync/" + "0" * 64
            cursor = state.to_json()
            expired += 1
        changes, cursor = sync(calendar, cursor)
        removals += len(removed(changes))
        for change in changes:
            if isinstance(change, Meeting):
                held[change.uid] = change
            elif isinstance(change, Removed):
                held.pop(change.uid, None)
        full = meetings(sync(source(user, tmp_path, sync_collection=sync_collection),
                             None)[0])
        assert held == full, f"round {round_}"
        most = max(most, len(held))
    assert most > 8 and removals > 3  # the run did what it says
    assert expired > 0 or not sync_collection


def test_a_calendar_deleted_between_discoveries_has_its_meetings_removed(
        account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    _, cursor = sync(calendar, None)
    account.delete("personal")
    changes, cursor = sync(calendar, cursor)  # the calendar list is not due again yet
    assert removed(changes) == {"c@example.com"} and not meetings(changes)
    assert [c.name for c in SyncState.from_json(cursor).calendars] == ["Work"]
    assert sync(calendar, cursor)[0] == []
    named = source(account, tmp_path, calendars=("Personal",))
    with pytest.raises(ConnectorError, match="no calendar 'Personal'"):
        sync(named, None)


def test_an_event_in_two_calendars_stays_while_one_copy_is_left(
        account: Account, tmp_path: Path) -> None:
    account.put("personal", "copy.ics", ics("a@example.com", at(2, 10), title="Copy"))
    calendar = source(account, tmp_path)
    first, cursor = sync(calendar, None)
    assert meetings(first)["a@example.com"].title == "Coffee chat #infointerview"  # work's
    account.delete("work", "a.ics")
    changes, cursor = sync(calendar, cursor)
    assert not removed(changes)
    assert meetings(changes)["a@example.com"].title == "Copy"  # the copy that is left
    account.delete("personal", "copy.ics")
    changes, cursor = sync(calendar, cursor)
    assert removed(changes) == {"a@example.com"}


class _NoSyncProxy(http.server.BaseHTTPRequestHandler):
    """Passes every request on to Radicale, but answers a sync-collection REPORT 501, as a
    server without RFC 6578 does (the calendar's sync token still shows, as some do)."""

    def _pass(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "REPORT" and b"sync-collection" in body:
            self.send_response(501)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self.server.target + self.path  # type: ignore[attr-defined]
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "accept-encoding")}
        request = urllib.request.Request(target, data=body or None, method=self.command,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data, kept = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as exc:
            status, data, kept = exc.code, exc.read(), exc.headers
        self.send_response(status)
        for key, value in kept.items():
            if key.lower() in ("content-type", "www-authenticate", "etag"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PROPFIND = do_REPORT = do_GET = _pass

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_refusing_sync_collection_is_read_by_ctag(
        radicale: Radicale, account: Account, tmp_path: Path) -> None:
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoSyncProxy)
    proxy.target = radicale.base  # type: ignore[attr-defined]
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        env = ConnectorEnv(timezone=ZONE, clock=Clock(NOW), data_dir=tmp_path)
        calendar = CalDavCalendar(
            url=f"http://127.0.0.1:{proxy.server_port}/{account.username}/",
            username=account.username, password=account.password, env=env,
            timeout_seconds=20)
        first, cursor = sync(calendar, None)
        assert set(meetings(first)) == {"a@example.com", "b@example.com", "c@example.com"}
        assert not any(kept.sync for kept in SyncState.from_json(cursor).calendars)
        mark = radicale.log_size()
        assert sync(calendar, cursor)[0] == []
        assert radicale.requests(mark) == [("PROPFIND", f"/{account.username}/personal/"),
                                           ("PROPFIND", f"/{account.username}/work/")]
        account.delete("work", "a.ics")
        changes, cursor = sync(calendar, cursor)
        assert removed(changes) == {"a@example.com"} and not meetings(changes)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=5)


def test_an_idle_cycle_does_not_read_the_object_list(account: Account, tmp_path: Path) -> None:
    calendar = source(account, tmp_path)
    _, cursor = sync(calendar, None)
    assert isinstance(cursor, dict)
    for kept in cursor["calendars"]:
        kept["objects"] = "{not json"  # were it read, the cursor would be refused
    assert sync(calendar, cursor) == ([], cursor)
    account.delete("work", "a.ics")
    with pytest.raises(CursorExpired):  # the core then reads the calendar in full
        sync(calendar, cursor)
