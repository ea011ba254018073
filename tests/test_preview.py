"""``coffeechat preview`` shows what will be written: for every kind, its text is the draft the
local connector then writes into the Maildir, decoded as a mail program shows it (no base64 or
quoted-printable, whatever the letters), addressed as the real draft is (a prep note to the
user)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import get_args

import pytest

from connectors.local.drafts import MaildirDrafts
from daemon.app.announce import prepare
from daemon.app.announce import preview as announce_preview
from daemon.app.queries import PREVIEW_NEWS, preview_message, preview_spec
from daemon.core.model import (
    Attendee,
    ContactMail,
    DraftKind,
    Interview,
    MailSeen,
    Meeting,
    Person,
    ThreadRef,
)
from daemon.cycle.executor import Executor
from daemon.mail.message import readable
from daemon.mail.templates import Renderer
from daemon.settings.config import Settings
from daemon.state.store import Store
from tests.memory import memory_settings

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
ZOE = Person("zoe@example.org", "Zoë Ångström")
KINDS: tuple[DraftKind, ...] = get_args(DraftKind)


def stored(tmp_path: Path) -> Settings:
    """A meeting with Zoë (accents, an em dash, a curly quote) in the state, and an earlier one
    (for the prep note's history)."""
    settings = memory_settings(tmp_path, working_hours="any")
    store = Store(settings.state_path, writable=True)
    for uid, start in (("m0", NOW - timedelta(days=120)), ("m1", NOW + timedelta(days=2))):
        meeting = Meeting(
            uid=uid, title="Coffee chat — Zoë Ångström", start=start,
            end=start + timedelta(minutes=45), location="Café Œuvre, 3 Rue Morand",
            description="Ask about Zoë’s move into archives — and the «fonds» project.",
            attendees=(Attendee("sam@example.com", "Sam Rivera", "accepted", True),
                       Attendee(ZOE.email, ZOE.name, "accepted")))
        store.put_interview(Interview(meeting=meeting, account="personal", contacts=(ZOE,),
                                      notes="Ask about Zoë’s move into archives — and the "
                                            "«fonds» project."))
    store.flush()
    return settings


def written(settings: Settings, kind: DraftKind, drafts: Path,
            threads: dict[tuple[str, str], ThreadRef] | None = None) -> EmailMessage:
    """Write the draft the preview is of through the executor into a Maildir, as the service
    does (in the conversations ``threads`` gives); return the file read back as a mail program
    reads it."""
    store = Store(settings.state_path, writable=True)
    interview = store.interview("personal", "m1")
    assert interview is not None
    spec = preview_spec(settings, store, kind, interview, NOW)
    executor = Executor(store, Renderer(settings.templates_dir), settings.me, settings.timezone,
                        lambda: NOW)
    result = executor.write([spec], MaildirDrafts(drafts), threads)
    assert result.problems == [] and len(result.made) == 1
    files = list((drafts / "cur").iterdir())
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def without_message_id(text: str) -> str:
    """The Message-ID is new for every message made; everything else must be equal."""
    return "\n".join(line for line in text.split("\n") if not line.startswith("Message-ID: "))


@pytest.mark.parametrize("kind", KINDS)
def test_the_preview_is_the_draft_then_written(tmp_path: Path, kind: DraftKind) -> None:
    settings = stored(tmp_path)
    shown = preview_message(settings, kind, "m1", NOW)
    draft = written(settings, kind, tmp_path / f"Drafts-{kind}")

    assert without_message_id(shown) == without_message_id(readable(draft))
    head, body = shown.split("\n\n", 1)
    assert body == draft.get_content()  # the body as the mail program decodes the file
    assert f"Subject: {draft['Subject']}" in head.split("\n")
    assert "=?" not in shown and "Content-Transfer-Encoding" not in shown
    if kind == "prep":
        assert draft["To"].addresses[0].addr_spec == "sam@example.com"
        assert "To: Sam Rivera <sam@example.com>" in head.split("\n")
    else:
        assert "To: Zoë Ångström <zoe@example.org>" in head.split("\n")
    if kind == "news":
        assert PREVIEW_NEWS in body


def test_non_ascii_text_reads_as_written(tmp_path: Path) -> None:
    shown = preview_message(stored(tmp_path), "confirmation", "m1", NOW)
    assert "Zoë" in shown and "Café Œuvre" in shown and "base64" not in shown


def test_a_sample_preview_writes_nothing(tmp_path: Path) -> None:
    settings = memory_settings(tmp_path, working_hours="any")
    shown = preview_message(settings, "prep", None, NOW)
    assert "To: Sam Rivera <sam@example.com>" in shown.split("\n\n", 1)[0].split("\n")
    assert not settings.state_path.exists()


def test_announce_shows_the_note_decoded(tmp_path: Path) -> None:
    settings = stored(tmp_path)
    store = Store(settings.state_path)
    news = "I start at the Musée d’Orsay archive — on Monday!"
    spec = prepare(settings, store, news, 10, NOW).specs[0]
    shown = announce_preview(settings, store, spec, NOW)
    head, body = shown.split("\n\n", 1)
    assert news in body and "To: Zoë Ångström <zoe@example.org>" in head.split("\n")
    assert "=?" not in shown and "base64" not in shown


@pytest.mark.parametrize("kind", ["follow_up", "catch_up"])
def test_a_reply_in_a_conversation_is_previewed_as_that_reply(tmp_path: Path,
                                                             kind: DraftKind) -> None:
    settings = memory_settings(tmp_path, reply_detection=True, working_hours="any")
    stored_settings = stored(tmp_path)
    assert stored_settings.state_path == settings.state_path
    store = Store(settings.state_path, writable=True)
    thread = ThreadRef("<t1@example.org>", "Archives, and the fonds project")
    store.put_mail("personal", ContactMail(ZOE.email, MailSeen(NOW - timedelta(days=3), thread)),
                   NOW - timedelta(days=1))
    store.flush()
    shown = preview_message(settings, kind, "m1", NOW)
    head = shown.split("\n\n", 1)[0].split("\n")
    assert "In-Reply-To: <t1@example.org>" in head
    assert "Subject: Re: Archives, and the fonds project" in head
    draft = written(settings, kind, tmp_path / "Drafts", {("personal", ZOE.email): thread})
    assert without_message_id(shown) == without_message_id(readable(draft))
