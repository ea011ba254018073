"""A synthetic but realistic calendar: N single events over about two years, 5% of them tagged
as informational interviews with C contacts, the rest ordinary work meetings with several
attendees and a few lines of agenda.

Pure: everything derives from ``n``, ``now`` and a seed, so the same arguments always give the
same calendar, and the three connectors (Google, Graph, vdir) are fed the very same events.

How the tagged meetings are timed (so that a first sync drafts a dozen emails, not thousands):

- ten "live" meetings, whatever N: 3 ended in the last day (thank-you due), 2 ended about five
  weeks ago (follow-up due), 2 start in 30-36 hours (confirmation due), 3 start in 10-40 days
  (nothing due yet);
- every other tagged meeting lies 60 to 380 days in the past, so it is settled: it only anchors
  its contact's catch-up. Most contacts are then due a catch-up, and the planner's cap of
  ``max_new_catch_ups_per_day`` (5) lets 5 of them through per day.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/Chicago")
"""The user's zone in every benchmark config."""
ME = ("Sam Rivera", "sam@example.com")
TAG_CATEGORY = "Informational Interview"
HISTORY_DAYS = 380
"""Events start at most this many days ago (inside every connector's 400-day history)."""
HORIZON_DAYS = 340
"""And at most this many days ahead (inside the 365-day horizon)."""
MIN_CONTACTS = 15
"""Small calendars still get this many contacts: the ten live meetings and a few settled."""

Guest = tuple[str, str, str]
"""(address, display name, response: accepted, declined, tentative or needs_action)."""

_FIRST = ("Priya", "Marcus", "Elena", "Tomás", "Aisha", "Kenji", "Olivia", "Dmitri", "Fatima",
          "Lucas", "Mei", "Gabriel", "Zanele", "Henrik", "Sofia", "Ravi", "Chloé", "Jamal",
          "Ingrid", "Mateo", "Hana", "Oluwaseun", "Grace", "Youssef", "Anika", "Diego", "Noor",
          "Patrick", "Leilani", "Stefan", "Amara", "Connor", "Yuki", "Beatriz", "Kwame", "Lena",
          "Arjun", "Rosa", "Malik", "Freya")
_LAST = ("Natarajan", "Okafor", "Lindqvist", "García", "Haddad", "Tanaka", "Brennan", "Volkov",
         "Mensah", "Silva", "Chen", "Dubois", "Nkosi", "Larsen", "Rossi", "Iyer", "Moreau",
         "Washington", "Berg", "Herrera", "Kim", "Adeyemi", "O'Neill", "Farouk", "Schmidt",
         "Castillo", "Rahman", "Murphy", "Kahale", "Novak", "Eze", "Walsh", "Sato", "Costa",
         "Boateng", "Fischer", "Mehta", "Alvarez", "Diallo", "Sørensen")
_ORGS = ("cityarchives.org", "northlibrary.edu", "museumofmaps.org", "datacoop.io",
         "harborhealth.org", "openstacks.net", "riverside.gov", "lumenpress.com",
         "fieldnotes.org", "brightpath.edu")
_COLLEAGUE_DOMAIN = "corp.example.com"

_MEETINGS = ("Weekly team sync", "Sprint planning", "Backlog grooming", "Design review",
             "Quarterly business review", "Budget check-in", "Release readiness",
             "Customer call", "Vendor demo", "Incident retro", "All hands", "Roadmap workshop",
             "Hiring debrief", "Interview loop: data analyst", "Security training",
             "Lunch and learn", "Project kickoff", "Standup", "Office hours", "Offsite prep")
_PROJECTS = ("Atlas", "Bluebird", "Cedar", "Delta migration", "Evergreen", "Falcon",
             "Granite", "Harbor", "Iris", "Juniper")
_AGENDA = ("Review last week's action items and owners.",
           "Walk through the open questions in the shared doc before we decide.",
           "Status of the migration: blockers, risks, and what needs a decision today.",
           "Demo of the new search filters, then feedback round.",
           "Please read the proposal beforehand; we will spend most of the time on trade-offs.",
           "Numbers for the quarter are in the dashboard; bring questions.",
           "Agree on the rollout plan and who is on call during the launch window.",
           "Short one: confirm scope for the next milestone.",
           "Dial-in details below. Slides will be shared after the meeting.",
           "We will record this session for those in other time zones.")
_PLACES = ("Room 4B", "Main conference room", "Huddle space 2", "Library, 3rd floor",
           "Cafe Lumen, 18 Market St", "Online", "")
_NOTES = ("She suggested I look at the records management certificate at the community "
          "college.",
          "Promised: send my portfolio link and the article about digitisation grants.",
          "Ask about how her team decides which collections to digitise first.",
          "He mentioned the regional archivists' meetup in March; worth going.",
          "Follow up on the name she gave me: the head of metadata at the state library.",
          "Questions: what skills matter most for entry-level roles? Which journals to read?",
          "Met at the career fair; introduced by Dana from my cohort.",
          "Keep it to 30 minutes, I said I would not ask about openings.")


