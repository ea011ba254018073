"""The days over which a local calendar's series are expanded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    """The days over which series are expanded: ``start`` included, ``end`` excluded.

    ``today`` is the day the window was drawn around (``None`` when it was read back from a
    cursor): a series too big to expand in full keeps the occurrences nearest it. It takes no
    part in comparisons: two windows over the same days are the same window.
    """

    start: date
    end: date
    today: date | None = field(default=None, compare=False)

    @classmethod
    def around(cls, today: date, history_days: int, horizon_days: int) -> Window:
        """Return [today - history_days, today + horizon_days], both days included."""
        return cls(today - timedelta(days=history_days),
                   today + timedelta(days=horizon_days + 1), today)

    @classmethod
    def at(cls, now: datetime, tz: ZoneInfo, history_days: int, horizon_days: int) -> Window:
        """Return the window :meth:`around` the day that ``now`` falls on in ``tz``.

        Raises ``ValueError`` when ``now`` is naive: a connector's injected clock must give
        aware datetimes.
        """
        if now.tzinfo is None:
            raise ValueError("the injected clock must return an aware datetime")
        return cls.around(now.astimezone(tz).date(), history_days, horizon_days)

    @property
    def middle(self) -> date:
        """The day nearest which occurrences matter most: ``today``, else the window's middle
        day."""
        if self.today is not None:
            return self.today
        return self.start + timedelta(days=(self.end - self.start).days // 2)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the window as two aware datetimes at local midnight in ``tz``."""
        return (
            datetime.combine(self.start, datetime.min.time(), tzinfo=tz),
            datetime.combine(self.end, datetime.min.time(), tzinfo=tz),
        )

    def holds(self, when: date | datetime, tz: ZoneInfo) -> bool:
        """Return True when the day or instant ``when`` lies inside the window."""
        if isinstance(when, datetime):
            low, high = self.bounds(tz)
            return low <= when < high
        return self.start <= when < self.end
