"""What is due, what is coming, and what will not be written, with the reason for each.

Pure: :func:`plan` is a function of its arguments only. It does no I/O and reads no clock;
``now`` is given. The output is sorted, so the same input always gives the same plan.

Time arithmetic (see also :func:`add_days`):

- "N days before/after" keeps the local wall-clock time in the user's zone: a 10:00 meeting
  confirmed 2 days before is confirmed at 10:00 local time, even when a DST change lies between
  (that may be 47, 48 or 49 real hours, or 47.5 at Lord Howe).
- When the wall-clock result does not exist (the hour skipped in spring), it moves forward by the
  size of the gap (02:30 on a day the clocks jump from 02:00 to 03:00 becomes 03:30). When it
  exists twice (the hour repeated in autumn), the first of the two is used.
- "N hours after" is absolute: computed in UTC.
- Internally every instant is UTC, so comparisons never depend on ``fold`` or on the machine's
  time zone. The ``due`` times returned are UTC.

The windows: a confirmation is made only while the meeting is more than 12 hours away; a
thank-you only within 7 days of the meeting's end; a follow-up only within 21 days of its time.

Other choices:

- A timed pause moves every draft that would fall due before its end (due now or later) to the
  pause's end; the plan made then applies the usual windows again. A pause whose end has passed
  counts as active. A pause without an end, and a stop, turn every draft into a skip.
- A catch-up record still being made (no ``created_at`` yet) counts as made at ``now``: it uses
  a slot of the daily limit and anchors the next catch-up, so two are never in flight at once.
- A catch-up waiting for the daily limit is given the estimated time of its turn: ``now`` plus
  one day per full batch ahead of it. ``max_new_catch_ups_per_day`` of 0 turns catch-ups off.
- A catch-up's number is the contact's count of catch-up records plus one, moved further up if
  that key is somehow taken already.
- A meeting whose end is before its start is treated as ending when it starts.

One at a time per person (a tagged series never fills one person's Drafts):

- A confirmation, and a prep note, only for the contact's next meeting. One whose usual time
  comes before the contact's previous meeting starts waits (upcoming, due when that meeting
  starts); it is then planned as usual, without being called "tagged late". One already 12
  hours away or less is skipped at once rather than held.
- A thank-you or follow-up only for the latest meeting due one: a later meeting with the
  contact supersedes it when it starts by this one's time or its own is due by now. Nor while
  the last one of its kind to the contact (a record not seen gone from Drafts, any state) is
  still in Drafts: it is skipped saying so, and a later plan makes it once that one is sent or
  deleted, if its window is still open.
- Of a contact's meetings that have not started, only the next :data:`PLAN_AHEAD` (two) are
  planned; the others are counted in ``Plan.later``, and the plan's ``next_change`` is no
  later than the start of the last one planned, when the next is taken in. Nothing of theirs
  could be due before then: a confirmation or prep note waits for the meeting before it, a
  thank-you or follow-up for the meeting's end.

Timing people like (``Cadence``):

- With ``working_hours``, a confirmation, follow-up or catch-up falls due at the first working
  moment at or after its usual time (a thank-you and a prep note do not wait). A confirmation
  that would then come less than 12 hours before the meeting keeps its usual time instead.
- ``max_new_drafts_per_day`` limits the new drafts of one local day, all kinds together; the
  most time-critical go first (thank-you, confirmation, prep, follow-up, then catch-ups), and
  the rest wait for the next day's first working moment.
- ``prep_sheet``: a note to the user the day before each meeting (same local time), until the
  meeting starts; one per meeting, keyed by its first contact.

What the mailbox shows (``mail``, from reply detection; without it the calendar alone counts):

- No thank-you when the user already wrote to the contact since the meeting started.
- Any message either way resets the catch-up clock.
- When the last two catch-ups left Drafts, the user wrote to the contact after each, and the
  contact has not written since (nor since the user last resumed them), the contact is paused:
  the plan lists it in ``to_pause`` and the next catch-up is skipped with the reason.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from daemon.core import collector
from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    DraftSpec,
    Interview,
    Person,
    Plan,
    Skip,
)
from daemon.core.text import clean_line
from daemon.core.timing import (
    apply_daily_cap,
    next_working_time,
    require_aware,
    start_of_local_day,
)

CONFIRMATION_CUTOFF = timedelta(hours=12)
"""No confirmation once the meeting is this close (or has started)."""
THANK_YOU_WINDOW = timedelta(days=7)
"""No thank-you once the meeting ended longer ago than this."""
FOLLOW_UP_WINDOW = timedelta(days=21)
"""No follow-up once its time is further in the past than this."""
SETTLED_MARGIN_DAYS = 21 + 2
"""A meeting is settled once ``follow_up_days_after`` plus the follow-up window (21 days) plus
two days of slack (for wall-clock days across DST changes) have passed since it ended."""
LATE_GRACE = timedelta(hours=1)
"""A confirmation planned later than this after its time is reported as "tagged late"."""
UNANSWERED_LIMIT = 2
PLAN_AHEAD = 2
"""Of a contact's meetings that have not started, how many are planned: the next, and the one
after (whose confirmation waits for the next). Those after them are counted in
:attr:`Plan.later`: nothing of theirs can be due before the last one planned starts, and the
plan made then takes the next of them in."""
"""Catch-ups without an answer after which the contact is paused (with reply detection)."""
_ONE_DAY = timedelta(days=1)
_DAY_BEFORE = -_ONE_DAY
"""A prep note's shift from its meeting, for :func:`_wall_shift`."""

_LABELS: dict[DraftKind, str] = {
    "confirmation": "confirmation",
    "thank_you": "thank-you",
    "follow_up": "follow-up",
    "catch_up": "catch-up",
    "news": "news note",
    "prep": "prep note",
}
_MEETING_KINDS: tuple[DraftKind, ...] = ("confirmation", "thank_you", "follow_up")
_LATER_STAGES: dict[DraftKind, tuple[DraftKind, ...]] = {
    "confirmation": ("thank_you", "follow_up"), "prep": ("thank_you", "follow_up"),
    "thank_you": ("follow_up",), "follow_up": ()}
