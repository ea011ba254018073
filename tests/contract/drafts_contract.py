"""What every Drafts folder must do, whatever the provider.

Subclass :class:`DraftBoxContract` in ``test_<provider>.py`` and provide the ``box`` fixture
and the hooks: what a user does to a draft (:meth:`~DraftBoxContract.user_edits`,
:meth:`~DraftBoxContract.user_deletes`) and how to read back what the provider stored
(:meth:`~DraftBoxContract.stored_message`). Fixtures defined on the subclass run bound to the
test's instance, so they may keep what the hooks need on ``self``.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from connectors.base import KEY_HEADER, DraftBox
from daemon.core.errors import ConnectorError
from daemon.core.model import DraftRef, ThreadRef


def make_message(key: str, *, subject: str = "Thank you for the coffee chat",
                 to: str = "Dana Whitfield <dana.whitfield@example.org>",
                 body: str = "Hi Dana,\n\nThank you for your time today.\n\nSam\n"
                 ) -> EmailMessage:
    """A draft as the core renders it: From, To, Subject, the key header and a text body."""
    message = EmailMessage(policy=email.policy.default)
    message["From"] = "Sam Ortiz <sam@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message[KEY_HEADER] = key
    message.set_content(body)
    return message


def same_content(stored: EmailMessage, sent: EmailMessage) -> None:
    """Assert the provider kept the headers that matter and the body."""
    for name in ("From", "To", "Subject", KEY_HEADER):
        assert str(stored[name]) == str(sent[name]), name
    stored_body = stored.get_body(("plain",))
    sent_body = sent.get_body(("plain",))
    assert stored_body is not None and sent_body is not None
    assert stored_body.get_content() == sent_body.get_content()


class DraftBoxContract:
    """The tests; subclasses provide ``box`` and the hooks below."""

    @pytest.fixture
    def box(self) -> DraftBox:
        """An empty Drafts folder of the provider; subclasses override this."""
        raise NotImplementedError

    def user_edits(self, ref: DraftRef) -> None:
        """Change the draft's content the way the user would in their mail client."""
        raise NotImplementedError

    def user_deletes(self, ref: DraftRef) -> None:
        """Delete the draft the way the user would (trash it or remove it)."""
        raise NotImplementedError

    def stored_message(self, ref: DraftRef) -> EmailMessage:
        """Read back what the provider holds for the draft, parsed with policy default."""
        raise NotImplementedError

    def reopen(self, box: DraftBox) -> DraftBox:
        """A new DraftBox over the same folder, as after a restart. Default: the same box."""
        return box

    # --- the contract ----------------------------------------------------------------------

    def test_created_draft_is_untouched(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        assert ref.id
        assert box.get(ref) == "untouched"

    def test_created_draft_reads_back_the_same(self, box: DraftBox) -> None:
        message = make_message("m1/thank_you/dana", subject="Merci — café chat follow-up",
                               body="Bonjour Dana,\n\nMerci beaucoup ! Ça m'a aidé.\n")
        ref = box.create(message, "m1/thank_you/dana")
        same_content(self.stored_message(ref), message)

    def test_find_returns_the_created_draft(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        found = box.find("m1/thank_you/dana")
        assert found is not None
        assert found.id == ref.id
        assert box.find("m1/thank_you/someone-else") is None

    def test_find_with_the_message_id_written_finds_the_draft(self, box: DraftBox) -> None:
        """After a crash the core asks with the Message-ID it gave the message: a provider
        that matches it, and one that cannot, both find the draft that was written."""
        message = make_message("m2/confirmation/lee")
        message["Message-ID"] = "<written-by-coffeechat@example.com>"
        ref = box.create(message, "m2/confirmation/lee")
        found = self.reopen(box).find("m2/confirmation/lee",
                                      message_id="<written-by-coffeechat@example.com>")
        assert found is not None and found.id == ref.id

    def test_find_after_a_crash_finds_the_draft(self, box: DraftBox) -> None:
        box.create(make_message("m2/confirmation/lee"), "m2/confirmation/lee")
        # The reference is lost, as when the process dies right after the provider call.
        found = self.reopen(box).find("m2/confirmation/lee")
        assert found is not None
        assert box.get(found) == "untouched"

    def test_two_keys_are_both_findable(self, box: DraftBox) -> None:
        a = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        b = box.create(make_message("m1/thank_you/lee", to="Lee Park <lee@example.net>"),
                       "m1/thank_you/lee")
        assert a.id != b.id
        found_a, found_b = box.find("m1/thank_you/dana"), box.find("m1/thank_you/lee")
        assert found_a is not None and found_a.id == a.id
        assert found_b is not None and found_b.id == b.id

    def test_user_edit_shows_as_edited(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        self.user_edits(ref)
        assert box.get(ref) == "edited"

    def test_user_delete_shows_as_gone(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        self.user_deletes(ref)
        assert box.get(ref) == "gone"

    def test_update_replaces_an_untouched_draft(self, box: DraftBox) -> None:
        key = "m3/confirmation/dana"
        ref = box.create(make_message(key, subject="See you Tuesday"), key)
        newer = make_message(key, subject="See you Wednesday instead",
                             body="Hi Dana,\n\nLooking forward to Wednesday at 3pm.\n")
        new_ref = box.update(ref, newer)
        assert box.get(new_ref) == "untouched"
        same_content(self.stored_message(new_ref), newer)
        found = box.find(key)
        assert found is not None and found.id == new_ref.id

    def test_delete_removes_the_draft(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        box.delete(ref)
        assert box.get(ref) == "gone"
        assert box.find("m1/thank_you/dana") is None

    def test_deleting_twice_is_fine(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        box.delete(ref)
        box.delete(ref)
        assert box.get(ref) == "gone"

    def test_deleting_what_the_user_deleted_is_fine(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/thank_you/dana"), "m1/thank_you/dana")
        self.user_deletes(ref)
        box.delete(ref)
        assert box.get(ref) == "gone"

    # --- an edited draft is the user's: never overwritten, never deleted --------------------

    def test_update_refuses_an_edited_draft_and_keeps_it(self, box: DraftBox) -> None:
        key = "m3/confirmation/dana"
        ref = box.create(make_message(key, subject="See you Tuesday"), key)
        self.user_edits(ref)
        before = self.stored_message(ref).get_body(("plain",))
        assert before is not None
        with pytest.raises(ConnectorError):
            box.update(ref, make_message(key, subject="See you Wednesday instead"))
        after = self.stored_message(ref)
        assert str(after["Subject"]) == "See you Tuesday"
        body = after.get_body(("plain",))
        assert body is not None and body.get_content() == before.get_content()
        assert box.get(ref) == "edited"

    def test_delete_leaves_an_edited_draft_in_place(self, box: DraftBox) -> None:
        ref = box.create(make_message("m1/confirmation/dana"), "m1/confirmation/dana")
        self.user_edits(ref)
        box.delete(ref)
        assert box.get(ref) == "edited"
        found = box.find("m1/confirmation/dana")
        assert found is not None and found.id == ref.id

    # --- replies in a conversation -----------------------------------------------------------

    def known_thread(self) -> ThreadRef:
        """A conversation the provider knows (a message in the user's mailbox) that a draft
        can reply to. Default: one only the headers name (enough for a Maildir)."""
        return ThreadRef(message_id="<first-chat@example.org>", subject="Coffee next week?",
                         references=("<intro@example.net>",))

    def in_same_conversation(self, ref: DraftRef, thread: ThreadRef) -> bool:
        """Whether the provider files the draft in ``thread``'s conversation. Default: the
        stored headers say so (a Maildir has no conversations of its own)."""
        return str(self.stored_message(ref)["In-Reply-To"]) == thread.message_id

    def test_a_reply_draft_joins_the_conversation(self, box: DraftBox) -> None:
        thread = self.known_thread()
        key = "dana@example.org/catch_up/1"
        message = make_message(key, subject=f"Re: {thread.subject}")
        message["In-Reply-To"] = thread.message_id
        message["References"] = " ".join((*thread.references, thread.message_id))
        ref = box.create(message, key, reply_to=thread)
        stored = self.stored_message(ref)
        assert str(stored["Subject"]) == f"Re: {thread.subject}"
        assert str(stored["In-Reply-To"]) == thread.message_id
        assert thread.message_id in str(stored["References"]).split()
        assert str(stored[KEY_HEADER]) == key
        assert str(stored["To"]) == str(message["To"])
        assert self.in_same_conversation(ref, thread)
        found = box.find(key)
        assert found is not None and found.id == ref.id
        assert box.get(ref) == "untouched"

    def test_a_reply_to_an_unknown_message_is_still_drafted(self, box: DraftBox) -> None:
        gone = ThreadRef(message_id="<gone@example.org>", subject="Old thread",
                         thread_id="no-such-thread", provider_message_id="no-such-message")
        key = "dana@example.org/catch_up/2"
        message = make_message(key, subject="Re: Old thread")
        message["In-Reply-To"] = gone.message_id
        message["References"] = gone.message_id
        ref = box.create(message, key, reply_to=gone)
        assert box.get(ref) == "untouched"
        assert str(self.stored_message(ref)[KEY_HEADER]) == key
