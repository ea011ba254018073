"""The Graph client against the fake: error mapping, retries, Retry-After, timeouts, drops."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from connectors.outlook.client import GraphClient, GraphError
from connectors.retry import Backoff
from daemon.core.errors import AuthError, ConnectorError, TransientError
from tests.fakes.graph import FakeGraph, Fault, StaticTokens, running


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(fake: FakeGraph, tokens: StaticTokens | None = None, timeout: float = 2.0,
         attempts: int = 4) -> tuple[GraphClient, Sleeps]:
    sleeps = Sleeps()
    client = GraphClient(fake.root, tokens or StaticTokens(fake.token), account="work",
                         timeout=timeout, backoff=Backoff(attempts=attempts, base=0.01),
                         sleep=sleeps, rng=lambda: 0.5)
    return client, sleeps


def folder(client: GraphClient) -> str:
    return str(client.request("GET", client.url("/me/mailFolders/drafts"), "test").body["id"])


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "server_error", "drop"])
def test_transient_failures_are_retried(fake: FakeGraph, kind: str) -> None:
    client, sleeps = make(fake)
    fake.inject(Fault(kind, retry_after=3))  # type: ignore[arg-type]
    assert folder(client)
    assert len(fake.requests) == 2 and fake.requests[0].fault == kind
    assert len(sleeps.calls) == 1
    if kind in ("throttle", "unavailable"):
        assert sleeps.calls == [3.0], "Retry-After is honoured"


def test_a_slow_reply_past_the_timeout_is_retried(fake: FakeGraph) -> None:
    client, sleeps = make(fake, timeout=0.2)
    fake.inject(Fault("slow", delay=3.0))
    started = time.monotonic()
    assert folder(client)
    # far below the delay, so a loaded machine's slowness cannot pass for waiting
    assert time.monotonic() - started < 2.0, "the client gave up at its timeout"
    assert len(sleeps.calls) == 1


def test_exhausted_retries_say_what_failed(fake: FakeGraph) -> None:
    client, sleeps = make(fake, attempts=3)
    fake.inject(*[Fault("throttle", retry_after=0)] * 3)
    with pytest.raises(TransientError) as caught:
        folder(client)
    assert "account 'work'" in str(caught.value) and "3 times" in str(caught.value)
    assert "next cycle" in str(caught.value)
    assert len(fake.requests) == 3
    assert sleeps.calls == [0.0, 0.0], "no wait after the last attempt"


def test_a_refused_token_is_renewed_once(fake: FakeGraph) -> None:
    tokens = StaticTokens("stale")

    class Renewing(StaticTokens):
        def token(self, *, fresh: bool = False) -> str:
            self.asked += 1
            return fake.token if fresh else "stale"

    renewing = Renewing()
    client, _ = make(fake, renewing)
    assert folder(client)
    assert renewing.asked == 2
    assert folder(client) and renewing.asked == 2, "the renewed token is kept"
    client, _ = make(fake, tokens)
    with pytest.raises(AuthError) as caught:
        folder(client)
    assert "coffeechat auth outlook --account work" in str(caught.value)


def test_a_missing_permission_says_what_to_do(fake: FakeGraph) -> None:
    client, sleeps = make(fake)
    fake.inject(Fault("forbidden"))
    with pytest.raises(GraphError) as caught:
        folder(client)
    assert caught.value.status == 403 and caught.value.code == "ErrorAccessDenied"
    assert "Mail.ReadWrite" in str(caught.value) and "admin" in str(caught.value)
    assert sleeps.calls == [], "a refusal is not retried"


def test_links_outside_the_root_are_never_followed(fake: FakeGraph) -> None:
    client, _ = make(fake)
    with pytest.raises(ConnectorError, match="outside"):
        client.request("GET", "https://evil.example/v1.0/me", "test")
    with pytest.raises(ConnectorError, match="outside"):
        client.request("GET", fake.root + "evil.example/me", "test")
    assert fake.requests == []


def test_no_server_at_all_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GraphClient(f"http://127.0.0.1:{port}/v1.0", StaticTokens(), account="work",
                         timeout=0.5, backoff=Backoff(attempts=2, base=0.01),
                         sleep=lambda s: None)
    with pytest.raises(TransientError, match="account 'work'"):
        client.request("GET", client.url("/me/mailFolders/drafts"), "test")
