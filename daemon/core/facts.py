"""A stored meeting as the planner reads it (:class:`NormalMeeting`), and the one place a
meeting is normalised into it.

Pure. The planner normalises the interviews it is given (:mod:`daemon.plan.meetings`); the
state can also decode its stored meetings straight into this shape
(:meth:`daemon.state.store.Store.normal_meetings`), skipping the attendees, descriptions and
other fields that only a draft being rendered reads. Both go through :func:`normal_meeting`,
so the two give the same meetings (``tests/test_normal_meetings.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from daemon.core.model import Person
from daemon.core.timing import require_aware

CANCELLED = "the meeting was cancelled"
"""The :attr:`NormalMeeting.invalid_reason` of a cancelled meeting."""
USER_DECLINED = "you declined the meeting"
"""The :attr:`NormalMeeting.invalid_reason` of a meeting the user declined."""


class NormalMeeting(NamedTuple):
    """One interview, normalised: UTC times (an end before the start is the start),
    lower-cased de-duplicated contacts. (A named tuple: the planner makes one per stored
    meeting on every call, and tuples are cheap.)"""

    uid: str
    account: str
    title: str
    start: datetime
    end: datetime
    contacts: tuple[Person, ...]
    declined: tuple[Person, ...]
    """Those who declined, lower-cased, de-duplicated and without the contacts."""
    invalid_reason: str | None
    """Why no draft is made for anyone (:data:`CANCELLED`, :data:`USER_DECLINED`); None if
    valid."""


def normal_meeting(uid: str, account: str, title: str, start: datetime, end: datetime,
                   contacts: Sequence[Person], declined: Sequence[Person], *,
                   cancelled: bool, user_declined: bool) -> NormalMeeting:
    """The :class:`NormalMeeting` of one stored meeting. Raises ``ValueError`` when ``start``
    or ``end`` is naive."""
    if start.tzinfo is not UTC or end.tzinfo is not UTC:  # UTC: the common case
        if start.utcoffset() is None or end.utcoffset() is None:
            require_aware(start, f"start of meeting {uid}")
            require_aware(end, f"end of meeting {uid}")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    people: tuple[Person, ...]
    if len(contacts) == 1:  # the usual meeting: one contact, inlined for speed
        email = contacts[0].email.strip().lower()
        people = () if not email else (
            (contacts[0],) if email == contacts[0].email else (Person(email, contacts[0].name),))
    else:
        people = _unique_people(contacts, ())
    others = _unique_people(declined, people) if declined else ()
    reason = CANCELLED if cancelled else USER_DECLINED if user_declined else None
    return NormalMeeting(uid, account, title, start, end if end > start else start, people,
                         others, reason)


def _person(p: Person) -> Person:
    email = p.email.strip().lower()
    return p if email == p.email else Person(email, p.name)


def _unique_people(people: Sequence[Person], exclude: Sequence[Person]) -> tuple[Person, ...]:
    if not people:
        return ()
    taken = {p.email for p in exclude}
    out: list[Person] = []
    for p in map(_person, people):
        if p.email and p.email not in taken:
            taken.add(p.email)
            out.append(p)
    return tuple(out)