"""For each draft about one meeting, the kinds that come later in the meeting's life."""
ONE_PENDING: frozenset[DraftKind] = frozenset({"thank_you", "follow_up"})
"""The kinds of which a contact has at most one in Drafts: the next waits for the last to go."""
_WAITS_FOR_WORK: frozenset[DraftKind] = frozenset({"confirmation", "follow_up", "catch_up"})
_PRIORITY: dict[DraftKind, int] = {"thank_you": 0, "confirmation": 1, "prep": 2,
                                   "follow_up": 3, "catch_up": 4, "news": 5}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_BY_DUE = attrgetter("due", "key")
"""Sort key of planned drafts: by due time, then key."""
_BY_START = attrgetter("start", "uid")
"""Sort key of a contact's meetings: by start, then uid."""

_PLAIN_UID = re.compile(r"[\x21-\x7e]{1,400}")


def draft_key(kind: DraftKind, meeting_uid: str, contact_email: str) -> str:
    """Return the idempotency key of a meeting's draft: ``meeting-uid/kind/contact``.

    A uid that could not travel in a mail header as it is (not printable ASCII, too long, or
    holding an encoded-word marker) is replaced by ``h-`` and a hash of it.
    """
    return f"{_key_safe(meeting_uid)}/{kind}/{contact_email}"


def _key_safe(uid: str) -> str:
    if _PLAIN_UID.fullmatch(uid) and "=?" not in uid and "?=" not in uid:
        return uid
    return "h-" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def catch_up_key(contact_email: str, n: int) -> str:
    """Return the idempotency key of the ``n``-th catch-up with a contact (``n`` from 1)."""
    return f"{contact_email}/catch_up/{n}"


