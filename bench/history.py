"""Real series (issue 13, item 12): the planner over one contact with thousands of meetings,
and ``coffeechat plan`` and ``status`` over a state of 25,000 stored meetings.

- :func:`series_inputs`: one contact and an hourly tagged series of 30-minute meetings that
  began three days ago, so every occurrence is live (none is settled); the thank-you of the
  last meeting that ended is already made. Timed in process, like :mod:`bench.planning`, at
  several lengths of the same series: the time per occurrence shows whether the planner is
  linear in one contact's meetings.
- :func:`write_state`: a workspace whose state holds one of two shapes of history, written
  through :class:`daemon.state.store.Store`:

  - ``contacts`` (:func:`contacts_inputs`): the :mod:`bench.planning` history of enough
    contacts (1 to 3 meetings each; 9,000 for 25,000 meetings) plus one contact with such a
    series. Most of its cost is per contact: each has a catch-up planned and a line in
    ``status``.
  - ``series`` (:func:`series_inputs_bounded`): what tagged series leave in a real state, as
    the local calendar stores them: daily series of 1,000 occurrences each (its bound per
    series, those nearest today: about 500 past and 500 to come), a few per contact, and the
    history of 500 other contacts.

  As a user would have, they sent most drafts: of those made more than 45 days before (when
  coffeechat stops looking at them), 19 in 20 are gone from Drafts and the rest were left
  there. The meetings that settled are then moved out as a cycle moves them
  (:mod:`daemon.plan.settle`). ``plan`` and ``status`` are run on it as ``coffeechat`` processes,
  as a user runs them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from tinydb.table import Document

from bench.events import ME
from bench.planning import (
    NOW,
    PlannerInputs,
    PlannerTiming,
    planner_inputs,
    record,
    time_plan,
)
from bench.worlds import config_text
from daemon.core.keys import draft_key
from daemon.core.model import (
    Attendee,
    Cadence,
    DraftKind,
    DraftRecord,
    Interview,
    Meeting,
    Person,
)
from daemon.cycle.observe import WATCH_FOR
from daemon.plan.settle import settleable
from daemon.state import codec
from daemon.state.database import doc_id
from daemon.state.store import Store

SERIES_CONTACT = Person("riley.series@example.org", "Riley Series")
SERIES_SIZES = (70, 700, 7_000)
"""Lengths of the series timed in process; the longest is the size seen in a real state."""


def series_inputs(occurrences: int, now: datetime = NOW) -> PlannerInputs:
    """The planner's input for one contact with an hourly series of ``occurrences`` (see the
    module's docstring)."""
    me = Attendee(ME[1], ME[0], "accepted", is_self=True)
    guest = Attendee(SERIES_CONTACT.email, SERIES_CONTACT.name, "accepted")
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    interviews = []
    for i in range(occurrences):
        start = first + timedelta(hours=i)
        meeting = Meeting(uid=f"series-{first:%Y%m%d}@bench/{i}", title="Office hours with Riley",
                          start=start, end=start + timedelta(minutes=30), source="bench",
                          organizer=me, attendees=(me, guest))
        interviews.append(Interview(meeting, "bench", (SERIES_CONTACT,)))
    drafts: dict[str, DraftRecord] = {}
    ended = [iv.meeting for iv in interviews if iv.meeting.end + timedelta(hours=1) <= now]
    if ended:
        key = draft_key("thank_you", ended[-1].uid, SERIES_CONTACT.email)
        made = ended[-1].end + timedelta(hours=1)
        drafts[key] = record(key, "thank_you", SERIES_CONTACT.email, ended[-1].uid, made,
                             observed="gone")
    return PlannerInputs(interviews, {}, drafts)


def time_series(occurrences: int, runs: int) -> PlannerTiming:
    """Time ``plan`` over one contact's series of ``occurrences`` ``runs`` times (after one
    warm-up call); returns the median."""
    return time_plan(series_inputs(occurrences), 1, runs)


