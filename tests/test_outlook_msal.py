"""Outlook sign-in and token refresh with the REAL msal against a fake identity platform.

``msal.PublicClientApplication`` is built by the connector's own :func:`msal_factory`, with
msal's ``http_client`` argument set to a :class:`~tests.fakes.entra.LoopbackSession`: the
authority stays ``https://login.microsoftonline.com/...`` (the production code path) while
every request goes to :class:`~tests.fakes.entra.FakeEntra` on 127.0.0.1, and any other
address is refused. Nothing in msal is patched.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import AuthPrompt, ConnectorEnv, token_file
from connectors.outlook.auth import CACHE_SUFFIX, MsalTokens, authorize, msal_factory
from daemon.core.errors import AuthError, TransientError
from tests.fakes.entra import (
    DEVICE_GRANT,
    FakeEntra,
    Fault,
    LoopbackSession,
    OffLoopback,
    running,
)

CLIENT_ID = "3c9f2e61-5d1a-4b7e-9c0f-00000000c0ff"
ACCOUNT = "work"
COMMAND = "coffeechat auth outlook --account work"
STALE = 120
"""An access-token lifetime under msal's five-minute margin: stale as soon as it is issued."""


@pytest.fixture
def fake() -> Iterator[FakeEntra]:
    with running() as server:
        yield server
        asked = server.scopes_requested()
        assert not any("mail.send" in scope.lower() for scope in asked), asked


def env_for(tmp_path: Path) -> ConnectorEnv:
    return ConnectorEnv(timezone=ZoneInfo("UTC"),
                        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
                        data_dir=tmp_path / "data")


def cache_path(env: ConnectorEnv) -> Path:
    return token_file(env, ACCOUNT, CACHE_SUFFIX)


def options(fake: FakeEntra) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "authority": fake.authority(), "timeout_seconds": 5}


def real_msal(fake: FakeEntra) -> Any:
    return msal_factory(CLIENT_ID, fake.authority(), 5.0, http_client=LoopbackSession(fake))


def sign_in(fake: FakeEntra, env: ConnectorEnv, shown: list[str] | None = None) -> str:
    echo = (shown if shown is not None else []).append
    return authorize(ACCOUNT, options(fake), env, AuthPrompt(echo=echo, open_browser=False),
                     factory=real_msal(fake))


def daemon(fake: FakeEntra, env: ConnectorEnv) -> MsalTokens:
    """The daemon's token source, as a fresh process would build it."""
    return MsalTokens(ACCOUNT, CLIENT_ID, fake.authority(), cache_path(env),
                      factory=real_msal(fake), shared={})


def secrets(path: Path, kind: str) -> list[str]:
    """The ``secret`` of every entry of kind ``AccessToken``/``RefreshToken`` in the cache."""
    return [entry["secret"] for entry in json.loads(path.read_text())[kind].values()]


def last_refresh(fake: FakeEntra) -> Any:
    return fake.seen("/token", "refresh_token")[-1]


