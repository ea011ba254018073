"""The drafts tied to one meeting: confirmation, prep note, thank-you and follow-up, one at a
time per person (see :mod:`daemon.plan.planner` for the rules), each with its time
(:func:`meeting_due`) and its reason. A new kind about one meeting is a row in
:data:`daemon.core.kinds.KINDS` and its rule here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from daemon.core.facts import NormalMeeting
from daemon.core.keys import draft_key
from daemon.core.kinds import (
    LABELS,
    LATER_STAGES,
    MEETING_KINDS,
    ONE_PENDING,
)
from daemon.core.model import (
    DraftKind,
    Person,
    Skip,
)
from daemon.core.text import clean_line
from daemon.core.timing import wall_shift
from daemon.core.wording import ago, at_time, on_day, plural, span
from daemon.plan.context import (
    CONFIRMATION_CUTOFF,
    FOLLOW_UP_WINDOW,
    LATE_GRACE,
    ONE_DAY,
    THANK_YOU_WINDOW,
    Context,
    Due,
    Outcome,
    Upcoming,
    at_work,
    hold_for_work,
    skip_for,
    spec_for,
    who,
)
from daemon.plan.meetings import History, Place
from daemon.plan.prefs import apply_pause, held_by_prefs


def meeting_outcomes(m: NormalMeeting, history: History, ctx: Context) -> list[Outcome]:
    if not m.contacts and not m.declined:
        return [Skip(f"{m.uid}/no-contact", None, None, m.uid, _no_contact_reason(m, ctx))]
    out: list[Outcome] = []
    for p in m.declined:
        for kind in MEETING_KINDS:
            reason = f"no {LABELS[kind]}: {who(p)} declined the meeting"
            if m.invalid_reason is not None:
                reason = f"no {LABELS[kind]} to {who(p)}: {m.invalid_reason}"
            out.append(skip_for(kind, m, p, reason))
    if m.invalid_reason is not None:
        why = m.invalid_reason
        out.extend(skip_for(kind, m, p, f"no {LABELS[kind]} to {who(p)}: {why}")
                   for p in m.contacts for kind in MEETING_KINDS)
        if ctx.cadence.prep_sheet and m.contacts:
            out.append(skip_for("prep", m, m.contacts[0],
                             f"no prep note to {who(m.contacts[0])}: {why}"))
        return out
    for p in m.contacts:
        place = history.place(p.email, m)
        if history.planned(p.email, place):  # first: most of a long series is not yet
            out.extend(_one_meeting_draft(kind, m, p, place, history, ctx)
                       for kind in MEETING_KINDS
                       if draft_key(kind, m.uid, p.email) not in ctx.drafts)  # made: done
    if ctx.cadence.prep_sheet and m.contacts:
        first = m.contacts[0]
        place = history.place(first.email, m)
        if history.planned(first.email, place):
            out.append(_one_meeting_draft("prep", m, first, place, history, ctx))
    return out



def meeting_due(kind: DraftKind, m: NormalMeeting, ctx: Context) -> datetime:
    """When the draft of ``kind`` about ``m`` is due, by the user's cadence (UTC); raises
    ``ValueError`` for a kind this module has no rule for."""
    c = ctx.cadence
    if kind == "confirmation":
        usual = wall_shift(m.start, ctx.confirmation_shift, ctx.tz)
        waited = at_work(kind, usual, ctx)
        return waited if waited <= m.start - CONFIRMATION_CUTOFF else usual
    if kind == "thank_you":
        return m.end + timedelta(hours=c.thank_you_hours_after)
    if kind == "prep":
        return wall_shift(m.start, -ONE_DAY, ctx.tz)  # the day before, same local time
    if kind == "follow_up":
        return at_work(kind, wall_shift(m.end, ctx.follow_up_shift, ctx.tz), ctx)
    raise ValueError(f"no time for a draft of kind {kind!r} about one meeting")



def _one_meeting_draft(kind: DraftKind, m: NormalMeeting, p: Person, place: Place,
                       history: History, ctx: Context) -> Outcome:
    """The draft of ``kind`` about the valid meeting ``m`` for ``p``, one at a time: a
    confirmation or prep note only for the contact's next meeting, a thank-you or follow-up
    only for the latest meeting due one, once the last of its kind has left Drafts."""
    label = f"no {LABELS[kind]} to {who(p)}"
    held = held_by_prefs(p, ctx)
    if held is not None:
        return skip_for(kind, m, p, f"{label}: {held}")
    written = _written_later(kind, m, p, ctx)
    if written is not None:
        return skip_for(kind, m, p, f"{label}: its {LABELS[written]} is already written, and "
                                 "nothing earlier in a meeting's life comes after it (is the "
                                 "clock behind?)")
    if kind == "confirmation":
        outcome = hold_for_work(_confirmation(m, p, place.before, ctx), ctx,
                                 m.start - CONFIRMATION_CUTOFF)
    elif kind == "prep":
        outcome = _prep(m, p, place.before, ctx)
    else:
        due = meeting_due(kind, m, ctx)
        later = _superseding(kind, p, place, due, history)
        if later is not None:
            return skip_for(kind, m, p, f"{label} for the meeting on {on_day(m.start, ctx.tz)}: "
                                     f"superseded by the meeting on {on_day(later.start, ctx.tz)}")
        if kind == "thank_you":
            wrote = _wrote_since(p, m.start, ctx)
            if wrote is not None:
                return skip_for(kind, m, p, f"{label}: you already wrote to them since the meeting "
                                         f"({at_time(wrote, ctx.tz)})")
            outcome = _thank_you(m, p, due, ctx)
        else:
            outcome = hold_for_work(_follow_up(m, p, due, ctx), ctx)
    outcome = apply_pause(outcome, p, ctx)
    if isinstance(outcome, Due) and kind in ONE_PENDING and (kind, p.email) in ctx.in_drafts:
        return skip_for(kind, m, p, f"{label} for the meeting on {on_day(m.start, ctx.tz)} yet: "
                                 f"your last {LABELS[kind]} to them is still in Drafts; this "
                                 f"one comes once that one is sent or deleted")
    return outcome



def _written_later(kind: DraftKind, m: NormalMeeting, p: Person,
                   ctx: Context) -> DraftKind | None:
    """A draft of a later stage of ``m``'s life than ``kind`` (confirmation and prep, then
    thank-you, then follow-up) already written to ``p`` (in any state but being withdrawn),
    or ``None``. Such a draft proves the earlier stage is over, whatever the clock says: a
    clock set back must not bring a confirmation after the thank-you."""
    for later in LATER_STAGES[kind]:
        record = ctx.drafts.get(draft_key(later, m.uid, p.email))
        if record is not None and record.state != "withdrawing":
            return later
    return None



def _wrote_since(p: Person, moment: datetime, ctx: Context) -> datetime | None:
    """When the user last wrote to ``p``, if at or after ``moment`` (as far as mail shows)."""
    mail = ctx.mail.get(p.email)
    sent = None if mail is None else mail.last_to_contact
    return sent.at if sent is not None and sent.at >= moment else None



def _superseding(kind: DraftKind, p: Person, place: Place, due: datetime,
                 history: History) -> NormalMeeting | None:
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



def _waiting(kind: DraftKind, m: NormalMeeting, p: Person, before: NormalMeeting, ctx: Context
             ) -> Upcoming:
    """A confirmation or prep note held until the contact's previous meeting starts."""
    return Upcoming(spec_for(kind, m, p, before.start,
                           f"{LABELS[kind]} for your meeting with {who(p)} on "
                           f"{at_time(m.start, ctx.tz)}: waits for your meeting with them on "
                           f"{at_time(before.start, ctx.tz)} to take place (one at a time)"))



