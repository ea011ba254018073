"""The local account's keys (``kind = "local"``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from connectors.options import AccountOptions


class LocalOptions(AccountOptions):
    """A vdir (or one .ics file) as the calendar and a Maildir folder as Drafts."""

    path_keys: ClassVar[tuple[str, ...]] = ("calendar", "drafts", "mail")

    kind: Literal["local"]
    calendar: str
    """A vdir folder (as vdirsyncer writes it) or one .ics file."""
    drafts: str
    """A Maildir folder, created on first use."""
    horizon_days: int = Field(default=365, ge=1, le=3650)
    """How far ahead a series is expanded."""
    full_check_minutes: int = Field(default=60, ge=0, le=10080)
    """Compare every file at least this often, even when the folder shows no change (for tools
    that rewrite files in place); 0 compares them every cycle."""
    max_file_mb: int = Field(default=10, ge=1, le=4096)
    """A larger calendar file is not read (its meetings are kept as they were)."""
    mail: str | None = None
    """A Maildir folder, or a folder of Maildir folders (INBOX, Sent, ...), read for
    ``reply_detection`` (which needs it)."""

    @model_validator(mode="after")
    def _mail_to_read(self) -> LocalOptions:
        if self.reply_detection and self.mail is None:
            raise ValueError("reply_detection needs `mail`: the Maildir folder (or the folder of "
                             "Maildir folders, such as ~/Mail) where your sent and received "
                             "mail is kept")
        return self
