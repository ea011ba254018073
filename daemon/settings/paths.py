"""Where coffeechat keeps things (XDG folders), and the system's time zone.

Kept apart from :mod:`daemon.settings.config` so that ``coffeechat --help`` does not import
pydantic.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import platformdirs

APP = "coffeechat"
ENV_VAR = "COFFEECHAT_CONFIG"


def default_config_path() -> Path:
    """``$COFFEECHAT_CONFIG`` if set, else ``config.toml`` in the XDG config folder."""
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return platformdirs.user_config_path(APP) / "config.toml"


def data_dir() -> Path:
    """The XDG data folder where state and tokens live by default."""
    return platformdirs.user_data_path(APP)


def cache_dir() -> Path:
    """The XDG cache folder: what can be deleted at any time and rebuilt."""
    return platformdirs.user_cache_path(APP)


def system_timezone_name() -> str:
    """The system's IANA zone name, or ``UTC`` when it cannot be told."""
    import tzlocal

    try:
        return tzlocal.get_localzone_name() or "UTC"
    except (ZoneInfoNotFoundError, LookupError, ValueError):
        return "UTC"
