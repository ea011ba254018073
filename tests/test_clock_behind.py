"""A clock that is wrong never produces wrong drafts: nothing earlier in a meeting's life than
a draft already written, a written thank-you withdrawn only when the meeting's own start moved,
and a clock behind the last recorded cycle reported in the log, ``status`` and ``doctor``."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.app.doctor import run_checks
from daemon.app.service import cycle_once
from daemon.app.views import status_text
from daemon.core.model import Plan
from daemon.cycle import health
from daemon.cycle.reconcile import _legacy_facts, facts_of
from daemon.state.store import Store
from tests.test_cycle import NOW, ZONE, Harness, meeting, settings
from tests.test_planner import ANA, START, interview, k, record, run, skip_of

THANK_YOU = "m1/thank_you/ana@example.org"


# --- the planner's guard -------------------------------------------------------------------


def test_no_confirmation_or_prep_once_the_thank_you_is_written() -> None:
    two_days_before = START - timedelta(days=2)  # what a clock set back says
    written = {k("thank_you"): record(k("thank_you"), "thank_you", ANA.email, START)}
    p = run([interview()], two_days_before, drafts=written)
    assert "thank-you is already written" in skip_of(p, k("confirmation")).reason
    assert "clock behind" in skip_of(p, k("confirmation")).reason
    assert not run([interview()], two_days_before).skipped  # without it: due as usual


def test_no_thank_you_once_the_follow_up_is_written() -> None:
    written = {k("follow_up"): record(k("follow_up"), "follow_up", ANA.email, START)}
    p = run([interview()], START + timedelta(hours=2), drafts=written)
    assert "follow-up is already written" in skip_of(p, k("thank_you")).reason


def test_a_thank_you_being_withdrawn_does_not_hold_the_confirmation_back() -> None:
    going = {k("thank_you"): record(k("thank_you"), "thank_you", ANA.email, START,
                                    state="withdrawing")}
    p = run([interview()], START - timedelta(days=2), drafts=going)
    assert k("confirmation") in {s.key for s in p.due}


# --- a whole cycle with the clock set back -------------------------------------------------


def test_a_clock_two_days_behind_and_a_location_edit_change_no_draft(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    assert [r.key for r in h.cycle().drafted] == [THANK_YOU]
    h.now = NOW - timedelta(days=2)  # the clock is set back
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3), location="Blue Bottle, 2nd floor"))
    report = h.cycle()
    assert report.drafted == [], "no confirmation after the thank-you"
    assert list(Store(h.settings.state_path).drafts()) == [THANK_YOU]
    assert len(h.box.messages) == 1  # the thank-you stays in Drafts


def test_a_written_thank_you_is_withdrawn_when_the_meeting_start_moves_ahead(
        tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.cycle()
    h.calendar.put(meeting("m1", NOW + timedelta(days=1, hours=1)))  # rescheduled: not yet held
    report = h.cycle()
    assert list(Store(h.settings.state_path).drafts()) == ["m1/confirmation/ana@example.org"]
    assert [r.kind for r in report.drafted] == ["confirmation"]  # for the new time
    [kept] = h.box.messages.values()  # the thank-you was withdrawn from Drafts
    assert b"X-Coffeechat-Key: m1/confirmation/" in kept


def test_a_thank_you_stays_when_only_the_end_moves(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.calendar.put(meeting("m1", NOW - timedelta(hours=3)))
    h.cycle()
    h.now = NOW - timedelta(days=2)
    longer = meeting("m1", NOW - timedelta(hours=3))
    h.calendar.put(replace(longer, end=longer.end + timedelta(minutes=30)))
    assert h.cycle().drafted == []
    assert list(Store(h.settings.state_path).drafts()) == [THANK_YOU]


# --- reported -------------------------------------------------------------------------------


def test_a_clock_behind_the_last_cycle_is_logged_shown_by_status_and_doctor(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = settings(tmp_path)
    h = Harness(tmp_path)
    cycle_once(config, clock=lambda: NOW, opener=h.world.opener)
    behind = NOW - timedelta(days=2)
    with caplog.at_level(logging.WARNING, logger="daemon.app.service"):
        cycle_once(config, clock=lambda: behind, opener=h.world.opener)
    assert "the clock is behind" in caplog.text
    found = health.load(config.state_path)
    assert found.clock_behind == health.ClockBehind(behind, NOW)
    text = status_text(found, [], {}, Plan((), (), ()), ZONE, now=behind)
    assert "the clock is behind" in text and "timedatectl" in text
    [clock] = [c for c in run_checks(config, behind) if c.name == "clock"]
    assert clock.warning and "the clock is behind" in clock.detail
    [fine] = [c for c in run_checks(config, NOW + timedelta(minutes=1)) if c.name == "clock"]
    assert not fine.warning
    cycle_once(config, clock=lambda: NOW + timedelta(minutes=5), opener=h.world.opener)
    assert health.load(config.state_path).clock_behind is None  # set right: said no more
    assert datetime.now(UTC) > NOW  # the fixed NOW is in the past: the real clock is fine


def test_a_digest_kept_before_the_start_was_its_own_part_is_upgraded(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    m1 = meeting("m1", NOW - timedelta(hours=3))
    h.calendar.put(m1)
    h.cycle()
    store = Store(h.settings.state_path, writable=True)
    old = store.drafts()[THANK_YOU]
    store.put_draft(replace(old, facts=_legacy_facts(m1)))
    store.flush()
    h.calendar.put(replace(m1, title="Coffee chat with Ana Li"))  # a change that moves nothing
    h.cycle()
    assert Store(h.settings.state_path).drafts()[THANK_YOU].facts == facts_of(m1)
