"""``coffeechat announce``: one personal note with the user's news to every active contact.

A contact is active when they are in a tagged meeting that was neither cancelled nor declined,
and the user has not stopped or paused them. Each contact's note is written in the account of
their latest meeting with the user and mentions that meeting. The drafts are keyed by a digest
of the message (``news/<digest>/<address>``), so running the same announcement again writes only
the notes not yet written: a limit that left contacts out is continued by running it again,
and an interrupted run by the same means. Nothing is written without ``write``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import ConnectorEnv, Opener
from connectors.base import open_account as default_opener
from daemon.core.errors import CoffeechatError, ConnectorError
from daemon.core.keys import news_key
from daemon.core.model import ContactPrefs, DraftRecord, DraftSpec, Interview
from daemon.cycle.executor import Executor
from daemon.mail.message import readable
from daemon.mail.templates import Renderer
from daemon.settings.config import Settings
from daemon.settings.paths import data_dir
from daemon.state.locks import write_lock
from daemon.state.store import Store

MAX_MESSAGE = 5000
"""The longest announcement accepted, in characters."""


@dataclass(frozen=True)
class Announcement:
    """What an announcement would write."""

    specs: tuple[DraftSpec, ...]
    """The notes to write now (at most the limit), most recently met contacts first."""
    already: tuple[str, ...]
    """Contacts who already have this note."""
    left_out: tuple[str, ...]
    """Contacts beyond the limit: running the announcement again writes theirs."""


@dataclass
class Announced:
    """What writing an announcement did."""

    made: list[DraftRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def prepare(settings: Settings, store: Store, message: str, limit: int,
            now: datetime) -> Announcement:
    """Work out who gets the note. Raises ``CoffeechatError`` for an empty or overlong
    message, or when there is no active contact at all."""
    text = message.strip()
    if not text:
        raise CoffeechatError("the message is empty: say your news with --message \"...\"")
    if len(text) > MAX_MESSAGE:
        raise CoffeechatError(f"the message is {len(text)} characters long; keep it under "
                              f"{MAX_MESSAGE} (the template adds the greeting and thanks)")
    configured = {a.name for a in settings.accounts}
    latest = _latest_meetings(store.interviews(), store.prefs(), configured, now)
    if not latest:
        raise CoffeechatError("no active contact: no tagged meeting has a contact who is not "
                              "stopped or paused (`coffeechat contacts` lists them)")
    records = store.drafts()
    specs: list[DraftSpec] = []
    already: list[str] = []
    left_out: list[str] = []
    for email, (interview, name) in latest.items():
        key = news_key(text, email)
        if key in records:
            already.append(email)
        elif len(specs) >= limit:
            left_out.append(email)
        else:
            contact = next(p for p in interview.contacts if p.email.lower() == email)
            specs.append(DraftSpec(key=key, kind="news", contact=contact,
                                   account=interview.account, meeting_uid=interview.meeting.uid,
                                   due=now, reason=f"news for {name}", message=text))
    return Announcement(specs=tuple(specs), already=tuple(already), left_out=tuple(left_out))


def _latest_meetings(interviews: list[Interview], prefs: dict[str, ContactPrefs],
                     configured: set[str], now: datetime) -> dict[str, tuple[Interview, str]]:
    """Each active contact's latest valid meeting (and their name), most recent first."""
    best: dict[str, Interview] = {}
    names: dict[str, str] = {}
    for iv in interviews:
        if iv.meeting.cancelled or iv.user_declined or iv.account not in configured:
            continue
        for p in iv.contacts:
            email = p.email.lower()
            if not _active(prefs.get(email), now):
                continue
            names.setdefault(email, p.name or email)
            if email not in best or iv.meeting.start > best[email].meeting.start:
                best[email] = iv
    order = sorted(best, key=lambda e: (-best[e].meeting.start.timestamp(), e))
    return {email: (best[email], names[email]) for email in order}


def _active(pref: ContactPrefs | None, now: datetime) -> bool:
    if pref is None or pref.status == "active":
        return True
    return (pref.status == "paused" and pref.paused_until is not None
            and pref.paused_until <= now)


def preview(settings: Settings, store: Store, spec: DraftSpec, now: datetime) -> str:
    """The first note as it would be written, as the contact will read it (decoded:
    :func:`daemon.mail.message.readable`). Raises ``TemplateError`` or ``UnsafeMessageError`` when
    it cannot be rendered."""
    executor = Executor(store, Renderer(settings.templates_dir), settings.me,
                        settings.timezone, lambda: now)
    return readable(executor.message_for(spec))


def write(settings: Settings, message: str, limit: int, opener: Opener = default_opener,
          clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Announced:
    """Write the notes (under the state's write lock, so beside a running service), exactly
    once each; returns what was made and what could not be. An account that fails stops its
    own notes only: running the announcement again writes them."""
    done = Announced()
    env = ConnectorEnv(timezone=settings.timezone, clock=clock, data_dir=data_dir())
    renderer = Renderer(settings.templates_dir)
    kinds = {a.name: (a.kind, a.options) for a in settings.accounts}
    with write_lock(settings.state_path):
        store = Store(settings.state_path, writable=True)
        executor = Executor(store, renderer, settings.me, settings.timezone, clock)
        boxes = {}
        # Settle what an interrupted run left before deciding who still needs a note.
        for account in sorted({s.account for s in prepare(settings, store, message, limit,
                                                           clock()).specs}):
            kind, options = kinds[account]
            try:
                boxes[account] = opener(account, kind, options, env).drafts
                executor.resolve_leftovers(account, boxes[account])
            except ConnectorError as exc:
                boxes.pop(account, None)
                done.problems.append(f"{account}: {exc}")
        plan = prepare(settings, store, message, limit, clock())
        for account, box in boxes.items():
            specs = [s for s in plan.specs if s.account == account]
            try:
                written = executor.write(specs, box)
            except ConnectorError as exc:
                done.problems.append(f"{account}: {exc}")
                continue
            done.made.extend(written.made)
            done.problems.extend(written.problems)
        store.flush()
    return done
