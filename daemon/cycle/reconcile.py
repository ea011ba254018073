"""Keeping written drafts in step with their meeting: moved, cancelled, declined or untagged.

Runs for each account after its calendar sync and before planning, and looks only at drafts
about one meeting (confirmation, thank-you, follow-up, prep) that are still in Drafts as far as
the store knows. Such a draft is *stale* when:

- its meeting was cancelled, the user or this contact declined it, or it is no longer tagged:
  a confirmation or prep note no longer makes sense (a thank-you or follow-up, written after
  the meeting took place, still does);
- its meeting moved (time or place differ from when the draft was written): a confirmation or
  prep note names the old details; a thank-you or follow-up is stale only if the meeting's own
  start moved and it now ends in the future (so it has not taken place yet): a new place or
  end, or a clock that is behind, never withdraws one.

A stale draft the user has not touched is *withdrawn*: removed from Drafts and forgotten, so the
planner writes it again for the new time (in the same cycle when it is due) or not at all. A
draft the user edited is never changed or removed: its record is flagged for ``status``.

Withdrawal is intent-first, like creation, through the :class:`~daemon.state.ledger.Ledger`:
the record is marked ``withdrawing`` and saved, the draft is removed, then the record is
dropped. A ``withdrawing`` record found later (after a kill or a failed call) is settled by
looking at the draft: gone means done; untouched means the removal did not happen and it is
tried again; edited means the user got there first, and the record goes back to ``created``,
flagged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from connectors.base import DraftBox
from daemon.core.kinds import ABOUT_ONE_MEETING, BEFORE_THE_MEETING
from daemon.core.model import DraftRecord, DraftState, Interview, Meeting
from daemon.state.ledger import Ledger
from daemon.state.store import Store

log = logging.getLogger(__name__)



def facts_of(meeting: Meeting) -> str:
    """A short digest of what a draft shows of a meeting, as ``START/REST``: a digest of its
    start (and whether it is all-day), then of its end, place and link. When it differs from
    the digest kept with a draft, the meeting moved; when its first part differs, the
    meeting's own start moved."""
    start = _digest(meeting.start.astimezone(UTC).isoformat(), str(meeting.all_day))
    rest = _digest(meeting.end.astimezone(UTC).isoformat(), meeting.location.strip(),
                   meeting.link.strip())
    return f"{start}/{rest}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _legacy_facts(meeting: Meeting) -> str:
    """The one-part digest kept with drafts written before :func:`facts_of` had two parts."""
    parts = (meeting.start.astimezone(UTC).isoformat(), meeting.end.astimezone(UTC).isoformat(),
             meeting.location.strip(), meeting.link.strip(), str(meeting.all_day))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _start_moved(kept: str, facts: str) -> bool:
    """Whether the start in ``facts`` differs from the one in the digest ``kept`` with a
    draft (unknown for a one-part digest that no longer matches: then it did not, as far as
    anyone can tell)."""
    return "/" in kept and kept.split("/", 1)[0] != facts.split("/", 1)[0]


@dataclass
class Reconciled:
    """What reconciling one account did."""

    withdrawn: list[DraftRecord] = field(default_factory=list)
    """Untouched drafts removed from Drafts (their meeting moved or was called off)."""
    flagged: list[DraftRecord] = field(default_factory=list)
    """Edited drafts left alone, now flagged for the user."""


def reconcile(store: Store, account: str, box: DraftBox, now: datetime) -> Reconciled:
    """Withdraw ``account``'s stale untouched drafts and flag its stale edited ones (see the
    module's description), looking only at drafts of the meetings the sync marked pending (a
    meeting that did not change cannot have moved), then clear the mark; settle
    ``withdrawing`` records left by an earlier cycle.

    Provider errors (``ConnectorError``) propagate; records then stay as they were (a
    ``withdrawing`` one keeps its key out of the plan) and a later cycle carries on.
    """
    done = Reconciled()
    ledger = Ledger(store, lambda: now)
    changed = store.pending(account)
    for record in store.drafts().values():
        if record.account != account or record.kind not in ABOUT_ONE_MEETING:
            continue
        if record.state == "withdrawing":
            _settled(store, record, ledger.settle(record, box), done)
            continue
        if (record.state != "created" or record.ref is None or record.observed == "gone"
                or record.flag or record.meeting_uid not in changed):
            continue  # a flagged draft stays the user's: it is not looked at again
        interview = (None if record.meeting_uid is None
                     else store.interview(account, record.meeting_uid))
        facts = "" if interview is None else facts_of(interview.meeting)
        if facts and (not record.facts or (interview is not None and "/" not in record.facts
                                            and record.facts == _legacy_facts(interview.meeting))):
            store.put_draft(replace(record, facts=facts))  # written before these digests
            continue
        why = _stale(record, interview, facts, now)
        if why is not None:
            _withdraw(store, ledger, record, box, why, done)
    store.set_pending(account, set())
    return done


def _stale(record: DraftRecord, interview: Interview | None, facts: str,
           now: datetime) -> str | None:
    """Why ``record``'s draft no longer fits its meeting, or ``None`` when it still does."""
    if interview is None:
        called_off: str | None = "the meeting is no longer tagged as an informational interview"
    elif interview.meeting.cancelled:
        called_off = "the meeting was cancelled"
    elif interview.user_declined:
        called_off = "you declined the meeting"
    elif record.contact in {p.email.lower() for p in interview.declined}:
        called_off = f"{record.contact} declined the meeting"
    else:
        called_off = None
    if called_off is not None:
        return called_off if record.kind in BEFORE_THE_MEETING else None
    assert interview is not None
    if facts == record.facts:
        return None
    if record.kind in BEFORE_THE_MEETING:
        return "the meeting moved"
    if _start_moved(record.facts, facts) and interview.meeting.end > now:
        return "the meeting moved to a time still to come"
    return None  # written after the meeting: a new place or end changes nothing of it


def _withdraw(store: Store, ledger: Ledger, record: DraftRecord, box: DraftBox, why: str,
              done: Reconciled) -> None:
    assert record.ref is not None
    state = box.get(record.ref)
    if state == "gone":
        store.put_draft(replace(record, observed="gone"))
        return
    if state == "edited":
        _flag(store, record, why, done)
        return
    _settled(store, replace(record, flag=why), ledger.withdraw(record, why, box), done)


def _settled(store: Store, record: DraftRecord, state: DraftState, done: Reconciled) -> None:
    """Report how the withdrawal of ``record`` (its reason in ``flag``) ended (see
    :meth:`Ledger.settle`): withdrawn once gone; an edited draft is the user's, flagged."""
    if state == "edited":
        _flag(store, replace(record, state="created"), record.flag, done)
    elif state == "gone":
        done.withdrawn.append(replace(record, state="withdrawing"))
        log.info("withdrew the untouched draft %s: %s", record.key, record.flag)


def _flag(store: Store, record: DraftRecord, why: str, done: Reconciled) -> None:
    flag = f"{why} after you edited this draft"
    flagged = replace(record, observed="edited", flag=flag)
    store.put_draft(flagged)
    done.flagged.append(flagged)
    log.warning("left the draft %s as you edited it; %s", record.key, flag)
