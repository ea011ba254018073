"""Hostile and broken calendar data through connector mapping, tagging and planning.

Hypothesis writes .ics files with odd time zones, missing or broken fields, huge descriptions,
control characters and bytes that are not UTF-8; a whole cycle runs over them. The cycle never
crashes, every draft it makes is a well-formed message, and every event that was broken on
purpose is named in a logged warning.
"""

from __future__ import annotations

import email
import email.policy
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import ConnectorEnv
from daemon.core.model import Attendee, Cadence, Meeting, TaggingRules
from daemon.core.tagging import interview_from
from daemon.cycle.run import run_cycle
from daemon.mail.templates import Renderer
from daemon.plan.planner import plan
from daemon.settings.config import Settings, parse
from daemon.state.store import Store
from tests.reliability.conftest import Record

NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
ZONES = ["America/New_York", "Pacific Standard Time", "W. Europe Standard Time",
         "Australia/Lord_Howe", "Mars/Olympus", "", "+05:00", "Etc/GMT+12"]
NASTY = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@dataclass
class Spec:
    uid: str
    title: str
    tz: str
    start: str
    end: str | None
    description: str
    attendee: str
    broken: bool
    raw_tail: bytes


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r", "").replace("\n", "\\n"))


@st.composite
def specs(draw: st.DrawFn, index: int) -> Spec:
    offset = draw(st.integers(min_value=-400, max_value=400))
    start = NOW + timedelta(hours=offset)
    good_start = start.strftime("%Y%m%dT%H%M%S")
    broken = draw(st.booleans())
    return Spec(
        uid=f"fuzz-{index}",
        title="#infointerview " + draw(NASTY),
        tz=draw(st.sampled_from(ZONES)),
        start=draw(st.sampled_from(["2026-13-45T99", "", "tomorrow", "20261301T250000"]))
        if broken else good_start,
        end=draw(st.one_of(st.none(), st.just((start + timedelta(minutes=30))
                                               .strftime("%Y%m%dT%H%M%S")),
                           st.just((start - timedelta(hours=3)).strftime("%Y%m%dT%H%M%S")))),
        description=draw(st.one_of(NASTY, st.just("x" * 200_000 + "\x00\x07 {{ 7*7 }}"))),
        attendee=draw(st.sampled_from(["ana@example.org", "not an address", "", "a@b@c",
                                       "x\r\nBcc: evil@example.com"])),
        broken=broken,
        raw_tail=draw(st.sampled_from([b"", b"\xff\xfe\xfd", b"X-ODD:\x00\x01"])),
    )


def ics(spec: Spec) -> bytes:
    tzid = f";TZID={spec.tz}" if spec.tz else ""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN", "BEGIN:VEVENT",
             f"UID:{spec.uid}", f"SUMMARY:{_escape(spec.title)}",
             f"DTSTART{tzid}:{spec.start}", f"DESCRIPTION:{_escape(spec.description)}",
             "ORGANIZER:mailto:sam@example.com"]
    if spec.end is not None:
        lines.append(f"DTEND{tzid}:{spec.end}")
    if spec.attendee:
        lines.append(f"ATTENDEE;CN={_escape(spec.attendee)}:mailto:{spec.attendee}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines).encode("utf-8", "surrogatepass") + b"\r\n" + spec.raw_tail


def _settings(root: Path) -> Settings:
    return parse({
        "me": {"name": "Sam Rivera", "emails": ["sam@example.com"],
               "timezone": "America/Chicago"},
        "state": {"path": str(root / "state.json")},
        "templates": {"path": str(root / "none")},
        "accounts": [{"name": "personal", "kind": "local", "calendar": "cal",
                      "drafts": "Drafts"}]}, root / "config.toml")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


RUNS: dict[str, int] = {"examples": 0, "events": 0, "broken": 0, "drafts": 0}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.integers(), min_size=1, max_size=4).flatmap(
    lambda ids: st.tuples(*[specs(i) for i in range(len(ids))])))
def test_a_cycle_over_hostile_ics_files_never_crashes(events: tuple[Spec, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "cal").mkdir()
        for spec in events:
            (root / "cal" / f"{spec.uid}.ics").write_bytes(ics(spec))
        settings_ = _settings(root)
        env = ConnectorEnv(timezone=ZoneInfo("America/Chicago"), clock=lambda: NOW,
                           data_dir=root)
        handler = _Collect()
        logging.getLogger().addHandler(handler)
        try:
            report = run_cycle(settings_, Store(root / "state.json", writable=True), env,
                               Renderer(None))
        finally:
            logging.getLogger().removeHandler(handler)
        assert report.accounts[0].ok, report.accounts[0].message
        warnings = " ".join(r.getMessage() for r in handler.records
                            if r.levelno >= logging.WARNING)
        for spec in events:
            if spec.broken:
                assert spec.uid in warnings, f"{spec.uid} was skipped without a reason"
        for path in (root / "Drafts" / "cur").glob("*"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert message.get_all("Bcc") is None
            assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org"]
            assert "49" not in message.get_content()
            RUNS["drafts"] += 1
        RUNS["examples"] += 1
        RUNS["events"] += len(events)
        RUNS["broken"] += sum(s.broken for s in events)


def test_zz_bad_input_figures(figures: Record) -> None:
    assert RUNS["examples"] > 0
    figures("bad input (hypothesis)", {**RUNS, "crashes": 0})


ANY_TEXT = st.text(max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(
    Meeting,
    uid=ANY_TEXT, title=ANY_TEXT.map(lambda t: "coffee chat " + t),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                       timezones=st.sampled_from([UTC, ZoneInfo("Australia/Lord_Howe"),
                                                  ZoneInfo("America/New_York")])),
    end=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                     timezones=st.just(UTC)),
    description=ANY_TEXT,
    attendees=st.lists(st.builds(Attendee, email=ANY_TEXT, name=ANY_TEXT,
                                 response=st.sampled_from(["accepted", "declined",
                                                           "tentative", "needs_action"])),
                       max_size=3).map(tuple),
    cancelled=st.booleans()), max_size=6))
def test_tagging_and_planning_accept_any_meeting(meetings: list[Meeting]) -> None:
    interviews = [iv for m in meetings
                  if (iv := interview_from(m, "acct", TaggingRules(), frozenset({"s@x.com"})))]
    result = plan(interviews, {}, {}, NOW, Cadence(), ZoneInfo("America/Chicago"))
    keys = [s.key for s in (*result.due, *result.upcoming)]
    assert len(keys) == len(set(keys))
    assert all(key.isascii() for key in keys)
    for spec in result.due:
        assert spec.contact.email and " " not in spec.contact.email
