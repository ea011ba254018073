"""Read-mostly views of the state for the CLI: a snapshot with a fresh plan, a preview, and the
user's per-contact choices."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from daemon.config import Settings
from daemon.errors import CoffeechatError
from daemon.locks import write_lock
from daemon.model import (
    Attendee,
    ContactPrefs,
    DraftKind,
    DraftRecord,
    Interview,
    Meeting,
    Person,
    Plan,
)
from daemon.planner import plan
from daemon.replies import mail_for_planning
from daemon.skipped import Skipped
from daemon.store import Store


@dataclass(frozen=True)
class Snapshot:
    """The state as stored, and what the planner makes of it at ``now``."""

    now: datetime
    interviews: list[Interview]
    prefs: dict[str, ContactPrefs]
    drafts: dict[str, DraftRecord]
    plan: Plan
    not_read: dict[str, Skipped]
    """What each account's calendar could not give when last read (see
    :meth:`Store.skipped`)."""


def snapshot(settings: Settings, now: datetime | None = None) -> Snapshot:
    """Read the state without locking it (writes are atomic) and plan at ``now``."""
    moment = now or datetime.now(UTC)
    store = Store(settings.state_path)
    interviews = store.interviews()
    prefs = store.prefs()
    drafts = store.drafts()
    current = plan(interviews, prefs, drafts, moment, settings.cadence, settings.timezone,
                   mail=mail_for_planning(settings, store))
    return Snapshot(now=moment, interviews=interviews, prefs=prefs, drafts=drafts,
                    plan=current, not_read=store.skipped())


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


def preview_message(settings: Settings, kind: DraftKind, query: str | None) -> str:
    """Render ``kind`` for the stored meeting matching ``query`` (its uid, or part of its
    title) or, with no query, the latest stored meeting with a contact, or a sample.

    Returns the message as text. Raises ``CoffeechatError`` when nothing matches, and
    ``TemplateError`` when the template cannot render.
    """
    from daemon.render import Renderer, build_message, draft_variables  # templates: only here

    now = datetime.now(UTC)
    candidates = [iv for iv in Store(settings.state_path).interviews() if iv.contacts]
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
        interview = sample_interview(settings, now)
    contact = interview.contacts[0]
    variables = draft_variables(kind, contact, interview, settings.me, settings.timezone)
    rendered = Renderer(settings.templates_dir).render(kind, variables)
    message = build_message(rendered, settings.me, contact, f"preview/{kind}", now)
    return message.as_string()


def change_prefs(settings: Settings, prefs: ContactPrefs) -> str:
    """Record the user's choice about a contact seen in a tagged meeting; returns a sentence
    saying what changed; the choice is dated now (so after ``resume``, catch-ups sent before
    no longer count as unanswered); a running cycle is waited for, however long it takes.
    Raises ``CoffeechatError`` for an unknown address."""
    with write_lock(settings.state_path, timeout=None):
        store = Store(settings.state_path, writable=True)
        known = {p.email for iv in store.interviews() for p in (*iv.contacts, *iv.declined)}
        if prefs.email not in known:
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
