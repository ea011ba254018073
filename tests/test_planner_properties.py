"""Property tests for daemon.plan.planner: invariants that must hold for any calendar history,
any cadence (working hours, the daily limit, prep notes) and any mail the mailboxes show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from random import Random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    ContactStatus,
    DraftRecord,
    DraftSpec,
    Interview,
    MailSeen,
    Meeting,
    Person,
    Plan,
    Skip,
    ThreadRef,
)
from daemon.core.timing import WorkingHours, add_days, next_working_time
from daemon.plan import meetings
from daemon.plan.planner import plan

BASE = datetime(2024, 1, 1, tzinfo=UTC)
ZONES = [ZoneInfo(z) for z in ("UTC", "America/New_York", "Europe/Berlin",
                               "Australia/Lord_Howe", "Pacific/Auckland")]
POOL = tuple(Person(f"p{i}@x.example", f"Person {i}") for i in range(4))
LIMITED = settings(max_examples=120, deadline=None)

minutes = st.integers(min_value=-400 * 24 * 60, max_value=400 * 24 * 60)
people = st.lists(st.sampled_from(POOL), max_size=3, unique=True)


@st.composite
def interviews(draw: st.DrawFn) -> Interview:
    start = BASE + timedelta(minutes=draw(minutes))
    meeting = Meeting(
        uid=draw(st.sampled_from([f"m{i}" for i in range(6)])),
        title="Coffee chat",
        start=start,
        end=start + timedelta(minutes=draw(st.integers(0, 180))),
        cancelled=draw(st.booleans()),
    )
    contacts = draw(people)
    declined = [p for p in draw(people) if p not in contacts]
    return Interview(meeting, draw(st.sampled_from(["work", "home"])), tuple(contacts),
                     tuple(declined), "", draw(st.booleans()))


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    days = frozenset(draw(st.lists(st.integers(0, 6), min_size=1, max_size=7)))
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return WorkingHours(days, time(start // 60, start % 60), time(end // 60, end % 60))


cadences = st.builds(
    Cadence,
    confirmation_days_before=st.integers(0, 7),
    thank_you_hours_after=st.integers(0, 72),
    follow_up_days_after=st.integers(1, 60),
    catch_up_every_days=st.integers(1, 120),
    max_new_catch_ups_per_day=st.integers(1, 6),
    working_hours=st.none() | working_hours(),
    max_new_drafts_per_day=st.integers(0, 4),
    prep_sheet=st.booleans(),
)


def seen(m: int) -> MailSeen:
    return MailSeen(BASE + timedelta(minutes=m), ThreadRef(f"<t{m}@x.example>", "Hello"))


@st.composite
def prefs(draw: st.DrawFn) -> dict[str, ContactPrefs]:
    out: dict[str, ContactPrefs] = {}
    for person in draw(st.lists(st.sampled_from(POOL), max_size=2, unique=True)):
        status: ContactStatus = draw(st.sampled_from(["active", "paused", "stopped"]))
        until = draw(st.none() | minutes.map(lambda m: BASE + timedelta(minutes=m)))
        out[person.email] = ContactPrefs(person.email, status, until)
    return out


@dataclass(frozen=True)
class World:
    interviews: list[Interview]
    prefs: dict[str, ContactPrefs]
    now: datetime
    cadence: Cadence
    tz: ZoneInfo
    mail: dict[str, ContactMail]

    def plan(self, drafts: dict[str, DraftRecord] | None = None,
             order: Sequence[Interview] | None = None) -> Plan:
        return plan(order if order is not None else self.interviews, self.prefs,
                    drafts or {}, self.now, self.cadence, self.tz, mail=self.mail or None)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Any history; half the time ``now`` falls in the days after one of its meetings, where
    most rules apply, and the mail is dated around then."""
    ivs = draw(st.lists(interviews(), max_size=7))
    now = BASE + timedelta(minutes=draw(minutes))
    near: bool = draw(st.booleans())
    if ivs and near:
        now = draw(st.sampled_from(ivs)).meeting.start + timedelta(
            minutes=draw(st.integers(-3 * 24 * 60, 10 * 24 * 60)))
    around = st.integers(-10 * 24 * 60, 10 * 24 * 60).map(
        lambda m: int((now - BASE) / timedelta(minutes=1)) + m)
    mail: dict[str, ContactMail] = {}
    reading: bool = draw(st.booleans())
    if reading:
        for person in draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True)):
            mail[person.email] = ContactMail(person.email, draw(st.none() | around.map(seen)),
                                             draw(st.none() | around.map(seen)))
    return World(ivs, draw(prefs()), now, draw(cadences), draw(st.sampled_from(ZONES)), mail)


def items(p: Plan) -> list[DraftSpec | Skip]:
    return [*p.due, *p.upcoming, *p.skipped]


