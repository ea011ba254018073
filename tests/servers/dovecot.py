"""A real Dovecot IMAP server for the caldav account's tests, serving TLS only.

Started like the Maildir tests' Dovecot (:mod:`tests.e2e.mailtools`: ``dovecot -F`` with a
config of its own in a temp folder, on free ports of 127.0.0.1, ready when it logs that it is
starting up, stopped by its pid), but:

* TLS only: a certificate authority and a server certificate for 127.0.0.1 and localhost
  made by the test (``cryptography``), implicit TLS on one port and STARTTLS (required
  before login) on another; coffeechat trusts the CA through ``ca_file``;
* a password passdb: any user name with :data:`PASSWORD` logs in (each test takes a mailbox
  of its own), any other password is refused;
* localised special folders: Drafts is :data:`DRAFTS` (``Entwürfe``, modified UTF-7 on the
  wire) and Sent :data:`SENT` (``Envoyés``), marked SPECIAL-USE ``\\Drafts`` and ``\\Sent``
  and created on login.

A missing ``dovecot`` fails the test (never skips).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import imapclient

from tests.e2e.mailtools import dovecot_folder, free_port, running_dovecot
from tests.servers.tls import make_certificates

PASSWORD = "app-password-1234"
DRAFTS = "Entwürfe"
SENT = "Envoyés"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
info_log_path = /dev/stderr
listen = 127.0.0.1
protocols = imap
ssl = required
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
disable_plaintext_auth = yes
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
  mailbox "{drafts}" {{
    {drafts_mark}
    auto = subscribe
  }}
  mailbox "{sent}" {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
{extra}
"""


@dataclass(frozen=True)
class Dovecot:
    """A running Dovecot: its ports (STARTTLS and implicit TLS), the CA file to trust, and
    its log lines so far."""

    port: int
    tls_port: int
    ca_file: Path
    root: Path
    host: str = "127.0.0.1"

    def connect(self, user: str, *, password: str = PASSWORD) -> Any:
        """A logged-in ``IMAPClient`` over implicit TLS (the test's own hands on the
        mailbox: what a mail program or the user does)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imapclient.IMAPClient(self.host, port=self.tls_port, ssl=True,
                                       ssl_context=context, timeout=30)
        client.login(user, password)
        return client

    def messages(self, user: str, folder: str = DRAFTS) -> dict[int, tuple[tuple[bytes, ...],
                                                                          bytes]]:
        """Every message in ``folder`` by UID: its flags and bytes."""
        client = self.connect(user)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            answer = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
            return {int(uid): (tuple(item[b"FLAGS"]), bytes(item[b"BODY[]"]))
                    for uid, item in answer.items()}
        finally:
            client.logout()


@contextmanager
def dovecot(capabilities: str | None = None, *, drafts_marked: bool = True
            ) -> Iterator[Dovecot]:
    """Start a private TLS Dovecot; stop it by its pid when done and remove its folder.
    ``capabilities`` replaces the IMAP capabilities it announces after login (Dovecot's
    ``imap_capability``), to play a server without some extension; without
    ``drafts_marked`` no folder is marked ``\\Drafts``."""
    with dovecot_folder("coffeechat-imap-") as (root, owner):
        ca_file, _cert, _key = make_certificates(root)
        port, tls_port = free_port(), free_port()
        while tls_port == port:
            tls_port = free_port()
        config = CONFIG.format(root=root, password=PASSWORD, port=port, tls_port=tls_port,
                               drafts=DRAFTS, sent=SENT,
                               drafts_mark="special_use = \\Drafts" if drafts_marked else "",
                               extra="" if capabilities is None
                               else f"imap_capability = {capabilities}", **asdict(owner))
        with running_dovecot(root, config):
            yield Dovecot(port=port, tls_port=tls_port, ca_file=ca_file, root=root)
