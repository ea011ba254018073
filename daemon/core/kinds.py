"""The kinds of draft, in one table: what each is called, how urgent it is, and how the
planner, the executor, reconciliation and reply detection treat it.

Adding a kind means its name in :data:`DraftKind` and its row in :data:`KINDS` (both here), a
template ``<kind>.txt`` and its rule in one module of :mod:`daemon.plan`
(:mod:`daemon.plan.one_meeting` for a draft about one meeting: its time and its reasons).
Everything else that names the kinds is made from this table: the sets below (its columns,
made once at import for the planner's inner loops), ``preview``'s choices, the ``kind``
template variable and what docs/templates.md says of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DraftKind = Literal["confirmation", "thank_you", "follow_up", "catch_up", "news", "prep"]
"""The kinds, in the order of :data:`KINDS` (``tests/test_kinds.py`` checks they agree). The
model (:mod:`daemon.core.model`) names it too, and is where most modules import it from."""


@dataclass(frozen=True)
class Kind:
    """One kind of draft."""

    label: str
    """How reasons and read-outs name it ("thank-you")."""
    priority: int
    """Under the daily limit on new drafts, lower numbers are written first."""
    stage: int | None
    """Its place in one meeting's life (before, after, well after); None when it is not about
    one meeting. A draft of a later stage proves the earlier ones are over."""
    to_contact: bool = True
    """Written to the contact (False: a note to the user, the prep note)."""
    waits_for_work: bool = False
    """With working hours, it falls due at the first working moment at or after its time."""
    one_pending: bool = False
    """A contact has at most one of this kind in Drafts; the next waits for the last to go."""
    in_thread: bool = False
    """Written as a reply in the newest conversation with the contact, when one is known."""
    depends_on_mail: bool = False
    """Its plan changes with what the user's mailboxes show (reply detection)."""


KINDS: dict[DraftKind, Kind] = {
    "confirmation": Kind("confirmation", 1, 0, waits_for_work=True),
    "thank_you": Kind("thank-you", 0, 1, one_pending=True, depends_on_mail=True),
    "follow_up": Kind("follow-up", 3, 2, waits_for_work=True, one_pending=True, in_thread=True,
                      depends_on_mail=True),
    "catch_up": Kind("catch-up", 4, None, waits_for_work=True, in_thread=True,
                     depends_on_mail=True),
    "news": Kind("news note", 5, None),
    "prep": Kind("prep note", 2, 0, to_contact=False),
}

DRAFT_KINDS: tuple[DraftKind, ...] = tuple(KINDS)
"""Every kind of draft, each with its template ``<kind>.txt``. ``news`` is written only by
``coffeechat announce``; ``prep`` is the optional note to the user the day before a meeting."""
LABELS: dict[DraftKind, str] = {kind: k.label for kind, k in KINDS.items()}
PRIORITY: dict[DraftKind, int] = {kind: k.priority for kind, k in KINDS.items()}
ABOUT_ONE_MEETING: frozenset[DraftKind] = frozenset(
    kind for kind, k in KINDS.items() if k.stage is not None)
"""Kinds whose content or timing depends on one meeting."""
BEFORE_THE_MEETING: frozenset[DraftKind] = frozenset(
    kind for kind, k in KINDS.items() if k.stage == 0)
"""Kinds that lose their point when the meeting is called off or moved."""
MEETING_KINDS: tuple[DraftKind, ...] = tuple(
    kind for kind, k in KINDS.items() if k.stage is not None and k.to_contact)
"""The drafts to each contact of one meeting, in the order of the meeting's life."""
LATER_STAGES: dict[DraftKind, tuple[DraftKind, ...]] = {
    kind: tuple(later for later in MEETING_KINDS if (KINDS[later].stage or 0) > (k.stage or 0))
    for kind, k in KINDS.items() if k.stage is not None}
"""For each draft about one meeting, the kinds to the contact that come later in its life."""
WAITS_FOR_WORK: frozenset[DraftKind] = frozenset(
    kind for kind, k in KINDS.items() if k.waits_for_work)
ONE_PENDING: frozenset[DraftKind] = frozenset(kind for kind, k in KINDS.items() if k.one_pending)
IN_THREAD: frozenset[DraftKind] = frozenset(kind for kind, k in KINDS.items() if k.in_thread)
DEPENDS_ON_MAIL: frozenset[DraftKind] = frozenset(
    kind for kind, k in KINDS.items() if k.depends_on_mail)
