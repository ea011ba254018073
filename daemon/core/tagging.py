"""Is this meeting an informational interview, who is it with, and what did the user note?

Pure: no I/O, no clock. :func:`interview_from` turns one :class:`~daemon.core.model.Meeting` into an
:class:`~daemon.core.model.Interview`, or ``None`` when the meeting is not one.

Choices made here (the rules in one place):

- A meeting is tagged when a keyword occurs (case-insensitively) in its title or description,
  when one of its categories equals a configured category (case-insensitively, surrounding
  spaces ignored), or when the provider marks it. All-day events are never interviews.
- Contacts are the attendees, then the organizer, who are not the user, not resources and have
  a valid address, de-duplicated by address (the first non-empty name wins). Someone listed
  twice counts as declined if any of their entries declined.
- A calendar's own address is nobody: an address at ``calendar.google.com`` or any of its
  subdomains (a calendar's ``...@group.calendar.google.com``, ``...@group.v.calendar.google.com``
  for holidays, ``...@import.calendar.google.com``, ``...@resource.calendar.google.com`` for
  rooms) is never a contact, from an attendee, the organizer or a ``Contact:`` line, and does
  not count as someone the calendar names. (Outlook and Exchange rooms are resources already.)
- ``Contact: Name <email>`` (or ``Contact: email``) lines in the description name the contacts
  only when the calendar names nobody else with a valid address (no attendee and no organizer
  other than the user, counting those who declined). They are always removed from the notes.
  A ``Contact:`` line whose value does not look like an address (no ``@``) is ordinary text.
- Notes are the description (line ends normalised, control characters dropped) without
  hashtag-like tag tokens (``#infointerview``; also ``#<keyword>`` for a keyword configured
  without the ``#``), without lines that hold nothing but tags and punctuation, and without
  ``Contact:`` lines. Other lines are kept exactly as written.

A change to these rules that can give a stored meeting another answer bumps
:data:`RULES_VERSION`, which is part of :func:`fingerprint`: every calendar is then read again
once, as after a change of the settings.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from daemon.core.model import Attendee, Interview, Meeting, Person, TaggingRules
from daemon.core.text import clean_address, clean_block, clean_line

_CONTACT_LINE = re.compile(r"^[ \t]*contact[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$", re.IGNORECASE)
_NAME_ADDRESS = re.compile(r"^(?P<name>[^<>]*?)[ \t]*<(?P<address>[^<>]*)>$")
_TRIM_CHARS = " \t.,;:!?-_*|/()[]{}\"'#"
_CALENDAR_DOMAIN = "calendar.google.com"

RULES_VERSION = 2
"""The version of these rules (2: calendar-system addresses are not contacts)."""


def interview_from(
    meeting: Meeting, account: str, rules: TaggingRules, my_emails: frozenset[str]
) -> Interview | None:
    """Return the :class:`Interview` for ``meeting`` seen through ``account``, or ``None``.

    ``None`` means the meeting is not an informational interview: it is not tagged, or it is an
    all-day event. A tagged meeting without any contact is still returned (``contacts=()``) so
    the caller can tell the user. ``my_emails`` are the user's addresses (any case).
    Raises nothing.
    """
    if meeting.all_day or not is_tagged(meeting, rules):
        return None
    mine = frozenset(e.strip().lower() for e in my_emails)
    people = _people(meeting, mine)
    contacts = tuple(p.person for p in people if not p.declined)
    declined = tuple(p.person for p in people if p.declined)
    description = clean_block(meeting.description)
    if not people:
        contacts = tuple(p for p in _contact_lines(description) if p.email not in mine)
    return Interview(
        meeting=meeting,
        account=account,
        contacts=contacts,
        declined=declined,
        notes=notes_from(description, rules.keywords),
        user_declined=any(
            _is_me(a, mine) and a.response == "declined" for a in meeting.attendees
        ),
    )


def is_tagged(meeting: Meeting, rules: TaggingRules) -> bool:
    """Return whether ``meeting`` carries a tag: a keyword in its title or description, a
    configured category, or the provider's own mark. Ignores ``all_day``. Raises nothing."""
    if meeting.provider_tagged:
        return True
    text = f"{meeting.title}\n{meeting.description}".casefold()
    if any(k.strip() and k.strip().casefold() in text for k in rules.keywords):
        return True
    wanted = {c.strip().casefold() for c in rules.categories if c.strip()}
    return any(c.strip().casefold() in wanted for c in meeting.categories)


def fingerprint(rules: TaggingRules, my_emails: Iterable[str],
                marks: Mapping[str, object]) -> str:
    """Return a digest of everything that decides what a calendar's events become: the
    keywords and categories, the user's addresses, ``marks`` (an account's own tagging keys,
    such as a Google ``color_id``; ``None`` values count as unset) and :data:`RULES_VERSION`.
    The same settings give the same digest in any order and in every run. Raises nothing."""
    basis = json.dumps([
        RULES_VERSION,
        sorted({k.strip() for k in rules.keywords}),
        sorted({c.strip() for c in rules.categories}),
        sorted({e.strip().lower() for e in my_emails}),
        sorted((key, str(value)) for key, value in marks.items() if value is not None),
    ])
    return hashlib.blake2b(basis.encode("utf-8"), digest_size=16).hexdigest()


