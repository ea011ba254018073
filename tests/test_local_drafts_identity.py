"""A Maildir draft stays the same draft through what sync tools and mail clients do to its
file (issue 14): renames, flags, moves, rewrites; and the folder is read in bounded time and
memory whatever else is in it."""

from __future__ import annotations

import os
import stat
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import KEY_HEADER
from connectors.local.draftfiles import MAX_DRAFT_BYTES
from connectors.local.drafts import TMP_MAX_AGE_SECONDS, MaildirDrafts
from connectors.local.maildir import normalised
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef

from .contract.drafts_contract import make_message

KEY = "m1@example.org/2026-03-02T15:00:00Z/confirmation/dana.whitfield@example.org"
MESSAGE_ID = "<draft-1@example.com>"


def message(key: str = KEY, message_id: str = MESSAGE_ID, **kw: str) -> EmailMessage:
    made = make_message(key, **kw)
    made["Message-ID"] = message_id
    return made


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "Drafts"


@pytest.fixture
def box(folder: Path) -> MaildirDrafts:
    return MaildirDrafts(folder, account="home")


def the_file(folder: Path) -> Path:
    found = [p for sub in ("new", "cur") for p in sorted((folder / sub).iterdir())]
    assert len(found) == 1, found
    return found[0]


def test_mbsync_and_offlineimap_renames_are_untouched_and_deletable(box: MaildirDrafts,
                                                                    folder: Path) -> None:
    ref = box.create(message(), KEY)
    path = the_file(folder)
    mbsync = path.rename(path.with_name(f"{ref.id},U=7:2,DS"))
    assert box.get(ref) == "untouched"
    offlineimap = mbsync.rename(folder / "new" / "1796232991_1.10748.vm,U=2,FMD5=db3a:2,D")
    assert box.get(ref) == "untouched"
    fresh = MaildirDrafts(folder)  # after a restart too: the key is in the file
    assert fresh.get(ref) == "untouched"
    fresh.delete(ref)
    assert not offlineimap.exists() and fresh.get(ref) == "gone"


@pytest.mark.parametrize("where", ["new", "cur"])
@pytest.mark.parametrize("flags", ["", ":2,", ":2,S", ":2,DS"])
def test_any_name_folder_and_flags_hold_the_same_draft(box: MaildirDrafts, folder: Path,
                                                       where: str, flags: str) -> None:
    ref = box.create(message(), KEY)
    the_file(folder).rename(folder / where / f"1800000000.other-tool{flags}")
    assert box.get(ref) == "untouched"


def test_what_sync_tools_add_is_not_an_edit(box: MaildirDrafts, folder: Path) -> None:
    ref = box.create(message(), KEY)
    path = the_file(folder)
    data = path.read_bytes()
    synced = (b"X-TUID: 7hXj0Jk1aBcD\nX-OfflineIMAP: 1234-5678\n  folded\n" + data)
    path.unlink()
    (folder / "cur" / "1800000000.mbsync,U=3:2,D").write_bytes(synced.replace(b"\n", b"\r\n"))
    assert normalised(synced) == data
    assert box.get(ref) == "untouched"


@pytest.mark.parametrize("flags", ["", ":2,S", ":2,D"])
def test_a_rewrite_with_the_same_key_is_an_edit_and_is_kept(box: MaildirDrafts, folder: Path,
                                                            flags: str) -> None:
    """neomutt's recall and postpone, aerc's postpone, an edit on the IMAP server: the old
    file goes, a new one with the same key and a changed message comes."""
    ref = box.create(message(), KEY)
    path = the_file(folder)
    rewritten = path.read_bytes().replace(b"Thank you for your time today.",
                                          b"Thanks so much, and see you Friday.")
    path.unlink()
    new = folder / "new" / f"1800000001.R1.neomutt{flags}"
    new.write_bytes(rewritten)
    assert box.get(ref) == "edited"
    box.delete(ref)
    assert new.read_bytes() == rewritten
    with pytest.raises(ConnectorError, match="changed by you"):
        box.update(ref, message(subject="Replacement"))
    assert new.read_bytes() == rewritten


def test_key_nowhere_is_gone_and_a_trashed_copy_does_not_count(box: MaildirDrafts,
                                                               folder: Path) -> None:
    ref = box.create(message(), KEY)
    path = the_file(folder)
    path.rename(folder / "cur" / "1800000002.x:2,DT")
    assert box.get(ref) == "gone"
    (folder / "cur" / "1800000002.x:2,DT").unlink()
    (folder / "cur" / "1800000003.other:2,S").write_bytes(
        make_message("another/key").as_bytes())
    assert box.get(ref) == "gone"


def test_a_reference_stored_without_a_key_is_found_by_its_message(box: MaildirDrafts,
                                                                  folder: Path) -> None:
    ref = box.create(message(), KEY)
    old = DraftRef(id=ref.id, fingerprint=ref.fingerprint)  # as state files kept them
    path = the_file(folder)
    path.rename(folder / "cur" / "1800000004.offlineimap,U=9:2,D")
    assert box.get(old) == "untouched"


