"""``coffeechat`` end to end with a Google account: the real command as a subprocess, talking
over loopback to the fake Google API running in this test process."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from connectors.base import KEY_HEADER
from tests.e2e.workspace import CONFIG, Workspace, coffeechat
from tests.fakes.google import FakeGoogle, Fault, event_json, running

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(microsecond=0)
ME = {"email": "sam@example.com", "displayName": "Sam Rivera"}

GOOGLE_ACCOUNT = """
[[accounts]]
name = "gmail"
kind = "google"
calendar_id = "primary"
api_root = "{root}"
token_command = '{command}'
timeout_seconds = 2
"""

EVENTS: list[tuple[str, str, datetime, tuple[str, str] | None, str]] = [
    ("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"),
     "She suggested the archives course.\nPromised: send my portfolio."),
    ("b1", "#infointerview Bo", NOW + timedelta(days=1, hours=1), ("Bo Chen", "bo@x.org"), ""),
    ("c1", "Team lunch", NOW - timedelta(hours=2), ("Cy", "cy@x.org"), ""),
]


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with running(page_size=2) as server:
        yield server


def google_event(uid: str, title: str, start: datetime, contact: tuple[str, str] | None,
                 description: str = "", minutes: int = 30, **extra: Any) -> dict[str, Any]:
    """The Google form of what ``workspace.event_ics`` writes for the local connector."""
    attendees = [] if contact is None else [
        {"email": contact[1], "displayName": contact[0], "responseStatus": "accepted"}]
    fields: dict[str, Any] = {"organizer": dict(ME), "attendees": attendees}
    if description:
        fields["description"] = description
    fields.update(extra)
    return event_json(f"ev{uid}", uid, title, start, start + timedelta(minutes=minutes),
                      **fields)


def google_workspace(root: Path, fake: FakeGoogle) -> Path:
    root.mkdir(parents=True)
    command = f"{shlex.quote(sys.executable)} -c \"print(20260304)\""
    block = GOOGLE_ACCOUNT.format(root=fake.api_root, command=command)
    config = root / "config.toml"
    config.write_text(CONFIG.format(poll=5, accounts=block))
    return config


def run(config: Path, *args: str) -> Any:
    return coffeechat("--config", str(config), *args, cwd=config.parent, timeout=60)


def stored(fake: FakeGoogle) -> list[EmailMessage]:
    return [fake.draft_message(draft_id) for draft_id in fake.drafts]


def summary(messages: list[EmailMessage]) -> list[tuple[str, str, str, str, str]]:
    """(key, kind, recipients, subject, body) of each draft, sorted by key."""
    rows = []
    for m in messages:
        key = str(m[KEY_HEADER])
        body = m.get_body(("plain",))
        assert body is not None
        rows.append((key, key.split("/")[-2], ",".join(a.addr_spec for a in m["To"].addresses),
                     str(m["Subject"]), body.get_content()))
    return sorted(rows)


def no_send(fake: FakeGoogle) -> None:
    assert fake.send_requests() == []
    assert not [r for r in fake.calls() if "send" in r.path or "upload" in r.path]


def test_same_drafts_as_local_and_a_second_run_adds_nothing(tmp_path: Path,
                                                             fake: FakeGoogle) -> None:
    local = Workspace.create(tmp_path / "local")
    for uid, title, start, contact, description in EVENTS:
        local.add_event(uid, title, start, contact, description=description)
        fake.put_event(google_event(uid, title, start, contact, description))
    assert local.run("run", "--once").returncode == 0
    config = google_workspace(tmp_path / "google", fake)

    first = run(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    google_rows, local_rows = summary(stored(fake)), summary(local.drafts())
    assert [r[0] for r in google_rows] == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]
    assert google_rows == local_rows

    second = run(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    assert summary(stored(fake)) == google_rows
    assert len(fake.calls("POST", "/drafts")) == 2

    status = run(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    shown = {d["key"]: d["draft_id"] for d in _drafts_in(json.loads(status.stdout))}
    by_key = {str(fake.draft_message(i)[KEY_HEADER]): i for i in fake.drafts}
    assert shown == by_key
    no_send(fake)


def _drafts_in(status: dict[str, Any]) -> list[dict[str, Any]]:
    drafts = status.get("drafts")
    assert isinstance(drafts, list), sorted(status)
    return drafts


def test_an_expired_sync_token_is_recovered_without_drafting_again(tmp_path: Path,
                                                                    fake: FakeGoogle) -> None:
    for uid, title, start, contact, description in EVENTS[:2]:
        fake.put_event(google_event(uid, title, start, contact, description))
    config = google_workspace(tmp_path / "g", fake)
    assert run(config, "run", "--once").returncode == 0
    assert len(fake.drafts) == 2
    fake.expire_sync_tokens()
    fake.put_event(google_event("d1", "Coffee chat with Di", NOW - timedelta(hours=3),
                                ("Di Ng", "di@x.org")))
    fake.delete_event("evb1")
    before = len(fake.calls("GET", "/events"))
    second = run(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    lists = fake.calls("GET", "/events")[before:]
    assert "syncToken" in lists[0].query, "the stored token was tried first"
    assert "timeMin" in lists[1].query and "syncToken" not in lists[1].query, "then a full sync"
    keys = sorted(str(m[KEY_HEADER]) for m in stored(fake))
    # b1 was deleted: its untouched confirmation is withdrawn from Drafts
    assert keys == ["a1/thank_you/ana@x.org", "d1/thank_you/di@x.org"]
    status = json.loads(run(config, "status", "--json").stdout)
    reasons = [s["reason"] for s in status["skipped"] if s["meeting"] == "b1"]
    assert reasons and all("the meeting was cancelled" in r for r in reasons)
    no_send(fake)



@pytest.mark.parametrize("change", ["keyword", "color_id"])
def test_a_tagging_change_reads_the_calendar_in_full_once(tmp_path: Path, fake: FakeGoogle,
                                                          change: str) -> None:
    fake.put_event(google_event("a1", "#career chat with Ana", NOW - timedelta(hours=2),
                                ("Ana Li", "ana@x.org")))
    fake.put_event(google_event("b1", "Mentor call with Bo", NOW - timedelta(hours=3),
                                ("Bo Chen", "bo@x.org"), colorId="5"))
    config = google_workspace(tmp_path / "g", fake)
    base = config.read_text()
    config.write_text(base + '[tagging]\nkeywords = ["#career"]\n')
    assert run(config, "run", "--once").returncode == 0
    assert [str(m[KEY_HEADER]) for m in stored(fake)] == ["a1/thank_you/ana@x.org"]
    if change == "keyword":
        config.write_text(base + '[tagging]\nkeywords = ["#career", "mentor call"]\n')
    else:
        config.write_text(base.replace("timeout_seconds = 2", 'timeout_seconds = 2\n'
                                       'color_id = "5"') + '[tagging]\nkeywords = ["#career"]\n')
    before = len(fake.calls("GET", "/events"))
    second = run(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    lists = fake.calls("GET", "/events")[before:]
    assert "syncToken" not in lists[0].query and "timeMin" in lists[0].query
    assert "reading it again in full" in second.stderr
    keys = sorted(str(m[KEY_HEADER]) for m in stored(fake))
    assert keys == ["a1/thank_you/ana@x.org", "b1/thank_you/bo@x.org"]
    assert len(fake.calls("POST", "/drafts")) == 2
    before = len(fake.calls("GET", "/events"))
    assert run(config, "run", "--once").returncode == 0
    assert all("syncToken" in r.query for r in fake.calls("GET", "/events")[before:])
    assert len(fake.calls("POST", "/drafts")) == 2
    no_send(fake)

def test_a_rate_limited_run_still_drafts_each_once(tmp_path: Path, fake: FakeGoogle) -> None:
    for uid, title, start, contact, description in EVENTS:
        fake.put_event(google_event(uid, title, start, contact, description))
    fake.script(Fault("429", retry_after="1", path="/events"),
                Fault("403-rate", retry_after="0", path="/drafts"),
                Fault("503", retry_after="0", path="/drafts", method="POST"),
                Fault("drop-after", path="/drafts", method="POST"))
    config = google_workspace(tmp_path / "g", fake)
    first = run(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert not fake.faults, "every scripted fault was met"
    again = run(config, "run", "--once")
    assert again.returncode == 0, again.stderr
    keys = [str(m[KEY_HEADER]) for m in stored(fake)]
    assert sorted(keys) == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]
    no_send(fake)


def test_a_bcc_line_in_a_title_adds_no_header(tmp_path: Path, fake: FakeGoogle) -> None:
    fake.put_event(google_event("x1", "Coffee chat with Eve\r\nBcc: someone@evil.example",
                                NOW - timedelta(hours=2), ("Eve Ko", "eve@x.org"),
                                "line one\r\nBcc: other@evil.example"))
    config = google_workspace(tmp_path / "g", fake)
    result = run(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(fake.drafts) == 1
    raw = fake.draft_raw(next(iter(fake.drafts)))
    header_block = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    assert b"\nbcc:" not in header_block.lower().replace(b"\r\n", b"\n")
    message = stored(fake)[0]
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["eve@x.org"]


def test_a_revoked_grant_names_the_command_and_other_accounts_go_on(tmp_path: Path,
                                                                    fake: FakeGoogle) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "personal-calendar").mkdir()
    (root / "personal-calendar" / "a1.ics").write_text(_ics("a1", "Coffee chat with Ana"))
    block = GOOGLE_ACCOUNT.replace("token_command = '{command}'\n",
                                   'client_secrets = "client_secret.json"\n')
    local = ('\n[[accounts]]\nname = "personal"\nkind = "local"\n'
             'calendar = "personal-calendar/"\ndrafts = "personal-mail/Drafts"\n')
    (root / "config.toml").write_text(CONFIG.format(
        poll=5, accounts=block.format(root=fake.api_root) + local))
    token = root / "xdg-data" / "coffeechat" / "tokens" / "gmail.json"
    token.parent.mkdir(parents=True)
    token.write_text(json.dumps({
        "token": "old", "refresh_token": "revoked", "token_uri": fake.token_uri,
        "client_id": "cid", "client_secret": "secret", "expiry": "2000-01-01T00:00:00Z",
        "scopes": ["https://www.googleapis.com/auth/gmail.compose"]}))
    result = run(root / "config.toml", "run", "--once")
    assert result.returncode != 0
    assert "coffeechat auth google --account gmail" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert Workspace(root).draft_keys("personal") == ["a1/thank_you/ana@x.org"]
    assert [r.path for r in fake.calls()] == ["/token"]
    status = json.loads(run(root / "config.toml", "status", "--json").stdout)
    health = {a["name"]: a for a in status["accounts"]}
    assert health["gmail"]["needs_auth"] is True and health["personal"]["ok"] is True


def _ics(uid: str, title: str) -> str:
    from tests.e2e.workspace import event_ics

    return event_ics(uid, title, NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"))
