"""``coffeechat demo``: a workspace with a made-up calendar, a Maildir and a config.

The meetings are dated relative to the moment the workspace is made, each at a plausible
local time (08:00 to 17:30), so that one cycle has something of every kind to do: a
confirmation, a thank-you, a one-month follow-up, a catch-up, a cancelled meeting, an untagged
one and a tagged one with nobody to write to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from daemon.app.starter import starter_config

ME_NAME = "Sam Rivera"
ME_EMAIL = "sam@example.com"


@dataclass(frozen=True)
class DemoEvent:
    """One meeting of the demo calendar."""

    slug: str
    title: str
    start: datetime
    minutes: int
    contact: tuple[str, str] | None
    description: str = ""
    location: str = ""
    cancelled: bool = False


_SLOTS = tuple(time(hour, minute) for hour in range(8, 18) for minute in (0, 30))
"""When the demo's meetings may start: on the hour or half past, 08:00 to 17:30 local time."""


def latest_slot(limit: datetime, tz: ZoneInfo) -> datetime:
    """The latest of :data:`_SLOTS` in ``tz`` at or before ``limit`` (aware)."""
    day = limit.astimezone(tz).date()
    while True:
        for slot in reversed(_SLOTS):
            moment = datetime.combine(day, slot, tzinfo=tz)
            if moment <= limit:
                return moment
        day -= timedelta(days=1)


def demo_events(now: datetime, tz: ZoneInfo) -> list[DemoEvent]:
    """The demo's meetings, each at a plausible local time in ``tz`` (:data:`_SLOTS`), as late
    as lets one cycle at ``now`` (aware) draft every kind of email at once: a confirmation for
    a meeting at most two days away, a thank-you for one that ended over an hour ago, a
    follow-up for one that ended over 30 days ago and a catch-up 120 days after another.
    "N days" are wall-clock days, as the planner counts them."""
    local = now.astimezone(tz)

    def by(days: int = 0, minutes: int = 0) -> datetime:
        return latest_slot(local + timedelta(days=days) - timedelta(minutes=minutes), tz)

    return [
        DemoEvent("priya", "Coffee chat with Priya Natarajan", by(days=2), 30,
                  ("Priya Natarajan", "priya.natarajan@example.org"),
                  "#infointerview\nNotes: she moved from teaching into UX research; ask how "
                  "she built her first portfolio.", "Blue Bottle Coffee, 315 Linden St"),
        DemoEvent("marcus", "Informational interview: Marcus Lee (data engineering)",
                  by(minutes=30 + 60), 30, ("Marcus Lee", "marcus.lee@example.net"),
                  "Notes:\n- his team hires juniors through a summer rotation\n"
                  "Suggested:\n- read Designing Data-Intensive Applications\n"
                  "- talk to his colleague Ana about analytics roles\n"
                  "Promised:\n- send him my portfolio link", "https://meet.example.com/abc-defg"),
        DemoEvent("dana", "Info interview with Dana Okafor", by(days=-30, minutes=45), 45,
                  ("Dana Okafor", "dana.okafor@example.com"),
                  "Notes: nonprofit program management; recommended the local PMI chapter "
                  "events.", "City Library, room 2"),
        DemoEvent("elena", "Coffee chat - Elena Petrova, product design",
                  by(days=-120, minutes=30), 30, ("Elena Petrova", "elena@example.io"),
                  "Notes: design systems; she liked my accessibility side project."),
        DemoEvent("tom", "#infointerview Tom Becker (cancelled by Tom)", by(days=4), 30,
                  ("Tom Becker", "tom.becker@example.com"), cancelled=True),
        DemoEvent("standup", "Volunteer committee meeting", by(days=1), 60,
                  ("Chris Doe", "chris@example.com"), "Monthly planning."),
        DemoEvent("jo", "Coffee chat (ask Jo for an intro)", by(days=6), 30, None,
                  "Still need Jo's email address."),
    ]