def _confirmation(m: NormalMeeting, p: Person, before: NormalMeeting | None, ctx: Context
                  ) -> Outcome:
    due = meeting_due("confirmation", m, ctx)
    left = m.start - ctx.now
    when = at_time(m.start, ctx.tz)
    if left <= CONFIRMATION_CUTOFF:
        if ctx.now >= m.end:
            why = "the meeting has already taken place"
        elif ctx.now >= m.start:
            why = "the meeting has already started"
        else:
            why = "the meeting is less than 12 hours away"
        return skip_for("confirmation", m, p, f"no confirmation to {who(p)}: {why} ({when})")
    waited = _waits_for(before, due)
    if waited is not None and ctx.now < waited.start:
        return _waiting("confirmation", m, p, waited, ctx)
    if ctx.now < due:
        days = plural(ctx.cadence.confirmation_days_before, "day")
        return Upcoming(spec_for("confirmation", m, p, due,
                               f"confirmation: {days} before your meeting with {who(p)} "
                               f"on {when}"))
    reason = f"confirmation: your meeting with {who(p)} is on {when}, in {span(left)}"
    if waited is not None:
        reason += f" (it waited for your meeting with them on {on_day(waited.start, ctx.tz)})"
    elif ctx.now - due > LATE_GRACE:
        days = plural(ctx.cadence.confirmation_days_before, "day")
        reason = (f"confirmation (tagged late): your meeting with {who(p)} is on {when}, "
                  f"in {span(left)}; it would normally be confirmed {days} before")
    return Due(spec_for("confirmation", m, p, due, reason))