def add_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Return ``moment`` moved by ``days`` days of wall-clock time in ``tz``, as a UTC instant.

    The local time of day is kept. A local time that does not exist (spring gap) moves forward
    by the gap; one that exists twice (autumn) resolves to the first. Raises ``ValueError`` if
    ``moment`` is naive.
    """
    if moment.tzinfo is not UTC:
        require_aware(moment, "moment")
        moment = moment.astimezone(UTC)
    return _wall_shift(moment, timedelta(days=days), tz)


def _wall_shift(moment: datetime, days: timedelta, tz: ZoneInfo) -> datetime:
    """:func:`add_days` for a ``moment`` whose tzinfo is ``UTC`` (the result keeps it), with the
    whole ``days`` already made a timedelta (the planner makes its few once per plan: building
    one costs as much as the arithmetic)."""
    local = moment.astimezone(tz)
    # Adding a timedelta to an aware datetime moves its wall-clock time and keeps its zone; the
    # result's fold is 0, so its offset resolves a repeated time to the first and a missing one
    # forward by the gap. Moving ``moment`` by the days and by the change of offset gives the
    # instant that ``wall.astimezone(UTC)`` would, at a third of the cost.
    wall = local + days
    before, after = tz.utcoffset(local), tz.utcoffset(wall)
    assert before is not None and after is not None  # a ZoneInfo always knows its offset
    return moment + (days + (before - after))


def plan(
    interviews: Iterable[Interview],
    prefs: Mapping[str, ContactPrefs],
    drafts: Mapping[str, DraftRecord],
    now: datetime,
    cadence: Cadence,
    tz: ZoneInfo,
    *,
    mail: Mapping[str, ContactMail] | None = None,
) -> Plan:
    """Return the :class:`Plan` at ``now``: drafts due (sorted by due time, then key), drafts
    coming later (same order) and drafts that will not be written (sorted by key), each with a
    reason a user can read. Meetings that ended so long ago that no draft of their own could
    ever be due again (follow-up window closed) are *settled*: they count for catch-ups but
    add nothing else to the plan, which keeps the plan and its cost proportional to what is
    live rather than to years of history.

    ``prefs`` maps a contact's address to what the user decided about them; ``drafts`` maps a
    key to the draft already made or being made under it: such a key appears nowhere in the
    plan. ``tz`` is the user's zone, for "N days" arithmetic and the dates in reasons. A
    meeting uid seen twice (one event in two accounts) counts once, from the first interview.
    ``mail`` maps a contact's address to what the user's mailboxes show of mail with them
    (reply detection); a contact missing from it is planned on the calendar alone.
    Raises ``ValueError`` if ``now``, a meeting's time, a pause's end or a record's
    ``created_at`` is a naive datetime.
    """
    require_aware(now, "now")
    with collector.paused():
        return _plan(interviews, prefs, drafts, now, cadence, tz, mail)


def _plan(interviews: Iterable[Interview], prefs: Mapping[str, ContactPrefs],
          drafts: Mapping[str, DraftRecord], now: datetime, cadence: Cadence, tz: ZoneInfo,
          mail: Mapping[str, ContactMail] | None) -> Plan:
    ctx = _Context(
        now=now.astimezone(UTC),
        cadence=cadence,
        tz=tz,
        prefs={k.strip().lower(): v for k, v in prefs.items()},
        drafts=drafts,
        mail=mail or {},
        in_drafts=_still_in_drafts(drafts),
        work_resumes=_work_resumes(now, cadence, tz),
        confirmation_shift=timedelta(days=-cadence.confirmation_days_before),
        follow_up_shift=timedelta(days=cadence.follow_up_days_after),
        catch_up_shift=timedelta(days=cadence.catch_up_every_days),
    )
    meetings = normalise(interviews)
    by_contact = valid_meetings_by_contact(meetings)
    history = _History(by_contact, ctx)
    out = _Collector(drafts, ctx)
    settled_before = ctx.now - timedelta(days=cadence.follow_up_days_after + SETTLED_MARGIN_DAYS)
    for meeting in meetings:
        if meeting.end < settled_before:
            continue  # settled: it still anchors catch-ups, but nothing of its own can be due
        for outcome in _meeting_outcomes(meeting, history, ctx):
            out.add(outcome)
    outcomes, pauses = _catch_up_outcomes(by_contact, ctx, out.limit_frees)
    for outcome in outcomes:
        out.add(outcome)
    later = history.later()
    out.limit_frees.extend(start for _, _, start in later)
    return out.result(pauses, tuple((email, n) for email, n, _ in later))


# --- internal data ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    now: datetime
    cadence: Cadence
    tz: ZoneInfo
    prefs: Mapping[str, ContactPrefs]
    drafts: Mapping[str, DraftRecord]
    mail: Mapping[str, ContactMail]
    in_drafts: frozenset[tuple[DraftKind, str]]
    """(kind, contact) of the thank-yous and follow-ups coffeechat made that are still in
    Drafts (see :func:`_still_in_drafts`)."""
    work_resumes: datetime | None
    """With working hours, when working time next starts if ``now`` is outside it."""
    confirmation_shift: timedelta
    """Minus ``confirmation_days_before`` days, for :func:`_wall_shift` (made once per plan)."""
    follow_up_shift: timedelta
    """``follow_up_days_after`` days, likewise."""
    catch_up_shift: timedelta
    """``catch_up_every_days`` days, likewise."""


def _still_in_drafts(drafts: Mapping[str, DraftRecord]) -> frozenset[tuple[DraftKind, str]]:
    """(kind, contact) of every thank-you and follow-up record not seen gone from Drafts, in
    any state: while one is there, the next of its kind to that contact waits."""
    return frozenset((r.kind, r.contact.strip().lower()) for r in drafts.values()
                     if r.kind in ONE_PENDING and r.observed != "gone")


def _work_resumes(now: datetime, cadence: Cadence, tz: ZoneInfo) -> datetime | None:
    if cadence.working_hours is None:
        return None
    resumes = next_working_time(now, cadence.working_hours, tz)
    return resumes if resumes > now.astimezone(UTC) else None


class NormalMeeting(NamedTuple):
    """One interview, normalised: UTC times, lower-cased de-duplicated contacts. (A named
    tuple: the planner makes one per stored meeting on every call, and tuples are cheap.)"""

    uid: str
    account: str
    title: str
    start: datetime
    end: datetime
    contacts: tuple[Person, ...]
    declined: tuple[Person, ...]
    invalid_reason: str | None
    """Why no draft is made for anyone (cancelled, or the user declined); None if valid."""


class _Due(NamedTuple):
    spec: DraftSpec


class _Upcoming(NamedTuple):
    spec: DraftSpec


_Outcome = _Due | _Upcoming | Skip


class _Collector:
    """Gathers outcomes, dropping keys already in ``drafts`` and any repeated key, and applies
    the daily limit on new drafts."""

    def __init__(self, drafts: Mapping[str, DraftRecord], ctx: _Context) -> None:
        self._drafts = drafts
        self._ctx = ctx
        self._seen: set[str] = set()
        self._due: list[DraftSpec] = []
        self._upcoming: list[DraftSpec] = []
        self._skipped: list[Skip] = []
        self.limit_frees: list[datetime] = []
        """When a daily limit that held drafts back makes room again."""

    def add(self, outcome: _Outcome) -> None:
        key = outcome.key if isinstance(outcome, Skip) else outcome.spec.key
        if key in self._drafts or key in self._seen:
            return
        self._seen.add(key)
        if isinstance(outcome, _Due):
            self._due.append(outcome.spec)
        elif isinstance(outcome, _Upcoming):
            self._upcoming.append(outcome.spec)
        else:
            self._skipped.append(outcome)

    def result(self, pauses: Sequence[tuple[str, str]], later: tuple[tuple[str, int], ...]
               ) -> Plan:
        due, waiting = self._daily_cap()
        upcoming = tuple(sorted((*self._upcoming, *waiting), key=_BY_DUE))
        return Plan(
            due=tuple(sorted(due, key=_BY_DUE)),
            upcoming=upcoming,
            skipped=tuple(sorted(self._skipped, key=attrgetter("key"))),
            to_pause=tuple(sorted(pauses)),
            next_change=min((*self.limit_frees, *(s.due for s in upcoming[:1])), default=None),
            later=later,
        )

    def _daily_cap(self) -> tuple[list[DraftSpec], list[DraftSpec]]:
        ctx = self._ctx
        cap = ctx.cadence.max_new_drafts_per_day
        if cap <= 0 or not self._due:
            return self._due, []
        midnight = start_of_local_day(ctx.now, ctx.tz)
        made_today = sum(1 for r in self._drafts.values() if _created(r, ctx) >= midnight)
        ranked = sorted(self._due, key=lambda s: (_PRIORITY[s.kind], s.due, s.key))
        kept, deferred = apply_daily_cap(ranked, made_today=made_today, cap=cap, now=ctx.now,
                                         tz=ctx.tz, hours=ctx.cadence.working_hours)
        if deferred:  # the count starts again at midnight, for the kinds that need no work hours
            self.limit_frees.append(add_days(midnight, 1, ctx.tz))
        waiting = [spec._replace(due=turn, reason=(
            f"{_LABELS[spec.kind]} for {_name(spec.contact)}, waiting: at most {cap} new drafts "
            f"a day (its turn comes about {_day(turn, ctx.tz)})")) for spec, turn in deferred]
        return list(kept), waiting


def _person(p: Person) -> Person:
    email = p.email.strip().lower()
    return p if email == p.email else Person(email, p.name)


def normalise(interviews: Iterable[Interview]) -> list[NormalMeeting]:
    """One :class:`NormalMeeting` per uid (first interview wins), in input order."""
    seen: set[str] = set()
    out: list[NormalMeeting] = []
    for iv in interviews:
        m = iv.meeting
        if m.uid in seen:
            continue
        seen.add(m.uid)
        start, end = m.start, m.end
        if start.tzinfo is not UTC or end.tzinfo is not UTC:  # UTC: the common case
            if start.utcoffset() is None or end.utcoffset() is None:
                require_aware(start, f"start of meeting {m.uid}")
                require_aware(end, f"end of meeting {m.uid}")
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        people = iv.contacts
        contacts: tuple[Person, ...]
        if len(people) == 1:  # the usual meeting: one contact, inlined for speed
            email = people[0].email.strip().lower()
            contacts = () if not email else (
                (people[0],) if email == people[0].email else (Person(email, people[0].name),))
        else:
            contacts = _unique_people(people, ())
        declined = _unique_people(iv.declined, contacts) if iv.declined else ()
        reason = None
        if m.cancelled:
            reason = "the meeting was cancelled"
        elif iv.user_declined:
            reason = "you declined the meeting"
        out.append(NormalMeeting(m.uid, iv.account, m.title, start, end if end > start else start,
                            contacts, declined, reason))
    return out


def _unique_people(people: Sequence[Person], exclude: Sequence[Person]) -> tuple[Person, ...]:
    if not people:
        return ()
    taken = {p.email for p in exclude}
    out: list[Person] = []
    for p in map(_person, people):
        if p.email and p.email not in taken:
            taken.add(p.email)
            out.append(p)
    return tuple(out)


def valid_meetings_by_contact(meetings: Iterable[NormalMeeting]) -> dict[str, list[NormalMeeting]]:
    """Each contact's valid meetings, sorted by start (then uid). Grouped first, then each
    contact's few meetings sorted: much cheaper than sorting every meeting at once."""
    by_contact: dict[str, list[NormalMeeting]] = {}
    for m in meetings:
        if m.invalid_reason is None:
            for p in m.contacts:
                if p.email in by_contact:
                    by_contact[p.email].append(m)
                else:
                    by_contact[p.email] = [m]
    for group in by_contact.values():
        if len(group) > 1:
            group.sort(key=_BY_START)
    return by_contact


