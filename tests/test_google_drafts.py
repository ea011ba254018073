"""GmailDrafts against the fake: what is sent, exactly-once creates under faults, find's
bounds, and the edit/delete rules."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httplib2
import pytest

from connectors.google.drafts import GmailDrafts
from daemon.core.errors import ConnectorError, TransientError
from daemon.core.model import DraftRef, ThreadRef
from tests.contract.drafts_contract import make_message
from tests.contract.test_google import mime
from tests.fakes.google import FakeGoogle, Fault, Schemas, fast_session

KEY = "m1/thank_you/dana@example.org"


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    try:
        yield server
    finally:
        assert server.send_requests() == []
        server.stop()


def box(fake: FakeGoogle, sleeps: list[float] | None = None, timeout: float = 10.0,
        attempts: int = 5) -> GmailDrafts:
    """Drafts on the fake; the timeout is far above any reply on a loaded machine (a test of
    the fake's ``slow`` fault passes a short one)."""
    return GmailDrafts(fast_session(fake, timeout=timeout, sleeps=sleeps, attempts=attempts))


def test_create_posts_a_raw_json_body_and_never_uploads(fake: FakeGoogle) -> None:
    message = make_message(KEY)
    ref = box(fake).create(message, KEY)
    [call] = fake.calls("POST")
    assert call.path == "/gmail/v1/users/me/drafts"
    assert set(call.body) == {"message"} and set(call.body["message"]) == {"raw"}
    raw = base64.urlsafe_b64decode(call.body["message"]["raw"])
    assert raw == fake.draft_raw(ref.id)
    assert f"{KEY_LINE}".encode() in raw
    assert ref.fingerprint == fake.drafts[ref.id].message_id


KEY_LINE = f"X-Coffeechat-Key: {KEY}"


def test_create_refuses_a_message_without_its_key(fake: FakeGoogle) -> None:
    with pytest.raises(ValueError):
        box(fake).create(make_message("other"), KEY)
    assert fake.requests == []


@pytest.mark.parametrize("kind", ["drop-after", "slow", "500", "drop"])
def test_a_create_with_an_unknown_outcome_makes_one_draft(kind: str, fake: FakeGoogle) -> None:
    fake.slow_seconds = 0.8
    fake.script(Fault(kind, path="/drafts", method="POST"))  # type: ignore[arg-type]
    ref = box(fake, timeout=0.5 if kind == "slow" else 10.0).create(make_message(KEY), KEY)
    assert list(fake.drafts) == [ref.id]
    assert len(fake.calls("GET", "/drafts")) >= 1, "it looked before writing again"


def test_a_throttled_create_is_retried_without_looking(fake: FakeGoogle) -> None:
    fake.script(Fault("429", retry_after="0", path="/drafts", method="POST"))
    sleeps: list[float] = []
    box(fake, sleeps).create(make_message(KEY), KEY)
    assert len(fake.drafts) == 1 and sleeps == [0.0]
    assert fake.calls("GET") == []


def test_httplib2_would_send_a_create_twice() -> None:
    """Why the connector has its own transport: httplib2 resends a POST whose connection
    dropped after the server acted on it."""
    server = FakeGoogle().start()
    try:
        server.script(Fault("drop-after", path="/drafts", method="POST"))
        body = json.dumps({"message": {"raw": "U3ViamVjdDogeA0KDQp4"}})
        with contextlib.suppress(Exception):  # the outcome of the call does not matter here
            httplib2.Http(timeout=2).request(
                server.api_root + "gmail/v1/users/me/drafts", "POST", body=body,
                headers={"authorization": "Bearer t", "content-type": "application/json"})
        assert len(server.calls("POST")) == 2 and len(server.drafts) == 2
    finally:
        server.stop()


def test_find_reads_only_a_bounded_number_of_drafts(fake: FakeGoogle) -> None:
    drafts = box(fake, attempts=1)  # counted requests: a retry would change the count
    target = drafts.create(make_message(KEY), KEY)
    for i in range(150):
        fake.add_draft(f"Subject: {i}\r\nX-Coffeechat-Key: k{i}\r\n\r\nx\r\n".encode())
    before = len(fake.requests)
    found = drafts.find(KEY)
    assert found == target
    assert len(fake.requests) - before == 2 + 151  # two list pages, then each draft's headers
    assert drafts.find("never/made/x") is None


def test_find_stops_after_five_pages(fake: FakeGoogle) -> None:
    drafts = box(fake, attempts=1)  # counted requests: a retry would change the count
    drafts.create(make_message(KEY), KEY)
    for _ in range(500):
        fake.add_draft(b"Subject: someone else's draft\r\n\r\nx\r\n")
    assert drafts.find(KEY) is None
    lists = [r for r in fake.calls("GET", "/drafts") if r.path.endswith("/drafts")]
    assert len(lists) == 5
    assert len(fake.calls("GET", "/drafts")) == 5 + 500


def test_get_without_fingerprint_counts_as_edited(fake: FakeGoogle) -> None:
    ref = box(fake).create(make_message(KEY), KEY)
    assert box(fake).get(DraftRef(ref.id)) == "edited"


def test_update_and_delete_leave_an_edited_draft_alone(fake: FakeGoogle) -> None:
    drafts = box(fake)
    ref = drafts.create(make_message(KEY), KEY)
    fake.user_edits_draft(ref.id)
    edited = fake.draft_raw(ref.id)
    with pytest.raises(ConnectorError, match="changed by you"):
        drafts.update(ref, make_message(KEY, subject="New"))
    drafts.delete(ref)
    assert fake.draft_raw(ref.id) == edited
    assert fake.calls("PUT") == [] and fake.calls("DELETE") == []


def test_update_gives_a_new_fingerprint(fake: FakeGoogle) -> None:
    drafts = box(fake)
    ref = drafts.create(make_message(KEY), KEY)
    new = drafts.update(ref, make_message(KEY, subject="Moved to Thursday"))
    assert new.id == ref.id and new.fingerprint != ref.fingerprint
    assert drafts.get(ref) == "edited" and drafts.get(new) == "untouched"
    [put] = fake.calls("PUT")
    assert set(put.body) == {"id", "message"}


def test_giving_up_says_the_next_cycle_retries(fake: FakeGoogle) -> None:
    fake.script(*[Fault("429", retry_after="0", path="/drafts")] * 5)
    with pytest.raises(TransientError, match="next cycle"):
        box(fake).create(make_message(KEY), KEY)
    assert fake.drafts == {}


def _post(fake: FakeGoogle, body: object) -> tuple[int, str]:
    request = urllib.request.Request(
        fake.api_root + "gmail/v1/users/me/drafts", data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_fake_checks_bodies_against_the_discovery_schema(fake: FakeGoogle) -> None:
    raw = base64.urlsafe_b64encode(b"Subject: hi\r\n\r\nbody\r\n").decode()
    assert _post(fake, {"message": {"raw": raw}})[0] == 200
    status, text = _post(fake, {"message": {"raw": raw, "bogus": 1}})
    assert status == 400
    assert json.loads(text)["error"]["message"] == ('Invalid JSON payload received. Unknown '
                                                    'name "message.bogus"')
    assert _post(fake, {"message": {"raw": 5}})[0] == 400
    assert _post(fake, {"message": {"raw": "not base64 !!"}})[0] == 400
    assert _post(fake, {"message": {}})[0] == 400
    assert _post(fake, {"message": {"raw": raw, "labelIds": "DRAFT"}})[0] == 400
    assert len(fake.drafts) == 1


def test_schema_checker_knows_nested_types() -> None:
    schemas = Schemas("gmail.v1")
    assert schemas.check("Draft", {"id": "x", "message": {"labelIds": ["A"],
                                                         "sizeEstimate": 3}}) == []
    problems = schemas.check("Draft", {"message": {"payload": {"headers": [{"nam": "x"}]}}})
    assert problems == ['Invalid JSON payload received. Unknown name '
                        '"message.payload.headers[0].nam"']
    assert schemas.check("Draft", {"message": {"sizeEstimate": "3"}})


# --- reply drafts ----------------------------------------------------------------------------

REPLY_KEY = "dana@example.org/catch_up/1"
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def known_thread(fake: FakeGoogle, subject: str = "Coffee next week?") -> ThreadRef:
    stored = fake.put_message(mime("dana@example.org", "sam@example.com", subject,
                                   "<first@example.org>", AT), AT)
    return ThreadRef("<first@example.org>", subject, thread_id=stored.thread_id,
                     provider_message_id=stored.id)


def reply(thread: ThreadRef, subject: str | None = None) -> EmailMessage:
    message = make_message(REPLY_KEY, subject=subject or f"Re: {thread.subject}")
    message["In-Reply-To"] = thread.message_id
    message["References"] = thread.message_id
    return message


def test_a_reply_draft_carries_the_thread_id(fake: FakeGoogle) -> None:
    thread = known_thread(fake)
    ref = box(fake).create(reply(thread), REPLY_KEY, reply_to=thread)
    [call] = fake.calls("POST", "/drafts")
    assert call.body["message"]["threadId"] == thread.thread_id
    assert fake.drafts[ref.id].thread_id == thread.thread_id


def test_the_fake_files_a_draft_with_another_subject_in_a_new_thread(fake: FakeGoogle) -> None:
    thread = known_thread(fake)
    ref = box(fake).create(reply(thread, subject="Something else"), REPLY_KEY, reply_to=thread)
    assert fake.drafts[ref.id].thread_id != thread.thread_id


def test_a_thread_ref_without_a_gmail_thread_sends_no_thread_id(fake: FakeGoogle) -> None:
    thread = ThreadRef("<first@example.org>", "Coffee next week?")
    box(fake).create(reply(thread), REPLY_KEY, reply_to=thread)
    [call] = fake.calls("POST", "/drafts")
    assert "threadId" not in call.body["message"]


@pytest.mark.parametrize("how", ["never-known", "emptied"])
def test_an_unknown_thread_gives_a_new_conversation_and_a_warning(
        fake: FakeGoogle, how: str, caplog: pytest.LogCaptureFixture) -> None:
    thread = known_thread(fake)
    if how == "emptied":
        fake.delete_message(thread.provider_message_id)
    else:
        thread = ThreadRef(thread.message_id, thread.subject, thread_id="18c0ffee0000",
                           provider_message_id="nope")
    with caplog.at_level(logging.WARNING):
        ref = box(fake).create(reply(thread), REPLY_KEY, reply_to=thread)
    posts = fake.calls("POST", "/drafts")
    assert [("threadId" in p.body["message"]) for p in posts] == [True, False]
    assert list(fake.drafts) == [ref.id]
    assert fake.draft_message(ref.id)["In-Reply-To"] == thread.message_id
    assert "new conversation" in caplog.text
    assert box(fake).find(REPLY_KEY) == ref


def test_update_keeps_the_draft_in_the_thread(fake: FakeGoogle) -> None:
    thread = known_thread(fake)
    drafts = box(fake)
    ref = drafts.create(make_message(REPLY_KEY), REPLY_KEY)
    new = drafts.update(ref, reply(thread), reply_to=thread)
    [put] = fake.calls("PUT")
    assert put.body["message"]["threadId"] == thread.thread_id
    assert fake.drafts[new.id].thread_id == thread.thread_id


def test_update_with_a_vanished_thread_still_replaces_the_draft(
        fake: FakeGoogle, caplog: pytest.LogCaptureFixture) -> None:
    thread = known_thread(fake)
    drafts = box(fake)
    ref = drafts.create(make_message(REPLY_KEY), REPLY_KEY)
    fake.delete_message(thread.provider_message_id)
    with caplog.at_level(logging.WARNING):
        new = drafts.update(ref, reply(thread), reply_to=thread)
    assert [("threadId" in p.body["message"]) for p in fake.calls("PUT")] == [True, False]
    assert drafts.get(new) == "untouched"
    assert "new conversation" in caplog.text


class VanishingDrafts(FakeGoogle):
    """A fake where the user sends each draft right after coffeechat looked at it."""

    def serve(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
              headers: dict[str, str]) -> Any:
        reply = super().serve(method, path, query, body, headers)
        draft_id = path.rsplit("/", 1)[-1]
        if method == "GET" and "/drafts/" in path and draft_id in self.drafts:
            self.user_deletes_draft(draft_id)
        return reply


def test_a_draft_that_vanishes_before_its_update_is_reported_gone() -> None:
    server = VanishingDrafts().start()
    try:
        thread = known_thread(server)
        drafts = box(server)
        ref = drafts.create(make_message(REPLY_KEY), REPLY_KEY)
        with pytest.raises(ConnectorError, match="no longer in Drafts"):
            drafts.update(ref, reply(thread), reply_to=thread)
        assert [("threadId" in p.body["message"]) for p in server.calls("PUT")] == [True, False]
        assert server.drafts == {}
    finally:
        server.stop()
