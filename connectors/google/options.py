"""The Google account's keys (``kind = "google"``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import field_validator, model_validator

from connectors.options import RemoteOptions, http_root


class GoogleOptions(RemoteOptions):
    """Google Calendar as the calendar and Gmail's Drafts folder as Drafts. Needs
    ``client_secrets`` or ``token_command``."""

    path_keys: ClassVar[tuple[str, ...]] = ("client_secrets",)
    tagging_keys: ClassVar[tuple[str, ...]] = ("color_id",)

    kind: Literal["google"]
    calendar_id: str = "primary"
    """The calendar to read: ``primary``, or the id of another calendar you can read."""
    client_secrets: str | None = None
    """The OAuth client JSON from Google Cloud, read by ``coffeechat auth``."""
    api_root: str = "https://www.googleapis.com/"
    """Where Google's APIs are reached: a proxy, or a test server."""
    color_id: str | None = None
    """When set, events of this colour (Google's colour number, e.g. ``"5"``) are tagged too."""

    @field_validator("api_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return http_root(value if value.endswith("/") else value + "/")

    @model_validator(mode="after")
    def _needs_credentials(self) -> GoogleOptions:
        if self.client_secrets is None and self.token_command is None:
            raise ValueError("set client_secrets (the OAuth client JSON from Google Cloud) "
                             "or token_command")
        return self
