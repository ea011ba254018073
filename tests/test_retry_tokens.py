"""The shared retry policy and the token command."""

from __future__ import annotations

import sys

import pytest

from connectors.retry import Backoff, with_retries
from connectors.tokens import run_token_command
from daemon.errors import AuthError, ConnectorError, TransientError


def test_retries_until_success_with_growing_jittered_waits() -> None:
    waits: list[float] = []
    failures = iter([TransientError("500"), TransientError("503"), TransientError("reset")])

    def call() -> str:
        for exc in failures:
            raise exc
        return "ok"

    assert with_retries(call, "events.list", Backoff(base=1, cap=8), waits.append,
                        rng=lambda: 1.0) == "ok"
    assert waits == [1.0, 2.0, 4.0]
    waits.clear()
    assert Backoff(base=1, cap=8).delay(5, None, lambda: 0.0) == 4.0  # capped, lower half


def test_retry_after_is_honoured_and_capped() -> None:
    policy = Backoff(max_retry_after=10)
    assert policy.delay(0, 3.5, lambda: 0.9) == 3.5
    assert policy.delay(0, 999, lambda: 0.9) == 10


def test_gives_up_with_a_message_naming_the_call() -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise TransientError("429 Too Many Requests", retry_after=0)

    with pytest.raises(TransientError, match=r"drafts.create failed 3 times.*next cycle"):
        with_retries(call, "drafts.create", Backoff(attempts=3), lambda _s: None)
    assert calls == 3


def test_other_errors_are_not_retried() -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise AuthError("run coffeechat auth")

    with pytest.raises(AuthError):
        with_retries(call, "x", Backoff(), lambda _s: None)
    assert calls == 1


def test_token_command_returns_its_first_line() -> None:
    command = f"{sys.executable} -c \"print('tok-123'); print('ignored')\""
    assert run_token_command(command, "gmail") == "tok-123"


@pytest.mark.parametrize(("command", "error", "text"), [
    (f"{sys.executable} -c 'import sys; sys.exit(3)'", AuthError, "status 3"),
    (f"{sys.executable} -c 'pass'", AuthError, "gave no token"),
    ("/nonexistent/helper", ConnectorError, "was not found"),
    ("'unbalanced", ConnectorError, "quoting"),
])
def test_token_command_failures_say_what_to_fix(command: str, error: type[Exception],
                                                text: str) -> None:
    with pytest.raises(error, match=text) as caught:
        run_token_command(command, "gmail")
    assert "'gmail'" in str(caught.value)
