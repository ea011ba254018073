"""How coffeechat words dates, times and lengths of time: in English, the same on every
machine whatever its locale (no ``strftime`` names), in the zone it is given.

- Reasons and read-outs: :func:`on_day` ("Fri 10 May 2024"), :func:`at_time` ("Fri 10 May
  2024 at 10:00"), :func:`table_time` ("Fri 10 May 2024 10:00"), and :func:`span`,
  :func:`ago` and :func:`plural` for lengths.
- Emails: :func:`long_date` ("Friday 10 May") and :data:`MONTHS`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
_MINUTE = timedelta(minutes=1)


def plural(n: int, unit: str) -> str:
    """``n`` and ``unit``, with an ``s`` unless ``n`` is 1: "1 day", "3 days"."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def span(delta: timedelta) -> str:
    """A rough length: "45 minutes", "3 hours" (under 36 hours), else days, rounded."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return plural(minutes, "minute")
    if minutes < 36 * 60:
        return plural(minutes // 60, "hour")
    return plural((minutes + 12 * 60) // (24 * 60), "day")


def ago(delta: timedelta) -> str:
    """How long ago: "just now" under a minute, else :func:`span` and "ago"."""
    return "just now" if delta < _MINUTE else f"{span(delta)} ago"


def on_day(moment: datetime, tz: ZoneInfo) -> str:
    """``moment``'s local date: "Fri 10 May 2024"."""
    local = moment.astimezone(tz)
    return f"{WEEKDAYS[local.weekday()][:3]} {local.day} {MONTHS[local.month - 1][:3]} {local.year}"


def at_time(moment: datetime, tz: ZoneInfo) -> str:
    """``moment``'s local date and time: "Fri 10 May 2024 at 10:00"."""
    local = moment.astimezone(tz)
    return f"{on_day(local, tz)} at {local.hour:02d}:{local.minute:02d}"


def table_time(moment: datetime, tz: ZoneInfo) -> str:
    """``moment``'s local date and time for a table column: "Fri 10 May 2024 10:00" (the day
    of the month two digits wide)."""
    local = moment.astimezone(tz)
    return (f"{WEEKDAYS[local.weekday()][:3]} {local.day:02d} {MONTHS[local.month - 1][:3]} "
            f"{local.year} {local.hour:02d}:{local.minute:02d}")


def long_date(local: datetime) -> str:
    """The date of a datetime already in the user's zone, in full: "Tuesday 24 November"."""
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
