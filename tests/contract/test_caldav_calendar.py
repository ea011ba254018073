"""The calendar contract suite run against the CalDAV connector, reading a real Radicale on
127.0.0.1 (see :mod:`tests.servers.radicale`): one calendar object per event."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import CalendarSource, ConnectorEnv
from connectors.caldav.calendar import CalDavCalendar
from tests.servers.radicale import Account, Radicale
from tests.servers.radicale import radicale as radicale  # the fixture

from . import test_local
from .calendar_contract import CalendarContract
from .events import CalendarWorld, EventSpec, safe_name

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=ZONE)


class CalDavWorld(CalendarWorld):
    """A Radicale user with one calendar, "Work"; each event is an object of its own."""

    def __init__(self, account: Account, data_dir: Path, now: datetime) -> None:
        super().__init__(now)
        self.account = account
        account.make_calendar("work", "Work")
        self._source = CalDavCalendar(
            url=account.url, username=account.username, password=account.password,
            env=ConnectorEnv(timezone=ZONE, clock=lambda: now, data_dir=data_dir),
            account="radicale", timeout_seconds=20)

    @property
    def source(self) -> CalendarSource:
        return self._source

    def put(self, event: EventSpec) -> None:
        self.account.put("work", f"{safe_name(event.uid)}.ics", test_local.ics_for(event))

    def remove(self, uid: str) -> None:
        self.account.delete("work", f"{safe_name(uid)}.ics")


class TestCalDavCalendar(CalendarContract):
    @pytest.fixture
    def world(self, radicale: Radicale, tmp_path: Path) -> CalendarWorld:
        return CalDavWorld(radicale.new_user(), tmp_path, NOW)
