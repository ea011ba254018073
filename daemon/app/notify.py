"""systemd's notification protocol: READY, STATUS, WATCHDOG and STOPPING over ``$NOTIFY_SOCKET``.

A few lines of the documented datagram protocol (sd_notify(3)) instead of a dependency. When
the service is not started by systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends state lines to the service manager, if there is one."""

    def __init__(self, address: str | None = None) -> None:
        """Use ``address`` (default ``$NOTIFY_SOCKET``); ``@`` starts an abstract address."""
        raw = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + raw[1:] if raw.startswith("@") else raw

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return bool(self.address)

    def send(self, *lines: str) -> None:
        """Send ``KEY=value`` lines in one datagram; failures are logged, never raised."""
        if not self.enabled:
            return
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, self.address)
        except OSError as exc:
            log.debug("could not notify the service manager: %s", exc)

    def ready(self, status: str) -> None:
        """Start-up is complete."""
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        """A one-line status for ``systemctl --user status coffeechat``."""
        self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        """The main loop is alive."""
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutting down."""
        self.send("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd set (``$WATCHDOG_USEC``), in seconds, or ``None``."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