def _is_calendar_address(address: str) -> bool:
    """Return whether ``address`` (already cleaned, lower-case) belongs to a calendar system
    rather than a person (see the module's rules). Raises nothing."""
    domain = address.rpartition("@")[2]
    return domain == _CALENDAR_DOMAIN or domain.endswith("." + _CALENDAR_DOMAIN)


def notes_from(description: str, keywords: Iterable[str]) -> str:
    """Return the user's notes: ``description`` without tag tokens, tag-only lines and
    ``Contact:`` lines, with surrounding blank lines trimmed. Raises nothing."""
    words = [k.strip() for k in keywords if k.strip()]
    hashtag = _hashtag_pattern(words)
    tag_only = _tag_only_pattern(words)
    kept: list[str | None] = []
    for line in clean_block(description).split("\n"):
        if _contact_line(line)[0]:
            kept.append(None)
            continue
        if tag_only is not None and tag_only.match(line):
            kept.append(None)
            continue
        if hashtag is not None and hashtag.search(line):
            line = re.sub(r"[ \t]{2,}", " ", hashtag.sub("", line)).strip()
            if not line.strip(_TRIM_CHARS):
                kept.append(None)
                continue
        kept.append(line)
    return _join_kept(kept).strip()


@dataclass(frozen=True)
class _Candidate:
    person: Person
    declined: bool


def _is_me(attendee: Attendee, mine: frozenset[str]) -> bool:
    return attendee.is_self or clean_address(attendee.email) in mine


def _people(meeting: Meeting, mine: frozenset[str]) -> list[_Candidate]:
    """Attendees, then the organizer, who are not the user nor a resource, by address."""
    entries = list(meeting.attendees)
    if meeting.organizer is not None:
        entries.append(meeting.organizer)
    names: dict[str, str] = {}
    declined: dict[str, bool] = {}
    for entry in entries:
        if entry.is_resource or _is_me(entry, mine):
            continue
        address = clean_address(entry.email)
        if address is None or _is_calendar_address(address):
            continue
        if not names.get(address):
            names[address] = _clean_name(entry.name, address)
        declined[address] = declined.get(address, False) or entry.response == "declined"
    return [_Candidate(Person(a, names[a]), declined[a]) for a in names]


def _clean_name(name: str, address: str) -> str:
    cleaned = clean_line(name, limit=120).strip("\"' ")
    return "" if cleaned.lower() == address else cleaned


def _contact_line(line: str) -> tuple[bool, Person | None]:
    """Whether ``line`` is a ``Contact:`` line, and the person it names (``None`` when the
    address is invalid)."""
    match = _CONTACT_LINE.match(line)
    if match is None or "@" not in match["value"]:
        return False, None
    value = match["value"]
    named = _NAME_ADDRESS.match(value)
    if named is None and len(value.split()) != 1:
        return False, None
    raw_name, raw_address = (named["name"], named["address"]) if named else ("", value)
    address = clean_address(raw_address)
    if address is None:
        return True, None
    return True, Person(address, _clean_name(raw_name, address))


def _contact_lines(description: str) -> tuple[Person, ...]:
    found: dict[str, Person] = {}
    for line in description.split("\n"):
        _, person = _contact_line(line)
        if (person is not None and person.email not in found
                and not _is_calendar_address(person.email)):
            found[person.email] = person
    return tuple(found.values())


def _hashtag_pattern(words: list[str]) -> re.Pattern[str] | None:
    cores = sorted({w.lstrip("#") for w in words if w.lstrip("#")}, key=len, reverse=True)
    if not cores:
        return None
    alternatives = "|".join(re.escape(c) for c in cores)
    return re.compile(rf"(?<![\w#])#(?:{alternatives})(?!\w)", re.IGNORECASE)


def _tag_only_pattern(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    phrases = sorted({w for w in words} | {w.lstrip("#") for w in words if w.lstrip("#")},
                     key=len, reverse=True)
    alternatives = "|".join(re.escape(p) for p in phrases)
    sep = r"[\s.,;:!?\-_*|/()\[\]{}\"']*"
    return re.compile(rf"^{sep}#?(?:{alternatives})(?:{sep}#?(?:{alternatives}))*{sep}$",
                      re.IGNORECASE)


def _join_kept(kept: list[str | None]) -> str:
    """Join lines, dropping removed ones (``None``) and a blank line that would double up
    with another blank line across a removed one."""
    out: list[str] = []
    removed_since_last = False
    for line in kept:
        if line is None:
            removed_since_last = True
            continue
        if removed_since_last and not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
        removed_since_last = False
    return "\n".join(out)
