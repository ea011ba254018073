"""The commands about contacts: ``announce`` (news to every active contact) and ``contact
stop|pause|resume`` (one contact's drafts); the ``coffeechat`` group in :mod:`daemon.app.cli`
adds them. Each imports what it changes only when it runs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from daemon.app.context import EXIT_FAILED, Context
from daemon.core.model import ContactPrefs


@click.command()
@click.option("--template", default="news", show_default=True, type=click.Choice(["news"]),
              help="The template (your own news.txt in the templates folder replaces it).")
@click.option("--message", required=True, help="Your news, in your own words.")
@click.option("--dry-run", is_flag=True, help="Show who would get a note, and the first "
              "one, and write nothing.")
@click.option("--limit", type=click.IntRange(1, 1000), default=None,
              help="Write at most this many notes (default: [announce] max_drafts).")
@click.option("--yes", is_flag=True, help="Write without asking.")
@click.pass_obj
def announce(obj: Context, template: str, message: str, dry_run: bool, limit: int | None,
             yes: bool) -> None:
    """Draft a personal note with your news to every active contact.

    Shows who gets one and the first note before writing. Running the same message again
    writes only the notes not yet written.
    """
    from daemon.app import announce as news
    from daemon.state.store import Store

    assert template == "news"
    settings = obj.settings()
    cap = limit or settings.announce_max
    now = datetime.now(UTC)
    store = Store(settings.state_path)
    found = news.prepare(settings, store, message, cap, now)
    click.echo(f"{len(found.specs)} note(s) to write:")
    for spec in found.specs:
        click.echo(f"  {spec.contact.name or spec.contact.email} <{spec.contact.email}> "
                   f"({spec.account})")
    if found.already:
        click.echo(f"{len(found.already)} contact(s) already have this note.")
    if found.left_out:
        click.echo(f"{len(found.left_out)} more beyond the limit of {cap}: run this again "
                   "afterwards to write theirs.")
    if not found.specs:
        return
    click.echo("\n--- the first note ---")
    click.echo(news.preview(settings, store, found.specs[0], now))
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("not a terminal, so nothing was written: add --yes "
                                       "to write without asking")
        click.confirm(f"Write {len(found.specs)} draft(s)?", abort=True)
    done = news.write(settings, message, cap)
    click.echo(f"Wrote {len(done.made)} draft(s).")
    for problem in done.problems:
        click.echo(f"not written: {problem}", err=True)
    if done.problems:
        sys.exit(EXIT_FAILED)


@click.group()
def contact() -> None:
    """Stop, pause or resume the drafts for one contact."""


def _save_prefs(obj: Context, prefs: ContactPrefs) -> None:
    from daemon.app.queries import change_prefs

    click.echo(change_prefs(obj.settings(), prefs))


def _address(email: str) -> str:
    return email.strip().lower()


@contact.command()
@click.argument("email")
@click.pass_obj
def stop(obj: Context, email: str) -> None:
    """No more drafts of any kind to EMAIL (until `resume`)."""
    _save_prefs(obj, ContactPrefs(email=_address(email), status="stopped"))


@contact.command()
@click.argument("email")
@click.option("--until", "until", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Resume by itself on this date (YYYY-MM-DD, your time zone).")
@click.pass_obj
def pause(obj: Context, email: str, until: datetime | None) -> None:
    """Hold drafts to EMAIL until `resume` (or --until a date)."""
    settings = obj.settings()
    when = None if until is None else until.replace(tzinfo=settings.timezone)
    if when is not None and when - datetime.now(settings.timezone) > timedelta(days=3650):
        raise click.BadParameter("pick a date within ten years", param_hint="--until")
    _save_prefs(obj, ContactPrefs(email=_address(email), status="paused", paused_until=when))


@contact.command()
@click.argument("email")
@click.pass_obj
def resume(obj: Context, email: str) -> None:
    """Draft to EMAIL again."""
    _save_prefs(obj, ContactPrefs(email=_address(email), status="active"))
