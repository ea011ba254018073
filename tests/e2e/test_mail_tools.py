"""coffeechat's Maildir Drafts synced to a real IMAP server by the real sync tools (issue 14).

A private Dovecot on 127.0.0.1 (one per module, a mailbox per test) and mbsync or offlineimap,
each with its own config, push the local account's Drafts Maildir to the server; coffeechat is
the real command (``run --once``, ``status --json``). The server is read with imaplib.

What the sync tools do (seen here with Dovecot): mbsync renames each draft, adding ``,U=N``, and
adds an ``X-TUID`` header line to each copy it makes (the server's, and a local one it pulls);
offlineimap gives the draft a new name of its own; both use CRLF on the server and LF in the
Maildir. An edit on the server comes back as a new file, and the old one removed. neomutt's
postpone is reproduced as its source does it (``maildir_msg_open_new``, then the commit):
the message is written into ``tmp/`` and moved into ``new/`` without flags, and the recalled
draft's file is deleted; aerc's maildir worker appends the same way (go-maildir's delivery).
A client that keeps the ``D`` flag (``cur/``, ``:2,D``) is tried too.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import KEY_HEADER
from connectors.local.maildir import normalised
from daemon.app.service import cycle_once
from daemon.settings.config import load
from tests.e2e.mailtools import Server, Syncer, dovecot, syncer
from tests.e2e.workspace import Workspace

pytestmark = pytest.mark.slow
ZONE = ZoneInfo("America/Chicago")  # the workspace config's zone
TOOLS = ("mbsync", "offlineimap")
KEY = "b1/confirmation/bo@x.org"
MOVED = "the meeting moved after you edited this draft"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with dovecot() as running:
        yield running


class Setup:
    """A workspace whose Drafts a sync tool keeps in step with the test's own mailbox."""

    def __init__(self, root: Path, server: Server, tool: str) -> None:
        self.ws = Workspace.create(root / "w")
        self.server = server.as_user(f"{tool}-{root.name}")
        self.drafts = self.ws.root / "personal-mail" / "Drafts"
        self.sync: Syncer = syncer(tool, self.server, self.drafts.parent, root / tool)
        self.start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1,
                                                                                    hours=1)

    def meeting(self, start: datetime) -> None:
        self.ws.add_event("b1", "#infointerview Bo", start, ("Bo Chen", "bo@x.org"))

    def run(self) -> None:
        done = self.ws.run("run", "--once")
        assert done.returncode == 0, done.stderr

    def status(self) -> dict[str, object]:
        [draft] = json.loads(self.ws.run("status", "--json", check=True).stdout)["drafts"]
        assert isinstance(draft, dict)
        return draft

    def files(self) -> list[Path]:
        return sorted(p for sub in ("new", "cur") for p in (self.drafts / sub).iterdir())

    def on_server(self) -> list[bytes]:
        """The server's drafts carrying the key (every one must: nothing else is there)."""
        found = list(self.server.messages().values())
        assert all(parse(m)[KEY_HEADER] == KEY for m in found), found
        return found


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(data: bytes) -> str:
    part = parse(data).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def clock(start: datetime) -> str:
    """The meeting's time of day as the confirmation says it: ``10:00 AM``."""
    return start.astimezone(ZONE).strftime("%I:%M %p").lstrip("0")


