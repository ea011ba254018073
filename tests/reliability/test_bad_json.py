"""Hostile JSON. Event JSON through the Google and Graph mappings: each event either becomes a
meeting or a removal, or is refused with ``BadEvent`` and a reason; nothing else escapes, and
whatever comes out is clean enough for tagging and planning. A state file that is valid JSON
of the wrong shape: every command refuses it as damaged, with the advice that restores its
backup, no traceback, and the file left as it is."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.google import mapping as google
from connectors.mapping import BadEvent, Mapped
from connectors.outlook import mapping as graph
from daemon.app.cli import main
from daemon.app.service import Service
from daemon.core.model import Cadence, DraftRecord, DraftRef, Meeting, TaggingRules
from daemon.core.tagging import interview_from
from daemon.plan.planner import plan
from daemon.settings.config import load
from daemon.state import codec
from daemon.state.database import doc_id
from tests.reliability.conftest import Record

TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
NASTY = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), NASTY, st.lists(NASTY, max_size=3),
    st.dictionaries(NASTY, NASTY, max_size=3))
TIMES = st.one_of(st.just("2026-11-18T15:00:00"), st.just("2026-11-18T15:00:00Z"),
                  st.just("2026-13-45T99:00"), st.just(""), NASTY)
ZONES = st.sampled_from(["UTC", "Pacific Standard Time", "America/New_York", "Mars/Base",
                         "", "+05:00"])
COUNTS = {"google events": 0, "google refused": 0, "graph events": 0, "graph refused": 0}
STATE_COUNTS = {"state shapes refused": 0}


def person(address: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"email": address, "displayName": NASTY,
                                  "responseStatus": st.sampled_from(["accepted", "declined",
                                                                     "bogus"])})


ADDRESS = st.one_of(st.just("ana@example.org"), NASTY, JUNK)
GOOGLE_EVENT = st.fixed_dictionaries(
    {"id": st.one_of(st.just("ev1"), JUNK)},
    optional={"iCalUID": st.one_of(st.just("uid-1@google.com"), JUNK),
              "status": st.sampled_from(["confirmed", "cancelled", "tentative"]),
              "summary": st.one_of(NASTY.map(lambda t: "coffee chat " + t), JUNK),
              "description": st.one_of(NASTY, st.just("<p>" + "x" * 100_000 + "</p>"), JUNK),
              "start": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                        "timeZone": ZONES}), JUNK),
              "end": st.one_of(st.fixed_dictionaries({"dateTime": TIMES}), JUNK),
              "attendees": st.one_of(st.lists(person(ADDRESS), max_size=3), JUNK),
              "organizer": st.one_of(person(ADDRESS), JUNK),
              "hangoutLink": JUNK, "location": JUNK, "colorId": JUNK,
              "extendedProperties": JUNK, "originalStartTime": JUNK})
GRAPH_EVENT = st.fixed_dictionaries(
    {"id": st.one_of(st.just("AAMk1"), JUNK)},
    optional={"iCalUId": st.one_of(st.just("040000008200E00074C5B7101A82E008"), JUNK),
              "type": st.sampled_from(["singleInstance", "occurrence", "exception", "x"]),
              "subject": st.one_of(NASTY.map(lambda t: "coffee chat " + t), JUNK),
              "body": st.one_of(st.fixed_dictionaries(
                  {"contentType": st.sampled_from(["html", "text"]),
                   "content": st.one_of(NASTY, st.just("<div>" * 5000))}), JUNK),
              "start": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                        "timeZone": ZONES}), JUNK),
              "end": st.one_of(st.fixed_dictionaries({"dateTime": TIMES,
                                                      "timeZone": ZONES}), JUNK),
              "isAllDay": JUNK, "isCancelled": JUNK, "isOrganizer": JUNK,
              "categories": st.one_of(st.lists(NASTY, max_size=3), JUNK),
              "attendees": JUNK, "organizer": JUNK, "location": JUNK,
              "onlineMeeting": JUNK, "@removed": JUNK, "seriesMasterId": JUNK})


def survive(meeting: Meeting) -> None:
    """What a connector delivered goes through tagging and planning without an error."""
    assert meeting.start.tzinfo is not None and meeting.end.tzinfo is not None
    assert "\r" not in meeting.title and "\n" not in meeting.title
    interview = interview_from(meeting, "acct", TaggingRules(), frozenset({"sam@x.org"}))
    if interview is not None:
        plan([interview], {}, {}, NOW, Cadence(), TZ)


@settings(max_examples=300, deadline=None)
@given(GOOGLE_EVENT)
def test_google_mapping_refuses_or_maps_any_event(event: dict[str, Any]) -> None:
    COUNTS["google events"] += 1
    try:
        mapped = google.to_change(event, tz=TZ, color_id="5")
    except BadEvent as exc:
        COUNTS["google refused"] += 1
        assert str(exc)  # a reason a user can read
        return
    if isinstance(mapped, Mapped):
        survive(mapped.meeting)


@settings(max_examples=300, deadline=None)
@given(GRAPH_EVENT)
def test_graph_mapping_refuses_or_maps_any_event(event: dict[str, Any]) -> None:
    COUNTS["graph events"] += 1
    if graph.removed(event) is not None:
        return
    try:
        mapped = graph.to_meeting(event, tz=TZ, series_uids={})
    except BadEvent as exc:
        COUNTS["graph refused"] += 1
        assert str(exc)
        return
    survive(mapped.meeting)




# --- the state file: valid JSON of the wrong shape (issue 15, items 2 and 3) -------------------

STATE_CONFIG = """\
[me]
name = "Sam Rivera"
emails = ["sam@example.com"]
timezone = "America/Chicago"
[state]
path = "state.json"
[templates]
path = "templates/"
[[accounts]]
name = "personal"
kind = "local"
calendar = "calendar/"
drafts = "Drafts"
"""
SCHEMA = {"1": {"schema": 1}}
RECORD = codec.record_to_json(DraftRecord(
    key="m1/thank_you/ana@example.org", kind="thank_you", contact="ana@example.org",
    account="personal", meeting_uid="m1", state="created", due=NOW, reason="r",
    created_at=NOW, ref=DraftRef("1.M1P1.host", "abc")))
DEEP = "[" * 100_000 + "]" * 100_000
WRONG_SHAPES = {
    "a table that is a list": {"meta": SCHEMA, "meetings": []},
    "a table that is a text": {"meta": SCHEMA, "drafts": "none"},
    "meta as a list": {"meta": [{"schema": 1}]},
    "the whole file a list": [SCHEMA],
    "a record id that is not a number": {"meta": SCHEMA, "meetings": {"m1": {}}},
    "a record that is a number": {"meta": SCHEMA, "contacts": {"7": 7}},
    "a cursor that is a text": {"meta": SCHEMA, "cursors": {
        str(doc_id("personal")): {"account": "personal", "cursor": "abc", "tagging": "t"}}},
    "pending meetings that are a text": {"meta": SCHEMA, "pending": {
        str(doc_id("personal")): {"account": "personal", "uids": "m1"}}},
    "a draft record without its draft id": {"meta": SCHEMA, "drafts": {
        str(doc_id(RECORD["key"])): {k: v for k, v in RECORD.items() if k != "ref"}}},
    "a draft record whose draft id is a list": {"meta": SCHEMA, "drafts": {
        str(doc_id(RECORD["key"])): {**RECORD, "ref": ["1.M1P1.host", "abc"]}}},
    "100,000 nested arrays": DEEP,
    "100,000 nested arrays in a record": (
        '{"meta":{"1":{"schema":1}},"cursors":{"5":{"cursor":' + DEEP + "}}}"),
}
"""Each case as the JSON value written to the state file (a text is written as it is)."""


def coffeechat(*args: str) -> tuple[int, str]:
    """Run the ``coffeechat`` command in-process as its script does (errors become
    messages and exit codes; anything else escapes, as a traceback would): the exit status
    and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with patch.object(sys, "argv", ["coffeechat", *args]):
                main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def good_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose state has had two cycles, so that its daily backup exists; returns
    the config's path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    (tmp_path / "calendar").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(STATE_CONFIG)
    for _ in range(2):
        assert coffeechat("--config", str(config), "run", "--once")[0] == 0
    assert (tmp_path / "state.json.bak.1").exists()
    return config


