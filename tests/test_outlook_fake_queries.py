"""The fake Graph's message queries and createReply refuse what Graph refuses and answer what it
answers, so that the connector's tests against it mean something."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.outlook.client import GraphClient, GraphError
from connectors.retry import Backoff
from daemon.core.model import JSON
from tests.fakes.graph import FakeGraph, StaticTokens, as_email, running

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PROP = "String {00020386-0000-0000-C000-000000000046} Name X-Coffeechat-Key"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server


def get(fake: FakeGraph, path: str, **params: str) -> JSON:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work",
                         backoff=Backoff(attempts=1), sleep=lambda s: None)
    return client.request("GET", client.url(path), "testing", params=params).body


def post(fake: FakeGraph, path: str, body: Any, method: str = "POST") -> JSON:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work",
                         backoff=Backoff(attempts=1), sleep=lambda s: None)
    return client.request(method, client.url(path), "testing", body=body).body


def code_of(call: Any) -> str:
    with pytest.raises(GraphError) as caught:
        call()
    assert caught.value.status == 400
    return caught.value.code


def subjects(answer: JSON) -> list[str]:
    return [m["subject"] for m in answer["value"]]


@pytest.fixture
def mailbox(fake: FakeGraph) -> FakeGraph:
    for n, (sender, subject) in enumerate([("dana@example.org", "a"), ("Dana@Example.org", "b"),
                                           ("lee@example.net", "it's")]):
        fake.put_mail("inbox", sender=sender, to=["sam@example.com"], subject=subject,
                      message_id=f"<m{n}@x>", at=T0 + timedelta(hours=n))
    return fake


def test_filter_and_orderby_as_graph_reads_them(mailbox: FakeGraph) -> None:
    answer = get(mailbox, "/me/messages", **{
        "$filter": "receivedDateTime ge 2026-03-02T15:30:00Z and "
                   "from/emailAddress/address eq 'DANA@example.org'",
        "$orderby": "receivedDateTime desc"})
    assert subjects(answer) == ["b"], "addresses compare without case; times compare as times"
    answer = get(mailbox, "/me/messages", **{
        "$filter": "(subject eq 'a' or subject eq 'it''s') and not isDraft eq true",
        "$orderby": "subject"})
    assert subjects(answer) == ["a", "it's"]


@pytest.mark.parametrize(("params", "code"), [
    ({"$filter": "toRecipients/any(r: r/emailAddress/address eq 'a@b.c')"},
     "ErrorInvalidUrlQueryFilter"),
    ({"$filter": "from/emailAddress/address eq 'a@b.c' and receivedDateTime ge "
                 "2026-01-01T00:00:00Z", "$orderby": "receivedDateTime desc"}, "InefficientFilter"),
    ({"$filter": "subject eq 'a'", "$orderby": "receivedDateTime desc"}, "InefficientFilter"),
    ({"$search": '"to:a@b.c"', "$orderby": "receivedDateTime desc"}, "ErrorInvalidUrlQuery"),
    ({"$search": '"to:a@b.c"', "$filter": "subject eq 'a'"}, "ErrorInvalidUrlQuery"),
    ({"$filter": "colour eq 'red'"}, "RequestBroker--ParseUri"),
    ({"$filter": "receivedDateTime ge '2026-01-01'"}, "BadRequest"),
    ({"$filter": "subject eq 'a' and"}, "BadRequest"),
    ({"$expand": "attachments"}, "BadRequest"),
])
def test_what_graph_refuses_is_refused(mailbox: FakeGraph, params: dict[str, str],
                                       code: str) -> None:
    assert code_of(lambda: get(mailbox, "/me/messages", **params)) == code


def test_search_matches_recipients_and_sorts_by_time_sent(fake: FakeGraph) -> None:
    for n, (to, cc, bcc) in enumerate([(["dana@example.org"], [], []),
                                       (["lee@example.net"], ["dana@example.org"], []),
                                       (["lee@example.net"], [], ["dana@example.org"]),
                                       (["lee@example.net"], [], [])]):
        fake.put_mail("sentitems", to=to, cc=cc, bcc=bcc, subject=f"s{n}",
                      message_id=f"<s{n}@x>", at=T0 + timedelta(hours=n))
    found = get(fake, "/me/mailFolders/sentitems/messages",
                **{"$search": '"recipients:dana@example.org"'})
    assert subjects(found) == ["s2", "s1", "s0"]
    found = get(fake, "/me/mailFolders/sentitems/messages",
                **{"$search": '"to:dana@example.org OR cc:dana@example.org"'})
    assert subjects(found) == ["s1", "s0"]
    assert subjects(get(fake, "/me/mailFolders/inbox/messages",
                        **{"$search": '"recipients:dana@example.org"'})) == []


def test_extended_properties_show_only_when_expanded(fake: FakeGraph) -> None:
    made = post(fake, "/me/messages", {"subject": "x", "singleValueExtendedProperties": [
        {"id": PROP, "value": "k/1"}, {"id": "String 0x1234", "value": "other"}]})
    assert "singleValueExtendedProperties" not in made
    post(fake, f"/me/messages/{made['id']}", {"singleValueExtendedProperties": [
        {"id": PROP, "value": "k/2"}]}, method="PATCH")
    shown = get(fake, f"/me/messages/{made['id']}",
                **{"$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"})
    assert shown["singleValueExtendedProperties"] == [{"id": PROP, "value": "k/2"}]
    stored = fake.message(made["id"])
    assert stored is not None and as_email(stored)["X-Coffeechat-Key"] == "k/2"
    wanted = f"singleValueExtendedProperties/any(ep: ep/id eq '{PROP}' and ep/value eq 'K/2')"
    assert [m["id"] for m in get(fake, "/me/mailFolders/drafts/messages",
                                 **{"$filter": wanted})["value"]] == [made["id"]]
    lower = wanted.replace("X-Coffeechat-Key", "x-coffeechat-key")
    assert get(fake, "/me/mailFolders/drafts/messages", **{"$filter": lower})["value"] == [], \
        "the name in a property id is case-sensitive"
    assert code_of(lambda: post(fake, "/me/messages", {"singleValueExtendedProperties": [
        {"id": "X-Coffeechat-Key", "value": "k"}]})) == "ErrorInvalidProperty"


def test_create_reply_threads_and_addresses_the_draft(fake: FakeGraph) -> None:
    first = fake.put_mail("sentitems", to=["dana@example.org"], subject="Intro",
                          message_id="<intro@x>", at=T0)
    theirs = fake.put_mail("inbox", sender="dana@example.org", to=["sam@example.com"],
                           subject="Coffee?", message_id="<coffee@x>",
                           references=("<intro@x>",), at=T0 + timedelta(hours=1))
    assert theirs["conversationId"] == first["conversationId"]
    draft = post(fake, f"/me/messages/{theirs['id']}/createReply", {"comment": "Sure"})
    assert draft["isDraft"] is True and draft["subject"] == "RE: Coffee?"
    assert draft["conversationId"] == theirs["conversationId"]
    assert draft["toRecipients"] == [{"emailAddress": {"name": "", "address":
                                                       "dana@example.org"}}]
    stored = fake.message(draft["id"])
    assert stored is not None
    shown = as_email(stored)
    assert shown["In-Reply-To"] == "<coffee@x>"
    assert shown["References"] == "<intro@x> <coffee@x>"


@pytest.mark.parametrize(("body", "code"), [
    ({"comment": "x", "message": {"body": {"contentType": "text", "content": "y"}}},
     "ErrorInvalidRequest"),
    ({"message": {"internetMessageHeaders": [{"name": "X-A", "value": "1"}]}},
     "ErrorInvalidPropertyUpdate"),
    ({"toRecipients": []}, "RequestBodyRead"),
])
def test_create_reply_refuses(fake: FakeGraph, body: JSON, code: str) -> None:
    theirs = fake.put_mail("inbox", sender="dana@example.org", to=["sam@example.com"],
                           subject="Coffee?", message_id="<coffee@x>", at=T0)
    assert code_of(lambda: post(fake, f"/me/messages/{theirs['id']}/createReply", body)) == code


def test_create_reply_to_an_unknown_message_is_not_found(fake: FakeGraph) -> None:
    with pytest.raises(GraphError) as caught:
        post(fake, "/me/messages/AAMkNoSuchThing=/createReply", {})
    assert (caught.value.status, caught.value.code) == (404, "ErrorItemNotFound")


@pytest.mark.parametrize("action", ["send", "reply", "replyAll", "forward"])
def test_every_sending_action_is_refused_and_recorded(fake: FakeGraph, action: str) -> None:
    theirs = fake.put_mail("inbox", sender="dana@example.org", to=["sam@example.com"],
                           subject="Coffee?", message_id="<coffee@x>", at=T0)
    with pytest.raises(GraphError) as caught:
        post(fake, f"/me/messages/{theirs['id']}/{action}", {})
    assert caught.value.status == 403
    assert len(fake.send_requests()) == 1
