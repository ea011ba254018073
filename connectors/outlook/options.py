"""The Outlook account's keys (``kind = "outlook"``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.options import RemoteOptions, http_root


class OutlookOptions(RemoteOptions):
    """The Outlook calendar and Drafts folder through Microsoft Graph. Needs ``client_id`` or
    ``token_command``."""

    kind: Literal["outlook"]
    client_id: str | None = None
    """The app registration's id, for msal's sign-in."""
    authority: str = "https://login.microsoftonline.com/common"
    """The sign-in authority: ``/common``, ``/organizations``, ``/consumers`` or
    ``/<tenant-id>`` under your cloud's sign-in address."""
    graph_root: str = "https://graph.microsoft.com/v1.0"
    """Where Microsoft Graph is reached; also how a national cloud is."""
    horizon_days: int = Field(default=365, ge=1, le=3650)
    """How far ahead the calendar window reaches (it moves forward by itself)."""

    @field_validator("authority", "graph_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return http_root(value.rstrip("/"))

    @model_validator(mode="after")
    def _needs_credentials(self) -> OutlookOptions:
        if self.client_id is None and self.token_command is None:
            raise ValueError("set client_id (the app registration's id) or token_command")
        return self
