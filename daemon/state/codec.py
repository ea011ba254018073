"""Model objects to and from the JSON documents kept in the state file."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from daemon.core.facts import NormalMeeting, normal_meeting
from daemon.core.model import (
    JSON,
    Attendee,
    ContactMail,
    ContactPrefs,
    DraftRecord,
    DraftRef,
    Interview,
    MailSeen,
    Meeting,
    Person,
    Response,
    ThreadRef,
)
from daemon.core.skipped import Skipped

_T = TypeVar("_T")


def _made(cls: type[_T], values: JSON) -> _T:
    """A frozen dataclass ``cls`` holding ``values`` (every one of its fields, by name), made
    without calling its ``__init__``. The generated ``__init__`` of a frozen dataclass sets
    each field through ``object.__setattr__``: for the meetings and draft records of a large
    state that was most of the time of decoding it (docs/performance.md). Only for the
    types of :data:`FAST_TYPES`, which have no ``__post_init__``."""
    made = object.__new__(cls)
    vars(made).update(values)
    return made


FAST_TYPES: tuple[type, ...] = (Meeting, Interview, DraftRecord)
"""The types this module makes with :func:`_made` (a test checks that it sets every field of
each of them, and nothing else)."""


def format_time(value: datetime) -> str:
    """An aware time as the state file keeps it (ISO 8601 with its offset)."""
    return value.isoformat()


def parse_time(value: str) -> datetime:
    """Read back a :func:`format_time` value; raises ``ValueError`` if it is not an aware
    ISO 8601 time."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive time {value!r} in the state file")
    return parsed


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def _attendee(a: Attendee) -> JSON:
    return {"email": a.email, "name": a.name, "response": a.response,
            "is_self": a.is_self, "is_resource": a.is_resource}


def _attendee_from(d: JSON) -> Attendee:
    return _shared_attendee(d["email"], d["name"], d["response"], d["is_self"],
                            d["is_resource"])


@lru_cache(maxsize=4096)
def _shared_attendee(email: str, name: str, response: Response, is_self: bool,
                     is_resource: bool) -> Attendee:
    """One :class:`Attendee` per value, shared (it is immutable): the user and each contact
    appear in many stored meetings, and making one object per appearance was a third of the
    time of reading a large state. Raises ``TypeError`` for an unhashable value."""
    return Attendee(email=email, name=name, response=response, is_self=is_self,
                    is_resource=is_resource)


def _person(p: Person) -> JSON:
    return {"email": p.email, "name": p.name}


def _person_from(d: JSON) -> Person:
    return _shared_person(d["email"], d["name"])


@lru_cache(maxsize=4096)
def _shared_person(email: str, name: str) -> Person:
    """One :class:`Person` per value, shared, as :func:`_shared_attendee`."""
    return Person(email=email, name=name)


def interview_to_json(iv: Interview) -> JSON:
    """The document stored for one tagged meeting."""
    m = iv.meeting
    return {
        "account": iv.account,
        "uid": m.uid,
        "title": m.title,
        "start": format_time(m.start),
        "end": format_time(m.end),
        "source": m.source,
        "description": m.description,
        "location": m.location,
        "link": m.link,
        "organizer": None if m.organizer is None else _attendee(m.organizer),
        "attendees": [_attendee(a) for a in m.attendees],
        "categories": list(m.categories),
        "cancelled": m.cancelled,
        "all_day": m.all_day,
        "provider_tagged": m.provider_tagged,
        "provider_id": m.provider_id,
        "contacts": [_person(p) for p in iv.contacts],
        "declined": [_person(p) for p in iv.declined],
        "notes": iv.notes,
        "user_declined": iv.user_declined,
    }


