"""The configuration's schema: pydantic models of the core's sections, and each account
validated through its connector's own options model (``connectors.base.OPTIONS``).

:func:`validate` turns parsed TOML into plain, complete data (every default filled in), or
raises ``ConfigError`` listing every problem at once, each with its key
(``accounts[0].calendar: ...``). It is the only importer of pydantic in the core, and it runs
only when the config file (or coffeechat's code) changed since the last validation: see
``daemon.settings.configcache``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator

from connectors.base import OPTIONS, options_model
from connectors.options import Section
from daemon.core.errors import ConfigError
from daemon.core.model import DEFAULT_KEYWORDS
from daemon.core.text import clean_address
from daemon.core.timing import ANY_TIME, parse_days, parse_working_hours, zone_named


class _MeModel(Section):
    """You, the sender of every draft."""

    name: str = Field(min_length=1)
    """Your name, as the drafts sign and address you."""
    emails: list[str] = Field(min_length=1)
    """Addresses that are you: never a contact. The first is the drafts' sender."""
    timezone: str | None = None
    """An IANA zone name such as ``America/Chicago``, for every time shown and every working
    hour; by default the system's zone."""
    signature: str = ""
    """Your signature (several lines allowed); by default your name."""

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
            zone_named(value)
        return value


class _TaggingModel(Section):
    """Which meetings are informational interviews. Changing it reads every calendar again in
    full, once; nothing is drafted twice."""

    keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    """Words that tag a meeting when its title or description contains one, in any case."""
    categories: list[str] = Field(default_factory=lambda: ["Informational Interview"])
    """Categories (Outlook's colour categories) that tag a meeting carrying one."""

    @field_validator("keywords")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("an empty keyword would tag every meeting; remove it")
        return value


class _CadenceModel(Section):
    """When each draft is due (see the rules in docs/rules.md)."""

    # A confirmation is never made within 12 hours of the start, and a thank-you never more
    # than 7 days after the end: values outside these bounds would make them impossible.
    confirmation_days_before: int = Field(default=2, ge=1, le=60)
    """Days before the meeting, at its local time, that the confirmation is due."""
    thank_you_hours_after: int = Field(default=1, ge=0, le=96)
    """Hours after the meeting ends that the thank-you is due."""
    follow_up_days_after: int = Field(default=30, ge=1, le=365)
    """Days after the meeting ends that the follow-up is due."""
    catch_up_every_days: int = Field(default=90, ge=7, le=3650)
    """Days from the later of the last meeting's follow-up time and the last catch-up to the
    next catch-up."""
    max_new_catch_ups_per_day: int = Field(default=5, ge=1, le=1000)
    """At most this many overdue catch-ups a day, so a first run over years of history
    spreads them out."""
    working_days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    """Days on which confirmations, follow-ups and catch-ups are written: short or full names,
    or a range such as ``"mon-fri"``."""
    working_hours: str = "09:00-17:00"
    """Hours of a working day, in your time zone, in which they are written; ``"any"`` writes
    them at any hour of any day."""
    max_new_drafts_per_day: int = Field(default=25, ge=0, le=1000)
    """At most this many new drafts a day, all kinds together, the most time-critical first;
    0 means no limit."""
    prep_sheet: bool = False
    """Write a prep note to yourself the day before each meeting."""

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


class _StateModel(Section):
    """Where coffeechat keeps what it knows."""

    path: str | None = None
    """The state file; by default ``state.json`` in the XDG data folder
    (``~/.local/share/coffeechat/``)."""


class _TemplatesModel(Section):
    """Your own templates."""

    path: str | None = None
    """A folder whose templates replace the defaults of the same name; by default
    ``templates/`` in the XDG config folder (``~/.config/coffeechat/templates/``)."""


class _AnnounceModel(Section):
    """``coffeechat announce``."""

    max_drafts: int = Field(default=50, ge=1, le=1000)
    """At most this many notes a run (``--limit`` overrides it)."""


class _ServiceModel(Section):
    """``coffeechat run``, as a service or not."""

    poll_minutes: float = Field(default=5, gt=0, le=1440)
    """Minutes between cycles (give or take 10%)."""


class _ConfigModel(Section):
    me: _MeModel
    tagging: _TaggingModel = Field(default_factory=_TaggingModel)
    cadence: _CadenceModel = Field(default_factory=_CadenceModel)
    state: _StateModel = Field(default_factory=_StateModel)
    templates: _TemplatesModel = Field(default_factory=_TemplatesModel)
    service: _ServiceModel = Field(default_factory=_ServiceModel)
    announce: _AnnounceModel = Field(default_factory=_AnnounceModel)
    accounts: list[dict[str, Any]] = Field(min_length=1)
    """Each entry is validated on its own, by its kind's options model."""


def validate(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Validate parsed TOML ``data`` read from ``source`` (the file's name, for the error).

    Returns the sections as plain data with every default filled in. Each of ``accounts`` is
    ``{"name", "kind", "options", "path_keys", "tagging_keys"}``: ``options`` holds every key
    of the entry but name and kind, paths not yet resolved. Raises ``ConfigError`` listing
    every problem.
    """
    problems = _duplicate_names(data)
    result: dict[str, Any] = {}
    try:
        result = _ConfigModel.model_validate(data).model_dump()
    except ValidationError as exc:
        problems = [_describe(err["loc"], err) for err in exc.errors()] + problems
    accounts = data.get("accounts")
    checked = [_account(index, entry, problems)
               for index, entry in enumerate(accounts if isinstance(accounts, list) else [])
               if isinstance(entry, dict)]
    if problems:
        raise ConfigError(source, problems)
    result["accounts"] = checked
    return result


def _account(index: int, entry: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    where = f"accounts[{index}]"
    kind = entry.get("kind")
    known = ", ".join(repr(k) for k in OPTIONS)
    if kind is None:
        problems.append(f"{where}.kind: missing; say which kind of account this is ({known})")
        return {}
    if not isinstance(kind, str) or kind not in OPTIONS:
        problems.append(f"{where}.kind: unknown account kind {kind!r}; use {known}")
        return {}
    model = options_model(kind)
    try:
        options = model.model_validate(entry).model_dump(exclude={"name", "kind"})
    except ValidationError as exc:
        problems.extend(_describe(("accounts", index, *err["loc"]), err)
                        for err in exc.errors())
        return {}
    return {"name": entry["name"], "kind": kind, "options": options,
            "path_keys": list(model.path_keys), "tagging_keys": list(model.tagging_keys)}


def _duplicate_names(data: Mapping[str, Any]) -> list[str]:
    accounts = data.get("accounts")
    if not isinstance(accounts, list):
        return []
    names = [a.get("name") if isinstance(a, dict) else None for a in accounts]
    return [f"accounts[{i}].name: {name!r} is used twice; names must differ"
            for i, name in enumerate(names) if name is not None and name in names[:i]]


_TYPE_ADVICE = {
    "bool_type": "true or false; write it without quotes",
    "int_type": "a whole number; write it without quotes",
    "float_type": "a number; write it without quotes",
    "string_type": "text; put it in double quotes",
    "list_type": 'a list; write it in brackets, like ["a", "b"]',
}
"""What to write instead, for a value of the wrong TOML type (the models are strict)."""


def _describe(loc: tuple[Any, ...], err: Any) -> str:
    key = _key(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key (check its spelling; `coffeechat init` shows every key)"
    if kind == "missing":
        return f"{key}: missing; this key is required"
    if kind in _TYPE_ADVICE:
        return f"{key}: {json.dumps(err['input'], default=str)} is not {_TYPE_ADVICE[kind]}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}"


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"

