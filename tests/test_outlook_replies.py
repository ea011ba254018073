"""Outlook reply drafts against the fake Graph, beyond the contract: the requests made, finding
them after a crash, exactly once when an answer is lost, a moved or vanished original, and
updates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from connectors.base import KEY_HEADER
from connectors.outlook.client import GraphClient
from connectors.outlook.drafts import KEY_PROPERTY, GraphDrafts
from connectors.retry import Backoff
from daemon.core.model import ThreadRef
from tests.contract.drafts_contract import make_message
from tests.fakes.graph import (
    DRAFTS_ID,
    FakeGraph,
    Fault,
    FaultKind,
    StaticTokens,
    as_email,
    running,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEY = "dana.whitfield@example.org/catch_up/1"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []


def box_for(fake: FakeGraph) -> GraphDrafts:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work", timeout=0.5,
                         backoff=Backoff(attempts=4, base=0.01), sleep=lambda s: None)
    return GraphDrafts(client)


def their_message(fake: FakeGraph) -> ThreadRef:
    item = fake.put_mail("inbox", sender="dana.whitfield@example.org", to=["sam@example.com"],
                         subject="Coffee next week?", message_id="<coffee@example.org>", at=T0)
    return ThreadRef(message_id="<coffee@example.org>", subject="Coffee next week?",
                     thread_id=item["conversationId"], provider_message_id=item["id"])


def reply(key: str = KEY, subject: str = "Re: Coffee next week?") -> EmailMessage:
    """A reply as the core renders it."""
    message = make_message(key, subject=subject)
    message["In-Reply-To"] = "<coffee@example.org>"
    message["References"] = "<coffee@example.org>"
    return message


def drafts(fake: FakeGraph) -> list[dict[str, object]]:
    return fake.messages(DRAFTS_ID)


def test_create_reply_then_set_what_the_core_rendered(fake: FakeGraph) -> None:
    thread = their_message(fake)
    before = len(fake.requests)
    ref = box_for(fake).create(reply(), KEY, reply_to=thread)
    made = fake.requests[before:]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in made] == [
        ("POST", "createReply"), ("PATCH", ref.id)]
    sent = made[0].body["message"]
    assert sent["singleValueExtendedProperties"] == [{"id": KEY_PROPERTY, "value": KEY}]
    assert "internetMessageHeaders" not in sent and "comment" not in made[0].body
    assert made[1].body["subject"] == "Re: Coffee next week?"
    [item] = drafts(fake)
    assert item["conversationId"] == thread.thread_id
    shown = as_email(item)
    assert shown[KEY_HEADER] == KEY and shown["In-Reply-To"] == "<coffee@example.org>"
    assert shown.get_content() == make_message(KEY).get_content(), "the rendered body only"
    assert ref.fingerprint == item["changeKey"]


def test_a_reply_draft_is_found_after_a_crash_with_one_request(fake: FakeGraph) -> None:
    ref = box_for(fake).create(reply(), KEY, reply_to=their_message(fake))
    before = len(fake.requests)
    found = box_for(fake).find(KEY)
    assert found is not None and found.id == ref.id and found.fingerprint == ref.fingerprint
    assert len(fake.requests) - before == 1


def test_keys_are_compared_exactly_though_graph_ignores_case(fake: FakeGraph) -> None:
    box = box_for(fake)
    box.create(reply(), KEY, reply_to=their_message(fake))
    assert box.find(KEY.upper()) is None


@pytest.mark.parametrize("kind", ["drop_after", "slow"])
def test_a_create_reply_whose_answer_is_lost_is_not_repeated(fake: FakeGraph,
                                                             kind: FaultKind) -> None:
    thread = their_message(fake)
    fake.inject(Fault(kind, method="POST", path="/createReply", delay=0.8))
    ref = box_for(fake).create(reply(), KEY, reply_to=thread)
    [item] = drafts(fake)
    assert item["id"] == ref.id and item["subject"] == "Re: Coffee next week?"
    assert len(fake.requested("POST", "/createReply")) == 1


def test_a_moved_original_is_found_by_its_message_id(fake: FakeGraph) -> None:
    thread = their_message(fake)
    fake.user_deletes(thread.provider_message_id)  # moved: Graph gives it a new id
    box_for(fake).create(reply(), KEY, reply_to=thread)
    [item] = drafts(fake)
    assert item["conversationId"] == thread.thread_id
    posts = fake.requested("POST", "/createReply")
    assert [r.status for r in posts] == [404, 201]


def test_a_vanished_original_gives_a_new_conversation_and_a_warning(
        fake: FakeGraph, caplog: pytest.LogCaptureFixture) -> None:
    thread = ThreadRef(message_id="<gone@example.org>", subject="Old", thread_id="AAQkGone",
                       provider_message_id="AAMkGone=")
    with caplog.at_level(logging.WARNING, "connectors.outlook.drafts"):
        ref = box_for(fake).create(reply(), KEY, reply_to=thread)
    [item] = drafts(fake)
    assert item["id"] == ref.id and item["conversationId"] != "AAQkGone"
    assert as_email(item)[KEY_HEADER] == KEY
    assert "new conversation" in caplog.text and "Old" not in caplog.text


def test_a_reference_without_a_graph_id_is_looked_up(fake: FakeGraph) -> None:
    thread = their_message(fake)
    bare = ThreadRef(message_id=thread.message_id, subject=thread.subject)
    box_for(fake).create(reply(), KEY, reply_to=bare)
    [item] = drafts(fake)
    assert item["conversationId"] == thread.thread_id
    assert [r.status for r in fake.requested("POST", "/createReply")] == [201]


def test_updating_a_reply_draft_keeps_its_conversation_and_key(fake: FakeGraph) -> None:
    box = box_for(fake)
    thread = their_message(fake)
    ref = box.create(reply(), KEY, reply_to=thread)
    newer = box.update(ref, reply(subject="Re: Coffee next week? (moved)"), reply_to=thread)
    [item] = drafts(fake)
    assert item["subject"] == "Re: Coffee next week? (moved)"
    assert item["conversationId"] == thread.thread_id
    assert box.get(newer) == "untouched"
    found = box.find(KEY)
    assert found is not None and found.id == newer.id


def test_a_reply_needs_its_key_in_the_message(fake: FakeGraph) -> None:
    with pytest.raises(ValueError, match=KEY_HEADER):
        box_for(fake).create(reply(), "another/key", reply_to=their_message(fake))
    assert drafts(fake) == []


def test_a_plain_draft_is_still_found_by_its_headers(fake: FakeGraph) -> None:
    box = box_for(fake)
    ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
    assert box.find("m1/thank_you/dana") == ref
    reply_draft = box.create(reply(), KEY, reply_to=their_message(fake))
    assert box.find(KEY) == reply_draft
