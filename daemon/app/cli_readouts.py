"""The commands that only read: ``status``, ``plan``, ``preview`` and ``contacts`` (the
``coffeechat`` group in :mod:`daemon.app.cli` adds them). Each imports what it shows only when
it runs."""

from __future__ import annotations

import json
from typing import get_args

import click

from daemon.app.context import Context
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.model import DraftKind


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Accounts, contacts, drafts made, and what needs your attention."""
    from daemon.app import views
    from daemon.app.queries import snapshot
    from daemon.core import collector
    from daemon.cycle import health

    settings = obj.settings()
    with collector.paused():  # the whole state read and shown: nothing for it to collect
        snap = snapshot(settings, settled=as_json)  # every draft ever made, in JSON
        rows = views.contact_rows(snap.meetings, snap.prefs, snap.plan, snap.now,
                                  snap.settled.people)
        found = health.load(settings.state_path)
        if as_json:
            click.echo(json.dumps(views.status_json(found, rows, snap.drafts, snap.plan,
                                                    snap.not_read, now=snap.now), indent=2))
        else:
            click.echo(views.status_text(found, rows, snap.drafts, snap.plan,
                                         settings.timezone, snap.not_read, snap.settled,
                                         now=snap.now))
        collector.exempt_at_exit()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plan(obj: Context, as_json: bool) -> None:
    """What will be drafted when, and what was skipped and why (from the last sync)."""
    from daemon.app import views
    from daemon.app.queries import snapshot
    from daemon.core import collector

    settings = obj.settings()
    with collector.paused():  # as for status
        snap = snapshot(settings)
        if as_json:
            click.echo(json.dumps(views.plan_json(snap.plan), indent=2))
        else:
            click.echo(views.plan_text(snap.plan, settings.timezone))
        collector.exempt_at_exit()


@click.command()
@click.argument("kind", type=click.Choice(DRAFT_KINDS))
@click.argument("meeting", required=False)
@click.pass_obj
def preview(obj: Context, kind: str, meeting: str | None) -> None:
    """Show the KIND draft for a stored MEETING (uid or part of its title), or a sample one.

    It is made as the real draft is (a prep note goes to you) and shown as your mail program
    will show it. Nothing is written anywhere.
    """
    from daemon.app.queries import preview_message

    assert kind in get_args(DraftKind)
    settings = obj.settings()
    click.echo(preview_message(settings, kind, meeting))  # type: ignore[arg-type]


@click.command()
@click.pass_obj
def contacts(obj: Context) -> None:
    """Everyone met in a tagged meeting, with their status and next draft."""
    from daemon.app import views
    from daemon.app.queries import snapshot
    from daemon.core import collector

    settings = obj.settings()
    with collector.paused():  # as for status
        snap = snapshot(settings)
        rows = views.contact_rows(snap.meetings, snap.prefs, snap.plan, snap.now,
                                  snap.settled.people)
        click.echo(views.contacts_text(rows, settings.timezone))
        collector.exempt_at_exit()
