"""The caldav account's keys: presets, the addresses they give, and the refusals that keep a
password from travelling unencrypted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from connectors.base import ConnectorEnv, open_account, options_model
from connectors.caldav.options import CalDavOptions, app_password_hint, is_loopback
from daemon.core.errors import ConnectorError

BASE = {"name": "cal", "kind": "caldav", "username": "sam@example.com",
        "password_command": "pass show mail/coffeechat"}


def options(**keys: Any) -> dict[str, Any]:
    return CalDavOptions.model_validate({**BASE, **keys}).model_dump(exclude={"name", "kind"})


def refused(**keys: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        CalDavOptions.model_validate({**BASE, **keys})
    return str(caught.value)


@pytest.mark.parametrize(("provider", "caldav", "imap"), [
    ("icloud", "https://caldav.icloud.com/", "imap.mail.me.com"),
    ("fastmail", "https://caldav.fastmail.com/", "imap.fastmail.com"),
])
def test_a_preset_gives_both_addresses(provider: str, caldav: str, imap: str) -> None:
    got = options(provider=provider)
    assert (got["caldav_url"], got["imap_host"], got["imap_port"], got["imap_tls"]) == (
        caldav, imap, 993, "implicit")


def test_nextcloud_needs_its_host_and_a_mail_server() -> None:
    assert "needs `host`" in refused(provider="nextcloud", imap_host="mail.example.org")
    assert "imap_host" in refused(provider="nextcloud", host="cloud.example.org")
    got = options(provider="nextcloud", host="cloud.example.org", imap_host="mail.example.org")
    assert got["caldav_url"] == "https://cloud.example.org/remote.php/dav"


def test_yahoo_gives_imap_and_asks_for_the_caldav_address() -> None:
    assert "caldav_url" in refused(provider="yahoo")
    got = options(provider="yahoo", caldav_url="https://caldav.example.org/dav/")
    assert got["imap_host"] == "imap.mail.yahoo.com"


def test_keys_set_win_over_the_preset() -> None:
    got = options(provider="icloud", imap_host="imap.example.org", imap_port=143,
                  caldav_url="https://dav.example.org/")
    assert (got["caldav_url"], got["imap_host"], got["imap_port"], got["imap_tls"]) == (
        "https://dav.example.org/", "imap.example.org", 143, "starttls")


def test_any_server_without_a_preset() -> None:
    got = options(caldav_url="https://dav.example.org/", imap_host="mail.example.org",
                  drafts_folder="Brouillons", calendars=["Work", "Personal"], ca_file="")
    assert got["imap_port"] == 993 and got["drafts_folder"] == "Brouillons"
    assert got["calendars"] == ["Work", "Personal"] and got["ca_file"] is None
    assert "imap_host" in refused(caldav_url="https://dav.example.org/")


def test_http_caldav_is_refused_except_to_this_machine() -> None:
    assert "unencrypted" in refused(caldav_url="http://dav.example.org/",
                                    imap_host="mail.example.org")
    for local in ("http://127.0.0.1:5232/", "http://localhost:8080/dav", "http://[::1]:5232/"):
        assert options(caldav_url=local, imap_host="127.0.0.1")["caldav_url"] == local
    assert "https://" in refused(caldav_url="ftp://dav.example.org/",
                                 imap_host="mail.example.org")


def test_imap_without_tls_is_refused_except_to_this_machine() -> None:
    text = refused(caldav_url="https://dav.example.org/", imap_host="mail.example.org",
                   imap_tls="none")
    assert "unencrypted" in text and "993" in text
    got = options(caldav_url="http://127.0.0.1:5232/", imap_host="127.0.0.1", imap_port=1143,
                  imap_tls="none")
    assert got["imap_tls"] == "none"
    assert options(caldav_url="https://dav.example.org/", imap_host="127.0.0.1",
                   imap_port=1143, imap_tls="starttls")["imap_tls"] == "starttls"


def test_no_key_turns_verification_off_or_holds_a_password() -> None:
    fields = set(CalDavOptions.model_fields)
    assert not fields & {"password", "verify", "insecure", "ssl_verify", "tls_verify"}
    assert "password" in refused(provider="icloud", password="hunter2")  # unknown key
    assert "password_command" in refused(provider="icloud", password_command=None)


def test_a_host_is_a_name_not_an_address() -> None:
    assert "host name" in refused(caldav_url="https://dav.example.org/",
                                  imap_host="imaps://mail.example.org/")


def test_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost",
                                        "LOCALHOST."))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "example.org", "localhost.example.org",
                                            "127.0.0.1.example.org"))


def test_the_wrong_password_hint_names_where_to_make_one() -> None:
    assert "App-Specific Passwords" in app_password_hint("icloud")
    assert "app password" in app_password_hint(None)


def test_the_kind_is_registered() -> None:
    assert options_model("caldav") is CalDavOptions


def _opened(**keys: Any) -> Any:
    env = ConnectorEnv(timezone=ZoneInfo("UTC"), clock=lambda: datetime.now(UTC),
                       data_dir=Path("/nonexistent"))
    return open_account("cal", "caldav", {**options(**keys), "my_emails": ("sam@example.com",)},
                        env)


def test_opening_runs_the_password_command_and_connects_to_nothing() -> None:
    account = _opened(caldav_url="https://dav.invalid/", imap_host="imap.invalid",
                      password_command="printf '%s\\n' secret-1", reply_detection=True)
    settings = account.drafts._session.settings
    assert (settings.host, settings.port, settings.tls, settings.username) == (
        "imap.invalid", 993, "implicit", "sam@example.com")
    assert account.drafts._session._password() == "secret-1"
    assert account.drafts._session._client is None and account.mail is not None
    with pytest.raises(ConnectorError, match="password_command failed"):
        _opened(caldav_url="https://dav.invalid/", imap_host="imap.invalid",
                password_command="false")


def test_the_imap_server_may_have_a_login_of_its_own() -> None:
    account = _opened(provider="nextcloud", host="cloud.invalid", imap_host="mail.invalid",
                      password_command="echo cloud-pass", imap_username="sam",
                      imap_password_command="echo mail-pass")
    session = account.drafts._session
    assert session.settings.username == "sam" and session._password() == "mail-pass"
    assert session.settings.keys == ("imap_username", "imap_password_command")
    assert account.mail is None
