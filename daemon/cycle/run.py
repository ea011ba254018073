"""One cycle: sync each account, tag, store, reconcile written drafts, plan (unless the cycle
is idle, see :mod:`daemon.cycle.idle`), check mail where reply detection is on, write drafts.

One failing account never stops the others: its error is recorded in the cycle's report and
the rest go on. The order inside an account keeps drafts exactly-once: leftovers of an
interrupted cycle are resolved first; a new sync cursor is saved only together with the
meetings it delivered, and with what the calendar could not give (:mod:`daemon.core.skipped`); the
planner reads meetings from the store, never from the last batch.

Each cursor is stored with the fingerprint of the tagging settings its meetings were read with
(:func:`daemon.core.tagging.fingerprint`). When the settings differ, or a cursor from an earlier
coffeechat has none, the account is read in full once, so that meetings synced before and
unchanged since are tagged by the current settings; their drafts are not made twice (keys
are deterministic and every draft is recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from connectors.base import Account, ConnectorEnv, Opener
from connectors.base import open_account as default_opener
from daemon.core import skipped
from daemon.core.errors import AuthError, ConnectorError, CursorExpired
from daemon.core.model import JSON, DraftRecord, Interview, Meeting, Plan, Removed, SourceNotes
from daemon.core.tagging import fingerprint, interview_from
from daemon.core.text import clean_line
from daemon.cycle import idle
from daemon.cycle.executor import Executor
from daemon.cycle.observe import observe
from daemon.cycle.reconcile import reconcile
from daemon.cycle.replies import (
    lift_answered,
    mail_for_planning,
    pause_unanswered,
    paused_checks,
    reading,
    refresh,
    seen_in_use,
    threads,
    wanted,
)
from daemon.mail.templates import Renderer
from daemon.plan import settle
from daemon.plan.planner import plan
from daemon.settings.config import AccountSettings, Settings
from daemon.state.settled import settled_path
from daemon.state.store import Store

log = logging.getLogger(__name__)

SETTLE_EVERY = timedelta(days=1)
"""How often a cycle looks for meetings that settled (see :func:`_move_settled`)."""

@dataclass
class AccountOutcome:
    """What one account did in a cycle."""

    name: str
    ok: bool = True
    message: str = ""
    needs_auth: bool = False
    """The account failed because the user must sign in again."""
    changes: int = 0
    drafted: list[DraftRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    withdrawn: list[DraftRecord] = field(default_factory=list)
    """Untouched drafts removed because their meeting moved or was called off."""
    flagged: list[DraftRecord] = field(default_factory=list)
    """Edited drafts left alone although their meeting moved or was called off."""


@dataclass
class CycleReport:
    """What a cycle did, account by account, and the plan it acted on."""

    started: datetime
    accounts: list[AccountOutcome]
    plan: Plan | None
    """``None`` when nothing had changed and nothing was due, so the planner did not run."""

    @property
    def ok(self) -> bool:
        """True when every account synced and every due draft was written."""
        return all(a.ok and not a.problems for a in self.accounts)

    @property
    def drafted(self) -> list[DraftRecord]:
        """Every draft made in this cycle."""
        return [record for a in self.accounts for record in a.drafted]


def run_cycle(settings: Settings, store: Store, env: ConnectorEnv, renderer: Renderer,
              opener: Opener = default_opener,
              only: Collection[str] | None = None) -> CycleReport:
    """Run one cycle over every configured account (or those named in ``only``; the others'
    drafts wait for their turn) against ``store``.

    Returns the report; raises only ``StateError`` (the state cannot be written), which stops
    the cycle because nothing could be recorded safely. What the cycle learnt is saved once,
    at its end; only the ledger (:mod:`daemon.state.ledger`) saves before that, ahead of each
    change to Drafts.
    """
    report = _run(settings, store, env, renderer, opener, only)
    store.flush()
    return report


def _run(settings: Settings, store: Store, env: ConnectorEnv, renderer: Renderer,
         opener: Opener, only: Collection[str] | None) -> CycleReport:
    started = env.clock()
    executor = Executor(store, renderer, settings.me, settings.timezone, env.clock)
    outcomes: dict[str, AccountOutcome] = {}
    opened: dict[str, Account] = {}
    for account in settings.accounts:
        if only is not None and account.name not in only:
            continue
        outcome = outcomes.setdefault(account.name, AccountOutcome(account.name))
        try:
            handle = opener(account.name, account.kind, account.options, env)
            adopted = executor.resolve_leftovers(account.name, handle.drafts)
            outcome.drafted.extend(adopted)
            outcome.changes = _sync(settings, account, store, handle)
            done = reconcile(store, account.name, handle.drafts, env.clock())
            outcome.withdrawn, outcome.flagged = done.withdrawn, done.flagged
            opened[account.name] = handle
        except ConnectorError as exc:
            _fail(outcome, exc)

    now = env.clock()
    key = idle.settings_key(settings)
    if idle.still_idle(store, key, now):
        _observe(store, opened, outcomes, env)
        _settle(settings, store, key, env.clock(), outcomes.values())
        return CycleReport(started=started, accounts=list(outcomes.values()), plan=None)
    _move_settled(settings, store, now)
    current = _plan(settings, store, now)
    if any(handle.mail is not None for handle in opened.values()):
        current = _check_mail(settings, store, opened, outcomes, current, now)
    pause_unanswered(store, current.to_pause, now)
    store.set_plan_memo(key, idle.wake_up(current, _paused_checks(settings, store, now), now))
    conversations = threads(seen_in_use(settings, store)) if current.due else {}
    for name, handle in opened.items():
        outcome = outcomes[name]
        specs = [spec for spec in current.due if spec.account == name]
        if not specs:
            continue
        try:
            written = executor.write(specs, handle.drafts, conversations)
        except ConnectorError as exc:
            _fail(outcome, exc)
            continue
        outcome.drafted.extend(written.made)
        outcome.problems.extend(written.problems)
    _observe(store, opened, outcomes, env)
    _settle(settings, store, key, env.clock(), outcomes.values())
    _report_orphans(current, {a.name for a in settings.accounts})
    return CycleReport(started=started, accounts=list(outcomes.values()), plan=current)


def _observe(store: Store, opened: Mapping[str, Account], outcomes: Mapping[str, AccountOutcome],
             env: ConnectorEnv) -> None:
    """Learn what the user did with the drafts of every account that worked this cycle."""
    for name, handle in opened.items():
        if outcomes[name].ok:
            observe(store, name, handle.drafts, env.clock())


def _settle(settings: Settings, store: Store, key: str, now: datetime,
            outcomes: Iterable[AccountOutcome]) -> None:
    """After a cycle that changed what the planner reads (it wrote drafts, or learnt what the
    user did with some), and in which every account worked, plan once more so that the next
    cycle, if nothing changes, can skip planning and write nothing."""
    if store.plan_memo() is not None or not all(o.ok and not o.problems for o in outcomes):
        return
    settled = _plan(settings, store, now)
    store.set_plan_memo(key, idle.wake_up(settled, _paused_checks(settings, store, now), now))


def _paused_checks(settings: Settings, store: Store, now: datetime) -> list[datetime]:
    accounts = reading(settings)
    if not accounts:
        return []
    return paused_checks(store.prefs(), store.mail_seen(), accounts, now)


def _plan(settings: Settings, store: Store, now: datetime) -> Plan:
    wide = settle.still_planned_for(store.settled_end(), now, settings.cadence)
    return plan(store.interviews(settled=wide), store.prefs(), store.drafts(settled=wide), now,
                settings.cadence, settings.timezone, mail=mail_for_planning(settings, store))


def _move_settled(settings: Settings, store: Store, now: datetime) -> None:
    """Once a day, move the meetings that settled to the settled file (see
    :mod:`daemon.plan.settle`); first bring back every settled meeting if the planner could need
    them again (the clock went back, or ``follow_up_days_after`` was raised)."""
    if settle.still_planned_for(store.settled_end(), now, settings.cadence):
        came = store.unsettle_all()
        log.info("brought %d settled meetings back into the state: the clock went back or "
                 "follow_up_days_after was raised, so the planner may need them", came)
    checked = store.settle_checked()
    if checked is not None and checked <= now < checked + SETTLE_EVERY:
        return
    found = settle.settleable(store.interviews(), store.drafts(), store.pending_uids(), now,
                              settings.cadence)
    moved = store.settle(found.meetings, found.records, now)
    if moved:
        log.info("moved %d settled meetings and draft records to %s", moved,
                 settled_path(store.path))


def _check_mail(settings: Settings, store: Store, opened: dict[str, Account],
                outcomes: dict[str, AccountOutcome], current: Plan, now: datetime) -> Plan:
    """Ask the mailboxes about the contacts whose due drafts depend on mail, lift pauses the
    contacts answered, and plan again if anything changed. A mailbox that cannot be read
    fails its account for this cycle (and leaves ``opened``)."""
    mailboxes = {name: h.mail for name, h in opened.items() if h.mail is not None}
    changed = False
    for name, contacts in wanted(current, store.prefs(), store.mail_seen(), mailboxes,
                                 now).items():
        try:
            changed = refresh(store, name, mailboxes[name], contacts, now) or changed
        except ConnectorError as exc:
            _fail(outcomes[name], exc)
            del opened[name]
    lifted = lift_answered(store, mail_for_planning(settings, store), now)
    return _plan(settings, store, now) if changed or lifted else current


def _sync(settings: Settings, configured: AccountSettings, store: Store,
          account: Account) -> int:
    """Pull the account's calendar changes into the store; returns how many arrived. The
    changed meetings that have drafts are marked pending reconciliation together with the new
    cursor (they are saved in the same write), so a failure before reconciling loses none of
    them."""
    tagging = fingerprint(settings.tagging, settings.me.emails,
                          {key: configured.options.get(key) for key in configured.tagging_keys})
    cursor = store.cursor(account.name)
    if cursor is not None and store.cursor_tagging(account.name) != tagging:
        log.info("%s: the tagging rules changed since the calendar was last read ([tagging], "
                 "me.emails, color_id, or a newer coffeechat); reading it again in full, once",
                 account.name)
        cursor = None
    try:
        read, new_cursor = _read(settings, account, cursor, _first_sync(store, account, cursor))
    except CursorExpired:
        log.info("%s: the sync position expired; reading the calendar again in full",
                 account.name)
        cursor = None
        read, new_cursor = _read(settings, account, None, _first_sync(store, account, None))
    by_provider_id: dict[str, str] | None = None
    touched: list[str] = []
    said: dict[str, tuple[str, ...]] = {}
    refused: dict[str, list[str]] = {}
    sources: set[str] = set()
    # Tagged meetings are stored together (one write of the table); an item about one of them,
    # or a removal known only by its provider id, stores them first.
    arrived: dict[str, Interview] = {}
    for item in read:
        if isinstance(item, Interview):
            touched.append(item.meeting.uid)
            arrived[item.meeting.uid] = item
            sources.add(item.meeting.source)
            continue
        if isinstance(item, SourceNotes):
            said[item.source] = item.notes
            continue
        if item.uid in arrived or not item.uid:
            store.put_interviews(arrived.values())
            arrived.clear()
        if isinstance(item, Removed):
            uid = item.uid
            if not uid:
                if by_provider_id is None:
                    by_provider_id = {iv.meeting.provider_id: iv.meeting.uid
                                      for iv in store.interviews()
                                      if iv.account == account.name and iv.meeting.provider_id}
                uid = by_provider_id.get(item.provider_id, "")
            _cancel(store, account.name, uid)
            touched.append(uid)
        else:
            touched.append(item.uid)
            sources.add(item.source)
            if item.readable:
                store.remove_meeting(account.name, item.uid)
            else:
                refused.setdefault(item.source, []).append(item.note)
    store.put_interviews(arrived.values())
    if touched:
        with_drafts = {r.meeting_uid for r in store.drafts().values()
                       if r.account == account.name and r.meeting_uid is not None}
        store.set_pending(account.name,
                          store.pending(account.name) | (with_drafts & set(touched)))
    before = store.skipped().get(account.name, skipped.Skipped())
    store.set_skipped(account.name, skipped.update(
        before, full=cursor is None, said=said,
        refused={source: tuple(notes) for source, notes in refused.items()}, read=sources))
    store.set_cursor(account.name, new_cursor, tagging)
    return len(read)


@dataclass(frozen=True)
class _Untagged:
    """A meeting read from the calendar that is not an interview (any stored copy is dropped),
    or, when not ``readable``, one that could not be read (its stored copy is kept; ``note``
    says so, for ``status``)."""

    uid: str
    source: str
    readable: bool = True
    note: str = ""


def _first_sync(store: Store, account: Account, cursor: JSON | None) -> bool:
    """Whether reading from ``cursor`` is the account's first sync: a full one (``None``)
    while the store holds none of its meetings, settled ones included. Only then may the
    calendar leave out what cannot be tagged (nothing stored needs untagging)."""
    return cursor is None and not any(
        interview.account == account.name for interview in store.interviews(settled=True))


def _read(settings: Settings, account: Account, cursor: JSON | None, first: bool = False
          ) -> tuple[list[Interview | Removed | SourceNotes | _Untagged], JSON]:
    """Read the account's calendar changes to their end, keeping of each only what the store
    needs: a tagged meeting's interview, an untagged one's uid, a removal, a source's notes.
    The calendar is streamed, so a large one is never in memory whole; nothing is stored
    before the listing ends, so one that fails partway changes nothing. On a ``first`` sync
    the calendar is given the tagging rules, to leave out what they cannot tag."""
    my_emails = frozenset(settings.me.emails)
    kept: list[Interview | Removed | SourceNotes | _Untagged] = []
    stream = account.calendar.changes(cursor,
                                      only_tagged=settings.tagging if first else None)
    while True:
        try:
            change = next(stream)
        except StopIteration as end:
            return kept, end.value
        if not isinstance(change, Meeting):
            kept.append(change)
            continue
        try:
            interview = interview_from(change, account.name, settings.tagging, my_emails)
        except Exception as exc:  # one odd event must never stop a cycle
            log.warning("%s: skipped event %r from %s: %s", account.name, change.uid,
                        change.source or "the calendar", exc)
            note = (f"the event {clean_line(change.title, limit=80)!r} was skipped: coffeechat "
                    f"could not tag it ({type(exc).__name__}: {exc}); a copy read before is "
                    "kept. Please report this.")
            kept.append(_Untagged(change.uid, change.source, readable=False, note=note))
            continue
        kept.append(_Untagged(change.uid, change.source) if interview is None else interview)


def _cancel(store: Store, account: str, uid: str) -> None:
    """Keep a removed meeting as cancelled (untagged or unknown ones are not stored)."""
    stored = store.interview(account, uid) if uid else None
    if stored is not None and not stored.meeting.cancelled:
        store.put_interview(replace(stored, meeting=replace(stored.meeting, cancelled=True)))


def _fail(outcome: AccountOutcome, exc: ConnectorError) -> None:
    outcome.ok = False
    outcome.message = str(exc)
    outcome.needs_auth = isinstance(exc, AuthError)
    log.error("account %s: %s", outcome.name, exc)


def _report_orphans(current: Plan, configured: set[str]) -> None:
    for spec in current.due:
        if spec.account not in configured:
            log.warning("draft %s belongs to account %r, which is no longer configured; add "
                        "the account back to have it written", spec.key, spec.account)
