"""The configuration file: TOML in, validated frozen settings out.

Every problem is reported at once, each with its key (``accounts[0].calendar: ...``), as a
:class:`~daemon.core.errors.ConfigError`. Relative paths are relative to the config file's folder.
The keys documented in docs/configuration.md are a contract: add, never rename.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import platformdirs

from daemon.core.errors import ConfigError
from daemon.core.model import Cadence, Me, TaggingRules
from daemon.core.text import clean_line
from daemon.core.timing import ANY_TIME, WorkingHours, parse_days, parse_working_hours, zone_named
from daemon.settings import configcache
from daemon.settings.paths import APP, data_dir, system_timezone_name


@dataclass(frozen=True)
class AccountSettings:
    """One ``[[accounts]]`` entry: its name, kind, and the options its connector reads
    (paths already absolute)."""

    name: str
    kind: str
    options: Mapping[str, Any]
    """Every key of the entry but name and kind, validated by the kind's options model with
    every default filled in, plus ``my_emails``: the user's addresses from ``[me]``
    (lower-case), which tell a mail history which messages the user sent."""
    tagging_keys: tuple[str, ...] = ()
    """The options that decide which events are tagged (``AccountOptions.tagging_keys``)."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration."""

    path: Path
    me: Me
    timezone: ZoneInfo
    tagging: TaggingRules
    cadence: Cadence
    state_path: Path
    templates_dir: Path | None
    poll_minutes: float
    accounts: tuple[AccountSettings, ...]
    announce_max: int = 50
    """``coffeechat announce`` writes at most this many notes per run."""


def load(path: Path) -> Settings:
    """Read and validate the config at ``path`` (validation is skipped when
    :mod:`daemon.settings.configcache` holds this file's validated data).

    Raises ``ConfigError`` listing every problem (missing file, bad TOML, each invalid key).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), [
            "no configuration file here: run `coffeechat init` to write a starter, "
            "or pass --config PATH"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    valid = configcache.lookup(path, raw)
    if valid is None:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
        valid = _validate(data, path)
        configcache.store(path, raw, valid)
    return _settings(valid, path)


def parse(data: Mapping[str, Any], path: Path) -> Settings:
    """Validate already-parsed TOML ``data`` read from ``path``; raises ``ConfigError``."""
    return _settings(_validate(data, path), path)


def _validate(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    from daemon.settings import schema  # pydantic: only when the config has to be validated

    return schema.validate(data, str(path))


def _settings(valid: Mapping[str, Any], path: Path) -> Settings:
    base = path.parent
    me = valid["me"]
    zone = zone_named(me["timezone"] or system_timezone_name())
    state = valid["state"]["path"]
    templates = valid["templates"]["path"]
    emails = tuple(me["emails"])
    return Settings(
        path=path,
        me=Me(name=clean_line(me["name"]), emails=emails, signature=me["signature"].strip()),
        timezone=zone,
        tagging=TaggingRules(keywords=tuple(valid["tagging"]["keywords"]),
                             categories=tuple(valid["tagging"]["categories"])),
        cadence=_cadence(valid["cadence"]),
        # resolved, links included, as a relative path always was: a symlinked state file is
        # written through to its target, and its locks, backups and ledger sit beside it
        state_path=(_resolve(base, state) if state else data_dir() / "state.json").resolve(),
        templates_dir=(_resolve(base, templates) if templates
                       else platformdirs.user_config_path(APP) / "templates"),
        poll_minutes=valid["service"]["poll_minutes"],
        announce_max=valid["announce"]["max_drafts"],
        accounts=tuple(_account(entry, base, emails) for entry in valid["accounts"]),
    )


def _cadence(section: Mapping[str, Any]) -> Cadence:
    hours = None
    if section["working_hours"].strip().lower() != ANY_TIME:
        start, end = parse_working_hours(section["working_hours"])
        hours = WorkingHours(days=parse_days(section["working_days"]), start=start, end=end)
    rest = {k: v for k, v in section.items() if k not in ("working_days", "working_hours")}
    return Cadence(**rest, working_hours=hours)


def _account(entry: Mapping[str, Any], base: Path, emails: tuple[str, ...]) -> AccountSettings:
    options = dict(entry["options"])
    for key in entry["path_keys"]:
        if options.get(key) is not None:
            options[key] = str(_resolve(base, options[key]))
    return AccountSettings(name=entry["name"], kind=entry["kind"],
                           options={**options, "my_emails": emails},
                           tagging_keys=tuple(entry["tagging_keys"]))


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()
