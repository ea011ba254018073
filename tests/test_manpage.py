"""docs/coffeechat.1 is made from the command line: a command or option the CLI has and the
page lacks fails here, and the page is valid roff."""

from __future__ import annotations

import shutil
import subprocess

import click

from daemon.app import manpage
from daemon.app.cli import cli


def test_the_man_page_is_up_to_date() -> None:
    assert not manpage.stale(), (
        f"docs/coffeechat.1 is stale: run `make docs` ({manpage.COMMAND}) and commit it")


def test_every_command_and_option_is_on_the_page() -> None:
    page = manpage.render()
    ctx = click.Context(cli, info_name="coffeechat")

    def leaves(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
        found = []
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                found += leaves(command, f"{path} {name}")
            else:
                found.append((f"{path} {name}", command))
        return found

    commands = leaves(cli, "coffeechat")
    assert {"coffeechat run", "coffeechat service install", "coffeechat contact stop"} <= {
        path for path, _ in commands}
    for path, command in commands:
        assert f'.SS "{manpage._roff(path)} ' in page, path
        for param in command.params:
            if isinstance(param, click.Option):
                assert manpage._roff(param.opts[-1]) in page, (path, param.opts)


def test_the_page_renders_without_a_warning() -> None:
    groff = shutil.which("groff")
    assert groff, "groff is needed to check the man page: apt-get install groff-base"
    checked = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z"], input=manpage.render(),
                             capture_output=True, text=True, check=False)
    assert (checked.returncode, checked.stderr) == (0, "")
    shown = subprocess.run([groff, "-man", "-Tascii", "-P-c", "-P-b", "-P-u"],
                           input=manpage.render(), capture_output=True, text=True, check=False)
    text = " ".join(shown.stdout.split())
    assert "coffeechat service install [OPTIONS]" in text
    assert '"$(_COFFEECHAT_COMPLETE=bash_source coffeechat)"' in text


def test_roff_escapes_what_would_be_read_as_a_request() -> None:
    assert manpage._roff(".config") == "\\&.config"
    assert manpage._roff("a\\b --x") == "a\\eb \\-\\-x"
