"""A Google, an Outlook and a local account in one config, in one cycle."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.model import KEY_HEADER
from tests.e2e.test_google import GOOGLE_ACCOUNT, google_event
from tests.e2e.test_outlook import OUTLOOK_ACCOUNT, put_meeting
from tests.e2e.workspace import ACCOUNT, CONFIG, Workspace
from tests.fakes.google import FakeGoogle
from tests.fakes.graph import FakeGraph, as_email, running

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(microsecond=0)
ENDED = NOW - timedelta(hours=2)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGoogle, FakeGraph]]:
    google = FakeGoogle().start()
    try:
        with running() as graph:
            yield google, graph
            assert graph.send_requests() == []
        assert not [r for r in google.requests if r.path.endswith("/send")]
    finally:
        google.stop()


def three_account_workspace(root: Path, google: FakeGoogle, graph: FakeGraph) -> Workspace:
    ws = Workspace.create(root)  # the local account "personal"
    printer = root / "print_graph_token.py"
    printer.write_text(f"print({graph.token!r})\n")
    blocks = (
        ACCOUNT.format(name="personal", calendar="personal-calendar/",
                       drafts="personal-mail/Drafts")
        + GOOGLE_ACCOUNT.format(root=google.api_root,
                                command=f"{shlex.quote(sys.executable)} -c \"print(1)\"")
        + OUTLOOK_ACCOUNT.format(root=graph.root, timeout=2,
                                 command=json.dumps(f"{sys.executable} {printer}")))
    ws.config.write_text(CONFIG.format(poll=5, accounts=blocks))
    return ws


def outlook_keys(graph: FakeGraph) -> list[str]:
    return sorted(str(as_email(item)[KEY_HEADER]) for item in graph.messages())


def google_keys(google: FakeGoogle) -> list[str]:
    return sorted(str(google.draft_message(d)[KEY_HEADER]) for d in google.drafts)


def test_three_kinds_in_one_cycle_and_one_failing_does_not_stop_the_others(
        tmp_path: Path, fakes: tuple[FakeGoogle, FakeGraph]) -> None:
    google, graph = fakes
    ws = three_account_workspace(tmp_path / "w", google, graph)
    ws.add_event("loc1", "Coffee chat with Lee", ENDED, ("Lee Park", "lee@x.org"))
    google.put_event(google_event("goo1", "Coffee chat with Gia", ENDED, ("Gia Rossi",
                                                                         "gia@x.org")))
    put_meeting(graph, "out1", "Coffee chat with Oz", ENDED, ("Oz Tan", "oz@x.org"))
    # the same invitation in both the Google and the Outlook calendar: one meeting
    google.put_event(google_event("shared1", "Coffee chat with Sia", ENDED,
                                  ("Sia Moss", "sia@x.org")))
    put_meeting(graph, "shared1", "Coffee chat with Sia", ENDED, ("Sia Moss", "sia@x.org"))

    first = ws.run("run", "--once")
    assert first.returncode == 0, first.stderr
    assert ws.draft_keys() == ["loc1/thank_you/lee@x.org"]
    shared = "shared1/thank_you/sia@x.org"
    assert [k for k in google_keys(google) + outlook_keys(graph) if k == shared] == [shared]
    assert "goo1/thank_you/gia@x.org" in google_keys(google)
    assert "out1/thank_you/oz@x.org" in outlook_keys(graph)

    # Outlook's token command breaks; the next meetings of the other two are still drafted
    (ws.root / "print_graph_token.py").write_text("import sys\nsys.exit(5)\n")
    ws.add_event("loc2", "Coffee chat with Lou", ENDED, ("Lou Ng", "lou@x.org"))
    google.put_event(google_event("goo2", "Coffee chat with Gus", ENDED, ("Gus Ho",
                                                                         "gus@x.org")))
    put_meeting(graph, "out2", "Coffee chat with Ola", ENDED, ("Ola Fry", "ola@x.org"))
    second = ws.run("run", "--once")
    assert second.returncode == 1
    assert "work: FAILED" in second.stderr and "token_command" in second.stderr
    assert "loc2/thank_you/lou@x.org" in ws.draft_keys()
    assert "goo2/thank_you/gus@x.org" in google_keys(google)
    assert "out2/thank_you/ola@x.org" not in outlook_keys(graph)
    status = json.loads(ws.run("status", "--json", check=True).stdout)
    health = {a["name"]: a for a in status["accounts"]}
    assert health["personal"]["ok"] and health["gmail"]["ok"] and not health["work"]["ok"]

    (ws.root / "print_graph_token.py").write_text(f"print({graph.token!r})\n")  # fixed: it catches up
    third = ws.run("run", "--once")
    assert third.returncode == 0, third.stderr
    assert "out2/thank_you/ola@x.org" in outlook_keys(graph)
    every = ws.draft_keys() + google_keys(google) + outlook_keys(graph)
    assert len(every) == len(set(every)) == 7
