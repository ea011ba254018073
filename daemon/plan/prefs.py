"""What the user decided about a contact (stopped, paused with or without an end), applied to
the drafts planned for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.core.kinds import (
    LABELS,
)
from daemon.core.model import (
    Person,
    Skip,
)
from daemon.core.timing import (
    require_aware,
)
from daemon.core.wording import at_time
from daemon.plan.context import (
    Context,
    Outcome,
    Upcoming,
    who,
)


def held_by_prefs(p: Person, ctx: Context) -> str | None:
    """Why the user's choice rules out every draft for ``p`` (stopped, paused with no end)."""
    pref = ctx.prefs.get(p.email)
    if pref is None:
        return None
    if pref.status == "stopped":
        return f"you stopped this contact (to start again: coffeechat contact resume {p.email})"
    if pref.status == "paused" and pref.paused_until is None:
        if pref.reason:
            return f"coffeechat paused this contact: {pref.reason} (to start again: " \
                   f"coffeechat contact resume {p.email})"
        return f"paused until you resume (coffeechat contact resume {p.email})"
    return None



def paused_until(p: Person, ctx: Context) -> datetime | None:
    """When a timed pause of ``p`` ends, if it is still running."""
    pref = ctx.prefs.get(p.email)
    if pref is None or pref.status != "paused" or pref.paused_until is None:
        return None
    require_aware(pref.paused_until, f"paused_until of {p.email}")
    until = pref.paused_until.astimezone(UTC)
    return until if until > ctx.now else None



def apply_pause(outcome: Outcome, p: Person, ctx: Context) -> Outcome:
    until = paused_until(p, ctx)
    if until is None or isinstance(outcome, Skip) or outcome.spec.due >= until:
        return outcome
    spec = outcome.spec
    reason = (f"{LABELS[spec.kind]} for {who(p)}: paused until {at_time(until, ctx.tz)}, "
              f"then planned again")
    return Upcoming(spec._replace(due=until, reason=reason))
