"""``coffeechat doctor``: checks that everything coffeechat needs is in order, each with a fix.

A check passes, fails, or passes with a warning (``WARN``: something needs the user's attention,
such as a calendar file the last cycle could not read, but nothing stops coffeechat; doctor
still exits 0).

Read-only: it never writes the state, never takes a lock, and never creates a draft (account
checks read the calendar and look a key up in Drafts).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import Account, ConnectorEnv, MailHistory, open_account
from daemon.core.errors import AuthError, CoffeechatError
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.model import JSON
from daemon.core.skipped import Skipped
from daemon.cycle import health
from daemon.mail.message import build_message
from daemon.mail.templates import Renderer
from daemon.mail.variables import draft_variables
from daemon.settings.config import Settings
from daemon.settings.paths import data_dir
from daemon.state import backups
from daemon.state.schema import damage
from daemon.state.settled import settled_path
from daemon.state.store import Store

PROBE_KEY = "coffeechat-doctor/probe"
"""Looked up in each Drafts folder to prove it can be read; no draft carries it."""
PROBE_CONTACT = "coffeechat-doctor@probe.invalid"
"""Looked up in each mail history to prove it can be read; nobody has this address."""
THREADING = {
    "local": "replies carry In-Reply-To and References (a Maildir has no conversation ids; "
             "mail clients thread on these headers)",
    "google": "replies join the Gmail conversation (threadId)",
    "outlook": "replies are made with Outlook's createReply, in the same conversation",
    "caldav": "replies carry In-Reply-To and References (IMAP has no conversation ids; mail "
              "programs thread on these headers)",
}
"""How each kind of account files a reply in a conversation, for the reply detection check."""


@dataclass(frozen=True)
class Check:
    """One check's result: what was checked, whether it passed, what was found, the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False
    """It passed, but the user should act on it (``fix``)."""


def run_checks(settings: Settings, now: datetime | None = None) -> list[Check]:
    """Every check, in order. The config itself was checked by loading ``settings``."""
    moment = now or datetime.now(UTC)
    checks = [Check("config", True, f"{settings.path}: {len(settings.accounts)} account(s)")]
    checks.append(_timezone(settings, moment))
    checks.append(_clock(settings.state_path, moment))
    checks.extend(_state(settings.state_path))
    checks.append(_state_folder(settings.state_path))
    checks.extend(_private_files(data_dir() / "tokens", "token file"))
    checks.extend(_templates(settings, moment))
    checks.extend(_accounts(settings))
    return checks


def _timezone(settings: Settings, now: datetime) -> Check:
    local = now.astimezone(settings.timezone)
    offset = local.strftime("%z")
    return Check("time zone", True,
                 f"{settings.timezone.key}: now {local:%a %H:%M} {local.tzname()} "
                 f"(UTC{offset[:3]}:{offset[3:]}); drafts are timed in this zone")


