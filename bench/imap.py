"""The caldav account's IMAP half against a real TLS Dovecot on 127.0.0.1 (issue 17), in
process: what each Drafts operation and a reply-detection pass cost, in IMAP commands and
time, as the Drafts folder and the inbox grow.

For each size N the Drafts folder holds N other drafts carrying keys (the user's backlog of
coffeechat drafts) and INBOX N messages, 10% of them from the contacts asked about. Measured,
medians over runs: ``create`` (APPEND), ``get`` and ``find`` (a header SEARCH, then FETCH),
``delete`` (UID EXPUNGE), and ``history`` for 100 contacts: the first pass (headers fetched)
and an idle one (nothing new: a SEARCH per folder). The connection is opened once, as a cycle
does. ``python -m bench.imap`` runs it alone.
"""

from __future__ import annotations

import argparse
import imaplib
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from imapclient import IMAPClient

from connectors.base import KEY_HEADER
from connectors.caldav.drafts import ImapDrafts
from connectors.caldav.history import ImapHistory
from connectors.caldav.imap import ImapSession, ImapSettings
from tests.servers.dovecot import DRAFTS, PASSWORD, Dovecot, dovecot

SIZES = (100, 1_000)
QUICK_SIZES = (100,)
SCENARIO = "imap"
CONTACTS = 100
JSON = dict[str, Any]


@contextmanager
def counting() -> Iterator[list[str]]:
    """Every IMAP command sent inside the block, by name (imaplib's and imapclient's own)."""
    names: list[str] = []
    command = imaplib.IMAP4._command  # type: ignore[attr-defined]
    raw = IMAPClient._raw_command

    def counted(imap: Any, name: str, *args: Any) -> Any:
        names.append(name)
        return command(imap, name, *args)

    def counted_raw(client: Any, name: bytes, *args: Any, **kwargs: Any) -> Any:
        names.append(name.decode().upper())
        return raw(client, name, *args, **kwargs)

    imaplib.IMAP4._command = counted  # type: ignore[attr-defined]
    IMAPClient._raw_command = counted_raw
    try:
        yield names
    finally:
        imaplib.IMAP4._command = command  # type: ignore[attr-defined]
        IMAPClient._raw_command = raw


