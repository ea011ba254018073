"""The Maildir Drafts folder beyond the contract: the files it writes, flags, interrupted
updates, and never touching what the user changed."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import os
from email.message import EmailMessage
from pathlib import Path

import pytest

import connectors.local
from connectors.base import KEY_HEADER
from connectors.local.drafts import MaildirDrafts
from connectors.local.maildir import MAX_HEADER_BYTES, read_header_block
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef

from .contract.drafts_contract import make_message

KEY = ("5q2l8f0v3kq1m7n4c9b6d0e2ah@google.com/2026-03-02T15:00:00Z"
       "/thank_you/dana.whitfield@example.org")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "Mail" / "Drafts"


@pytest.fixture
def box(folder: Path) -> MaildirDrafts:
    return MaildirDrafts(folder, account="home")


def files(folder: Path, sub: str = "cur") -> list[Path]:
    return sorted((folder / sub).iterdir())


def only_file(folder: Path) -> Path:
    found = files(folder)
    assert len(found) == 1, found
    return found[0]


def test_create_writes_one_draft_in_cur_flagged_d(box: MaildirDrafts, folder: Path) -> None:
    assert not folder.exists()  # nothing is created before it is needed
    ref = box.create(make_message(KEY), KEY)
    assert sorted(p.name for p in folder.iterdir()) == ["cur", "new", "tmp"]
    path = only_file(folder)
    assert path.name == f"{ref.id}:2,D"
    assert files(folder, "new") == [] and files(folder, "tmp") == []
    assert ref.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()


def test_written_bytes_read_back_as_the_same_message(box: MaildirDrafts, folder: Path) -> None:
    sent = make_message(KEY, subject="Merci, Zoë — a follow-up on our café chat",
                        to="Zoë Müller <zoe.mueller@example.de>",
                        body="Hallo Zoë,\n\nvielen Dank für Ihre Zeit. Ça m'a beaucoup aidé.\n")
    box.create(sent, KEY)
    data = only_file(folder).read_bytes()
    assert b"\r\n" not in data  # Maildir files use plain newlines, as mutt writes them
    assert f"\n{KEY_HEADER}: {KEY}\n".encode() in data  # one plain line, easy to grep
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    for name in ("From", "To", "Subject", KEY_HEADER):
        assert str(parsed[name]) == str(sent[name])
    body = parsed.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Hallo Zoë,\n\nvielen Dank für Ihre Zeit. Ça m'a beaucoup aidé.\n"


def test_create_refuses_a_message_without_its_key(box: MaildirDrafts) -> None:
    with pytest.raises(ValueError, match=KEY_HEADER):
        box.create(make_message("some/other/key"), KEY)


def test_flag_changes_are_not_edits(box: MaildirDrafts, folder: Path) -> None:
    ref = box.create(make_message(KEY), KEY)
    path = only_file(folder)
    seen = path.rename(path.with_name(f"{ref.id}:2,DS"))  # a mail client marked it seen
    assert box.get(ref) == "untouched"
    seen.rename(folder / "new" / ref.id)  # or moved it back to new/
    assert box.get(ref) == "untouched"


def test_trashed_or_removed_is_gone(box: MaildirDrafts, folder: Path) -> None:
    trashed = box.create(make_message(KEY), KEY)
    path = only_file(folder)
    path.rename(path.with_name(f"{trashed.id}:2,DST"))
    assert box.get(trashed) == "gone"
    removed = box.create(make_message("k2"), "k2")
    next(p for p in files(folder) if p.name.startswith(removed.id)).unlink()
    assert box.get(removed) == "gone"
    assert box.get(DraftRef(id="never-existed", fingerprint="0" * 64)) == "gone"


def test_find_reads_only_headers(box: MaildirDrafts) -> None:
    body = f"Quoting an old draft:\n{KEY_HEADER}: hidden/in/the/body\n"
    ref = box.create(make_message(KEY, body=body), KEY)
    found = box.find(KEY)
    assert found is not None and found == ref
    assert box.find("hidden/in/the/body") is None


def test_find_ignores_other_mail_and_unreadable_files(box: MaildirDrafts, folder: Path) -> None:
    ref = box.create(make_message(KEY), KEY)
    (folder / "cur" / "1700000000.M1P1.host:2,S").write_bytes(
        b"From: someone@example.com\nSubject: not ours\n\nhello\n")
    (folder / "cur" / "1700000001.M1P1.host:2,").write_bytes(b"\x00\xff\xfe\xfd" * 100)
    (folder / "tmp" / "1700000002.M1P1.host").write_bytes(
        f"{KEY_HEADER}: {KEY}\n\nbeing written\n".encode())
    found = box.find(KEY)
    assert found is not None and found.id == ref.id


def test_find_prefers_a_live_draft_then_the_newest(box: MaildirDrafts, folder: Path) -> None:
    old = box.create(make_message(KEY, subject="Old"), KEY)
    new = box.create(make_message(KEY, subject="New"), KEY)
    paths = {ref.id: next(p for p in files(folder) if p.name.startswith(ref.id))
             for ref in (old, new)}
    os.utime(paths[old.id], ns=(1_700_000_000 * 10**9,) * 2)
    os.utime(paths[new.id], ns=(1_700_000_100 * 10**9,) * 2)
    found = box.find(KEY)
    assert found is not None and found.id == new.id
    paths[new.id].rename(paths[new.id].with_name(f"{new.id}:2,DT"))
    found = box.find(KEY)
    assert found is not None and found.id == old.id


def test_update_writes_the_new_draft_and_removes_the_old(box: MaildirDrafts,
                                                         folder: Path) -> None:
    old = box.create(make_message(KEY, subject="See you Tuesday"), KEY)
    new = box.update(old, make_message(KEY, subject="See you Wednesday"))
    assert new.id != old.id
    path = only_file(folder)
    assert path.name.startswith(new.id)
    assert b"See you Wednesday" in path.read_bytes()
    assert box.get(new) == "untouched"


def test_update_refuses_an_edited_or_gone_draft(box: MaildirDrafts, folder: Path) -> None:
    ref = box.create(make_message(KEY), KEY)
    path = only_file(folder)
    edited = path.read_bytes().replace(b"Thank you for your time", b"Thanks so much for your time")
    path.write_bytes(edited)
    with pytest.raises(ConnectorError, match="changed by you"):
        box.update(ref, make_message(KEY, subject="Replacement"))
    assert only_file(folder).read_bytes() == edited
    path.unlink()
    with pytest.raises(ConnectorError, match="no longer in Drafts"):
        box.update(ref, make_message(KEY, subject="Replacement"))
    assert files(folder) == []


def test_interrupted_update_is_repaired_by_the_next_one(box: MaildirDrafts,
                                                        folder: Path) -> None:
    old = box.create(make_message(KEY, subject="See you Tuesday"), KEY)
    newer = make_message(KEY, subject="See you Wednesday")
    # An update that died after writing the new file and before removing the old one:
    leftover = box.create(newer, KEY)
    assert len(files(folder)) == 2
    found = box.find(KEY)
    assert found is not None and found.id in {old.id, leftover.id}
    # The store still holds the old reference; the core retries the same update.
    assert box.get(old) == "untouched"
    final = box.update(old, newer)
    path = only_file(folder)  # the identical leftover went too: one copy, not two
    assert path.name.startswith(final.id)
    assert box.find(KEY) == final


def test_a_different_leftover_is_kept(box: MaildirDrafts, folder: Path) -> None:
    old = box.create(make_message(KEY, subject="See you Tuesday"), KEY)
    box.create(make_message(KEY, subject="See you Thursday"), KEY)
    box.update(old, make_message(KEY, subject="See you Wednesday"))
    subjects = sorted(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                      ["Subject"] for p in files(folder))
    assert subjects == ["See you Thursday", "See you Wednesday"]


def test_delete_leaves_a_draft_the_user_edited(box: MaildirDrafts, folder: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    ref = box.create(make_message(KEY), KEY)
    path = only_file(folder)
    path.write_bytes(path.read_bytes() + b"\nMy own words.\n")
    with caplog.at_level(logging.WARNING):
        box.delete(ref)
    assert path.exists()
    assert any("edited" in r.getMessage() for r in caplog.records)


def test_delete_removes_the_file(box: MaildirDrafts, folder: Path) -> None:
    ref = box.create(make_message(KEY), KEY)
    box.delete(ref)
    assert files(folder) == []


def test_unusable_folder_says_what_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "Mail"
    blocker.write_text("a file where a folder should be")
    box = MaildirDrafts(blocker / "Drafts", account="home")
    with pytest.raises(ConnectorError) as caught:
        box.create(make_message(KEY), KEY)
    assert str(blocker / "Drafts") in str(caught.value)
    assert "`drafts`" in str(caught.value)


def test_the_local_connector_has_no_way_to_send() -> None:
    package = Path(connectors.local.__file__).parent
    sources = " ".join(p.read_text() for p in package.glob("*.py"))
    for word in ("smtplib", "sendmail", "subprocess", "socket", "urllib.request", "http.client"):
        assert word not in sources, word


def test_header_block_stops_at_the_body_and_at_the_size_limit(tmp_path: Path) -> None:
    message = tmp_path / "message"
    message.write_bytes(b"From: a@example.org\r\nSubject: Hi\r\n\r\nBody: not a header\r\n")
    assert read_header_block(message) == b"From: a@example.org\r\nSubject: Hi\r\n"
    endless = tmp_path / "endless"
    endless.write_bytes(b"X-Junk: " + b"x" * (3 * MAX_HEADER_BYTES))
    block = read_header_block(endless)
    assert block.startswith(b"X-Junk: x") and len(block) <= MAX_HEADER_BYTES + 1
    assert len(read_header_block(endless, limit=100)) <= 101
