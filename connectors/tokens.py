"""``token_command``: an access token printed by a command the user chose.

As vdirsyncer's ``password.fetch = ["command", ...]``: the user may keep credentials in a
password manager or another tool and have coffeechat ask it for a fresh access token each time.

The command is bounded: it runs in a session of its own, and when it has not finished within
the timeout, or prints more than :data:`MAX_OUTPUT_BYTES`, it is stopped together with every
process it started (its process group). Its failures are the command's, not a sign-in the user
owes: they are :class:`~daemon.core.errors.ConnectorError`, so the account is tried again at the
normal pace of a failing account.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time

from daemon.core.errors import ConnectorError

TIMEOUT_SECONDS = 30.0
"""The longest a token command may run."""
MAX_OUTPUT_BYTES = 1_000_000
"""The most a token command may print (on stdout and stderr each); a token is a few KB."""


def run_token_command(command: str, account: str, timeout: float = TIMEOUT_SECONDS,
                      option: str = "token_command") -> str:
    """Run ``command`` (split like a shell would, but not run by one) and return the first
    line it prints, stripped. ``option`` is the config key that holds the command, as the
    messages name it (``password_command`` for a password).

    Raises ``ConnectorError`` when it cannot be split or started, fails, prints nothing, runs
    longer than ``timeout`` seconds or prints too much (the last two stop its whole process
    group). The token itself never appears in a message.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConnectorError(f"account {account!r}: {option} cannot be split into words "
                             f"({exc}); fix its quoting in the config") from None
    if not argv:
        raise ConnectorError(f"account {account!r}: {option} is empty")
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except (FileNotFoundError, PermissionError) as exc:
        raise ConnectorError(f"account {account!r}: {option} {argv[0]!r} cannot be run "
                             f"({exc.strerror}); check the path in the config") from None
    try:
        out, err = _bounded_output(process, timeout, account, option)
    except BaseException:
        _stop_group(process)
        raise
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    code = process.wait()
    text = out.decode("utf-8", "replace").strip()
    token = text.splitlines()[0].strip() if text else ""
    if code != 0 or not token:
        problem = err.decode("utf-8", "replace").strip()
        detail = problem.splitlines()[-1] if problem else "no output"
        raise ConnectorError(f"account {account!r}: {option} failed: it exited with "
                             f"status {code} and gave no token ({detail[:200]}); fix the "
                             "command, it is tried again at the next cycles")
    return token


def _bounded_output(process: subprocess.Popen[bytes], timeout: float,
                    account: str, option: str = "token_command") -> tuple[bytes, bytes]:
    """Everything ``process`` prints until it closes its output, within the bounds."""
    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + timeout
    got: dict[int, bytearray] = {process.stdout.fileno(): bytearray(),
                                 process.stderr.fileno(): bytearray()}
    with selectors.DefaultSelector() as selector:
        for fd in got:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectorError(
                    f"account {account!r}: {option} failed: it did not finish within "
                    f"{timeout:g} s and was stopped, with the processes it started; check "
                    "that it runs on its own, without asking anything")
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                got[key.fd] += chunk
                if len(got[key.fd]) > MAX_OUTPUT_BYTES:
                    raise ConnectorError(
                        f"account {account!r}: {option} failed: it printed more than "
                        f"{MAX_OUTPUT_BYTES:,} bytes and was stopped; it should print only "
                        "the access token")
    return bytes(got[process.stdout.fileno()]), bytes(got[process.stderr.fileno()])


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and every process in its group, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
