"""Outlook drafts against the fake Graph, beyond the contract: the request body, finding after a
crash, sent drafts, races with the user, exactly-once creates under faults, and never sending."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

import connectors.outlook
from connectors.base import KEY_HEADER
from connectors.outlook.auth import SCOPES
from connectors.outlook.client import GraphClient
from connectors.outlook.drafts import GraphDrafts, key_of, to_graph_message
from connectors.retry import Backoff
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef, DraftState
from tests.contract.drafts_contract import make_message
from tests.fakes.graph import FakeGraph, Fault, StaticTokens, running
from tests.fakes.graph_schema import check_message


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []


def box_for(fake: FakeGraph, timeout: float = 2.0, attempts: int = 4) -> GraphDrafts:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work", timeout=timeout,
                         backoff=Backoff(attempts=attempts, base=0.01), sleep=lambda s: None)
    return GraphDrafts(client)


def test_the_request_body_is_a_valid_graph_message() -> None:
    message = make_message("m1/thank_you/dana", to="Dana W <dana@example.org>, lee@example.net")
    message["Cc"] = "Ola <ola@example.net>"
    body = to_graph_message(message, key="m1/thank_you/dana")
    assert check_message(body, creating=True) is None
    assert body["subject"] == "Thank you for the coffee chat"
    assert body["body"] == {"contentType": "text",
                            "content": "Hi Dana,\n\nThank you for your time today.\n\nSam\n"}
    assert body["toRecipients"] == [
        {"emailAddress": {"address": "dana@example.org", "name": "Dana W"}},
        {"emailAddress": {"address": "lee@example.net"}}]
    assert body["ccRecipients"] == [{"emailAddress": {"address": "ola@example.net",
                                                      "name": "Ola"}}]
    assert body["internetMessageHeaders"] == [{"name": KEY_HEADER,
                                               "value": "m1/thank_you/dana"}]
    assert "from" not in body, "Graph sets the sender to the signed-in mailbox"
    update = to_graph_message(message)
    assert "internetMessageHeaders" not in update
    assert check_message(update, creating=False) is None


def test_a_message_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match=KEY_HEADER):
        to_graph_message(make_message("m1/a/b"), key="m1/other/b")


@pytest.mark.parametrize(("body", "code"), [
    ({"subject": "x", "bogus": 1}, "RequestBodyRead"),
    ({"subject": 5}, "RequestBodyRead"),
    ({"body": {"contentType": "rtf", "content": "x"}}, "RequestBodyRead"),
    ({"toRecipients": [{"emailAddress": {"adress": "a@b.c"}}]}, "RequestBodyRead"),
    ({"isDraft": True}, "ErrorInvalidPropertyUpdate"),
    ({"internetMessageHeaders": [{"name": "Coffeechat", "value": "k"}]},
     "InvalidInternetMessageHeader"),
])
def test_the_fake_refuses_what_graph_refuses(fake: FakeGraph, body: dict[str, object],
                                             code: str) -> None:
    problem = check_message(body, creating=True)
    assert problem is not None and problem["error"]["code"] == code


def test_headers_cannot_be_changed_after_creation() -> None:
    problem = check_message({"internetMessageHeaders": [{"name": "x-a", "value": "b"}]},
                            creating=False)
    assert problem is not None


def test_the_key_header_is_read_whatever_its_case() -> None:
    item = {"internetMessageHeaders": [{"name": "x-coffeechat-key", "value": " k1 "}]}
    assert key_of(item) == "k1"
    assert key_of({"internetMessageHeaders": [{"name": "X-Other", "value": "k1"}]}) is None


def test_find_reads_past_the_first_page_and_no_further_than_four(fake: FakeGraph) -> None:
    box = box_for(fake)
    first = box.create(make_message("k/old/x"), "k/old/x")
    for n in range(70):
        box.create(make_message(f"k/{n}/x"), f"k/{n}/x")
    found = box.find("k/old/x")
    assert found is not None and found.id == first.id
    listings = fake.requested("GET", "/mailFolders/drafts/messages")
    assert len(listings) == 3, "the key property first, then two pages of headers"
    assert "singleValueExtendedProperties/any(" in listings[0].query["$filter"][0]
    assert listings[1].query["$top"] == ["50"]
    assert "internetMessageHeaders" in listings[1].query["$select"][0]
    for n in range(200):
        box.create(make_message(f"more/{n}"), f"more/{n}")
    before = len(fake.requests)
    assert box.find("k/old/x") is None, "older than the newest 200 drafts"
    assert len(fake.requests) - before == 1 + 4


def test_a_sent_or_moved_draft_is_gone(fake: FakeGraph) -> None:
    box = box_for(fake)
    sent = box.create(make_message("a/b/c"), "a/b/c")
    fake.user_sends(sent.id)
    assert box.get(sent) == "gone"
    kept = box.create(make_message("a/b/d"), "a/b/d")
    item = fake.message(kept.id)
    assert item is not None
    with fake._lock:  # the user moved it with an immutable id: same id, another folder
        fake._state.messages[kept.id]["parentFolderId"] = "AAMkSomeOtherFolder"
    assert box.get(kept) == "gone"


class RacingDrafts(GraphDrafts):
    """Sees the draft untouched, then the user edits it before the change arrives."""

    def __init__(self, fake: FakeGraph, inner: GraphDrafts) -> None:
        self.__dict__.update(inner.__dict__)
        self.fake = fake

    def get(self, ref: DraftRef) -> DraftState:
        state = super().get(ref)
        self.fake.user_edits(ref.id, "\nMy own words.")
        return state


def test_an_edit_racing_an_update_wins(fake: FakeGraph) -> None:
    box = box_for(fake)
    ref = box.create(make_message("r/1/x"), "r/1/x")
    racing = RacingDrafts(fake, box)
    with pytest.raises(ConnectorError, match="changed by you"):
        racing.update(ref, make_message("r/1/x", subject="Replaced"))
    item = fake.message(ref.id)
    assert item is not None and item["subject"] == "Thank you for the coffee chat"
    assert item["body"]["content"].endswith("My own words.")
    assert fake.requested("PATCH")[0].headers["if-match"] == f'W/"{ref.fingerprint}"'


def test_an_edit_racing_a_delete_wins(fake: FakeGraph, caplog: pytest.LogCaptureFixture) -> None:
    box = box_for(fake)
    ref = box.create(make_message("r/2/x"), "r/2/x")
    with caplog.at_level(logging.WARNING):
        RacingDrafts(fake, box).delete(ref)
    assert fake.message(ref.id) is not None
    assert "was edited" in caplog.text


def test_an_edited_draft_is_neither_updated_nor_deleted(fake: FakeGraph) -> None:
    box = box_for(fake)
    ref = box.create(make_message("e/1/x"), "e/1/x")
    fake.user_edits(ref.id)
    with pytest.raises(ConnectorError, match="changed by you"):
        box.update(ref, make_message("e/1/x", subject="Other"))
    box.delete(ref)
    assert fake.message(ref.id) is not None
    assert fake.requested("PATCH") == [] and fake.requested("DELETE") == []


@pytest.mark.parametrize("kind", ["slow", "drop_after"])
def test_a_create_whose_answer_is_lost_is_not_repeated(fake: FakeGraph, kind: str) -> None:
    box = box_for(fake, timeout=0.3)
    fake.inject(Fault(kind, "POST", "/me/messages", delay=0.8))  # type: ignore[arg-type]
    ref = box.create(make_message("once/1/x"), "once/1/x")
    assert [m["id"] for m in fake.messages()] == [ref.id]
    assert len(fake.requested("POST", "/me/messages")) == 1


def test_a_create_that_never_arrived_is_made_again(fake: FakeGraph) -> None:
    box = box_for(fake)
    fake.inject(Fault("drop", "POST", "/me/messages"))
    ref = box.create(make_message("twice/1/x"), "twice/1/x")
    assert [m["id"] for m in fake.messages()] == [ref.id]
    assert len(fake.requested("POST", "/me/messages")) == 2


def test_random_faults_still_give_each_draft_exactly_once(fake: FakeGraph) -> None:
    box = box_for(fake, timeout=0.3, attempts=6)
    fake.chaos(0.3, ["throttle", "unavailable", "server_error", "drop", "drop_after", "slow"],
               seed=7, limit=15, retry_after=0, delay=0.5)
    refs = {box.create(make_message(f"c/{n}/x"), f"c/{n}/x").id for n in range(12)}
    fake.clear_faults()
    assert len(refs) == 12
    keys = sorted(str(h["value"]) for m in fake.messages()
                  for h in m["internetMessageHeaders"])
    assert keys == sorted(f"c/{n}/x" for n in range(12))
    assert any(r.fault for r in fake.requests), "faults were injected"


def test_nothing_in_the_connector_can_send() -> None:
    """No string the connector's code uses (docstrings aside) names an endpoint that sends:
    send, reply, reply all, forward."""
    literals: list[str] = []
    for path in Path(connectors.outlook.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        literals += [node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str)
                     and id(node) not in docstrings]
    assert len(literals) > 100
    assert not [s for s in literals
                if re.search(r"/(send|reply|replyall|forward)\b|sendmail", s, re.I)]
    assert any(s.endswith("/createReply") for s in literals), "replies are drafts, not sends"
    assert "Mail.Send" not in SCOPES and set(SCOPES) == {"Calendars.Read", "Mail.ReadWrite"}


def test_reading_back_keeps_unicode(fake: FakeGraph) -> None:
    box = box_for(fake)
    message: EmailMessage = make_message("u/1/x", subject="Merci — café",
                                         body="Ça m'a aidé.\n")
    ref = box.create(message, "u/1/x")
    item = fake.message(ref.id)
    assert item is not None
    assert item["subject"] == "Merci — café" and item["body"]["content"] == "Ça m'a aidé.\n"


def test_a_kept_box_reads_the_drafts_folder_id_again_before_calling_a_draft_gone(
        fake: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service keeps the account (daemon.cycle.kept), so the Drafts folder's id is kept from
    cycle to cycle: when the mailbox's ids change (a mailbox move), a draft still in Drafts
    must not look gone (it would never be replaced or written again)."""
    import tests.fakes.graph as graph_fake

    box = box_for(fake)
    made = box.create(make_message("a/b/c"), "a/b/c")
    assert box.get(made) == "untouched"
    monkeypatch.setitem(graph_fake._WELL_KNOWN, "drafts", "AAMkDraftsAfterTheMove")
    with fake._lock:
        fake._state.messages[made.id]["parentFolderId"] = "AAMkDraftsAfterTheMove"
    assert box.get(made) == "untouched"
    with fake._lock:
        fake._state.messages[made.id]["parentFolderId"] = "AAMkSomeOtherFolder"
    assert box.get(made) == "gone"
