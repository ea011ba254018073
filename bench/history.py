"""Real series (issue 13, item 12): the planner over one contact with thousands of meetings,
and ``coffeechat plan`` and ``status`` over a state of 25,000 stored meetings.

- :func:`series_inputs`: one contact and an hourly tagged series of 30-minute meetings that
  began three days ago, so every occurrence is live (none is settled); the thank-you of the
  last meeting that ended is already made. Timed in process, like :mod:`bench.planning`, at
  several lengths of the same series: the time per occurrence shows whether the planner is
  linear in one contact's meetings.
- :func:`write_state`: a workspace whose state holds the :mod:`bench.planning` history of
  enough contacts (1 to 3 meetings each, with what a running coffeechat would have made) plus
  one contact with such a series, written through :class:`daemon.store.Store`. As a user
  would have, they sent most drafts: of those made more than 45 days before (when coffeechat
  stops looking at them), 19 in 20 are gone from Drafts and the rest were left there. The
  meetings that settled are then moved out as a cycle moves them (:mod:`daemon.settle`).
  ``plan`` and ``status`` are run on it as ``coffeechat`` processes, as a user runs them.
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
from daemon import codec
from daemon.model import (
    Attendee,
    Cadence,
    ContactPrefs,
    DraftRecord,
    Interview,
    Meeting,
    Person,
)
from daemon.observe import WATCH_FOR
from daemon.planner import draft_key
from daemon.settle import settleable
from daemon.store import Store, doc_id

SERIES_CONTACT = Person("riley.series@example.org", "Riley Series")
SERIES_SIZES = (70, 700, 7_000)
"""Lengths of the series timed in process; the longest is the size seen in a real state."""
STORED_MEETINGS = 25_000
"""Meetings in the stored state that ``plan`` and ``status`` read."""


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


def write_state(root: Path, meetings: int, series: int, now: datetime) -> tuple[int, int]:
    """Write a workspace in ``root`` (config, an empty calendar folder, the state) whose state
    holds about ``meetings`` meetings, ``series`` of them one contact's hourly series, around
    ``now``. Returns the meetings and draft records stored."""
    history = planner_inputs((meetings - series) // 2, now)
    riley = series_inputs(series, now)
    interviews: list[Interview] = [*history.interviews, *riley.interviews]
    prefs: dict[str, ContactPrefs] = {**history.prefs, **riley.prefs}
    drafts = {**{key: _sent_mostly(r, n, now) for n, (key, r) in
                 enumerate(history.drafts.items())}, **riley.drafts}
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
