"""The ``coffeechat`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, get_args

import click

from daemon.settings.paths import default_config_path, system_timezone_name

if TYPE_CHECKING:
    from daemon.settings.config import Settings
from daemon.core.errors import CoffeechatError, ConfigError
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.model import ContactPrefs, DraftKind

EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class Context:
    """What every command gets: where the config is."""

    config_path: Path

    def settings(self) -> Settings:
        """The validated config; raises ``ConfigError``."""
        from daemon.settings.config import load

        return load(self.config_path)


class _JournalFormatter(logging.Formatter):
    """Plain lines with sd-daemon(3) ``<N>`` priority prefixes: journald adds the time."""

    PRIORITIES: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
        logging.DEBUG: 7}

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def _setup_logging(verbose: int, quiet: int) -> None:
    level = max(logging.DEBUG, logging.INFO + 10 * (quiet - verbose))
    handler = logging.StreamHandler(sys.stderr)
    if "JOURNAL_STREAM" in os.environ:
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: $COFFEECHAT_CONFIG, else config.toml in the XDG "
                   "config folder).")
@click.option("-v", "--verbose", count=True, help="More log detail (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log detail (warnings and errors only).")
@click.version_option(package_name="coffeechat")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, quiet: int) -> None:
    """coffeechat: well-timed informational-interview emails, waiting in your Drafts folder.

    It reads your calendars, finds meetings you tagged (e.g. "#infointerview"), and writes a
    confirmation, a thank-you, a one-month follow-up and regular catch-ups as drafts for you to
    review and send. It never sends anything.
    """
    _setup_logging(verbose, quiet)
    ctx.obj = Context(config_path=(config_path or default_config_path()).expanduser())


@cli.command()
@click.option("--workspace", type=click.Path(path_type=Path), default=Path("coffeechat-demo"),
              show_default=True, help="Folder for the demo's calendar, Maildir and config.")
def demo(workspace: Path) -> None:
    """Show the main job on a made-up calendar, with no account needed."""
    from daemon.app.demo import run_demo

    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))  # the demo tells its own story
    run_demo(workspace.resolve(), system_timezone_name())


@cli.command()
@click.option("--name", default="Your Name", show_default=True, help="Your name, as drafts sign.")
@click.option("--email", default="you@example.com", show_default=True, help="Your address.")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.pass_obj
def init(obj: Context, name: str, email: str, force: bool) -> None:
    """Write a commented starter config."""
    from daemon.app.starter import starter_config

    path = obj.config_path
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_config(name=name, email=email, timezone=system_timezone_name(),
                                   calendar="calendar/", drafts="Maildir/Drafts"), "utf-8")
    click.echo(f"Wrote {path}.\nEdit [me] and [[accounts]], then check it with "
               "`coffeechat plan`.")


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit: 0 all accounts synced, "
              "1 an account or draft failed, 2 config error.")
@click.pass_obj
def run(obj: Context, once: bool) -> None:
    """Watch the calendars and write drafts as they fall due."""
    from daemon.app import service

    settings = obj.settings()
    if not once:
        sys.exit(service.Service(settings, obj.settings).run())
    report = service.run_once(settings)
    for outcome in report.accounts:
        if outcome.ok:
            click.echo(f"{outcome.name}: {outcome.changes} change(s), "
                       f"{len(outcome.drafted)} draft(s) made")
            for record in outcome.withdrawn:
                click.echo(f"{outcome.name}: withdrew the {record.kind} to {record.contact}: "
                           f"{record.flag}")
            for record in outcome.flagged:
                click.echo(f"{outcome.name}: check your {record.kind} to {record.contact}: "
                           f"{record.flag}")
        else:
            click.echo(f"{outcome.name}: FAILED: {outcome.message}", err=True)
        for problem in outcome.problems:
            click.echo(f"{outcome.name}: no draft for {problem}", err=True)
    sys.exit(0 if report.ok else EXIT_FAILED)


@cli.command()
@click.argument("kind", type=click.Choice(["google", "outlook"]))
@click.option("--account", "account_name", help="The [[accounts]] name (needed when several "
              "accounts are of this kind).")
@click.option("--no-browser", is_flag=True, help="Print the sign-in address instead of "
              "opening a browser (for a machine you reach over SSH).")
@click.pass_obj
def auth(obj: Context, kind: str, account_name: str | None, no_browser: bool) -> None:
    """Sign an account in, once; the service then refreshes the credentials by itself."""
    from connectors.base import AuthPrompt, ConnectorEnv, authorize
    from daemon.settings.paths import data_dir

    settings = obj.settings()
    candidates = [a for a in settings.accounts if a.kind == kind
                  and (account_name is None or a.name == account_name)]
    if len(candidates) != 1:
        names = ", ".join(a.name for a in settings.accounts if a.kind == kind) or "none"
        raise click.ClickException(
            f"name one {kind} account with --account (the config's {kind} accounts: {names})")
    account = candidates[0]
    env = ConnectorEnv(timezone=settings.timezone, clock=lambda: datetime.now(settings.timezone),
                       data_dir=data_dir())
    prompt = AuthPrompt(echo=click.echo, open_browser=not no_browser)
    click.echo(authorize(account.name, kind, account.options, env, prompt))


@cli.command()
@click.pass_obj
def doctor(obj: Context) -> None:
    """Check config, accounts, templates, state and time zone; each problem with its fix."""
    from daemon.app.doctor import Check, report_text, run_checks

    try:
        checks = run_checks(obj.settings())
    except ConfigError as exc:
        fix = (f"edit {exc.path}" if Path(exc.path).exists() else
               "coffeechat init writes a starter config (or pass --config PATH)")
        click.echo(report_text([Check("config", False, str(exc), fix)]))
        sys.exit(EXIT_CONFIG)  # as `run` does
    click.echo(report_text(checks))
    sys.exit(0 if all(c.ok for c in checks) else EXIT_FAILED)


@cli.group()
def service() -> None:
    """Run coffeechat as a systemd user service."""


@service.command("install")
@click.option("--force", is_flag=True, help="Overwrite an existing unit file.")
@click.pass_obj
def service_install(obj: Context, force: bool) -> None:
    """Write the user unit that runs this coffeechat with this config."""
    from daemon.app.unit import this_command, unit_path, unit_text

    obj.settings()  # a service with a broken config would only restart in a loop
    path = unit_path()
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(this_command(obj.config_path)), "utf-8")
    click.echo(f"Wrote {path}. Now:\n"
               "  systemctl --user daemon-reload\n"
               "  systemctl --user enable --now coffeechat\n"
               "  loginctl enable-linger   # keep it running when you are logged out\n"
               "  journalctl --user -u coffeechat   # its log")


@cli.command()
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
        rows = views.contact_rows(snap.interviews, snap.prefs, snap.plan, snap.now,
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


@cli.command()
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


@cli.command()
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


@cli.command()
@click.pass_obj
def contacts(obj: Context) -> None:
    """Everyone met in a tagged meeting, with their status and next draft."""
    from daemon.app import views
    from daemon.app.queries import snapshot
    from daemon.core import collector

    settings = obj.settings()
    with collector.paused():  # as for status
        snap = snapshot(settings)
        rows = views.contact_rows(snap.interviews, snap.prefs, snap.plan, snap.now,
                                  snap.settled.people)
        click.echo(views.contacts_text(rows, settings.timezone))
        collector.exempt_at_exit()


@cli.command()
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


@cli.group()
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


def main() -> None:
    """Entry point: run the CLI and turn coffeechat's errors into messages and exit codes."""
    try:
        cli.main(prog_name="coffeechat", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"coffeechat: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except CoffeechatError as exc:
        click.echo(f"coffeechat: {exc}", err=True)
        sys.exit(EXIT_FAILED)
