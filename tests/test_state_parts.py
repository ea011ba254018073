"""A large state in part files (issue 18, item 4): a write costs what changed, a read opens
only what it reads, and the one-file state of schema 2 upgrades in place."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.core.errors import StateError
from daemon.core.model import ContactPrefs, DraftRecord, DraftRef, Interview, Meeting, Person
from daemon.state import backups, codec, lazy, roster, storage
from daemon.state.database import doc_id
from daemon.state.schema import BRIEFS, SCHEMA_VERSION
from daemon.state.store import Store

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def interview(n: int) -> Interview:
    meeting = Meeting(uid=f"m{n}", title=f"Coffee {n} ünï", start=T0 + timedelta(hours=n),
                      end=T0 + timedelta(hours=n, minutes=30), description="notes " * 20)
    return Interview(meeting=meeting, account="personal",
                     contacts=(Person(f"p{n}@example.com", f"Person {n}"),))


def record(n: int, state: str = "created") -> DraftRecord:
    return DraftRecord(key=f"m{n}/thank_you/p{n}@example.com", kind="thank_you",
                       contact=f"p{n}@example.com", account="personal", meeting_uid=f"m{n}",
                       state=state,  # type: ignore[arg-type]
                       due=T0, reason="r", created_at=T0,
                       ref=DraftRef(f"id-{n}") if state == "created" else None)


def fill(store: Store, meetings: int) -> None:
    store.put_interviews(interview(n) for n in range(meetings))
    for n in range(meetings):
        store.put_draft(record(n))
    store.put_prefs(ContactPrefs("p1@example.com", "paused", T0))
    store.set_cursor("personal", {"files": "x" * 100_000}, "tags")


def parts(path: Path) -> dict[str, int]:
    """The part files beside ``path``, with their modification times."""
    folder = path.with_name(path.name + ".parts")
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.exists() else {}


@pytest.fixture()
def small_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "INLINE_BYTES", 20_000)


def test_a_schema_2_file_upgrades_in_place_to_parts(tmp_path: Path, small_inline: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    with monkeypatch.context() as one_file:
        one_file.setattr(storage, "INLINE_BYTES", 1 << 40)  # as coffeechat wrote it before
        store = Store(path, writable=True)
        fill(store, 300)
        store.flush()
    raw = json.loads(path.read_bytes())
    assert raw["meta"]["1"]["schema"] == 2 and len(raw["drafts"]) == 300
    assert not parts(path)
    before = Store(path)
    expected = (before.interviews(), before.drafts(), before.prefs(), before.cursor("personal"))
    Store(path).interviews()  # read-only: left as it is
    assert json.loads(path.read_bytes()) == raw
    upgraded = Store(path, writable=True)
    upgraded.flush()
    main = json.loads(path.read_bytes())
    assert main["meta"]["1"]["schema"] == SCHEMA_VERSION == 3
    assert "drafts" not in main and "meetings" not in main and "cursors" not in main
    assert len(path.read_bytes()) < 20_000
    assert {name.split(".")[0] for name in parts(path)} == {"meetings", "briefs", "drafts",
                                                            "cursors"}  # one per table
    again = Store(path)
    assert (again.interviews(), again.drafts(), again.prefs(),
            again.cursor("personal")) == expected
    assert again.cursor_tagging("personal") == "tags"


def test_opening_reads_no_part_until_its_table_is_read(tmp_path: Path,
                                                       small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.flush()
    Store(path, writable=True)  # keeps today's backup: reads every part, once a day
    opened = Store(path, writable=True)
    assert not opened._storage.loaded("meetings")  # type: ignore[union-attr]
    assert not opened._storage.loaded("drafts")  # type: ignore[union-attr]
    assert opened.cursor("personal") == {"files": "x" * 100_000}
    assert len(opened.interviews()) == 300
    assert opened._storage.loaded("meetings")  # type: ignore[union-attr]


def test_a_draft_rewrites_one_part_and_the_small_file_only(tmp_path: Path,
                                                           small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 2_000)
    store.flush()
    store = Store(path, writable=True)
    store.interviews()
    store.drafts()
    before = parts(path)
    store.put_draft(record(5_000, "creating"))
    assert store.flush()
    after = parts(path)
    new = set(after) - set(before)
    assert len(new) == 1 and next(iter(new)).startswith("drafts.")
    assert len(set(before) - set(after)) == 1  # the part it replaced, removed
    assert len(after) == len(before)
    store.put_draft(replace(record(5_000), observed="untouched"))
    store.flush()
    store.set_cursor("personal", {"files": "y" * 100_000}, "tags")
    store.flush()
    changed = set(parts(path)) - set(after)
    assert {name.split(".")[0] for name in changed} == {"drafts", "cursors"}
    assert len(changed) == 2
    again = Store(path)
    assert again.drafts()[record(5_000).key] == replace(record(5_000), observed="untouched")
    assert again.cursor("personal") == {"files": "y" * 100_000}
    assert roster.read(path) == frozenset(str(doc_id(k)) for k in again.drafts())


def test_a_part_changed_and_changed_back_before_a_flush_is_kept(tmp_path: Path,
                                                                small_inline: None) -> None:
    """The parts a flush would write again with the same content stay as they are: compared
    with the file itself, read or not (no digest is kept of what a read-only command reads)."""
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 2_000)
    store.flush()
    before = parts(path)
    store = Store(path, writable=True)
    store.put_draft(replace(record(7), observed="gone"))
    store.put_draft(record(7))
    store.put_interview(interview(3))  # its part is never read: compared on disk
    store.flush()
    assert parts(path) == before
    store.put_draft(replace(record(7), observed="gone"))
    store.flush()
    assert len(set(parts(path)) - set(before)) == 1


def test_the_backup_of_a_state_in_parts_is_one_file_that_restores(tmp_path: Path,
                                                                  small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.flush()
    Store(path, writable=True)  # keeps the backup
    backup = backups.backup_path(path, 1)
    whole = json.loads(backup.read_bytes())
    assert len(whole["drafts"]) == 300 and "_parts" not in whole
    store = Store(path, writable=True)
    for n in range(300, 310):
        store.put_draft(record(n))
    store.flush()
    shutil.copyfile(backup, path)  # the advice's `cp`
    restored = Store(path, writable=True)
    assert len(restored.drafts()) == 300
    assert [k for k in (record(305).key, record(3).key) if restored.may_exist(k)] == [
        record(305).key]  # made after the backup: looked up before it is written again
    assert len(restored.interviews()) == 300
    restored.put_draft(record(305))
    restored.flush()
    assert not Store(path, writable=True).may_exist(record(305).key)


def test_a_missing_part_is_refused_with_the_restore_advice(tmp_path: Path,
                                                           small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.flush()
    Store(path, writable=True)  # keeps the backup
    victim = next(n for n in parts(path) if n.startswith("drafts."))
    (path.with_name("state.json.parts") / victim).unlink()
    with pytest.raises(StateError) as caught:
        Store(path).drafts()
    assert victim in str(caught.value) and f"cp {path}.bak.1 {path}" in str(caught.value)
    other = tmp_path / "other" / "state.json"
    store = Store(other, writable=True)
    fill(store, 300)
    store.flush()
    damaged = other.with_name("state.json.parts") / next(
        n for n in parts(other) if n.startswith("meetings."))
    damaged.write_bytes(b'{"12": ')
    opened = Store(other)  # the part is read when the meetings are
    with pytest.raises(StateError, match=r"damaged .*not JSON"):
        opened.interviews()


def test_a_reader_keeps_reading_what_it_opened_while_a_writer_saves(tmp_path: Path,
                                                                    small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.flush()
    reader = Store(path)
    writer = Store(path, writable=True)
    writer.put_interviews(replace(interview(n), notes="changed") for n in range(300))
    writer.flush()
    assert {iv.notes for iv in reader.interviews()} == {""}  # its own snapshot, whole
    assert {iv.notes for iv in Store(path).interviews()} == {"changed"}


def test_leftover_parts_of_a_killed_writer_are_swept_by_the_next(tmp_path: Path,
                                                                 small_inline: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.flush()
    folder = path.with_name("state.json.parts")
    (folder / "drafts.3.99999.json").write_text("{}")
    named = set(parts(path))
    Store(path)
    assert (folder / "drafts.3.99999.json").exists()  # a reader never removes any
    Store(path, writable=True)
    assert set(parts(path)) == named - {"drafts.3.99999.json"}


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from daemon.core.model import DraftRecord, DraftRef, Interview, Meeting, Person
from daemon.state.store import Store
store = Store(Path(sys.argv[1]), writable=True)
t = datetime(2026, 1, 1, tzinfo=UTC)
i = len(store.drafts())
while True:
    i += 1
    m = Meeting(uid=f"m{i}", title="x" * 500, start=t, end=t + timedelta(hours=1))
    store.put_interview(Interview(meeting=m, account="a", contacts=(Person("a@b.co"),)))
    store.put_draft(DraftRecord(key=f"m{i}/thank_you/a@b.co", kind="thank_you",
                                contact="a@b.co", account="a", meeting_uid=f"m{i}",
                                state="created", due=t, reason="r", created_at=t,
                                ref=DraftRef(f"d{i}")))
    store.set_cursor("a", {"n": i, "pad": "p" * 5000}, "t")
    store.flush()
    print(i, flush=True)
"""


