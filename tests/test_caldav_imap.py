"""The caldav account's IMAP half on a real Dovecot (TLS with the test's own CA, Drafts and
Sent under localised names): what the contract suites do not cover.

* a draft edited on the server (APPEND of the new version, EXPUNGE of the old) is never
  touched again: not replaced, not deleted, byte for byte;
* deleting a draft expunges its UID only: a message the user flagged ``\\Deleted`` survives;
* Drafts is found by SPECIAL-USE under its localised name (``Entwürfe``);
* a wrong password says what to do; a certificate that does not verify names ``ca_file``;
* a connection dropped at any byte of an APPEND (either way) leaves exactly one draft once
  the core has looked the key up and written again what was missing: no duplicate, no loss;
* the requests each operation costs.
"""

from __future__ import annotations

import email.utils
import imaplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from connectors.caldav.drafts import ImapDrafts
from connectors.caldav.history import HeaderCache, ImapHistory
from connectors.caldav.imap import ImapSession, ImapSettings
from daemon.core.errors import AuthError, ConnectorError, TransientError
from tests.contract.drafts_contract import make_message
from tests.contract.test_imap import new_user, session
from tests.servers.dovecot import DRAFTS, PASSWORD, SENT, Dovecot, dovecot
from tests.servers.proxy import cut_proxy

KEY = "m7/thank_you/dana@example.org"
MESSAGE_ID = "<m7-thank-you@coffeechat.example>"
TRIALS_PER_DIRECTION = 40
"""Cut points tried in each direction across the APPEND (bounded: a few seconds in all)."""


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


def draft(key: str = KEY, subject: str = "Thank you for the coffee chat") -> EmailMessage:
    message = make_message(key, subject=subject)
    message["Message-ID"] = MESSAGE_ID
    return message


def with_key(server: Dovecot, user: str, key: str = KEY) -> dict[int, tuple[tuple[bytes, ...],
                                                                            bytes]]:
    return {uid: item for uid, item in server.messages(user).items()
            if f"X-Coffeechat-Key: {key}".encode() in item[1]}


def edit_on_server(server: Dovecot, user: str, uid: int) -> bytes:
    """What a mail program does when the user edits a draft: APPEND the new version, flag the
    old one deleted, expunge it. Returns the new version's bytes."""
    client = server.connect(user)
    try:
        client.select_folder(DRAFTS)
        data = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        edited = data.replace(b"\r\n\r\n", b"\r\n\r\nAnd thanks for the archive tour!\r\n", 1)
        assert edited != data
        client.append(DRAFTS, edited, flags=(rb"\Draft",))
        client.add_flags([uid], [rb"\Deleted"], silent=True)
        client.expunge()
        return bytes(edited)
    finally:
        client.logout()


def test_drafts_are_found_by_special_use_under_a_localised_name(server: Dovecot) -> None:
    user = new_user()
    box = ImapDrafts(session(server, user))
    box.create(draft(), KEY)
    assert box.folder == DRAFTS == "Entwürfe"
    [(flags, _data)] = with_key(server, user).values()
    assert rb"\Draft" in flags
    assert server.messages(user, "INBOX") == {}


def test_a_named_drafts_folder_is_used_and_a_missing_one_says_what_to_set(
        server: Dovecot) -> None:
    user = new_user()
    ImapDrafts(session(server, user), "Trash").create(draft(), KEY)
    assert len(server.messages(user, "Trash")) == 1
    assert server.messages(user, DRAFTS) == {}
    with pytest.raises(ConnectorError, match="drafts_folder") as caught:
        ImapDrafts(session(server, user), "Brouillons").create(draft(), KEY)
    assert not isinstance(caught.value, TransientError)


