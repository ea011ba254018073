"""The shared retry policy and the token command."""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from connectors.retry import Backoff, with_retries
from connectors.tokens import MAX_OUTPUT_BYTES, run_token_command
from daemon.core.errors import AuthError, ConnectorError, TransientError
from daemon.cycle.pacing import Pacer


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


@pytest.mark.parametrize(("command", "text"), [
    (f"{sys.executable} -c 'import sys; sys.exit(3)'", "status 3"),
    (f"{sys.executable} -c 'pass'", "gave no token"),
    ("/nonexistent/helper", "cannot be run"),
    ("'unbalanced", "quoting"),
])
def test_token_command_failures_say_what_to_fix(command: str, text: str) -> None:
    with pytest.raises(ConnectorError, match=text) as caught:
        run_token_command(command, "gmail")
    assert "'gmail'" in str(caught.value)
    # the command failed: not a sign-in the user owes, so the account keeps its normal pace
    assert not isinstance(caught.value, AuthError)


HANGS = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1], "w") as out:
    out.write(f"{child.pid} {__import__('os').getpid()}")
print("not-a-token-yet", flush=True)
time.sleep(600)
"""


def ended(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def gone(pid: int) -> bool:
    """Whether ``pid`` ends once the SIGKILL sent to it has been delivered (it is
    asynchronous); a process still running after a minute was not killed."""
    deadline = time.monotonic() + 60
    while not ended(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling /proc for the process's end
    return True


def test_a_hanging_command_is_stopped_with_every_process_it_started(tmp_path: Path) -> None:
    script, pids = tmp_path / "hangs.py", tmp_path / "pids"
    script.write_text(HANGS)
    with pytest.raises(ConnectorError, match="did not finish within 5 s") as caught:
        run_token_command(f"{sys.executable} {script} {pids}", "gmail", timeout=5)
    assert not isinstance(caught.value, AuthError)
    assert "token_command failed" in str(caught.value)
    child, leader = (int(n) for n in pids.read_text().split())
    assert gone(leader) and gone(child), "no orphan is left behind"


def test_a_command_printing_too_much_is_stopped_reading_at_most_the_cap() -> None:
    command = f"{sys.executable} -c \"import sys; sys.stdout.write('x' * 100_000_000)\""
    tracemalloc.start()
    try:
        with pytest.raises(ConnectorError, match="more than 1,000,000 bytes") as caught:
            run_token_command(command, "gmail")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "network" not in str(caught.value)
    assert peak < 4 * MAX_OUTPUT_BYTES


def test_a_failing_command_is_tried_again_at_the_pace_of_a_failing_account() -> None:
    pacer = Pacer(base=300, cap=3600)
    with pytest.raises(ConnectorError) as caught:
        run_token_command(f"{sys.executable} -c 'import sys; sys.exit(1)'", "gmail")
    assert pacer.failed("gmail", str(caught.value), isinstance(caught.value, AuthError),
                        now=0.0) == 300
    assert pacer.needing_auth() == []