def interview_from_json(d: JSON) -> Interview:
    """Inverse of :func:`interview_to_json`; raises ``KeyError``/``ValueError`` on bad data."""
    organizer = d["organizer"]
    meeting = _made(Meeting, {
        "uid": d["uid"], "title": d["title"], "start": parse_time(d["start"]),
        "end": parse_time(d["end"]), "source": d["source"], "description": d["description"],
        "location": d["location"], "link": d["link"],
        "organizer": None if organizer is None else _attendee_from(organizer),
        "attendees": tuple(_attendee_from(a) for a in d["attendees"]),
        "categories": tuple(d["categories"]), "cancelled": d["cancelled"],
        "all_day": d["all_day"], "provider_tagged": d["provider_tagged"],
        "provider_id": d.get("provider_id", "")})
    return _made(Interview, {
        "meeting": meeting, "account": d["account"],
        "contacts": tuple(_person_from(p) for p in d["contacts"]),
        "declined": tuple(_person_from(p) for p in d["declined"]),
        "notes": d["notes"], "user_declined": d["user_declined"]})


def normal_from_json(d: JSON) -> NormalMeeting:
    """The planner's reading of a document :func:`interview_to_json` wrote: what
    :func:`interview_from_json` then :func:`~daemon.core.facts.normal_meeting` would give,
    without making the meeting's other fields. Raises as :func:`interview_from_json`."""
    return normal_meeting(
        d["uid"], d["account"], d["title"], parse_time(d["start"]), parse_time(d["end"]),
        tuple(_person_from(p) for p in d["contacts"]),
        tuple(_person_from(p) for p in d["declined"]),
        cancelled=d["cancelled"], user_declined=d["user_declined"])


def brief_from_json(d: JSON) -> JSON:
    """The brief of a document :func:`interview_to_json` wrote, as the state's table of
    briefs keeps it (see :mod:`daemon.state.derived`): ``{"m": [account, uid, title, start,
    end, contacts, declined, cancelled, user_declined]}``, each person ``[email, name]``: what
    :func:`normal_from_json` reads, in a quarter of the bytes. Raises nothing: the brief of a
    document missing any of it is ``{"m": null}``, which :func:`normal_from_brief` refuses."""
    try:
        return {"m": [d["account"], d["uid"], d["title"], d["start"], d["end"],
                      [[p["email"], p["name"]] for p in d["contacts"]],
                      [[p["email"], p["name"]] for p in d["declined"]],
                      d["cancelled"], d["user_declined"]]}
    except (KeyError, TypeError, AttributeError):
        return {"m": None}


def normal_from_brief(d: JSON) -> NormalMeeting:
    """What :func:`normal_from_json` gives for the document whose brief
    (:func:`brief_from_json`) is ``d``. Raises ``TypeError``/``ValueError`` on bad data."""
    account, uid, title, start, end, contacts, declined, cancelled, user_declined = d["m"]
    return normal_meeting(
        uid, account, title, parse_time(start), parse_time(end),
        tuple(_shared_person(email, name) for email, name in contacts),
        tuple(_shared_person(email, name) for email, name in declined),
        cancelled=cancelled, user_declined=user_declined)


def record_to_json(r: DraftRecord) -> JSON:
    """The document stored for one draft."""
    return {
        "key": r.key, "kind": r.kind, "contact": r.contact, "account": r.account,
        "meeting_uid": r.meeting_uid, "state": r.state, "due": format_time(r.due),
        "reason": r.reason,
        "created_at": None if r.created_at is None else format_time(r.created_at),
        "ref": None if r.ref is None else {"id": r.ref.id, "fingerprint": r.ref.fingerprint,
                                           "key": r.ref.key},
        "observed": r.observed,
        "observed_at": None if r.observed_at is None else format_time(r.observed_at),
        "facts": r.facts, "flag": r.flag, "message_id": r.message_id,
    }


