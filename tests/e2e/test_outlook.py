"""``coffeechat run --once`` against the fake Graph: the real command, as a subprocess, with an
Outlook account whose ``graph_root`` is the fake on 127.0.0.1 and whose token comes from a
``token_command``. The fake runs in this test process."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import KEY_HEADER
from tests.e2e.workspace import CONFIG, Workspace, coffeechat
from tests.fakes.graph import FakeGraph, Fault, as_email, make_event, running

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
ME = ("sam@example.com", "Sam Rivera")

OUTLOOK_ACCOUNT = """
[[accounts]]
name = "work"
kind = "outlook"
graph_root = "{root}"
token_command = {command}
timeout_seconds = {timeout}
"""

MEETINGS = (
    ("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org")),
    ("b1", "#infointerview Bo", NOW + timedelta(days=1, hours=1), ("Bo Chen", "bo@x.org")),
    ("c1", "Team lunch", NOW - timedelta(hours=2), ("Cy", "cy@x.org")),
)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == [], "nothing may ever ask Graph to send"


def outlook_workspace(root: Path, fake: FakeGraph, timeout: float = 5) -> Path:
    """A folder with a config holding one Outlook account pointed at ``fake``."""
    root.mkdir(parents=True, exist_ok=True)
    script = root / "print_token.py"
    script.write_text(f"print({fake.token!r})\n")
    command = json.dumps(f"{sys.executable} {script}")
    account = OUTLOOK_ACCOUNT.format(root=fake.root, command=command, timeout=timeout)
    (root / "config.toml").write_text(CONFIG.format(poll=5, accounts=account))
    return root


def run_once(root: Path) -> tuple[int, str]:
    result = coffeechat("--config", str(root / "config.toml"), "run", "--once", cwd=root,
                        timeout=120)
    return result.returncode, result.stdout + result.stderr


def put_meeting(fake: FakeGraph, uid: str, title: str, start: datetime,
                contact: tuple[str, str], categories: tuple[str, ...] = ()) -> None:
    fake.put_event(make_event(uid, title, start, start + timedelta(minutes=30),
                              organizer=ME, is_organizer=True,
                              attendees=[(contact[1], contact[0], "accepted")],
                              categories=categories))


def outlook_drafts(fake: FakeGraph) -> dict[str, tuple[str, list[str], str, str]]:
    """Drafts in the fake's Drafts folder: key -> (kind, recipients, subject, body)."""
    found: dict[str, tuple[str, list[str], str, str]] = {}
    for item in fake.messages():
        message = as_email(item)
        key = str(message[KEY_HEADER])
        assert key not in found, f"two drafts carry the key {key}"
        found[key] = (key.split("/")[-2], [a.addr_spec for a in message["To"].addresses],
                      str(message["Subject"]), message.get_content().strip())
    return found


def test_same_drafts_as_local_second_run_adds_nothing(tmp_path: Path, fake: FakeGraph) -> None:
    local = Workspace.create(tmp_path / "local")
    for uid, title, start, contact in MEETINGS:
        local.add_event(uid, title, start, contact)
        put_meeting(fake, uid, title, start, contact)
    assert local.run("run", "--once").returncode == 0
    expected = {}
    for message in local.drafts():
        key = str(message[KEY_HEADER])
        expected[key] = (key.split("/")[-2], [a.addr_spec for a in message["To"].addresses],
                         str(message["Subject"]), message.get_content().strip())
    assert sorted(expected) == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]

    root = outlook_workspace(tmp_path / "outlook", fake)
    code, output = run_once(root)
    assert code == 0, output
    assert outlook_drafts(fake) == expected

    before = len(fake.requests)
    code, output = run_once(root)
    assert code == 0, output
    idle = fake.requests[before:]
    assert outlook_drafts(fake) == expected
    assert [r.method for r in idle] == ["GET"], [(r.method, r.path) for r in idle]
    assert "$deltatoken" in idle[0].query
    print(f"\nrequests per idle cycle: {len(idle)}")
    assert all(r.headers.get("authorization") == f"Bearer {fake.token}" for r in fake.requests)