@dataclass(frozen=True)
class Event:
    """One calendar event, independent of any provider's format."""

    index: int
    uid: str
    title: str
    start: datetime
    minutes: int
    description: str
    location: str
    link: str
    organizer: tuple[str, str]
    """(name, address)."""
    guests: tuple[Guest, ...]
    categories: tuple[str, ...]
    tagged: bool
    """Tagged by a keyword in the title (styles 0, 1), ``#infointerview`` in the description
    (style 2) or, with no keyword at all, by category / Google colour 5 (style 3)."""
    role: str
    """``plain``, ``settled``, ``thank_you``, ``follow_up``, ``confirmation`` or ``upcoming``."""
    revision: int = 0
    """Bumped by every edit (providers' etags and sequence numbers follow it)."""

    @property
    def end(self) -> datetime:
        """When the event ends."""
        return self.start + timedelta(minutes=self.minutes)

    @property
    def key(self) -> str:
        """A short stable id (Google event id, file name stem)."""
        return f"ev{self.index:06d}"


@dataclass(frozen=True)
class Calendar:
    """The events of one benchmark world, and who the contacts are."""

    now: datetime
    events: tuple[Event, ...]
    contacts: tuple[tuple[str, str], ...]

    @property
    def tagged(self) -> int:
        """How many events are tagged."""
        return sum(1 for e in self.events if e.tagged)


_LIVE: tuple[tuple[str, timedelta], ...] = (
    ("thank_you", timedelta(hours=-3)),
    ("thank_you", timedelta(hours=-8)),
    ("thank_you", timedelta(hours=-20)),
    ("follow_up", timedelta(days=-35)),
    ("follow_up", timedelta(days=-38)),
    ("confirmation", timedelta(hours=30)),
    ("confirmation", timedelta(hours=36)),
    ("upcoming", timedelta(days=10)),
    ("upcoming", timedelta(days=25)),
    ("upcoming", timedelta(days=40)),
)


