"""Outlook mail history against the fake Graph, beyond the contract: the queries it sends, how
many, where it stops, what it does with hostile or odd mail, and a mailbox it may not read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.outlook.client import GraphClient
from connectors.outlook.history import FROM_PAGE, SEARCH_PAGE, SEARCH_PAGES, GraphHistory
from connectors.retry import Backoff
from daemon.core.errors import AuthError
from daemon.core.msgid import MAX_REFERENCES
from tests.contract.mail_contract import DANA, LEE, ME, SINCE, T0
from tests.fakes.graph import FakeGraph, Fault, StaticTokens, running


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running() as server:
        yield server
        assert server.send_requests() == []
        assert server.requested("POST") == server.requested("PATCH") == []
        assert server.requested("DELETE") == [], "reading mail changes nothing"


def history_for(fake: FakeGraph) -> GraphHistory:
    client = GraphClient(fake.root, StaticTokens(fake.token), account="work", timeout=2.0,
                         backoff=Backoff(attempts=3, base=0.01), sleep=lambda s: None)
    return GraphHistory(client)


def mail_requests(fake: FakeGraph) -> list[str]:
    return [r.path for r in fake.requested("GET")]


def test_two_requests_per_contact_and_the_queries_graph_accepts(fake: FakeGraph) -> None:
    fake.put_mail("inbox", sender=DANA, to=[ME], subject="Hi", message_id="<d1@x>", at=T0)
    fake.put_mail("sentitems", to=[DANA], subject="Re: Hi", message_id="<s1@x>",
                  at=T0 + timedelta(hours=1))
    result = history_for(fake).history([DANA, LEE], SINCE)
    assert result[DANA].last_from_contact is not None
    assert result[DANA].last_to_contact is not None
    assert result[LEE].latest is None
    assert mail_requests(fake) == ["/me/messages", "/me/mailFolders/sentitems/messages"] * 2
    received, sent = fake.requested("GET")[:2]
    assert received.query["$filter"] == [
        f"receivedDateTime ge 2026-01-31T15:00:00Z and from/emailAddress/address eq '{DANA}'"]
    assert received.query["$orderby"] == ["receivedDateTime desc"]
    assert received.query["$top"] == [str(FROM_PAGE)]
    assert received.query["$expand"] == [
        "singleValueExtendedProperties($filter=id eq 'String 0x001A')"]
    assert sent.query["$search"] == [f'"recipients:{DANA}"']
    assert "$filter" not in sent.query and "$orderby" not in sent.query
    assert all(r.status == 200 for r in fake.requests)


def test_the_walk_through_sent_mail_is_bounded(fake: FakeGraph) -> None:
    for n in range(SEARCH_PAGE * SEARCH_PAGES + 10):
        fake.put_mail("sentitems", to=[LEE], bcc=[DANA], subject=f"Bcc {n}",
                      message_id=f"<bcc-{n}@x>", at=T0 + timedelta(minutes=n))
    seen = history_for(fake).history([DANA], SINCE)[DANA]
    assert seen.last_to_contact is None, "a blind copy is not writing to someone"
    assert len(fake.requested("GET", "/sentitems/")) == SEARCH_PAGES


def test_the_newest_to_or_cc_wins_over_newer_blind_copies(fake: FakeGraph) -> None:
    fake.put_mail("sentitems", to=[LEE], cc=[DANA], subject="Intro", message_id="<cc@x>", at=T0)
    for n in range(5):
        fake.put_mail("sentitems", to=[LEE], bcc=[DANA], subject=f"Bcc {n}",
                      message_id=f"<bcc-{n}@x>", at=T0 + timedelta(days=1, minutes=n))
    seen = history_for(fake).history([DANA], SINCE)[DANA]
    assert seen.last_to_contact is not None
    assert seen.last_to_contact.at == T0
    assert seen.last_to_contact.thread.message_id == "<cc@x>"


def test_sent_mail_older_than_since_ends_the_walk(fake: FakeGraph) -> None:
    for n in range(SEARCH_PAGE + 5):
        fake.put_mail("sentitems", to=[DANA], subject=f"Old {n}", message_id=f"<old-{n}@x>",
                      at=SINCE - timedelta(days=1, minutes=n))
    assert history_for(fake).history([DANA], SINCE)[DANA].last_to_contact is None
    assert len(fake.requested("GET", "/sentitems/")) == 1


def test_the_thread_of_a_received_message(fake: FakeGraph) -> None:
    refs = tuple(f"<r{n}@x>" for n in range(30))
    stored = fake.put_mail("inbox", sender=DANA, to=[ME], subject="Line one\r\nBcc: evil@x",
                           message_id="<dana-7@example.org>", references=refs, at=T0)
    seen = history_for(fake).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.at == T0
    thread = seen.thread
    assert thread.message_id == "<dana-7@example.org>"
    assert thread.subject == "Line one Bcc: evil@x", "one line, no header break"
    assert thread.references == (refs[0], *refs[-(MAX_REFERENCES - 1):]), "first and newest"
    assert thread.thread_id == stored["conversationId"]
    assert thread.provider_message_id == stored["id"]


def test_an_odd_message_id_is_not_passed_on(fake: FakeGraph) -> None:
    fake.put_mail("inbox", sender=DANA, to=[ME], subject="Hi", message_id="no brackets", at=T0)
    seen = history_for(fake).history([DANA], SINCE)[DANA].last_from_contact
    assert seen is not None and seen.thread.message_id == ""


def test_an_address_that_is_not_one_is_not_looked_up(fake: FakeGraph) -> None:
    odd = "dana' or from/emailAddress/address ne 'x"
    result = history_for(fake).history([odd], SINCE)
    assert result[odd].latest is None
    assert fake.requests == []


def test_a_quote_in_an_address_is_escaped(fake: FakeGraph) -> None:
    fake.put_mail("inbox", sender="o'hara@example.org", to=[ME], subject="Hi",
                  message_id="<oh@x>", at=T0)
    seen = history_for(fake).history(["o'hara@example.org"], SINCE)["o'hara@example.org"]
    assert seen.last_from_contact is not None
    assert "'o''hara@example.org'" in fake.requested("GET")[0].query["$filter"][0]


def test_a_naive_since_is_refused(fake: FakeGraph) -> None:
    with pytest.raises(ValueError, match="aware"):
        history_for(fake).history([DANA], SINCE.replace(tzinfo=None))


def test_a_mailbox_it_may_not_read_asks_to_sign_in_again(fake: FakeGraph) -> None:
    fake.inject(Fault("forbidden", method="GET", path="/me/messages"))
    with pytest.raises(AuthError, match="coffeechat auth outlook --account work") as caught:
        history_for(fake).history([DANA], SINCE)
    assert "Mail.Read" in str(caught.value)


def test_throttling_is_retried(fake: FakeGraph) -> None:
    fake.put_mail("sentitems", to=[DANA], subject="Thanks", message_id="<t@x>", at=T0)
    fake.inject(Fault("throttle", path="/sentitems/", retry_after=0))
    seen = history_for(fake).history([DANA], SINCE)[DANA]
    assert seen.last_to_contact is not None and seen.last_to_contact.at == T0
    assert [r.status for r in fake.requested("GET", "/sentitems/")] == [429, 200]


def test_mail_from_the_contact_in_any_folder_counts(fake: FakeGraph) -> None:
    stored = fake.put_mail("inbox", sender=DANA, to=[ME], subject="Hi", message_id="<d@x>",
                           at=T0)
    fake.user_deletes(stored["id"])
    seen = history_for(fake).history([DANA], SINCE)[DANA]
    assert seen.last_from_contact is not None and seen.last_from_contact.at == T0
