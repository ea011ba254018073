"""The planner's timing people like: working hours, the daily limit on new drafts, the prep
note, and what the mailbox shows (thank-you already written, catch-up clock, no answer)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from daemon.core.keys import catch_up_key
from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    DraftRecord,
    MailSeen,
    ThreadRef,
)
from daemon.core.timing import WorkingHours
from daemon.plan.planner import plan
from tests.test_planner import ANA, BER, BO, interview, k, run, skip_of, spec_in

WEEKDAYS = WorkingHours(days=frozenset(range(5)), start=time(9), end=time(17))
AT_WORK = Cadence(working_hours=WEEKDAYS)
MONDAY = datetime(2024, 5, 13, 10, 0, tzinfo=BER)
TUESDAY = MONDAY + timedelta(days=1)
THREAD = ThreadRef(message_id="<x@example.org>", subject="Hi")


def test_a_weekend_confirmation_waits_for_monday_morning() -> None:
    p = run([interview(start=TUESDAY)], MONDAY - timedelta(days=3), cadence=AT_WORK)
    due = spec_in(p, k("confirmation"), "upcoming").due
    assert due == datetime(2024, 5, 13, 9, 0, tzinfo=BER).astimezone(UTC)


def test_a_confirmation_that_would_wait_too_long_keeps_its_usual_time() -> None:
    # Monday 10:00 meeting: Saturday 10:00 is the usual time; Monday 09:00 is too close.
    p = run([interview(start=MONDAY)], MONDAY - timedelta(days=4), cadence=AT_WORK)
    due = spec_in(p, k("confirmation"), "upcoming").due
    assert due == (MONDAY - timedelta(days=2)).astimezone(UTC)


def test_a_saturday_night_thank_you_is_not_held() -> None:
    saturday_evening = datetime(2024, 5, 11, 21, 0, tzinfo=BER)
    p = run([interview(start=saturday_evening)], saturday_evening + timedelta(hours=2),
            cadence=AT_WORK)
    assert spec_in(p, k("thank_you"), "due").due == (saturday_evening + timedelta(
        minutes=90)).astimezone(UTC)


def test_a_catch_up_due_on_sunday_waits_for_monday() -> None:
    met = datetime(2024, 1, 12, 10, 0, tzinfo=BER)
    p = run([interview(start=met)], met + timedelta(days=100), cadence=AT_WORK)
    due = spec_in(p, catch_up_key(ANA.email, 1), "upcoming").due.astimezone(BER)
    assert due.weekday() < 5 and time(9) <= due.time() < time(17)


def test_the_daily_limit_defers_the_least_urgent_first() -> None:
    ended = MONDAY - timedelta(hours=2)
    capped = replace(AT_WORK, max_new_drafts_per_day=1)
    p = run([interview("m1", ended), interview("m2", MONDAY + timedelta(days=1, hours=3),
                                               contacts=[BO])],
            MONDAY, cadence=capped)
    assert [s.key for s in p.due] == [k("thank_you")]
    waiting = spec_in(p, k("confirmation", "m2", BO), "upcoming")
    assert "at most 1 new drafts a day" in waiting.reason
    assert waiting.due == datetime(2024, 5, 14, 9, 0, tzinfo=BER).astimezone(UTC)


def test_drafts_made_today_count_against_the_limit() -> None:
    made = DraftRecord("other", "thank_you", "zed@x.example", "work", "m0", "created",
                       MONDAY, "", created_at=MONDAY - timedelta(hours=1))
    p = run([interview("m1", MONDAY - timedelta(hours=2))], MONDAY,
            cadence=replace(AT_WORK, max_new_drafts_per_day=1), drafts={"other": made})
    assert p.due == ()
    spec_in(p, k("thank_you"), "upcoming")


def test_the_prep_note_comes_the_day_before_and_stops_at_the_start() -> None:
    prep = replace(AT_WORK, prep_sheet=True)
    p = run([interview(start=TUESDAY)], MONDAY - timedelta(hours=1), cadence=prep)
    assert spec_in(p, k("prep"), "upcoming").due == MONDAY.astimezone(UTC)
    assert spec_in(run([interview(start=TUESDAY)], MONDAY, cadence=prep), k("prep"), "due")
    late = run([interview(start=TUESDAY)], TUESDAY, cadence=prep)
    assert "already started" in skip_of(late, k("prep")).reason
    assert not [s for s in run([interview(start=TUESDAY)], MONDAY).due if s.kind == "prep"]


def test_a_cancelled_or_stopped_meeting_gets_no_prep_note() -> None:
    prep = replace(AT_WORK, prep_sheet=True)
    assert "cancelled" in skip_of(run([interview(start=TUESDAY, cancelled=True)], MONDAY,
                                      cadence=prep), k("prep")).reason
    stopped = {ANA.email: ContactPrefs(ANA.email, "stopped")}
    assert "stopped" in skip_of(run([interview(start=TUESDAY)], MONDAY, cadence=prep,
                                    prefs=stopped), k("prep")).reason


def _mail(sent: datetime | None = None, got: datetime | None = None) -> dict[str, ContactMail]:
    return {ANA.email: ContactMail(
        ANA.email, None if got is None else MailSeen(got, THREAD),
        None if sent is None else MailSeen(sent, THREAD))}


def test_the_thank_you_is_skipped_when_the_user_wrote_after_the_start() -> None:
    ivs = [interview(start=MONDAY - timedelta(hours=3))]
    wrote = plan(ivs, {}, {}, MONDAY, Cadence(), BER, mail=_mail(sent=MONDAY - timedelta(hours=2)))
    assert "already wrote" in skip_of(wrote, k("thank_you")).reason
    before = plan(ivs, {}, {}, MONDAY, Cadence(), BER, mail=_mail(sent=MONDAY - timedelta(days=2)))
    spec_in(before, k("thank_you"), "due")


def _catch_up_record(n: int, made: datetime, observed: str = "gone") -> DraftRecord:
    return DraftRecord(catch_up_key(ANA.email, n), "catch_up", ANA.email, "work", "m1",
                       "created", made, "", created_at=made,
                       observed=observed)  # type: ignore[arg-type]


def test_two_unanswered_catch_ups_pause_the_contact() -> None:
    met = MONDAY - timedelta(days=400)
    first, second = MONDAY - timedelta(days=190), MONDAY - timedelta(days=95)
    records = {r.key: r for r in (_catch_up_record(1, first), _catch_up_record(2, second))}
    quiet = plan([interview(start=met)], {}, records, MONDAY, Cadence(), BER,
                 mail=_mail(sent=second + timedelta(hours=2)))
    assert quiet.to_pause and quiet.to_pause[0][0] == ANA.email
    assert "no answer to your last 2 catch-ups" in skip_of(
        quiet, catch_up_key(ANA.email, 3)).reason
    answered = plan([interview(start=met)], {}, records, MONDAY, Cadence(), BER,
                    mail=_mail(sent=second + timedelta(hours=2), got=first + timedelta(days=1)))
    assert answered.to_pause == ()
    resumed = {ANA.email: ContactPrefs(ANA.email, "active", since=second + timedelta(days=1))}
    after_resume = plan([interview(start=met)], resumed, records, MONDAY, Cadence(), BER,
                        mail=_mail(sent=second + timedelta(hours=2)))
    assert after_resume.to_pause == ()
    unsent = {r.key: r for r in (_catch_up_record(1, first, "untouched"),
                                 _catch_up_record(2, second, "untouched"))}
    not_sent = plan([interview(start=met)], {}, unsent, MONDAY, Cadence(), BER,
                    mail=_mail(sent=second + timedelta(hours=2)))
    assert not_sent.to_pause == ()


def test_a_late_draft_still_waits_for_working_hours() -> None:
    # The follow-up was due on Friday at 10:00 (the service was off); it is now Saturday.
    met = datetime(2024, 4, 10, 10, 0, tzinfo=BER)
    saturday = datetime(2024, 5, 11, 10, 0, tzinfo=BER)
    held = spec_in(run([interview(start=met)], saturday, cadence=AT_WORK), k("follow_up"),
                   "upcoming")
    assert held.due == MONDAY.replace(hour=9).astimezone(UTC)
    assert "waiting for working hours" in held.reason


def test_a_late_confirmation_is_not_held_past_its_last_moment() -> None:
    # Due on Friday; it is Saturday, and the meeting is on Sunday: Monday would be too late.
    sunday = datetime(2024, 5, 12, 10, 0, tzinfo=BER)
    p = run([interview(start=sunday)], datetime(2024, 5, 11, 8, 0, tzinfo=BER),
            cadence=AT_WORK)
    spec_in(p, k("confirmation"), "due")