class _Place(NamedTuple):
    """Where a meeting stands among its contact's valid meetings (sorted by start, then uid)."""

    position: int
    before: NormalMeeting | None
    """The meeting just before it (None for the first)."""
    after: NormalMeeting | None
    """The meeting just after it (None for the last)."""


class _History:
    """Each contact's valid meetings, sorted by start (then uid), and the look-ups the
    one-at-a-time rules make in them: each meeting's place from an index made once per
    contact, and one scan per contact and kind, so that a plan stays linear in the meetings
    of one contact."""

    def __init__(self, by_contact: Mapping[str, list[NormalMeeting]], ctx: _Context) -> None:
        self._by_contact = by_contact
        self._ctx = ctx
        self._places: dict[str, dict[str, int]] = {}
        self._latest_due: dict[tuple[str, DraftKind], int] = {}
        self._ahead: dict[str, int] = {}

    def planned(self, email: str, place: _Place) -> bool:
        """Whether the meeting at ``place`` among the contact's is planned: it has started,
        or is one of their next :data:`PLAN_AHEAD` meetings."""
        limit = self._ahead.get(email)
        if limit is None:
            line = self._by_contact[email]
            first = bisect_right(line, self._ctx.now, key=attrgetter("start"))
            limit = self._ahead[email] = first + PLAN_AHEAD
        return place.position < limit

    def later(self) -> list[tuple[str, int, datetime]]:
        """Each contact with meetings not planned (see :meth:`planned`; sorted): how many,
        and when the last one planned starts (a plan made then takes the next in)."""
        out = []
        for email in sorted(self._by_contact):
            line = self._by_contact[email]
            if len(line) <= PLAN_AHEAD:
                continue
            first = bisect_right(line, self._ctx.now, key=attrgetter("start"))
            if first + PLAN_AHEAD < len(line):
                out.append((email, len(line) - first - PLAN_AHEAD,
                            line[first + PLAN_AHEAD - 1].start))
        return out

    def place(self, email: str, m: NormalMeeting) -> _Place:
        """Where ``m`` (a valid meeting with the contact ``email``) stands among theirs."""
        line = self._by_contact[email]
        if len(line) == 1:
            return _Place(0, None, None)
        places = self._places.get(email)
        if places is None:  # a uid is one meeting: normalise keeps the first of each
            places = self._places[email] = {other.uid: i for i, other in enumerate(line)}
        i = places[m.uid]
        return _Place(i, line[i - 1] if i else None, line[i + 1] if i + 1 < len(line) else None)

    def latest_due(self, email: str, kind: DraftKind) -> tuple[int, NormalMeeting] | None:
        """The last of the contact's meetings whose own draft of ``kind`` is due by now, with
        its index; None if there is none. The scan from the end passes only meetings whose
        draft is still to come, and is made once per contact and kind."""
        line = self._by_contact[email]
        key = (email, kind)
        j = self._latest_due.get(key)
        if j is None:
            ctx = self._ctx
            j = len(line) - 1
            while j >= 0 and _meeting_due(kind, line[j], ctx) > ctx.now:
                j -= 1
            self._latest_due[key] = j
        return None if j < 0 else (j, line[j])


# --- drafts tied to one meeting --------------------------------------------------------------


def _meeting_outcomes(m: NormalMeeting, history: _History, ctx: _Context) -> list[_Outcome]:
    if not m.contacts and not m.declined:
        return [Skip(f"{m.uid}/no-contact", None, None, m.uid, _no_contact_reason(m, ctx))]
    out: list[_Outcome] = []
    for p in m.declined:
        for kind in _MEETING_KINDS:
            reason = f"no {_LABELS[kind]}: {_name(p)} declined the meeting"
            if m.invalid_reason is not None:
                reason = f"no {_LABELS[kind]} to {_name(p)}: {m.invalid_reason}"
            out.append(_skip(kind, m, p, reason))
    if m.invalid_reason is not None:
        why = m.invalid_reason
        out.extend(_skip(kind, m, p, f"no {_LABELS[kind]} to {_name(p)}: {why}")
                   for p in m.contacts for kind in _MEETING_KINDS)
        if ctx.cadence.prep_sheet and m.contacts:
            out.append(_skip("prep", m, m.contacts[0],
                             f"no prep note to {_name(m.contacts[0])}: {why}"))
        return out
    for p in m.contacts:
        todo = [kind for kind in _MEETING_KINDS
                if draft_key(kind, m.uid, p.email) not in ctx.drafts]  # made: nothing to do
        if todo:
            place = history.place(p.email, m)
            if history.planned(p.email, place):
                out.extend(_one_meeting_draft(kind, m, p, place, history, ctx) for kind in todo)
    if ctx.cadence.prep_sheet and m.contacts:
        first = m.contacts[0]
        place = history.place(first.email, m)
        if history.planned(first.email, place):
            out.append(_one_meeting_draft("prep", m, first, place, history, ctx))
    return out


