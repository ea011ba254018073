"""``token_command``: an access token printed by a command the user chose.

As vdirsyncer's ``password.fetch = ["command", ...]``: the user may keep credentials in a
password manager or another tool and have coffeechat ask it for a fresh access token each time.
"""

from __future__ import annotations

import shlex
import subprocess

from daemon.errors import AuthError, ConnectorError

TIMEOUT_SECONDS = 30


def run_token_command(command: str, account: str) -> str:
    """Run ``command`` (split like a shell would, but not run by one) and return the first
    line it prints, stripped.

    Raises ``AuthError`` when it fails or prints nothing, ``ConnectorError`` when it cannot be
    started. The token itself never appears in a message.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConnectorError(f"account {account!r}: token_command cannot be split into words "
                             f"({exc}); fix its quoting in the config") from None
    if not argv:
        raise ConnectorError(f"account {account!r}: token_command is empty")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                              check=False)
    except FileNotFoundError:
        raise ConnectorError(f"account {account!r}: token_command {argv[0]!r} was not found; "
                             "check the path in the config") from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"account {account!r}: token_command did not finish within "
                        f"{TIMEOUT_SECONDS} s") from None
    token = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
    if done.returncode != 0 or not token:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        raise AuthError(f"account {account!r}: token_command exited with status "
                        f"{done.returncode} and gave no token ({detail[:200]})")
    return token
