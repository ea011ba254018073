"""What every mail history must do, whatever the provider (``reply_detection``).

Subclass :class:`MailHistoryContract` in ``test_<provider>.py``: provide the ``mail`` fixture
and the hooks that put messages in the user's mailbox the way mail really arrives there
(:meth:`~MailHistoryContract.receive`), is sent (:meth:`~MailHistoryContract.send`) or sits
unsent (:meth:`~MailHistoryContract.save_draft`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import MailHistory
from daemon.core.model import MailSeen

ME = "sam@example.com"
DANA = "dana@example.org"
LEE = "lee@example.net"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SINCE = T0 - timedelta(days=30)
Headers = tuple[tuple[str, str], ...]
AUTOMATIC: tuple[Headers, ...] = (
    (("Auto-Submitted", "auto-replied"),),
    (("Auto-Submitted", "auto-generated"),),
    (("Auto-Submitted", "auto-notified; owner-email=\"dana@example.org\""),),
    (("X-Autoreply", "yes"),),
    (("X-Autorespond", "Out of office"),),
    (("Precedence", "auto_reply"),),
    (("Precedence", "bulk"),),
    (("Precedence", "list"),),
    (("Precedence", "junk"),),
    (("List-Id", "Alumni news <alumni.lists.example.org>"),),
)
"""Header fields that mark a message as sent by a machine (:mod:`daemon.core.automatic`)."""
PERSONAL: tuple[Headers, ...] = (
    (("Auto-Submitted", "no"),),
    (("Precedence", "first-class"),),
    (("X-Auto-Response-Suppress", "All"),),  # asks for no auto-reply; written by people too
)
"""Header fields a person's own message may carry: it still counts."""


def close_to(seen: MailSeen | None, at: datetime) -> bool:
    """Providers keep times to the second (or the millisecond): compare within a second."""
    return seen is not None and abs(seen.at - at) <= timedelta(seconds=1)


