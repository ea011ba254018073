"""Read-mostly views of the state for the CLI: a snapshot with a fresh plan, a preview, and the
user's per-contact choices."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from daemon.core.errors import CoffeechatError
from daemon.core.facts import NormalMeeting
from daemon.core.model import (
    Attendee,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    DraftSpec,
    Interview,
    Meeting,
    Person,
    Plan,
    SettledSummary,
)
from daemon.core.skipped import Skipped
from daemon.cycle.replies import mail_for_planning, seen_in_use, threads
from daemon.plan.planner import plan
from daemon.plan.settle import still_planned_for
from daemon.settings.config import Settings
from daemon.state.locks import write_lock
from daemon.state.store import Store


@dataclass(frozen=True)
class Snapshot:
    """The state as stored, and what the planner makes of it at ``now``."""

    now: datetime
    meetings: list[NormalMeeting]
    """The stored meetings as the planner read them (:meth:`Store.normal_meetings`)."""
    prefs: dict[str, ContactPrefs]
    drafts: dict[str, DraftRecord]
    plan: Plan
    not_read: dict[str, Skipped]
    """What each account's calendar could not give when last read (see
    :meth:`Store.skipped`)."""
    settled: SettledSummary
    """What left the state and is not in ``interviews`` and ``drafts`` (see
    :meth:`Store.settled_summary`)."""


def snapshot(settings: Settings, now: datetime | None = None, *,
             settled: bool = False) -> Snapshot:
    """Read the state without locking it (writes are atomic) and plan at ``now``. With
    ``settled``, the settled history is read too, and is part of ``interviews`` and ``drafts``
    (otherwise only counted in ``settled``)."""
    moment = now or datetime.now(UTC)
    store = Store(settings.state_path)
    wide = settled or still_planned_for(store.settled_end(), moment, settings.cadence)
    meetings = store.normal_meetings(settled=wide)
    prefs = store.prefs()
    drafts = store.drafts(settled=wide)
    current = plan(meetings, prefs, drafts, moment, settings.cadence, settings.timezone,
                   mail=mail_for_planning(settings, store))
    return Snapshot(now=moment, meetings=meetings, prefs=prefs, drafts=drafts,
                    plan=current, not_read=store.skipped(),
                    settled=SettledSummary({}, 0, 0) if wide else store.settled_summary())


def sample_interview(settings: Settings, now: datetime) -> Interview:
    """A made-up meeting for previews when none is stored yet."""
    local = now.astimezone(settings.timezone).replace(hour=10, minute=0, second=0,
                                                      microsecond=0) + timedelta(days=3)
    contact = Person("alex.morgan@example.com", "Alex Morgan")
    meeting = Meeting(
        uid="sample", title="Coffee chat with Alex Morgan", start=local,
        end=local + timedelta(minutes=30), location="Corner Cafe, 12 Main St",
        description="Notes: ask how Alex moved from support into product management.",
        attendees=(Attendee(contact.email, contact.name, "accepted"),))
    return Interview(meeting=meeting, account="sample", contacts=(contact,),
                     notes="ask how Alex moved from support into product management.")


PREVIEW_NEWS = "(Your news goes here: `coffeechat announce --message \"...\"` fills it in.)"
"""The announcement a ``news`` preview shows in place of the user's own words."""


