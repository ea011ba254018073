"""An account's options as a connector receives them: through the config's validation, every
default filled in, paths made absolute, and ``my_emails`` from ``[me]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.settings.config import parse

ME = "sam@example.com"
FOLDER = Path("/config")
"""The config's folder, against which relative paths resolve."""


def checked(kind: str, name: str = "acct", /, **options: Any) -> dict[str, Any]:
    """The validated options of one ``kind`` account named ``name`` given ``options``
    (``my_emails``: the addresses of ``[me]``, by default :data:`ME`); raises ``ConfigError``
    as loading the config would."""
    emails = list(options.pop("my_emails", (ME,)))
    data = {"me": {"name": "Sam", "emails": emails, "timezone": "UTC"},
            "accounts": [{"name": name, "kind": kind, **options}]}
    return dict(parse(data, FOLDER / "config.toml").accounts[0].options)
