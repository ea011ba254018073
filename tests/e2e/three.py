"""A workspace with a local, a Google and an Outlook account, the two remote ones served by
fakes on loopback, and what the three Drafts folders hold."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from daemon.core.model import KEY_HEADER
from tests.e2e.test_google import google_event
from tests.e2e.test_outlook import OUTLOOK_ACCOUNT, put_meeting
from tests.e2e.workspace import ACCOUNT, CONFIG, Workspace
from tests.fakes.google import FakeGoogle
from tests.fakes.graph import FakeGraph, as_email, running

GOOGLE_TOKEN = "20260304"
GOOGLE_ACCOUNT = """
[[accounts]]
name = "gmail"
kind = "google"
api_root = "{root}"
token_command = '{command}'
timeout_seconds = {timeout}
"""


@dataclass
class Three:
    """The three accounts: ``personal`` (local), ``gmail`` (Google), ``work`` (Outlook)."""

    ws: Workspace
    google: FakeGoogle
    graph: FakeGraph
    expected: set[str] = field(default_factory=set)
    serial: int = 0

    def add(self, title: str, start: datetime, contact: tuple[str, str], account: str,
            uid: str | None = None) -> str:
        """Add a tagged meeting to ``account``; returns its uid."""
        self.serial += 1
        uid = uid or f"m{self.serial}"
        if account == "personal":
            self.ws.add_event(uid, title, start, contact)
        elif account == "gmail":
            self.google.put_event(google_event(uid, title, start, contact))
        else:
            put_meeting(self.graph, uid, title, start, contact)
        return uid

    def local_keys(self) -> list[str]:
        return self.ws.draft_keys()

    def google_keys(self) -> list[str]:
        return sorted(str(self.google.draft_message(d)[KEY_HEADER]) for d in self.google.drafts)

    def outlook_keys(self) -> list[str]:
        return sorted(str(as_email(item)[KEY_HEADER]) for item in self.graph.messages())

    def draft_count(self) -> int:
        """How many drafts the three Drafts folders hold (cheap: nothing is parsed)."""
        maildir = self.ws.root / "personal-mail" / "Drafts"
        local = sum(1 for sub in ("cur", "new") if (maildir / sub).exists()
                    for _ in (maildir / sub).iterdir())
        return local + len(self.google.drafts) + len(self.graph.messages())

    def all_keys(self) -> list[str]:
        """Every draft's key in the three Drafts folders (a key twice is a duplicate)."""
        return sorted(self.local_keys() + self.google_keys() + self.outlook_keys())

    def sent_anything(self) -> bool:
        """Whether anything asked either fake to send."""
        return bool(self.graph.send_requests()
                    or [r for r in self.google.requests if r.path.endswith("/send")])


@contextmanager
def three_accounts(root: Path, poll_minutes: float = 5, timeout: float = 2) -> Iterator[Three]:
    """Start both fakes and write the workspace's config (``timeout`` seconds per request,
    which the fakes' slow replies exceed); stop the fakes afterwards."""
    google = FakeGoogle(slow_seconds=timeout + 0.5).start()
    try:
        with running() as graph:
            ws = Workspace.create(root)
            printer = root / "print_graph_token.py"
            printer.write_text(f"print({graph.token!r})\n")
            google_command = f"{shlex.quote(sys.executable)} -c \"print({GOOGLE_TOKEN})\""
            blocks = (
                ACCOUNT.format(name="personal", calendar="personal-calendar/",
                               drafts="personal-mail/Drafts")
                + GOOGLE_ACCOUNT.format(root=google.api_root, command=google_command,
                                        timeout=timeout)
                + OUTLOOK_ACCOUNT.format(root=graph.root, timeout=timeout,
                                         command=json.dumps(f"{sys.executable} {printer}")))
            ws.config.write_text(CONFIG.format(poll=poll_minutes, accounts=blocks))
            yield Three(ws=ws, google=google, graph=graph)
    finally:
        google.stop()