def test_find_with_a_message_id_skips_a_file_that_only_carries_the_key(box: MaildirDrafts,
                                                                        folder: Path) -> None:
    forged = folder / "cur" / "1800000005.forged:2,D"
    folder.joinpath("cur").mkdir(parents=True)
    forged.write_bytes(message(message_id="<someone-else@example.net>").as_bytes())
    assert box.find(KEY, message_id=MESSAGE_ID) is None
    ours = box.create(message(), KEY)
    found = box.find(KEY, message_id=MESSAGE_ID)
    assert found is not None and found.id == ours.id


def test_drafts_are_written_0600(box: MaildirDrafts, folder: Path) -> None:
    old = os.umask(0o022)  # the usual umask, under which files are 0644
    try:
        box.create(message(), KEY)
    finally:
        os.umask(old)
    assert stat.S_IMODE(the_file(folder).stat().st_mode) == 0o600


def test_only_old_files_in_tmp_are_cleaned(box: MaildirDrafts, folder: Path) -> None:
    box.create(message(), KEY)
    tmp = folder / "tmp"
    old_empty, old_partial, young = tmp / "1.leftover", tmp / "2.partial", tmp / "3.writing"
    for path in (old_empty, old_partial, young):
        path.write_bytes(b"" if path is old_empty else b"From: half a mess")
    (tmp / "a-folder").mkdir()
    (tmp / "a-link").symlink_to(folder / "cur")
    long_ago = time.time() - TMP_MAX_AGE_SECONDS - 60
    for path in (old_empty, old_partial, tmp / "a-folder"):
        os.utime(path, (long_ago, long_ago))
    os.utime(tmp / "a-link", (long_ago, long_ago), follow_symlinks=False)
    old_draft = the_file(folder)
    os.utime(old_draft, (long_ago, long_ago))
    box.create(message("k2", "<draft-2@example.com>"), "k2")
    assert sorted(p.name for p in tmp.iterdir()) == ["3.writing", "a-folder", "a-link"]
    assert old_draft.exists()


def test_a_fifo_a_link_and_a_huge_file_do_not_stall_or_fill_memory(box: MaildirDrafts,
                                                                   folder: Path) -> None:
    ref = box.create(message(), KEY)
    cur = folder / "cur"
    os.mkfifo(cur / "1800000006.fifo:2,D")
    (cur / "1800000007.link:2,D").symlink_to("/dev/zero")
    huge = cur / "1800000008.huge:2,D"
    with huge.open("wb") as handle:  # a sparse file: big, yet costs no disk
        handle.write(f"{KEY_HEADER}: {KEY}\n\n".encode())
        handle.truncate(64 * MAX_DRAFT_BYTES)
    the = next(p for p in cur.iterdir() if p.name.startswith(ref.id))
    the.unlink()
    assert box.get(ref) == "edited"  # the huge file holds the key, and is not the draft
    huge.unlink()
    assert box.get(ref) == "gone"
    assert box.find(KEY) is None


def test_a_listing_is_used_again_only_while_the_folder_is_unchanged(box: MaildirDrafts,
                                                                   folder: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    ref = box.create(message(), KEY)
    long_ago = time.time() - 3600
    for sub in ("new", "cur"):  # the folder settled long ago: its listing can be trusted
        os.utime(folder / sub, (long_ago, long_ago))
    listings = []
    real_scandir = os.scandir

    def counting(path: Path) -> object:
        listings.append(Path(path).name)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    assert box.get(ref) == "untouched" and box.get(ref) == "untouched"
    assert listings == ["new", "cur"]  # listed once for both looks
    path = the_file(folder)
    renamed = path.rename(folder / "new" / "1800000009.offlineimap,U=4:2,D")  # a sync tool
    assert box.get(ref) == "untouched"
    assert len(listings) == 4
    renamed.unlink()
    assert box.get(ref) == "gone"


def test_a_box_kept_open_reads_a_file_that_took_a_draft_s_name_again(box: MaildirDrafts,
                                                                     folder: Path) -> None:
    """The service keeps the box from cycle to cycle (daemon.cycle.kept): a new file saved over a
    renamed draft under the same name (as an editor saves, or a tool that writes a new copy)
    is read again, so the kept box answers as one opened afresh would."""
    ref = box.create(message(), KEY)
    renamed = the_file(folder).rename(folder / "cur" / f"{ref.id},U=9:2,DS")
    other = renamed.with_name(f"{ref.id},U=9.new")
    assert box.get(ref) == "untouched"  # the key was looked up: its headers are now known
    renamed.unlink()  # the name is gone, and the rewritten copy lacks the key
    other.write_bytes(make_message("another/key").as_bytes())
    os.replace(other, folder / "cur" / "1800000009.elsewhere:2,S")
    assert box.get(ref) == MaildirDrafts(folder).get(ref) == "gone"
    ours = folder / "cur" / "1800000010.x:2,S"
    ours.write_bytes(message().as_bytes())
    replacement = ours.with_name("tmp-copy")
    replacement.write_bytes(make_message("another/key").as_bytes())
    assert box.find(KEY, MESSAGE_ID) is not None
    os.replace(replacement, ours)  # same name, a new file without the key
    assert box.find(KEY, MESSAGE_ID) is None
    assert MaildirDrafts(folder).find(KEY, MESSAGE_ID) is None
