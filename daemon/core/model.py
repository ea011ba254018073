"""Plain, frozen data shared by the core and the connectors.

Connectors turn provider data into these types at the edge; nothing past a connector ever sees a
provider's raw JSON. Every datetime here is timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from daemon.core.kinds import DraftKind as DraftKind  # defined beside the table of kinds

if TYPE_CHECKING:
    from daemon.core.timing import WorkingHours

Response = Literal["accepted", "declined", "tentative", "needs_action"]

KEY_HEADER = "X-Coffeechat-Key"
"""The mail header that carries a draft's idempotency key."""

JSON = dict[str, Any]
"""A JSON object, as stored in the state file (cursors, records)."""


@dataclass(frozen=True)
class Attendee:
    """Someone invited to a meeting, as the calendar lists them."""

    email: str
    name: str = ""
    response: Response = "needs_action"
    is_self: bool = False
    """The provider says this attendee is the calendar's owner."""
    is_resource: bool = False
    """A room or piece of equipment, never a contact."""


@dataclass(frozen=True)
class Meeting:
    """One calendar event (one occurrence of a series), as a connector delivers it."""

    uid: str
    """Stable identity across syncs and providers: the iCalendar UID, plus the occurrence's
    original start for one occurrence of a series."""
    title: str
    start: datetime
    end: datetime
    source: str = ""
    """Where it came from, for messages a user reads (a file name, an event id)."""
    description: str = ""
    location: str = ""
    link: str = ""
    """The online-meeting link, if any."""
    organizer: Attendee | None = None
    attendees: tuple[Attendee, ...] = ()
    categories: tuple[str, ...] = ()
    cancelled: bool = False
    all_day: bool = False
    provider_tagged: bool = False
    """The provider itself marks the event as an informational interview (e.g. a private
    extended property); tagging treats it as tagged whatever its text says."""
    provider_id: str = ""
    """The provider's own id of the event (Google event id, Graph event id), when it has one:
    deletions may name only this."""


@dataclass(frozen=True)
class Removed:
    """A meeting that was deleted or cancelled, named by ``uid`` or, when the provider says
    no more than its own id, by ``provider_id`` (the ``uid`` is then empty). The core keeps
    the meeting as cancelled: no more drafts for it, and planning resumes if it comes back."""

    uid: str = ""
    provider_id: str = ""


@dataclass(frozen=True)
class SourceNotes:
    """What one source of a calendar (a file of a local calendar) could not give when it was
    last read: files and events skipped or read only in part, each said in words a user can act
    on (for ``status`` and ``doctor``). It replaces whatever was said of ``source`` before; empty
    ``notes`` say the source now reads in full, or is gone."""

    source: str
    notes: tuple[str, ...] = ()


Change = Meeting | Removed | SourceNotes


@dataclass(frozen=True)
class Person:
    """A contact (or the user): an address and a display name, both already cleaned."""

    email: str
    name: str = ""

    @property
    def first_name(self) -> str:
        """The first word of the name, or the address's local part when there is no name."""
        if self.name.strip():
            return self.name.split()[0]
        return self.email.split("@", 1)[0]


@dataclass(frozen=True)
class Interview:
    """A meeting tagged as an informational interview, with who the drafts go to."""

    meeting: Meeting
    account: str
    contacts: tuple[Person, ...]
    """The people the drafts are for: attendees who are not the user, not a resource, and have
    not declined (or the description's ``Contact:`` line)."""
    declined: tuple[Person, ...] = ()
    """Would-be contacts who declined the invitation: no drafts for them."""
    notes: str = ""
    """The user's notes: the description without tag and contact lines."""
    user_declined: bool = False
    """The user declined their own invitation."""


@dataclass(frozen=True)
class DraftRef:
    """Where a connector put a draft, and a fingerprint of what it wrote."""

    id: str
    fingerprint: str = ""
    key: str = ""
    """The draft's ``X-Coffeechat-Key``, for a connector that looks a draft up by it when ``id``
    no longer names it (a Maildir file renamed or rewritten by a sync tool or mail client);
    empty for connectors whose ids are stable, and in references stored before it existed."""


@dataclass(frozen=True)
class ThreadRef:
    """A message a draft can reply to, so that the contact sees one conversation."""

    message_id: str
    """Its Internet Message-ID, with the angle brackets: ``<abc@example.org>``."""
    subject: str
    """Its subject, as it reads (a reply keeps it, with ``Re: `` in front)."""
    references: tuple[str, ...] = ()
    """The Message-IDs it refers to (its own ``References`` header), oldest first."""
    thread_id: str = ""
    """The provider's id of the conversation (Gmail's ``threadId``), if it has one."""
    provider_message_id: str = ""
    """The provider's own id of the message (a Graph message id, for ``createReply``)."""


@dataclass(frozen=True)
class MailSeen:
    """One message between the user and a contact: when, and how to reply to it."""

    at: datetime
    thread: ThreadRef


@dataclass(frozen=True)
class ContactMail:
    """What one mailbox shows of the mail between the user and one contact (drafts aside)."""

    contact: str
    """The contact's address, lower-case."""
    last_from_contact: MailSeen | None = None
    """The newest message the contact sent the user."""
    last_to_contact: MailSeen | None = None
    """The newest message the user sent the contact."""

    @property
    def latest(self) -> MailSeen | None:
        """The newer of the two, or ``None`` when there was no mail either way."""
        seen = [m for m in (self.last_from_contact, self.last_to_contact) if m is not None]
        return max(seen, key=lambda m: m.at) if seen else None