def build_calendar(n: int, now: datetime, *, tagged_share: float = 0.05,
                   seed: int = 7) -> Calendar:
    """Return a calendar of ``n`` events around ``now`` (aware), ``tagged_share`` of them
    tagged (at least 30), over half as many contacts (at least 15) with 1-3 meetings each.

    Raises ``ValueError`` when ``n`` is below 20 or ``now`` is naive."""
    if n < 20:
        raise ValueError("a benchmark calendar needs at least 20 events")
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    rng = random.Random(seed * 1_000_003 + n)  # noqa: S311 (test data, not secrets)
    tagged = max(2 * MIN_CONTACTS, round(n * tagged_share))
    contacts = _contacts(max(MIN_CONTACTS, tagged // 2), rng)
    per_contact = _meetings_per_contact(len(contacts), tagged, rng)
    slots = sorted(rng.sample(range(n), tagged))
    events: list[Event] = []
    tagged_times = _tagged_times(per_contact, now, rng)
    tagged_at = dict(zip(slots, tagged_times, strict=True))
    for index in range(n):
        if index in tagged_at:
            contact_no, role, start = tagged_at[index]
            events.append(_tagged_event(index, contacts[contact_no], role, start, rng))
        else:
            events.append(_plain_event(index, now, rng))
    return Calendar(now, tuple(events), tuple(contacts))


def _contacts(count: int, rng: random.Random) -> list[tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for k in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local, org = _ascii(f"{first}.{last}").lower(), rng.choice(_ORGS)
        address = f"{local}@{org}"
        if address in found:
            address = f"{local}{k}@{org}"
        found[address] = (f"{first} {last}", address)
    return list(found.values())


def _meetings_per_contact(contacts: int, tagged: int, rng: random.Random) -> list[int]:
    counts = [1] * contacts
    room = [i for i in range(contacts)]
    for _ in range(tagged - contacts):
        i = rng.choice(room)
        counts[i] += 1
        if counts[i] == 3:
            room.remove(i)
    return counts


def _tagged_times(per_contact: list[int], now: datetime,
                  rng: random.Random) -> list[tuple[int, str, datetime]]:
    """(contact number, role, start) for each tagged meeting, shuffled over the calendar."""
    out: list[tuple[int, str, datetime]] = []
    for contact_no, count in enumerate(per_contact):
        live = _LIVE[contact_no] if contact_no < len(_LIVE) else None
        pasts = sorted(_past_start(now, rng) for _ in range(count - (1 if live else 0)))
        out.extend((contact_no, "settled", start) for start in pasts)
        if live is not None:
            role, offset = live
            out.append((contact_no, role, (now + offset).replace(second=0, microsecond=0)))
    rng.shuffle(out)
    return out


def _past_start(now: datetime, rng: random.Random) -> datetime:
    day = (now - timedelta(days=rng.randint(60, HISTORY_DAYS))).astimezone(ZONE)
    return day.replace(hour=rng.choice((8, 9, 10, 12, 15, 16)), minute=rng.choice((0, 30)),
                       second=0, microsecond=0)


def _plain_event(index: int, now: datetime, rng: random.Random) -> Event:
    day = (now + timedelta(days=rng.randint(-HISTORY_DAYS, HORIZON_DAYS))).astimezone(ZONE)
    start = day.replace(hour=rng.randint(8, 17), minute=rng.choice((0, 15, 30, 45)), second=0,
                        microsecond=0)
    title = rng.choice(_MEETINGS)
    if rng.random() < 0.4:
        title = f"{title}: {rng.choice(_PROJECTS)}"
    guests = tuple(_colleague(rng) for _ in range(rng.randint(1, 8)))
    organizer = ME if rng.random() < 0.3 else (guests[0][1], guests[0][0])
    lines = rng.sample(_AGENDA, rng.randint(1, 4))
    link = f"https://meet.google.com/{_code(index, 3)}-{_code(index, 4)}-{_code(index, 3)}"
    return Event(index=index, uid=_uid(index), title=title, start=start,
                 minutes=rng.choice((15, 30, 30, 45, 60, 60, 90)),
                 description="\n".join(lines), location=rng.choice(_PLACES),
                 link=link if rng.random() < 0.5 else "", organizer=organizer,
                 guests=guests, categories=(), tagged=False, role="plain")


def _tagged_event(index: int, contact: tuple[str, str], role: str, start: datetime,
                  rng: random.Random) -> Event:
    name, address = contact
    first = name.split()[0]
    style = rng.randrange(4)
    title = (f"Coffee chat with {first}", f"Informational interview: {name}",
             f"{first} / Sam", f"Career conversation with {first}")[style]
    notes = list(rng.sample(_NOTES, rng.randint(1, 3)))
    if style == 2:
        notes.insert(0, "#infointerview")
    categories = (TAG_CATEGORY,) if style == 3 else ()
    guests: tuple[Guest, ...] = ((address, name, "accepted"),)
    return Event(index=index, uid=_uid(index), title=title, start=start,
                 minutes=rng.choice((20, 30, 30, 45, 60)), description="\n".join(notes),
                 location=rng.choice(("Cafe Lumen, 18 Market St", "Online", "Their office")),
                 link="https://meet.google.com/" + _code(index, 10), organizer=ME,
                 guests=guests, categories=categories, tagged=True, role=role)


def _colleague(rng: random.Random) -> Guest:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    address = f"{_ascii(first).lower()}.{_ascii(last).lower()}@{_COLLEAGUE_DOMAIN}"
    return (address, f"{first} {last}",
            rng.choice(("accepted", "accepted", "accepted", "tentative", "needs_action",
                        "declined")))


def _uid(index: int) -> str:
    return hashlib.sha1(f"bench-{index}".encode(), usedforsecurity=False).hexdigest()[:26] \
        + "@google.com"


def _code(index: int, length: int) -> str:
    digest = hashlib.sha1(f"link-{index}".encode(), usedforsecurity=False).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in digest[:length])


def _ascii(text: str) -> str:
    """The address form of a name: accents dropped, apostrophes removed."""
    plain = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("'", ""))
    return plain.encode("ascii", "ignore").decode()


# --- the busy cycle ------------------------------------------------------------------------


def busy_edits(calendar: Calendar, round_no: int, now: datetime,
               share: float = 0.01) -> list[Event]:
    """Return the events changed in busy round ``round_no``: ``share`` of the calendar, each
    with an edited description and moved by 15 minutes, one of them a settled tagged meeting
    moved to have ended 90 minutes before ``now`` (so exactly one thank-you falls due).
    Different rounds change different events."""
    rng = random.Random(1_000 + round_no)  # noqa: S311 (test data)
    live_contacts = {e.guests[0][0] for e in calendar.events if e.tagged and e.role != "settled"}
    fresh_pool = [e for e in calendar.events if e.role == "settled"
                  and e.guests[0][0] not in live_contacts]
    if not fresh_pool:
        raise ValueError("the calendar has no settled contact to move a meeting of")
    fresh = fresh_pool[(round_no * 7919) % len(fresh_pool)]
    movers = {fresh_pool[(r * 7919) % len(fresh_pool)].index for r in range(50)}
    others = [e for e in calendar.events if e.role in ("plain", "settled")
              and e.index not in movers]
    count = max(1, round(len(calendar.events) * share)) - 1
    chosen = rng.sample(others, count)
    note = f"Agenda updated (round {round_no + 1})."
    edits = [replace(e, description=f"{e.description}\n{note}",
                     start=e.start + timedelta(minutes=15), revision=e.revision + round_no + 1)
             for e in chosen]
    start = (now - timedelta(minutes=fresh.minutes + 90)).replace(second=0, microsecond=0)
    edits.append(replace(fresh, start=start, role="thank_you",
                         revision=fresh.revision + round_no + 1))
    return edits
