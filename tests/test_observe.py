"""Watching drafts: edits and deletions are noticed at most once a day, never acted on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from daemon.app import views
from daemon.core.model import Plan
from daemon.cycle.health import Health
from daemon.state.store import Store
from tests.test_cycle import NOW, Harness, meeting


def test_edited_and_deleted_drafts_are_noticed_once_a_day(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    calendar, drafts = h.world.account("personal")
    calendar.put(meeting("m1", NOW - timedelta(hours=2), contact="a@x.org"))
    calendar.put(meeting("m2", NOW - timedelta(hours=2), contact="b@x.org"))
    made = h.cycle().drafted
    ids = {r.contact: r.ref.id for r in made if r.ref}
    drafts.messages[ids["a@x.org"]] += b"\nmy own words\n"  # the user edits one
    del drafts.messages[ids["b@x.org"]]  # and sends the other
    h.now = NOW + timedelta(hours=3)
    h.cycle()
    assert drafts.gets == 0  # not a day yet: no look, no request
    h.now = NOW + timedelta(days=1, minutes=1)
    h.cycle()
    assert drafts.gets == 2
    seen = {r.contact: r.observed for r in Store(h.settings.state_path).drafts().values()}
    assert seen == {"a@x.org": "edited", "b@x.org": "gone"}
    assert len(drafts.messages) == 1  # nothing was touched
    h.now = NOW + timedelta(days=2, minutes=2)
    h.cycle()
    assert drafts.gets == 3  # the sent one is not looked at again; the edited one is

    text = views.status_text(Health(), [], Store(h.settings.state_path).drafts(),
                             Plan((), (), ()), h.settings.timezone, now=h.now)
    assert "Drafts you took over: 2" in text
    assert "a@x.org: you edited it; coffeechat leaves it alone" in text
    assert "b@x.org: sent or deleted" in text
