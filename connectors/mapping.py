"""What every provider's event mapping gives back: one meeting with its minor problems, or a
refusal with a reason.

Each provider maps its own event shape (Google's and Graph's JSON, an iCalendar VEVENT) in its
own ``mapping`` module; these two types are the one vocabulary their callers read, so a
calendar logs a skipped event and a problem the same way whichever provider it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.core.model import Meeting


class BadEvent(ValueError):
    """An event that cannot become a meeting; the message says why, in a few words."""


@dataclass(frozen=True)
class Mapped:
    """A meeting read from one provider event, and what was wrong with it but did not stop
    it (an attendee without a valid address, an end before the start), for the caller to log
    next to the event's name."""

    meeting: Meeting
    problems: tuple[str, ...] = ()
