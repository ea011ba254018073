"""Sign-in and tokens for Outlook accounts.

msal is replaced by a small stand-in with the same methods, handed in through the ``factory``
argument (constructor injection): the logic around msal (when the app is built, what counts as
"sign in again", when and how the cache is written) is what is tested here, quickly and for
every branch. tests/test_outlook_msal.py runs the real msal against a fake sign-in service.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msal
import pytest

from connectors.base import AuthPrompt, ConnectorEnv, collect, open_account, token_file
from connectors.outlook.auth import (
    CACHE_SUFFIX,
    SCOPES,
    CommandTokens,
    MsalTokens,
    authorize,
    scopes_for,
    token_source,
)
from connectors.outlook.history import GraphHistory
from daemon.core.errors import AuthError, ConfigError, ConnectorError, TransientError
from daemon.core.model import JSON
from tests.accounts import checked

OPTIONS = {"client_id": "00000000-1111-2222-3333-444444444444",
           "authority": "https://login.microsoftonline.com/common",
           "graph_root": "https://graph.microsoft.com/v1.0", "timeout_seconds": 5}


class StandIn:
    """Plays msal.PublicClientApplication: scripted answers, and a record of the calls."""

    def __init__(self, cache: Any, silent: JSON | None = None,
                 accounts: list[JSON] | None = None, device: JSON | None = None) -> None:
        self.cache = cache
        self.silent = silent if silent is not None else {"access_token": "tok-1"}
        self.accounts = [{"username": "sam@example.com"}] if accounts is None else accounts
        self.device = device if device is not None else {
            "access_token": "tok-0", "id_token_claims": {"preferred_username": "sam@x.org"}}
        self.calls: list[tuple[str, Any]] = []

    def get_accounts(self) -> list[JSON]:
        self.calls.append(("get_accounts", None))
        return self.accounts

    def acquire_token_silent_with_error(self, scopes: list[str], account: JSON,
                                        force_refresh: bool = False) -> JSON | None:
        self.calls.append(("silent", (tuple(scopes), force_refresh)))
        if self.silent.get("access_token"):
            self.cache.has_state_changed = True  # as after a refresh
        return self.silent or None

    def initiate_device_flow(self, scopes: list[str]) -> JSON:
        self.calls.append(("initiate", tuple(scopes)))
        return {"user_code": "ABCD-EFGH", "message": "Open https://microsoft.com/devicelogin "
                "and enter ABCD-EFGH"}

    def acquire_token_by_device_flow(self, flow: JSON) -> JSON:
        self.calls.append(("device", flow["user_code"]))
        if "access_token" in self.device:
            self.cache.has_state_changed = True
        return self.device


class Factory:
    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.built: list[StandIn] = []
        self.fail_with: Exception | None = None

    def __call__(self, cache: Any) -> StandIn:
        if self.fail_with is not None:
            raise self.fail_with
        app = StandIn(cache, **self.answers)
        self.built.append(app)
        return app


def env_for(tmp_path: Path) -> ConnectorEnv:
    from datetime import UTC, datetime
    return ConnectorEnv(timezone=ZoneInfo("UTC"), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
                        data_dir=tmp_path / "data")


def signed_in(tmp_path: Path) -> Path:
    path = token_file(env_for(tmp_path), "work", CACHE_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(msal.SerializableTokenCache().serialize() or "{}")
    return path


def tokens(tmp_path: Path, factory: Factory) -> MsalTokens:
    return MsalTokens("work", OPTIONS["client_id"], OPTIONS["authority"],  # type: ignore[arg-type]
                      token_file(env_for(tmp_path), "work", CACHE_SUFFIX), factory=factory,
                      shared={})


def test_authorize_runs_the_device_flow_and_saves_a_private_cache(tmp_path: Path) -> None:
    factory = Factory()
    shown: list[str] = []
    said = authorize("work", OPTIONS, env_for(tmp_path), AuthPrompt(echo=shown.append,
                                                                    open_browser=False),
                     factory=factory)
    app = factory.built[0]
    assert app.calls[0] == ("initiate", SCOPES)
    assert set(SCOPES) == {"Calendars.Read", "Mail.ReadWrite"}
    assert shown == ["Open https://microsoft.com/devicelogin and enter ABCD-EFGH"]
    path = token_file(env_for(tmp_path), "work", CACHE_SUFFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "sam@x.org" in said and str(path) in said


def test_a_declined_sign_in_is_an_auth_error(tmp_path: Path) -> None:
    factory = Factory(device={"error": "authorization_declined",
                              "error_description": "The user declined."})
    with pytest.raises(AuthError, match="coffeechat auth outlook --account work"):
        authorize("work", OPTIONS, env_for(tmp_path), AuthPrompt(echo=print),
                  factory=factory)
    assert not token_file(env_for(tmp_path), "work", CACHE_SUFFIX).exists()


def test_authorize_needs_a_client_id(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="client_id"):
        authorize("work", {"token_command": "x"}, env_for(tmp_path), AuthPrompt(echo=print),
                  factory=Factory())


def test_not_signed_in_names_the_command_without_building_msal(tmp_path: Path) -> None:
    factory = Factory()
    with pytest.raises(AuthError, match="coffeechat auth outlook --account work"):
        tokens(tmp_path, factory).token()
    assert factory.built == []


def test_a_silent_token_is_returned_and_the_changed_cache_saved(tmp_path: Path) -> None:
    path = signed_in(tmp_path)
    path.chmod(0o644)
    factory = Factory()
    source = tokens(tmp_path, factory)
    assert source.token() == "tok-1"
    assert factory.built[0].calls[-1] == ("silent", (SCOPES, False))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "rewritten privately"
    assert source.token(fresh=True) == "tok-1"
    assert factory.built[0].calls[-1] == ("silent", (SCOPES, True))
    assert len(factory.built) == 1, "msal is built once and kept"


@pytest.mark.parametrize(("answer", "accounts", "error"), [
    ({}, None, AuthError),  # msal's None
    ({"error": "invalid_grant", "error_description": "AADSTS70000: revoked"}, None, AuthError),
    ({"error": "interaction_required"}, None, AuthError),
    ({"access_token": "x"}, [], AuthError),
    ({"error": "temporarily_unavailable"}, None, TransientError),
])
def test_silent_failures(tmp_path: Path, answer: JSON, accounts: list[JSON] | None,
                         error: type[Exception]) -> None:
    signed_in(tmp_path)
    factory = Factory(silent=answer, accounts=accounts)
    with pytest.raises(error) as caught:
        tokens(tmp_path, factory).token()
    if error is AuthError:
        assert "coffeechat auth outlook --account work" in str(caught.value)


def test_no_network_at_start_up_is_transient_and_retried_later(tmp_path: Path) -> None:
    signed_in(tmp_path)
    factory = Factory()
    factory.fail_with = TransientError("cannot reach the Microsoft sign-in service")
    source = tokens(tmp_path, factory)
    with pytest.raises(TransientError):
        source.token()
    factory.fail_with = None
    assert source.token() == "tok-1"


def test_token_command_wins_over_msal(tmp_path: Path) -> None:
    source = token_source("work", {**OPTIONS, "token_command": "print-token"},
                          env_for(tmp_path))
    assert isinstance(source, CommandTokens)
    runs: list[str] = []

    def runner(command: str, account: str) -> str:
        runs.append(command)
        return f"t{len(runs)}"

    command = CommandTokens("work", "print-token", runner)
    assert command.token() == "t1" and command.token() == "t1"
    assert command.token(fresh=True) == "t2"
    assert isinstance(token_source("work", OPTIONS, env_for(tmp_path)), MsalTokens)


def test_opening_an_account_contacts_nothing(tmp_path: Path) -> None:
    account = open_account("work", "outlook", checked("outlook", "work", **OPTIONS),
                           env_for(tmp_path))
    assert account.name == "work"
    with pytest.raises(AuthError, match="coffeechat auth outlook --account work"):
        collect(account.calendar.changes(None))
    with pytest.raises(ConfigError, match="graph_root"):
        checked("outlook", "work", **{**OPTIONS, "graph_root": "ftp://x"})


READING = {**OPTIONS, "reply_detection": True}


def test_reply_detection_adds_mail_read_and_nothing_that_sends() -> None:
    assert scopes_for(OPTIONS) == SCOPES
    assert scopes_for({**OPTIONS, "reply_detection": False}) == SCOPES
    assert scopes_for(READING) == ("Calendars.Read", "Mail.ReadWrite", "Mail.Read")
    assert not any("send" in scope.lower() for scope in scopes_for(READING))


def test_signing_in_with_reply_detection_says_what_mail_is_read_for(tmp_path: Path) -> None:
    factory = Factory()
    shown: list[str] = []
    said = authorize("work", READING, env_for(tmp_path), AuthPrompt(echo=shown.append),
                     factory=factory)
    assert factory.built[0].calls[0] == ("initiate", scopes_for(READING))
    notice, instructions = shown
    assert "Reply detection is on" in notice and "Mail.Read" in notice
    assert "never changes, moves or sends" in notice
    assert "devicelogin" in instructions
    assert "Calendars.Read, Mail.ReadWrite and Mail.Read, never Mail.Send" in said


def test_signing_in_without_reply_detection_says_nothing_of_reading_mail(
        tmp_path: Path) -> None:
    shown: list[str] = []
    authorize("work", OPTIONS, env_for(tmp_path), AuthPrompt(echo=shown.append),
              factory=Factory())
    assert len(shown) == 1 and "Reply detection" not in shown[0]


def test_the_daemon_asks_for_the_scopes_of_the_account(tmp_path: Path) -> None:
    signed_in(tmp_path)
    factory = Factory()
    source = token_source("work", READING, env_for(tmp_path), factory=factory)
    assert source.token() == "tok-1"
    assert factory.built[0].calls[-1] == ("silent", (scopes_for(READING), False))


def test_an_account_reads_mail_only_with_reply_detection(tmp_path: Path) -> None:
    assert open_account("work", "outlook", checked("outlook", "work", **OPTIONS),
                        env_for(tmp_path)).mail is None
    account = open_account("work", "outlook", checked("outlook", "work", **READING),
                           env_for(tmp_path))
    assert isinstance(account.mail, GraphHistory)
