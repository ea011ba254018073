"""A ``kind = "caldav"`` account end to end: the real ``coffeechat`` command, a real Radicale
as the CalDAV calendar and a real TLS Dovecot (trusted through ``ca_file``) as the IMAP
Drafts, found by SPECIAL-USE under its localised name.

A tagged meeting that ended two hours ago gets its thank-you in Drafts, once: a second run
writes nothing, and a draft the user then edits on the server is left byte for byte.
``doctor`` logs in to both servers and says what to fix: a wrong app password, a Drafts
folder that is not there, a server that marks none as ``\\Drafts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.workspace import CONFIG, Workspace, event_ics
from tests.servers.dovecot import DRAFTS, PASSWORD, Dovecot, dovecot
from tests.servers.radicale import Account, Radicale
from tests.servers.radicale import radicale as radicale  # the fixture
from tests.test_caldav_imap import edit_on_server

pytestmark = pytest.mark.slow
KEY = "b1/thank_you/bo@x.org"

ACCOUNT = """
[[accounts]]
name = "icloud"
kind = "caldav"
caldav_url = "{caldav_url}"
calendars = ["Work"]
imap_host = "127.0.0.1"
imap_port = {imap_port}
username = "{username}"
password_command = "printf '%s\\\\n' {password}"
drafts_folder = "{drafts_folder}"
ca_file = "{ca_file}"
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


def drafts_with_key(server: Dovecot, user: str) -> dict[int, bytes]:
    return {uid: data for uid, (_flags, data) in server.messages(user).items()
            if f"X-Coffeechat-Key: {KEY}".encode() in data}


def workspace(root: Path, server: Dovecot, calendar_user: Account, *,
              password: str = PASSWORD, drafts_folder: str = "") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root)
    ws.config.write_text(CONFIG.format(poll=5, accounts=ACCOUNT.format(
        caldav_url=calendar_user.url, imap_port=server.tls_port,
        username=calendar_user.username, password=password, ca_file=server.ca_file,
        drafts_folder=drafts_folder)))
    return ws


def test_doctor_checks_both_servers_and_says_what_to_fix(
        tmp_path: Path, server: Dovecot, radicale: Radicale) -> None:
    calendar_user = radicale.new_user(password=PASSWORD)
    calendar_user.make_calendar("work", "Work")
    result = workspace(tmp_path / "ok", server, calendar_user).run("doctor")
    assert result.returncode == 0, result.stdout
    assert "ok    account icloud" in result.stdout

    result = workspace(tmp_path / "wrong", server, calendar_user, password="old-one").run(
        "doctor")
    assert result.returncode == 1
    out = result.stdout
    assert "FAIL  account icloud" in out and "refused the user name" in out
    assert "password_command" in out and "coffeechat auth" not in out
    assert "fix: fix `username`, or the app password `password_command` prints" in out
    assert "old-one" not in out

    result = workspace(tmp_path / "folder", server, calendar_user,
                       drafts_folder="Brouillons").run("doctor")
    assert result.returncode == 1
    assert "FAIL  account icloud" in result.stdout and "drafts_folder" in result.stdout


def test_doctor_says_to_name_the_drafts_folder_when_none_is_marked(
        tmp_path: Path, radicale: Radicale) -> None:
    calendar_user = radicale.new_user(password=PASSWORD)
    calendar_user.make_calendar("work", "Work")
    with dovecot(drafts_marked=False) as unmarked:
        result = workspace(tmp_path, unmarked, calendar_user).run("doctor")
    assert result.returncode == 1
    assert "marks no folder as \\Drafts" in result.stdout
    assert "set `drafts_folder`" in result.stdout and DRAFTS in result.stdout


def test_a_caldav_account_drafts_a_thank_you_once_and_keeps_an_edit(
        tmp_path: Path, server: Dovecot, radicale: Radicale) -> None:
    calendar_user = radicale.new_user(password=PASSWORD)
    calendar_user.make_calendar("work", "Work")
    calendar_user.make_calendar("home", "Personal")
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=120)
    calendar_user.put("work", "b1.ics", event_ics("b1", "#infointerview Bo", ended,
                                                  ("Bo Chen", "bo@x.org")).encode())
    calendar_user.put("home", "p1.ics", event_ics("p1", "#infointerview Pat", ended,
                                                  ("Pat Lee", "pat@x.org")).encode())
    ws = workspace(tmp_path, server, calendar_user)

    done = ws.run("run", "--once")
    assert done.returncode == 0, done.stderr
    [(uid, data)] = drafts_with_key(server, calendar_user.username).items()
    assert b"To: Bo Chen <bo@x.org>" in data
    assert len(server.messages(calendar_user.username)) == 1  # not Pat: another calendar
    [shown] = json.loads(ws.run("status", "--json", check=True).stdout)["drafts"]
    assert shown["key"] == KEY

    done = ws.run("run", "--once")
    assert done.returncode == 0, done.stderr
    assert drafts_with_key(server, calendar_user.username) == {uid: data}

    edited = edit_on_server(server, calendar_user.username, uid)
    calendar_user.put("work", "b1.ics", event_ics("b1", "#infointerview Bo", ended,
                                                  ("Bo Chen", "bo@x.org"),
                                                  description="moved rooms").encode())
    done = ws.run("run", "--once")
    assert done.returncode == 0, done.stderr
    assert list(drafts_with_key(server, calendar_user.username).values()) == [edited]
    assert server.messages(calendar_user.username, DRAFTS)
