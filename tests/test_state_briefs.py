"""The briefs of a state in parts (issue 13, item 12): ``plan`` and ``status`` read each stored
meeting's brief instead of the meeting, so the briefs must say what the meetings say after
any write, and a state whose briefs are out of step (written by a coffeechat that did not keep
them, damaged, restored from a backup) must be read from its meetings, never from the
briefs."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.core.facts import NormalMeeting
from daemon.core.model import Cadence, ContactPrefs, Interview, Meeting, Person
from daemon.plan.settle import settleable
from daemon.state import backups, codec, storage
from daemon.state.schema import BRIEFS
from daemon.state.store import Store

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def interview(n: int, rng: random.Random | None = None) -> Interview:
    """Meeting ``n``: past or to come, with one to three people, some declined, some
    cancelled (drawn from ``rng``, else fixed)."""
    r = rng or random.Random(n)
    start = NOW + timedelta(hours=r.randint(-24 * 400, 24 * 60))
    people = tuple(Person(f"p{r.randint(0, 40)}@example.com", f"P {n}")
                   for _ in range(r.randint(1, 3)))
    meeting = Meeting(uid=f"m{n}@x", title=f"Coffee {n} {r.random():.3f}", start=start,
                      end=start + timedelta(minutes=r.choice([-5, 30, 60])),
                      description="notes " * 30, cancelled=r.random() < 0.1)
    return Interview(meeting, r.choice(["home", "work"]), people[:2], people[2:], "",
                     r.random() < 0.05)


def from_meetings(store: Store, *, settled: bool = False) -> list[NormalMeeting]:
    """What the store's meetings themselves give the planner (the reading the briefs stand
    in for)."""
    return [codec.normal_from_json(d) for d in store._meeting_documents(settled)]


def briefs_in_step(path: Path) -> dict[str, object]:
    """The briefs of the state at ``path``, checked to be in step with its meetings and to
    plan as they do."""
    store = Store(path)
    assert store._storage is not None
    briefs = store._storage.derived_table(BRIEFS)
    assert briefs is not None, "the briefs are not in step with the meetings"
    meetings = (store._storage.read() or {})["meetings"]
    assert dict(briefs) == {k: codec.brief_from_json(d) for k, d in meetings.items()}
    assert store.normal_meetings() == from_meetings(store)
    assert store.normal_meetings(settled=True) == from_meetings(store, settled=True)
    return dict(briefs)


def part_files(path: Path, table: str) -> set[str]:
    return {p.name for p in path.with_name(path.name + ".parts").glob(f"{table}.*")}


@pytest.fixture()
def in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "INLINE_BYTES", 0)  # every table in parts


def test_every_kind_of_write_keeps_the_briefs_in_step(tmp_path: Path, in_parts: None) -> None:
    path = tmp_path / "state.json"
    rng = random.Random(20261206)
    store = Store(path, writable=True)
    made = 0
    stored: set[int] = set()
    writes = []
    for step in range(40):
        what = rng.choice(["add", "add", "change", "remove", "settle", "unsettle", "reopen"])
        if what == "add" or not stored:
            batch = [interview(made + i, rng) for i in range(rng.randint(1, 40))]
            store.put_interviews(batch)
            stored |= set(range(made, made + len(batch)))
            made += len(batch)
        elif what == "change":
            for n in rng.sample(sorted(stored), min(5, len(stored))):
                iv = interview(n)
                store.put_interview(replace(iv, meeting=replace(
                    iv.meeting, title=f"moved {step}",
                    start=iv.meeting.start + timedelta(days=1))))
        elif what == "remove":
            n = rng.choice(sorted(stored))
            store.remove_meeting(interview(n).account, f"m{n}@x")
            stored.discard(n)
        elif what == "settle":
            found = settleable(store.interviews(), store.drafts(), store.pending_uids(), NOW,
                               Cadence())
            store.settle(found.meetings, found.records, NOW)
        elif what == "unsettle":
            store.unsettle_all()
        elif what == "reopen":
            store = Store(path, writable=True)
            continue
        writes.append(what)
        store.flush()
        briefs_in_step(path)
    assert {"add", "change", "remove", "settle", "unsettle"} <= set(writes)


def test_a_save_writes_the_briefs_of_what_changed_only(tmp_path: Path, in_parts: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(1_200))  # 1,200 meetings: 4 parts
    store.flush()
    before = part_files(path, BRIEFS)
    assert len(before) == 4
    store = Store(path, writable=True)
    iv = interview(7)
    store.put_interview(replace(iv, meeting=replace(iv.meeting, title="Coffee, moved")))
    store.flush()
    after = part_files(path, BRIEFS)
    assert len(after - before) == 1 and len(before - after) == 1
    assert briefs_in_step(path)
    titles = {m.title for m in Store(path).normal_meetings()}
    assert "Coffee, moved" in titles


def test_a_state_one_file_and_its_backups_keep_no_briefs(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(50))
    store.flush()
    assert BRIEFS not in json.loads(path.read_bytes())  # small: one file, read whole anyway
    monkeypatch.setattr(storage, "INLINE_BYTES", 0)
    store = Store(path, writable=True)
    store.put_interview(interview(50))
    store.flush()
    assert part_files(path, BRIEFS) and briefs_in_step(path)
    good = Store(path)._storage.good_bytes()  # type: ignore[union-attr]
    assert good is not None and BRIEFS not in json.loads(good)


def test_meetings_written_without_their_briefs_are_read_from_the_meetings(
        tmp_path: Path, in_parts: None) -> None:
    """As when a coffeechat that keeps no briefs wrote the state: it keeps the briefs' files
    and the record of what they were made from as they were, and writes the meetings."""
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(30))
    store.flush()
    older = Store(path, writable=True)
    assert older._storage is not None
    older._storage.derived = {}  # a writer that knows nothing of briefs
    iv = interview(3)
    older.put_interview(replace(iv, meeting=replace(iv.meeting, title="Changed elsewhere")))
    older.remove_meeting(interview(4).account, "m4@x")
    older.flush()
    reader = Store(path)
    assert reader._storage is not None and reader._storage.derived_table(BRIEFS) is None
    quick = reader.normal_meetings()
    assert quick == from_meetings(reader)
    assert "Changed elsewhere" in {m.title for m in quick} and len(quick) == 29
    Store(path, writable=True).flush()  # the next writer makes them again, unasked
    assert len(briefs_in_step(path)) == 29


def test_a_damaged_brief_is_read_from_its_meeting(tmp_path: Path, in_parts: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(30))
    store.flush()
    [name] = part_files(path, BRIEFS)
    file = path.with_name(path.name + ".parts") / name
    briefs = json.loads(file.read_bytes())
    first = sorted(briefs)[0]
    briefs[first] = {"m": ["home", "m0@x"]}  # cut short, as by a hand edit
    file.write_text(json.dumps(briefs), "utf-8")
    reader = Store(path)
    assert reader.normal_meetings() == from_meetings(reader)
    assert len(reader.normal_meetings()) == 30


def test_a_restored_backup_is_given_its_briefs_by_its_first_writer(
        tmp_path: Path, in_parts: None) -> None:
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(30))
    store.flush()
    Store(path, writable=True)  # keeps today's backup
    backup = backups.backup_path(path, 1)
    assert BRIEFS not in json.loads(backup.read_bytes())
    for leftover in path.with_name(path.name + ".parts").iterdir():
        leftover.unlink()
    path.write_bytes(backup.read_bytes())  # restored as the README says
    reader = Store(path)
    assert reader._storage is not None and reader._storage.derived_table(BRIEFS) is None
    assert len(reader.normal_meetings()) == 30
    Store(path, writable=True).flush()
    assert len(briefs_in_step(path)) == 30


def test_a_save_reads_no_table_it_does_not_change(tmp_path: Path, in_parts: None) -> None:
    """A contact's choice saved over a large state neither parses the meetings nor their
    briefs (nor any other table in parts), and leaves them as they were; once the meetings
    were read, still not their briefs."""
    path = tmp_path / "state.json"
    store = Store(path, writable=True)
    store.put_interviews(interview(n) for n in range(600))
    store.flush()
    Store(path, writable=True)  # keeps today's backup, reading the whole state for it
    before = {t: part_files(path, t) for t in ("meetings", BRIEFS)}
    store = Store(path, writable=True)
    assert store._storage is not None
    store.put_prefs(ContactPrefs("p1@example.com", "paused", NOW))
    assert store.flush()
    assert not store._storage.loaded("meetings") and not store._storage.loaded(BRIEFS)
    assert {t: part_files(path, t) for t in ("meetings", BRIEFS)} == before
    assert len(store.interviews()) == 600  # read, as a cycle that plans reads them
    store.put_prefs(ContactPrefs("p2@example.com", "paused", NOW))
    assert store.flush()
    assert not store._storage.loaded(BRIEFS)  # the meetings did not change: nor do they
    assert {t: part_files(path, t) for t in ("meetings", BRIEFS)} == before
    again = Store(path)
    assert again.prefs()["p1@example.com"].status == "paused"
    assert len(briefs_in_step(path)) == 600