def record_from_json(d: JSON) -> DraftRecord:
    """Inverse of :func:`record_to_json` (a record stored before a field existed gets that
    field's default)."""
    ref = d["ref"]
    return _made(DraftRecord, {
        "key": d["key"], "kind": d["kind"], "contact": d["contact"], "account": d["account"],
        "meeting_uid": d["meeting_uid"], "state": d["state"], "due": parse_time(d["due"]),
        "reason": d["reason"], "created_at": _opt_time(d["created_at"]),
        "ref": None if ref is None else DraftRef(id=ref["id"], fingerprint=ref["fingerprint"],
                                                 key=ref.get("key", "")),
        "observed": d.get("observed", "untouched"),
        "observed_at": _opt_time(d.get("observed_at")),
        "facts": d.get("facts", ""), "flag": d.get("flag", ""),
        "message_id": d.get("message_id", "")})


def prefs_to_json(p: ContactPrefs) -> JSON:
    """The document stored for the user's choice about one contact."""
    return {"email": p.email, "status": p.status,
            "paused_until": None if p.paused_until is None else format_time(p.paused_until),
            "reason": p.reason, "since": None if p.since is None else format_time(p.since)}


def prefs_from_json(d: JSON) -> ContactPrefs:
    """Inverse of :func:`prefs_to_json`."""
    return ContactPrefs(email=d["email"], status=cast(Any, d["status"]),
                        paused_until=_opt_time(d["paused_until"]), reason=d.get("reason", ""),
                        since=_opt_time(d.get("since")))


def _thread(t: ThreadRef) -> JSON:
    return {"message_id": t.message_id, "subject": t.subject,
            "references": list(t.references), "thread_id": t.thread_id,
            "provider_message_id": t.provider_message_id}


def _thread_from(d: JSON) -> ThreadRef:
    return ThreadRef(message_id=d["message_id"], subject=d["subject"],
                     references=tuple(d["references"]), thread_id=d["thread_id"],
                     provider_message_id=d["provider_message_id"])


def _seen(s: MailSeen | None) -> JSON | None:
    return None if s is None else {"at": format_time(s.at), "thread": _thread(s.thread)}


def _seen_from(d: JSON | None) -> MailSeen | None:
    if d is None:
        return None
    return MailSeen(at=parse_time(d["at"]), thread=_thread_from(d["thread"]))


def mail_to_json(account: str, mail: ContactMail, checked_at: datetime) -> JSON:
    """The document stored for what ``account``'s mailbox showed about one contact."""
    return {"account": account, "contact": mail.contact, "checked_at": format_time(checked_at),
            "from_contact": _seen(mail.last_from_contact),
            "to_contact": _seen(mail.last_to_contact)}


def mail_from_json(d: JSON) -> tuple[str, ContactMail, datetime]:
    """Inverse of :func:`mail_to_json`: the account, the mail seen and when it was looked at."""
    mail = ContactMail(contact=d["contact"], last_from_contact=_seen_from(d["from_contact"]),
                       last_to_contact=_seen_from(d["to_contact"]))
    return d["account"], mail, parse_time(d["checked_at"])


def skipped_to_json(account: str, skipped: Skipped) -> JSON:
    """The document stored for what ``account``'s calendar could not give."""
    return {"account": account, "said": {s: list(n) for s, n in skipped.said.items()},
            "refused": {s: list(n) for s, n in skipped.refused.items()},
            "more": skipped.more}


def skipped_from_json(d: JSON) -> tuple[str, Skipped]:
    """Inverse of :func:`skipped_to_json`: the account and its notes. Raises ``TypeError``
    when a value is not of its kind (a table of sources, each a list of texts)."""
    if not isinstance(d["account"], str) or not isinstance(d["more"], bool):
        raise TypeError("account must be a text and more true or false")
    return d["account"], Skipped(said=_notes_table(d["said"]),
                                 refused=_notes_table(d["refused"]), more=d["more"])


def _notes_table(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise TypeError(f"a table of sources was expected, not {type(value).__name__}")
    table = {}
    for source, notes in value.items():
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise TypeError(f"the notes of {source!r} must be a list of texts")
        table[source] = tuple(notes)
    return table