def _one_meeting_draft(kind: DraftKind, m: NormalMeeting, p: Person, place: _Place,
                       history: _History, ctx: _Context) -> _Outcome:
    """The draft of ``kind`` about the valid meeting ``m`` for ``p``, one at a time: a
    confirmation or prep note only for the contact's next meeting, a thank-you or follow-up
    only for the latest meeting due one, once the last of its kind has left Drafts."""
    label = f"no {_LABELS[kind]} to {_name(p)}"
    held = _held_by_prefs(p, ctx)
    if held is not None:
        return _skip(kind, m, p, f"{label}: {held}")
    written = _written_later(kind, m, p, ctx)
    if written is not None:
        return _skip(kind, m, p, f"{label}: its {_LABELS[written]} is already written, and "
                                 "nothing earlier in a meeting's life comes after it (is the "
                                 "clock behind?)")
    if kind == "confirmation":
        outcome = _hold_for_work(_confirmation(m, p, place.before, ctx), ctx,
                                 m.start - CONFIRMATION_CUTOFF)
    elif kind == "prep":
        outcome = _prep(m, p, place.before, ctx)
    else:
        due = _meeting_due(kind, m, ctx)
        later = _superseding(kind, p, place, due, history)
        if later is not None:
            return _skip(kind, m, p, f"{label} for the meeting on {_day(m.start, ctx.tz)}: "
                                     f"superseded by the meeting on {_day(later.start, ctx.tz)}")
        if kind == "thank_you":
            wrote = _wrote_since(p, m.start, ctx)
            if wrote is not None:
                return _skip(kind, m, p, f"{label}: you already wrote to them since the meeting "
                                         f"({_when(wrote, ctx.tz)})")
            outcome = _thank_you(m, p, due, ctx)
        else:
            outcome = _hold_for_work(_follow_up(m, p, due, ctx), ctx)
    outcome = _apply_pause(outcome, p, ctx)
    if isinstance(outcome, _Due) and kind in ONE_PENDING and (kind, p.email) in ctx.in_drafts:
        return _skip(kind, m, p, f"{label} for the meeting on {_day(m.start, ctx.tz)} yet: "
                                 f"your last {_LABELS[kind]} to them is still in Drafts; this "
                                 f"one comes once that one is sent or deleted")
    return outcome


def _written_later(kind: DraftKind, m: NormalMeeting, p: Person,
                   ctx: _Context) -> DraftKind | None:
    """A draft of a later stage of ``m``'s life than ``kind`` (confirmation and prep, then
    thank-you, then follow-up) already written to ``p`` (in any state but being withdrawn),
    or ``None``. Such a draft proves the earlier stage is over, whatever the clock says: a
    clock set back must not bring a confirmation after the thank-you."""
    for later in _LATER_STAGES[kind]:
        record = ctx.drafts.get(draft_key(later, m.uid, p.email))
        if record is not None and record.state != "withdrawing":
            return later
    return None


def _wrote_since(p: Person, moment: datetime, ctx: _Context) -> datetime | None:
    """When the user last wrote to ``p``, if at or after ``moment`` (as far as mail shows)."""
    mail = ctx.mail.get(p.email)
    sent = None if mail is None else mail.last_to_contact
    return sent.at if sent is not None and sent.at >= moment else None


def _meeting_due(kind: DraftKind, m: NormalMeeting, ctx: _Context) -> datetime:
    c = ctx.cadence
    if kind == "confirmation":
        usual = _wall_shift(m.start, ctx.confirmation_shift, ctx.tz)
        waited = _at_work(kind, usual, ctx)
        return waited if waited <= m.start - CONFIRMATION_CUTOFF else usual
    if kind == "thank_you":
        return m.end + timedelta(hours=c.thank_you_hours_after)
    if kind == "prep":
        return _wall_shift(m.start, _DAY_BEFORE, ctx.tz)
    return _at_work(kind, _wall_shift(m.end, ctx.follow_up_shift, ctx.tz), ctx)


def _at_work(kind: DraftKind, due: datetime, ctx: _Context) -> datetime:
    """``due``, or the first working moment after it for the kinds that wait for one."""
    hours = ctx.cadence.working_hours
    if hours is None or kind not in _WAITS_FOR_WORK:
        return due
    return next_working_time(due, hours, ctx.tz)


def _hold_for_work(outcome: _Outcome, ctx: _Context, latest: datetime | None = None
                   ) -> _Outcome:
    """A draft of a kind that waits for working hours, due at a working time that has passed
    (held back by the daily limit, or the service was off), is not written outside working
    hours either: it waits for them to resume, unless that would be after ``latest``."""
    resumes = ctx.work_resumes
    if not isinstance(outcome, _Due) or resumes is None or outcome.spec.kind not in \
            _WAITS_FOR_WORK or (latest is not None and resumes > latest):
        return outcome
    spec = outcome.spec
    if _at_work(spec.kind, spec.due, ctx) != spec.due:
        return outcome  # placed outside working hours on purpose (a confirmation's usual time)
    return _Upcoming(spec._replace(due=resumes, reason=f"{spec.reason}; waiting for working "
                                                      f"hours ({_when(resumes, ctx.tz)})"))


