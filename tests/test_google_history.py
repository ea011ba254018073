"""GmailHistory against the fake: what it asks Gmail (and how often), how it quotes addresses,
the exact checks after Gmail's loose search, and the mapping of message metadata."""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.google.history import HEADERS, PAGE_SIZE, GmailHistory, read_message
from daemon.core.errors import AuthError
from daemon.core.msgid import MAX_REFERENCES
from tests.contract.test_google import mime
from tests.fakes.google import FakeGoogle, Fault, fast_session

ME = "sam@example.com"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SINCE = T0 - timedelta(days=30)
AFTER = int(SINCE.timestamp()) - 1


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    server.me = (ME,)
    try:
        yield server
    finally:
        assert server.send_requests() == []
        server.stop()


def history(fake: FakeGoogle, **session: Any) -> GmailHistory:
    return GmailHistory(fast_session(fake, **session))


def receive(fake: FakeGoogle, sender: str, at: datetime, message_id: str,
            subject: str = "Hello", labels: tuple[str, ...] = ("INBOX",)) -> None:
    fake.put_message(mime(sender, ME, subject, message_id, at), at, labels)


def send(fake: FakeGoogle, to: str, at: datetime, message_id: str) -> None:
    fake.put_message(mime(ME, to, "Re: Hello", message_id, at), at, ("SENT",))


# --- what is asked, and how often ------------------------------------------------------------


def test_each_contact_costs_two_searches_and_a_read_per_direction_with_mail(
        fake: FakeGoogle) -> None:
    receive(fake, "dana@example.org", T0, "<d1@example.org>")
    send(fake, "dana@example.org", T0 + timedelta(hours=1), "<s1@example.com>")
    receive(fake, "lee@example.net", T0, "<l1@example.net>")
    # counted requests: no retry may add one
    result = history(fake, attempts=1, timeout=10.0).history(
        ["dana@example.org", "lee@example.net", "kim@example.com"], SINCE)
    assert result["dana@example.org"].last_to_contact is not None
    assert result["lee@example.net"].last_to_contact is None
    assert result["kim@example.com"].latest is None
    lists = [r for r in fake.calls("GET") if r.path.endswith("/messages")]
    gets = [r for r in fake.calls("GET") if "/messages/" in r.path]
    assert len(lists) == 6 and len(gets) == 3
    assert len(fake.requests) == 9 and all(r.method == "GET" for r in fake.requests)
    for call in lists:
        assert call.query["maxResults"] == [str(PAGE_SIZE)]
    for call in gets:
        assert call.query["format"] == ["metadata"]
        assert call.query["metadataHeaders"] == list(HEADERS)


def test_the_searches_say_who_wrote_and_exclude_drafts(fake: FakeGoogle) -> None:
    history(fake).history(["dana@example.org"], SINCE)
    queries = [r.query["q"][0] for r in fake.calls("GET", "/messages")]
    assert queries == [
        f'from:"dana@example.org" -in:drafts after:{AFTER}',
        f'{{from:me in:sent}} {{to:"dana@example.org" cc:"dana@example.org"}} -in:drafts '
        f"after:{AFTER}",
    ]


def test_an_unusual_but_plain_address_is_quoted_and_found(fake: FakeGoogle) -> None:
    odd = "o'neil+{chat}@example.org"
    receive(fake, odd, T0, "<odd@example.org>")
    seen = history(fake).history([odd], SINCE)[odd]
    assert seen.last_from_contact is not None
    assert seen.last_from_contact.thread.message_id == "<odd@example.org>"
    assert fake.calls("GET", "/messages")[0].query["q"][0].startswith(f'from:"{odd}" ')


@pytest.mark.parametrize("address", ['dana@example.org" OR from:*', "a b@example.org",
                                     "dana@example.org)", "not-an-address"])