def contacts_inputs(meetings: int, series: int, now: datetime) -> PlannerInputs:
    """About ``meetings`` meetings: ``series`` of them one contact's hourly series, the rest
    the history of contacts with 1 to 3 meetings each (see the module's docstring)."""
    history = planner_inputs((meetings - series) // 2, now)
    riley = series_inputs(series, now)
    drafts = {**{key: _sent_mostly(r, n, now) for n, (key, r) in
                 enumerate(history.drafts.items())}, **riley.drafts}
    return PlannerInputs([*history.interviews, *riley.interviews],
                         {**history.prefs, **riley.prefs}, drafts)


BOUNDED_SERIES = 1_000
"""Occurrences of each series in the ``series`` shape: the local calendar's bound per series."""
SERIES_PER_CONTACT = 3


def series_inputs_bounded(meetings: int, now: datetime) -> PlannerInputs:
    """About ``meetings`` meetings: daily series of :data:`BOUNDED_SERIES` occurrences, half
    of them past, :data:`SERIES_PER_CONTACT` per contact, with a confirmation and a thank-you
    made for each past occurrence, plus the history of 500 other contacts (see the module's
    docstring)."""
    history = planner_inputs(500, now)
    me = Attendee(ME[1], ME[0], "accepted", is_self=True)
    interviews = list(history.interviews)
    drafts = dict(history.drafts)
    today = now.replace(minute=0, second=0, microsecond=0)
    for j in range(max(1, (meetings - len(interviews)) // BOUNDED_SERIES)):
        person = Person(f"mentor{j // SERIES_PER_CONTACT}@guild.example.org",
                        f"Mentor Number{j // SERIES_PER_CONTACT}")
        guest = Attendee(person.email, person.name, "accepted")
        first = today - timedelta(days=BOUNDED_SERIES // 2, hours=j)
        for i in range(BOUNDED_SERIES):
            start = first + timedelta(days=i)
            meeting = Meeting(uid=f"daily-{j}@bench/{i}", title=f"Daily sync with {person.name}",
                              start=start, end=start + timedelta(minutes=30), source="bench",
                              organizer=me, attendees=(me, guest))
            interviews.append(Interview(meeting, "bench", (person,)))
            made: tuple[tuple[DraftKind, datetime], ...] = (
                ("confirmation", start - timedelta(days=1)),
                ("thank_you", meeting.end + timedelta(hours=1)))
            for kind, at in made:
                if at < now:
                    key = draft_key(kind, meeting.uid, person.email)
                    drafts[key] = record(key, kind, person.email, meeting.uid, at)
    drafts = {key: _sent_mostly(r, n, now) for n, (key, r) in enumerate(drafts.items())}
    return PlannerInputs(interviews, history.prefs, drafts)


def write_state(root: Path, inputs: PlannerInputs, now: datetime) -> tuple[int, int]:
    """Write a workspace in ``root`` (config, an empty calendar folder, the state) whose state
    holds ``inputs``, then settle it at ``now`` as a cycle would. Returns the meetings and
    draft records stored (settled or not)."""
    interviews, prefs, drafts = inputs.interviews, inputs.prefs, inputs.drafts
    (root / "calendar").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "config.toml").write_text(config_text(f"""
[[accounts]]
name = "bench"
kind = "local"
calendar = "{root / 'calendar'}"
drafts = "{root / 'Maildir' / 'Drafts'}"
"""), "utf-8")
    store = Store(root / "state.json", writable=True)
    store.put_interviews(interviews)
    # In one write each: TinyDB rewrites a whole table for every write, so thousands of
    # put_draft calls would take minutes.
    store.drafts_table.insert_multiple(Document(codec.record_to_json(r), doc_id=doc_id(r.key))
                                       for r in drafts.values())
    store.contacts_table.insert_multiple(
        Document(codec.prefs_to_json(p), doc_id=doc_id(p.email)) for p in prefs.values())
    store.flush()
    store = Store(root / "state.json", writable=True)
    found = settleable(store.interviews(), store.drafts(), store.pending_uids(), now, Cadence())
    store.settle(found.meetings, found.records, now)
    store.flush()
    return len(interviews), len(drafts)


def _sent_mostly(r: DraftRecord, n: int, now: datetime) -> DraftRecord:
    """``r`` as the user left it: made more than 45 days ago, gone from Drafts but one in 20."""
    if r.created_at is None or now - r.created_at <= WATCH_FOR or n % 20 == 0:
        return r
    return replace(r, observed="gone")