def _superseding(kind: DraftKind, p: Person, place: _Place, due: datetime,
                 history: _History) -> NormalMeeting | None:
    """A later valid meeting with ``p`` that takes the thank-you or follow-up of ``kind`` from
    the meeting at ``place``, whose own is due at ``due``: the next meeting, if it starts by
    ``due``, else the latest one whose own draft of ``kind`` is due by now. None if neither."""
    if place.after is not None and place.after.start <= due:
        return place.after
    latest = history.latest_due(p.email, kind) if place.after is not None else None
    return latest[1] if latest is not None and latest[0] > place.position else None


def _waits_for(before: NormalMeeting | None, due: datetime) -> NormalMeeting | None:
    """The contact's previous meeting, if it starts after ``due`` (a draft for the next meeting
    only, due at ``due``, is then held until it starts)."""
    return before if before is not None and before.start > due else None


def _waiting(kind: DraftKind, m: NormalMeeting, p: Person, before: NormalMeeting, ctx: _Context
             ) -> _Upcoming:
    """A confirmation or prep note held until the contact's previous meeting starts."""
    return _Upcoming(_spec(kind, m, p, before.start,
                           f"{_LABELS[kind]} for your meeting with {_name(p)} on "
                           f"{_when(m.start, ctx.tz)}: waits for your meeting with them on "
                           f"{_when(before.start, ctx.tz)} to take place (one at a time)"))


def _confirmation(m: NormalMeeting, p: Person, before: NormalMeeting | None, ctx: _Context
                  ) -> _Outcome:
    due = _meeting_due("confirmation", m, ctx)
    left = m.start - ctx.now
    when = _when(m.start, ctx.tz)
    if left <= CONFIRMATION_CUTOFF:
        if ctx.now >= m.end:
            why = "the meeting has already taken place"
        elif ctx.now >= m.start:
            why = "the meeting has already started"
        else:
            why = "the meeting is less than 12 hours away"
        return _skip("confirmation", m, p, f"no confirmation to {_name(p)}: {why} ({when})")
    waited = _waits_for(before, due)
    if waited is not None and ctx.now < waited.start:
        return _waiting("confirmation", m, p, waited, ctx)
    if ctx.now < due:
        days = _plural(ctx.cadence.confirmation_days_before, "day")
        return _Upcoming(_spec("confirmation", m, p, due,
                               f"confirmation: {days} before your meeting with {_name(p)} "
                               f"on {when}"))
    reason = f"confirmation: your meeting with {_name(p)} is on {when}, in {_span(left)}"
    if waited is not None:
        reason += f" (it waited for your meeting with them on {_day(waited.start, ctx.tz)})"
    elif ctx.now - due > LATE_GRACE:
        days = _plural(ctx.cadence.confirmation_days_before, "day")
        reason = (f"confirmation (tagged late): your meeting with {_name(p)} is on {when}, "
                  f"in {_span(left)}; it would normally be confirmed {days} before")
    return _Due(_spec("confirmation", m, p, due, reason))


def _prep(m: NormalMeeting, p: Person, before: NormalMeeting | None, ctx: _Context) -> _Outcome:
    due = _meeting_due("prep", m, ctx)
    when = _when(m.start, ctx.tz)
    if ctx.now >= m.start:
        return _skip("prep", m, p, f"no prep note for your meeting with {_name(p)}: the meeting "
                                   f"has already started ({when})")
    waited = _waits_for(before, due)
    if waited is not None and ctx.now < waited.start:
        return _waiting("prep", m, p, waited, ctx)
    if ctx.now < due:
        return _Upcoming(_spec("prep", m, p, due, f"prep note: the day before your meeting "
                                                  f"with {_name(p)} on {when}"))
    return _Due(_spec("prep", m, p, due, f"prep note: your meeting with {_name(p)} is on "
                                         f"{when}, in {_span(m.start - ctx.now)}"))


def _thank_you(m: NormalMeeting, p: Person, due: datetime, ctx: _Context) -> _Outcome:
    if ctx.now < due:
        hours = _plural(ctx.cadence.thank_you_hours_after, "hour")
        return _Upcoming(_spec("thank_you", m, p, due,
                               f"thank-you: {hours} after your meeting with {_name(p)} "
                               f"ends ({_when(m.end, ctx.tz)})"))
    if ctx.now > m.end + THANK_YOU_WINDOW:
        return _skip("thank_you", m, p, f"no thank-you to {_name(p)}: more than 7 days since "
                                        f"the meeting on {_day(m.start, ctx.tz)}")
    return _Due(_spec("thank_you", m, p, due,
                      f"thank-you: the meeting with {_name(p)} ended "
                      f"{_ago(ctx.now - m.end)}"))


def _follow_up(m: NormalMeeting, p: Person, due: datetime, ctx: _Context) -> _Outcome:
    day = _day(m.start, ctx.tz)
    if ctx.now < due:
        days = _plural(ctx.cadence.follow_up_days_after, "day")
        return _Upcoming(_spec("follow_up", m, p, due,
                               f"follow-up: {days} after your meeting with {_name(p)} on {day}"))
    if ctx.now > due + FOLLOW_UP_WINDOW:
        return _skip("follow_up", m, p, f"no follow-up to {_name(p)}: missed: more than 21 days "
                                        f"past its time ({_day(due, ctx.tz)})")
    return _Due(_spec("follow_up", m, p, due,
                      f"follow-up: {_span(ctx.now - m.end)} since your meeting with "
                      f"{_name(p)} on {day}"))


def _no_contact_reason(m: NormalMeeting, ctx: _Context) -> str:
    head = f'no drafts for "{clean_line(m.title, limit=80)}" on {_day(m.start, ctx.tz)}'
    if m.invalid_reason is not None:
        return f"{head}: {m.invalid_reason}"
    return (f"{head}: it names no contact. Add the person as an attendee, or add a line "
            f'"Contact: Name <email>" to the event description')


# --- contact preferences ---------------------------------------------------------------------


