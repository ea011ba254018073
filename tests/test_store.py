"""The state store: atomic writes, refusing damaged files, schema, locks."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import FrozenInstanceError, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.core.errors import StateError
from daemon.core.fileio import TEMP_PREFIX
from daemon.core.model import (
    Attendee,
    ContactPrefs,
    DraftRecord,
    DraftRef,
    Interview,
    Meeting,
    Person,
)
from daemon.core.skipped import Skipped
from daemon.state import codec
from daemon.state.database import doc_id
from daemon.state.locks import run_lock, write_lock
from daemon.state.schema import SCHEMA_VERSION
from daemon.state.store import Store

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def interview(uid: str, account: str = "personal") -> Interview:
    meeting = Meeting(uid=uid, title=f"Coffee {uid}", start=T0, end=T0 + timedelta(minutes=30),
                      description="Notes: ünïcode ✓")
    return Interview(meeting=meeting, account=account,
                     contacts=(Person(f"{uid}@example.com", "Ana Li"),), notes="ünïcode ✓")


def record(key: str) -> DraftRecord:
    return DraftRecord(key=key, kind="thank_you", contact="a@example.com", account="personal",
                       meeting_uid="m1", state="created", due=T0, reason="r",
                       created_at=T0, ref=DraftRef("id-1", "abc"))


def test_round_trip_of_every_table(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.put_draft(record("m1/thank_you/a@example.com"))
    store.put_prefs(ContactPrefs("a@example.com", "paused", T0))
    store.set_cursor("personal", {"files": {"a.ics": [1, 2]}}, "tags-1")
    notes = Skipped(said={"big.ics": ("over the size limit",)},
                    refused={"a.ics": ("the event 'x' was skipped",)}, more=True)
    store.set_skipped("personal", notes)
    store.set_skipped("other", Skipped())
    assert store.flush() is True
    again = Store(path)
    assert again.interviews() == [interview("m1")]
    assert again.drafts() == {"m1/thank_you/a@example.com": record("m1/thank_you/a@example.com")}
    assert again.prefs()["a@example.com"].paused_until == T0
    assert again.cursor("personal") == {"files": {"a.ics": [1, 2]}}
    assert again.cursor("other") is None
    assert again.cursor_tagging("personal") == "tags-1"
    assert again.cursor_tagging("other") is None
    assert again.skipped() == {"personal": notes}
    assert again.interview("personal", "m1") == interview("m1")
    assert again.interview("other", "m1") is None


def test_a_cursor_stored_before_fingerprints_has_none(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.set_cursor("personal", {"version": 3}, "tags-1")
    store.flush()
    raw = json.loads(path.read_text())
    for doc in raw["cursors"].values():
        del doc["tagging"]  # as the previous coffeechat wrote it
    path.write_text(json.dumps(raw))
    again = Store(path)
    assert again.cursor("personal") == {"version": 3}
    assert again.cursor_tagging("personal") is None


@pytest.mark.parametrize("damage", [
    {"said": ["big.ics"]}, {"said": {"big.ics": "too big"}}, {"refused": {"a.ics": [3]}},
    {"more": "yes"}, {"account": None}, {"said": None}])
def test_a_malformed_notes_table_is_refused(tmp_path: Path, damage: dict[str, Any]) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.set_skipped("personal", Skipped(said={"big.ics": ("too big",)}))
    store.flush()
    raw = json.loads(path.read_text())
    for doc in raw["skipped"].values():
        doc.update(damage)
    path.write_text(json.dumps(raw))
    with pytest.raises(StateError, match="does not read back"):
        Store(path).skipped()


def test_same_uid_in_two_accounts_are_two_documents(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.json", writable=True)
    store.put_interview(interview("m1", "a"))
    store.put_interview(interview("m1", "b"))
    assert [iv.account for iv in store.interviews()] == ["a", "b"]
    assert store.remove_meeting("a", "m1") is True
    assert store.remove_meeting("a", "m1") is False
    assert [iv.account for iv in store.interviews()] == ["b"]


def test_many_interviews_are_stored_in_one_write_of_the_table(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    store = Store(tmp_path / "s.json", writable=True)
    store.put_interview(interview("m0"))
    store.set_plan_memo("key", T0)
    writes: list[str] = []
    update = type(store.meetings)._update_table

    def counted(table: Any, updater: Any) -> None:
        writes.append(table.name)
        update(table, updater)

    monkeypatch.setattr(type(store.meetings), "_update_table", counted)
    first = interview("m2")
    renamed = replace(first, meeting=replace(first.meeting, title="Renamed"))
    store.put_interviews([interview(f"m{n}") for n in range(1, 500)] + [renamed])
    assert writes.count("meetings") == 1  # not one per meeting: that made a first sync slow
    assert len(store.interviews()) == 500
    assert store.interview("personal", "m2") == renamed  # of one uid twice, the last stays
    assert store.plan_memo() is None  # what the planner reads changed
    store.set_plan_memo("key", T0)
    store.put_interviews([interview("m0"), interview("m3")])  # stored as they are
    assert store.plan_memo() == ("key", T0)


def test_a_flush_without_changes_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    before = path.stat().st_mtime_ns
    again = Store(path, writable=True)
    again.put_interview(interview("m1"))  # the same content again
    assert again.flush() is False
    assert path.stat().st_mtime_ns == before


def test_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.flush()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", [b"", b"   \n", b'{"meetings": {"1": ', b"\xff\xfe",
                                     b"[1, 2]"])
def test_empty_or_damaged_files_are_refused_and_left_alone(tmp_path: Path,
                                                           content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateError) as caught:
        Store(path, writable=True)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_a_file_without_schema_or_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"_default": {}}')
    with pytest.raises(StateError, match="not a coffeechat state file"):
        Store(path)
    path.write_text(json.dumps({"meta": {"1": {"schema": SCHEMA_VERSION + 1}}}))
    with pytest.raises(StateError, match="newer coffeechat"):
        Store(path)


def test_a_read_only_store_never_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.json")
    store.put_interview(interview("m1"))
    with pytest.raises(StateError, match="read-only"):
        store.flush()
    assert not (tmp_path / "state.json").exists()


def test_a_failed_write_keeps_the_previous_state(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    before = path.read_bytes()

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("daemon.core.fileio.os.replace", disk_full)
    store.put_interview(interview("m2"))
    with pytest.raises(StateError, match=r"No space left on device.*previous state is intact"):
        store.flush()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_leftover_temporary_files_are_swept_by_a_writer(tmp_path: Path) -> None:
    leftover = tmp_path / (TEMP_PREFIX + "abc")
    leftover.write_text("half")
    Store(tmp_path / "state.json")
    assert leftover.exists()  # readers never touch them: a writer may be mid-flush
    Store(tmp_path / "state.json", writable=True)
    assert not leftover.exists()


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from daemon.core.model import Interview, Meeting, Person
from daemon.state.store import Store
store = Store(Path(sys.argv[1]), writable=True)
t = datetime(2026, 1, 1, tzinfo=UTC)
i = 0
while True:
    i += 1
    m = Meeting(uid=f"m{i}", title="x" * 2000, start=t, end=t + timedelta(hours=1))
    store.put_interview(Interview(meeting=m, account="a", contacts=(Person("a@b.co"),)))
    store.flush()
    print(i, flush=True)
"""


