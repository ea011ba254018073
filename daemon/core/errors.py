"""One error tree for coffeechat.

Every failure a user can meet is a :class:`CoffeechatError` whose message says what happened and
what to do. The CLI prints these without a traceback; anything else is a bug.
"""

from __future__ import annotations


class CoffeechatError(Exception):
    """Base of every error coffeechat reports to the user."""


class ConfigError(CoffeechatError):
    """The configuration file is missing or invalid. ``problems`` lists each one with its key."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{path}: {len(problems)} {noun} in the configuration:\n{lines}")


class StateError(CoffeechatError):
    """The state file cannot be used (corrupt, newer schema, unwritable, locked)."""


class DamagedState(StateError):
    """The state file (or a backup) does not read: empty, not JSON, of the wrong shape, or a
    record that does not decode. The message says what was found; the store adds how to
    restore a backup. ``reason`` is what was found, as a phrase ("its table 'drafts' is a
    list, not a table of records")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TemplateError(CoffeechatError):
    """A template could not be loaded or rendered; the message names the file and line."""


class ConnectorError(CoffeechatError):
    """An account's calendar or drafts could not be used; the message says what to do."""


class AuthError(ConnectorError):
    """The account needs the user to authorise again; the message names the command to run."""


class TransientError(ConnectorError):
    """A failure that may pass by itself (network, rate limit, server error).

    ``retry_after`` is the delay in seconds the provider asked for, when it asked.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CursorExpired(ConnectorError):
    """The stored sync cursor is no longer accepted: the core must do a full sync."""


class UnsafeMessageError(CoffeechatError):
    """A rendered message failed the header check; no draft is written."""
