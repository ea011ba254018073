"""The validated-config cache: a hit gives exactly what validation gives, and anything that
could change the result (the file's bytes, coffeechat's code, a damaged cache) validates again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from daemon.core.errors import ConfigError
from daemon.settings import config, configcache
from daemon.settings.paths import cache_dir

GOOD = """
[me]
name = "Sam Rivera"
emails = ["Sam@Example.com"]
timezone = "America/Chicago"
[cadence]
working_hours = "any"
[[accounts]]
name = "personal"
kind = "local"
calendar = "~/calendar/"
drafts = "Maildir/Drafts"
[[accounts]]
name = "work"
kind = "google"
token_command = "pass show google"
color_id = "5"
"""


def write(folder: Path, text: str = GOOD) -> Path:
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    return path


def cache_file() -> Path:
    return cache_dir() / "config-cache.json"


def test_a_cached_load_equals_a_validated_one(tmp_path: Path) -> None:
    path = write(tmp_path)
    first = config.load(path)
    assert cache_file().exists()
    assert oct(cache_file().stat().st_mode & 0o777) == "0o600"
    second = config.load(path)
    assert second == first == config.parse(tomllib.loads(GOOD), path)
    assert second.accounts[1].tagging_keys == ("color_id",)
    assert second.accounts[0].options["calendar"] == str(Path("~/calendar").expanduser())
    assert second.accounts[0].options["drafts"] == str(tmp_path / "Maildir" / "Drafts")


def test_a_hit_skips_validation_and_pydantic(tmp_path: Path) -> None:
    path = write(tmp_path)
    config.load(path)
    code = ("import sys; from pathlib import Path; from daemon.settings import config; "
            f"s = config.load(Path({str(path)!r})); "
            "print(s.accounts[0].name, 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=os.environ.copy())
    assert out.stdout.split() == ["personal", "False"]


def test_a_changed_file_is_validated_again(tmp_path: Path) -> None:
    path = write(tmp_path)
    config.load(path)
    path.write_text(GOOD.replace('color_id = "5"', 'color_id = "5"\nbogus = 1'), "utf-8")
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.bogus: unknown key"):
        config.load(path)


def test_changed_code_is_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path)
    config.load(path)
    raw = path.read_bytes()
    assert configcache.lookup(path, raw) is not None
    monkeypatch.setattr(configcache, "_code_fingerprint", lambda: b"other code")
    assert configcache.lookup(path, raw) is None


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"format": 0, "entries": {}}',
                                    b'{"format": 1, "entries": []}', b"[1, 2]"])
def test_a_damaged_cache_only_means_validating_again(tmp_path: Path, damage: bytes) -> None:
    path = write(tmp_path)
    good = config.load(path)
    cache_file().write_bytes(damage)
    assert config.load(path) == good
    assert configcache.lookup(path, path.read_bytes()) is not None


def test_an_entry_for_another_file_is_not_used(tmp_path: Path) -> None:
    one = write(tmp_path)
    config.load(one)
    other = tmp_path / "other"
    other.mkdir()
    moved = write(other)
    assert config.load(moved).accounts[0].options["drafts"] == str(other / "Maildir" / "Drafts")


def test_the_cache_keeps_the_newest_entries(tmp_path: Path) -> None:
    for index in range(configcache.MAX_ENTRIES + 3):
        folder = tmp_path / str(index)
        folder.mkdir()
        config.load(write(folder))
    entries = json.loads(cache_file().read_bytes())["entries"]
    assert len(entries) == configcache.MAX_ENTRIES
    assert str(tmp_path / str(configcache.MAX_ENTRIES + 2) / "config.toml") in entries
    assert str(tmp_path / "0" / "config.toml") not in entries


def test_an_unwritable_cache_folder_does_not_stop_the_load(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert config.load(write(tmp_path)).accounts[0].name == "personal"
