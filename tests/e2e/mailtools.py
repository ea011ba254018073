"""The real mail tools for the tests: Dovecot on 127.0.0.1, mbsync and offlineimap.

Dovecot runs in the foreground (``dovecot -F``) with a config of its own in a private folder,
on a free port, logging to a pipe; it is ready when it logs that it is starting up, and it is
stopped by its pid. Nothing here reads the system's config or touches a system service. Run as
root (as CI is), Dovecot will not let mail or login processes run as root: they run as the
``dovecot`` and ``dovenull`` users that the Debian package creates, and the server's folder is
theirs to read.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

USER = "sam"
PASSWORD = "coffee-beans"
FOLDER = "Drafts"
READY_LINE = "starting up for imap"
READY_TIMEOUT = 60.0
"""Seconds to wait for Dovecot's start-up line (it takes well under one on an idle machine)."""
TOOL_TIMEOUT = 120.0

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
info_log_path = /dev/stderr
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Server:
    """A running Dovecot: where to reach it, and its folder."""

    port: int
    root: Path
    user: str = USER
    """Whose mailbox (any name logs in: each test takes its own)."""

    def as_user(self, user: str) -> Server:
        """The same server, logged in as ``user`` (a mailbox of its own)."""
        return Server(self.port, self.root, user)

    def connect(self) -> imaplib.IMAP4:
        """A logged-in IMAP connection with the Drafts folder selected (created if needed)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        conn.login(self.user, PASSWORD)
        conn.create(FOLDER)  # "already exists" is a NO answer, not an error here
        typ, _ = conn.select(FOLDER)
        assert typ == "OK"
        return conn

    def messages(self) -> dict[int, bytes]:
        """Every message in Drafts that is not flagged deleted, by UID, as the server holds
        it (CRLF line ends)."""
        conn = self.connect()
        try:
            typ, data = conn.uid("SEARCH", "UNDELETED")
            assert typ == "OK"
            found: dict[int, bytes] = {}
            for uid in data[0].split():
                typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK"
                item = parts[0]
                assert isinstance(item, tuple)
                found[int(uid)] = item[1]
            return found
        finally:
            conn.logout()

    def replace(self, uid: int, data: bytes) -> None:
        """Edit a draft the way an IMAP client does: APPEND the new message flagged
        ``\\Draft``, then flag the old one deleted and EXPUNGE it."""
        conn = self.connect()
        try:
            typ, _ = conn.append(FOLDER, r"(\Draft)", None, data)
            assert typ == "OK"
            typ, _ = conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
            assert typ == "OK"
            typ, _ = conn.expunge()
            assert typ == "OK"
        finally:
            conn.logout()


def require(*tools: str) -> list[str]:
    """The paths of ``tools`` (looked for in sbin too: a user's PATH often lacks it, and
    dovecot lives there). Fails (never skips) when one is not installed, saying what to
    install."""
    search = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))
    found = [shutil.which(t, path=search) for t in tools]
    missing = [t for t, path in zip(tools, found, strict=True) if path is None]
    assert not missing, (f"{', '.join(missing)} not found: run `make test` (it installs "
                         "dovecot-imapd, isync and offlineimap3) or `sudo apt-get install "
                         "-y dovecot-imapd isync offlineimap3`")
    return [path for path in found if path is not None]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Owner:
    """Who a private Dovecot's processes run as (its ``default_internal_user`` and
    ``default_login_user``), and the uid and gid that own its ``mail`` and ``home``: the
    names its config template takes."""

    internal: str
    login: str
    uid: int
    gid: int


@contextmanager
def dovecot_folder(prefix: str) -> Iterator[tuple[Path, Owner]]:
    """A new folder for a private Dovecot (its name starts with ``prefix``) holding ``mail``
    and ``home``, owned by whom its mail processes run as (``dovecot`` when run as root, which
    Dovecot requires, otherwise this user); yields it and that owner, and removes it when
    done."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("dovecot")
            internal, login = "dovecot", "dovenull"
            root.chmod(0o755)  # the login and mail processes, not root, must reach it
        else:
            user = pwd.getpwuid(os.geteuid())
            internal = login = user.pw_name
        for sub in ("mail", "home"):
            (root / sub).mkdir()
            os.chown(root / sub, user.pw_uid, user.pw_gid)
        yield root, Owner(internal, login, user.pw_uid, user.pw_gid)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_dovecot(root: Path, config: str) -> Iterator[None]:
    """Run ``dovecot -F`` on ``config`` (written to ``root``/dovecot.conf) while the block
    runs, from the moment it logs :data:`READY_LINE`; then stop it by its pid. Fails when
    dovecot is not installed, exits, or does not start within :data:`READY_TIMEOUT`."""
    [binary] = require("dovecot")
    conf = root / "dovecot.conf"
    conf.write_text(config, encoding="utf-8")
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_line(proc, READY_LINE)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def dovecot() -> Iterator[Server]:
    """Start a private Dovecot; stop it by its pid when done and remove its folder."""
    with dovecot_folder("coffeechat-dovecot-") as (root, owner):
        port = free_port()
        with running_dovecot(root, CONFIG.format(root=root, password=PASSWORD, port=port,
                                                 **asdict(owner))):
            yield Server(port=port, root=root)


