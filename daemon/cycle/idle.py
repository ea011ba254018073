"""Idle cycles: the planner runs only when its answer can have changed.

Most cycles find the calendar unchanged and nothing due. Planning anyway would decode every
stored meeting and draft, a cost that grows with the user's history. Instead each plan leaves
a *wake-up time* in the store: the earliest moment at which anything it planned comes due
(or, with reply detection, a paused contact's mailbox is to be asked again). Until then, and as
long as nothing the planner reads has changed (the store drops the wake-up time on any such
change) and the settings it plans with are the same, a cycle skips planning: its answer would
be "nothing due".

A plan that has anything due, or contacts to pause, leaves no wake-up time, so the next cycle
plans again. The wake-up time is at most :data:`MAX_IDLE` away, so that the planner still runs
at least that often whatever happens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from daemon.core.model import Plan
from daemon.cycle.replies import reading
from daemon.settings.config import Settings
from daemon.state.store import Store

MAX_IDLE = timedelta(hours=24)
"""The longest a cycle goes without planning."""


def settings_key(settings: Settings) -> str:
    """A digest of the settings the plan depends on: the cadence, the zone, which accounts
    are configured and which read mail. The tagging settings are not in it: a change of them
    reads the calendars again in full (:mod:`daemon.cycle.run`), before this key is compared, and
    every meeting that this stores or drops drops the wake-up time."""
    accounts = sorted(a.name for a in settings.accounts)
    basis = repr((settings.cadence, str(settings.timezone), accounts, sorted(reading(settings))))
    return hashlib.blake2b(basis.encode("utf-8"), digest_size=16).hexdigest()


def still_idle(store: Store, key: str, now: datetime) -> bool:
    """True when the last plan's wake-up time, made with settings ``key``, is still ahead."""
    memo = store.plan_memo()
    return memo is not None and memo[0] == key and now < memo[1]


def wake_up(current: Plan, mail_checks: Iterable[datetime], now: datetime) -> datetime | None:
    """When the planner must run again after ``current`` (planned at ``now``): when its answer
    can next change (see :attr:`Plan.next_change`) or a paused contact is next to be looked
    up (``mail_checks``, see :func:`daemon.cycle.replies.paused_checks`), at most
    :data:`MAX_IDLE` on. ``None`` when it must run at the next cycle (``current`` has drafts
    due or contacts to pause)."""
    if current.due or current.to_pause:
        return None
    candidates = [*mail_checks, now + MAX_IDLE]
    if current.next_change is not None:
        candidates.append(current.next_change)
    return min(candidates)

