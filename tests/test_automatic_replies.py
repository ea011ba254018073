"""An out-of-office reply is not an answer, through whole cycles and each real mail reader: the
Maildir reader on files, the Gmail reader on the fake Gmail, the Graph reader on the fake Graph.
After a catch-up, an automatic reply from the contact neither resets the catch-up clock nor
lifts the pause for want of an answer; a real reply does both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from connectors.base import MailHistory
from connectors.google.history import GmailHistory
from connectors.local.history import MaildirHistory
from connectors.outlook.history import GraphHistory
from daemon.state.store import Store
from tests.contract.mail_contract import ME, Headers
from tests.contract.test_google import mime
from tests.contract.test_local import drop, mail_bytes
from tests.contract.test_outlook import client_for
from tests.fakes import google, graph
from tests.test_replies import ANA, NOW, Harness, meeting

OUT_OF_OFFICE: Headers = (("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes"))


class Mailbox(Protocol):
    """The user's real mailbox, as one reader sees it."""

    history: MailHistory

    def receive(self, at: datetime, subject: str, message_id: str,
                headers: Headers = ()) -> None: ...

    def send(self, at: datetime, subject: str, message_id: str) -> None: ...


class Maildir:
    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in ("INBOX", "Sent"):
            for part in ("cur", "new", "tmp"):
                (root / folder / part).mkdir(parents=True)
        self.history: MailHistory = MaildirHistory(root, [ME], account="personal")

    def receive(self, at: datetime, subject: str, message_id: str,
                headers: Headers = ()) -> None:
        drop(self.root / "INBOX", mail_bytes(f"Ana Li <{ANA}>", [ME], at, subject, message_id,
                                             headers=headers), at)

    def send(self, at: datetime, subject: str, message_id: str) -> None:
        drop(self.root / "Sent", mail_bytes(f"Sam Rivera <{ME}>", [ANA], at, subject,
                                            message_id), at)


class Gmail:
    def __init__(self, server: google.FakeGoogle) -> None:
        self.server = server
        server.me = (ME,)
        self.history: MailHistory = GmailHistory(google.fast_session(server))

    def receive(self, at: datetime, subject: str, message_id: str,
                headers: Headers = ()) -> None:
        self.server.put_message(mime(f"Ana Li <{ANA}>", ME, subject, message_id, at,
                                     headers=headers), at, ("INBOX", "UNREAD"))

    def send(self, at: datetime, subject: str, message_id: str) -> None:
        self.server.put_message(mime(f"Sam Rivera <{ME}>", ANA, subject, message_id, at), at,
                                ("SENT",))


class Outlook:
    def __init__(self, server: graph.FakeGraph) -> None:
        self.server = server
        self.history: MailHistory = GraphHistory(client_for(server))

    def receive(self, at: datetime, subject: str, message_id: str,
                headers: Headers = ()) -> None:
        self.server.put_mail("inbox", sender=ANA, to=[ME], subject=subject,
                             message_id=message_id, at=at, headers=headers)

    def send(self, at: datetime, subject: str, message_id: str) -> None:
        self.server.put_mail("sentitems", to=[ANA], subject=subject, message_id=message_id,
                             at=at)


@pytest.fixture(params=["maildir", "gmail", "graph"])
def mailbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mailbox]:
    if request.param == "maildir":
        yield Maildir(tmp_path / "Mail")
    elif request.param == "gmail":
        with google.running() as server:
            yield Gmail(server)
            assert server.send_requests() == []
    else:
        with graph.running() as server:
            yield Outlook(server)
            assert server.send_requests() == []


def reading(tmp_path: Path, mailbox: Mailbox) -> Harness:
    """Reply detection on, through ``mailbox``'s reader, for a meeting 200 days ago."""
    h = Harness(tmp_path)
    h.world.mail["personal"] = mailbox.history
    h.calendar.put(meeting("m1", NOW - timedelta(days=200)))
    return h


def send_drafts(h: Harness, mailbox: Mailbox) -> None:
    """The user sends every draft: it leaves Drafts and shows in Sent."""
    for ident in list(h.box.messages):
        message = h.box.parse(ident)
        mailbox.send(h.now, str(message["Subject"]), str(message["Message-ID"]))
        del h.box.messages[ident]


@pytest.mark.parametrize(("answer", "writes_again"), [(OUT_OF_OFFICE, True), ((), False)],
                         ids=["out-of-office", "real reply"])
def test_only_a_real_reply_resets_the_catch_up_clock(tmp_path: Path, mailbox: Mailbox,
                                                    answer: Headers,
                                                    writes_again: bool) -> None:
    h = reading(tmp_path, mailbox)
    assert h.kinds(h.cycle()) == ["catch_up"]
    send_drafts(h, mailbox)
    h.now += timedelta(days=1)
    h.cycle()  # the catch-up is gone from Drafts: sent
    mailbox.receive(h.now + timedelta(days=9), "Re: Catching up", "<ana-10@example.org>",
                    headers=answer)
    h.now += timedelta(days=90)  # 91 days after the catch-up, 81 after the answer
    assert h.kinds(h.cycle()) == (["catch_up"] if writes_again else [])


def test_an_out_of_office_reply_does_not_lift_the_pause(tmp_path: Path,
                                                        mailbox: Mailbox) -> None:
    h = reading(tmp_path, mailbox)
    for _ in range(2):
        assert h.kinds(h.cycle()) == ["catch_up"]
        send_drafts(h, mailbox)
        h.now += timedelta(days=1)
        h.cycle()
        h.now += timedelta(days=90)
    assert h.kinds(h.cycle()) == []
    assert Store(h.settings.state_path).prefs()[ANA].status == "paused"

    mailbox.receive(h.now + timedelta(hours=1), "Automatic reply: Catching up",
                    "<ana-oof@example.org>", headers=OUT_OF_OFFICE)
    h.now += timedelta(days=1, hours=2)
    h.cycle()
    assert Store(h.settings.state_path).prefs()[ANA].status == "paused"

    mailbox.receive(h.now + timedelta(hours=1), "Re: Catching up", "<ana-back@example.org>")
    h.now += timedelta(days=1, hours=2)
    h.cycle()
    assert Store(h.settings.state_path).prefs()[ANA].status == "active"
