"""``coffeechat doctor``: each check, with a fix for what fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_cli import store_notes
from tests.e2e.workspace import Workspace

pytestmark = pytest.mark.slow


def test_a_healthy_setup_passes_every_check(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.add_event("a1", "Coffee chat with Ana", datetime.now(UTC) - timedelta(hours=2),
                 ("Ana", "ana@x.org"))
    assert ws.run("run", "--once").returncode == 0
    result = ws.run("doctor")
    assert result.returncode == 0, result.stdout
    for name in ("config", "time zone", "state file", "template thank_you",
                 "account personal"):
        assert f"ok    {name}" in result.stdout
    assert "America/Chicago" in result.stdout
    assert "checks passed" in result.stdout


def test_files_the_last_cycle_could_not_read_are_a_warning_with_its_fix(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w", accounts=("personal", "work"))
    assert ws.run("run", "--once").returncode == 0
    store_notes(ws)
    result = ws.run("doctor")
    assert result.returncode == 0, result.stdout
    out = result.stdout
    [warning] = [line for line in out.splitlines() if line.startswith("WARN")]
    label, rest = warning.split(" calendar personal ")
    assert label == "WARN " and rest.strip() == (
        "the last cycle could not read all of it: 2 file(s) or event(s): big.ics, rule.ics")
    assert "fix: `coffeechat status` says what is wrong with each" in out
    assert "calendar work" not in out
    assert "ok    account personal" in out and "ok    account work" in out
    assert "checks passed, 1 warning(s)" in out


def test_each_problem_is_reported_with_its_fix(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w", accounts=("personal", "work"))
    assert ws.run("run", "--once").returncode == 0
    (ws.root / "state.json").chmod(0o644)
    (ws.root / "templates").mkdir()
    (ws.root / "templates" / "follow_up.txt").write_text("Subject: Hi\n\n{% if %}\n")
    (ws.root / "work-calendar").rmdir()
    result = ws.run("doctor")
    assert result.returncode == 1
    out = result.stdout
    assert f"fix: chmod 600 {ws.root / 'state.json'}" in out
    assert "FAIL  template follow_up" in out and "follow_up.txt, line 3" in out
    assert "FAIL  account work" in out and "work-calendar" in out
    assert "ok    account personal" in out
    assert "3 failed" in out


def test_a_broken_config_is_a_failed_check(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.config.write_text(ws.config.read_text().replace("America/Chicago", "Nowhere/Zone"))
    result = ws.run("doctor")
    assert result.returncode == 2  # a config error, as `run` gives
    assert "FAIL  config" in result.stdout and "me.timezone" in result.stdout
    assert f"fix: edit {ws.config}" in result.stdout
    assert ws.run("run", "--once").returncode == 2


def test_a_missing_config_says_coffeechat_init(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    ws.config.unlink()
    result = ws.run("doctor")
    assert result.returncode == 2
    assert "FAIL  config" in result.stdout and "fix: coffeechat init" in result.stdout


def test_a_local_account_missing_its_folders_says_so_and_tells_both(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w")
    (ws.root / "personal-calendar").rmdir()
    (ws.root / "personal-mail").write_text("a file where the Maildir should be")
    result = ws.run("doctor")
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("FAIL  account personal")]
    assert "personal-calendar does not exist" in line and "personal-mail" in line
    assert "fix: make the folders named above" in result.stdout
    assert "network" not in result.stdout


def test_doctor_says_what_reply_detection_can_do(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w", accounts=("personal", "work"))
    mail = ws.root / "Mail"
    for folder in ("INBOX", "Sent"):
        for sub in ("cur", "new", "tmp"):
            (mail / folder / sub).mkdir(parents=True)
    text = ws.config.read_text()
    head, _, rest = text.partition('name = "work"')
    ws.config.write_text(head + 'name = "work"\nreply_detection = true\nmail = "Mail"\n' + rest)
    result = ws.run("doctor")
    assert result.returncode == 0, result.stdout
    assert "ok    replies personal" in result.stdout and "reply detection off" in result.stdout
    assert "ok    replies work" in result.stdout
    assert "a Maildir has no conversation ids" in result.stdout
    (mail / "INBOX").rename(mail / "inbox-moved")
    (mail / "Sent").rename(mail / "sent-moved")
    for folder in ("inbox-moved", "sent-moved"):
        for sub in ("cur", "new", "tmp"):
            (mail / folder / sub).rmdir()
        (mail / folder).rmdir()
    failed = ws.run("doctor")
    assert failed.returncode == 1
    assert "FAIL  replies work" in failed.stdout and "mail" in failed.stdout
