"""The man page, coffeechat(1), made from the command line itself: every command, argument and
option with its help text, as ``--help`` shows them, and the files, environment and exit
statuses around them.

``python -m daemon.app.manpage`` writes ``docs/coffeechat.1``, which the wheel installs as
``share/man/man1/coffeechat.1``; ``tests/test_manpage.py`` fails when it is stale. (click-man
0.6.0, the maintained generator, renders this command tree wrong with click 8.5: it writes the
page of the first subcommand as coffeechat.1.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import click

from daemon.app.cli import cli

PAGE = Path(__file__).resolve().parents[2] / "docs" / "coffeechat.1"
COMMAND = "python -m daemon.app.manpage"

_AFTER = r"""
.SH ENVIRONMENT
.TP
.B COFFEECHAT_CONFIG
The config file, when \fB\-\-config\fR is not given.
.TP
.B _COFFEECHAT_COMPLETE
Set by the shell's completion script; see \fBSHELL COMPLETION\fR.
.SH FILES
.TP
.I ~/.config/coffeechat/config.toml
The config (the XDG config folder); \fBcoffeechat init\fR writes a commented starter.
.TP
.I ~/.config/coffeechat/templates/
Your own templates, replacing the defaults of the same name.
.TP
.I ~/.local/share/coffeechat/state.json
What coffeechat knows (the XDG data folder), mode 0600; beside it its daily backups
(\fIstate.json.bak.1\fR, ...), its lock, the ledger of drafts (\fIstate.json.ledger\fR) and the
settled history (\fIstate.settled.json\fR).
.TP
.I ~/.local/share/coffeechat/tokens/
The accounts' sign-ins, mode 0600.
.TP
.I ~/.cache/coffeechat/config-cache.json
The last validated configs; may be deleted at any time.
.TP
.I ~/.config/systemd/user/coffeechat.service
The unit \fBcoffeechat service install\fR writes.
.SH EXIT STATUS
.TP
.B 0
Success: for \fBrun \-\-once\fR, every account synced.
.TP
.B 1
An account or a draft failed (the others were still processed), or a \fBdoctor\fR check failed.
.TP
.B 2
The config has a problem (each one is printed with its key), or the command line is wrong.
.SH SHELL COMPLETION
Commands, options and choices complete in bash (4.4 or later), zsh and fish. Add to
\fI~/.bashrc\fR:
.PP
.RS
.nf
eval "$(_COFFEECHAT_COMPLETE=bash_source coffeechat)"
.fi
.RE
.PP
to \fI~/.zshrc\fR the same with \fBzsh_source\fR, and to
\fI~/.config/fish/completions/coffeechat.fish\fR:
.PP
.RS
.nf
_COFFEECHAT_COMPLETE=fish_source coffeechat | source
.fi
.RE
.SH NOTES
coffeechat never sends mail: it only writes drafts into your Drafts folder. The documentation
(setup for Google and Outlook, the rules, every config key and template variable, operations)
is in the \fIdocs/\fR folder of its source.
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
.BR pipx (1)
"""


def render() -> str:
    """The whole page, in roff (man(7) macros)."""
    ctx = click.Context(cli, info_name="coffeechat", **cli.context_settings)
    paragraphs = _paragraphs(cli.help or "")
    lines = [f'.TH COFFEECHAT 1 "" "coffeechat {version("coffeechat")}" "User Commands"',
             ".SH NAME", f"coffeechat \\- {_roff(paragraphs[0].removeprefix('coffeechat: '))}",
             ".SH SYNOPSIS", ".B coffeechat",
             r"[\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]...",
             ".SH DESCRIPTION", *_text(paragraphs[1:]),
             ".SH OPTIONS", *_options(cli, ctx),
             ".SH COMMANDS", *_commands(cli, ctx)]
    return "\n".join(lines) + _AFTER


def _commands(group: click.Group, ctx: click.Context) -> Iterator[str]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        path = sub.command_path
        if isinstance(command, click.Group):
            yield from _commands(command, sub)
            continue
        usage = " ".join(command.collect_usage_pieces(sub))
        yield f'.SS "{_roff(path)} {_roff(usage)}"'
        yield from _text(_paragraphs(command.help or ""))
        yield from _options(command, sub, with_help=False)


def _options(command: click.Command, ctx: click.Context,
             with_help: bool = True) -> Iterator[str]:
    """The options of ``command`` (``-h``/``--help`` only when ``with_help``), each a tagged
    paragraph; arguments are in the usage line."""
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if (record is None or isinstance(param, click.Argument)
                or (not with_help and param is command.get_help_option(ctx))):
            continue
        names, help_text = record
        yield ".TP"
        yield f"\\fB{_roff(names)}\\fR"
        yield _roff(" ".join(help_text.split()))


def _paragraphs(text: str) -> list[str]:
    blocks = [" ".join(line.strip() for line in block.splitlines() if line.strip() != "\b")
              for block in text.split("\n\n")]
    return [b for b in blocks if b] or [""]


def _text(paragraphs: list[str]) -> Iterator[str]:
    for index, paragraph in enumerate(paragraphs):
        if index:
            yield ".PP"
        yield _roff(paragraph)


def _roff(text: str) -> str:
    """``text`` safe in roff: backslashes and hyphens escaped, no line starting a request."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + out if out.startswith((".", "'")) else out


def stale() -> bool:
    """Whether ``docs/coffeechat.1`` differs from the page the command line makes."""
    return not PAGE.exists() or PAGE.read_text(encoding="utf-8") != render()


def main() -> int:
    """Write ``docs/coffeechat.1`` when it is stale; say what was done."""
    if stale():
        PAGE.write_text(render(), encoding="utf-8")
        print(f"rewrote {PAGE.relative_to(PAGE.parents[1])}")
    else:
        print("the man page is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