@dataclass(frozen=True)
class Cadence:
    """When each draft falls due. "N days" keep the local wall-clock time across DST changes;
    "N hours" are absolute."""

    confirmation_days_before: int = 2
    thank_you_hours_after: int = 1
    follow_up_days_after: int = 30
    catch_up_every_days: int = 90
    max_new_catch_ups_per_day: int = 5
    working_hours: WorkingHours | None = None
    """Confirmations, follow-ups and catch-ups wait for these (a thank-you or a prep note does
    not); ``None`` means any time."""
    max_new_drafts_per_day: int = 0
    """At most this many new drafts per local day, all kinds together; 0 means no limit."""
    prep_sheet: bool = False
    """Write the user a prep note the day before each meeting."""


ContactStatus = Literal["active", "paused", "stopped"]


@dataclass(frozen=True)
class ContactPrefs:
    """What the user decided about one contact (``coffeechat contact stop|pause|resume``)."""

    email: str
    status: ContactStatus = "active"
    paused_until: datetime | None = None
    """For ``paused``: drafts resume at this time; ``None`` means until ``resume``."""
    reason: str = ""
    """Why coffeechat paused the contact itself (empty when the user chose): such a pause
    lifts by itself when the contact writes to the user."""
    since: datetime | None = None
    """When this status was set; catch-ups sent before a ``resume`` no longer count as
    unanswered."""


DraftState = Literal["untouched", "edited", "gone"]
"""What became of a draft: as written, changed by the user, or no longer in Drafts (sent or
deleted)."""

DraftRecordState = Literal["creating", "created", "withdrawing"]
"""``creating``: the intent to create was recorded, the provider call may or may not have
happened. ``withdrawing``: the intent to remove an untouched draft (its meeting moved or was
cancelled) was recorded, likewise."""


@dataclass(frozen=True)
class DraftRecord:
    """What the store knows of one draft. ``creating`` means the intent was recorded and the
    provider call may or may not have happened; it is resolved with ``DraftBox.find``."""

    key: str
    kind: DraftKind
    contact: str
    account: str
    meeting_uid: str | None
    state: DraftRecordState
    due: datetime
    reason: str
    created_at: datetime | None = None
    ref: DraftRef | None = None
    observed: DraftState = "untouched"
    """What the user did with the draft, as last seen in the Drafts folder."""
    observed_at: datetime | None = None
    """When the Drafts folder was last looked at for this draft."""
    facts: str = ""
    """A digest of the meeting's time and place when the draft was written (empty for drafts
    not about one meeting): a different digest later means the meeting moved."""
    flag: str = ""
    """Why the user should look at this draft again (the meeting moved or was cancelled after
    they edited it); empty when all is well."""
    message_id: str = ""
    """The Message-ID of the message written, recorded with the intent before the provider
    call: after a crash only a draft with this Message-ID is adopted (empty in records stored
    before it existed)."""


class DraftSpec(NamedTuple):
    """A draft the planner wants written: to whom, about which meeting, when, and why. (A named
    tuple: a plan makes one per planned draft, thousands per call, and tuples are cheap.)"""

    key: str
    kind: DraftKind
    contact: Person
    account: str
    meeting_uid: str | None
    due: datetime
    reason: str
    message: str = ""
    """For ``news``: the user's announcement, handed to the template as data."""


class Skip(NamedTuple):
    """A draft the planner decided not to write, with the reason shown to the user. (A named
    tuple, like :class:`DraftSpec`.)

    ``kind=None`` (key ``uid/no-contact``) marks a tagged meeting with nobody to write to."""

    key: str
    kind: DraftKind | None
    contact: str | None
    meeting_uid: str | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """The planner's answer for one instant."""

    due: tuple[DraftSpec, ...]
    """Write these now, in this order. Every time in a plan is in UTC."""
    upcoming: tuple[DraftSpec, ...]
    """Not yet due (or held back by a limit or a pause); ``due`` is when they will be written."""
    skipped: tuple[Skip, ...]
    """Will never be written, each with its reason."""
    to_pause: tuple[tuple[str, str], ...] = ()
    """Contacts coffeechat should pause now, each with the reason (no answer to catch-ups)."""
    next_change: datetime | None = None
    """The earliest instant at which planning again, with nothing else changed, could give
    another answer: the first upcoming draft's time, or sooner when a daily limit frees a
    place. ``None`` when nothing is upcoming."""
    later: tuple[tuple[str, int], ...] = ()
    """Contacts (sorted) with meetings beyond their next two that have not started, and how
    many: one at a time, none of their drafts is planned yet (see
    :data:`daemon.plan.planner.PLAN_AHEAD`)."""


class SettledPerson(NamedTuple):
    """Someone in meetings that left the state for the settled file (see
    :class:`SettledSummary`)."""

    name: str
    meetings: int
    """How many of those meetings they were in (as a contact or having declined)."""
    last_met: datetime | None
    """When the latest of those they were a contact in, not cancelled, ended."""


class SettledSummary(NamedTuple):
    """What left the state for the settled file, counted for the read-outs that show all of
    history (see :meth:`daemon.state.store.Store.settled_summary`)."""

    people: dict[str, SettledPerson]
    """Everyone in those meetings, by address."""
    drafts: int
    """How many draft records."""
    taken_over: int
    """How many of those the user sent, deleted or edited (seen so)."""


DEFAULT_KEYWORDS: tuple[str, ...] = (
    "#infointerview",
    "informational interview",
    "info interview",
    "coffee chat",
)


@dataclass(frozen=True)
class TaggingRules:
    """How a meeting is recognised as an informational interview."""

    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    """Matched case-insensitively in the title or the description."""
    categories: tuple[str, ...] = ("Informational Interview",)
    """Matched case-insensitively against the event's categories."""


@dataclass(frozen=True)
class Me:
    """The user, as the drafts' sender."""

    name: str
    emails: tuple[str, ...]
    """Lower-cased; the first is the From address."""
    signature: str = ""