@pytest.mark.parametrize("inline", ["0", "3000"])
def test_kills_at_random_instants_leave_a_whole_state_in_parts(tmp_path: Path,
                                                               inline: str) -> None:
    path = tmp_path / "state.json"
    env = {**os.environ, "COFFEECHAT_STATE_INLINE_BYTES": inline}
    rng = random.Random(20261203)
    seen = []
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 12)):
            assert proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = Store(path, writable=True)  # must not raise
        meetings, drafts = len(loaded.interviews()), len(loaded.drafts())
        cursor = loaded.cursor("a")
        assert cursor is not None and meetings == drafts == cursor["n"]  # one commit, whole
        known = roster.read(path) or frozenset()
        held = frozenset(str(doc_id(k)) for k in loaded.drafts())
        assert known <= held  # the ledger is written after the state: it may lag by the
        assert held - known <= {str(doc_id(f"m{cursor['n']}/thank_you/a@b.co"))}  # last save
        assert not any(loaded.may_exist(k) for k in loaded.drafts())
        assert loaded._storage is not None
        briefs = loaded._storage.derived_table(BRIEFS)  # saved with the meetings, whole
        stored = (loaded._storage.read() or {})["meetings"]
        assert briefs is not None
        assert dict(briefs) == {k: codec.brief_from_json(d) for k, d in stored.items()}
        seen.append(meetings)
    assert seen == sorted(seen) and seen[-1] > 20
    assert parts(path)
    named = {f for t in json.loads(path.read_bytes())["_parts"]["1"]["tables"].values()
             for f in t["files"].values()}
    assert set(parts(path)) == named  # the writer swept what the kills left


def test_a_record_kept_in_a_file_of_its_own_is_read_when_asked_for(
        tmp_path: Path, small_inline: None) -> None:
    from tinydb.table import Document

    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    fill(store, 300)
    store.meta.upsert(Document({"big": "z" * 50_000}, doc_id=9))  # as the settled record
    store.flush()
    Store(path, writable=True)  # keeps today's backup
    opened = Store(path, writable=True)
    meta = opened._storage.read()["meta"]  # type: ignore[union-attr,index]
    assert dict.__getitem__(meta, "9") is lazy.UNREAD  # opening read the schema only
    opened.set_plan_memo("key", T0)
    assert opened.flush()
    assert dict.__getitem__(meta, "9") is lazy.UNREAD  # nor did saving another record
    assert opened.meta.get(doc_id=9) == {"big": "z" * 50_000}
    assert Store(path).meta.get(doc_id=9) == {"big": "z" * 50_000}
    assert Store(path).plan_memo() == ("key", T0)
