"""The table of draft kinds (daemon.core.kinds) is complete and its columns agree with it."""

from __future__ import annotations

from importlib.resources import files
from typing import get_args

from daemon.core.kinds import (
    ABOUT_ONE_MEETING,
    BEFORE_THE_MEETING,
    DRAFT_KINDS,
    KINDS,
    LATER_STAGES,
    MEETING_KINDS,
    PRIORITY,
)
from daemon.core.model import DraftKind


def test_every_kind_has_one_row_in_the_order_of_the_type() -> None:
    assert get_args(DraftKind) == DRAFT_KINDS


def test_every_kind_has_a_default_template() -> None:
    templates = files("daemon.templates")
    assert [kind for kind in DRAFT_KINDS if not (templates / f"{kind}.txt").is_file()] == []


def test_priorities_are_a_strict_order() -> None:
    assert sorted(PRIORITY.values()) == list(range(len(KINDS)))


def test_a_meetings_life_runs_in_stage_order() -> None:
    stages = [KINDS[kind].stage or 0 for kind in MEETING_KINDS]
    assert stages == sorted(stages) and len(set(stages)) == len(stages)
    assert BEFORE_THE_MEETING <= ABOUT_ONE_MEETING
    for kind, later in LATER_STAGES.items():
        assert all((KINDS[k].stage or 0) > (KINDS[kind].stage or 0) for k in later)
        assert kind in ABOUT_ONE_MEETING
    after = tuple(kind for kind in MEETING_KINDS if kind not in BEFORE_THE_MEETING)
    assert "thank_you" in after and "follow_up" in after
    assert LATER_STAGES["prep"] == LATER_STAGES["confirmation"] == after


def test_the_prep_note_goes_to_the_user_and_no_other_kind_does() -> None:
    assert [kind for kind, k in KINDS.items() if not k.to_contact] == ["prep"]
