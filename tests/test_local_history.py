"""The Maildir mail history beyond the contract: folder layouts, the index that reads each
file once, what counts as the user's mail, hostile or broken files, and opening it."""

from __future__ import annotations

import email.utils
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Account, ConnectorEnv
from connectors.local import open_account
from connectors.local.headers import parse_headers
from connectors.local.history import MTIME_SLACK, MaildirHistory
from daemon.core.errors import ConfigError, ConnectorError
from daemon.core.text import clean_address
from tests.accounts import checked
from tests.contract.mail_contract import DANA, LEE, ME, SINCE, T0

from .contract.test_local import drop, mail_bytes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "Mail"


def from_dana(at: datetime = T0, message_id: str = "<dana-1@example.org>") -> bytes:
    return mail_bytes(f"Dana <{DANA}>", [ME], at, "Hello", message_id)


def to_dana(at: datetime = T0, message_id: str = "<sam-1@example.com>") -> bytes:
    return mail_bytes(f"Sam <{ME}>", [DANA], at, "Re: Hello", message_id)


def history(root: Path, **kwargs: Any) -> MaildirHistory:
    return MaildirHistory(root, [ME], account="home", **kwargs)


# --- layouts -----------------------------------------------------------------------------


def test_one_maildir_as_the_mail_folder(root: Path) -> None:
    drop(root, from_dana(), T0, part="new")
    seen = history(root).history([DANA], SINCE)[DANA]
    assert seen.last_from_contact is not None
    assert seen.last_from_contact.at == T0


@pytest.mark.parametrize("inbox, sent", [
    ("INBOX", "Sent"),                                 # mbsync / offlineimap
    ("Work/Projects/Library", "[Gmail]/Sent Mail"),    # nested folders, names with spaces
    ("Archive", "Archive/2026/Sent"),                  # a Maildir inside a Maildir
    (".", ".Sent"),                                    # Maildir++: the root is the inbox
    (".", ".Work.Clients.Sent"),                       # Maildir++ nested dot-folder
])
def test_mail_is_found_in_every_layout(root: Path, inbox: str, sent: str) -> None:
    drop(root / inbox, from_dana(), T0)
    drop(root / sent, to_dana(T0 + timedelta(hours=1)), T0 + timedelta(hours=1))
    seen = history(root).history([DANA], SINCE)[DANA]
    assert seen.last_from_contact is not None and seen.last_from_contact.at == T0
    assert seen.last_to_contact is not None
    assert seen.last_to_contact.at == T0 + timedelta(hours=1)


def test_the_accounts_drafts_folder_is_never_read(root: Path) -> None:
    drop(root / "INBOX", from_dana(), T0)
    drop(root / "Drafts", to_dana(), T0, flags="S")  # not even flagged D
    mail = history(root, drafts=root / "Drafts")
    seen = mail.history([DANA], SINCE)[DANA]
    assert seen.last_to_contact is None
    assert seen.last_from_contact is not None
    assert mail.parsed == 1


def test_a_message_flagged_d_never_counts_wherever_it_is(root: Path) -> None:
    drop(root / "Sent", to_dana(T0), T0, flags="DS")
    drop(root / "Sent", to_dana(T0 - timedelta(days=1), "<sent@example.com>"),
         T0 - timedelta(days=1), flags="S")
    seen = history(root).history([DANA], SINCE)[DANA]
    assert seen.last_to_contact is not None
    assert seen.last_to_contact.thread.message_id == "<sent@example.com>"


def test_a_folder_link_loop_is_looked_at_once(root: Path) -> None:
    drop(root / "INBOX", from_dana(), T0)
    (root / "INBOX" / "again").symlink_to(root)
    seen = history(root).history([DANA], SINCE)[DANA]
    assert seen.last_from_contact is not None


# --- who wrote to whom -------------------------------------------------------------------


