"""Drafts that follow the real relationship (issue 6), end to end on every kind of account.

Each behaviour docs/rules.md describes under "What coffeechat does when..." is played through on
the local connector, the fake Google API and the fake Microsoft Graph (see
:mod:`tests.e2e.sides`): real cycles (``daemon.app.service.cycle_once``) with a clock the test
moves, real connectors, and assertions on what the provider's Drafts folder holds. Every test
ends by checking that nothing ever asked the provider to send.

Each test runs twice per side: with the accounts opened afresh for every cycle (as ``run
--once`` does), and with them opened once and kept from cycle to cycle (as the service does,
:mod:`daemon.cycle.kept`), so that nothing a kept connector remembers between cycles can make a
draft come twice or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from daemon.app import announce
from daemon.app.cli import cli
from daemon.app.service import cycle_once
from daemon.core import keys
from daemon.core.model import DraftKind
from daemon.cycle.kept import KeptAccounts
from daemon.settings.config import Settings, load
from tests.e2e.sides import ME, SIDES, Event, Side, side_for

ZONE = ZoneInfo("America/Chicago")
CONFIG = """\
[me]
name = "{name}"
emails = ["{address}"]
timezone = "{zone}"
[state]
path = "state.json"
[templates]
path = "templates/"
[cadence]
{cadence}
"""
ANY_TIME = {"working_hours": '"any"', "max_new_drafts_per_day": "0"}
"""Drafts fall due at their usual time, any day, without a daily limit."""


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in 2026 in the user's zone (April 2026: Thursday the 9th, no DST
    change nearby)."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def key(event: Event, kind: DraftKind) -> str:
    """The key of ``event``'s draft of ``kind`` to its contact."""
    return f"{event.uid}/{kind}/{event.contact[1]}"


def body(message: EmailMessage) -> str:
    """The plain-text body of a draft."""
    part = message.get_body(("plain",))
    assert part is not None, f"no plain-text body in {message['Subject']}"
    return str(part.get_content())


@dataclass
class World:
    """A side plus the coffeechat config that uses it, and cycles run at chosen times."""

    side: Side
    root: Path
    settings: Settings | None = None
    cycles: list[datetime] = field(default_factory=list)
    kept: KeptAccounts | None = None
    """With it, every cycle uses the accounts it opened at the first (as the service does)."""

    def start(self, cadence: dict[str, str] | None = None,
              reply_detection: bool = False) -> World:
        """Write the config (``cadence`` keys as TOML values) and load it."""
        chosen = {**ANY_TIME, **(cadence or {})}
        text = CONFIG.format(name=ME[1], address=ME[0], zone=ZONE.key,
                             cadence="\n".join(f"{k} = {v}" for k, v in chosen.items()))
        path = self.root / "config.toml"
        path.write_text(text + self.side.account_block(reply_detection))
        self.settings = load(path)
        return self

    @property
    def config(self) -> Settings:
        """The loaded settings; fails before :meth:`start`."""
        assert self.settings is not None, "start() the world first"
        return self.settings

    def cycle(self, when: datetime) -> None:
        """Run one cycle with the clock at ``when``; every account must succeed."""
        assert not self.cycles or when >= self.cycles[-1], "time only moves forward"
        self.cycles.append(when)
        if self.kept is None:
            report = cycle_once(self.config, clock=lambda: when)
        else:
            report = cycle_once(self.config, clock=self._clock, opener=self.kept)
            assert self.kept.opened == 1, "the account was opened again"
        assert report.ok, [(a.name, a.message, a.problems) for a in report.accounts]

    def _clock(self) -> datetime:
        """The time of the latest cycle (one clock for the world's life, as the service
        has: a kept account is opened again when its clock changes)."""
        return self.cycles[-1]

    def draft_keys(self) -> list[str]:
        """The keys of the drafts in the side's Drafts folder."""
        return sorted(self.side.drafts())

    def status(self) -> dict[str, object]:
        """What ``coffeechat status --json`` prints (the real command, in-process)."""
        result = CliRunner().invoke(cli, ["--config", str(self.config.path), "status",
                                          "--json"])
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert isinstance(shown, dict)
        return shown

    def nothing_sent(self) -> None:
        """Nothing ever asked the provider to send."""
        assert self.side.send_attempts() == []


