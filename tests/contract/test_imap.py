"""The contract suites run against the caldav account's IMAP half on a real Dovecot
(:mod:`tests.servers.dovecot`: TLS verified through ``ca_file``, localised special folders):
:class:`~connectors.caldav.drafts.ImapDrafts` and
:class:`~connectors.caldav.history.ImapHistory`.

What a user does is done the way IMAP clients do it: an edit APPENDs the new version and
expunges the old one (a new UID), a delete flags the message ``\\Deleted`` and expunges it.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage

import pytest

from connectors.base import DraftBox, MailHistory
from connectors.caldav.drafts import ImapDrafts
from connectors.caldav.history import ImapHistory
from connectors.caldav.imap import ImapSession, ImapSettings
from daemon.core.model import DraftRef
from tests.servers.dovecot import DRAFTS, PASSWORD, SENT, Dovecot, dovecot

from .drafts_contract import DraftBoxContract
from .mail_contract import ME, Headers, MailHistoryContract
from .test_local import mail_bytes

_USERS = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


def session(server: Dovecot, user: str, *, starttls: bool = False,
            password: str = PASSWORD) -> ImapSession:
    """A session as the caldav account opens it, the password from a real command."""
    return ImapSession(ImapSettings(
        account="icloud", host=server.host, port=server.port if starttls else server.tls_port,
        tls="starttls" if starttls else "implicit", username=user,
        password_command=f"printf '%s\\n' {password}", ca_file=str(server.ca_file)))


def new_user() -> str:
    return f"user{next(_USERS)}@example.com"


def parse(data: bytes) -> EmailMessage:
    """A message as the server holds it, read as a mail program shows it (the server's CRLF
    line ends as Python's LF)."""
    parsed = email.message_from_bytes(data.replace(b"\r\n", b"\n"),
                                      policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class TestImapDrafts(DraftBoxContract):
    server: Dovecot
    user: str

    @pytest.fixture
    def box(self, server: Dovecot) -> DraftBox:
        self.server, self.user = server, new_user()
        # STARTTLS on every other test, so both ways in run the whole contract.
        return ImapDrafts(session(server, self.user, starttls=next(_USERS) % 2 == 0))

    def _uid(self, ref: DraftRef) -> int:
        """The UID of the message holding the draft now (the newest with its key)."""
        with_key = [uid for uid, (_flags, data) in self.server.messages(self.user).items()
                    if str(parse(data)["X-Coffeechat-Key"]) == ref.key]
        assert with_key, ref
        return max(with_key)

    def user_edits(self, ref: DraftRef) -> None:
        client = self.server.connect(self.user)
        try:
            client.select_folder(DRAFTS)
            uid = self._uid(ref)
            data = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            edited = data.replace(b"\r\n\r\n", b"\r\n\r\nP.S. I loved the archive tour.\r\n", 1)
            client.append(DRAFTS, edited, flags=(rb"\Draft",))
            client.add_flags([uid], [rb"\Deleted"], silent=True)
            client.uid_expunge([uid])
        finally:
            client.logout()

    def user_deletes(self, ref: DraftRef) -> None:
        client = self.server.connect(self.user)
        try:
            client.select_folder(DRAFTS)
            client.add_flags([self._uid(ref)], [rb"\Deleted"], silent=True)
            client.expunge()
        finally:
            client.logout()

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        """The message holding the draft now (an edit has a new UID)."""
        return parse(self.server.messages(self.user)[self._uid(ref)][1])

    def reopen(self, box: DraftBox) -> DraftBox:
        return ImapDrafts(session(self.server, self.user))


class TestImapMail(MailHistoryContract):
    server: Dovecot
    user: str

    @pytest.fixture
    def mail(self, server: Dovecot) -> MailHistory:
        self.server, self.user = server, new_user()
        return ImapHistory(session(server, self.user), [ME])

    def _append(self, folder: str, data: bytes, at: datetime,
                flags: tuple[bytes, ...] = (rb"\Seen",)) -> None:
        client = self.server.connect(self.user)
        try:
            client.append(folder, data, flags=flags, msg_time=at)
        finally:
            client.logout()

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        data = mail_bytes(f"Someone <{sender}>", [f"Sam <{ME}>"], at, subject, message_id,
                          references, cc, headers)
        self._append("INBOX", data, at)

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        data = mail_bytes(f"Sam <{ME}>", [to], at, subject, message_id, references, cc)
        self._append(SENT, data, at)

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        data = mail_bytes(f"Sam <{ME}>", [to], at, subject, message_id)
        self._append(DRAFTS, data, at, flags=(rb"\Draft", rb"\Seen"))