@pytest.mark.parametrize("case", WRONG_SHAPES)
def test_a_state_of_the_wrong_shape_is_refused_by_every_command(
        good_state: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    state = good_state.parent / "state.json"
    shape = WRONG_SHAPES[case]
    state.write_text(shape if isinstance(shape, str) else json.dumps(shape))
    damaged = state.read_bytes()
    advice = f"`cp {state}.bak.1 {state}`"
    for command in (["run", "--once"], ["status"], ["status", "--json"], ["plan"],
                    ["doctor"]):
        code, shown = coffeechat("--config", str(good_state), *command)
        assert code == 1, (command, shown)
        assert "damaged" in shown and advice in shown, (command, shown)
        assert "Traceback" not in shown
        assert state.read_bytes() == damaged  # kept as it was
    code, shown = coffeechat("--config", str(good_state), "doctor")
    assert "FAIL  state file" in shown and "ok    backups" in shown

    settings = load(good_state)  # `run`: each cycle fails with the same message, no traceback
    with caplog.at_level(logging.ERROR):
        Service(settings, lambda: settings)._cycle()
    failed = [r for r in caplog.records if r.getMessage().startswith("cycle failed:")]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert "damaged" in failed[0].getMessage() and advice in failed[0].getMessage()
    assert state.read_bytes() == damaged
    assert (state.parent / "state.json.bak.1").read_bytes() != damaged
    STATE_COUNTS["state shapes refused"] += 1


def test_zz_bad_json_figures(figures: Record) -> None:
    assert COUNTS["google events"] and COUNTS["graph events"]
    figures("bad JSON (hypothesis)", {**COUNTS, "crashes": 0})
    if STATE_COUNTS["state shapes refused"]:  # not when only some tests were picked
        figures("state of the wrong shape", {"cases": len(WRONG_SHAPES), **STATE_COUNTS,
                                             "commands each": 6, "tracebacks": 0})
