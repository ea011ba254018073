"""Tests for daemon.plan.planner: each rule with concrete times, DST changes, spreading, prefs."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.core.keys import catch_up_key, draft_key
from daemon.core.kinds import MEETING_KINDS
from daemon.core.model import (
    Cadence,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    DraftSpec,
    Interview,
    Meeting,
    Person,
    Plan,
    Skip,
)
from daemon.core.timing import add_days
from daemon.plan.planner import plan

BER = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
LH = ZoneInfo("Australia/Lord_Howe")
CAD = Cadence()  # 2 days before, 1 hour after, 30 days after, every 90 days, 5 a day
ANA = Person("ana@corp.example", "Ana Li")
BO = Person("bo@corp.example", "Bo Chen")
START = datetime(2024, 5, 10, 10, 0, tzinfo=BER)  # a Friday
END = START + timedelta(minutes=30)


def interview(
    uid: str = "m1",
    start: datetime = START,
    minutes: int = 30,
    contacts: Sequence[Person] = (ANA,),
    *,
    account: str = "work",
    cancelled: bool = False,
    user_declined: bool = False,
    declined: Sequence[Person] = (),
    title: str = "Coffee chat",
) -> Interview:
    m = Meeting(uid=uid, title=title, start=start, end=start + timedelta(minutes=minutes),
                cancelled=cancelled)
    return Interview(m, account, tuple(contacts), tuple(declined), "", user_declined)


def run(
    interviews: Sequence[Interview],
    now: datetime,
    *,
    prefs: Mapping[str, ContactPrefs] | None = None,
    drafts: Mapping[str, DraftRecord] | None = None,
    cadence: Cadence = CAD,
    tz: ZoneInfo = BER,
) -> Plan:
    return plan(interviews, prefs or {}, drafts or {}, now, cadence, tz)


def where(p: Plan, key: str) -> tuple[str, DraftSpec | Skip]:
    """Which list holds ``key`` (exactly once), and the entry."""
    found = [(name, item) for name, items in
             (("due", p.due), ("upcoming", p.upcoming), ("skipped", p.skipped))
             for item in items if item.key == key]
    assert len(found) == 1, f"{key} found {len(found)} times in {p}"
    return found[0]


def spec_in(p: Plan, key: str, expected: str) -> DraftSpec:
    """The spec under ``key``, checking it is in the ``expected`` list (due or upcoming)."""
    name, item = where(p, key)
    assert name == expected
    assert isinstance(item, DraftSpec)
    return item


def skip_of(p: Plan, key: str) -> Skip:
    """The skip under ``key``, checking that the key was skipped."""
    name, item = where(p, key)
    assert name == "skipped"
    assert isinstance(item, Skip)
    return item


def everything(p: Plan) -> list[DraftSpec | Skip]:
    return [*p.due, *p.upcoming, *p.skipped]


def k(kind: DraftKind, uid: str = "m1", contact: Person = ANA) -> str:
    return draft_key(kind, uid, contact.email)


def record(key: str, kind: DraftKind, contact: str, created_at: datetime | None,
           state: str = "created") -> DraftRecord:
    return DraftRecord(key=key, kind=kind, contact=contact, account="work", meeting_uid="x",
                       state=state, due=created_at or START,  # type: ignore[arg-type]
                       reason="", created_at=created_at)


# --- keys --------------------------------------------------------------------------------


def test_key_formats() -> None:
    assert draft_key("thank_you", "uid-9", "a@b.example") == "uid-9/thank_you/a@b.example"
    assert catch_up_key("a@b.example", 3) == "a@b.example/catch_up/3"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run([interview()], datetime(2024, 5, 1))


# --- confirmation ------------------------------------------------------------------------


def test_confirmation_upcoming_before_its_time() -> None:
    name, spec = where(run([interview()], datetime(2024, 5, 8, 9, 59, tzinfo=BER)),
                       k("confirmation"))
    assert name == "upcoming"
    assert isinstance(spec, DraftSpec)
    assert spec.due == datetime(2024, 5, 8, 10, 0, tzinfo=BER)
    assert spec.due.tzinfo is UTC


def test_confirmation_due_at_its_time() -> None:
    name, spec = where(run([interview()], datetime(2024, 5, 8, 10, 0, tzinfo=BER)),
                       k("confirmation"))
    assert name == "due"
    assert isinstance(spec, DraftSpec)
    assert spec.account == "work" and spec.contact == ANA and spec.meeting_uid == "m1"
    assert "late" not in spec.reason
    assert "Ana Li" in spec.reason and "Fri 10 May 2024 at 10:00" in spec.reason


def test_confirmation_just_over_12_hours_before_is_due_and_tagged_late() -> None:
    now = START - timedelta(hours=12, seconds=1)
    name, spec = where(run([interview()], now), k("confirmation"))
    assert name == "due"
    assert "tagged late" in spec.reason


def test_confirmation_exactly_12_hours_before_is_skipped() -> None:
    name, skip = where(run([interview()], START - timedelta(hours=12)), k("confirmation"))
    assert name == "skipped"
    assert "less than 12 hours away" in skip.reason


def test_confirmation_once_started_or_over_is_skipped() -> None:
    _, during = where(run([interview()], START + timedelta(minutes=5)), k("confirmation"))
    _, after = where(run([interview()], END + timedelta(days=1)), k("confirmation"))
    assert "already started" in during.reason
    assert "already taken place" in after.reason


# --- thank-you ---------------------------------------------------------------------------


def test_thank_you_upcoming_then_due_one_hour_after_the_end() -> None:
    spec = spec_in(run([interview()], END + timedelta(minutes=59)), k("thank_you"), "upcoming")
    assert spec.due == END + timedelta(hours=1)
    spec = spec_in(run([interview()], END + timedelta(hours=1)), k("thank_you"), "due")
    assert spec.reason == "thank-you: the meeting with Ana Li ended 1 hour ago"


def test_thank_you_seven_day_cutoff() -> None:
    name, _ = where(run([interview()], END + timedelta(days=7)), k("thank_you"))
    assert name == "due"
    name, skip = where(run([interview()], END + timedelta(days=7, seconds=1)), k("thank_you"))
    assert name == "skipped"
    assert "more than 7 days since the meeting" in skip.reason


# --- follow-up ---------------------------------------------------------------------------


def test_follow_up_window() -> None:
    due = datetime(2024, 6, 9, 10, 30, tzinfo=BER)  # 30 days after the end
    spec = spec_in(run([interview()], due - timedelta(seconds=1)), k("follow_up"), "upcoming")
    assert spec.due == due
    assert where(run([interview()], due), k("follow_up"))[0] == "due"
    last_ok = due + timedelta(days=21)
    spec = spec_in(run([interview()], last_ok), k("follow_up"), "due")
    assert "since your meeting with Ana Li on Fri 10 May 2024" in spec.reason
    name, skip = where(run([interview()], last_ok + timedelta(seconds=1)), k("follow_up"))
    assert name == "skipped"
    assert "missed: more than 21 days past its time" in skip.reason


# --- cancelled and declined -------------------------------------------------------------


@pytest.mark.parametrize(("options", "phrase"), [
    ({"cancelled": True}, "the meeting was cancelled"),
    ({"user_declined": True}, "you declined"),
])
def test_cancelled_or_user_declined_gives_only_skips(options: dict[str, bool],
                                                     phrase: str) -> None:
    now = END + timedelta(hours=2)
    p = run([interview(**options)], now)  # type: ignore[arg-type]
    assert p.due == () and p.upcoming == ()
    assert {s.key for s in p.skipped} == {k(kind) for kind in MEETING_KINDS}
    assert all(phrase in s.reason for s in p.skipped)


def test_cancelled_meeting_gives_no_catch_up_later() -> None:
    p = run([interview(cancelled=True)], END + timedelta(days=400))
    assert not any(s.kind == "catch_up" for s in everything(p))


def test_contact_who_declined_gets_nothing_others_do() -> None:
    p = run([interview(contacts=(ANA,), declined=(BO,))], END + timedelta(hours=2))
    assert where(p, k("thank_you"))[0] == "due"
    name, skip = where(p, k("thank_you", contact=BO))
    assert name == "skipped"
    assert isinstance(skip, Skip) and skip.contact == BO.email
    assert "Bo Chen declined" in skip.reason
    assert all(s.contact.email != BO.email for s in (*p.due, *p.upcoming))


# --- a second meeting restarts the cadence ---------------------------------------------------


def test_second_meeting_supersedes_the_first_follow_up() -> None:
    second = START + timedelta(days=14)
    ivs = [interview("m1"), interview("m2", start=second)]
    p = run(ivs, second + timedelta(hours=2))
    name, skip = where(p, k("follow_up", "m1"))
    assert name == "skipped"
    assert "superseded by the meeting on Fri 24 May 2024" in skip.reason
    assert where(p, k("follow_up", "m2"))[0] == "upcoming"
    assert where(p, k("thank_you", "m2"))[0] == "due"


def test_second_meeting_at_the_follow_up_time_supersedes_later_one_does_not() -> None:
    due = datetime(2024, 6, 9, 10, 30, tzinfo=BER)
    at = run([interview("m1"), interview("m2", start=due)], due + timedelta(hours=1))
    assert where(at, k("follow_up", "m1"))[0] == "skipped"
    after = run([interview("m1"), interview("m2", start=due + timedelta(minutes=1))],
                due + timedelta(minutes=30))
    assert where(after, k("follow_up", "m1"))[0] == "due"


def test_meeting_soon_after_supersedes_the_thank_you() -> None:
    ivs = [interview("m1"), interview("m2", start=END + timedelta(minutes=15))]
    p = run(ivs, END + timedelta(hours=2))
    assert where(p, k("thank_you", "m1"))[0] == "skipped"
    assert where(p, k("thank_you", "m2"))[0] == "due"


def test_cancelled_or_other_contact_second_meeting_does_not_supersede() -> None:
    second = START + timedelta(days=14)
    due = datetime(2024, 6, 9, 10, 30, tzinfo=BER)
    cancelled = run([interview("m1"), interview("m2", start=second, cancelled=True)], due)
    assert where(cancelled, k("follow_up", "m1"))[0] == "due"
    other = run([interview("m1"), interview("m2", start=second, contacts=(BO,))], due)
    assert where(other, k("follow_up", "m1"))[0] == "due"


def test_earlier_meeting_does_not_supersede_a_later_one() -> None:
    ivs = [interview("m2", start=START + timedelta(days=3)), interview("m1")]
    p = run(ivs, START + timedelta(days=3, hours=2))
    assert where(p, k("thank_you", "m2"))[0] == "due"
    assert where(p, k("follow_up", "m2"))[0] == "upcoming"


def test_the_first_later_meeting_supersedes_whatever_the_input_order() -> None:
    ivs = [interview("m1"), interview("m3", start=START + timedelta(days=14)),
           interview("m2", start=START + timedelta(days=7))]
    skip = skip_of(run(ivs, START + timedelta(days=14, hours=2)), k("follow_up", "m1"))
    assert "superseded by the meeting on Fri 17 May 2024" in skip.reason


# --- catch-ups ---------------------------------------------------------------------------


FIRST_CATCH_UP = datetime(2024, 9, 7, 10, 30, tzinfo=BER)  # end + 30 days + 90 days


def test_catch_up_anchored_after_the_follow_up() -> None:
    cu = catch_up_key(ANA.email, 1)
    name, spec = where(run([interview()], FIRST_CATCH_UP - timedelta(seconds=1)), cu)
    assert name == "upcoming"
    assert isinstance(spec, DraftSpec)
    assert spec.due == FIRST_CATCH_UP
    assert (spec.kind, spec.meeting_uid, spec.account, spec.contact) == (
        "catch_up", "m1", "work", ANA)
    name, spec = where(run([interview()], FIRST_CATCH_UP), cu)
    assert name == "due"
    assert "check in with Ana Li" in spec.reason


def test_catch_up_keeps_wall_clock_across_dst() -> None:
    ends = datetime(2024, 1, 10, 10, 30, tzinfo=BER)  # CET; catch-up lands in CEST
    iv = interview(start=ends - timedelta(minutes=30))
    spec = spec_in(run([iv], ends + timedelta(days=1)), catch_up_key(ANA.email, 1), "upcoming")
    local = spec.due.astimezone(BER)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2024-05-09", 10, 30)


def test_catch_up_anchored_after_the_previous_catch_up() -> None:
    made = FIRST_CATCH_UP + timedelta(minutes=5)
    drafts = {catch_up_key(ANA.email, 1): record(catch_up_key(ANA.email, 1), "catch_up",
                                                 ANA.email, made)}
    p = run([interview()], made + timedelta(days=1), drafts=drafts)
    spec = spec_in(p, catch_up_key(ANA.email, 2), "upcoming")
    assert spec.due == datetime(2024, 12, 6, 10, 35, tzinfo=BER)
    assert "last catch-up note" in spec.reason
    assert all(s.key != catch_up_key(ANA.email, 1) for s in everything(p))


def test_catch_up_uses_the_last_held_meeting_and_its_account() -> None:
    later = START + timedelta(days=60)
    ivs = [interview("m1"), interview("m2", start=later, account="home")]
    p = run(ivs, later + timedelta(days=200))
    name, spec = where(p, catch_up_key(ANA.email, 1))
    assert name == "due"
    assert isinstance(spec, DraftSpec)
    assert (spec.meeting_uid, spec.account) == ("m2", "home")
    assert spec.due == add_days(later + timedelta(minutes=30), 120, BER)


def test_no_catch_up_while_a_meeting_is_coming_up() -> None:
    upcoming = START + timedelta(days=300)
    p = run([interview("m1"), interview("m2", start=upcoming)], upcoming - timedelta(days=1))
    name, skip = where(p, catch_up_key(ANA.email, 1))
    assert name == "skipped"
    assert "a meeting is coming up" in skip.reason


def test_the_next_meeting_holds_the_catch_up_whatever_the_input_order() -> None:
    ivs = [interview("m1"), interview("m2", start=START + timedelta(days=300)),
           interview("m3", start=START + timedelta(days=200))]
    skip = skip_of(run(ivs, START + timedelta(days=199)), catch_up_key(ANA.email, 1))
    assert skip.reason.endswith("a meeting is coming up (Tue 26 Nov 2024 at 10:00)")


def test_catch_up_counts_from_the_greater_uid_of_two_meetings_ending_together() -> None:
    ivs = [interview("m2", account="home"), interview("m1")]
    spec = spec_in(run(ivs, FIRST_CATCH_UP), catch_up_key(ANA.email, 1), "due")
    assert (spec.meeting_uid, spec.account) == ("m2", "home")


def test_no_catch_up_without_a_held_meeting() -> None:
    p = run([interview()], START - timedelta(days=5))
    assert not any(s.kind == "catch_up" for s in everything(p))


def test_catch_up_number_skips_keys_already_used() -> None:
    made = FIRST_CATCH_UP
    drafts = {catch_up_key(ANA.email, 2): record(catch_up_key(ANA.email, 2), "catch_up",
                                                 ANA.email, made)}
    p = run([interview()], made + timedelta(days=1), drafts=drafts)
    assert where(p, catch_up_key(ANA.email, 3))[0] == "upcoming"


def test_catch_up_being_created_counts_as_made_now() -> None:
    now = FIRST_CATCH_UP + timedelta(days=1)
    key = catch_up_key(ANA.email, 1)
    drafts = {key: record(key, "catch_up", ANA.email, None, state="creating")}
    p = run([interview()], now, drafts=drafts)
    spec = spec_in(p, catch_up_key(ANA.email, 2), "upcoming")
    assert spec.due == add_days(now, 90, BER)


# --- spreading catch-ups -----------------------------------------------------------------


SPREAD_NOW = datetime(2024, 6, 1, 12, 0, tzinfo=BER)


def many_old_contacts(n: int = 30) -> list[Interview]:
    """``n`` contacts, each met once in 2022, a day apart: all catch-ups long overdue."""
    return [interview(f"old-{i:02d}", start=datetime(2022, 1, 1, 9, tzinfo=BER)
                      + timedelta(days=i), contacts=(Person(f"c{i:02d}@x.example"),))
            for i in range(n)]


def catch_ups(specs: Sequence[DraftSpec]) -> list[DraftSpec]:
    return [s for s in specs if s.kind == "catch_up"]


def test_thirty_overdue_catch_ups_spread_five_a_day() -> None:
    p = run(many_old_contacts(), SPREAD_NOW)
    due = catch_ups(p.due)
    assert [s.contact.email for s in due] == [f"c{i:02d}@x.example" for i in range(5)]
    waiting = catch_ups(p.upcoming)
    assert len(waiting) == 25
    for i, spec in enumerate(waiting):
        assert spec.contact.email == f"c{i + 5:02d}@x.example"
        assert spec.due == SPREAD_NOW + timedelta(days=i // 5 + 1)
        assert "waiting: at most 5 new catch-ups a day" in spec.reason


def test_next_five_only_after_24_hours() -> None:
    first = run(many_old_contacts(), SPREAD_NOW)
    made = {s.key: record(s.key, "catch_up", s.contact.email, SPREAD_NOW)
            for s in catch_ups(first.due)}
    again = run(many_old_contacts(), SPREAD_NOW, drafts=made)
    assert catch_ups(again.due) == []
    assert len(catch_ups(again.upcoming)) == 30  # 25 waiting + the next round of the 5 made
    almost = run(many_old_contacts(), SPREAD_NOW + timedelta(hours=23, minutes=59), drafts=made)
    assert catch_ups(almost.due) == []
    later = run(many_old_contacts(), SPREAD_NOW + timedelta(hours=24), drafts=made)
    assert [s.contact.email for s in catch_ups(later.due)] == [
        f"c{i:02d}@x.example" for i in range(5, 10)]


def test_catch_ups_made_in_the_last_24_hours_use_up_the_limit() -> None:
    recent = {f"z{i}@x.example/catch_up/1": record(f"z{i}@x.example/catch_up/1", "catch_up",
                                                   f"z{i}@x.example", at)
              for i, at in enumerate([SPREAD_NOW - timedelta(hours=23),
                                      SPREAD_NOW - timedelta(minutes=1),
                                      SPREAD_NOW - timedelta(hours=24),  # outside the window
                                      SPREAD_NOW - timedelta(days=3)])}
    p = run(many_old_contacts(10), SPREAD_NOW, drafts=recent)
    assert [s.contact.email for s in catch_ups(p.due)] == [
        f"c{i:02d}@x.example" for i in range(3)]


def test_limit_never_holds_back_meeting_drafts() -> None:
    fresh = interview("fresh", start=SPREAD_NOW - timedelta(hours=2))
    p = run([*many_old_contacts(), fresh], SPREAD_NOW)
    assert where(p, k("thank_you", "fresh"))[0] == "due"
    assert len(catch_ups(p.due)) == 5


def test_limit_of_zero_turns_catch_ups_off() -> None:
    p = run(many_old_contacts(3), SPREAD_NOW, cadence=Cadence(max_new_catch_ups_per_day=0))
    skipped = [s for s in p.skipped if s.kind == "catch_up"]
    assert len(skipped) == 3 and catch_ups(p.due) == [] and catch_ups(p.upcoming) == []
    assert all("turned off" in s.reason for s in skipped)


# --- stop, pause, resume -----------------------------------------------------------------


AFTER = END + timedelta(hours=2)


def test_stopped_contact_gets_nothing() -> None:
    prefs = {ANA.email: ContactPrefs(ANA.email, "stopped")}
    p = run([interview()], AFTER, prefs=prefs)
    assert p.due == () and p.upcoming == ()
    assert {s.key for s in p.skipped} >= {k("thank_you"), k("follow_up")}
    assert all("you stopped this contact" in s.reason for s in p.skipped)
    later = run([interview()], END + timedelta(days=200), prefs=prefs)
    _, skip = where(later, catch_up_key(ANA.email, 1))
    assert "you stopped this contact" in skip.reason


def test_pause_without_end_is_skipped_until_resume() -> None:
    prefs = {"ANA@corp.example": ContactPrefs(ANA.email, "paused")}
    p = run([interview()], AFTER, prefs=prefs)
    name, skip = where(p, k("thank_you"))
    assert name == "skipped"
    assert "paused until you resume" in skip.reason
    resumed = run([interview()], AFTER, prefs={ANA.email: ContactPrefs(ANA.email, "active")})
    assert where(resumed, k("thank_you"))[0] == "due"


def test_timed_pause_moves_due_drafts_to_its_end() -> None:
    until = AFTER + timedelta(days=2)
    prefs = {ANA.email: ContactPrefs(ANA.email, "paused", until)}
    p = run([interview()], AFTER, prefs=prefs)
    spec = spec_in(p, k("thank_you"), "upcoming")
    assert spec.due == until
    assert "paused until Sun 12 May 2024 at 12:30" in spec.reason
    follow = spec_in(p, k("follow_up"), "upcoming")
    assert follow.due == datetime(2024, 6, 9, 10, 30, tzinfo=BER)
    assert "paused" not in follow.reason


def test_timed_pause_also_holds_drafts_that_would_fall_due_during_it() -> None:
    until = END + timedelta(days=1)
    prefs = {ANA.email: ContactPrefs(ANA.email, "paused", until)}
    p = run([interview()], START - timedelta(hours=1), prefs=prefs)
    assert spec_in(p, k("thank_you"), "upcoming").due == until
    assert "paused until" in spec_in(p, k("thank_you"), "upcoming").reason


def test_pause_that_has_ended_counts_as_active() -> None:
    prefs = {ANA.email: ContactPrefs(ANA.email, "paused", AFTER - timedelta(minutes=1))}
    assert where(run([interview()], AFTER, prefs=prefs), k("thank_you"))[0] == "due"


def test_pause_holds_an_overdue_catch_up_without_using_the_daily_limit() -> None:
    until = SPREAD_NOW + timedelta(days=3)
    ivs = many_old_contacts(6)
    prefs = {"c00@x.example": ContactPrefs("c00@x.example", "paused", until)}
    p = run(ivs, SPREAD_NOW, prefs=prefs)
    assert [s.contact.email for s in catch_ups(p.due)] == [
        f"c{i:02d}@x.example" for i in range(1, 6)]
    spec = spec_in(p, catch_up_key("c00@x.example", 1), "upcoming")
    assert spec.due == until


# --- no contact, duplicates, drafts already made --------------------------------------------


def test_meeting_without_contact_gives_one_skip() -> None:
    p = run([interview(contacts=(), title="Coffee\r\nchat")], AFTER)
    assert p.due == () and p.upcoming == ()
    assert p.skipped == (Skip("m1/no-contact", None, None, "m1", p.skipped[0].reason),)
    reason = p.skipped[0].reason
    assert "attendee" in reason and '"Contact: Name <email>"' in reason
    assert '"Coffee chat"' in reason and "\n" not in reason


def test_same_uid_in_two_accounts_counts_once_first_account_wins() -> None:
    p = run([interview(account="work"), interview(account="home")], AFTER)
    assert [s.key for s in p.due] == [k("thank_you")]
    assert p.due[0].account == "work"
    assert len([s for s in p.upcoming if s.kind == "follow_up"]) == 1
    stale = [interview(account="work"), interview(account="home", start=START + timedelta(days=1))]
    later = run(stale, FIRST_CATCH_UP)
    cu = spec_in(later, catch_up_key(ANA.email, 1), "due")
    assert (cu.account, cu.due) == ("work", FIRST_CATCH_UP)


def test_keys_already_in_drafts_are_done() -> None:
    drafts = {k("thank_you"): record(k("thank_you"), "thank_you", ANA.email, AFTER)}
    p = run([interview()], AFTER, drafts=drafts)
    keys = [s.key for s in everything(p)]
    assert k("thank_you") not in keys
    assert k("follow_up") in keys


def test_output_is_sorted_by_due_then_key() -> None:
    people = [Person(f"p{i}@x.example") for i in (3, 1, 2)]
    p = run([interview(contacts=people)], AFTER)
    assert [s.key for s in p.due] == [k("thank_you", contact=Person(f"p{i}@x.example"))
                                      for i in (1, 2, 3)]
    assert list(p.upcoming) == sorted(p.upcoming, key=lambda s: (s.due, s.key))
    assert list(p.skipped) == sorted(p.skipped, key=lambda s: s.key)


def test_contact_addresses_are_matched_case_insensitively() -> None:
    shouty = Person("ANA@Corp.Example", "Ana Li")
    ivs = [interview("m1", contacts=(shouty,)), interview("m2", start=START + timedelta(days=3))]
    p = run(ivs, START + timedelta(days=3, hours=2))
    assert where(p, k("follow_up", "m1"))[0] == "skipped"  # same contact, superseded


# --- time zones and DST ------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "start", "real_hours"), [
    (NY, datetime(2024, 3, 11, 10, 0), 47),     # clocks go forward on Sun 10 Mar
    (NY, datetime(2024, 11, 4, 10, 0), 49),     # clocks go back on Sun 3 Nov
    (BER, datetime(2024, 4, 1, 10, 0), 47),     # forward on Sun 31 Mar
    (BER, datetime(2024, 10, 28, 10, 0), 49),   # back on Sun 27 Oct
    (LH, datetime(2024, 10, 7, 10, 0), 47.5),   # forward 30 minutes on Sun 6 Oct
    (LH, datetime(2024, 4, 8, 10, 0), 48.5),    # back 30 minutes on Sun 7 Apr
])
def test_days_before_keeps_wall_clock_across_dst(tz: ZoneInfo, start: datetime,
                                                 real_hours: float) -> None:
    begins = start.replace(tzinfo=tz)
    iv = interview(start=begins)
    p = run([iv], begins - timedelta(days=5), tz=tz)
    _, spec = where(p, k("confirmation"))
    assert isinstance(spec, DraftSpec)
    local = spec.due.astimezone(tz)
    assert (local.hour, local.minute) == (10, 0)
    assert (begins - spec.due) == timedelta(hours=real_hours)
    assert where(run([iv], spec.due, tz=tz), k("confirmation"))[0] == "due"
    assert where(run([iv], spec.due - timedelta(minutes=1), tz=tz),
                 k("confirmation"))[0] == "upcoming"


@pytest.mark.parametrize(("tz", "end", "expected_utc"), [
    (NY, datetime(2024, 3, 9, 10, 0), datetime(2024, 3, 10, 15, 0, tzinfo=UTC)),
    (BER, datetime(2024, 10, 26, 10, 0), datetime(2024, 10, 27, 8, 0, tzinfo=UTC)),
    (LH, datetime(2024, 10, 5, 10, 0), datetime(2024, 10, 5, 23, 30, tzinfo=UTC)),
])
def test_hours_after_are_absolute_across_dst(tz: ZoneInfo, end: datetime,
                                             expected_utc: datetime) -> None:
    ends = end.replace(tzinfo=tz)
    iv = interview(start=ends - timedelta(minutes=30))
    cadence = Cadence(thank_you_hours_after=24)
    spec = spec_in(run([iv], ends, cadence=cadence, tz=tz), k("thank_you"), "upcoming")
    assert spec.due == expected_utc
    assert spec.due - ends == timedelta(hours=24)
    local = spec.due.astimezone(tz)
    assert (local.hour, local.minute) != (10, 0)  # the wall clock moved with the change


def test_follow_up_days_after_keep_wall_clock() -> None:
    ends = datetime(2024, 10, 20, 15, 0, tzinfo=NY)  # EDT; follow-up lands in EST
    iv = interview(start=ends - timedelta(minutes=30))
    spec = spec_in(run([iv], ends, tz=NY), k("follow_up"), "upcoming")
    local = spec.due.astimezone(NY)
    assert (local.month, local.day, local.hour, local.minute) == (11, 19, 15, 0)
    assert spec.due - ends == timedelta(days=30, hours=1)


@pytest.mark.parametrize(("tz", "moment", "days", "expected_utc"), [
    # 02:30 on 10 Mar does not exist in New York: moved forward by the gap (03:30 EDT).
    (NY, datetime(2024, 3, 8, 2, 30), 2, datetime(2024, 3, 10, 7, 30, tzinfo=UTC)),
    # 01:30 on 3 Nov happens twice in New York: the first (EDT) is used.
    (NY, datetime(2024, 11, 5, 1, 30), -2, datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),
    # Lord Howe: 02:15 on 6 Oct does not exist (02:00 -> 02:30): 02:45 (+11).
    (LH, datetime(2024, 10, 4, 2, 15), 2, datetime(2024, 10, 5, 15, 45, tzinfo=UTC)),
    # Lord Howe: 01:45 on 7 Apr happens twice (02:00 -> 01:30): the first (+11).
    (LH, datetime(2024, 4, 9, 1, 45), -2, datetime(2024, 4, 6, 14, 45, tzinfo=UTC)),
    # Berlin: 02:30 on 31 Mar does not exist: 03:30 CEST.
    (BER, datetime(2024, 3, 30, 2, 30), 1, datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
])
def test_add_days_resolves_missing_and_repeated_local_times(
        tz: ZoneInfo, moment: datetime, days: int, expected_utc: datetime) -> None:
    result = add_days(moment.replace(tzinfo=tz), days, tz)
    assert result == expected_utc
    assert result.utcoffset() == timedelta(0)


def test_add_days_is_independent_of_the_moments_zone() -> None:
    in_tokyo = datetime(2024, 3, 9, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 8 Mar 10:00 NY
    result = add_days(in_tokyo, 2, NY).astimezone(NY)
    assert (result.day, result.hour, result.minute) == (10, 10, 0)  # 10:00 EDT, after the jump


def test_reasons_use_the_users_zone_not_the_machines() -> None:
    p = run([interview()], END + timedelta(minutes=5), tz=ZoneInfo("Pacific/Auckland"))
    name, spec = where(p, k("thank_you"))
    assert name == "upcoming"
    assert "ends (Fri 10 May 2024 at 20:30)" in spec.reason  # 10:30 in Berlin, 20:30 NZST


@pytest.mark.parametrize("uid", ["ümlaut@x", "has space", "a=?utf-8?q?x?=", "x" * 401, ""])
def test_uids_that_cannot_travel_in_a_header_are_hashed_in_keys(uid: str) -> None:
    key = draft_key("thank_you", uid, "ana@example.org")
    head = key.split("/")[0]
    assert head.startswith("h-") and len(head) == 34
    assert key.isascii() and " " not in key
    assert draft_key("thank_you", uid, "ana@example.org") == key  # stable
    assert draft_key("thank_you", uid + "x", "ana@example.org") != key


def test_plain_uids_are_kept_in_keys() -> None:
    uid = "040000008200E00074C5B7101A82E008@outlook.com/2026-03-02T15:00:00Z"
    assert draft_key("follow_up", uid, "a@b.org") == f"{uid}/follow_up/a@b.org"


def test_settled_meetings_anchor_catch_ups_but_add_nothing_else() -> None:
    contact = Person("old@example.org", "Old Friend")
    start = NOW_SETTLED - timedelta(days=400)
    meeting = Meeting(uid="ancient", title="coffee chat", start=start,
                      end=start + timedelta(minutes=30))
    result = plan([Interview(meeting=meeting, account="a", contacts=(contact,))], {}, {},
                  NOW_SETTLED, Cadence(), ZoneInfo("Europe/Berlin"))
    assert [s.kind for s in result.skipped] == []  # no stale "too late" reasons
    assert [s.key for s in (*result.due, *result.upcoming)] == ["old@example.org/catch_up/1"]


NOW_SETTLED = datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize("enabled", [True, False])
def test_planning_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        run([interview()], END + timedelta(hours=2))
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError, match="timezone-aware"):
            run([interview(start=START.replace(tzinfo=None))], END + timedelta(hours=2))
        assert gc.isenabled() is enabled, "an error while planning must not leave it off"
    finally:
        (gc.enable if was else gc.disable)()