def _clock(state_path: Path, now: datetime) -> Check:
    """Whether ``now`` is behind the latest cycle already run (the health file says when)."""
    latest = health.load(state_path).behind(now)
    if latest is None:
        return Check("clock", True, f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return Check("clock", True,
                 f"it says {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC, but a cycle already ran "
                 f"at {latest.astimezone(UTC):%Y-%m-%d %H:%M} UTC: the clock is behind",
                 "set the clock right (timedatectl); meanwhile no draft earlier in a meeting's "
                 "life than one already written is made", warning=True)


def _state(path: Path) -> Iterator[Check]:
    if not path.exists():
        yield Check("state file", True, f"{path} does not exist yet; the first cycle makes it")
        return
    try:
        store = Store(path)
        store.check()
        count = len(store.drafts(settled=True))
        store.interviews(settled=True)
        unknown = store.drafts_to_look_up()
    except CoffeechatError as exc:
        yield Check("state file", False, str(exc), "follow the advice above before any run")
        yield _backups(path)
        return
    older = (f"; it is older than its drafts: {unknown} made after it was saved will be looked "
             "up in Drafts by their key before any is written again" if unknown else "")
    yield Check("state file", True,
                f"{path}: every record reads back, {count} draft record(s){older}")
    yield _backups(path)
    yield from _private_files(path.parent, "state file", pattern=path.name + "*")
    settled = settled_path(path)
    if settled.exists():
        yield from _private_files(settled.parent, "state file", pattern=settled.name + "*")


def _state_folder(path: Path) -> Check:
    """Whether the state's folder (or the nearest folder that exists, where it would be made)
    can be written, found without writing: a read-only mount, then the permissions."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    problem = ""
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        problem = "is on a read-only file system"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = "cannot be written by you"
    if problem:
        return Check("state folder", False, f"{folder} {problem}: no cycle can run",
                     "make it writable (remount it read-write, or fix its owner or "
                     "permissions), or set [state] path in the config to a writable place")
    return Check("state folder", True, f"{folder}: writable")


def _backups(path: Path) -> Check:
    """Whether each backup of ``path`` reads back whole, as a restore would need."""
    found = backups.existing(path)
    if not found:
        return Check("backups", True, "none yet: one is kept each day, from the next cycle")
    problems = {p: damage(p) for p in found}
    shown = "; ".join(f"{p.name} of {backups.made(p)} "
                      + ("reads back" if problems[p] is None else f"does not: {problems[p]}")
                      for p in found)
    bad = [p.name for p in found if problems[p] is not None]
    if not bad:
        return Check("backups", True, shown)
    return Check("backups", True, shown,
                 f"do not restore {', '.join(bad)}; only a state that reads back is kept as a "
                 "backup, so good ones take their place day by day", warning=True)


def _private_files(folder: Path, what: str, pattern: str = "*") -> Iterator[Check]:
    if not folder.exists():
        return
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            yield Check(f"{what} permissions", False,
                        f"{path} can be read by other users (mode {mode:04o})",
                        f"chmod 600 {path}")


def _templates(settings: Settings, now: datetime) -> Iterator[Check]:
    from daemon.app.queries import sample_interview

    renderer = Renderer(settings.templates_dir)
    interview = sample_interview(settings, now)
    contact = interview.contacts[0]
    for kind in DRAFT_KINDS:
        try:
            variables = draft_variables(kind, contact, interview, settings.me,
                                        settings.timezone)
            build_message(renderer.render(kind, variables), settings.me, contact,
                          f"doctor/{kind}", now)
        except CoffeechatError as exc:
            yield Check(f"template {kind}", False, str(exc),
                        "fix the template named above, or delete it to use the default")
        else:
            yield Check(f"template {kind}", True, "renders a sample meeting")


def _accounts(settings: Settings) -> Iterator[Check]:
    env = ConnectorEnv(timezone=settings.timezone, clock=lambda: datetime.now(UTC),
                       data_dir=data_dir())
    store: Store | None
    try:
        store = Store(settings.state_path)
        not_read = store.skipped()
    except CoffeechatError:
        store, not_read = None, {}
    for account in settings.accounts:
        cursor = None if store is None else store.cursor(account.name)
        try:
            handle = open_account(account.name, account.kind, account.options, env)
        except CoffeechatError as exc:
            yield _account_failed(account.name, account.kind, [exc])
            continue
        problems = _probe(handle, cursor)
        if problems:
            yield _account_failed(account.name, account.kind, problems)
        else:
            yield Check(f"account {account.name}", True,
                        f"{account.kind}: calendar and Drafts folder reachable")
        yield _replies(account.name, account.kind, handle.mail)
        if account.name in not_read:
            yield _not_read(account.name, not_read[account.name])


def _probe(handle: Account, cursor: JSON | None) -> list[CoffeechatError]:
    """The problems of an opened account's calendar and Drafts folder, each checked even when
    the other failed, so both are told in one run. Read-only: the first change (or the end of
    an empty one) proves the calendar answers; the rest is not read, the cursor not kept."""
    problems: list[CoffeechatError] = []
    try:
        next(handle.calendar.changes(cursor), None)
    except CoffeechatError as exc:
        problems.append(exc)
    try:
        handle.drafts.find(PROBE_KEY)
    except CoffeechatError as exc:
        problems.append(exc)
    return problems


def _account_failed(name: str, kind: str, problems: list[CoffeechatError]) -> Check:
    """The failed check of an account, with every problem found and the fix for its kind."""
    if any(isinstance(exc, AuthError) for exc in problems):
        fix = _sign_in_fix(name, kind)
    elif kind == "local":
        fix = "make the folders named above, or fix the account's paths in the config"
    else:
        fix = "check the account's keys in the config and the network"
    return Check(f"account {name}", False, "; and ".join(str(exc) for exc in problems), fix)


def _sign_in_fix(name: str, kind: str) -> str:
    """What to do when the account's sign-in is refused: sign in again, or (a kind signed in
    with a password, which coffeechat never stores) fix the user name or password."""
    if kind == "caldav":
        return ("fix `username`, or the app password `password_command` prints, as said "
                "above; then run `coffeechat doctor` again")
    return f"coffeechat auth {kind} --account {name}"


def _not_read(name: str, found: Skipped) -> Check:
    sources = [s.source for s in found.by_source()]
    shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3
                                      else "")
    more = ", and more that the log names" if found.more else ""
    return Check(f"calendar {name}", True,
                 f"the last cycle could not read all of it: {len(sources)} file(s) or "
                 f"event(s){more}: {shown}",
                 "`coffeechat status` says what is wrong with each; fix or remove them, and "
                 "the next cycle reads them again", warning=True)


def _replies(name: str, kind: str, mail: MailHistory | None) -> Check:
    what = f"replies {name}"
    if mail is None:
        return Check(what, True, "reply detection off: the cadence runs on the calendar alone "
                                 "(reply_detection = true turns it on)")
    try:
        mail.history([PROBE_CONTACT], datetime.now(UTC) - timedelta(days=1))
    except AuthError as exc:
        return Check(what, False, str(exc), _sign_in_fix(name, kind))
    except CoffeechatError as exc:
        return Check(what, False, str(exc), "check the account's `mail` setting or the network")
    return Check(what, True, f"mail readable; {THREADING.get(kind, 'replies are threaded')}")


def report_text(checks: list[Check]) -> str:
    """One line per check (``ok``/``WARN``/``FAIL``), with the fix under each failure and
    warning."""
    lines = []
    for check in checks:
        label = "FAIL" if not check.ok else "WARN" if check.warning else "ok  "
        lines.append(f"{label}  {check.name:<22} {check.detail}")
        if (not check.ok or check.warning) and check.fix:
            lines.append(f"      {'':<22} fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    warned = sum(c.ok and c.warning for c in checks)
    warnings = f", {warned} warning(s)" if warned else ""
    lines.append(f"\n{len(checks) - failed} passed, {failed} failed{warnings}" if failed else
                 f"\nall {len(checks)} checks passed{warnings}")
    return "\n".join(lines)