def to_ics(event: DemoEvent, now: datetime) -> bytes:
    """One event as an iCalendar file, the user as organizer and the contact as attendee."""
    cal = Calendar()
    cal.add("prodid", "-//coffeechat//demo//EN")
    cal.add("version", "2.0")
    ev = Event()
    ev.add("uid", f"demo-{event.slug}@coffeechat.example")
    ev.add("summary", event.title)
    ev.add("dtstamp", now)
    ev.add("dtstart", event.start)
    ev.add("dtend", event.start + timedelta(minutes=event.minutes))
    if event.description:
        ev.add("description", event.description)
    if event.location:
        ev.add("location", event.location)
    if event.cancelled:
        ev.add("status", "CANCELLED")
    organizer = vCalAddress(f"mailto:{ME_EMAIL}")
    organizer.params["cn"] = vText(ME_NAME)
    ev.add("organizer", organizer)
    if event.contact:
        name, email = event.contact
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(name)
        attendee.params["partstat"] = vText("ACCEPTED")
        ev.add("attendee", attendee, encode=False)
    cal.add_component(ev)
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def build_workspace(folder: Path, now: datetime, timezone: str) -> Path:
    """Create the demo workspace in ``folder`` (calendar/, Maildir/Drafts, templates/,
    config.toml) and return the config's path. An existing workspace is left as it is."""
    config = folder / "config.toml"
    if config.exists():
        return config
    calendar = folder / "calendar"
    calendar.mkdir(parents=True, exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    for event in demo_events(now, ZoneInfo(timezone)):
        (calendar / f"{event.slug}.ics").write_bytes(to_ics(event, now))
    config.write_text(starter_config(
        name=ME_NAME, email=ME_EMAIL, timezone=timezone, calendar="calendar/",
        drafts="Maildir/Drafts", state="state.json", templates="templates/",
        # The demo shows every kind on whatever day it runs, so it drafts at any hour.
        working_hours="any"), "utf-8")
    return config


def run_demo(folder: Path, timezone: str) -> None:
    """Build (or reuse) the workspace in ``folder``, run one cycle, and tell what happened."""
    import click

    from daemon.app.queries import snapshot
    from daemon.app.service import run_once, utc_now
    from daemon.app.views import plan_text
    from daemon.settings.config import load

    fresh = not (folder / "config.toml").exists()
    config = build_workspace(folder, utc_now(), timezone)
    settings = load(config)
    drafts_dir = Path(settings.accounts[0].options["drafts"])
    click.echo(f"coffeechat demo workspace: {folder}" + (" (new)" if fresh else " (reused)"))
    click.echo(f"  calendar  {folder / 'calendar'}  (.ics files, one meeting each)")
    click.echo(f"  drafts    {drafts_dir}  (a Maildir; coffeechat only ever writes drafts)")
    click.echo(f"  config    {config}")
    report = run_once(settings)
    for outcome in report.accounts:
        if not outcome.ok:
            click.echo(f"\nAccount {outcome.name} failed: {outcome.message}", err=True)
    made = report.drafted
    if not made:
        total = len(snapshot(settings).drafts)
        click.echo(f"\nNothing new to draft: the {total} drafts from the earlier run are "
                   f"already in {drafts_dir}, and coffeechat never writes one twice.")
        return
    click.echo(f"\nDrafted {len(made)} email(s) this cycle:")
    for record in made:
        click.echo(f"  {record.kind:<12} to {record.contact:<30} {record.reason}")
    click.echo("\nWhat the planner decided for everything else:")
    click.echo(_indent(plan_text(snapshot(settings).plan, settings.timezone)))
    shown = next((r for r in made if r.kind == "thank_you"), made[0])
    if shown.ref is not None:
        files = sorted((drafts_dir / "cur").glob(shown.ref.id + "*"))
        if files:
            click.echo(f"\nThe {shown.kind.replace('_', '-')} in full ({files[0]}):\n")
            click.echo(_indent(files[0].read_text("utf-8"), "  | "))
    click.echo("Run `make demo` (or this command) again: it will draft nothing new.\n"
               f"Look around: coffeechat --config {config} status | plan | contacts")


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
