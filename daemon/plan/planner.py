"""What is due, what is coming, and what will not be written, with the reason for each.

Pure: :func:`plan` is a function of its arguments only. It does no I/O and reads no clock;
``now`` is given. The output is sorted, so the same input always gives the same plan.

Time arithmetic (see also :func:`daemon.core.timing.add_days`):

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
- Of a contact's meetings that have not started, only the next
  :data:`~daemon.plan.context.PLAN_AHEAD` (two) are planned; the others are counted in
  ``Plan.later``, and the plan's ``next_change`` is no later than the start of the last one
  planned, when the next is taken in. Nothing of theirs could be due before then: a
  confirmation or prep note waits for the meeting before it, a thank-you or follow-up for the
  meeting's end.

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

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from daemon.core import collector
from daemon.core.facts import NormalMeeting
from daemon.core.kinds import (
    LABELS,
    PRIORITY,
)
from daemon.core.model import (
    Cadence,
    ContactMail,
    ContactPrefs,
    DraftRecord,
    DraftSpec,
    Interview,
    Plan,
    Skip,
)
from daemon.core.timing import (
    add_days,
    apply_daily_cap,
    require_aware,
    start_of_local_day,
)
from daemon.core.wording import on_day
from daemon.plan.catch_ups import catch_up_outcomes
from daemon.plan.context import (
    BY_DUE,
    SETTLED_MARGIN_DAYS,
    Context,
    Due,
    Outcome,
    Upcoming,
    created,
    still_in_drafts,
    who,
    work_resumes,
)
from daemon.plan.meetings import History, normalise, valid_meetings_by_contact
from daemon.plan.one_meeting import meeting_due, meeting_outcomes


def plan(
    interviews: Iterable[Interview | NormalMeeting],
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
    ``interviews`` may also hold meetings the state gave already normalised
    (:meth:`daemon.state.store.Store.normal_meetings`): the plan is the same.
    ``mail`` maps a contact's address to what the user's mailboxes show of mail with them
    (reply detection); a contact missing from it is planned on the calendar alone.
    Raises ``ValueError`` if ``now``, a meeting's time, a pause's end or a record's
    ``created_at`` is a naive datetime.
    """
    require_aware(now, "now")
    with collector.paused():
        return _plan(interviews, prefs, drafts, now, cadence, tz, mail)



def _plan(interviews: Iterable[Interview | NormalMeeting], prefs: Mapping[str, ContactPrefs],
          drafts: Mapping[str, DraftRecord], now: datetime, cadence: Cadence, tz: ZoneInfo,
          mail: Mapping[str, ContactMail] | None) -> Plan:
    ctx = Context(
        now=now.astimezone(UTC),
        cadence=cadence,
        tz=tz,
        prefs={k.strip().lower(): v for k, v in prefs.items()},
        drafts=drafts,
        mail=mail or {},
        in_drafts=still_in_drafts(drafts),
        work_resumes=work_resumes(now, cadence, tz),
        confirmation_shift=timedelta(days=-cadence.confirmation_days_before),
        follow_up_shift=timedelta(days=cadence.follow_up_days_after),
        catch_up_shift=timedelta(days=cadence.catch_up_every_days),
    )
    meetings = normalise(interviews)
    by_contact = valid_meetings_by_contact(meetings)
    history = History(by_contact, ctx, meeting_due)
    out = _Collector(drafts, ctx)
    settled_before = ctx.now - timedelta(days=cadence.follow_up_days_after + SETTLED_MARGIN_DAYS)
    for meeting in meetings:
        if meeting.end < settled_before:
            continue  # settled: it still anchors catch-ups, but nothing of its own can be due
        for outcome in meeting_outcomes(meeting, history, ctx):
            out.add(outcome)
    outcomes, pauses = catch_up_outcomes(by_contact, ctx, out.limit_frees)
    for outcome in outcomes:
        out.add(outcome)
    later = history.later()
    out.limit_frees.extend(start for _, _, start in later)
    return out.result(pauses, tuple((email, n) for email, n, _ in later))



class _Collector:
    """Gathers outcomes, dropping keys already in ``drafts`` and any repeated key, and applies
    the daily limit on new drafts."""

    def __init__(self, drafts: Mapping[str, DraftRecord], ctx: Context) -> None:
        self._drafts = drafts
        self._ctx = ctx
        self._seen: set[str] = set()
        self._due: list[DraftSpec] = []
        self._upcoming: list[DraftSpec] = []
        self._skipped: list[Skip] = []
        self.limit_frees: list[datetime] = []
        """When a daily limit that held drafts back makes room again."""

    def add(self, outcome: Outcome) -> None:
        key = outcome.key if isinstance(outcome, Skip) else outcome.spec.key
        if key in self._drafts or key in self._seen:
            return
        self._seen.add(key)
        if isinstance(outcome, Due):
            self._due.append(outcome.spec)
        elif isinstance(outcome, Upcoming):
            self._upcoming.append(outcome.spec)
        else:
            self._skipped.append(outcome)

    def result(self, pauses: Sequence[tuple[str, str]], later: tuple[tuple[str, int], ...]
               ) -> Plan:
        due, waiting = self._daily_cap()
        upcoming = tuple(sorted((*self._upcoming, *waiting), key=BY_DUE))
        return Plan(
            due=tuple(sorted(due, key=BY_DUE)),
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
        made_today = sum(1 for r in self._drafts.values() if created(r, ctx) >= midnight)
        ranked = sorted(self._due, key=lambda s: (PRIORITY[s.kind], s.due, s.key))
        kept, deferred = apply_daily_cap(ranked, made_today=made_today, cap=cap, now=ctx.now,
                                         tz=ctx.tz, hours=ctx.cadence.working_hours)
        if deferred:  # the count starts again at midnight, for the kinds that need no work hours
            self.limit_frees.append(add_days(midnight, 1, ctx.tz))
        waiting = [spec._replace(due=turn, reason=(
            f"{LABELS[spec.kind]} for {who(spec.contact)}, waiting: at most {cap} new drafts "
            f"a day (its turn comes about {on_day(turn, ctx.tz)})")) for spec, turn in deferred]
        return list(kept), waiting