def test_the_users_mail_is_told_by_from_and_the_contact_by_to_or_cc(root: Path) -> None:
    folder = root / "Sent"
    # Someone else wrote to Dana with the user in copy: not the user writing to Dana.
    drop(folder, mail_bytes(f"Lee <{LEE}>", [DANA], T0, "Intro", "<lee@example.net>",
                            cc=[ME]), T0)
    # The user's second address, in capitals, with Dana in Cc.
    drop(folder, mail_bytes("Sam <Sam.Ortiz@Work.example>", [LEE], T0 - timedelta(days=1),
                            "Intro", "<work@example.com>", cc=["DANA@example.org"]),
         T0 - timedelta(days=1))
    mail = MaildirHistory(root, [ME, "sam.ortiz@work.example"])
    result = mail.history([DANA, LEE], SINCE)
    to_dana_seen = result[DANA].last_to_contact
    assert to_dana_seen is not None
    assert to_dana_seen.thread.message_id == "<work@example.com>"
    assert result[DANA].last_from_contact is None
    assert result[LEE].last_from_contact is not None
    assert result[LEE].last_to_contact is not None


def test_contacts_are_answered_in_lower_case(root: Path) -> None:
    drop(root / "INBOX", from_dana(), T0)
    result = history(root).history(["Dana@Example.org"], SINCE)
    assert set(result) == {DANA}
    assert result[DANA].last_from_contact is not None