@pytest.fixture(params=[(side, opened) for side in SIDES for opened in ("fresh", "kept")],
                ids=lambda p: "-".join(p))
def world(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A world on each kind of account, its accounts opened for each cycle or kept, its XDG
    folders inside ``tmp_path``."""
    kind, opened = request.param
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("COFFEECHAT_CONFIG", raising=False)
    root = tmp_path / "home"
    root.mkdir()
    with side_for(kind, root) as side:
        yield World(side=side, root=root, kept=KeptAccounts() if opened == "kept" else None)


ANA = ("Ana Li", "ana@example.org")
BO = ("Bo Chen", "bo@example.org")
CY = ("Cy Okafor", "cy@example.org")
DI = ("Di Ramos", "di@example.org")
EVE = ("Eve Park", "eve@example.org")
FAY = ("Fay Moreau", "fay@example.org")
GUS = ("Gus Lund", "gus@example.org")
HANA = ("Hana Sato", "hana@example.org")
IVO = ("Ivo Novak", "ivo@example.org")
IVY = ("Ivy Brandt", "ivy@example.org")
JO = ("Jo Walsh", "jo@example.org")
LEE = ("Lee Tran", "lee@example.org")
MIA = ("Mia Wong", "mia@example.org")


# --- 1. a meeting moves --------------------------------------------------------------------------


def test_a_moved_meeting_rewrites_an_untouched_confirmation_and_flags_an_edited_one(
        world: World) -> None:
    w = world.start()
    ana = Event("m-ana", "Coffee chat with Ana", at(4, 9, 10), ANA)
    bo = Event("m-bo", "Coffee chat with Bo", at(4, 9, 11), BO)
    w.side.put_event(ana)
    w.side.put_event(bo)
    w.cycle(at(4, 7, 11, 5))
    first = w.side.drafts()
    assert sorted(first) == [key(ana, "confirmation"), key(bo, "confirmation")]
    assert "Thursday 9 April at 10:00 AM" in body(first[key(ana, "confirmation")])
    w.side.edit(key(bo, "confirmation"))
    edited = w.side.content(key(bo, "confirmation"))

    w.side.put_event(replace(ana, start=at(4, 10, 14)))
    w.side.put_event(replace(bo, start=at(4, 10, 16)))
    w.cycle(at(4, 7, 12))
    # Ana's untouched confirmation named the old time: gone until its new time (Wed 14:00)
    assert w.draft_keys() == [key(bo, "confirmation")]
    assert w.side.content(key(bo, "confirmation")) == edited

    w.cycle(at(4, 8, 14, 5))
    moved = w.side.drafts()
    assert sorted(moved) == [key(ana, "confirmation"), key(bo, "confirmation")]
    text = body(moved[key(ana, "confirmation")])
    assert "Friday 10 April at 2:00 PM" in text and "Thursday 9 April" not in text
    assert w.side.content(key(bo, "confirmation")) == edited
    drafts = w.status()["drafts"]
    assert isinstance(drafts, list)
    assert {d["key"]: d["flag"] for d in drafts} == {
        key(ana, "confirmation"): None,
        key(bo, "confirmation"): "the meeting moved after you edited this draft"}
    w.nothing_sent()


# --- 2. a meeting is cancelled, and comes back ---------------------------------------------------


def test_a_cancelled_meeting_loses_its_confirmation_and_gets_no_thank_you(
        world: World) -> None:
    w = world.start()
    cy = Event("m-cy", "Coffee chat with Cy", at(4, 9, 10), CY)
    di = Event("m-di", "Coffee chat with Di", at(4, 9, 11), DI)
    w.side.put_event(cy)
    w.side.put_event(di)
    w.cycle(at(4, 7, 11, 5))
    assert w.draft_keys() == [key(cy, "confirmation"), key(di, "confirmation")]

    w.side.put_event(replace(cy, cancelled=True))
    w.side.put_event(replace(di, cancelled=True))
    w.cycle(at(4, 7, 12))
    assert w.draft_keys() == []

    w.side.put_event(di)  # Di's meeting is back on
    w.cycle(at(4, 7, 13))
    assert w.draft_keys() == [key(di, "confirmation")]
    w.cycle(at(4, 7, 14))
    assert w.draft_keys() == [key(di, "confirmation")]

    w.cycle(at(4, 9, 13))  # both meetings' thank-yous were due by noon
    assert w.draft_keys() == [key(di, "confirmation"), key(di, "thank_you")]
    w.nothing_sent()


# --- 3. the contact declines ---------------------------------------------------------------------


def test_a_contact_who_declines_loses_their_confirmation(world: World) -> None:
    w = world.start()
    eve = Event("m-eve", "Coffee chat with Eve", at(4, 9, 10), EVE)
    w.side.put_event(eve)
    w.cycle(at(4, 7, 11, 5))
    assert w.draft_keys() == [key(eve, "confirmation")]

    w.side.put_event(replace(eve, response="declined"))
    w.cycle(at(4, 7, 12))
    assert w.draft_keys() == []
    w.cycle(at(4, 9, 12))
    assert w.draft_keys() == []
    w.nothing_sent()


# --- 4. replies ----------------------------------------------------------------------------------


def test_mail_decides_the_thank_you_and_the_follow_up_replies_in_its_conversation(
        world: World) -> None:
    w = world.start(reply_detection=True)
    fay = Event("m-fay", "Coffee chat with Fay", at(4, 9, 10), FAY)
    gus = Event("m-gus", "Coffee chat with Gus", at(4, 9, 10), GUS)
    w.side.put_event(fay)
    w.side.put_event(gus)
    w.side.user_writes(FAY[1], "The article I mentioned", "<note-to-fay@example.com>",
                       at(4, 9, 10, 45))
    w.side.contact_writes(GUS[1], "Good to meet you", "<from-gus@example.org>",
                          at(4, 9, 10, 50))
    w.cycle(at(4, 9, 11, 45))
    # the user already wrote to Fay; Gus writing to the user is no thank-you from the user
    assert w.draft_keys() == [key(gus, "thank_you")]
    assert str(w.side.drafts()[key(gus, "thank_you")]["Subject"]) == "Thank you, Gus"

    sent = w.side.send(key(gus, "thank_you"), at(4, 9, 12))
    assert w.draft_keys() == []
    w.cycle(at(4, 9, 13))
    assert w.draft_keys() == [], "a thank-you that left Drafts is never written again"

    w.cycle(at(5, 9, 11))  # 30 days after the meetings ended
    drafts = w.side.drafts()
    assert sorted(drafts) == [key(fay, "follow_up"), key(gus, "follow_up")]
    follow_up = drafts[key(gus, "follow_up")]
    assert str(follow_up["In-Reply-To"]) == sent.message_id
    assert sent.message_id in str(follow_up["References"]).split()
    assert str(follow_up["Subject"]) == "Re: Thank you, Gus"
    assert w.side.conversation(key(gus, "follow_up")) == sent.conversation
    to_fay = drafts[key(fay, "follow_up")]
    assert str(to_fay["In-Reply-To"]) == "<note-to-fay@example.com>"
    assert str(to_fay["Subject"]) == "Re: The article I mentioned"
    w.nothing_sent()


# --- 5. notes ------------------------------------------------------------------------------------

SUGGESTED = ("Read The Records Manager's Handbook",
             "Talk to Priya Nair at the county records office")
PROMISED = ("Send Hana the link to my portfolio", "Share the archives conference schedule")
NOTES = ("Notes: she moved from teaching into records management\n"
         "Suggested:\n" + "".join(f"- {item}\n" for item in SUGGESTED)
         + "Promised:\n" + "".join(f"- {item}\n" for item in PROMISED))


def test_promises_reach_the_thank_you_and_suggestions_the_follow_up(world: World) -> None:
    w = world.start()
    hana = Event("m-hana", "Coffee chat with Hana", at(4, 9, 10), HANA, description=NOTES)
    w.side.put_event(hana)
    w.cycle(at(4, 9, 11, 45))
    thanks = body(w.side.drafts()[key(hana, "thank_you")])
    for item in PROMISED:
        assert item in thanks
    assert "she moved from teaching into records management" in thanks

    w.cycle(at(5, 9, 11))
    follow_up = body(w.side.drafts()[key(hana, "follow_up")]).splitlines()
    for item in SUGGESTED:
        assert len([line for line in follow_up if line.startswith(f"- {item}")]) == 1
    assert not [line for line in follow_up if any(p in line for p in PROMISED)]
    w.nothing_sent()


# --- 6. news -------------------------------------------------------------------------------------

NEWS = "I start at the county archive on 1 June, as a records analyst."


def test_news_is_drafted_once_to_each_contact(world: World) -> None:
    w = world.start()
    ivo = Event("m-ivo", "Coffee chat with Ivo", at(4, 9, 10), IVO)
    w.side.put_event(ivo)
    w.cycle(at(4, 9, 11, 45))
    assert w.draft_keys() == [key(ivo, "thank_you")]

    first = announce.write(w.config, NEWS, 10, clock=lambda: at(4, 20, 9))
    assert first.problems == [] and [r.contact for r in first.made] == [IVO[1]]
    second = announce.write(w.config, NEWS, 10, clock=lambda: at(4, 20, 10))
    assert second.problems == [] and second.made == []

    drafts = w.side.drafts()
    news = [k for k in drafts if k.startswith("news/")]
    assert news == [keys.news_key(NEWS, IVO[1])]
    note = drafts[news[0]]
    assert [a.addr_spec for a in note["To"].addresses] == [IVO[1]]
    assert NEWS in body(note)
    assert len(drafts) == 2
    w.nothing_sent()


# --- 7. timing people like -----------------------------------------------------------------------

WORKING = {"working_hours": '"09:00-17:00"', "working_days": '["mon-fri"]',
           "max_new_drafts_per_day": "1", "confirmation_days_before": "3"}


def test_working_hours_and_the_daily_limit_hold_drafts_back(world: World) -> None:
    w = world.start(WORKING)
    jo = Event("m-jo", "Coffee chat with Jo", at(4, 11, 20), JO)  # Saturday evening
    ivy = Event("m-ivy1", "Coffee chat with Ivy", at(4, 14, 10), IVY)  # confirm Sat -> Mon
    lee = Event("m-lee2", "Coffee chat with Lee", at(4, 15, 10), LEE)  # confirm Sun -> Mon
    for event in (jo, ivy, lee):
        w.side.put_event(event)

    w.cycle(at(4, 11, 10, 5))  # Saturday: Ivy's confirmation is usually due now
    assert w.draft_keys() == []
    w.cycle(at(4, 11, 21, 35))  # Saturday night: a thank-you does not wait for work
    assert w.draft_keys() == [key(jo, "thank_you")]
    w.cycle(at(4, 12, 12))
    w.cycle(at(4, 13, 8, 59))
    assert w.draft_keys() == [key(jo, "thank_you")]

    w.cycle(at(4, 13, 9))  # Monday morning: both confirmations due, one a day
    assert w.draft_keys() == [key(ivy, "confirmation"), key(jo, "thank_you")]
    w.cycle(at(4, 13, 16, 59))
    w.cycle(at(4, 14, 0, 30))  # a new day, but not yet a working one
    assert w.draft_keys() == [key(ivy, "confirmation"), key(jo, "thank_you")]
    w.cycle(at(4, 14, 8, 59))
    assert w.draft_keys() == [key(ivy, "confirmation"), key(jo, "thank_you")]
    w.cycle(at(4, 14, 9))
    assert w.draft_keys() == [key(ivy, "confirmation"), key(jo, "thank_you"),
                        key(lee, "confirmation")]
    w.nothing_sent()


# --- 8. the prep sheet ---------------------------------------------------------------------------


def test_a_prep_note_to_the_user_appears_the_day_before(world: World) -> None:
    w = world.start({"prep_sheet": "true"})
    mia = Event("m-mia", "Coffee chat with Mia", at(4, 9, 10), MIA,
                location="Corner Cafe, 12 Main St")
    w.side.put_event(mia)
    w.cycle(at(4, 7, 11, 5))
    assert w.draft_keys() == [key(mia, "confirmation")]
    w.cycle(at(4, 8, 9, 55))
    assert w.draft_keys() == [key(mia, "confirmation")]

    w.cycle(at(4, 8, 10, 5))
    w.cycle(at(4, 8, 11))
    drafts = w.side.drafts()
    assert sorted(drafts) == [key(mia, "confirmation"), key(mia, "prep")]
    prep = drafts[key(mia, "prep")]
    assert [a.addr_spec for a in prep["To"].addresses] == [ME[0]]
    assert "Mia Wong" in str(prep["Subject"])
    text = body(prep)
    assert f"With: Mia Wong <{MIA[1]}>" in text
    assert "Thursday 9 April at 10:00 AM" in text and "Corner Cafe, 12 Main St" in text
    w.nothing_sent()
