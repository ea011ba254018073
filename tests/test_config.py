"""Config loading: every problem at once with its key, paths relative to the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from daemon.app.starter import starter_config
from daemon.core.errors import ConfigError
from daemon.settings.config import load
from daemon.settings.paths import default_config_path

GOOD = """
[me]
name = "Sam Rivera"
emails = ["Sam@Example.com"]
timezone = "America/Chicago"
[[accounts]]
name = "personal"
kind = "local"
calendar = "calendar/"
drafts = "Maildir/Drafts"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    return path


def test_good_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    settings = load(write(tmp_path, GOOD))
    assert settings.me.emails == ("sam@example.com",)
    assert str(settings.timezone) == "America/Chicago"
    options = settings.accounts[0].options
    assert options["calendar"] == str(tmp_path / "calendar")
    assert options["drafts"] == str(tmp_path / "Maildir" / "Drafts")
    assert options["full_check_minutes"] == 60
    assert settings.cadence.follow_up_days_after == 30
    assert settings.cadence.max_new_catch_ups_per_day == 5


def test_three_mistakes_are_all_reported_with_their_keys(tmp_path: Path) -> None:
    text = GOOD.replace('timezone = "America/Chicago"', 'timezone = "America/Chicagoo"')
    text = text.replace('kind = "local"', 'kind = "local"\ncalender = "x"')
    text += "[cadence]\nfollow_up_days_after = -3\n"
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert any(p.startswith("me.timezone:") and "IANA" in p for p in problems)
    assert any(p.startswith("accounts[0].calender:") and "unknown key" in p for p in problems)
    assert any(p.startswith("cadence.follow_up_days_after:") for p in problems)
    assert "3 problems" in str(caught.value)


@pytest.mark.parametrize("value", ["-1", "10081", '"hourly"'])
def test_a_bad_full_check_interval_is_reported(tmp_path: Path, value: str) -> None:
    text = GOOD + f"full_check_minutes = {value}\n"
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "accounts[0].full_check_minutes"]


def test_duplicate_account_names_are_reported(tmp_path: Path) -> None:
    text = GOOD + GOOD[GOOD.index("[[accounts]]"):]
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.problems == [
        "accounts[1].name: 'personal' is used twice; names must differ"]


def test_bad_toml_and_missing_file_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="coffeechat init"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[me\nname = 1"))


def test_missing_sections_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "[me]\nname = 'x'\n"))
    assert sorted(caught.value.problems) == [
        "accounts: missing; this key is required",
        "me.emails: missing; this key is required"]


def test_config_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("COFFEECHAT_CONFIG", str(tmp_path / "c.toml"))
    assert default_config_path() == tmp_path / "c.toml"
    monkeypatch.delenv("COFFEECHAT_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "coffeechat" / "config.toml"


def test_starter_config_is_valid_and_documents_every_section(tmp_path: Path) -> None:
    text = starter_config(name='Ana "Q" Li', email="ana@example.com", timezone="Europe/Berlin",
                          calendar="cal/", drafts="Mail/Drafts")
    for section in ("[me]", "[tagging]", "[cadence]", "[state]", "[templates]", "[service]",
                    "[announce]", "[[accounts]]"):
        assert section in text
    settings = load(write(tmp_path, text))
    assert settings.me.name == 'Ana "Q" Li'
    assert tomllib.loads(text)["cadence"]["catch_up_every_days"] == 90