def _held_by_prefs(p: Person, ctx: _Context) -> str | None:
    """Why the user's choice rules out every draft for ``p`` (stopped, paused with no end)."""
    pref = ctx.prefs.get(p.email)
    if pref is None:
        return None
    if pref.status == "stopped":
        return f"you stopped this contact (to start again: coffeechat contact resume {p.email})"
    if pref.status == "paused" and pref.paused_until is None:
        if pref.reason:
            return f"coffeechat paused this contact: {pref.reason} (to start again: " \
                   f"coffeechat contact resume {p.email})"
        return f"paused until you resume (coffeechat contact resume {p.email})"
    return None


def _paused_until(p: Person, ctx: _Context) -> datetime | None:
    """When a timed pause of ``p`` ends, if it is still running."""
    pref = ctx.prefs.get(p.email)
    if pref is None or pref.status != "paused" or pref.paused_until is None:
        return None
    require_aware(pref.paused_until, f"paused_until of {p.email}")
    until = pref.paused_until.astimezone(UTC)
    return until if until > ctx.now else None


def _apply_pause(outcome: _Outcome, p: Person, ctx: _Context) -> _Outcome:
    until = _paused_until(p, ctx)
    if until is None or isinstance(outcome, Skip) or outcome.spec.due >= until:
        return outcome
    spec = outcome.spec
    reason = (f"{_LABELS[spec.kind]} for {_name(p)}: paused until {_when(until, ctx.tz)}, "
              f"then planned again")
    return _Upcoming(spec._replace(due=until, reason=reason))


# --- catch-ups ---------------------------------------------------------------------------------


class _CatchUp(NamedTuple):
    """A catch-up whose time has come, before the daily spread decides whether it is written
    now or waits (its reason is only worded then)."""

    key: str
    contact: Person
    meeting: NormalMeeting
    due: datetime
    basis: tuple[str, datetime]
    """What the catch-up counts from (see :func:`_basis`) and when that was."""

    def spec(self, reason: str, due: datetime | None = None) -> DraftSpec:
        """The draft to plan, due at ``due`` (by default its own time)."""
        return DraftSpec(self.key, "catch_up", self.contact, self.meeting.account,
                         self.meeting.uid, self.due if due is None else due, reason)


@dataclass(frozen=True)
class _Unanswered:
    skip: Skip
    reason: str


def _catch_up_outcomes(
    by_contact: Mapping[str, list[NormalMeeting]], ctx: _Context, limit_frees: list[datetime]
) -> tuple[list[_Outcome], list[tuple[str, str]]]:
    """Each contact's next catch-up, and the contacts to pause for want of an answer. When the
    daily spread holds catch-ups back, ``limit_frees`` gains the time it next makes room."""
    records = _catch_up_records(ctx.drafts)
    out: list[_Outcome] = []
    pauses: list[tuple[str, str]] = []
    ready: list[_CatchUp] = []
    for email in sorted(by_contact):
        outcome = _catch_up(email, by_contact[email], records.get(email, []), ctx)
        if isinstance(outcome, _CatchUp):
            ready.append(outcome)
        elif isinstance(outcome, _Unanswered):
            out.append(outcome.skip)
            pauses.append((email, outcome.reason))
        elif outcome is not None:
            out.append(outcome)
    out.extend(_spread(ready, records, ctx, limit_frees))
    return out, pauses


def _catch_up_records(drafts: Mapping[str, DraftRecord]) -> dict[str, list[DraftRecord]]:
    by_contact: dict[str, list[DraftRecord]] = {}
    for record in drafts.values():
        if record.kind == "catch_up":
            by_contact.setdefault(record.contact.strip().lower(), []).append(record)
    return by_contact


def _created(record: DraftRecord, ctx: _Context) -> datetime:
    """When a record's draft was made; a record still being made (no time yet) counts as now."""
    if record.created_at is None:
        return ctx.now
    if record.created_at.tzinfo is UTC:
        return record.created_at
    require_aware(record.created_at, f"created_at of draft {record.key}")
    return record.created_at.astimezone(UTC)


def _catch_up(
    email: str, meetings: Sequence[NormalMeeting], records: Sequence[DraftRecord], ctx: _Context
) -> _CatchUp | _Unanswered | _Outcome | None:
    now = ctx.now
    last: NormalMeeting | None = None
    coming: NormalMeeting | None = None
    for m in meetings:  # sorted by start
        if m.end > now:
            if coming is None:
                coming = m
        elif last is None or m.end >= last.end:  # a tie goes to the later start (then uid)
            last = m
    if last is None:
        return None
    p = last.contacts[0]
    if p.email != email:
        p = next(c for c in last.contacts if c.email == email)
    n = len(records) + 1
    key = catch_up_key(email, n)
    while key in ctx.drafts:
        n += 1
        key = catch_up_key(email, n)
    has_prefs = email in ctx.prefs
    stop = _held_by_prefs(p, ctx) if has_prefs else None
    if stop is not None:
        return Skip(key, "catch_up", email, last.uid, f"no catch-up with {_name(p)}: {stop}")
    if coming is not None:
        return Skip(key, "catch_up", email, last.uid,
                    f"no catch-up with {_name(p)} for now: a meeting is coming up "
                    f"({_when(coming.start, ctx.tz)})")
    unanswered = _unanswered(email, records, ctx) if email in ctx.mail else 0
    if unanswered >= UNANSWERED_LIMIT:
        why = f"no answer to your last {unanswered} catch-ups"
        return _Unanswered(Skip(key, "catch_up", email, last.uid,
                                f"no catch-up with {_name(p)}: {why}, so coffeechat paused this "
                                f"contact (to start again: coffeechat contact resume {email})"),
                           why)
    cadence = ctx.cadence
    anchor = _wall_shift(last.end, ctx.follow_up_shift, ctx.tz)
    basis = ("follow_up", last.start)
    if records:
        latest = max(_created(r, ctx) for r in records)
        if latest >= anchor:
            anchor = latest
            basis = ("note", latest)
    mail = ctx.mail.get(email) if ctx.mail else None
    exchanged = None if mail is None else mail.latest
    if exchanged is not None and exchanged.at >= anchor:
        anchor = exchanged.at.astimezone(UTC)
        basis = ("email", anchor)
    due = _at_work("catch_up", _wall_shift(anchor, ctx.catch_up_shift, ctx.tz), ctx)
    if now < due:
        every = _plural(cadence.catch_up_every_days, "day")
        spec = DraftSpec(key, "catch_up", p, last.account, last.uid, due,
                         f"catch-up with {_name(p)}: {every} after {_basis(basis, ctx.tz)}")
        return _apply_pause(_Upcoming(spec), p, ctx) if has_prefs else _Upcoming(spec)
    ready = _CatchUp(key, p, last, due, basis)
    if ctx.work_resumes is None and (not has_prefs or _paused_until(p, ctx) is None):
        return ready  # the common case, worded only if the daily spread lets it through
    waiting = _apply_pause(_hold_for_work(_Due(_ready_spec(ready, ctx)), ctx), p, ctx)
    return waiting if isinstance(waiting, _Upcoming) else ready


