"""Google sign-in and stored credentials, against the fake token endpoint."""

from __future__ import annotations

import json
import re
import stat
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import AuthPrompt, ConnectorEnv, collect, token_file
from connectors.google import open_account
from connectors.google.auth import READ_MAIL_SCOPE, SCOPES, authorize, scopes_for
from connectors.google.history import GmailHistory
from daemon.core.errors import AuthError, ConfigError, ConnectorError, TransientError
from tests.accounts import checked
from tests.fakes.google import FakeGoogle

NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    try:
        yield server
    finally:
        server.stop()


def env(tmp_path: Path) -> ConnectorEnv:
    return ConnectorEnv(timezone=ZoneInfo("UTC"), clock=lambda: NOW, data_dir=tmp_path)


def store_token(tmp_path: Path, fake: FakeGoogle, *, expired: bool,
                token_uri: str | None = None, scopes: tuple[str, ...] = SCOPES) -> Path:
    path = token_file(env(tmp_path), "gmail")
    path.parent.mkdir(parents=True, exist_ok=True)
    expiry = datetime.now(UTC) + (timedelta(hours=-1) if expired else timedelta(hours=1))
    path.write_text(json.dumps({
        "token": "old-token", "refresh_token": "refresh-1",
        "token_uri": token_uri or fake.token_uri, "client_id": "cid", "client_secret": "cs",
        "scopes": list(scopes), "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    path.chmod(0o600)
    return path


def stored(fake: FakeGoogle, **options: Any) -> dict[str, Any]:
    """A Google account signed in with ``coffeechat auth`` (its token stored), as configured."""
    return checked("google", "gmail", api_root=fake.api_root, timeout_seconds=1,
                   client_secrets="/config/client.json", **options)


def sync(tmp_path: Path, fake: FakeGoogle) -> Any:
    account = open_account("gmail", stored(fake), env(tmp_path))
    account.calendar.session.sleep = lambda seconds: None  # type: ignore[attr-defined]
    return collect(account.calendar.changes(None))


def test_an_expired_token_is_refreshed_and_saved(tmp_path: Path, fake: FakeGoogle) -> None:
    path = store_token(tmp_path, fake, expired=True)
    fake.refresh_tokens.add("refresh-1")
    fake.access_tokens = set()
    sync(tmp_path, fake)
    [refresh] = fake.calls("POST", "/token")
    assert refresh.body["grant_type"] == "refresh_token"
    assert refresh.body["refresh_token"] == "refresh-1"
    [listing] = fake.calls("GET", "/events")
    new_token = listing.authorization.removeprefix("Bearer ")
    assert new_token in fake.access_tokens
    saved = json.loads(path.read_text())
    assert saved["token"] == new_token and saved["refresh_token"] == "refresh-1"
    assert saved["token_uri"] == fake.token_uri
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_fresh_token_is_used_without_refreshing(tmp_path: Path, fake: FakeGoogle) -> None:
    path = store_token(tmp_path, fake, expired=False)
    before = path.read_text()
    sync(tmp_path, fake)
    assert fake.calls("POST", "/token") == []
    assert fake.calls("GET", "/events")[0].authorization == "Bearer old-token"
    assert path.read_text() == before


def test_a_401_refreshes_once_and_retries(tmp_path: Path, fake: FakeGoogle) -> None:
    path = store_token(tmp_path, fake, expired=False)
    fake.refresh_tokens.add("refresh-1")
    fake.access_tokens = set()  # the stored token was revoked early
    sync(tmp_path, fake)
    assert [r.path for r in fake.calls()][-3:] == [
        "/calendar/v3/calendars/primary/events", "/token",
        "/calendar/v3/calendars/primary/events"]
    assert json.loads(path.read_text())["token"] != "old-token"


def test_a_revoked_grant_names_the_auth_command(tmp_path: Path, fake: FakeGoogle) -> None:
    path = store_token(tmp_path, fake, expired=True)
    before = path.read_text()
    with pytest.raises(AuthError, match=re.escape("coffeechat auth google --account gmail")):
        sync(tmp_path, fake)
    assert path.read_text() == before, "credentials are never deleted"
    assert fake.calls("GET") == []


def test_an_unreachable_token_endpoint_is_transient(tmp_path: Path, fake: FakeGoogle) -> None:
    store_token(tmp_path, fake, expired=True, token_uri="http://127.0.0.1:9/token")
    with pytest.raises(TransientError):
        sync(tmp_path, fake)


def test_missing_or_damaged_credentials_name_the_command(tmp_path: Path,
                                                         fake: FakeGoogle) -> None:
    with pytest.raises(AuthError, match="not signed in"):
        sync(tmp_path, fake)
    path = token_file(env(tmp_path), "gmail")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(AuthError, match="coffeechat auth google --account gmail"):
        sync(tmp_path, fake)
    path.write_text("[]")
    with pytest.raises(AuthError, match="damaged"):
        sync(tmp_path, fake)


# --- coffeechat auth google --------------------------------------------------------------


def client_secrets(tmp_path: Path, fake: FakeGoogle) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps({"installed": {
        "client_id": "cid.apps.googleusercontent.com", "client_secret": "cs",
        "auth_uri": fake.api_root + "auth", "token_uri": fake.token_uri,
        "redirect_uris": ["http://localhost"]}}))
    return path


def sign_in(tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch,
            answer: dict[str, str] | None = None,
            **options: Any) -> tuple[Any, list[str], dict[str, Any]]:
    """Run authorize in a thread, play the browser with urllib, return its outcome."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is http
    fake.auth_codes["code-1"] = "refresh-new"
    lines: list[str] = []
    seen = threading.Event()
    outcome: dict[str, Any] = {}

    def echo(line: str) -> None:
        lines.append(line)
        if "state=" in line:
            seen.set()

    def run() -> None:
        try:
            outcome["result"] = authorize(
                "gmail", {"client_secrets": str(client_secrets(tmp_path, fake)), **options},
                env(tmp_path), AuthPrompt(echo=echo, open_browser=False))
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert seen.wait(10), lines
    url = next(line for line in lines if "state=" in line).strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    reply = answer if answer is not None else {"code": "code-1", "state": query["state"][0]}
    target = query["redirect_uri"][0] + "?" + urllib.parse.urlencode(reply)
    with urllib.request.urlopen(target, timeout=10) as page:
        assert page.status == 200
    thread.join(10)
    assert not thread.is_alive()
    return query, lines, outcome


def test_authorize_signs_in_and_stores_the_token_privately(
        tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    query, _, outcome = sign_in(tmp_path, fake, monkeypatch)
    assert "error" not in outcome, outcome
    assert query["scope"][0].split() == list(SCOPES)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    path = token_file(env(tmp_path), "gmail")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] == "refresh-new"
    assert saved["token_uri"] == fake.token_uri
    assert str(path) in outcome["result"]
    assert saved["token"] not in outcome["result"] and "refresh-new" not in outcome["result"]
    [exchange] = fake.calls("POST", "/token")
    assert exchange.body["grant_type"] == "authorization_code"
    # The daemon can now use what was stored.
    fake.refresh_tokens.add("refresh-new")
    sync(tmp_path, fake)
    assert fake.calls("GET", "/events")


def test_authorize_refuses_a_partial_grant(tmp_path: Path, fake: FakeGoogle,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake.granted_scope = SCOPES[0]
    _, _, outcome = sign_in(tmp_path, fake, monkeypatch)
    assert isinstance(outcome.get("error"), AuthError)
    assert "gmail.compose" in str(outcome["error"])
    assert not token_file(env(tmp_path), "gmail").exists()


def test_authorize_reports_a_refusal(tmp_path: Path, fake: FakeGoogle,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, outcome = sign_in(tmp_path, fake, monkeypatch, answer={"error": "access_denied"})
    assert isinstance(outcome.get("error"), AuthError)
    assert "coffeechat auth google --account gmail" in str(outcome["error"])


def test_authorize_needs_client_secrets(tmp_path: Path) -> None:
    prompt = AuthPrompt(echo=lambda line: None, open_browser=False)
    with pytest.raises(ConnectorError, match="token_command"):
        authorize("gmail", {"token_command": "x"}, env(tmp_path), prompt)
    with pytest.raises(ConnectorError, match="does not exist"):
        authorize("gmail", {"client_secrets": str(tmp_path / "nope.json")}, env(tmp_path),
                  prompt)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConnectorError, match="not a Desktop OAuth client"):
        authorize("gmail", {"client_secrets": str(tmp_path / "bad.json")}, env(tmp_path),
                  prompt)


# --- reply detection: reading mail needs one more scope ----------------------------------


def open_mail(tmp_path: Path, fake: FakeGoogle, **options: Any) -> Any:
    return open_account("gmail", stored(fake, **options), env(tmp_path))


def test_authorize_with_reply_detection_asks_to_read_mail_and_says_so(
        tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.granted_scope = " ".join(scopes_for(True))
    query, lines, outcome = sign_in(tmp_path, fake, monkeypatch, reply_detection=True)
    assert "error" not in outcome, outcome
    assert query["scope"][0].split() == [*SCOPES, READ_MAIL_SCOPE]
    notice = [line for line in lines if "Reply detection is on" in line]
    assert len(notice) == 1
    assert "read" in notice[0] and "never changes, deletes or sends" in notice[0]
    assert lines.index(notice[0]) < next(i for i, line in enumerate(lines) if "state=" in line)
    saved = json.loads(token_file(env(tmp_path), "gmail").read_text())
    assert READ_MAIL_SCOPE in saved["scopes"]


def test_authorize_without_reply_detection_never_asks_to_read_mail(
        tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    query, lines, outcome = sign_in(tmp_path, fake, monkeypatch, reply_detection=False)
    assert "error" not in outcome, outcome
    assert READ_MAIL_SCOPE not in query["scope"][0].split()
    assert not [line for line in lines if "Reply detection" in line]
    assert all("send" not in scope for scope in scopes_for(True))


def test_authorize_refuses_a_grant_without_mail_reading(
        tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.granted_scope = " ".join(SCOPES)
    _, _, outcome = sign_in(tmp_path, fake, monkeypatch, reply_detection=True)
    assert isinstance(outcome.get("error"), AuthError)
    assert "gmail.readonly" in str(outcome["error"])
    assert not token_file(env(tmp_path), "gmail").exists()


def test_the_mail_history_exists_only_with_reply_detection(tmp_path: Path,
                                                           fake: FakeGoogle) -> None:
    assert open_mail(tmp_path, fake).mail is None
    assert open_mail(tmp_path, fake, reply_detection=False).mail is None
    assert isinstance(open_mail(tmp_path, fake, reply_detection=True).mail, GmailHistory)
    with pytest.raises(ConfigError, match="reply_detection"):
        open_mail(tmp_path, fake, reply_detection="yes")
    assert fake.requests == []


def test_stored_credentials_without_mail_reading_need_a_new_sign_in(
        tmp_path: Path, fake: FakeGoogle) -> None:
    store_token(tmp_path, fake, expired=False)
    account = open_mail(tmp_path, fake, reply_detection=True)
    with pytest.raises(AuthError, match=re.escape(
            "run `coffeechat auth google --account gmail` again")):
        account.mail.history(["dana@example.org"], NOW - timedelta(days=30))
    assert fake.requests == [], "nothing is asked of Google with credentials that cannot do it"
    # Without reply detection the same credentials are fine.
    collect(open_mail(tmp_path, fake).calendar.changes(None))
    assert fake.calls("GET", "/events")


def test_stored_credentials_with_mail_reading_search_mail(tmp_path: Path,
                                                          fake: FakeGoogle) -> None:
    store_token(tmp_path, fake, expired=True, scopes=scopes_for(True))
    fake.refresh_tokens.add("refresh-1")
    fake.granted_scope = " ".join(scopes_for(True))
    account = open_mail(tmp_path, fake, reply_detection=True)
    result = account.mail.history(["dana@example.org"], NOW - timedelta(days=30))
    assert result["dana@example.org"].latest is None
    assert [r.path for r in fake.calls()] == ["/token"] + ["/gmail/v1/users/me/messages"] * 2


def test_gmail_refusing_the_scope_names_the_auth_command(tmp_path: Path,
                                                         fake: FakeGoogle) -> None:
    store_token(tmp_path, fake, expired=True, scopes=scopes_for(True))
    fake.refresh_tokens.add("refresh-1")
    fake.granted_scope = " ".join(SCOPES)  # the grant was narrowed after it was stored
    account = open_mail(tmp_path, fake, reply_detection=True)
    with pytest.raises(AuthError, match=re.escape(
            "run `coffeechat auth google --account gmail` again")) as caught:
        account.mail.history(["dana@example.org"], NOW - timedelta(days=30))
    assert "does not allow" in str(caught.value)
    assert [r.path for r in fake.calls()] == ["/token", "/gmail/v1/users/me/messages"]
