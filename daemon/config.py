"""The configuration file: TOML in, validated frozen settings out.

Every problem is reported at once, each with its key (``accounts[0].calendar: ...``), as a
:class:`~daemon.errors.ConfigError`. Relative paths are relative to the config file's folder.
The keys documented in the README under "Configuration" are a contract: add, never rename.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from daemon.errors import ConfigError
from daemon.model import DEFAULT_KEYWORDS, Cadence, Me, TaggingRules
from daemon.paths import APP, data_dir, system_timezone_name
from daemon.text import clean_address, clean_line
from daemon.timing import WorkingHours, parse_days, parse_working_hours


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MeModel(_Section):
    name: str = Field(min_length=1)
    emails: list[str] = Field(min_length=1)
    timezone: str | None = None
    signature: str = ""

    @field_validator("emails")
    @classmethod
    def _valid_emails(cls, value: list[str]) -> list[str]:
        cleaned = []
        for address in value:
            good = clean_address(address)
            if good is None:
                raise ValueError(f"{address!r} is not an email address like name@example.com")
            cleaned.append(good)
        return cleaned

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value


class _TaggingModel(_Section):
    keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    categories: list[str] = Field(default_factory=lambda: ["Informational Interview"])

    @field_validator("keywords")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("an empty keyword would tag every meeting; remove it")
        return value


class _CadenceModel(_Section):
    # A confirmation is never made within 12 hours of the start, and a thank-you never more
    # than 7 days after the end: values outside these bounds would make them impossible.
    confirmation_days_before: int = Field(default=2, ge=1, le=60)
    thank_you_hours_after: int = Field(default=1, ge=0, le=96)
    follow_up_days_after: int = Field(default=30, ge=1, le=365)
    catch_up_every_days: int = Field(default=90, ge=7, le=3650)
    max_new_catch_ups_per_day: int = Field(default=5, ge=1, le=1000)
    working_days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    working_hours: str = "09:00-17:00"
    max_new_drafts_per_day: int = Field(default=25, ge=0, le=1000)
    prep_sheet: bool = False

    @field_validator("working_days")
    @classmethod
    def _valid_days(cls, value: list[str]) -> list[str]:
        parse_days(value)
        return value

    @field_validator("working_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        if value.strip().lower() != ANY_TIME:
            parse_working_hours(value)
        return value

    def cadence(self) -> Cadence:
        """The validated section as the planner's :class:`Cadence`."""
        hours = None
        if self.working_hours.strip().lower() != ANY_TIME:
            start, end = parse_working_hours(self.working_hours)
            hours = WorkingHours(days=parse_days(self.working_days), start=start, end=end)
        return Cadence(**self.model_dump(exclude={"working_days", "working_hours"}),
                       working_hours=hours)


ANY_TIME = "any"
"""``working_hours = "any"``: drafts fall due at any hour of any day."""


class _StateModel(_Section):
    path: str | None = None


class _TemplatesModel(_Section):
    path: str | None = None


class _AnnounceModel(_Section):
    max_drafts: int = Field(default=50, ge=1, le=1000)


class _ServiceModel(_Section):
    poll_minutes: float = Field(default=5, gt=0, le=1440)


class _AccountModel(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    history_days: int = Field(default=400, ge=1, le=3650)
    reply_detection: bool = False
    """Read the user's mail (sent and received) to learn who wrote to whom."""

    def options(self, base: Path) -> dict[str, Any]:
        """What the connector reads: every key but name and kind, paths made absolute."""
        return self.model_dump(exclude={"name", "kind"})


class _LocalAccountModel(_AccountModel):
    kind: Literal["local"]
    calendar: str
    drafts: str
    horizon_days: int = Field(default=365, ge=1, le=3650)
    full_check_minutes: int = Field(default=60, ge=0, le=10080)
    """Compare every file at least this often, even when the folder shows no change (for tools
    that rewrite files in place); 0 compares them every cycle."""
    max_file_mb: int = Field(default=10, ge=1, le=4096)
    """A larger calendar file is not read (its meetings are kept as they were)."""
    mail: str | None = None
    """A Maildir folder, or a folder of Maildir folders (INBOX, Sent, ...), read for
    ``reply_detection``."""

    @model_validator(mode="after")
    def _mail_to_read(self) -> _LocalAccountModel:
        if self.reply_detection and self.mail is None:
            raise ValueError("reply_detection needs `mail`: the Maildir folder (or the folder of "
                             "Maildir folders, such as ~/Mail) where your sent and received "
                             "mail is kept")
        return self

    def options(self, base: Path) -> dict[str, Any]:
        mail = None if self.mail is None else str(_resolve(base, self.mail))
        return {**super().options(base), "calendar": str(_resolve(base, self.calendar)),
                "drafts": str(_resolve(base, self.drafts)), "mail": mail}


class _RemoteAccountModel(_AccountModel):
    token_command: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)

    @staticmethod
    def _http_root(value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s):// address")
        return value


