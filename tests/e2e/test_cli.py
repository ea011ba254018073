"""The coffeechat command end to end, as a subprocess on temporary folders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import KEY_HEADER
from tests.e2e.workspace import Workspace, coffeechat

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC)


def test_demo_drafts_each_kind_once_and_then_nothing(tmp_path: Path) -> None:
    first = coffeechat("demo", "--workspace", "ws", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Drafted 4 email(s)" in first.stdout
    assert "The thank-you in full" in first.stdout
    drafts_dir = tmp_path / "ws" / "Maildir" / "Drafts"
    ws = Workspace(tmp_path / "ws")
    files = sorted((drafts_dir / "cur").iterdir())
    assert len(files) == 4 and all(f.name.endswith(":2,D") for f in files)
    by_kind = {str(m[KEY_HEADER]).split("/")[-2]: m for m in ws.drafts_in(drafts_dir)}
    assert set(by_kind) == {"confirmation", "thank_you", "follow_up", "catch_up"}
    expected_to = {"confirmation": "priya.natarajan@example.org",
                   "thank_you": "marcus.lee@example.net",
                   "follow_up": "dana.okafor@example.com", "catch_up": "elena@example.io"}
    for kind, message in by_kind.items():
        assert [a.addr_spec for a in message["To"].addresses] == [expected_to[kind]]
        assert message["From"].addresses[0].addr_spec == "sam@example.com"
        assert str(message["Subject"]).strip()
        assert message.get_content_type() == "text/plain"
    assert "portfolio" in by_kind["thank_you"].get_content()  # the user's "Promised:" note
    assert "the meeting was cancelled" in first.stdout.lower()
    second = coffeechat("demo", "--workspace", "ws", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Nothing new to draft" in second.stdout
    assert len(list((drafts_dir / "cur").iterdir())) == 4
    assert ws.run("plan").returncode == 0


def test_two_runs_make_no_duplicates_and_exit_0(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"))
    ws.add_event("b1", "#infointerview Bo", NOW + timedelta(days=1, hours=1),
                 ("Bo Chen", "bo@x.org"))
    ws.add_event("c1", "Team lunch", NOW - timedelta(hours=2), ("Cy", "cy@x.org"))
    first = ws.run("run", "--once")
    assert first.returncode == 0, first.stderr
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]
    second = ws.run("run", "--once")
    assert second.returncode == 0, second.stderr
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org", "b1/confirmation/bo@x.org"]


def test_config_with_three_mistakes_exits_2_listing_all(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    text = ws.config.read_text().replace("America/Chicago", "Chicago")
    text = text.replace("poll_minutes = 5", "poll_minutes = 0")
    text = text.replace('kind = "local"', 'kind = "local"\ncalendr = "oops"')
    ws.config.write_text(text)
    result = ws.run("run", "--once")
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    for key in ("me.timezone", "service.poll_minutes", "accounts[0].calendr"):
        assert key in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_ics_is_named_and_skipped(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("good", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    (ws.root / "personal-calendar" / "broken.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:notadate\r\n\xff\xfe garbage")
    result = ws.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "broken.ics" in result.stderr
    assert ws.draft_keys() == ["good/thank_you/ana@x.org"]
    # where the user looks: status (text and JSON) and doctor name the skipped file
    status = ws.run("status", check=True).stdout
    assert "not all of its calendar was read" in status and "broken.ics" in status
    [entry] = json.loads(ws.run("status", "--json", check=True).stdout)["not_read"]
    assert entry["account"] == "personal"
    assert [s["source"] for s in entry["sources"]] == ["broken.ics"]
    assert entry["sources"][0]["notes"]
    doctor = ws.run("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert any(line.startswith("WARN") and "broken.ics" in line
               for line in doctor.stdout.splitlines())
    # once the file is fixed, nothing is left to say
    (ws.root / "personal-calendar" / "broken.ics").unlink()
    assert ws.run("run", "--once").returncode == 0
    assert json.loads(ws.run("status", "--json", check=True).stdout)["not_read"] == []


def test_a_new_keyword_enrolls_meetings_synced_before(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    base = ws.config.read_text()
    ws.config.write_text(base + '[tagging]\nkeywords = ["#career"]\n')
    ws.add_event("a1", "#career chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    ws.add_event("b1", "Mentor call with Bo", NOW - timedelta(hours=3), ("Bo", "bo@x.org"))
    assert ws.run("run", "--once").returncode == 0
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]
    ws.config.write_text(base + '[tagging]\nkeywords = ["#career", "mentor call"]\n')
    second = ws.run("run", "--once")
    assert second.returncode == 0, second.stderr
    assert "reading it again in full" in second.stderr
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org", "b1/thank_you/bo@x.org"]
    third = ws.run("run", "--once")
    assert third.returncode == 0 and "reading it again" not in third.stderr
    assert len(ws.drafts()) == 2


def test_a_failing_account_exits_1_and_the_others_still_draft(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w", accounts=("personal", "work"))
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    (ws.root / "work-calendar").rmdir()
    result = ws.run("run", "--once")
    assert result.returncode == 1
    assert "work" in result.stderr and "work-calendar" in result.stderr
    assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]


def test_status_plan_contacts_and_contact_stop(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"))
    ws.add_event("n1", "Coffee chat (no one yet)", NOW + timedelta(days=3), None)
    ws.add_event("z1", "Info interview with Zed", NOW + timedelta(days=10), ("Zed", "zed@x.org"))
    assert ws.run("run", "--once").returncode == 0
    status = json.loads(ws.run("status", "--json", check=True).stdout)
    assert [d["key"] for d in status["drafts"]] == ["a1/thank_you/ana@x.org"]
    assert status["drafts"][0]["state"] == "created" and status["drafts"][0]["created"]
    assert status["accounts"][0]["name"] == "personal" and status["accounts"][0]["ok"]
    assert [a["meeting"] for a in status["needs_attention"]] == ["n1"]
    contacts = {c["email"]: c for c in status["contacts"]}
    assert contacts["zed@x.org"]["next_draft"]["kind"] == "confirmation"
    assert any(s["recipient"] == "ana@x.org" and s["kind"] == "confirmation"
               and "already" in s["reason"] for s in status["skipped"])
    text = ws.run("status", check=True).stdout
    assert "Needs your attention" in text and "Not drafted: 1" in text
    plan = json.loads(ws.run("plan", "--json", check=True).stdout)
    assert "zed@x.org" in {u["recipient"] for u in plan["upcoming"]}
    stopped = ws.run("contact", "stop", "ZED@x.org")
    assert stopped.returncode == 0, stopped.stderr
    plan = json.loads(ws.run("plan", "--json", check=True).stdout)
    assert "zed@x.org" not in {u["recipient"] for u in plan["upcoming"]}
    assert any(s["recipient"] == "zed@x.org" and "stopped" in s["reason"]
               for s in plan["skipped"])
    assert "stopped" in ws.run("contacts", check=True).stdout
    assert ws.run("contact", "resume", "zed@x.org").returncode == 0
    plan = json.loads(ws.run("plan", "--json", check=True).stdout)
    assert "zed@x.org" in {u["recipient"] for u in plan["upcoming"]}
    unknown = ws.run("contact", "pause", "nobody@x.org")
    assert unknown.returncode == 1 and "coffeechat contacts" in unknown.stderr


def test_status_names_what_the_calendar_could_not_give(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana Li", "ana@x.org"))
    assert ws.run("run", "--once").returncode == 0
    text = ws.run("status", check=True).stdout
    assert "not all of its calendar" not in text and "Not read in full" not in text
    store_notes(ws)
    text = ws.run("status", check=True).stdout
    assert "ok, but not all of its calendar was read (below)" in text
    section = text.split("Not read in full", 1)[1]
    assert "personal  big.ics: 2.1 GB is over the 50 MB limit; the file was skipped" in section
    assert "personal  rule.ics: 'Weekly': UNTL= is not a rule part" in section
    assert "personal  rule.ics: the event 'Chat' was skipped" in section
    status = json.loads(ws.run("status", "--json", check=True).stdout)
    assert status["not_read"] == [{"account": "personal", "more": False, "sources": [
        {"source": "big.ics", "notes": ["2.1 GB is over the 50 MB limit; the file was skipped"]},
        {"source": "rule.ics", "notes": ["'Weekly': UNTL= is not a rule part",
                                         "the event 'Chat' was skipped"]}]}]
    assert status["accounts"][0]["ok"] is True


def store_notes(ws: Workspace) -> None:
    """Keep in the state what a cycle keeps when a calendar says files were skipped."""
    from daemon.core.skipped import Skipped
    from daemon.state.store import Store

    store = Store(ws.root / "state.json", writable=True)
    store.set_skipped("personal", Skipped(
        said={"big.ics": ("2.1 GB is over the 50 MB limit; the file was skipped",),
              "rule.ics": ("'Weekly': UNTL= is not a rule part",)},
        refused={"rule.ics": ("the event 'Chat' was skipped",)}))
    store.flush()


def test_preview_renders_without_writing(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    sample = ws.run("preview", "thank_you")
    assert sample.returncode == 0, sample.stderr
    assert "To: Alex Morgan <alex.morgan@example.com>" in sample.stdout
    assert not (ws.root / "state.json").exists()
    ws.add_event("a1", "Coffee chat with Ana", NOW + timedelta(days=4), ("Ana Li", "ana@x.org"))
    assert ws.run("run", "--once").returncode == 0
    found = ws.run("preview", "confirmation", "ana")
    assert found.returncode == 0 and "ana@x.org" in found.stdout
    missing = ws.run("preview", "confirmation", "nobody")
    assert missing.returncode == 1 and "coffeechat plan" in missing.stderr


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    config = tmp_path / "c" / "config.toml"
    made = coffeechat("--config", str(config), "init", "--email", "me@x.org", cwd=tmp_path)
    assert made.returncode == 0 and config.exists()
    assert coffeechat("--config", str(config), "plan", cwd=tmp_path).returncode == 0
    again = coffeechat("--config", str(config), "init", cwd=tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr


def test_the_service_refuses_a_second_run_and_stops_on_sigterm(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", NOW - timedelta(hours=2), ("Ana", "ana@x.org"))
    service = ws.popen("run")
    try:
        deadline = time.monotonic() + 60
        while not ws.draft_keys() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ws.draft_keys() == ["a1/thank_you/ana@x.org"]
        second = ws.run("run", "--once")
        assert second.returncode == 1 and "already using" in second.stderr
        status = json.loads(ws.run("status", "--json", check=True).stdout)
        assert status["next_cycle"] is not None  # the service says when it comes back
        assert [(a["name"], a["ok"]) for a in status["accounts"]] == [("personal", True)]
        service.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert service.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()


def test_python_m_daemon_and_help(tmp_path: Path) -> None:
    result = coffeechat("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "init", "run", "status", "plan", "preview", "contacts", "contact"):
        assert command in result.stdout
    script = Path(sys.executable).parent / "coffeechat"
    assert script.exists()
    assert subprocess.run([str(script), "--help"], capture_output=True,
                          check=False).returncode == 0


def test_help_imports_no_provider_sdk_or_heavy_library(tmp_path: Path) -> None:
    script = ("import sys\nfrom daemon.app.cli import main\nsys.argv = ['coffeechat', '--help']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    loaded = set(result.stdout.split())
    heavy = {"googleapiclient", "google", "msal", "requests", "pydantic", "jinja2",
             "icalendar", "recurring_ical_events", "tinydb", "schedule"}
    assert loaded & heavy == set()