def test_kill_at_random_instants_mid_write_leaves_a_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random(20261122)
    kills = 0
    sizes = []
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 8)):  # killed during the write after its n-th one
            assert proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        loaded = Store(path, writable=True)  # must not raise
        sizes.append(len(loaded.interviews()))
    assert kills == 25
    assert sizes[-1] > 0 and sizes == sorted(sizes)


def test_a_second_run_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with run_lock(path):
        holder = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from daemon.state.locks import run_lock\n"
             "with run_lock(Path(sys.argv[1])): pass", str(path)],
            capture_output=True, text=True, check=False)
    assert holder.returncode != 0
    assert f"pid {os.getpid()}" in holder.stderr
    with run_lock(path):  # released, so it can be taken again
        pass


def test_the_write_lock_waits_then_gives_up_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    script = ("import sys, time; from pathlib import Path\n"
              "from daemon.state.locks import write_lock\n"
              "with write_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(5)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(StateError, match="busy"), write_lock(path, timeout=0.3):
            pass
        assert 0.25 < time.monotonic() - started < 30  # gave up, far before the holder did
    finally:
        proc.kill()
        proc.wait()


def test_a_writer_keeps_a_daily_rotated_backup_of_the_last_good_state(tmp_path: Path) -> None:
    from daemon.state import backups

    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    first = path.read_bytes()
    Store(path, writable=True)
    assert backups.backup_path(path, 1).read_bytes() == first
    assert backups.backup_path(path, 1).stat().st_mode & 0o777 == 0o600
    store = Store(path, writable=True)  # same day: no new backup
    store.put_interview(interview("m2"))
    store.flush()
    assert backups.backup_path(path, 1).read_bytes() == first
    for day in range(1, 5):  # a day later each time: rotated, three kept
        assert backups.rotate(path, f"day {day}".encode(), now=time.time() + day * 86_400)
    assert [backups.backup_path(path, n).read_bytes() for n in (1, 2, 3)] == [
        b"day 4", b"day 3", b"day 2"]
    assert not backups.backup_path(path, 4).exists()


def test_a_damaged_state_names_the_backup_and_how_to_restore_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    Store(path, writable=True)  # keeps the backup
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(StateError) as caught:
        Store(path, writable=True)
    message = str(caught.value)
    assert f"cp {path}.bak.1 {path}" in message
    assert path.read_bytes() != b"" and len(path.read_bytes()) == 40  # left as it was
    path.write_bytes((tmp_path / "state.json.bak.1").read_bytes())  # the advice works
    assert [iv.meeting.uid for iv in Store(path).interviews()] == ["m1"]


def test_a_flush_after_no_write_does_not_even_serialise(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    assert store.flush() is True
    dumps: list[object] = []

    def counting_dumps(data: object, **_options: object) -> str:
        dumps.append(data)
        return "{}"

    monkeypatch.setattr("daemon.state.shape.json.dumps", counting_dumps)
    again = Store(path, writable=True)
    again.put_interview(interview("m1"))  # unchanged: the store does not even write it
    again.set_cursor("personal", None, "")
    assert again.flush() is False
    assert dumps == []


def test_draft_records_are_decoded_once_and_kept_in_step(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    for n in range(3):
        store.put_draft(record(f"k{n}"))
    store.flush()
    decoded: list[object] = []
    original = codec.record_from_json

    def counting(data: dict[str, object]) -> DraftRecord:
        decoded.append(data)
        return original(data)

    monkeypatch.setattr(codec, "record_from_json", counting)
    again = Store(path, writable=True)
    for key, found in again.drafts().items():  # changing the store while iterating is fine
        if key == "k0":
            again.delete_draft(key)
        else:
            again.put_draft(found)
    again.put_draft(record("k9"))
    assert sorted(again.drafts()) == ["k1", "k2", "k9"]
    assert len(decoded) == 3  # the table was decoded once, by the first call
    again.flush()
    assert sorted(Store(path).drafts()) == ["k1", "k2", "k9"]


def test_a_state_file_only_the_json_module_reads_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte-order mark (a hand edit)
    assert Store(path).interviews() == [interview("m1")]


def test_people_met_in_many_meetings_read_back_equal_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ana = Person("ana@example.com", "Ana Li")
    store = Store(path, writable=True)
    store.put_interviews(replace(interview(f"m{i}"), contacts=(ana,)) for i in range(3))
    store.flush()
    read = Store(path).interviews()
    assert [iv.contacts for iv in read] == [(ana,)] * 3
    assert read[0].contacts[0] is read[2].contacts[0]


def test_meetings_and_records_read_back_whole_equal_and_frozen(tmp_path: Path) -> None:
    """The codec makes these without their ``__init__``: each must still carry exactly its
    model's fields, compare and hash equal to the original, and refuse changes."""
    me = Attendee("me@example.com", "Me", "accepted", is_self=True)
    ana = Attendee("ana@example.com", "Ana Li", "tentative")
    meeting = Meeting(uid="m1", title="Coffee", start=T0, end=T0 + timedelta(hours=1),
                      source="a.ics", description="d", location="Cafe", link="https://x",
                      organizer=me, attendees=(me, ana), categories=("chat",), cancelled=True,
                      all_day=True, provider_tagged=True, provider_id="p1")
    stored_iv = Interview(meeting=meeting, account="personal",
                          contacts=(Person("ana@example.com", "Ana Li"),),
                          declined=(Person("bo@example.com", "Bo"),), notes="n",
                          user_declined=True)
    stored_record = replace(record("m1/thank_you/ana@example.com"), observed="edited",
                            observed_at=T0, facts="f", flag="check it")
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(stored_iv)
    store.put_draft(stored_record)
    store.flush()
    again = Store(path)
    [read_iv] = again.interviews()
    [read_record] = again.drafts().values()
    assert {type(obj) for obj in (read_iv, read_iv.meeting, read_record)} <= set(codec.FAST_TYPES)
    pairs: list[tuple[Any, Any]] = [(read_iv, stored_iv), (read_iv.meeting, meeting),
                                    (read_record, stored_record)]
    for read, original in pairs:
        assert sorted(vars(read)) == sorted(f.name for f in fields(original))
        assert read == original and hash(read) == hash(original)
        with pytest.raises(FrozenInstanceError):
            read.title = "changed"


def _age_backups(path: Path, days: int) -> None:
    """Make the backups of ``path`` look ``days`` days older."""
    from daemon.state import backups

    for backup in backups.existing(path):
        then = backup.stat().st_mtime - days * 86_400
        os.utime(backup, (then, then))


def test_a_state_that_does_not_decode_is_never_kept_as_a_backup(tmp_path: Path) -> None:
    from daemon.state import backups

    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_draft(record("m1/thank_you/a@example.com"))
    store.flush()
    Store(path, writable=True)
    good = path.read_bytes()
    assert backups.backup_path(path, 1).read_bytes() == good
    raw = json.loads(good)
    for doc in raw["drafts"].values():
        del doc["ref"]  # a record without its draft id: parses, does not decode
    path.write_text(json.dumps(raw))
    for _day in range(3):  # three daily openings by a writer: nothing rotated in
        _age_backups(path, 1)
        Store(path, writable=True)
        assert backups.backup_path(path, 1).read_bytes() == good
        assert not backups.backup_path(path, 2).exists()
    with pytest.raises(StateError) as caught:
        Store(path).drafts()
    assert f"`cp {path}.bak.1 {path}`" in str(caught.value)
    path.write_bytes(backups.backup_path(path, 1).read_bytes())  # the advice works
    assert list(Store(path).drafts()) == ["m1/thank_you/a@example.com"]


def test_the_advice_names_the_newest_backup_that_reads_back(tmp_path: Path) -> None:
    from daemon.state import backups
    from daemon.state.schema import damage

    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    store.flush()
    assert backups.rotate(path, path.read_bytes())  # bak.1 reads back...
    _age_backups(path, 1)
    assert backups.rotate(path, b'{"meta": {"1": {"schema": 1}}, "meetings": []}')
    assert damage(backups.backup_path(path, 2)) is None  # ...and is now bak.2
    assert damage(backups.backup_path(path, 1)) == (
        "its table 'meetings' is a list, not a table of records")
    path.write_text("{}garbage")
    with pytest.raises(StateError) as caught:
        Store(path)
    message = str(caught.value)
    assert f"`cp {path}.bak.2 {path}`" in message
    assert "Do not restore state.json.bak.1: it does not read back." in message


def test_values_nested_too_deep_to_save_are_refused_and_the_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    deep = "[" * 1000 + "]" * 1000  # orjson reads it; json cannot write it back
    path.write_text('{"meta": {"1": {"schema": 1}, "9": {"x": ' + deep + "}}}")
    before = path.read_bytes()
    store = Store(path, writable=True)
    store.put_interview(interview("m1"))
    with pytest.raises(StateError, match=r"damaged .*nests arrays or objects deeper"):
        store.flush()
    assert path.read_bytes() == before


def test_a_symlinked_file_is_written_through_to_its_target(tmp_path: Path) -> None:
    from daemon.core.fileio import write_atomically

    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "state.json"
    target.write_bytes(b"old")
    link = tmp_path / "links" / "state.json"
    link.symlink_to(os.path.relpath(target, link.parent))
    write_atomically(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert os.listdir(tmp_path / "links") == ["state.json"]  # no temporary file left there


def test_a_state_older_than_its_ledger_knows_which_drafts_to_look_up(tmp_path: Path) -> None:
    from daemon.state import roster

    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_draft(record("k/old"))
    store.flush()
    older = path.read_bytes()
    for key in ("k/new-1", "k/new-2"):
        store.put_draft(record(key))
    store.flush()
    assert roster.read(path) == frozenset(str(doc_id(k)) for k in ("k/old", "k/new-1", "k/new-2"))
    fresh = Store(path, writable=True)  # the newest state: nothing to look up
    assert not any(fresh.may_exist(k) for k in ("k/old", "k/new-1", "k/new-2", "k/other"))

    path.write_bytes(older)  # restored
    assert Store(path).drafts_to_look_up() == 2  # what doctor says
    restored = Store(path, writable=True)
    assert [k for k in ("k/old", "k/new-1", "k/new-2", "k/other")
            if restored.may_exist(k)] == ["k/new-1", "k/new-2"]
    restored.put_draft(record("k/new-1"))  # written (or found) again
    restored.flush()
    again = Store(path, writable=True)
    assert again.may_exist("k/new-2") and not again.may_exist("k/new-1")
    assert again.drafts_to_look_up() == 1
    assert roster.read(path) == frozenset(str(doc_id(k)) for k in ("k/old", "k/new-1", "k/new-2"))


    roster.ledger_path(path).unlink()
    roster.ledger_path(path).mkdir()  # the ledger cannot be written: the cycle stops there
    blocked = Store(path, writable=True)
    blocked.put_draft(record("k/new-3"))
    with pytest.raises(StateError, match=r"could not save .*state\.json\.ledger"):
        blocked.flush()


def test_a_draft_record_stored_before_message_ids_and_ref_keys_still_reads() -> None:
    old = {"key": "m1/thank_you/ana@example.org", "kind": "thank_you",
           "contact": "ana@example.org", "account": "personal", "meeting_uid": "m1",
           "state": "created", "due": "2026-03-02T15:00:00+00:00", "reason": "after m1",
           "created_at": "2026-03-02T15:00:00+00:00",
           "ref": {"id": "1700000000.M1P1Q1.host", "fingerprint": "ab" * 32},
           "observed": "untouched", "observed_at": None, "facts": "", "flag": ""}
    record = codec.record_from_json(old)
    assert record.message_id == "" and record.ref is not None and record.ref.key == ""
    again = codec.record_from_json(codec.record_to_json(
        replace(record, message_id="<a@example.com>",
                ref=replace(record.ref, key=record.key))))
    assert again.message_id == "<a@example.com>" and again.ref == replace(record.ref,
                                                                          key=record.key)