def test_the_device_code_sign_in_runs_against_real_msal(fake: FakeEntra,
                                                        tmp_path: Path) -> None:
    env = env_for(tmp_path)
    shown: list[str] = []
    said = sign_in(fake, env, shown)

    [device] = fake.seen("/devicecode")
    assert shown == [device.answer["message"]]
    assert device.answer["user_code"] in shown[0]
    assert set(device.scopes) == {"Calendars.Read", "Mail.ReadWrite",
                                  "offline_access", "openid", "profile"}
    polls = fake.seen("/token", DEVICE_GRANT)
    assert [(p.status, p.answer.get("error")) for p in polls] == [
        (400, "authorization_pending"), (200, None)]
    assert {(r.method, r.path) for r in fake.requests} == {
        ("GET", "/common/v2.0/.well-known/openid-configuration"),
        ("POST", "/common/oauth2/v2.0/devicecode"),
        ("POST", "/common/oauth2/v2.0/token")}

    path = cache_path(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secrets(path, "AccessToken") == [polls[1].answer["access_token"]]
    assert secrets(path, "RefreshToken") == [polls[1].answer["refresh_token"]]
    [account] = json.loads(path.read_text())["Account"].values()
    assert account["username"] == fake.user.username
    assert f"as {fake.user.username}" in said and str(path) in said
    assert "Calendars.Read and Mail.ReadWrite, never Mail.Send" in said


def test_the_daemon_uses_the_cached_token_while_it_is_valid(fake: FakeEntra,
                                                           tmp_path: Path) -> None:
    env = env_for(tmp_path)
    sign_in(fake, env)
    issued = fake.seen("/token")[-1].answer["access_token"]
    path = cache_path(env)
    saved, mtime = path.read_bytes(), path.stat().st_mtime_ns
    posts = len(fake.seen("/token"))

    tokens = daemon(fake, env)
    assert tokens.token() == issued
    assert tokens.token() == issued
    assert len(fake.seen("/token")) == posts, "the token endpoint was not contacted"
    assert path.read_bytes() == saved and path.stat().st_mtime_ns == mtime


def test_a_fresh_token_is_asked_for_with_the_refresh_token(fake: FakeEntra,
                                                          tmp_path: Path) -> None:
    env = env_for(tmp_path)
    sign_in(fake, env)
    signed_in = fake.seen("/token")[-1].answer
    tokens = daemon(fake, env)
    assert tokens.token() == signed_in["access_token"]

    renewed = tokens.token(fresh=True)
    refresh = last_refresh(fake)
    assert refresh.form["refresh_token"] == signed_in["refresh_token"]
    assert renewed == refresh.answer["access_token"] != signed_in["access_token"]
    assert secrets(cache_path(env), "AccessToken") == [renewed]


def test_an_expired_token_is_refreshed_and_the_new_cache_saved(fake: FakeEntra,
                                                              tmp_path: Path) -> None:
    fake.expires_in = STALE
    env = env_for(tmp_path)
    sign_in(fake, env)
    first_refresh_token = fake.seen("/token")[-1].answer["refresh_token"]
    path = cache_path(env)

    token = daemon(fake, env).token()
    refresh = last_refresh(fake)
    assert refresh.status == 200
    assert refresh.form["refresh_token"] == first_refresh_token
    assert set(refresh.scopes) >= {"Calendars.Read", "Mail.ReadWrite"}
    assert token == refresh.answer["access_token"]
    assert secrets(path, "AccessToken") == [token]
    assert secrets(path, "RefreshToken") == [refresh.answer["refresh_token"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # A restarted daemon starts from the file: the fake only accepts the rotated refresh token,
    # so this succeeds only if the rotation was saved.
    again = daemon(fake, env).token()
    second = last_refresh(fake)
    assert second.form["refresh_token"] == refresh.answer["refresh_token"]
    assert (second.status, again) == (200, second.answer["access_token"])


def test_a_cache_rewritten_on_disk_is_read_again(fake: FakeEntra, tmp_path: Path) -> None:
    env = env_for(tmp_path)
    sign_in(fake, env)
    tokens = daemon(fake, env)
    issued = tokens.token()
    path = cache_path(env)

    # Another process rewrites the cache: the access token it holds has now expired.
    document = json.loads(path.read_text())
    for entry in document["AccessToken"].values():
        entry["expires_on"] = entry["cached_at"]
    path.write_text(json.dumps(document))
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))

    renewed = tokens.token()
    assert renewed != issued
    assert renewed == last_refresh(fake).answer["access_token"]
    assert secrets(path, "AccessToken") == [renewed]


def test_a_revoked_refresh_token_asks_the_user_to_sign_in_again(fake: FakeEntra,
                                                               tmp_path: Path) -> None:
    fake.expires_in = STALE
    env = env_for(tmp_path)
    sign_in(fake, env)
    fake.revoke()

    with pytest.raises(AuthError) as caught:
        daemon(fake, env).token()
    assert COMMAND in str(caught.value)
    assert "invalid_grant" in str(caught.value)
    assert [r.status for r in fake.seen("/token", "refresh_token")] == [400]
    assert cache_path(env).exists(), "credentials are never deleted"

    sign_in(fake, env)  # what the message says to do
    assert daemon(fake, env).token() == last_refresh(fake).answer["access_token"]


def test_a_declined_sign_in_is_an_auth_error_and_saves_nothing(fake: FakeEntra,
                                                              tmp_path: Path) -> None:
    fake.declined = True
    env = env_for(tmp_path)
    with pytest.raises(AuthError, match="authorization_declined") as caught:
        sign_in(fake, env)
    assert COMMAND in str(caught.value)
    assert not cache_path(env).exists()


def test_an_app_registration_without_public_flows_is_explained(fake: FakeEntra,
                                                               tmp_path: Path) -> None:
    fake.inject(Fault(400, "invalid_client", "/devicecode", 7000218))
    env = env_for(tmp_path)
    with pytest.raises(AuthError, match="allows public client flows"):
        sign_in(fake, env)
    assert fake.seen("/token") == []
    assert not cache_path(env).exists()


def test_the_service_down_at_sign_in_is_transient(fake: FakeEntra, tmp_path: Path) -> None:
    fake.stop()
    env = env_for(tmp_path)
    with pytest.raises(TransientError, match="cannot reach the Microsoft sign-in service"):
        sign_in(fake, env)
    assert not cache_path(env).exists()


def test_the_service_going_down_during_the_sign_in_is_transient(fake: FakeEntra,
                                                               tmp_path: Path) -> None:
    shown: list[str] = []

    def echo(line: str) -> None:  # the user reads the code; meanwhile the service goes down
        shown.append(line)
        fake.stop()

    env = env_for(tmp_path)
    with pytest.raises(TransientError, match="check the network and try again"):
        authorize(ACCOUNT, options(fake), env, AuthPrompt(echo=echo, open_browser=False),
                  factory=real_msal(fake))
    assert len(shown) == 1
    assert fake.seen("/token") == []
    assert not cache_path(env).exists()


def test_the_service_down_at_refresh_is_transient_and_passes(fake: FakeEntra,
                                                            tmp_path: Path) -> None:
    fake.expires_in = STALE
    env = env_for(tmp_path)
    sign_in(fake, env)
    tokens = daemon(fake, env)
    tokens.token()  # msal built and one refresh done while the service is up
    path = cache_path(env)
    saved = path.read_bytes()

    fake.stop()
    with pytest.raises(TransientError, match="cannot reach the Microsoft sign-in service"):
        tokens.token()
    assert path.read_bytes() == saved

    fake.start()
    assert tokens.token() == last_refresh(fake).answer["access_token"]


def test_the_service_down_when_the_daemon_starts_is_transient(fake: FakeEntra,
                                                              tmp_path: Path) -> None:
    env = env_for(tmp_path)
    sign_in(fake, env)
    issued = fake.seen("/token")[-1].answer["access_token"]
    fake.stop()
    tokens = daemon(fake, env)
    # msal reads the tenant's configuration when it is built, even with a valid cached token.
    with pytest.raises(TransientError, match="cannot reach the Microsoft sign-in service"):
        tokens.token()

    fake.start()
    assert tokens.token() == issued


def test_the_loopback_session_refuses_every_other_address(fake: FakeEntra) -> None:
    session = LoopbackSession(fake)
    for address in ("https://graph.microsoft.com/v1.0/me", "http://login.microsoftonline.com/x",
                    "https://login.windows.net/common/discovery/instance"):
        with pytest.raises(OffLoopback):
            session.get(address)
    assert fake.requests == []


def test_a_server_error_from_the_sign_in_service_is_transient(fake: FakeEntra,
                                                              tmp_path: Path) -> None:
    fake.expires_in = STALE
    env = env_for(tmp_path)
    sign_in(fake, env)
    tokens = daemon(fake, env)
    tokens.token()
    fake.inject(Fault(503, "temporarily_unavailable"))
    with pytest.raises(TransientError, match="cannot reach the Microsoft sign-in service"):
        tokens.token(fresh=True)
