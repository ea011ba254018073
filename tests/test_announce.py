"""``coffeechat announce``: a note with the user's news to every active contact, capped,
previewed, and exactly once per contact and message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.app.announce import prepare, preview, write
from daemon.core.errors import CoffeechatError
from daemon.core.keys import news_key
from daemon.core.model import ContactPrefs
from daemon.state.store import Store
from tests.e2e.workspace import Workspace
from tests.test_reconcile import NOW, Harness, meeting

NEWS = "I start at the city archive on Monday, as a records analyst."


def people(tmp_path: Path) -> Harness:
    """Three contacts met in tagged meetings (one cancelled) and one the user stopped."""
    h = Harness(tmp_path)
    for n, who in enumerate(("ana", "bo", "cy", "di")):
        m = meeting(NOW - timedelta(days=40 + n))
        contact = replace(m.attendees[1], email=f"{who}@example.org")
        h.calendar.put(replace(m, uid=f"m-{who}", attendees=(m.attendees[0], contact),
                               cancelled=who == "cy"))
    h.cycle()
    store = Store(h.settings.state_path, writable=True)
    store.put_prefs(ContactPrefs("di@example.org", "stopped"))
    store.flush()
    return h




def test_only_active_contacts_get_a_note_most_recent_first(tmp_path: Path) -> None:
    h = people(tmp_path)
    found = prepare(h.settings, Store(h.settings.state_path), NEWS, 10, NOW)
    assert [s.contact.email for s in found.specs] == ["ana@example.org", "bo@example.org"]
    assert all(s.kind == "news" and s.message == NEWS for s in found.specs)
    assert found.already == () and found.left_out == ()


def test_the_limit_leaves_the_rest_for_the_next_run(tmp_path: Path) -> None:
    h = people(tmp_path)
    first = write(h.settings, NEWS, 1, h.world.opener, lambda: NOW)
    assert [r.contact for r in first.made] == ["ana@example.org"]
    found = prepare(h.settings, Store(h.settings.state_path), NEWS, 1, NOW)
    assert found.already == ("ana@example.org",)
    assert [s.contact.email for s in found.specs] == ["bo@example.org"]
    second = write(h.settings, NEWS, 1, h.world.opener, lambda: NOW)
    assert [r.contact for r in second.made] == ["bo@example.org"]
    third = write(h.settings, NEWS, 5, h.world.opener, lambda: NOW)
    assert third.made == []
    written = h.box.keys()  # the X-Coffeechat-Key of every draft
    news = [k for k in written if k.startswith("news/")]
    assert sorted(news) == sorted(news_key(NEWS, e) for e in ("ana@example.org",
                                                             "bo@example.org"))


def test_the_message_is_data_in_the_news_template(tmp_path: Path) -> None:
    h = people(tmp_path)
    tricky = "Big news {{ 7*7 }} and {% if true %}x{% endif %}\nBcc: all@example.org"
    spec = prepare(h.settings, Store(h.settings.state_path), tricky, 10, NOW).specs[0]
    head, body = preview(h.settings, Store(h.settings.state_path), spec, NOW).split("\n\n", 1)
    assert "{{ 7*7 }}" in body and "49" not in body and "{% if true %}x{% endif %}" in body
    assert "Bcc" not in head and "Bcc: all@example.org" in body


def test_an_empty_message_is_refused(tmp_path: Path) -> None:
    h = people(tmp_path)
    with pytest.raises(CoffeechatError, match="empty"):
        prepare(h.settings, Store(h.settings.state_path), "   ", 10, NOW)


def test_the_command_previews_then_writes_once(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    ws.add_event("m1", "Coffee chat with Ana", datetime.now(UTC) - timedelta(days=50),
                 ("Ana Li", "ana@example.org"))
    assert ws.run("run", "--once").returncode == 0
    before = len(ws.draft_keys())
    dry = ws.run("announce", "--message", NEWS, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 note(s) to write" in dry.stdout and NEWS in dry.stdout
    assert "Dry run: nothing was written." in dry.stdout
    assert len(ws.draft_keys()) == before
    refused = ws.run("announce", "--message", NEWS)  # no terminal, no --yes
    assert refused.returncode != 0 and "--yes" in refused.stderr
    done = ws.run("announce", "--message", NEWS, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Wrote 1 draft(s)." in done.stdout
    again = ws.run("announce", "--message", NEWS, "--yes")
    assert "already have this note" in again.stdout
    keys = ws.draft_keys()
    assert len([k for k in keys if k.startswith("news/")]) == 1
