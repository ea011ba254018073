"""Noticing what the user did with the drafts: edited them, or sent or deleted them.

Each recent draft is looked at in its Drafts folder at most once a day, so an idle cycle costs
no extra provider request most of the time, and what was seen is kept in the draft's record for
``status``. Nothing here changes a draft.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from connectors.base import DraftBox
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRecord
from daemon.state.store import Store

log = logging.getLogger(__name__)

WATCH_FOR = timedelta(days=45)
"""Drafts older than this are no longer looked at."""
EVERY = timedelta(hours=24)


def observe(store: Store, account: str, box: DraftBox, now: datetime) -> list[DraftRecord]:
    """Look at ``account``'s recent drafts that are due a look; returns the records whose
    observed state changed. Provider errors are logged and end the round early (the next
    cycle carries on): watching is never a reason for an account to fail."""
    changed = []
    for record in store.drafts().values():
        if not _due(record, account, now):
            continue
        assert record.ref is not None
        try:
            seen = box.get(record.ref)
        except ConnectorError as exc:
            log.info("%s: could not look at draft %s this time: %s", account, record.key, exc)
            break
        store.put_draft(replace(record, observed=seen, observed_at=now))
        if seen != record.observed:
            changed.append(replace(record, observed=seen, observed_at=now))
            log.info("%s: the draft %s is now %s", account, record.key, seen)
    return changed


def _due(record: DraftRecord, account: str, now: datetime) -> bool:
    return (record.account == account and record.state == "created" and record.ref is not None
            and record.observed != "gone" and record.created_at is not None
            and now - record.created_at <= WATCH_FOR
            and (record.observed_at is None or now - record.observed_at >= EVERY))