def test_expired_delta_is_recovered_without_redrafting(tmp_path: Path, fake: FakeGraph) -> None:
    root = outlook_workspace(tmp_path / "w", fake)
    put_meeting(fake, "a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    assert run_once(root)[0] == 0
    assert sorted(outlook_drafts(fake)) == ["a1/thank_you/ana@x.org"]

    fake.expire_delta()
    put_meeting(fake, "d1", "Info interview with Dee", NOW - timedelta(hours=3),
                ("Dee", "dee@x.org"))
    before = len(fake.requests)
    code, output = run_once(root)
    assert code == 0, output
    assert sorted(outlook_drafts(fake)) == ["a1/thank_you/ana@x.org", "d1/thank_you/dee@x.org"]
    deltas = [r for r in fake.requests[before:] if r.path == "/me/calendarView/delta"]
    assert deltas[0].status == 410
    assert "startDateTime" in deltas[1].query, "a fresh full sync follows the expired link"



def test_a_new_category_reads_the_calendar_in_full_once(tmp_path: Path,
                                                        fake: FakeGraph) -> None:
    root = outlook_workspace(tmp_path / "w", fake)
    config = root / "config.toml"
    put_meeting(fake, "a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    put_meeting(fake, "b1", "Lunch with Bo", NOW - timedelta(hours=3), ("Bo", "bo@x.org"),
                categories=("Mentoring",))
    assert run_once(root)[0] == 0
    assert sorted(outlook_drafts(fake)) == ["a1/thank_you/ana@x.org"]
    config.write_text(config.read_text() + '[tagging]\ncategories = ["Mentoring"]\n')
    before = len(fake.requests)
    code, output = run_once(root)
    assert code == 0, output
    deltas = [r for r in fake.requests[before:] if r.path == "/me/calendarView/delta"]
    assert "$deltatoken" not in deltas[0].query and "startDateTime" in deltas[0].query
    assert "reading it again in full" in output
    assert sorted(outlook_drafts(fake)) == ["a1/thank_you/ana@x.org", "b1/thank_you/bo@x.org"]
    assert len(fake.requested("POST", "/me/messages")) == 2
    before = len(fake.requests)
    assert run_once(root)[0] == 0
    deltas = [r for r in fake.requests[before:] if r.path == "/me/calendarView/delta"]
    assert deltas and all("$deltatoken" in r.query for r in deltas)
    assert len(fake.messages()) == 2

def test_throttled_and_flaky_run_still_drafts_each_once(tmp_path: Path,
                                                        fake: FakeGraph) -> None:
    root = outlook_workspace(tmp_path / "w", fake, timeout=1)
    for uid, title, start, contact in MEETINGS:
        put_meeting(fake, uid, title, start, contact)
    fake.inject(
        Fault("throttle", "GET", "/calendarView/delta", retry_after=1),
        Fault("unavailable", "GET", "/calendarView/delta", retry_after=0),
        Fault("throttle", "POST", "/me/messages", retry_after=0),
        Fault("slow", "POST", "/me/messages", delay=1.6),  # carried out, answered too late
        Fault("drop_after", "POST", "/me/messages"),        # carried out, never answered
    )
    code, output = run_once(root)
    assert code == 0, output
    assert sorted(outlook_drafts(fake)) == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]
    faults = [r.fault for r in fake.requests if r.fault]
    assert sorted(faults) == ["drop_after", "slow", "throttle", "throttle", "unavailable"]
    assert len(fake.requested("POST", "/me/messages")) == 3, "no blind re-send after a timeout"
    assert len(fake.requested("GET", "/mailFolders/drafts/messages")) >= 2
    assert run_once(root)[0] == 0
    assert len(fake.messages()) == 2


def test_outlook_category_tags_a_meeting_without_keyword(tmp_path: Path,
                                                         fake: FakeGraph) -> None:
    root = outlook_workspace(tmp_path / "w", fake)
    put_meeting(fake, "e1", "Lunch with Eva", NOW - timedelta(hours=2), ("Eva", "eva@x.org"),
                categories=("Informational Interview",))
    put_meeting(fake, "f1", "Lunch with Fay", NOW - timedelta(hours=2), ("Fay", "fay@x.org"),
                categories=("Personal",))
    code, output = run_once(root)
    assert code == 0, output
    assert sorted(outlook_drafts(fake)) == ["e1/thank_you/eva@x.org"]


def test_a_refused_token_fails_the_account_with_the_command_to_run(tmp_path: Path,
                                                                    fake: FakeGraph) -> None:
    root = outlook_workspace(tmp_path / "w", fake)
    fake.token = "another-token"
    code, output = run_once(root)
    assert code != 0
    assert "coffeechat auth outlook --account work" in output
    assert "Traceback" not in output


def test_a_failing_outlook_account_does_not_stop_a_local_one(tmp_path: Path,
                                                             fake: FakeGraph) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"))
    outlook = outlook_workspace(tmp_path / "o", fake)
    block = (outlook / "config.toml").read_text().split("[[accounts]]", 1)[1]
    ws.config.write_text(ws.config.read_text() + "\n[[accounts]]" + block)
    fake.inject(*[Fault("unavailable", retry_after=0)] * 5)
    result = ws.run("run", "--once")
    assert result.returncode != 0
    assert "work" in result.stdout + result.stderr
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]
    assert "Traceback" not in result.stderr
