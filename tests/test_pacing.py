"""Per-account pacing: failing accounts back off, capped; the others keep their pace."""

from __future__ import annotations

from daemon.cycle.pacing import Pacer


def test_a_failing_account_backs_off_exponentially_up_to_the_cap() -> None:
    pacer = Pacer(base=300, cap=3600)
    waits = [pacer.failed("work", "503", needs_auth=False, now=0) for _ in range(6)]
    assert waits == [300, 600, 1200, 2400, 3600, 3600]
    assert pacer.due(["work", "home"], now=3599) == ["home"]
    assert pacer.due(["work", "home"], now=3600) == ["work", "home"]
    assert pacer.failing() == ["work"]
    pacer.succeeded("work")
    assert pacer.failed("work", "503", needs_auth=False, now=10) == 300  # fresh start


def test_an_account_needing_auth_is_retried_rarely_and_reported() -> None:
    pacer = Pacer(base=300, cap=3600)
    assert pacer.failed("gmail", "run coffeechat auth", needs_auth=True, now=0) == 3600
    assert pacer.needing_auth() == ["gmail"]
    assert pacer.due(["gmail", "work"], now=60) == ["work"]
