"""Meetings as the planner sees them: normalised once per plan (UTC times, lower-cased
contacts, one per uid), grouped by contact, and the look-ups the one-at-a-time rules make in
each contact's line of meetings (:class:`History`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from daemon.core.facts import NormalMeeting, normal_meeting
from daemon.core.model import DraftKind, Interview
from daemon.plan.context import (
    BY_START,
    PLAN_AHEAD,
    Context,
)


def normalise(meetings: Iterable[Interview | NormalMeeting]) -> list[NormalMeeting]:
    """One :class:`NormalMeeting` per uid (first wins), in input order. Interviews are
    normalised by :func:`~daemon.core.facts.normal_meeting`; meetings the state gave already
    normalised (:meth:`daemon.state.store.Store.normal_meetings`) are taken as they are."""
    seen: set[str] = set()
    out: list[NormalMeeting] = []
    for item in meetings:
        if isinstance(item, NormalMeeting):
            if item.uid not in seen:
                seen.add(item.uid)
                out.append(item)
            continue
        m = item.meeting
        if m.uid in seen:
            continue
        seen.add(m.uid)
        out.append(normal_meeting(m.uid, item.account, m.title, m.start, m.end, item.contacts,
                                  item.declined, cancelled=m.cancelled,
                                  user_declined=item.user_declined))
    return out


def valid_meetings_by_contact(meetings: Iterable[NormalMeeting]) -> dict[str, list[NormalMeeting]]:
    """Each contact's valid meetings, sorted by start (then uid). Grouped first, then each
    contact's few meetings sorted: much cheaper than sorting every meeting at once."""
    by_contact: dict[str, list[NormalMeeting]] = {}
    for m in meetings:
        if m.invalid_reason is None:
            for p in m.contacts:
                if p.email in by_contact:
                    by_contact[p.email].append(m)
                else:
                    by_contact[p.email] = [m]
    for group in by_contact.values():
        if len(group) > 1:
            group.sort(key=BY_START)
    return by_contact



class Place(NamedTuple):
    """Where a meeting stands among its contact's valid meetings (sorted by start, then uid)."""

    position: int
    before: NormalMeeting | None
    """The meeting just before it (None for the first)."""
    after: NormalMeeting | None
    """The meeting just after it (None for the last)."""



class History:
    """Each contact's valid meetings, sorted by start (then uid), and the look-ups the
    one-at-a-time rules make in them: each meeting's place from an index made once per
    contact, and one scan per contact and kind, so that a plan stays linear in the meetings
    of one contact."""

    def __init__(self, by_contact: Mapping[str, list[NormalMeeting]], ctx: Context,
                 due: Callable[[DraftKind, NormalMeeting, Context], datetime]) -> None:
        """``due`` says when a meeting's draft of a kind is due
        (:func:`daemon.plan.one_meeting.meeting_due`)."""
        self._by_contact = by_contact
        self._ctx = ctx
        self._due = due
        self._places: dict[str, dict[str, int]] = {}
        self._latest_due: dict[tuple[str, DraftKind], int] = {}
        self._ahead: dict[str, int] = {}

    def planned(self, email: str, place: Place) -> bool:
        """Whether the meeting at ``place`` among the contact's is planned: it has started,
        or is one of their next :data:`PLAN_AHEAD` meetings."""
        limit = self._ahead.get(email)
        if limit is None:
            line = self._by_contact[email]
            first = bisect_right(line, self._ctx.now, key=attrgetter("start"))
            limit = self._ahead[email] = first + PLAN_AHEAD
        return place.position < limit

    def later(self) -> list[tuple[str, int, datetime]]:
        """Each contact with meetings not planned (see :meth:`planned`; sorted): how many,
        and when the last one planned starts (a plan made then takes the next in)."""
        out = []
        for email in sorted(self._by_contact):
            line = self._by_contact[email]
            if len(line) <= PLAN_AHEAD:
                continue
            first = bisect_right(line, self._ctx.now, key=attrgetter("start"))
            if first + PLAN_AHEAD < len(line):
                out.append((email, len(line) - first - PLAN_AHEAD,
                            line[first + PLAN_AHEAD - 1].start))
        return out

    def place(self, email: str, m: NormalMeeting) -> Place:
        """Where ``m`` (a valid meeting with the contact ``email``) stands among theirs."""
        line = self._by_contact[email]
        if len(line) == 1:
            return Place(0, None, None)
        places = self._places.get(email)
        if places is None:  # a uid is one meeting: normalise keeps the first of each
            places = self._places[email] = {other.uid: i for i, other in enumerate(line)}
        i = places[m.uid]
        return Place(i, line[i - 1] if i else None, line[i + 1] if i + 1 < len(line) else None)

    def latest_due(self, email: str, kind: DraftKind) -> tuple[int, NormalMeeting] | None:
        """The last of the contact's meetings whose own draft of ``kind`` is due by now, with
        its index; None if there is none. The scan from the end passes only meetings whose
        draft is still to come, and is made once per contact and kind."""
        line = self._by_contact[email]
        key = (email, kind)
        j = self._latest_due.get(key)
        if j is None:
            ctx = self._ctx
            j = len(line) - 1
            while j >= 0 and self._due(kind, line[j], ctx) > ctx.now:
                j -= 1
            self._latest_due[key] = j
        return None if j < 0 else (j, line[j])