def test_equal_times_are_decided_the_same_way_every_time(root: Path) -> None:
    drop(root / "INBOX", from_dana(T0, "<b@example.org>"), T0)
    drop(root / "INBOX", from_dana(T0, "<a@example.org>"), T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.message_id == "<b@example.org>"


# --- dates and threads -------------------------------------------------------------------


def test_the_date_header_is_read_with_its_offset(root: Path) -> None:
    dated = T0.astimezone(ZoneInfo("Australia/Lord_Howe"))
    drop(root / "INBOX", mail_bytes(DANA, [ME], dated, "Hi", "<d@example.org>"),
         T0 + timedelta(days=3))
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.at == T0 and seen.at.tzinfo is not None


@pytest.mark.parametrize("date_line", ["", "Date: sometime last week\n",
                                       "Date: Mon, 2 Mar 2026 10:00:00 +9999\n"])
def test_without_a_usable_date_the_files_time_counts(root: Path, date_line: str) -> None:
    data = (f"From: {DANA}\nTo: {ME}\n{date_line}Message-ID: <x@example.org>\n"
            "Subject: Hi\n\nBody\n").encode()
    drop(root / "INBOX", data, T0 + timedelta(hours=5))
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.at == T0 + timedelta(hours=5)
    assert seen.at.utcoffset() == timedelta(0)


def test_a_date_without_a_zone_is_read_as_utc(root: Path) -> None:
    data = (f"From: {DANA}\nDate: Mon, 02 Mar 2026 15:00:00 -0000\n"
            "Message-ID: <x@example.org>\n\nBody\n").encode()
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.at == T0


def test_the_thread_holds_a_clean_subject_and_valid_references(root: Path) -> None:
    data = (f"From: {DANA}\nTo: {ME}\nDate: Mon, 02 Mar 2026 15:00:00 +0000\n"
            "Message-ID: <reply@example.org> (sent from my phone)\n"
            "Subject: =?utf-8?q?Caf=C3=A9_chat?=\n =?utf-8?q?=0D=0ABcc=3A_x=40evil=2Eexample?=\n"
            "References: <one@example.org> not-an-id <two@example.org>\n"
            " <=?utf-8?q?x?=@evil.example> <one@example.org>\n\nBody\n").encode()
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None
    thread = seen.thread
    assert thread.message_id == "<reply@example.org>"
    assert thread.references == ("<one@example.org>", "<two@example.org>")
    assert thread.subject.startswith("Café chat")
    assert "\r" not in thread.subject and "\n" not in thread.subject
    assert "=?" not in thread.subject


def test_headers_as_mail_tools_really_write_them(root: Path) -> None:
    data = (b"From dana@example.org Mon Mar  2 15:00:00 2026\r\n"
            b"received: from mx.example.org by mx.example.com\r\n"
            b"from: Dana Whitfield\r\n <DANA@example.org>\r\n"
            b"to: lee@example.net,\r\n\tSam <sam@example.com>\r\n"
            b"message-id:\r\n <folded@example.org>\r\n"
            b"date: Mon, 02 Mar 2026 10:00:00 -0500\r\n\r\n"
            b"From: someone@else.example\r\n")  # the body is never read
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.at == T0
    assert seen.thread.message_id == "<folded@example.org>"


@pytest.mark.parametrize("subject, reads", [
    ("=?x-unknown?q?abc?= notes", "= ?x-unknown?q?abc? = notes"),
    ("=?\x00?B?QUJD?= after", "after"),
    ("=?é?B?QUJD?= tail", "tail"),
    ("plain words", "plain words"),
])
def test_a_subject_that_cannot_be_decoded_is_kept_as_clean_text(root: Path, subject: str,
                                                               reads: str) -> None:
    data = (f"From: {DANA}\nMessage-ID: <s@example.org>\nSubject: {subject}\n\n").encode()
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and reads in seen.thread.subject


def test_in_reply_to_stands_in_for_missing_references(root: Path) -> None:
    data = (f"From: {DANA}\nDate: Mon, 02 Mar 2026 15:00:00 +0000\n"
            "Message-ID: <r@example.org>\nIn-Reply-To: <sam-0@example.com>\n\nBody\n").encode()
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.references == ("<sam-0@example.com>",)


@pytest.mark.parametrize("message_id", [None, "no-brackets@example.org", "<no-at-sign>",
                                        "<=?utf-8?q?a?=@example.org>"])
def test_a_message_without_a_valid_message_id_is_skipped(root: Path,
                                                         message_id: str | None) -> None:
    drop(root / "INBOX", from_dana(T0, "<older@example.org>"), T0 - timedelta(days=1))
    data = mail_bytes(DANA, [ME], T0, "Hi", None)
    if message_id is not None:
        data = f"Message-ID: {message_id}\n".encode() + data
    drop(root / "INBOX", data, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.message_id == "<older@example.org>"


_ADDRESS_PARTS = st.sampled_from([
    "dana@example.org", "Dana", "Dana Whitfield", " ", ",", "<", ">", "@", '"', "(", ")",
    ":", ";", "[", "]", ".", "\\", "'", "=?utf-8?q?Zo=C3=AB?=", "Zoë", "<lee@example.net>",
    "d+tag@ex.com", "\t",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ADDRESS_PARTS, min_size=1, max_size=12).map("".join))
def test_addresses_read_as_the_standard_library_reads_them(value: str) -> None:
    block = f"From: {value}\nMessage-ID: <p@example.org>\n".encode()
    info = parse_headers(block, T0)
    expected = {clean_address(a) for _, a in email.utils.getaddresses([value])} - {None}
    assert (info.senders if info is not None else frozenset()) == expected


# --- the index ---------------------------------------------------------------------------


def test_a_second_call_reads_only_new_files(root: Path) -> None:
    for n in range(20):
        at = T0 + timedelta(minutes=n)
        drop(root / "INBOX", from_dana(at, f"<d{n}@example.org>"), at)
    mail = history(root)
    mail.history([DANA, LEE, "kim@example.com"], SINCE)
    assert mail.parsed == 20  # one scan, however many contacts
    mail.history([DANA], SINCE)
    assert mail.parsed == 20
    later = T0 + timedelta(days=1)
    drop(root / "Sent", to_dana(later), later)
    seen = mail.history([DANA], SINCE)[DANA]
    assert mail.parsed == 21
    assert seen.last_to_contact is not None and seen.last_to_contact.at == later


def test_flag_changes_and_moves_to_cur_are_not_read_again(root: Path) -> None:
    fresh = drop(root / "INBOX", from_dana(), T0, part="new")
    old = drop(root / "INBOX", from_dana(T0 - timedelta(days=1), "<d0@example.org>"),
               T0 - timedelta(days=1), flags="S")
    mail = history(root)
    mail.history([DANA], SINCE)
    fresh.rename(root / "INBOX" / "cur" / f"{fresh.name}:2,S")
    old.rename(old.with_name(old.name.replace(":2,S", ":2,RS")))
    seen = mail.history([DANA], SINCE)[DANA]
    assert mail.parsed == 2
    assert seen.last_from_contact is not None and seen.last_from_contact.at == T0


def test_a_file_that_disappears_leaves_the_index(root: Path) -> None:
    newest = drop(root / "INBOX", from_dana(), T0)
    drop(root / "INBOX", from_dana(T0 - timedelta(days=2), "<d0@example.org>"),
         T0 - timedelta(days=2))
    mail = history(root)
    assert mail.history([DANA], SINCE)[DANA].last_from_contact is not None
    newest.unlink()
    seen = mail.history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.message_id == "<d0@example.org>"


def test_a_message_flagged_d_later_stops_counting(root: Path) -> None:
    path = drop(root / "Sent", to_dana(), T0)
    mail = history(root)
    assert mail.history([DANA], SINCE)[DANA].last_to_contact is not None
    path.rename(path.with_name(path.name.replace(":2,S", ":2,DS")))
    assert mail.history([DANA], SINCE)[DANA].last_to_contact is None


def test_files_written_long_before_since_are_not_read_until_asked_about(root: Path) -> None:
    written = SINCE - MTIME_SLACK - timedelta(days=1)
    drop(root / "INBOX", from_dana(T0 - timedelta(days=400), "<old@example.org>"), written)
    mail = history(root)
    assert mail.history([DANA], SINCE)[DANA].last_from_contact is None
    assert mail.parsed == 0
    seen = mail.history([DANA], T0 - timedelta(days=500))[DANA].last_from_contact
    assert mail.parsed == 1
    assert seen is not None and seen.thread.message_id == "<old@example.org>"


def test_mail_before_since_but_written_after_it_is_read_and_left_out(root: Path) -> None:
    drop(root / "INBOX", from_dana(SINCE - timedelta(days=3)), SINCE + timedelta(days=1))
    mail = history(root)
    assert mail.history([DANA], SINCE)[DANA].last_from_contact is None
    assert mail.parsed == 1


# --- broken, hostile and unreadable files ------------------------------------------------


def test_broken_files_are_skipped_with_one_warning_each(root: Path,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    inbox = root / "INBOX"
    drop(inbox, from_dana(), T0)
    nested = (f"From: {'(' * 5000}\nMessage-ID: <n@example.org>\n\nBody\n").encode()
    bad = drop(inbox, nested, T0)
    drop(inbox, b"\x00\xff\xfe binary garbage without any header\n" * 100, T0)
    drop(inbox, b"", T0)
    (inbox / "cur" / "1.M1P1.dir:2,S").mkdir()  # cannot be read as a file
    mail = history(root)
    with caplog.at_level(logging.WARNING, logger="connectors.local.history"):
        for _ in range(3):
            seen = mail.history([DANA], SINCE)[DANA]
            assert seen.last_from_contact is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert any(bad.name in w and "cannot be parsed" in w for w in warnings)
    assert any("1.M1P1.dir" in w for w in warnings)
    assert all("'home'" in w for w in warnings)


def test_an_endless_header_is_read_only_so_far(root: Path) -> None:
    data = f"From: {DANA}\nMessage-ID: <big@example.org>\nX-Junk: ".encode()
    drop(root / "INBOX", data + b"x" * 3_000_000, T0)
    seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.message_id == "<big@example.org>"


def test_an_unreadable_sub_folder_is_skipped_with_one_warning(
        root: Path, caplog: pytest.LogCaptureFixture) -> None:
    drop(root / "INBOX", from_dana(), T0)
    (root / "Loop-a").symlink_to(root / "Loop-b")
    (root / "Loop-b").symlink_to(root / "Loop-a")
    (root / "Dangling").symlink_to(root / "nowhere")
    (root / "notes.txt").write_text("not mail")
    (root / "Notes").symlink_to(root / "notes.txt")
    mail = history(root)
    with caplog.at_level(logging.WARNING, logger="connectors.local.history"):
        for _ in range(2):
            seen = mail.history([DANA], SINCE)[DANA]
            assert seen.last_from_contact is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings  # the two loop links and the dangling one, once each
    assert all("cannot be read" in w and "Notes" not in w for w in warnings)


# --- the mail folder itself --------------------------------------------------------------


def test_a_missing_mail_folder_says_which_path_to_fix(root: Path) -> None:
    with pytest.raises(ConnectorError) as caught:
        history(root).history([DANA], SINCE)
    message = str(caught.value)
    assert str(root) in message and "`mail`" in message and "'home'" in message


def test_a_file_as_the_mail_folder_says_which_path_to_fix(root: Path) -> None:
    root.write_text("not a folder")
    with pytest.raises(ConnectorError, match="`mail`"):
        history(root).history([DANA], SINCE)


def test_a_folder_without_any_maildir_says_so(root: Path) -> None:
    (root / "notes").mkdir(parents=True)
    with pytest.raises(ConnectorError) as caught:
        history(root).history([DANA], SINCE)
    assert "no Maildir" in str(caught.value) and str(root) in str(caught.value)


def test_since_must_be_aware(root: Path) -> None:
    drop(root / "INBOX", from_dana(), T0)
    with pytest.raises(ValueError, match="aware"):
        history(root).history([DANA], datetime(2026, 1, 1))


# --- opening the account -----------------------------------------------------------------


def _open(tmp_path: Path, **options: Any) -> Account:
    env = ConnectorEnv(timezone=ZoneInfo("UTC"), clock=lambda: T0, data_dir=tmp_path)
    base = {"calendar": str(tmp_path / "cal"), "drafts": str(tmp_path / "Mail" / "Drafts"),
            "mail": str(tmp_path / "Mail")}
    return open_account("home", checked("local", "home", my_emails=(ME,), **{**base, **options}),
                        env)


def test_mail_history_only_with_reply_detection(tmp_path: Path) -> None:
    assert _open(tmp_path).mail is None
    assert _open(tmp_path, reply_detection=False).mail is None
    account = _open(tmp_path, reply_detection=True)
    assert isinstance(account.mail, MaildirHistory)
    assert not (tmp_path / "Mail").exists()  # nothing is read or made on opening


def test_the_accounts_drafts_are_left_out_when_opened(tmp_path: Path) -> None:
    mail_root = tmp_path / "Mail"
    drop(mail_root / "Drafts", to_dana(), T0, flags="S")
    drop(mail_root / "Sent", to_dana(T0 - timedelta(days=1), "<sent@example.com>"),
         T0 - timedelta(days=1))
    mail = _open(tmp_path, reply_detection=True).mail
    assert mail is not None
    seen = mail.history([DANA], SINCE)[DANA].last_to_contact
    assert seen is not None and seen.thread.message_id == "<sent@example.com>"


def test_an_account_opened_again_reads_no_old_file(tmp_path: Path) -> None:
    drop(tmp_path / "Mail" / "INBOX", from_dana(), T0)
    first = _open(tmp_path, reply_detection=True).mail
    assert isinstance(first, MaildirHistory)
    first.history([DANA], SINCE)
    assert first.parsed == 1
    drop(tmp_path / "Mail" / "Sent", to_dana(), T0)
    again = _open(tmp_path, reply_detection=True).mail  # as the service does every cycle
    assert isinstance(again, MaildirHistory)
    seen = again.history([DANA], SINCE)[DANA]
    assert again.parsed == 2  # only the new file was read
    assert seen.last_from_contact is not None and seen.last_to_contact is not None


@pytest.mark.parametrize(("options", "said"), [
    ({"reply_detection": "yes"}, "reply_detection"),
    ({"reply_detection": True, "mail": None}, "needs `mail`"),
])
def test_bad_mail_options_say_what_to_fix(tmp_path: Path, options: dict[str, Any],
                                          said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        _open(tmp_path, **options)


def test_times_are_utc_whatever_the_machines_zone(root: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    if hasattr(os, "tzset"):
        os.tzset()
    try:
        data = f"From: {DANA}\nMessage-ID: <x@example.org>\n\nBody\n".encode()
        drop(root / "INBOX", data, T0)
        seen = history(root).history([DANA], SINCE)[DANA].last_from_contact
        assert seen is not None and seen.at == T0 and seen.at.utcoffset() == timedelta(0)
    finally:
        monkeypatch.undo()
        if hasattr(os, "tzset"):
            os.tzset()
