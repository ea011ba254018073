"""Per-account pacing for the service: an account that keeps failing is tried less often
(exponential backoff, capped), while the others keep their pace."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Track:
    failures: int = 0
    next_try: float = 0.0
    needs_auth: bool = False
    last_error: str = ""


@dataclass
class Pacer:
    """Decides which accounts a cycle should try, from their recent failures.

    Times are ``time.monotonic()`` seconds. After ``n`` failures in a row an account waits
    ``base * 2**(n-1)`` seconds (at most ``cap``) before it is tried again; an account that needs
    the user to sign in again waits ``cap`` between tries, so it recovers by itself once the
    user has run ``coffeechat auth``.
    """

    base: float
    cap: float
    tracks: dict[str, _Track] = field(default_factory=dict)

    def due(self, names: list[str], now: float) -> list[str]:
        """The accounts among ``names`` that may be tried at ``now``."""
        return [n for n in names if self.tracks.get(n, _Track()).next_try <= now]

    def succeeded(self, name: str) -> None:
        """The account synced: back to the normal pace."""
        self.tracks.pop(name, None)

    def failed(self, name: str, message: str, needs_auth: bool, now: float) -> float:
        """Record a failure; returns the seconds until the account is tried again."""
        track = self.tracks.setdefault(name, _Track())
        track.failures += 1
        track.needs_auth = needs_auth
        track.last_error = message
        wait = self.cap if track.needs_auth else min(self.cap,
                                                     self.base * 2 ** (track.failures - 1))
        track.next_try = now + wait
        return wait

    def needing_auth(self) -> list[str]:
        """Accounts waiting for the user to run ``coffeechat auth``."""
        return sorted(n for n, t in self.tracks.items() if t.needs_auth)

    def failing(self) -> list[str]:
        """Accounts whose last try failed."""
        return sorted(self.tracks)
