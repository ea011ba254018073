"""Restoring the state from a backup, or re-linking a symlinked one, never duplicates a draft
(issue 15, items 1 and 5), on every kind of account: real cycles in-process against the local
connector, the fake Google API and the fake Microsoft Graph, with a clock the test moves."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from daemon.app.cli import cli
from daemon.settings.config import load
from daemon.state import backups, roster
from tests.e2e import test_relationship
from tests.e2e.sides import Event, GoogleSide
from tests.e2e.test_relationship import ANA, BO, CY, World, at, key

world = test_relationship.world
"""The same world as the relationship tests': one for each kind of account."""


EVENTS = (Event("m-ana", "Coffee chat with Ana", at(4, 9, 10), ANA),
          Event("m-bo", "Coffee chat with Bo", at(4, 9, 11), BO),
          Event("m-cy", "Coffee chat with Cy", at(4, 10, 10), CY))
MADE_AFTER_THE_BACKUP = sorted([*(key(e, "confirmation") for e in EVENTS),
                                *(key(e, "thank_you") for e in EVENTS[:2])])
STILL_WANTED = sorted([key(EVENTS[2], "confirmation"),
                       *(key(e, "thank_you") for e in EVENTS[:2])])
"""Of the drafts made after the backup, those the planner still wants at 13:05 on the 9th
(Ana's and Bo's confirmations are for meetings that are over)."""


def lookups(w: World) -> int:
    """How many times the Drafts folder was searched (only Gmail's fake counts them: each
    look-up lists the drafts); -1 on the other sides, always."""
    return len(w.side.fake.calls("GET", "/drafts")) - len(w.side.fake.calls("GET", "/drafts/")) \
        if isinstance(w.side, GoogleSide) else -1


def test_restoring_the_daily_backup_duplicates_no_draft(world: World) -> None:
    w = world.start()
    for event in EVENTS:
        w.side.put_event(event)
    w.cycle(at(4, 7, 9))  # nothing due yet; the state is saved
    state = w.config.state_path
    w.cycle(at(4, 7, 11, 5))  # keeps the backup of the state above, then drafts
    w.cycle(at(4, 8, 10, 5))
    w.cycle(at(4, 9, 13))
    assert w.draft_keys() == MADE_AFTER_THE_BACKUP
    written = {k: w.side.content(k) for k in MADE_AFTER_THE_BACKUP}
    assert lookups(w) in (0, -1)  # the newest state looks nothing up

    shutil.copyfile(backups.backup_path(state, 1), state)  # the advice's `cp`
    doctor = CliRunner().invoke(cli, ["--config", str(w.config.path), "doctor"])
    assert (f"older than its drafts: {len(MADE_AFTER_THE_BACKUP)} made after it was saved"
            in doctor.output), doctor.output
    before = lookups(w)  # doctor looked a probe key up once
    w.cycle(at(4, 9, 13, 5))
    assert w.draft_keys() == MADE_AFTER_THE_BACKUP  # side.drafts() fails on a key held twice
    assert {k: w.side.content(k) for k in MADE_AFTER_THE_BACKUP} == written
    looked_up = lookups(w)
    counted = isinstance(w.side, GoogleSide)
    assert looked_up - before == (len(STILL_WANTED) if counted else 0)  # one each, no more
    shown = w.status()["drafts"]
    assert isinstance(shown, list)
    assert sorted(d["key"] for d in shown) == STILL_WANTED  # adopted as records

    w.cycle(at(4, 10, 12))  # and life goes on: Cy's thank-you, once
    assert w.draft_keys() == sorted([*MADE_AFTER_THE_BACKUP, key(EVENTS[2], "thank_you")])
    assert lookups(w) == looked_up  # no look-up for a new draft
    w.nothing_sent()


def test_a_state_moved_away_duplicates_no_draft_still_in_drafts(world: World) -> None:
    w = world.start()
    for event in EVENTS[:2]:
        w.side.put_event(event)
    w.cycle(at(4, 7, 11, 5))
    assert w.draft_keys() == sorted(key(e, "confirmation") for e in EVENTS[:2])
    w.config.state_path.rename(w.root / "state.json.aside")
    w.cycle(at(4, 7, 12))
    assert w.draft_keys() == sorted(key(e, "confirmation") for e in EVENTS[:2])
    w.nothing_sent()


def test_a_symlinked_state_stays_a_link_and_relinking_duplicates_nothing(
        world: World) -> None:
    w = world.start()
    dotfiles = w.root / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "state.json"
    link = w.root / "linked" / "state.json"
    link.parent.mkdir()
    link.symlink_to(target)
    config = w.config.path
    config.write_text(config.read_text().replace('path = "state.json"',
                                                 f'path = "{link}"'))  # absolute, as default
    w.settings = load(config)
    for event in EVENTS[:2]:
        w.side.put_event(event)
    w.cycle(at(4, 7, 11, 5))
    w.cycle(at(4, 9, 13))
    assert link.is_symlink() and link.resolve() == target
    assert w.draft_keys() == sorted(
        key(e, kind) for e in EVENTS[:2] for kind in ("confirmation", "thank_you"))
    shown = w.status()["drafts"]
    assert isinstance(shown, list) and len(shown) == 4  # the target holds the new state
    # the lock, the backup and the ledger are kept beside the target, not the link
    assert backups.backup_path(target, 1).exists() and roster.ledger_path(target).exists()
    assert not list(link.parent.glob("state.json.*"))

    link.unlink()
    link.symlink_to(target)  # a dotfiles manager links it again
    w.side.put_event(EVENTS[2])
    w.cycle(at(4, 10, 12))
    assert w.draft_keys() == sorted(
        [*(key(e, k) for e in EVENTS[:2] for k in ("confirmation", "thank_you")),
         key(EVENTS[2], "thank_you")])
    w.nothing_sent()