def _message(key: str, to: str = "Dana <dana@example.org>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Sam <sam@example.com>"
    message["To"] = to
    message["Subject"] = "Thank you for the coffee chat"
    message["Message-ID"] = f"<{abs(hash(key))}@bench.coffeechat>"
    message[KEY_HEADER] = key
    message.set_content("Hi,\n\nThank you for your time today.\n\nSam\n" * 5)
    return message


def _fill(server: Dovecot, user: str, n: int, now: datetime) -> list[str]:
    """N drafts with keys in Drafts and N messages in INBOX; returns the contacts."""
    contacts = [f"contact{i}@example.org" for i in range(CONTACTS)]
    client = server.connect(user)
    try:
        for i in range(n):
            client.append(DRAFTS, _message(f"m{i}/thank_you/x{i}@example.org").as_bytes(),
                          flags=(rb"\Draft",))
            sender = contacts[i % CONTACTS] if i % 10 == 0 else f"other{i}@example.net"
            inbox = (f"From: {sender}\r\nTo: sam@example.com\r\nSubject: note {i}\r\n"
                     f"Message-ID: <in{i}@example.net>\r\n\r\nHello\r\n").encode()
            client.append("INBOX", inbox, flags=(rb"\Seen",),
                          msg_time=now - timedelta(hours=i % 500))
    finally:
        client.logout()
    return contacts


def _timed(action: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, int, Any]:
    """(seconds, IMAP commands, result) of one call."""
    with counting() as names:
        started = time.perf_counter()
        result = action(*args, **kwargs)
        took = time.perf_counter() - started
    return took, len(names), result


def measure(sizes: Sequence[int] = SIZES, runs: int = 5, log: Any = None) -> list[JSON]:
    """The scenarios (one per size) as the results file keeps them."""
    now = datetime.now(UTC).replace(microsecond=0)
    scenarios: list[JSON] = []
    with dovecot() as server:
        for n in sizes:
            user = f"bench{n}@example.com"
            contacts = _fill(server, user, n, now)
            session = ImapSession(ImapSettings(
                account="bench", host=server.host, port=server.tls_port, tls="implicit",
                username=user, password_command=f"echo {PASSWORD}",
                ca_file=str(server.ca_file)))
            box = ImapDrafts(session)
            opened = _timed(box.find, "warm-up")  # LOGIN, LIST, SELECT, one search
            figures: dict[str, list[tuple[float, int]]] = {
                "create": [], "get": [], "find": [], "delete": []}
            for run in range(runs):
                key = f"bench-{run}/confirmation/dana@example.org"
                message = _message(key)
                took, commands, ref = _timed(box.create, message, key)
                figures["create"].append((took, commands))
                figures["get"].append(_timed(box.get, ref)[:2])
                figures["find"].append(_timed(box.find, key,
                                              message_id=str(message["Message-ID"]))[:2])
                figures["delete"].append(_timed(box.delete, ref)[:2])
            history = ImapHistory(session, ["sam@example.com"])
            since = now - timedelta(days=30)
            first = _timed(history.history, contacts, since)
            idle = [_timed(history.history, contacts, since) for _ in range(runs)]
            session.close()
            item: JSON = {
                "scenario": SCENARIO, "tool": "coffeechat", "drafts": n, "inbox": n,
                "contacts": CONTACTS, "runs": runs,
                "open": {"wall_s": opened[0], "commands": opened[1]},
                **{name: {"median_wall_s": statistics.median(t for t, _ in values),
                          "commands": max(c for _, c in values)}
                   for name, values in figures.items()},
                "history_first": {"wall_s": first[0], "commands": first[1],
                                  "headers_fetched": n // 10},
                "history_idle": {"median_wall_s": statistics.median(t for t, _, _ in idle),
                                 "commands": max(c for _, c, _ in idle)},
            }
            scenarios.append(item)
            if log is not None:
                log(f"imap, {n:,} drafts: create {item['create']['median_wall_s'] * 1000:.1f} "
                    f"ms, find {item['find']['median_wall_s'] * 1000:.1f} ms, history idle "
                    f"{item['history_idle']['median_wall_s'] * 1000:.1f} ms")
    return scenarios


def table(scenarios: Sequence[JSON]) -> str:
    """The IMAP rows as a markdown table ("" when none were measured)."""
    rows = [s for s in scenarios if s.get("scenario") == SCENARIO]
    if not rows:
        return ""
    lines = ["| drafts and inbox | create | get | find | delete | history, first (100 "
             "contacts) | history, idle |", "|---|---|---|---|---|---|---|"]

    def cell(figure: JSON) -> str:
        seconds = float(figure["median_wall_s"] if "median_wall_s" in figure
                        else figure["wall_s"])
        return f"{seconds * 1000:.1f} ms, {figure['commands']} cmd"

    for s in rows:
        lines.append(f"| {s['drafts']:,} | {cell(s['create'])} | {cell(s['get'])} | "
                     f"{cell(s['find'])} | {cell(s['delete'])} | {cell(s['history_first'])} "
                     f"| {cell(s['history_idle'])} |")
    return "\n".join(lines)


def section(scenarios: Sequence[JSON]) -> str:
    """The report's IMAP section ("" when nothing was measured)."""
    rows = table(scenarios)
    return (f"\n### IMAP Drafts and replies against Dovecot (the connector in process)\n\n{rows}"
            if rows else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imap")
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = tuple(int(n) for n in args.sizes.split(","))
    print(table(measure(sizes, log=lambda line: print(line, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
