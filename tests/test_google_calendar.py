"""GoogleCalendar against the fake: paging, sync tokens, 410, faults, request counts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorEnv, collect
from connectors.google import open_account
from connectors.google.calendar import GoogleCalendar
from daemon.core.errors import AuthError, ConfigError, ConnectorError, CursorExpired, TransientError
from daemon.core.model import Change, Meeting, Removed
from tests.accounts import checked
from tests.fakes.google import FakeGoogle, Fault, _ok, _Reply, event_json, fast_session, running

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with running(page_size=2) as server:
        yield server


def env(tmp_path: Path) -> ConnectorEnv:
    return ConnectorEnv(timezone=ZONE, clock=lambda: NOW, data_dir=tmp_path)


def calendar(fake: FakeGoogle, tmp_path: Path, sleeps: list[float] | None = None,
             timeout: float = 10.0, **kwargs: object) -> GoogleCalendar:
    """The calendar on the fake; the timeout is far above any reply on a loaded machine (a
    test of the fake's ``slow`` fault passes a short one)."""
    return GoogleCalendar(fast_session(fake, sleeps=sleeps, timeout=timeout,
                                       clock=lambda: NOW),
                          env(tmp_path), **{"calendar_id": "primary", "history_days": 400,
                                            **kwargs})  # type: ignore[arg-type]


def add(fake: FakeGoogle, n: int, prefix: str = "e") -> None:
    for i in range(n):
        start = NOW + timedelta(days=1, hours=i)
        fake.put_event(event_json(f"{prefix}{i}", f"{prefix}{i}@example.com", f"Event {i}",
                                  start, start + timedelta(minutes=30)))


def uids(changes: Sequence[Change]) -> set[str]:
    return {c.uid for c in changes if isinstance(c, Meeting)}


def test_full_sync_pages_to_the_sync_token_then_syncs_incrementally(
        fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 5)
    source = calendar(fake, tmp_path, history_days=30)
    changes, cursor = collect(source.changes(None))
    assert uids(changes) == {f"e{i}@example.com" for i in range(5)}
    lists = fake.calls("GET", "/calendar/v3/calendars/primary/events")
    assert len(lists) == 3
    first = lists[0].query
    assert first["singleEvents"] == ["true"] and first["showDeleted"] == ["true"]
    assert first["maxResults"] == ["2500"]
    assert datetime.fromisoformat(first["timeMin"][0]) == NOW - timedelta(days=30)
    assert [("pageToken" in r.query) for r in lists] == [False, True, True]
    assert cursor["sync_token"] and cursor["calendar_id"] == "primary"

    fake.put_event(event_json("e1", "e1@example.com", "Moved", NOW, NOW + timedelta(hours=1)))
    fake.delete_event("e2")
    changes, cursor = collect(source.changes(cursor))
    latest = fake.calls("GET", "/events")[-1].query
    assert "syncToken" in latest and "timeMin" not in latest
    assert uids(changes) == {"e1@example.com"}
    assert [c for c in changes if isinstance(c, Removed)] == [Removed(provider_id="e2")]


def test_an_idle_cycle_makes_one_request(fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 3)
    source = calendar(fake, tmp_path)
    _, cursor = collect(source.changes(None))
    before = len(fake.requests)
    changes, _ = collect(source.changes(cursor))
    idle = len(fake.requests) - before
    print(f"\nrequests for an idle cycle: {idle}")
    assert changes == [] and idle == 1


def test_first_sync_of_2000_events_takes_one_request(tmp_path: Path) -> None:
    server = FakeGoogle(page_size=2500).start()
    try:
        add(server, 2000)
        changes, _ = collect(calendar(server, tmp_path).changes(None))
        first_sync = len(server.requests)
        print(f"\nrequests for a first sync of 2,000 events: {first_sync}")
        assert len(changes) == 2000 and first_sync == 1
        # Were Google to cap pages at its default 250, it would take ceil(2000/250) = 8.
        server.page_size = 250
        before = len(server.requests)
        changes, _ = collect(calendar(server, tmp_path).changes(None))
        capped = len(server.requests) - before
        print(f"requests with pages capped at 250: {capped}")
        assert len(changes) == 2000 and capped == 8
    finally:
        server.stop()


def test_an_empty_page_with_a_page_token_is_followed(fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 1)
    fake.empty_first_page = True
    changes, cursor = collect(calendar(fake, tmp_path).changes(None))
    assert uids(changes) == {"e0@example.com"} and cursor["sync_token"]


def test_an_expired_sync_token_raises_cursor_expired_and_a_full_sync_recovers(
        fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 3)
    source = calendar(fake, tmp_path)
    _, cursor = collect(source.changes(None))
    fake.delete_event("e0", keep_uid=True)
    fake.expire_sync_tokens()
    with pytest.raises(CursorExpired):
        collect(source.changes(cursor))
    changes, _ = collect(source.changes(None))
    assert uids(changes) == {"e1@example.com", "e2@example.com"}
    assert Removed(uid="e0@example.com", provider_id="e0") in changes


def test_a_cursor_of_another_calendar_is_expired(fake: FakeGoogle, tmp_path: Path) -> None:
    source = calendar(fake, tmp_path)
    with pytest.raises(CursorExpired):
        collect(source.changes({"version": 1, "calendar_id": "other", "sync_token": "sync-1"}))
    with pytest.raises(CursorExpired):
        collect(source.changes({"something": "else"}))
    assert fake.requests == []


@pytest.mark.parametrize("kind", ["429", "403-rate", "500", "503", "drop", "slow"])
def test_a_passing_fault_is_retried(kind: str, fake: FakeGoogle, tmp_path: Path) -> None:
    fake.slow_seconds = 0.7
    add(fake, 3)
    fake.script(Fault(kind, retry_after="1"))  # type: ignore[arg-type]
    sleeps: list[float] = []
    source = calendar(fake, tmp_path, sleeps=sleeps, timeout=0.5 if kind == "slow" else 10.0)
    changes, _ = collect(source.changes(None))
    assert len(uids(changes)) == 3
    assert len(sleeps) == 1
    if kind in ("429", "403-rate"):
        assert sleeps == [1.0], "Retry-After is honoured"


def test_retry_after_as_a_date_is_honoured(fake: FakeGoogle, tmp_path: Path) -> None:
    fake.script(Fault("429", retry_after="Wed, 04 Mar 2026 08:30:07 GMT"))
    sleeps: list[float] = []
    collect(calendar(fake, tmp_path, sleeps=sleeps).changes(None))
    assert sleeps == [7.0]


def test_random_faults_still_give_the_whole_calendar(fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 12)
    fake.random_faults(0.4, ("429", "500", "drop"), limit=8, seed=3)
    sleeps: list[float] = []
    source = GoogleCalendar(fast_session(fake, sleeps=sleeps, attempts=10), env(tmp_path),
                            calendar_id="primary", history_days=400)
    changes, _ = collect(source.changes(None))
    assert len(uids(changes)) == 12
    assert 1 <= len(sleeps) <= 8


def test_retries_give_up_with_a_transient_error(fake: FakeGoogle, tmp_path: Path) -> None:
    fake.script(*[Fault("500")] * 5)
    with pytest.raises(TransientError, match="the next cycle will try again"):
        collect(calendar(fake, tmp_path).changes(None))
    assert len(fake.calls()) == 5


def test_a_forbidden_calendar_says_what_to_check(fake: FakeGoogle, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="calendar_id") as caught:
        collect(calendar(fake, tmp_path, calendar_id="nobody@example.com").changes(None))
    assert not isinstance(caught.value, TransientError)


def test_a_rejected_token_is_an_auth_error(fake: FakeGoogle, tmp_path: Path) -> None:
    fake.access_tokens = {"good"}
    with pytest.raises(AuthError, match="token_command"):
        collect(calendar(fake, tmp_path).changes(None))


def test_tagging_options_reach_the_meetings(fake: FakeGoogle, tmp_path: Path) -> None:
    fake.put_event(event_json("c1", "c1@x", "Lunch", NOW, NOW + timedelta(hours=1),
                              colorId="7"))
    changes, _ = collect(calendar(fake, tmp_path, color_id="7").changes(None))
    assert [c.provider_tagged for c in changes if isinstance(c, Meeting)] == [True]


def test_opening_does_no_io_and_no_network_is_transient(tmp_path: Path) -> None:
    ran: list[str] = []
    options = checked("google", "gmail", api_root="http://127.0.0.1:9/", token_command="false",
                      timeout_seconds=0.5)
    account = open_account("gmail", options, env(tmp_path))
    assert ran == [] and not (tmp_path / "tokens").exists()
    account.calendar.session.sleep = lambda seconds: None  # type: ignore[attr-defined]

    def run(command: str, name: str) -> str:
        ran.append(command)
        return "token"

    account.calendar.session.source._run = run  # type: ignore[attr-defined]
    with pytest.raises(TransientError, match="could not reach Google"):
        collect(account.calendar.changes(None))
    assert ran == ["false"], "the token command runs once per opened account"


def test_a_stored_account_without_sign_in_names_the_command(tmp_path: Path) -> None:
    account = open_account("work", checked("google", "work", api_root="http://127.0.0.1:9/",
                                           client_secrets="/config/client.json"), env(tmp_path))
    with pytest.raises(AuthError, match="coffeechat auth google --account work"):
        collect(account.calendar.changes(None))


def test_bad_options_are_reported() -> None:
    with pytest.raises(ConfigError, match="timeout_seconds"):
        checked("google", "g", timeout_seconds=0, token_command="x")


class LoopingFake(FakeGoogle):
    """A broken server: every page says there is another, with the same token."""

    def _list_events(self, calendar_id: str, query: dict[str, list[str]]) -> _Reply:
        return _ok({"items": [], "nextPageToken": "same"})


def test_a_listing_that_loops_is_refused(tmp_path: Path) -> None:
    server = LoopingFake().start()
    try:
        with pytest.raises(ConnectorError, match="without a sync token"):
            collect(calendar(server, tmp_path).changes(None))
        assert len(server.requests) == 2
    finally:
        server.stop()


def test_changes_are_streamed_a_page_at_a_time(fake: FakeGoogle, tmp_path: Path) -> None:
    add(fake, 5)
    stream = calendar(fake, tmp_path, history_days=30).changes(None)
    lists = "/calendar/v3/calendars/primary/events"
    first, second = next(stream), next(stream)
    assert len(fake.calls("GET", lists)) == 1, "the second page is read only when needed"
    rest, cursor = collect(stream)
    assert uids([first, second, *rest]) == {f"e{i}@example.com" for i in range(5)}
    assert len(fake.calls("GET", lists)) == 3 and cursor["sync_token"]
