"""What ``status`` shows of a long history of drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.app.views import SHOWN_DRAFTS, status_json, status_text
from daemon.core.model import DraftRecord, Plan
from daemon.cycle.health import Health

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def made(i: int, observed: str = "untouched") -> DraftRecord:
    return DraftRecord(key=f"m{i}/thank_you/p{i}@x.org", kind="thank_you", contact=f"p{i}@x.org",
                       account="a", meeting_uid=f"m{i}", state="created", due=T0,
                       reason="r", created_at=T0 + timedelta(hours=i),
                       observed=observed)  # type: ignore[arg-type]


def test_status_lists_the_latest_drafts_and_counts_the_rest() -> None:
    records = {r.key: r for r in (made(i, "gone" if i % 2 else "untouched")
                                  for i in range(40))}
    text = status_text(Health(), [], records, Plan((), (), ()), ZoneInfo("UTC"), now=T0)
    listed = [line for line in text.splitlines() if "thank_you    p" in line
              and "sent or deleted" not in line]
    assert len(listed) == SHOWN_DRAFTS
    assert listed[0].endswith(f"p{40 - SHOWN_DRAFTS}@x.org")
    assert listed[-1].endswith("p39@x.org")
    assert "Drafts made: 40" in text
    assert f"... and {40 - SHOWN_DRAFTS} earlier: `coffeechat status --json` lists them all" \
        in text
    assert "Drafts you took over: 20" in text
    assert f"... and {20 - SHOWN_DRAFTS} earlier" in text
    assert len(status_json(Health(), [], records, Plan((), (), ()), now=T0)["drafts"]) == 40


def test_a_short_history_is_listed_whole() -> None:
    records = {r.key: r for r in (made(i) for i in range(3))}
    text = status_text(Health(), [], records, Plan((), (), ()), ZoneInfo("UTC"), now=T0)
    assert "earlier" not in text
    assert all(f"p{i}@x.org" in text for i in range(3))