def _basis(basis: tuple[str, datetime], tz: ZoneInfo) -> str:
    """Words for what a catch-up counts from."""
    what, moment = basis
    if what == "follow_up":
        return f"the follow-up to your meeting on {_day(moment, tz)}"
    if what == "note":
        return f"your last catch-up note ({_day(moment, tz)})"
    return f"your last email with them ({_day(moment, tz)})"


def _ready_spec(ready: _CatchUp, ctx: _Context) -> DraftSpec:
    every = _plural(ctx.cadence.catch_up_every_days, "day")
    return ready.spec(f"catch-up: time to check in with {_name(ready.contact)}, {every} after "
                      f"{_basis(ready.basis, ctx.tz)}")


def _unanswered(email: str, records: Sequence[DraftRecord], ctx: _Context) -> int:
    """How many of the contact's catch-ups went out unanswered: each left Drafts, the user
    wrote to the contact after it was made, and nothing came back since (nor since the user
    last resumed the contact). Without mail for the contact, 0."""
    mail = ctx.mail.get(email)
    if mail is None or mail.last_to_contact is None:
        return 0
    floors = [mail.last_from_contact.at] if mail.last_from_contact is not None else []
    pref = ctx.prefs.get(email)
    if pref is not None and pref.since is not None:
        floors.append(pref.since)
    floor = max(floors, default=None)
    sent_at = mail.last_to_contact.at
    return sum(1 for r in records
               if r.observed == "gone" and _created(r, ctx) <= sent_at
               and (floor is None or _created(r, ctx) > floor))


def _spread(
    ready: list[_CatchUp], records: Mapping[str, list[DraftRecord]], ctx: _Context,
    limit_frees: list[datetime]
) -> list[_Outcome]:
    """Let at most ``max_new_catch_ups_per_day`` catch-ups be due per rolling 24 hours, oldest
    first; the others wait, each with the day its turn is expected. When some wait,
    ``limit_frees`` gains the time the oldest catch-up of the last 24 hours leaves the window
    (a day from now when there is none)."""
    limit = ctx.cadence.max_new_catch_ups_per_day
    ready = sorted(ready, key=_BY_DUE)
    if limit <= 0:
        return [Skip(c.key, "catch_up", c.contact.email, c.meeting.uid,
                     f"no catch-up with {_name(c.contact)}: catch-ups are turned off "
                     f"(max_new_catch_ups_per_day is {limit})") for c in ready]
    since = ctx.now - timedelta(hours=24)
    recent = [made for rs in records.values() for r in rs
              if since < (made := _created(r, ctx)) <= ctx.now]
    budget = max(0, limit - len(recent))
    out: list[_Outcome] = [_Due(_ready_spec(c, ctx)) for c in ready[:budget]]
    if len(ready) > budget:
        limit_frees.append(min(recent, default=ctx.now) + timedelta(hours=24))
    turn, days_ahead, why = ctx.now, ctx.now, ""
    for i, waiting in enumerate(ready[budget:]):
        if i % limit == 0:  # the next day's share: one turn (and its wording) for all of it
            days_ahead += _ONE_DAY
            turn = _at_work("catch_up", days_ahead, ctx)
            why = (f", waiting: at most {limit} new catch-ups a day (its turn comes about "
                   f"{_day(turn, ctx.tz)})")
        out.append(_Upcoming(waiting.spec(f"catch-up with {_name(waiting.contact)}{why}",
                                          due=turn)))
    return out


# --- building blocks -------------------------------------------------------------------------


def _spec(kind: DraftKind, m: NormalMeeting, p: Person, due: datetime, reason: str) -> DraftSpec:
    return DraftSpec(draft_key(kind, m.uid, p.email), kind, p, m.account, m.uid, due, reason)


def _skip(kind: DraftKind, m: NormalMeeting, p: Person, reason: str) -> Skip:
    return Skip(draft_key(kind, m.uid, p.email), kind, p.email, m.uid, reason)


def _name(p: Person) -> str:
    return p.name or p.email


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _span(delta: timedelta) -> str:
    """A rough human length: "45 minutes", "3 hours", "2 days" (days rounded)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return _plural(minutes, "minute")
    if minutes < 36 * 60:
        return _plural(minutes // 60, "hour")
    return _plural((minutes + 12 * 60) // (24 * 60), "day")


def _ago(delta: timedelta) -> str:
    return "just now" if delta < timedelta(minutes=1) else f"{_span(delta)} ago"


def _day(moment: datetime, tz: ZoneInfo) -> str:
    """``moment``'s local date in words, e.g. ``Fri 10 May 2024``."""
    local = moment.astimezone(tz)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


def _when(moment: datetime, tz: ZoneInfo) -> str:
    """``moment``'s local date and time in words, e.g. ``Fri 10 May 2024 at 10:00``."""
    local = moment.astimezone(tz)
    return (f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
            f"at {local.hour:02d}:{local.minute:02d}")
