"""Plain, frozen data shared by the core and the connectors.

Connectors turn provider data into these types at the edge; nothing past a connector ever sees a
provider's raw JSON. Every datetime here is timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

DraftKind = Literal["confirmation", "thank_you", "follow_up", "catch_up"]
DRAFT_KINDS: tuple[DraftKind, ...] = ("confirmation", "thank_you", "follow_up", "catch_up")

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


Change = Meeting | Removed


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




@dataclass(frozen=True)
class Cadence:
    """When each draft falls due. "N days" keep the local wall-clock time across DST changes;
    "N hours" are absolute."""

    confirmation_days_before: int = 2
    thank_you_hours_after: int = 1
    follow_up_days_after: int = 30
    catch_up_every_days: int = 90
    max_new_catch_ups_per_day: int = 5


ContactStatus = Literal["active", "paused", "stopped"]


@dataclass(frozen=True)
class ContactPrefs:
    """What the user decided about one contact (``coffeechat contact stop|pause|resume``)."""

    email: str
    status: ContactStatus = "active"
    paused_until: datetime | None = None
    """For ``paused``: drafts resume at this time; ``None`` means until ``resume``."""


DraftState = Literal["untouched", "edited", "gone"]
"""What became of a draft: as written, changed by the user, or no longer in Drafts (sent or
deleted)."""

DraftRecordState = Literal["creating", "created"]


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


@dataclass(frozen=True)
class DraftSpec:
    """A draft the planner wants written: to whom, about which meeting, when, and why."""

    key: str
    kind: DraftKind
    contact: Person
    account: str
    meeting_uid: str | None
    due: datetime
    reason: str


@dataclass(frozen=True)
class Skip:
    """A draft the planner decided not to write, with the reason shown to the user.

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
