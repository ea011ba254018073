"""Retrying provider calls: exponential backoff with jitter, honouring ``Retry-After``.

A connector wraps each HTTP call so that throttling, server errors, timeouts and dropped
connections surface as :class:`~daemon.core.errors.TransientError` (with ``retry_after`` when the
provider asked for a delay); :func:`with_retries` then waits and tries again, and after the last
attempt raises a ``TransientError`` that says what failed and that the next cycle will retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from daemon.core.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How often and how long to retry one call."""

    attempts: int = 5
    """Tries in all, the first included."""
    base: float = 1.0
    """The first wait, in seconds, before jitter; it doubles with each retry."""
    cap: float = 32.0
    """No computed wait is longer than this."""
    max_retry_after: float = 120.0
    """A provider's ``Retry-After`` is honoured up to this many seconds."""

    def delay(self, retry: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        """Seconds to wait before retry number ``retry`` (from 0): the provider's
        ``Retry-After`` when given (capped), else ``base * 2**retry`` capped, with full jitter
        over its upper half."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling: float = min(self.cap, self.base * 2.0 ** retry)
        return ceiling / 2 + rng() * ceiling / 2


def with_retries(call: Callable[[], T], what: str, policy: Backoff = Backoff(),
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> T:
    """Return ``call()``, retrying it while it raises ``TransientError``.

    Raises the last ``TransientError``, reworded to name ``what`` and the number of attempts;
    any other error passes through at once.
    """
    for retry in range(policy.attempts):
        try:
            return call()
        except TransientError as exc:
            if retry == policy.attempts - 1:
                raise TransientError(
                    f"{what} failed {policy.attempts} times ({exc}); the next cycle will try "
                    "again") from exc
            sleep(policy.delay(retry, exc.retry_after, rng))
    raise AssertionError("unreachable: the loop returns or raises")
