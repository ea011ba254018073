"""The ledger's exactly-once protocol on its own: a kill (``Crash``) before or after the
provider call leaves on disk a record that the next run settles to exactly one draft (or, for
a withdrawal, none). Each test reads the state back from disk after the kill, so each fails if
the intent is not saved before the call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import KEY_HEADER
from daemon.core.errors import TransientError
from daemon.core.model import DraftRecord, DraftRef
from daemon.state.ledger import Ledger
from daemon.state.store import Store
from tests.memory import Crash, MemoryDrafts

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
KEY = "m1/thank_you/ana@example.org"


def message(key: str = KEY, ident: str = "<one@coffeechat.test>") -> EmailMessage:
    out = EmailMessage()
    out["From"], out["To"], out["Subject"] = "sam@example.com", "ana@example.org", "Thanks"
    out["Message-ID"], out[KEY_HEADER] = ident, key
    out.set_content("Thank you for your time.\n")
    return out


def intent(written: EmailMessage) -> DraftRecord:
    return DraftRecord(key=KEY, kind="thank_you", contact="ana@example.org", account="personal",
                       meeting_uid="m1", state="creating", due=NOW, reason="the meeting ended",
                       created_at=NOW, message_id=str(written["Message-ID"]))


def opened(path: Path) -> tuple[Store, Ledger]:
    store = Store(path, writable=True)
    return store, Ledger(store, lambda: NOW + timedelta(minutes=1))


def create(path: Path, drafts: MemoryDrafts) -> Callable[[], DraftRecord]:
    """A run that makes the draft through the ledger."""
    store, ledger = opened(path)
    written = message()

    def run() -> DraftRecord:
        done = ledger.create(intent(written), lambda: drafts.create(written, KEY))
        store.flush()
        return done
    return run


def next_run(path: Path, drafts: MemoryDrafts) -> tuple[Store, list[DraftRecord]]:
    """What the next run does first: settle every ``creating`` record left; returns the store
    and the records adopted."""
    store, ledger = opened(path)
    adopted = [done for record in ledger.creating("personal")
               if (done := ledger.resolve(record, drafts)) is not None]
    store.flush()
    return store, adopted


def on_disk(path: Path) -> dict[str, DraftRecord]:
    return Store(path).drafts()


def test_a_draft_made_is_recorded_with_its_reference(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts()
    done = create(path, drafts)()
    assert done.state == "created" and done.ref is not None and done.ref.id == "d1"
    assert done.created_at == NOW + timedelta(minutes=1)
    assert on_disk(path) == {KEY: done}


def test_a_kill_before_the_call_leaves_an_intent_that_is_made_again_once(tmp_path: Path
                                                                         ) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts(crash_before_create=True)
    with pytest.raises(Crash):
        create(path, drafts)()
    [left] = on_disk(path).values()
    assert left.state == "creating"  # saved before the call
    drafts.crash_before_create = False
    store, adopted = next_run(path, drafts)
    assert adopted == [] and store.drafts() == {}  # not in Drafts: forgotten, planned again
    create(path, drafts)()
    assert drafts.keys() == [KEY]
    assert [r.state for r in on_disk(path).values()] == ["created"]


def test_a_kill_after_the_call_leaves_an_intent_that_adopts_the_draft(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts(crash_after_create=True)
    with pytest.raises(Crash):
        create(path, drafts)()
    [left] = on_disk(path).values()
    assert left.state == "creating" and left.ref is None
    _, [adopted] = next_run(path, drafts)
    assert adopted.state == "created" and adopted.ref is not None and adopted.ref.id == "d1"
    assert adopted.created_at == NOW  # as recorded with the intent
    assert on_disk(path) == {KEY: adopted}
    assert drafts.keys() == [KEY]  # adopted, not written again


def test_a_draft_that_only_carries_the_key_is_not_adopted(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts(crash_before_create=True)
    with pytest.raises(Crash):
        create(path, drafts)()
    assert [r.state for r in on_disk(path).values()] == ["creating"]
    drafts.crash_before_create = False
    drafts.create(message(ident="<copy@elsewhere.test>"), KEY)  # a copy with our key
    store, adopted = next_run(path, drafts)
    assert adopted == [] and store.drafts() == {}


def test_a_failed_call_leaves_the_intent(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    drafts = MemoryDrafts(fail_create=TransientError("503"))
    with pytest.raises(TransientError):
        create(path, drafts)()
    assert [r.state for r in on_disk(path).values()] == ["creating"]


def made(path: Path, drafts: MemoryDrafts) -> DraftRecord:
    return create(path, drafts)()


class KilledDrafts(MemoryDrafts):
    """Drafts whose ``delete`` is killed before it removes anything."""

    def delete(self, ref: DraftRef) -> None:
        raise Crash


def withdraw(path: Path, drafts: MemoryDrafts) -> str:
    store, ledger = opened(path)
    state = ledger.withdraw(store.drafts()[KEY], "the meeting moved", drafts)
    store.flush()
    return state


def settle(path: Path, drafts: MemoryDrafts) -> tuple[str, dict[str, DraftRecord]]:
    store, ledger = opened(path)
    [record] = store.drafts().values()
    state = ledger.settle(record, drafts)
    store.flush()
    return state, on_disk(path)


def test_a_withdrawal_removes_the_draft_and_forgets_it(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts()
    made(path, drafts)
    assert withdraw(path, drafts) == "gone"
    assert drafts.messages == {} and on_disk(path) == {}


def test_a_kill_after_the_removal_leaves_an_intent_settled_as_gone(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", MemoryDrafts()
    made(path, drafts)
    drafts.crash_after_delete = True
    with pytest.raises(Crash):
        withdraw(path, drafts)
    [left] = on_disk(path).values()
    assert left.state == "withdrawing" and left.flag == "the meeting moved"
    drafts.crash_after_delete = False
    assert settle(path, drafts) == ("gone", {})
    assert drafts.messages == {}


def test_a_kill_before_the_removal_leaves_an_intent_that_removes_it(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", KilledDrafts()
    made(path, drafts)
    with pytest.raises(Crash):
        withdraw(path, drafts)
    assert [r.state for r in on_disk(path).values()] == ["withdrawing"]
    assert drafts.keys() == [KEY]  # nothing was removed
    assert settle(path, MemoryDrafts(messages=drafts.messages)) == ("gone", {})
    assert drafts.messages == {}


def test_a_draft_edited_meanwhile_goes_back_to_the_user(tmp_path: Path) -> None:
    path, drafts = tmp_path / "state.json", KilledDrafts()
    made(path, drafts)
    with pytest.raises(Crash):
        withdraw(path, drafts)
    assert [r.state for r in on_disk(path).values()] == ["withdrawing"]
    drafts.user_edits("d1")
    state, records = settle(path, drafts)
    assert state == "edited"
    assert [(r.state, r.observed) for r in records.values()] == [("created", "edited")]
    assert drafts.keys() == [KEY]  # the user's draft is left as it is
