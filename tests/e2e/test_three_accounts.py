"""A Google, an Outlook and a local account in one config, in one cycle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.three import three_accounts

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(microsecond=0)
ENDED = NOW - timedelta(hours=2)


def test_three_kinds_in_one_cycle_and_one_failing_does_not_stop_the_others(
        tmp_path: Path) -> None:
    with three_accounts(tmp_path / "w") as three:
        ws = three.ws
        three.add("Coffee chat with Lee", ENDED, ("Lee Park", "lee@x.org"), "personal", "loc1")
        three.add("Coffee chat with Gia", ENDED, ("Gia Rossi", "gia@x.org"), "gmail", "goo1")
        three.add("Coffee chat with Oz", ENDED, ("Oz Tan", "oz@x.org"), "work", "out1")
        # the same invitation in both the Google and the Outlook calendar: one meeting
        three.add("Coffee chat with Sia", ENDED, ("Sia Moss", "sia@x.org"), "gmail", "shared1")
        three.add("Coffee chat with Sia", ENDED, ("Sia Moss", "sia@x.org"), "work", "shared1")

        first = ws.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert three.local_keys() == ["loc1/thank_you/lee@x.org"]
        shared = "shared1/thank_you/sia@x.org"
        assert three.all_keys().count(shared) == 1
        assert "goo1/thank_you/gia@x.org" in three.google_keys()
        assert "out1/thank_you/oz@x.org" in three.outlook_keys()

        # Outlook's token command breaks; the next meetings of the other two still get drafts
        printer = ws.root / "print_graph_token.py"
        good = printer.read_text()
        printer.write_text("import sys\nsys.exit(5)\n")
        three.add("Coffee chat with Lou", ENDED, ("Lou Ng", "lou@x.org"), "personal", "loc2")
        three.add("Coffee chat with Gus", ENDED, ("Gus Ho", "gus@x.org"), "gmail", "goo2")
        three.add("Coffee chat with Ola", ENDED, ("Ola Fry", "ola@x.org"), "work", "out2")
        second = ws.run("run", "--once")
        assert second.returncode == 1
        assert "work: FAILED" in second.stderr and "token_command" in second.stderr
        assert "loc2/thank_you/lou@x.org" in three.local_keys()
        assert "goo2/thank_you/gus@x.org" in three.google_keys()
        assert "out2/thank_you/ola@x.org" not in three.outlook_keys()
        status = json.loads(ws.run("status", "--json", check=True).stdout)
        health = {a["name"]: a for a in status["accounts"]}
        assert health["personal"]["ok"] and health["gmail"]["ok"]
        assert not health["work"]["ok"]

        printer.write_text(good)  # fixed: it catches up
        third = ws.run("run", "--once")
        assert third.returncode == 0, third.stderr
        assert "out2/thank_you/ola@x.org" in three.outlook_keys()
        every = three.all_keys()
        assert len(every) == len(set(every)) == 7
        assert not three.sent_anything()