class _GoogleAccountModel(_RemoteAccountModel):
    kind: Literal["google"]
    calendar_id: str = "primary"
    client_secrets: str | None = None
    api_root: str = "https://www.googleapis.com/"
    color_id: str | None = None

    @field_validator("api_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return cls._http_root(value if value.endswith("/") else value + "/")

    @model_validator(mode="after")
    def _needs_credentials(self) -> _GoogleAccountModel:
        if self.client_secrets is None and self.token_command is None:
            raise ValueError("set client_secrets (the OAuth client JSON from Google Cloud) "
                             "or token_command")
        return self

    def options(self, base: Path) -> dict[str, Any]:
        secrets = self.client_secrets
        return {**super().options(base),
                "client_secrets": None if secrets is None else str(_resolve(base, secrets))}


class _OutlookAccountModel(_RemoteAccountModel):
    kind: Literal["outlook"]
    client_id: str | None = None
    authority: str = "https://login.microsoftonline.com/common"
    graph_root: str = "https://graph.microsoft.com/v1.0"
    horizon_days: int = Field(default=365, ge=1, le=3650)

    @field_validator("authority", "graph_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return cls._http_root(value.rstrip("/"))

    @model_validator(mode="after")
    def _needs_credentials(self) -> _OutlookAccountModel:
        if self.client_id is None and self.token_command is None:
            raise ValueError("set client_id (the app registration's id) or token_command")
        return self


_AnyAccount = Annotated[_LocalAccountModel | _GoogleAccountModel | _OutlookAccountModel,
                        Field(discriminator="kind")]
KINDS = ("local", "google", "outlook")


class _ConfigModel(_Section):
    me: _MeModel
    tagging: _TaggingModel = Field(default_factory=_TaggingModel)
    cadence: _CadenceModel = Field(default_factory=_CadenceModel)
    state: _StateModel = Field(default_factory=_StateModel)
    templates: _TemplatesModel = Field(default_factory=_TemplatesModel)
    service: _ServiceModel = Field(default_factory=_ServiceModel)
    announce: _AnnounceModel = Field(default_factory=_AnnounceModel)
    accounts: list[_AnyAccount] = Field(min_length=1)


TAGGING_KEYS = ("color_id",)
"""Account keys that decide which of the account's events are tagged (a Google account's
``color_id``): changing one reads that calendar again in full, as a change of ``[tagging]``
does."""


@dataclass(frozen=True)
class AccountSettings:
    """One ``[[accounts]]`` entry: its name, kind, and the options its connector reads
    (paths already absolute)."""

    name: str
    kind: str
    options: Mapping[str, Any]
    """Every key of the entry but name and kind, plus ``my_emails``: the user's addresses
    from ``[me]`` (lower-case), which tell a mail history which messages the user sent."""


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
    """Read and validate the config at ``path``.

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
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse(data, path)


def parse(data: Mapping[str, Any], path: Path) -> Settings:
    """Validate already-parsed TOML ``data`` read from ``path``; raises ``ConfigError``."""
    problems = _duplicate_names(data)
    try:
        model = _ConfigModel.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()] + problems
    if problems:
        raise ConfigError(str(path), problems)
    return _settings(model, path)


def _duplicate_names(data: Mapping[str, Any]) -> list[str]:
    accounts = data.get("accounts")
    if not isinstance(accounts, list):
        return []
    names = [a.get("name") if isinstance(a, dict) else None for a in accounts]
    return [f"accounts[{i}].name: {name!r} is used twice; names must differ"
            for i, name in enumerate(names) if name is not None and name in names[:i]]


def _settings(model: _ConfigModel, path: Path) -> Settings:
    base = path.parent
    zone = _zone(model.me.timezone or system_timezone_name())
    state = model.state.path
    templates = model.templates.path
    return Settings(
        path=path,
        me=Me(name=clean_line(model.me.name), emails=tuple(model.me.emails),
              signature=model.me.signature.strip()),
        timezone=zone,
        tagging=TaggingRules(keywords=tuple(model.tagging.keywords),
                             categories=tuple(model.tagging.categories)),
        cadence=model.cadence.cadence(),
        # resolved, links included, as a relative path always was: a symlinked state file is
        # written through to its target, and its locks, backups and ledger sit beside it
        state_path=(_resolve(base, state) if state else data_dir() / "state.json").resolve(),
        templates_dir=(_resolve(base, templates) if templates
                       else platformdirs.user_config_path(APP) / "templates"),
        poll_minutes=model.service.poll_minutes,
        announce_max=model.announce.max_drafts,
        accounts=tuple(AccountSettings(name=a.name, kind=a.kind,
                                       options={**a.options(base),
                                                "my_emails": tuple(model.me.emails)})
                       for a in model.accounts),
    )


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'America/Chicago'") from None


def _describe(err: Any) -> str:
    key = _key(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key (check its spelling; `coffeechat init` shows every key)"
    if kind == "missing":
        return f"{key}: missing; this key is required"
    if kind == "union_tag_invalid":
        known = ", ".join(repr(k) for k in KINDS)
        return f"{key}.kind: unknown account kind {err['input'].get('kind')!r}; use {known}"
    if kind == "union_tag_not_found":
        return f"{key}.kind: missing; say which kind of account this is ({', '.join(KINDS)})"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}"


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for index, part in enumerate(loc):
        if part in KINDS and index > 0 and isinstance(loc[index - 1], int):
            continue  # the union's tag, not a key the user wrote
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
