"""The ``coffeechat`` command: the group, its options, the commands that run coffeechat
(``demo``, ``init``, ``run``, ``auth``, ``doctor``, ``service``) and the entry point. The
read-outs are :mod:`daemon.app.cli_readouts`, the commands about contacts
:mod:`daemon.app.cli_contacts`; each command imports what it uses only when it runs."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from daemon.app.cli_contacts import announce, contact
from daemon.app.cli_readouts import contacts, plan, preview, status
from daemon.app.context import EXIT_CONFIG, EXIT_FAILED, Context
from daemon.app.logs import setup_logging
from daemon.core import collector
from daemon.core.errors import CoffeechatError, ConfigError
from daemon.settings.paths import default_config_path, system_timezone_name


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
    setup_logging(verbose, quiet)
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


for _command in (status, plan, preview, contacts, announce, contact):
    cli.add_command(_command)


def main() -> None:
    """Entry point: run the CLI and turn coffeechat's errors into messages and exit codes."""
    collector.command_ends_process()
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
