"""Whole cycles of the core over the CalDAV calendar on a real Radicale (drafts in memory):
an expired sync token and a token-less full sync draft nothing twice, and an event deleted
meanwhile cancels its meeting (its untouched confirmation leaves Drafts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import Account, ConnectorEnv
from connectors.caldav.calendar import CalDavCalendar
from connectors.caldav.cursor import SyncState
from daemon.cycle.run import CycleReport, run_cycle
from daemon.mail.templates import Renderer
from daemon.state.store import Store
from tests.memory import MemoryDrafts, memory_settings
from tests.servers.radicale import Radicale
from tests.servers.radicale import radicale as radicale  # the fixture
from tests.test_caldav_calendar import ics

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 17, 11, 0, tzinfo=CHICAGO)  # a Tuesday, in working hours


class World:
    def __init__(self, radicale: Radicale, tmp_path: Path) -> None:
        self.settings = memory_settings(tmp_path)
        self.user = radicale.new_user()
        self.user.make_calendar("work", "Work")
        self.box = MemoryDrafts()
        self.now = NOW
        env = ConnectorEnv(timezone=CHICAGO, clock=lambda: self.now, data_dir=tmp_path)
        self.calendar = CalDavCalendar(url=self.user.url, username=self.user.username,
                                       password=self.user.password, env=env,
                                       account="personal", timeout_seconds=20)

    def opener(self, name: str, kind: str, options: Mapping[str, Any],
               env: ConnectorEnv) -> Account:
        return Account(name=name, calendar=self.calendar, drafts=self.box)

    def store(self) -> Store:
        return Store(self.settings.state_path, writable=True)

    def cycle(self) -> CycleReport:
        env = ConnectorEnv(timezone=CHICAGO, clock=lambda: self.now,
                           data_dir=self.settings.state_path.parent)
        return run_cycle(self.settings, self.store(), env,
                         Renderer(self.settings.templates_dir), self.opener)

    def expire_token(self) -> None:
        store = self.store()
        state = SyncState.from_json(store.cursor("personal"))
        for calendar in state.calendars:
            assert calendar.token
            calendar.token = "http://radicale.org/ns/sync/" + "0" * 64
        store.set_cursor("personal", state.to_json(), store.cursor_tagging("personal") or "")
        store.flush()

    def keys(self) -> list[str]:
        return sorted(str(self.box.parse(ident)["X-Coffeechat-Key"])
                      for ident in self.box.messages)


def test_an_expired_token_drafts_nothing_twice_and_a_deletion_cancels(
        radicale: Radicale, tmp_path: Path) -> None:
    world = World(radicale, tmp_path)
    world.user.put("work", "past.ics", ics("past@example.com",
                                           (NOW - timedelta(hours=2)).astimezone(UTC)))
    world.user.put("work", "soon.ics", ics("soon@example.com",
                                           (NOW + timedelta(days=2)).astimezone(UTC)))
    first = world.cycle()
    assert first.ok
    assert world.keys() == ["past@example.com/thank_you/dana@example.org",
                            "soon@example.com/confirmation/dana@example.org"]

    assert world.cycle().drafted == []  # an idle cycle
    world.expire_token()
    world.user.delete("work", "soon.ics")
    world.now = NOW + timedelta(minutes=10)
    report = world.cycle()
    assert report.ok and report.drafted == []
    assert world.keys() == ["past@example.com/thank_you/dana@example.org"]
    assert len(world.box.messages) == 1

    # a full sync (the tagging rules changed, say) gives the same meetings: nothing new
    store = world.store()
    store.set_cursor("personal", None, "")
    store.flush()
    report = world.cycle()
    assert report.ok and report.drafted == []
    assert len(world.box.messages) == 1