def preview_message(settings: Settings, kind: DraftKind, query: str | None,
                    now: datetime | None = None) -> str:
    """The ``kind`` draft for the stored meeting matching ``query`` (its uid, or part of its
    title) or, with no query, the latest stored meeting with a contact, or a sample; as the
    user will read it (:func:`daemon.mail.message.readable`).

    The message is made by the very code that writes drafts (:meth:`Executor.message_for`,
    with the draft the plan has for that meeting and kind when there is one, in the conversation
    reply detection found for it): a prep note is addressed to the user, a catch-up carries its
    number in its key, a follow-up or catch-up written as a reply has its ``In-Reply-To`` and
    ``Re:`` subject. Nothing is written: the state is opened read-only and never saved.

    Raises ``CoffeechatError`` when nothing matches, ``TemplateError`` when the template cannot
    render and ``UnsafeMessageError`` when the message would not be safe to write.
    """
    from daemon.cycle.executor import Executor  # templates: only here
    from daemon.mail.message import readable
    from daemon.mail.templates import Renderer

    moment = now or datetime.now(UTC)
    store = Store(settings.state_path)
    candidates = [iv for iv in store.interviews() if iv.contacts]
    if query:
        needle = query.lower()
        matches = [iv for iv in candidates
                   if iv.meeting.uid == query or needle in iv.meeting.title.lower()]
        if not matches:
            raise CoffeechatError(f"no stored meeting with a contact matches {query!r}; "
                                  "`coffeechat plan` lists them")
        interview = matches[-1]
    elif candidates:
        interview = max(candidates, key=lambda iv: iv.meeting.start)
    else:
        interview = sample_interview(settings, moment)
        store.put_interview(interview)  # in memory only: a read-only store is never saved
    spec = preview_spec(settings, store, kind, interview, moment)
    executor = Executor(store, Renderer(settings.templates_dir), settings.me,
                        settings.timezone, lambda: moment)
    try:
        message = executor.message_for(spec, threads(seen_in_use(settings, store)))
    except LookupError as exc:  # the meeting vanished between reading and rendering
        raise CoffeechatError(f"the meeting to preview is gone: {exc}") from exc
    return readable(message)


def preview_spec(settings: Settings, store: Store, kind: DraftKind, interview: Interview,
                 now: datetime) -> DraftSpec:
    """The draft a preview of ``kind`` about ``interview`` shows: the one planned now for that
    meeting and kind, else one made as the planner makes them, to the meeting's first contact.
    """
    from daemon.core.keys import catch_up_key, draft_key, news_key

    contact = interview.contacts[0]
    current = plan(store.interviews(), store.prefs(), store.drafts(), now, settings.cadence,
                   settings.timezone, mail=mail_for_planning(settings, store))
    for planned in (*current.due, *current.upcoming):
        if (planned.kind == kind and planned.meeting_uid == interview.meeting.uid
                and planned.account == interview.account):
            return planned._replace(message=PREVIEW_NEWS) if kind == "news" else planned
    email = contact.email.lower()
    key = {"catch_up": catch_up_key(email, 1),
           "news": news_key(PREVIEW_NEWS, email)}.get(
        kind, draft_key(kind, interview.meeting.uid, email))
    return DraftSpec(key=key, kind=kind, contact=contact, account=interview.account,
                     meeting_uid=interview.meeting.uid, due=now, reason="preview",
                     message=PREVIEW_NEWS if kind == "news" else "")


def change_prefs(settings: Settings, prefs: ContactPrefs) -> str:
    """Record the user's choice about a contact seen in a tagged meeting; returns a sentence
    saying what changed; the choice is dated now (so after ``resume``, catch-ups sent before
    no longer count as unanswered); a running cycle is waited for, however long it takes.
    Raises ``CoffeechatError`` for an unknown address."""
    with write_lock(settings.state_path, timeout=None):
        store = Store(settings.state_path, writable=True)
        known = {p.email for iv in store.interviews() for p in (*iv.contacts, *iv.declined)}
        if prefs.email not in known and prefs.email not in store.settled_summary().people:
            raise CoffeechatError(f"{prefs.email} is not a contact of any tagged meeting; "
                                  "`coffeechat contacts` lists them")
        if prefs.since is None:
            prefs = replace(prefs, since=datetime.now(UTC))
        store.put_prefs(prefs)
        store.flush()
    if prefs.status == "stopped":
        return f"Stopped: no more drafts to {prefs.email} (undo with `contact resume`)."
    if prefs.status == "paused":
        until = ("until you resume" if prefs.paused_until is None
                 else f"until {prefs.paused_until:%Y-%m-%d}")
        return f"Paused: no drafts to {prefs.email} {until}."
    return f"Resumed: drafts to {prefs.email} will be written when due."
