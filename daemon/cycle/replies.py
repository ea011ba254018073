"""Reply detection: what the user's mailboxes show of the mail with each contact.

Only accounts with ``reply_detection`` have a mail history. A mailbox is asked about a contact
only when a draft that depends on it is due (a thank-you, a follow-up or a catch-up: whether the
user already wrote, which conversation to reply in, whether the catch-up clock was reset) and
what is stored is more than :data:`FRESH` old; and once a day about each contact coffeechat
paused for want of an answer, so that the pause lifts when they write. What was seen is kept in
the store, so ``status`` and ``plan`` show the same answers without asking again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from daemon.core.kinds import DEPENDS_ON_MAIL
from daemon.core.model import ContactMail, ContactPrefs, MailSeen, Plan, ThreadRef
from daemon.settings.config import Settings
from daemon.state.store import Store

if TYPE_CHECKING:  # only named: `plan` and `status` need not import the mail modules
    from connectors.base import MailHistory

log = logging.getLogger(__name__)

FRESH = timedelta(hours=1)
"""What a mailbox showed about a contact is trusted this long for drafts due now."""
PAUSED_FRESH = timedelta(hours=24)
"""How often a contact paused for want of an answer is looked up."""
LOOK_BACK = timedelta(days=400)
"""How far back mail is read."""

Seen = tuple[str, ContactMail, datetime]
"""What the store keeps: (account, the mail seen, when it was looked at)."""


def merged(seen: Iterable[Seen]) -> dict[str, ContactMail]:
    """The newest message each way with each contact, over every account's mailbox."""
    out: dict[str, ContactMail] = {}
    for _account, mail, _checked in seen:
        known = out.get(mail.contact)
        if known is None:
            out[mail.contact] = mail
            continue
        out[mail.contact] = ContactMail(
            contact=mail.contact,
            last_from_contact=_newer(known.last_from_contact, mail.last_from_contact),
            last_to_contact=_newer(known.last_to_contact, mail.last_to_contact))
    return out


def _newer(a: MailSeen | None, b: MailSeen | None) -> MailSeen | None:
    if a is None or b is None:
        return a or b
    return b if b.at > a.at else a


def reading(settings: Settings) -> set[str]:
    """The accounts whose mailboxes count: those with ``reply_detection`` on."""
    return {a.name for a in settings.accounts if a.options.get("reply_detection")}


def seen_in_use(settings: Settings, store: Store) -> list[Seen]:
    """What the mailboxes of accounts that still have ``reply_detection`` on showed: only
    this counts, for planning and for conversations (turning it off makes the calendar alone
    count again). Reads nothing when no account has it on."""
    accounts = reading(settings)
    if not accounts:
        return []
    return [seen for seen in store.mail_seen() if seen[0] in accounts]


def mail_for_planning(settings: Settings, store: Store) -> dict[str, ContactMail]:
    """The mail the planner goes by, merged over the accounts (see :func:`seen_in_use`)."""
    return merged(seen_in_use(settings, store))


def threads(seen: Iterable[Seen]) -> dict[tuple[str, str], ThreadRef]:
    """The conversation to reply in, by (account, contact): the newest message either way in
    that account's mailbox (a reply must live in the mailbox that holds the conversation)."""
    out: dict[tuple[str, str], ThreadRef] = {}
    for account, mail, _checked in seen:
        latest = mail.latest
        if latest is not None:
            out[(account, mail.contact)] = latest.thread
    return out


def wanted(current: Plan, prefs: Mapping[str, ContactPrefs], seen: Iterable[Seen],
           accounts: Iterable[str], now: datetime) -> dict[str, set[str]]:
    """Which contacts each account's mailbox should be asked about now (see the module)."""
    checked = {(account, mail.contact): at for account, mail, at in seen}
    due_now = {s.contact.email for s in current.due if s.kind in DEPENDS_ON_MAIL}
    paused = _paused_by_coffeechat(prefs)

    def stale(account: str, email: str, fresh: timedelta) -> bool:
        at = checked.get((account, email))
        return at is None or now - at >= fresh

    out: dict[str, set[str]] = {}
    for account in accounts:
        emails = ({e for e in due_now if stale(account, e, FRESH)}
                  | {e for e in paused if stale(account, e, PAUSED_FRESH)})
        if emails:
            out[account] = emails
    return out


def paused_checks(prefs: Mapping[str, ContactPrefs], seen: Iterable[Seen],
                  accounts: Iterable[str], now: datetime) -> list[datetime]:
    """When :func:`wanted` will next ask each mailbox in ``accounts`` about each contact
    coffeechat paused: :data:`PAUSED_FRESH` after the last look, or ``now`` if never looked."""
    paused = _paused_by_coffeechat(prefs)
    if not paused:
        return []
    checked = {(account, mail.contact): at for account, mail, at in seen}
    return [checked[(account, email)] + PAUSED_FRESH if (account, email) in checked else now
            for account in accounts for email in paused]


def _paused_by_coffeechat(prefs: Mapping[str, ContactPrefs]) -> set[str]:
    return {email for email, p in prefs.items() if p.status == "paused" and p.reason}


def refresh(store: Store, account: str, mailbox: MailHistory, contacts: Iterable[str],
            now: datetime) -> bool:
    """Ask ``mailbox`` about ``contacts`` and keep the answers; returns whether anything new
    was seen. Provider errors propagate (the caller treats the account as failed this cycle,
    so that no draft is written on what the mailbox might have contradicted)."""
    asked = sorted({c.strip().lower() for c in contacts})
    if not asked:
        return False
    before = {mail.contact: mail for acc, mail, _ in store.mail_seen() if acc == account}
    found = mailbox.history(asked, now - LOOK_BACK)
    changed = False
    for email in asked:
        mail = found.get(email) or ContactMail(contact=email)
        changed = changed or before.get(email) != mail
        store.put_mail(account, mail, now)
    return changed


def lift_answered(store: Store, mail: Mapping[str, ContactMail], now: datetime) -> list[str]:
    """Resume every contact coffeechat paused for want of an answer who has written since;
    returns their addresses."""
    lifted = []
    for email, pref in store.prefs().items():
        if pref.status != "paused" or not pref.reason:
            continue
        answer = mail.get(email)
        got = None if answer is None else answer.last_from_contact
        if got is not None and (pref.since is None or got.at > pref.since):
            store.put_prefs(replace(pref, status="active", paused_until=None, reason="",
                                    since=now))
            lifted.append(email)
            log.info("%s wrote to you, so coffeechat's pause on them is lifted", email)
    return lifted


def pause_unanswered(store: Store, to_pause: Iterable[tuple[str, str]],
                     now: datetime) -> list[str]:
    """Pause each contact the plan names (no answer to catch-ups), unless the user already
    stopped or paused them; returns the addresses paused."""
    to_pause = list(to_pause)
    if not to_pause:
        return []
    prefs = store.prefs()
    paused = []
    for email, why in to_pause:
        pref = prefs.get(email)
        if pref is not None and pref.status != "active":
            continue
        store.put_prefs(ContactPrefs(email=email, status="paused", reason=why, since=now))
        paused.append(email)
        log.info("paused %s: %s", email, why)
    return paused
