"""What every ``[[accounts]]`` entry has, whatever its kind: the shared base of the
connectors' option models.

Each connector declares its own keys in ``connectors/<kind>/options.py``, as a subclass of
:class:`AccountOptions` with a ``kind`` literal, and :data:`connectors.base.OPTIONS` names it.
``daemon.settings.schema`` validates each entry through its kind's model, so a connector
receives its options checked and complete (every default filled in) and never checks them again.
Only the config's validation imports this module (and pydantic): a config already validated
is read from the cache in ``daemon.settings.configcache``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A TOML table: unknown keys are errors (a misspelt key must not pass unnoticed)."""

    # strict: a value of the wrong TOML type (reply_detection = "yes", max_file_mb = "10") is
    # an error rather than coerced, as each connector's own checks made it before.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              use_attribute_docstrings=True)
    """The docstring under a field is its description: docs/configuration.md is made of them."""


class AccountOptions(Section):
    """The keys of every account. A subclass adds ``kind: Literal["<kind>"]`` and its own keys."""

    path_keys: ClassVar[tuple[str, ...]] = ()
    """Keys holding a file or folder: made absolute against the config file's folder (``~``
    expanded) before the connector sees them."""
    tagging_keys: ClassVar[tuple[str, ...]] = ()
    """Keys that decide which of the account's events are tagged (a Google account's
    ``color_id``): changing one reads the calendar again in full, as a change of
    ``[tagging]`` does."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """The account's name, unique in the config: ``coffeechat auth --account NAME`` and the log
    use it."""
    history_days: int = Field(default=400, ge=1, le=3650)
    """How far back the first sync reads the calendar (and the mail history)."""
    reply_detection: bool = False
    """Read the user's mail (sent and received) to learn who wrote to whom."""


class RemoteOptions(AccountOptions):
    """The keys of an account reached over HTTP with an OAuth token."""

    token_command: str | None = None
    """A command printing an access token, used instead of the stored sign-in."""
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    """How long any one request may take."""


def http_root(value: str) -> str:
    """``value`` when it is an http(s):// address; raises ``ValueError`` saying what to set."""
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s):// address")
    return value