def test_a_draft_edited_on_the_server_is_never_touched(server: Dovecot) -> None:
    user = new_user()
    box = ImapDrafts(session(server, user))
    ref = box.create(draft(), KEY)
    [uid] = with_key(server, user)
    edited = edit_on_server(server, user, uid)
    [(new_uid, (flags, data))] = with_key(server, user).items()
    assert new_uid != uid and data == edited

    for look in (box, ImapDrafts(session(server, user))):  # this session, and after a restart
        assert look.get(ref) == "edited"
        with pytest.raises(ConnectorError, match="changed by you"):
            look.update(ref, draft(subject="See you Wednesday instead"))
        look.delete(ref)
        found = look.find(KEY, message_id=MESSAGE_ID)  # the client kept the Message-ID
        assert found is not None and found.fingerprint != ref.fingerprint
    assert with_key(server, user) == {new_uid: (flags, edited)}


def test_a_draft_copied_back_unchanged_is_still_untouched(server: Dovecot) -> None:
    """A client that re-saves a draft without changing it gives it a new UID: same bytes,
    same key, so it is still coffeechat's, untouched, and may be replaced."""
    user = new_user()
    box = ImapDrafts(session(server, user))
    ref = box.create(draft(), KEY)
    [uid] = with_key(server, user)
    client = server.connect(user)
    try:
        client.select_folder(DRAFTS)
        data = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        client.append(DRAFTS, data, flags=(rb"\Draft", rb"\Seen"))
        client.add_flags([uid], [rb"\Deleted"], silent=True)
        client.uid_expunge([uid])
    finally:
        client.logout()
    assert box.get(ref) == "untouched"
    new_ref = box.update(ref, draft(subject="See you Wednesday instead"))
    [(_uid, (_flags, stored))] = with_key(server, user).items()
    assert b"See you Wednesday instead" in stored
    assert box.get(new_ref) == "untouched"


def test_deleting_a_draft_expunges_only_its_uid(server: Dovecot) -> None:
    user = new_user()
    box = ImapDrafts(session(server, user))
    ref = box.create(draft(), KEY)
    other = make_message("someone-elses/draft")
    client = server.connect(user)
    try:
        client.append(DRAFTS, other.as_bytes(), flags=(rb"\Draft",))
        client.append(DRAFTS, b"Subject: old note\r\n\r\nthrow me away later\r\n")
        client.select_folder(DRAFTS)
        [note] = client.search(["SUBJECT", "old note"])
        client.add_flags([note], [rb"\Deleted"], silent=True)  # marked, not yet expunged
    finally:
        client.logout()
    box.delete(ref)
    left = server.messages(user)
    assert with_key(server, user) == {}
    assert len(left) == 2
    assert rb"\Deleted" in left[note][0] and b"throw me away later" in left[note][1]
    assert box.get(ref) == "gone"


def test_a_wrong_password_says_what_to_do(server: Dovecot) -> None:
    box = ImapDrafts(session(server, new_user(), password="not-the-app-password"))
    with pytest.raises(AuthError) as caught:
        box.find(KEY)
    text = str(caught.value)
    assert "refused the user name" in text and "password_command" in text
    assert "app password" in text and "coffeechat doctor" in text
    assert "not-the-app-password" not in text