def record_for(item: DraftSpec | Skip, at: datetime) -> DraftRecord:
    """A record of a draft made at ``at`` under the key of ``item`` (a spec, or a skip)."""
    assert item.kind is not None
    contact = item.contact.email if isinstance(item, DraftSpec) else item.contact or ""
    return DraftRecord(key=item.key, kind=item.kind, contact=contact, account="work",
                       meeting_uid=item.meeting_uid, state="created", due=at,
                       reason=item.reason, created_at=at)


def made(specs: Sequence[DraftSpec], at: datetime) -> dict[str, DraftRecord]:
    return {s.key: record_for(s, at) for s in specs}


def first_by_uid(world: World) -> dict[str, Interview]:
    first: dict[str, Interview] = {}
    for iv in world.interviews:
        first.setdefault(iv.meeting.uid, iv)
    return first


def check_keys_unique(p: Plan) -> None:
    keys = [i.key for i in items(p)]
    assert len(keys) == len(set(keys)), "a key is planned twice"


def check_times(p: Plan, now: datetime) -> None:
    assert all(s.due <= now for s in p.due), "a due draft is due in the future"
    assert all(s.due > now for s in p.upcoming), "an upcoming draft is already due"
    assert all(s.due.utcoffset() == timedelta(0) for s in (*p.due, *p.upcoming))


def check_reasons(p: Plan) -> None:
    for item in items(p):
        assert item.reason.strip(), f"{item.key} has no reason"
        assert "\n" not in item.reason and "\r" not in item.reason


def check_only_skips_for_invalid_meetings(p: Plan, world: World) -> None:
    first = first_by_uid(world)
    invalid = {uid for uid, iv in first.items() if iv.meeting.cancelled or iv.user_declined}
    assert not [s for s in (*p.due, *p.upcoming) if s.meeting_uid in invalid]
    for spec in (*p.due, *p.upcoming):
        assert spec.meeting_uid is not None
        assert spec.contact in first[spec.meeting_uid].contacts, "draft for a non-contact"
        assert spec.account == first[spec.meeting_uid].account


def check_catch_ups(p: Plan, cadence: Cadence) -> None:
    due = [s for s in p.due if s.kind == "catch_up"]
    assert len(due) <= cadence.max_new_catch_ups_per_day
    contacts = [i.contact.email if isinstance(i, DraftSpec) else i.contact
                for i in items(p) if i.kind == "catch_up"]
    assert len(contacts) == len(set(contacts)), "two catch-ups pending for one contact"


def check_cadence(p: Plan, world: World) -> None:
    """Nothing was made today, so at most the daily limit is due; outside working hours no
    follow-up or catch-up is due; prep notes only with ``prep_sheet``."""
    cadence = world.cadence
    if cadence.max_new_drafts_per_day > 0:
        assert len(p.due) <= cadence.max_new_drafts_per_day, "more due than the daily limit"
    hours = cadence.working_hours
    if hours is not None and next_working_time(world.now, hours, world.tz) > world.now:
        late = [s.key for s in p.due if s.kind in ("follow_up", "catch_up")]
        assert not late, f"due outside working hours: {late}"
    if not cadence.prep_sheet:
        assert not [i for i in items(p) if i.kind == "prep"], "a prep note without prep_sheet"


def check_mail(p: Plan, world: World) -> None:
    """No thank-you is due to a contact the user has written to since the meeting started."""
    first = first_by_uid(world)
    for spec in p.due:
        if spec.kind != "thank_you" or spec.meeting_uid is None:
            continue
        sent = world.mail.get(spec.contact.email)
        wrote = None if sent is None or sent.last_to_contact is None else sent.last_to_contact.at
        assert wrote is None or wrote < first[spec.meeting_uid].meeting.start, \
            f"a thank-you after the user already wrote: {spec.key}"


def check_one_due_per_kind_and_contact(p: Plan) -> None:
    due = [(s.kind, s.contact.email) for s in p.due]
    assert len(due) == len(set(due)), "two drafts of one kind due to one contact"


@LIMITED
@given(worlds(), st.randoms(use_true_random=False))
def test_invariants_of_any_plan(world: World, rnd: Random) -> None:
    """Unique keys; due <= now < upcoming; readable reasons; only skips for cancelled or
    declined meetings; catch-ups within the daily limit (nothing was made in the last 24 h)
    and one per contact; at most one draft of each kind due per contact; the same input gives
    the same plan, whatever the meetings' order."""
    p = world.plan()
    check_keys_unique(p)
    check_times(p, world.now)
    check_reasons(p)
    check_only_skips_for_invalid_meetings(p, world)
    check_catch_ups(p, world.cadence)
    check_cadence(p, world)
    check_mail(p, world)
    check_one_due_per_kind_and_contact(p)
    assert world.plan() == p
    unique = list(first_by_uid(world).values())
    shuffled = list(unique)
    rnd.shuffle(shuffled)
    assert world.plan(order=shuffled) == world.plan(order=unique) == p


