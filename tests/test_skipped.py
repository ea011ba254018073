"""What a calendar could not give (SourceNotes, refused events), kept per account by the cycle:
replaced by a full sync, per source by an incremental one, written with the cursor, bounded."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.app.views import SHOWN_NOTES, status_json, status_text
from daemon.core import skipped
from daemon.core.errors import TransientError
from daemon.core.model import JSON, Change, Meeting, Plan, SourceNotes, TaggingRules
from daemon.core.skipped import MAX_NOTE_CHARS, MAX_NOTES, MAX_SOURCE_CHARS, MAX_SOURCES, Skipped
from daemon.cycle.health import Health
from daemon.state.store import Store
from tests.memory import MemoryCalendar
from tests.test_cycle import NOW, Harness, meeting


@dataclass
class NotingCalendar(MemoryCalendar):
    """A memory calendar whose next listing also says ``notes`` (then forgets them) and, with
    ``fail_after_notes``, fails once it has said them."""

    notes: list[SourceNotes] = field(default_factory=list)
    fail_after_notes: bool = False
    cursors: list[JSON | None] = field(default_factory=list)

    def changes(self, cursor: JSON | None, *, only_tagged: TaggingRules | None = None
                ) -> Generator[Change, None, JSON]:
        self.cursors.append(cursor)
        yield from self.notes
        if self.fail_after_notes:
            raise TransientError("connection reset")
        cursor = yield from super().changes(cursor)
        self.notes = []
        return cursor


def harness(tmp_path: Path) -> tuple[Harness, NotingCalendar]:
    h = Harness(tmp_path)
    calendar = NotingCalendar()
    h.world.calendars["personal"] = calendar
    return h, calendar


def stored(h: Harness) -> Skipped:
    return Store(h.settings.state_path).skipped().get("personal", Skipped())


def test_an_incremental_sync_replaces_only_the_sources_it_names(tmp_path: Path) -> None:
    h, calendar = harness(tmp_path)
    calendar.put(replace(meeting("m1", NOW + timedelta(days=5)), source="good.ics"))
    calendar.notes = [SourceNotes("big.ics", ("2.1 GB is over the 50 MB limit; skipped",)),
                      SourceNotes("rule.ics", ("'Chat': UNTL= is not a rule part",))]
    assert h.cycle().ok
    assert calendar.cursors == [None]
    assert stored(h).by_source() == calendar_said(
        ("big.ics", "2.1 GB is over the 50 MB limit; skipped"),
        ("rule.ics", "'Chat': UNTL= is not a rule part"))
    calendar.notes = [SourceNotes("rule.ics", ("'Chat': FREQ is missing",)),
                      SourceNotes("big.ics", ())]
    h.cycle()
    assert calendar.cursors[-1] is not None, "an incremental sync"
    assert stored(h).by_source() == calendar_said(("rule.ics", "'Chat': FREQ is missing"))
    h.cycle()  # says nothing: what was said stays
    assert stored(h).by_source() == calendar_said(("rule.ics", "'Chat': FREQ is missing"))
    calendar.notes = [SourceNotes("rule.ics", ())]
    h.cycle()
    assert stored(h) == Skipped()
    assert "skipped" not in _tables(h)


def test_a_full_sync_replaces_everything_the_account_had(tmp_path: Path) -> None:
    h, calendar = harness(tmp_path)
    calendar.notes = [SourceNotes("a.ics", ("bad",)), SourceNotes("b.ics", ("worse",))]
    h.cycle()
    calendar.expire_cursor = True
    calendar.notes = [SourceNotes("c.ics", ("new",))]
    h.cycle()
    assert calendar.full_syncs == 2
    assert stored(h).by_source() == calendar_said(("c.ics", "new"))


def test_notes_are_written_only_with_the_cursor(tmp_path: Path) -> None:
    h, calendar = harness(tmp_path)
    calendar.notes = [SourceNotes("a.ics", ("bad",))]
    calendar.fail_after_notes = True
    report = h.cycle()
    assert not report.ok
    store = Store(h.settings.state_path)
    assert store.skipped() == {} and store.cursor("personal") is None
    calendar.fail_after_notes = False
    h.cycle()
    assert stored(h).by_source() == calendar_said(("a.ics", "bad"))


def test_an_event_that_fails_tagging_is_a_note_of_its_source_until_it_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.core.tagging import interview_from as real

    h, calendar = harness(tmp_path)
    chat = replace(meeting("m1", NOW + timedelta(days=5), title="Coffee chat"), source="team.ics")
    calendar.put(chat)
    calendar.put(replace(meeting("m2", NOW + timedelta(days=6)), source="other.ics"))
    def failing(m: Meeting, *args: object) -> object:
        if m.uid == "m1":
            raise ValueError("an odd attendee")
        return real(m, *args)  # type: ignore[arg-type]

    monkeypatch.setattr("daemon.cycle.run.interview_from", failing)  # tagging "raises nothing"
    calendar.notes = [SourceNotes("team.ics", ("'Standup': a TZID no one knows; read as UTC",))]
    assert h.cycle().ok
    [team] = stored(h).by_source()
    assert team.source == "team.ics" and len(team.notes) == 2
    assert team.notes[0].startswith("'Standup'")
    assert "'Coffee chat'" in team.notes[1] and "an odd attendee" in team.notes[1]
    calendar.put(replace(meeting("m2", NOW + timedelta(days=7)), source="other.ics"))
    h.cycle()  # another source changed: the refusal stays
    assert len(stored(h).by_source()[0].notes) == 2
    monkeypatch.setattr("daemon.cycle.run.interview_from", real)
    calendar.put(chat)
    h.cycle()  # the event is read again, and tags: only what the calendar said is left
    assert stored(h).by_source() == calendar_said(
        ("team.ics", "'Standup': a TZID no one knows; read as UTC"))
    assert [iv.meeting.uid for iv in Store(h.settings.state_path).interviews()] == ["m1", "m2"]


def test_a_hostile_calendar_cannot_bloat_the_state(tmp_path: Path) -> None:
    h, calendar = harness(tmp_path)
    huge = "x\x1b[2J" * 100_000  # 500 kB with terminal escapes
    calendar.notes = [SourceNotes(f"{i:04}-{'y' * 1000}.ics", (huge,) * 10_000)
                      for i in range(1_000)]
    assert h.cycle().ok
    found = stored(h)
    assert found.more
    assert len(found.said) == MAX_SOURCES
    for source, notes in found.said.items():
        assert len(source) <= MAX_SOURCE_CHARS
        assert len(notes) == MAX_NOTES and notes[-1].startswith("and 9996 more")
        assert all(len(n) <= MAX_NOTE_CHARS and "\x1b" not in n for n in notes)
    assert h.settings.state_path.stat().st_size < 200_000
    calendar.notes = [SourceNotes(f"new-{i}.ics", ("bad",)) for i in range(3)]
    h.cycle()  # no room left: still flagged, nothing added
    assert len(stored(h).said) == MAX_SOURCES and stored(h).more


def test_update_clears_the_flag_only_on_a_full_sync() -> None:
    full_of = Skipped(said={f"{i}.ics": ("bad",) for i in range(MAX_SOURCES)}, more=True)
    emptied = skipped.update(full_of, full=False, said={"0.ics": ()}, refused={}, read=())
    assert emptied.more and len(emptied.said) == MAX_SOURCES - 1
    fresh = skipped.update(full_of, full=True, said={"0.ics": ("bad",)}, refused={}, read=())
    assert not fresh.more and list(fresh.said) == ["0.ics"]


def test_status_text_lists_a_long_tail_in_part_and_json_in_full() -> None:
    many = {"personal": Skipped(said={f"{i:02}.ics": ("bad", "worse") for i in range(20)},
                                more=True)}
    nothing = Plan(due=(), upcoming=(), skipped=())
    text = status_text(Health(), [], {}, nothing, ZoneInfo("UTC"), many, now=NOW)
    lines = text.split("Not read in full", 1)[1].splitlines()[1:]
    assert len(lines) == SHOWN_NOTES + 1
    assert lines[0] == "  personal  00.ics: bad"
    assert lines[-1] == "  ... and 11 more: `coffeechat status --json` lists them all"
    [shown] = status_json(Health(), [], {}, nothing, many, now=NOW)["not_read"]
    assert shown["more"] is True and len(shown["sources"]) == 20


def calendar_said(*pairs: tuple[str, str]) -> list[SourceNotes]:
    return [SourceNotes(source, (note,)) for source, note in pairs]


def _tables(h: Harness) -> dict[str, object]:
    tables: dict[str, object] = json.loads(h.settings.state_path.read_text())
    return {name: docs for name, docs in tables.items() if docs}