def test_a_server_that_cannot_check_passwords_now_is_a_passing_trouble(
        server: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 5530's ``[UNAVAILABLE]`` answer to LOGIN (the server's authentication backend is
    down) is not a wrong password: the account is tried again at the usual pace."""
    def unavailable(client: Any, username: str, password: str) -> None:
        raise LoginError("b'[UNAVAILABLE] Temporary authentication failure.'")

    monkeypatch.setattr(IMAPClient, "login", unavailable)
    with pytest.raises(TransientError, match="could not check the password") as caught:
        ImapDrafts(session(server, new_user())).find(KEY)
    assert not isinstance(caught.value, AuthError)


def test_a_failing_password_command_is_the_commands_failure(server: Dovecot) -> None:
    settings = ImapSettings(account="icloud", host=server.host, port=server.tls_port,
                            tls="implicit", username=new_user(), password_command="false",
                            ca_file=str(server.ca_file))
    with pytest.raises(ConnectorError, match="password_command failed") as caught:
        ImapDrafts(ImapSession(settings)).find(KEY)
    assert not isinstance(caught.value, AuthError)


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_a_certificate_that_does_not_verify_names_ca_file(server: Dovecot, tls: str) -> None:
    settings = ImapSettings(account="icloud", host=server.host,
                            port=server.tls_port if tls == "implicit" else server.port,
                            tls=tls, username=new_user(),
                            password_command=f"echo {PASSWORD}", ca_file=None)
    with pytest.raises(ConnectorError, match="ca_file") as caught:
        ImapDrafts(ImapSession(settings)).find(KEY)
    assert not isinstance(caught.value, TransientError)


def test_starttls_is_used_before_the_password(server: Dovecot) -> None:
    s = session(server, new_user(), starttls=True)
    box = ImapDrafts(s)
    box.create(draft(), KEY)
    client = s.client()
    assert client._starttls_done  # imapclient's own record that the upgrade happened
    assert s.logins == 1


def _cut_trial(server: Dovecot, user: str, cut_after: int, upward: bool) -> str:
    """Write the draft through a proxy that cuts after ``cut_after`` bytes, then do what the
    core does after a failed create (its intent is on disk): look the key up with the
    Message-ID on a new connection, and write the draft only if it is not there.
    Returns what happened."""
    with cut_proxy((server.host, server.tls_port), cut_after, upward=upward) as proxy:
        settings = ImapSettings(account="icloud", host="127.0.0.1", port=proxy.port,
                                tls="implicit", username=user,
                                password_command=f"echo {PASSWORD}",
                                ca_file=str(server.ca_file), timeout=10)
        try:
            ImapDrafts(ImapSession(settings)).create(draft(), KEY)
            outcome = "written"
        except (TransientError, AuthError) as exc:
            assert isinstance(exc, TransientError) or "refused" not in str(exc), exc
            outcome = "failed"
        except ConnectorError:
            outcome = "failed"
    if outcome == "failed":
        again = ImapDrafts(session(server, user))
        if again.find(KEY, message_id=MESSAGE_ID) is None:
            again.create(draft(), KEY)
            outcome = "failed, written again"
        else:
            outcome = "failed, found on the server"
    return outcome


def _append_span(server: Dovecot) -> tuple[tuple[int, int], tuple[int, int]]:
    """Bytes up to the APPEND, up to its end, and the whole session, client to server (and
    the same server to client), measured on a clean run through an uncut proxy."""
    user = new_user()
    with cut_proxy((server.host, server.tls_port), None) as proxy:
        settings = ImapSettings(account="icloud", host="127.0.0.1", port=proxy.port,
                                tls="implicit", username=user,
                                password_command=f"echo {PASSWORD}",
                                ca_file=str(server.ca_file))
        s = ImapSession(settings)
        box = ImapDrafts(s)
        box._select()
        before_up, before_down = proxy.sent_up, proxy.sent_down
        box.create(draft(), KEY)
        after_up, after_down = proxy.sent_up, proxy.sent_down
        s.close()
    return (before_up, after_up), (before_down, after_down)


def test_a_connection_dropped_anywhere_in_an_append_makes_no_duplicate_and_no_loss(
        server: Dovecot) -> None:
    (before_up, after_up), (before_down, after_down) = _append_span(server)
    assert after_up - before_up > 300  # the message went up in this span
    outcomes: dict[str, int] = {}
    for upward, (start, end) in ((True, (before_up, after_up + 40)),
                                 (False, (before_down, after_down + 40))):
        step = max(1, (end - start) // TRIALS_PER_DIRECTION)
        for cut in range(start, end, step):
            user = new_user()
            outcome = _cut_trial(server, user, cut, upward)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            copies = with_key(server, user)
            assert len(copies) == 1, (upward, cut, outcome, len(copies))
            [(_flags, data)] = copies.values()
            assert data.rstrip().endswith(b"Sam")  # whole, never a cut-off message
    print(f"\nIMAP APPEND cut at {sum(outcomes.values())} points: {outcomes}")
    assert outcomes.get("failed, written again", 0) > 0  # a cut before the server had it
    assert outcomes.get("failed, found on the server", 0) > 0  # a cut in its answer


class _Counter:
    """Names every IMAP command sent: imaplib's own (``UID`` for UID FETCH/STORE/EXPUNGE) and
    those imapclient writes itself (SEARCH, APPEND...)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        command = imaplib.IMAP4._command  # type: ignore[attr-defined]
        raw = IMAPClient._raw_command

        def counting(imap: Any, name: str, *args: Any) -> Any:
            self.names.append(name)
            return command(imap, name, *args)

        def counting_raw(client: Any, name: bytes, *args: Any, **kwargs: Any) -> Any:
            self.names.append(("UID " if kwargs.get("uid", True) and client.use_uid else "")
                              + name.decode().upper())
            return raw(client, name, *args, **kwargs)

        monkeypatch.setattr(imaplib.IMAP4, "_command", counting)
        monkeypatch.setattr(IMAPClient, "_raw_command", counting_raw)

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