def test_an_address_that_could_break_the_search_is_not_searched(
        fake: FakeGoogle, address: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = history(fake).history([address, "lee@example.net"], SINCE)
    assert result[address.lower()].latest is None
    assert all(address.lower() not in r.query["q"][0].lower()
               for r in fake.calls("GET", "/messages"))
    assert len(fake.calls("GET", "/messages")) == 2, "only lee was searched"
    assert "not a plain e-mail address" in caplog.text


def test_a_throttled_search_is_retried(fake: FakeGoogle) -> None:
    receive(fake, "dana@example.org", T0, "<d1@example.org>")
    fake.script(Fault("429", retry_after="0", path="/messages"))
    sleeps: list[float] = []
    seen = history(fake, sleeps=sleeps).history(["dana@example.org"], SINCE)
    assert seen["dana@example.org"].last_from_contact is not None
    assert sleeps == [0.0]


# --- the exact checks after a loose search ---------------------------------------------------


def test_a_loose_search_hit_is_not_taken_for_the_contact(fake: FakeGoogle) -> None:
    receive(fake, "dana@example.org", T0, "<real@example.org>")
    receive(fake, "grandana@example.org", T0 + timedelta(days=1), "<other@example.org>")
    seen = history(fake).history(["dana@example.org"], SINCE)["dana@example.org"]
    assert seen.last_from_contact is not None
    assert seen.last_from_contact.thread.message_id == "<real@example.org>"
    assert len([r for r in fake.calls("GET") if "/messages/" in r.path]) == 2


def test_a_message_without_a_message_id_is_skipped_for_the_next(
        fake: FakeGoogle, caplog: pytest.LogCaptureFixture) -> None:
    receive(fake, "dana@example.org", T0, "<good@example.org>")
    raw = mime("dana@example.org", ME, "No id", "<x@y>", T0 + timedelta(days=1))
    raw = re.sub(rb"Message-ID: <x@y>\r?\n", b"", raw)
    fake.put_message(raw, T0 + timedelta(days=1))
    with caplog.at_level(logging.INFO):
        seen = history(fake).history(["dana@example.org"], SINCE)["dana@example.org"]
    assert seen.last_from_contact is not None
    assert seen.last_from_contact.thread.message_id == "<good@example.org>"
    assert "no usable Message-ID" in caplog.text


def test_since_is_exact_to_the_millisecond(fake: FakeGoogle) -> None:
    since = T0 + timedelta(milliseconds=500)
    receive(fake, "dana@example.org", since, "<on-time@example.org>")
    receive(fake, "lee@example.net", since - timedelta(milliseconds=1), "<early@example.net>")
    result = history(fake).history(["dana@example.org", "lee@example.net"], since)
    assert result["dana@example.org"].last_from_contact is not None
    assert result["dana@example.org"].last_from_contact.at == since
    assert result["lee@example.net"].last_from_contact is None


def test_spam_and_trash_do_not_count(fake: FakeGoogle) -> None:
    receive(fake, "dana@example.org", T0, "<spam@example.org>", labels=("SPAM",))
    receive(fake, "dana@example.org", T0, "<trash@example.org>", labels=("TRASH",))
    assert history(fake).history(["dana@example.org"], SINCE)["dana@example.org"].latest is None


def test_a_naive_since_is_refused(fake: FakeGoogle) -> None:
    with pytest.raises(ValueError, match="aware"):
        history(fake).history(["dana@example.org"], datetime(2026, 3, 1))
    assert fake.requests == []


# --- permission ------------------------------------------------------------------------------


def test_a_token_without_the_read_scope_is_an_auth_error(fake: FakeGoogle) -> None:
    fake.token_scopes["test-token"] = frozenset(
        {"https://www.googleapis.com/auth/gmail.compose"})
    with pytest.raises(AuthError, match="token_command") as caught:
        history(fake).history(["dana@example.org"], SINCE)
    assert "insufficient authentication scopes" in str(caught.value)
    assert len(fake.requests) == 1, "a refusal is not retried"


# --- mapping ---------------------------------------------------------------------------------


def metadata(**headers: str) -> dict[str, Any]:
    return {"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "internalDate": "1772463600123",
            "payload": {"headers": [{"name": k.replace("_", "-"), "value": v}
                                    for k, v in headers.items()]}}


def test_read_message_maps_the_thread() -> None:
    found = read_message(metadata(
        Message_ID="<d2@example.org>", Subject="Re: Coffee",
        References="<a@x> junk <b@x>", In_Reply_To="<b@x>",
        From="Dana <Dana@Example.org>", To="sam@example.com", Cc="Lee <lee@example.net>, bad"))
    assert found is not None and found.thread is not None
    assert found.at == datetime(2026, 3, 2, 15, 0, 0, 123000, tzinfo=UTC)
    assert found.thread.message_id == "<d2@example.org>"
    assert found.thread.references == ("<a@x>", "<b@x>")
    assert (found.thread.thread_id, found.thread.provider_message_id) == ("t1", "m1")
    assert found.senders == {"dana@example.org"}
    assert found.recipients == {"sam@example.com", "lee@example.net"}


def test_read_message_cleans_and_bounds_untrusted_headers() -> None:
    refs = " ".join(f"<r{i}@x>" for i in range(80))
    found = read_message(metadata(Message_ID="<d@x>", Subject="Hi\r\nBcc: evil@x =?utf-8?q?x?=",
                                  References=refs))
    assert found is not None and found.thread is not None
    assert "\n" not in found.thread.subject and "=?" not in found.thread.subject
    assert len(found.thread.references) == MAX_REFERENCES
    assert found.thread.references[0] == "<r0@x>" and found.thread.references[-1] == "<r79@x>"


def test_read_message_takes_in_reply_to_when_there_are_no_references() -> None:
    found = read_message(metadata(Message_ID="<d@x>", In_Reply_To="<parent@x>"))
    assert found is not None and found.thread is not None
    assert found.thread.references == ("<parent@x>",)


@pytest.mark.parametrize("value", ["", "d@x", "<d@x> <e@x>", "<d x@y>", "<a@b@c>", "<d@x> junk"])
def test_read_message_gives_no_thread_without_a_usable_message_id(value: str) -> None:
    found = read_message(metadata(Message_ID=value))
    assert found is not None and found.thread is None


@pytest.mark.parametrize("date", [None, "", "soon", "9" * 30])
def test_read_message_needs_a_date(date: str | None) -> None:
    data = metadata(Message_ID="<d@x>")
    data["internalDate"] = date
    assert read_message(data) is None


# --- the fake itself: honest enough to trust ---------------------------------------------------


def api(fake: FakeGoogle, path: str, params: list[tuple[str, str]] | None = None,
        body: object = None, token: str = "t") -> tuple[int, Any]:
    url = fake.api_root + "gmail/v1/users/me/" + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def search(fake: FakeGoogle, q: str) -> list[str]:
    status, page = api(fake, "messages", [("q", q)])
    assert status == 200, page
    return [m["id"] for m in page.get("messages", [])]


def test_the_fake_parses_the_search_language(fake: FakeGoogle) -> None:
    a = fake.put_message(mime("ana@x.org", ME, "A", "<a@x>", T0), T0).id
    b = fake.put_message(mime(ME, "bo@x.org", "B", "<b@x>", T0 + timedelta(hours=1)),
                         T0 + timedelta(hours=1), ("SENT",)).id
    c = fake.put_message(mime("cy@x.org", "bo@x.org", "C", "<c@x>", T0 + timedelta(hours=2),
                              cc=(ME,)), T0 + timedelta(hours=2)).id
    assert search(fake, "") == [c, b, a]
    assert search(fake, "from:me") == [b]
    assert search(fake, 'to:"bo@x.org"') == [c, b]
    assert search(fake, "{from:ana@x.org cc:me}") == [c, a]
    assert search(fake, "from:ana@x.org OR from:cy@x.org") == [c, a]
    assert search(fake, "-in:sent (to:bo@x.org cc:me)") == [c]
    assert search(fake, f"after:{int(T0.timestamp())}") == [c, b]
    assert search(fake, f"before:{int(T0.timestamp()) + 3600}") == [a]


@pytest.mark.parametrize("q", ["hello", "subject:Coffee", "{from:a@x", "from:a@x)",
                               "after:2026/03/01", 'from:"unclosed'])
def test_the_fake_refuses_what_it_does_not_model(fake: FakeGoogle, q: str) -> None:
    status, answer = api(fake, "messages", [("q", q)])
    assert status == 400, answer


@pytest.mark.parametrize("params", [[("bogus", "1")], [("maxResults", "0")],
                                    [("maxResults", "501")], [("q", "a"), ("q", "b")]])
def test_the_fake_checks_list_parameters(fake: FakeGoogle,
                                         params: list[tuple[str, str]]) -> None:
    assert api(fake, "messages", params)[0] == 400


def test_the_fake_lists_drafts_as_messages_and_serves_metadata(fake: FakeGoogle) -> None:
    fake.add_draft(mime(ME, "dana@example.org", "Draft", "<dr@x>", T0), T0)
    [draft] = fake.drafts.values()
    assert search(fake, "in:drafts") == [draft.message_id]
    assert search(fake, "-in:drafts") == []
    status, message = api(fake, f"messages/{draft.message_id}",
                          [("format", "metadata"), ("metadataHeaders", "Subject"),
                           ("metadataHeaders", "message-id")])
    assert status == 200
    assert message["labelIds"] == ["DRAFT"]
    assert message["internalDate"] == str(int(T0.timestamp() * 1000))
    assert {h["name"] for h in message["payload"]["headers"]} == {"Subject", "Message-ID"}
    assert api(fake, "messages/nope", [("format", "metadata")])[0] == 404
    assert api(fake, f"messages/{draft.message_id}", [("format", "tiny")])[0] == 400


def test_the_fake_refuses_a_thread_it_does_not_know(fake: FakeGoogle) -> None:
    raw = base64.urlsafe_b64encode(mime(ME, "d@x.org", "Re: Hi", "<r@x>", T0)).decode()
    status, answer = api(fake, "drafts", body={"message": {"raw": raw, "threadId": "t999"}})
    assert (status, answer["error"]["message"]) == (400, "Invalid thread_id value")
    kept = fake.put_message(mime("d@x.org", ME, "Hi", "<h@x>", T0), T0)
    fake.delete_message(kept.id)
    status, _ = api(fake, "drafts", body={"message": {"raw": raw, "threadId": kept.thread_id}})
    assert status == 404
    assert fake.drafts == {}


def test_the_fake_enforces_the_scopes_of_the_discovery_document(fake: FakeGoogle) -> None:
    fake.token_scopes["compose"] = frozenset({"https://www.googleapis.com/auth/gmail.compose"})
    fake.token_scopes["read"] = frozenset({"https://www.googleapis.com/auth/gmail.readonly"})
    raw = base64.urlsafe_b64encode(b"Subject: x\r\n\r\nx\r\n").decode()
    assert api(fake, "messages", token="compose")[0] == 403
    assert api(fake, "messages", token="read")[0] == 200
    assert api(fake, "drafts", body={"message": {"raw": raw}}, token="read")[0] == 403
    assert api(fake, "drafts", body={"message": {"raw": raw}}, token="compose")[0] == 200