@pytest.mark.parametrize("tool", TOOLS)
def test_a_moved_meeting_ends_with_one_draft_on_the_server_with_the_new_time(
        tmp_path: Path, server: Server, tool: str) -> None:
    s = Setup(tmp_path, server, tool)
    s.meeting(s.start)
    s.run()
    [written] = s.files()
    data = written.read_bytes()
    s.sync.sync()
    [renamed] = s.files()
    assert renamed.name != written.name  # the sync tool renamed it
    assert renamed.read_bytes() == data
    [first] = s.on_server()
    assert clock(s.start) in body(first)
    s.run()  # nothing changed: the renamed draft is still ours, untouched, and not made again
    assert s.files() == [renamed]
    assert s.status()["observed"] == "untouched"

    later = s.start + timedelta(hours=2)
    s.meeting(later)
    s.run()
    [rewritten] = s.files()
    data = rewritten.read_bytes()
    assert rewritten != renamed and clock(later) in body(data)
    s.sync.sync()
    [moved] = s.on_server()  # exactly one: the old message is gone from the server too
    assert clock(later) in body(moved) and clock(s.start) not in body(moved)
    assert normalised(moved) == data
    s.run()
    s.sync.sync()
    assert len(s.on_server()) == 1 and len(s.files()) == 1
    shown = s.status()
    assert (shown["observed"], shown["flag"]) == ("untouched", None)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_synced_draft_looked_at_a_day_later_is_untouched_not_sent_or_deleted(
        tmp_path: Path, server: Server, tool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Setup(tmp_path, server, tool)
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    s.ws.add_event("a1", "Coffee chat with Ana", ended, ("Ana Li", "ana@x.org"))
    s.run()  # a thank-you
    s.sync.sync()
    [renamed] = s.files()
    # Each draft is looked at once a day: the next look, a day later, in-process with that
    # clock (the command runs on the real one).
    monkeypatch.setenv("XDG_DATA_HOME", str(s.ws.root / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(s.ws.root / "xdg-config"))
    day_later = datetime.now(UTC) + timedelta(hours=25)
    assert cycle_once(load(s.ws.config), clock=lambda: day_later).ok
    [shown] = json.loads(s.ws.run("status", "--json", check=True).stdout)["drafts"]
    assert shown["key"] == "a1/thank_you/ana@x.org"
    assert (shown["observed"], shown["observed_at"] is not None) == ("untouched", True)
    assert "sent or deleted" not in s.ws.run("status", check=True).stdout
    assert s.files() == [renamed]
    s.sync.sync()
    assert len(s.server.messages()) == 1


@pytest.mark.parametrize("tool", TOOLS)
def test_an_edit_on_the_server_is_edited_and_kept_byte_for_byte(
        tmp_path: Path, server: Server, tool: str) -> None:
    s = Setup(tmp_path, server, tool)
    s.meeting(s.start)
    s.run()
    s.sync.sync()
    [(uid, first)] = s.server.messages().items()
    edited = first.replace(b"\r\n\r\n", b"\r\nX-Edited-By: a client\r\n\r\nBo - one more "
                           b"thing: I'll bring the notes.\r\n\r\n", 1)
    s.server.replace(uid, edited)  # APPEND the new message, EXPUNGE the old one
    s.sync.sync()
    [local] = s.files()
    pulled = local.read_bytes()
    assert normalised(pulled) == normalised(edited)

    s.meeting(s.start + timedelta(hours=2))
    s.run()
    shown = s.status()
    assert (shown["observed"], shown["flag"]) == ("edited", MOVED)
    s.sync.sync()
    assert s.on_server() == [edited]
    assert s.files() == [local] and local.read_bytes() == pulled


REWRITES = {
    # mutt's and neomutt's maildir_open_new_message, then the commit: an unread message goes
    # to new/, without flags; aerc's maildir worker (AppendMessage: go-maildir's NewDelivery)
    # does the same.
    "neomutt": ("new", ""),
    # a client that keeps the Draft flag on the file it writes (newer aerc appends with flags)
    "flagged": ("cur", ":2,D"),
}


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_a_draft_rewritten_the_way_mail_clients_postpone_is_edited_and_kept(
        tmp_path: Path, server: Server, tool: str, rewrite: str) -> None:
    s = Setup(tmp_path, server, tool)
    s.meeting(s.start)
    s.run()
    s.sync.sync()
    [recalled] = s.files()
    rewritten = recalled.read_bytes().replace(
        b"\n\n", b"\nUser-Agent: NeoMutt/20220429\n\nSee you then!\n\n", 1)
    staged = s.drafts / "tmp" / "1796240000.4242_1.host"
    staged.write_bytes(rewritten)
    where, flags = REWRITES[rewrite]
    staged.rename(s.drafts / where / f"1796240000.4242_1.host{flags}")
    recalled.unlink()  # the recalled draft's file goes
    s.sync.sync()
    [on_server] = s.on_server()
    assert normalised(on_server) == rewritten

    s.meeting(s.start + timedelta(hours=2))
    s.run()
    shown = s.status()
    assert (shown["observed"], shown["flag"]) == ("edited", MOVED)
    s.sync.sync()
    assert s.on_server() == [on_server]
    [kept] = s.files()
    assert kept.read_bytes() == rewritten