@LIMITED
@given(worlds(), st.data())
def test_keys_in_drafts_never_planned(world: World, data: st.DataObject) -> None:
    first = world.plan()
    candidates = [i for i in items(first) if i.kind is not None]
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique_by=lambda i: i.key)
                       if candidates else st.just([]))
    at = world.now - timedelta(minutes=data.draw(st.integers(0, 3 * 24 * 60)))
    drafts = {i.key: record_for(i, at) for i in chosen}
    again = world.plan(drafts)
    assert not {i.key for i in items(again)} & drafts.keys()


@LIMITED
@given(worlds())
def test_made_drafts_are_not_due_again(world: World) -> None:
    first = world.plan()
    drafts = made(first.due, world.now)
    again = world.plan(drafts)
    assert not {s.key for s in again.due} & drafts.keys()
    assert not {i.key for i in items(again)} & drafts.keys()
    in_drafts = {(s.kind, s.contact.email) for s in first.due if s.kind in ("thank_you",
                                                                            "follow_up")}
    assert not in_drafts & {(s.kind, s.contact.email) for s in again.due}, \
        "a thank-you or follow-up due while the last one to that contact is in Drafts"
    catch_ups_made = sum(1 for s in first.due if s.kind == "catch_up")
    catch_ups_now = sum(1 for s in again.due if s.kind == "catch_up")
    assert catch_ups_made + catch_ups_now <= world.cadence.max_new_catch_ups_per_day


@settings(max_examples=400, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                           timezones=st.just(UTC)),
       days=st.integers(min_value=-400, max_value=400),
       zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                             "Pacific/Auckland", "America/Chicago", "UTC"]))
def test_add_days_fast_path_equals_the_wall_clock_definition(moment: datetime, days: int,
                                                             zone: str) -> None:
    tz = ZoneInfo(zone)
    wall = moment.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    exact = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    assert add_days(moment, days, tz) == exact


@LIMITED
@given(worlds(), st.data())
def test_meetings_planned_ahead_change_nothing_due(world: World, data: st.DataObject) -> None:
    """Planning only each contact's next two meetings that have not started (the rest are
    counted in ``later``) gives the same drafts due, only entries the whole plan has, and a
    wake-up no later than the whole plan's: compared with planning every meeting."""
    first = world.plan()
    chosen = data.draw(st.lists(st.sampled_from(items(first)), unique_by=lambda i: i.key)
                       if items(first) else st.just([]))
    drafts = {i.key: record_for(i, world.now) for i in chosen if i.kind is not None}
    trimmed = world.plan(drafts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meetings, "PLAN_AHEAD", 10**6)
        whole = world.plan(drafts)
    assert whole.later == ()
    assert trimmed.due == whole.due
    assert set(trimmed.upcoming) <= set(whole.upcoming)
    assert set(trimmed.skipped) <= set(whole.skipped)
    if whole.next_change is not None:
        assert trimmed.next_change is not None and trimmed.next_change <= whole.next_change


@LIMITED
@given(cadences, st.sampled_from(ZONES), minutes, st.integers(0, 180),
       st.integers(0, 6 * 24 * 60), st.integers(0, 7 * 24 * 60), st.integers(1, 30 * 24 * 60))
def test_mail_the_user_sent_since_the_meeting_takes_the_place_of_a_thank_you(
        cadence: Cadence, tz: ZoneInfo, at: int, length: int, waited: int, after: int,
        before: int) -> None:
    """A meeting whose thank-you is due: mail the user sent the contact since it started means
    no thank-you; mail sent before it changes nothing."""
    start = BASE + timedelta(minutes=at)
    end = start + timedelta(minutes=length)
    now = min(end + timedelta(hours=cadence.thank_you_hours_after, minutes=waited),
              end + timedelta(days=7))
    contact = POOL[0]
    meeting = Interview(Meeting("m1", "Coffee chat", start, end), "work", (contact,))
    key = f"m1/thank_you/{contact.email}"

    def planned(sent: datetime | None) -> Plan:
        mail = {} if sent is None else {contact.email: ContactMail(
            contact.email, None, MailSeen(sent, ThreadRef("<sent@x.example>", "Hello")))}
        return plan([meeting], {}, {}, now, cadence, tz, mail=mail)

    assert key in {s.key for s in planned(None).due}
    since = planned(min(start + timedelta(minutes=after), now))
    assert key not in {s.key for s in since.due} and key in {s.key for s in since.skipped}
    assert key in {s.key for s in planned(start - timedelta(minutes=before)).due}