def _prep(m: NormalMeeting, p: Person, before: NormalMeeting | None, ctx: Context) -> Outcome:
    due = meeting_due("prep", m, ctx)
    when = at_time(m.start, ctx.tz)
    if ctx.now >= m.start:
        return skip_for("prep", m, p, f"no prep note for your meeting with {who(p)}: the meeting "
                                   f"has already started ({when})")
    waited = _waits_for(before, due)
    if waited is not None and ctx.now < waited.start:
        return _waiting("prep", m, p, waited, ctx)
    if ctx.now < due:
        return Upcoming(spec_for("prep", m, p, due, f"prep note: the day before your meeting "
                                                  f"with {who(p)} on {when}"))
    return Due(spec_for("prep", m, p, due, f"prep note: your meeting with {who(p)} is on "
                                         f"{when}, in {span(m.start - ctx.now)}"))



def _thank_you(m: NormalMeeting, p: Person, due: datetime, ctx: Context) -> Outcome:
    if ctx.now < due:
        hours = plural(ctx.cadence.thank_you_hours_after, "hour")
        return Upcoming(spec_for("thank_you", m, p, due,
                               f"thank-you: {hours} after your meeting with {who(p)} "
                               f"ends ({at_time(m.end, ctx.tz)})"))
    if ctx.now > m.end + THANK_YOU_WINDOW:
        return skip_for("thank_you", m, p, f"no thank-you to {who(p)}: more than 7 days since "
                                        f"the meeting on {on_day(m.start, ctx.tz)}")
    return Due(spec_for("thank_you", m, p, due,
                      f"thank-you: the meeting with {who(p)} ended "
                      f"{ago(ctx.now - m.end)}"))



def _follow_up(m: NormalMeeting, p: Person, due: datetime, ctx: Context) -> Outcome:
    day = on_day(m.start, ctx.tz)
    if ctx.now < due:
        days = plural(ctx.cadence.follow_up_days_after, "day")
        return Upcoming(spec_for("follow_up", m, p, due,
                               f"follow-up: {days} after your meeting with {who(p)} on {day}"))
    if ctx.now > due + FOLLOW_UP_WINDOW:
        return skip_for("follow_up", m, p, f"no follow-up to {who(p)}: missed: more than 21 days "
                                        f"past its time ({on_day(due, ctx.tz)})")
    return Due(spec_for("follow_up", m, p, due,
                      f"follow-up: {span(ctx.now - m.end)} since your meeting with "
                      f"{who(p)} on {day}"))



def _no_contact_reason(m: NormalMeeting, ctx: Context) -> str:
    head = f'no drafts for "{clean_line(m.title, limit=80)}" on {on_day(m.start, ctx.tz)}'
    if m.invalid_reason is not None:
        return f"{head}: {m.invalid_reason}"
    return (f"{head}: it names no contact. Add the person as an attendee, or add a line "
            f'"Contact: Name <email>" to the event description')