def test_requests_per_operation(server: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts the IMAP commands each operation sends (printed for the closing note), and
    holds them to what they are now."""
    counter = _Counter(monkeypatch)
    user = new_user()
    s = session(server, user)
    box = ImapDrafts(s)
    ref = box.create(draft(), KEY)
    opening = counter.take()
    assert opening.count("LOGIN") == 1 and "APPEND" in opening
    box.get(ref)
    get = counter.take()
    box.find(KEY, message_id=MESSAGE_ID)
    find = counter.take()
    box.delete(ref)
    delete = counter.take()
    cache = HeaderCache()
    history = ImapHistory(s, ["sam@example.com"], cache=cache)
    since = datetime.now(UTC) - timedelta(days=30)
    history.history(["dana@example.org", "lee@example.net"], since)
    first = counter.take()
    history.history(["dana@example.org", "lee@example.net"], since)
    idle = counter.take()
    # the next cycle opens the account again: a new session, the process's cache
    ImapHistory(session(server, user), ["sam@example.com"], cache=cache).history(
        ["dana@example.org", "lee@example.net"], since)
    next_cycle = counter.take()
    print(f"\nIMAP commands: open+create {len(opening)} {opening}; get {len(get)} {get}; "
          f"find {len(find)}; delete {len(delete)} {delete}; history first {len(first)} "
          f"{first}; history idle {len(idle)} {idle}; next cycle's {len(next_cycle)} "
          f"{next_cycle}")
    assert len(get) <= 5 and len(find) <= 5 and len(delete) <= 7
    assert first.count("UID SEARCH") == 2
    assert idle == ["SELECT", "SELECT"]  # nothing moved in either folder: no SEARCH
    assert "LIST" not in next_cycle and "UID SEARCH" not in next_cycle
    assert next_cycle.count("SELECT") == 2 and next_cycle.count("LOGIN") == 1
    assert SENT in history.folders()


def test_without_uidplus_a_draft_is_only_flagged_deleted(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    """A server without UIDPLUS: coffeechat never sends a plain EXPUNGE (it would remove
    what the user flagged too); its draft is flagged deleted, which counts as gone."""
    with dovecot(capabilities="IMAP4rev1 SPECIAL-USE LITERAL+ IDLE") as plain:
        user = new_user()
        s = session(plain, user)
        box = ImapDrafts(s)
        ref = box.create(draft(), KEY)
        assert not s.client().has_capability("UIDPLUS")
        client = plain.connect(user)
        try:
            client.append(DRAFTS, b"Subject: old note\r\n\r\nthrow me away later\r\n")
            client.select_folder(DRAFTS)
            [note] = client.search(["SUBJECT", "old note"])
            client.add_flags([note], [rb"\Deleted"], silent=True)
        finally:
            client.logout()
        box.delete(ref)
        assert box.get(ref) == "gone" and box.find(KEY) is None
        left = plain.messages(user)
        assert len(left) == 2 and all(rb"\Deleted" in flags for flags, _ in left.values())
        assert "no UIDPLUS" in caplog.text
        again = box.create(draft(), KEY)  # a new draft with the key is not confused with it
        assert box.get(again) == "untouched"


def _deliver(server: Dovecot, user: str, folder: str, sender: str, to: str, when: datetime,
             message_id: str, extra: str = "") -> None:
    data = (f"From: {sender}\r\nTo: {to}\r\nSubject: hello\r\nMessage-ID: {message_id}\r\n"
            f"Date: {email.utils.format_datetime(when)}\r\n{extra}\r\nHi\r\n").encode()
    client = server.connect(user)
    try:
        client.append(folder, data, flags=(rb"\Seen",), msg_time=when)
    finally:
        client.logout()


def test_history_over_many_contacts_reads_each_header_once(server: Dovecot) -> None:
    user = new_user()
    now = datetime.now(UTC).replace(microsecond=0)
    contacts = [f"contact{n}@example.org" for n in range(130)]  # four SEARCH batches
    _deliver(server, user, "INBOX", "Contact 129 <Contact129@Example.org>",
             "sam@example.com", now - timedelta(days=3), "<c129@example.org>")
    _deliver(server, user, SENT, "Sam <sam@example.com>", "contact77@example.org",
             now - timedelta(days=2), "<s77@example.com>")
    _deliver(server, user, "INBOX", "Sam <sam@example.com>", "contact5@example.org",
             now - timedelta(days=1), "<s5@example.com>")  # a copy to self counts too
    _deliver(server, user, "INBOX", "someone@example.net", "sam@example.com",
             now - timedelta(days=1), "<other@example.net>")
    history = ImapHistory(session(server, user), ["sam@example.com"])
    since = now - timedelta(days=30)
    result = history.history(contacts, since)
    assert result["contact129@example.org"].last_from_contact is not None
    assert result["contact77@example.org"].last_to_contact is not None
    assert result["contact5@example.org"].last_to_contact is not None
    assert sum(1 for seen in result.values() if seen.latest is not None) == 3
    assert history.fetched == 3  # headers only of the matches, not of the other message
    history.history(contacts, since)
    assert history.fetched == 3  # nothing read again
    _deliver(server, user, "INBOX", "contact3@example.org", "sam@example.com",
             now - timedelta(hours=1), "<c3@example.org>",
             extra="Auto-Submitted: auto-replied\r\n")
    result = history.history(contacts, since)
    assert history.fetched == 4
    assert result["contact3@example.org"].last_from_contact is None  # an auto-reply
    client = server.connect(user)
    try:
        client.select_folder("INBOX")
        [gone] = client.search(["HEADER", "Message-ID", "<c129@example.org>"])
        client.add_flags([gone], [rb"\Deleted"], silent=True)
        client.uid_expunge([gone])
    finally:
        client.logout()
    result = history.history(contacts, since)  # one message fewer: searched again
    assert result["contact129@example.org"].last_from_contact is None


@pytest.mark.parametrize("key", [
    "événement-42@exemple.fr/thank_you/zoë@example.org",
    'odd "quoted" \\ uid/confirmation/lee@example.net',
])
def test_keys_with_unusual_characters_are_found_exactly(server: Dovecot, key: str) -> None:
    user = new_user()
    box = ImapDrafts(session(server, user))
    ref = box.create(make_message(key), key)
    longer = box.create(make_message(key + "x"), key + "x")  # the server's SEARCH matches
    prefix = key[:-3]                                         # substrings: ours must not
    assert box.find(prefix) is None
    found = box.find(key)
    assert found is not None and found.fingerprint == ref.fingerprint
    assert box.get(ref) == "untouched" and box.get(longer) == "untouched"
    box.delete(ref)
    assert box.get(ref) == "gone" and box.get(longer) == "untouched"