def _wait_for_line(proc: subprocess.Popen[str], wanted: str) -> None:
    """Block until ``proc`` writes a line containing ``wanted`` to stderr (then keep draining
    its stderr, so it never blocks on a full pipe). Fails with what it wrote if it exits or
    takes longer than :data:`READY_TIMEOUT`."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"dovecot did not start: {''.join(seen)}") from None
        if line is None:
            raise AssertionError(f"dovecot exited: {''.join(seen)}")
        seen.append(line)
        if wanted in line:
            return


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (args[0], done.stdout, done.stderr)


MBSYNCRC = """\
IMAPAccount server
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore server
Account server

MaildirStore local
Path {maildirs}/
Inbox {maildirs}/INBOX

Channel drafts
Far :server:{folder}
Near :local:{folder}
Create Both
Expunge Both
Sync All
SyncState *
"""

OFFLINEIMAPRC = """\
[general]
accounts = server
metadata = {state}
[Account server]
localrepository = local
remoterepository = server
[Repository local]
type = Maildir
localfolders = {maildirs}
[Repository server]
type = IMAP
remotehost = 127.0.0.1
remoteport = {port}
remoteuser = {user}
remotepass = {password}
ssl = no
starttls = no
folderfilter = lambda name: name == "{folder}"
"""


@dataclass(frozen=True)
class Syncer:
    """One sync tool with its own config, syncing ``maildirs``/Drafts with the server."""

    tool: str
    server: Server
    maildirs: Path
    home: Path
    binary: str

    def sync(self) -> None:
        """Run one full two-way sync; fails with the tool's output if it does not succeed."""
        values = {"port": self.server.port, "user": self.server.user, "password": PASSWORD,
                  "maildirs": self.maildirs, "folder": FOLDER, "state": self.home / "state"}
        if self.tool == "mbsync":
            rc = self.home / "mbsyncrc"
            rc.write_text(MBSYNCRC.format(**values))
            _run([self.binary, "-c", str(rc), "drafts"], self.home)
        else:
            rc = self.home / "offlineimaprc"
            rc.write_text(OFFLINEIMAPRC.format(**values))
            _run([self.binary, "-c", str(rc), "-o", "-u", "quiet"], self.home)


def syncer(tool: str, server: Server, maildirs: Path, home: Path) -> Syncer:
    """The sync tool ``tool`` (``mbsync`` or ``offlineimap``), checked to be installed."""
    [binary] = require(tool)
    home.mkdir(parents=True, exist_ok=True)
    return Syncer(tool, server, maildirs, home, binary)
