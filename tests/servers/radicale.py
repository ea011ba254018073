"""A real Radicale CalDAV server on 127.0.0.1, for the CalDAV connector's tests.

:func:`start_radicale` runs ``python -m radicale`` (the PyPI package, a test dependency) as a
subprocess with its own config, htpasswd file (plain passwords) and storage in a temp folder,
on a free loopback port. It serves plain http (which the connector allows only to a loopback
address), or with ``tls=True`` https with a certificate for 127.0.0.1 signed by a test CA made
here (:attr:`Radicale.ca_file`), which the connector reaches through ``ca_file``. Ready when its
log says so (never a sleep); stopped by its pid. Every request the server handled is in its
log (:meth:`Radicale.requests`), which is how the tests count what an idle cycle costs.

Each test gets a user of its own (:meth:`Radicale.new_user`), so a shared server never shows
one test's calendars to another. Calendars and events are made with plain HTTP
(MKCALENDAR, PUT, DELETE), not with the code under test.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest

from tests.e2e.mailtools import READY_TIMEOUT, free_port
from tests.servers.tls import make_certificates

_REQUEST = re.compile(r"\[INFO\] (\w+) request for '([^']*)'")
_ANSWERED = re.compile(r"\[INFO\] \w+ response status for .* in ([0-9.]+) seconds")


@dataclass
class Account:
    """One Radicale user: its name, password and principal URL."""

    server: Radicale
    username: str
    password: str

    @property
    def url(self) -> str:
        """The principal (and calendar home) URL."""
        return f"{self.server.base}/{self.username}/"

    def calendar_url(self, name: str) -> str:
        """The calendar's URL (``name`` is quoted)."""
        return f"{self.url}{quote(name)}/"

    def _call(self, method: str, url: str, body: bytes = b"",
              headers: dict[str, str] | None = None, timeout: float = 30) -> int:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(url, data=body or None, method=method, headers={
            "Authorization": f"Basic {token}", **(headers or {})})
        context = None
        if self.server.ca_file is not None:
            context = ssl.create_default_context(cafile=str(self.server.ca_file))
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
                status: int = answer.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code

    def make_calendar(self, name: str, display: str, components: tuple[str, ...] = ("VEVENT",)
                      ) -> str:
        """MKCALENDAR ``name`` with display name ``display``; returns its URL."""
        comps = "".join(f'<C:comp name="{c}"/>' for c in components)
        body = ('<?xml version="1.0" encoding="utf-8"?>'
                '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                f"<D:set><D:prop><D:displayname>{escape(display)}</D:displayname>"
                f"<C:supported-calendar-component-set>{comps}"
                "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>")
        url = self.calendar_url(name)
        status = self._call("MKCALENDAR", url, body.encode(),
                            {"Content-Type": "application/xml"})
        assert status == 201, f"MKCALENDAR {url}: {status}"
        return url

    def put(self, calendar: str, name: str, ics: bytes) -> None:
        """PUT one calendar object (``name`` is its file name in the collection)."""
        url = self.calendar_url(calendar) + quote(name)
        status = self._call("PUT", url, ics, {"Content-Type": "text/calendar"})
        assert status in (201, 204), f"PUT {url}: {status}"

    def put_calendar(self, calendar: str, ics: bytes) -> None:
        """PUT a whole VCALENDAR onto the calendar's URL: Radicale replaces the calendar's
        objects with one per UID in it (the fast way to fill a large calendar)."""
        url = self.calendar_url(calendar)
        status = self._call("PUT", url, ics, {"Content-Type": "text/calendar"}, timeout=900)
        assert status in (201, 204), f"PUT {url}: {status}"

    def delete(self, calendar: str, name: str = "") -> None:
        """DELETE one object, or without ``name`` the whole calendar."""
        url = self.calendar_url(calendar) + quote(name)
        status = self._call("DELETE", url)
        assert status in (200, 204), f"DELETE {url}: {status}"


@dataclass
class Radicale:
    """A running Radicale: where it listens, its folder, and its process."""

    base: str
    folder: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    ca_file: Path | None = None
    """The test CA that signed the server's certificate (``tls=True`` only)."""
    _users: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_user(self, password: str = "app-password-1") -> Account:
        """Add a user to the htpasswd file (Radicale reads it on each login)."""
        name = f"user{next(self._users)}"
        with (self.folder / "users").open("a", encoding="utf-8") as users:
            users.write(f"{name}:{password}\n")
        return Account(self, name, password)

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def requests(self, since: int = 0) -> list[tuple[str, str]]:
        """The (method, path) of each request logged after byte ``since`` of the log."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        return _REQUEST.findall(text)

    def seconds(self, since: int = 0) -> float:
        """The time Radicale says it took to answer the requests logged after byte
        ``since`` of the log, added up."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        return sum(float(found) for found in _ANSWERED.findall(text))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_radicale(folder: Path, *, tls: bool = False) -> Radicale:
    """Start Radicale with its config and storage under ``folder``; waits until it is ready.
    With ``tls``, it serves https with a certificate from :func:`make_certificates`. A
    missing Radicale fails (it is a test dependency): it never skips."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users").write_text("", encoding="utf-8")
    ca_file: Path | None = None
    tls_lines = ""
    if tls:
        ca_file, cert_file, key_file = make_certificates(folder)
        tls_lines = f"ssl = True\ncertificate = {cert_file}\nkey = {key_file}\n"
    for _attempt in range(3):
        port = free_port()
        config = folder / "config"
        config.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{port}\n" + tls_lines +
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {folder / 'users'}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {folder / 'collections'}\n"
            "[logging]\n"
            "level = info\n"
            "mask_passwords = True\n", encoding="utf-8")
        log_path = folder / "radicale.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        scheme = "https" if tls else "http"
        server = Radicale(f"{scheme}://127.0.0.1:{port}", folder, process, log_path, ca_file)
        deadline = time.monotonic() + READY_TIMEOUT  # only a give-up bound, as for Dovecot
        while time.monotonic() < deadline:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            if "Radicale server ready" in text:
                return server
            if process.poll() is not None:
                break
            # Radicale logs straight to this file (the tests count its requests there), so
            # its ready line is looked for in the file: each look is the event, not the pause
            time.sleep(0.05)
        server.stop()
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if "No module named radicale" in text:
            break
    raise AssertionError(f"Radicale did not start; its log:\n{text[-3000:]}")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """One Radicale per test module; give each test its own :meth:`Radicale.new_user`."""
    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def radicale_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """One Radicale serving https (see :attr:`Radicale.ca_file`) per test module."""
    server = start_radicale(tmp_path_factory.mktemp("radicale-tls"), tls=True)
    try:
        yield server
    finally:
        server.stop()