class MailHistoryContract:
    """The tests; subclasses provide ``mail`` and the hooks below."""

    @pytest.fixture
    def mail(self) -> MailHistory:
        """The mail history of a mailbox that is empty at the start; subclasses override."""
        raise NotImplementedError

    def receive(self, sender: str, at: datetime, subject: str, message_id: str,
                references: tuple[str, ...] = (), cc: tuple[str, ...] = (),
                headers: Headers = ()) -> None:
        """A message from ``sender`` to the user (``ME``) arrives, dated ``at``, with the
        extra header fields ``headers`` as its sender's server wrote them."""
        raise NotImplementedError

    def send(self, to: str, at: datetime, subject: str, message_id: str,
             references: tuple[str, ...] = (), cc: tuple[str, ...] = ()) -> None:
        """The user sent a message to ``to`` (and ``cc``), dated ``at``."""
        raise NotImplementedError

    def save_draft(self, to: str, at: datetime, subject: str, message_id: str) -> None:
        """An unsent draft to ``to`` sits in the mailbox."""
        raise NotImplementedError

    # --- the contract ----------------------------------------------------------------------

    def test_no_mail_gives_an_empty_entry_for_each_contact(self, mail: MailHistory) -> None:
        result = mail.history([DANA, LEE], SINCE)
        assert set(result) == {DANA, LEE}
        for address, seen in result.items():
            assert seen.contact == address
            assert seen.last_from_contact is None and seen.last_to_contact is None

    def test_a_message_from_the_contact_is_seen_with_its_thread(self, mail: MailHistory) -> None:
        self.receive(DANA, T0, "Great to meet you", "<dana-1@example.org>",
                     references=("<sam-0@example.com>",))
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0)
        assert seen.last_to_contact is None
        assert seen.last_from_contact is not None
        thread = seen.last_from_contact.thread
        assert thread.message_id == "<dana-1@example.org>"
        assert thread.subject == "Great to meet you"
        assert "<sam-0@example.com>" in thread.references

    def test_a_message_to_the_contact_is_seen(self, mail: MailHistory) -> None:
        self.send(DANA, T0, "Thank you", "<sam-1@example.com>")
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_to_contact, T0)
        assert seen.last_from_contact is None
        assert seen.last_to_contact is not None
        assert seen.last_to_contact.thread.message_id == "<sam-1@example.com>"

    def test_the_newest_message_each_way_wins(self, mail: MailHistory) -> None:
        for days, n in ((0, 1), (9, 3), (4, 2)):
            self.receive(DANA, T0 + timedelta(days=days), f"Note {n}", f"<dana-{n}@example.org>")
            self.send(DANA, T0 + timedelta(days=days, hours=1), f"Re: Note {n}",
                      f"<sam-{n}@example.com>")
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0 + timedelta(days=9))
        assert close_to(seen.last_to_contact, T0 + timedelta(days=9, hours=1))
        assert seen.latest is seen.last_to_contact

    def test_mail_before_since_is_not_counted(self, mail: MailHistory) -> None:
        self.receive(DANA, SINCE - timedelta(days=2), "Long ago", "<old@example.org>")
        seen = mail.history([DANA], SINCE)[DANA]
        assert seen.last_from_contact is None

    def test_addresses_compare_without_case(self, mail: MailHistory) -> None:
        self.receive("Dana@Example.ORG", T0, "Hello", "<dana-case@example.org>")
        assert close_to(mail.history([DANA], SINCE)[DANA].last_from_contact, T0)

    def test_a_copy_to_the_contact_counts_as_writing_to_them(self, mail: MailHistory) -> None:
        self.send(LEE, T0, "Introduction", "<intro@example.com>", cc=(DANA,))
        result = mail.history([DANA, LEE], SINCE)
        assert close_to(result[DANA].last_to_contact, T0)
        assert close_to(result[LEE].last_to_contact, T0)

    def test_drafts_do_not_count(self, mail: MailHistory) -> None:
        self.save_draft(DANA, T0, "Not sent yet", "<draft@example.com>")
        seen = mail.history([DANA], SINCE)[DANA]
        assert seen.last_to_contact is None and seen.last_from_contact is None

    def test_one_contacts_mail_is_not_anothers(self, mail: MailHistory) -> None:
        self.receive(LEE, T0, "From Lee", "<lee-1@example.net>")
        result = mail.history([DANA, LEE], SINCE)
        assert result[DANA].last_from_contact is None
        assert close_to(result[LEE].last_from_contact, T0)

    # --- automatic mail is no answer (daemon.core.automatic) ------------------------------------

    @pytest.mark.parametrize("marks", AUTOMATIC, ids=lambda h: f"{h[0][0]}: {h[0][1]}")
    def test_automatic_mail_from_the_contact_is_not_an_answer(self, mail: MailHistory,
                                                               marks: Headers) -> None:
        self.receive(DANA, T0, "Re: Thank you", "<dana-real@example.org>")
        self.receive(DANA, T0 + timedelta(days=3), "Out of office", "<dana-auto@example.org>",
                     headers=marks)
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0)
        assert seen.last_from_contact is not None
        assert seen.last_from_contact.thread.message_id == "<dana-real@example.org>"

    def test_only_automatic_mail_from_the_contact_is_no_mail(self, mail: MailHistory) -> None:
        self.receive(DANA, T0, "Automatic reply: Catching up", "<dana-oof@example.org>",
                     headers=(("Auto-Submitted", "auto-replied"),))
        assert mail.history([DANA], SINCE)[DANA].last_from_contact is None

    @pytest.mark.parametrize("marks", PERSONAL, ids=lambda h: f"{h[0][0]}: {h[0][1]}")
    def test_a_real_answer_after_an_automatic_one_counts(self, mail: MailHistory,
                                                         marks: Headers) -> None:
        self.receive(DANA, T0, "Automatic reply: Catching up", "<dana-oof@example.org>",
                     headers=(("Auto-Submitted", "auto-replied"),))
        self.receive(DANA, T0 + timedelta(days=5), "Re: Catching up", "<dana-back@example.org>",
                     headers=marks)
        seen = mail.history([DANA], SINCE)[DANA]
        assert close_to(seen.last_from_contact, T0 + timedelta(days=5))
