"""The email itself: :func:`build_message` makes the :class:`~email.message.EmailMessage` of
a rendered draft (a reply, with ``In-Reply-To`` and ``References``, when given a
:class:`~daemon.core.model.ThreadRef` whose Message-ID is valid by :mod:`daemon.core.msgid`),
then serialises it, parses the bytes back and refuses it unless the headers are exactly the
intended ones. That holds even on Pythons with CVE-2024-6923 (an encoded newline in a header
value written out as a real line break). :func:`readable` shows a message as its reader will.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from daemon.core import msgid
from daemon.core.errors import UnsafeMessageError
from daemon.core.model import KEY_HEADER, Me, Person, ThreadRef
from daemon.core.text import clean_address, clean_block, clean_line

log = logging.getLogger(__name__)

_KEY = re.compile(r"[!-~]+(?: [!-~]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_MAX_KEY = 900  # "X-Coffeechat-Key: " + key stays under the 998-character line limit


@dataclass(frozen=True)
class Rendered:
    """A rendered draft: a one-line subject and a plain-text body ending in a newline."""

    subject: str
    body: str


class _KeyHeader(UnstructuredHeader, BaseHeader):
    """The key header, written on one line as is.

    The default policy would turn a long key without spaces into RFC 2047 encoded words, and a
    connector reading raw header text would then not find its own draft. Keys are checked to be
    printable ASCII short enough for one line before they get here.
    """

    def fold(self, *, policy: email.policy.Policy) -> str:
        """Return ``Name: value`` and the policy's line end, unfolded and unencoded."""
        return f"{self.name}: {self}{policy.linesep}"


class _IdListHeader(UnstructuredHeader, BaseHeader):
    """``In-Reply-To`` and ``References``: message ids separated by spaces, folded only between
    ids and never encoded.

    The default policy writes a long id as RFC 2047 encoded words, which no mail program
    decodes in these headers, so the reply would not join its conversation. Ids are checked
    by :func:`daemon.core.msgid.valid` before they get here, so each fits on a line as is.
    """

    def fold(self, *, policy: email.policy.Policy) -> str:
        """Return ``Name: id id ...`` with a line break before any id that would pass column
        78, and the policy's line end."""
        head = f"{self.name}:"
        lines = [head]
        for message_id in str(self).split():
            if lines[-1] != head and len(lines[-1]) + 1 + len(message_id) > _FOLD_AT:
                lines.append("")
            lines[-1] += f" {message_id}"
        return policy.linesep.join(lines) + policy.linesep


def _policy() -> email.policy.EmailPolicy[EmailMessage]:
    """The default policy, except that the key header is never folded or encoded, and the id
    lists are folded only between ids."""
    registry = HeaderRegistry()
    registry.map_to_type(KEY_HEADER.lower(), _KeyHeader)
    registry.map_to_type("in-reply-to", _IdListHeader)
    registry.map_to_type("references", _IdListHeader)
    return email.policy.default.clone(header_factory=registry)


_FOLD_AT = 78
_POLICY = _policy()
_EXPECTED = sorted(h.lower() for h in (
    "From", "To", "Subject", "Date", "Message-ID", KEY_HEADER,
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding"))
_EXPECTED_IN_REPLY = sorted([*_EXPECTED, "in-reply-to", "references"])
_REPLY_PREFIX = re.compile(r"(?:re|aw)[ \t]*:", re.IGNORECASE)


def reply_problem(reply_to: ThreadRef) -> str | None:
    """Return why a draft cannot be a reply to ``reply_to``, or ``None`` when it can.

    The one reason is a Message-ID that :func:`daemon.core.msgid.valid` refuses.
    :func:`build_message` then makes a new conversation instead (and logs this reason); callers
    use this to decide whether to hand ``reply_to`` on to the connector. Raises nothing.
    """
    if msgid.valid(reply_to.message_id):
        return None
    return (f"the message to reply to has an unusable Message-ID "
            f"{clean_line(reply_to.message_id, 80)!r}, so the draft starts a new conversation")


@dataclass(frozen=True)
class _Thread:
    """The reply headers a draft carries: already checked and cleaned."""

    in_reply_to: str
    references: tuple[str, ...]
    subject: str


def _thread(reply_to: ThreadRef, fallback_subject: str) -> _Thread:
    """The reply headers for ``reply_to`` (whose Message-ID is valid).

    ``References`` is the valid ids of ``reply_to.references`` (each once, in order) and then
    its Message-ID; past :data:`daemon.core.msgid.MAX_REFERENCES` the first id (the
    conversation's start) and the newest ones are kept. The subject is ``Re: `` and the cleaned
    subject, unless that already starts with ``Re:`` or ``Aw:`` (any case); an empty subject
    leaves ``fallback_subject``.
    """
    ids: list[str] = []
    for ref in reply_to.references:
        if msgid.valid(ref) and ref not in ids and ref != reply_to.message_id:
            ids.append(ref)
    ids.append(reply_to.message_id)
    subject = clean_line(reply_to.subject)
    if not subject:
        subject = fallback_subject
    elif not _REPLY_PREFIX.match(subject):
        subject = clean_line(f"Re: {subject}")
    return _Thread(in_reply_to=reply_to.message_id, references=msgid.trimmed(ids),
                   subject=subject)


def build_message(rendered: Rendered, me: Me, contact: Person, key: str, date: datetime,
                  message_id_domain: str | None = None,
                  reply_to: ThreadRef | None = None) -> EmailMessage:
    """Return the draft as a UTF-8 ``text/plain`` :class:`EmailMessage` from the user to
    ``contact``, with Subject, Date, Message-ID and the ``X-Coffeechat-Key`` header.

    With ``reply_to`` the draft is a reply in that conversation: it also has ``In-Reply-To``
    and ``References``, and its subject is ``Re:`` and the conversation's subject (see
    :func:`_thread`; the rendered subject is used only when that one is empty). When
    :func:`reply_problem` finds ``reply_to`` unusable, the draft is built as a new conversation
    and the reason is logged as a warning; so the result is a reply exactly when it has an
    ``In-Reply-To`` header, and only then should ``reply_to`` go on to the connector.

    Every name and the subject are cleaned to one line with encoded-word markers broken up.
    The message is then serialised and parsed back; it is returned only if the header names are
    exactly the intended set, From and To each hold the one intended address, the key, body,
    ``In-Reply-To`` and ``References`` read back unchanged (the ids written literally, not
    encoded), and the subject and display names read back unchanged but for white space
    (Python's folding of encoded words may add or drop a space).

    Raises :class:`UnsafeMessageError` when an address or the key cannot be used, when building
    fails, or when the check fails (no draft must be written then). Raises ``ValueError`` for a
    naive ``date`` (a caller's bug).
    """
    if date.utcoffset() is None:
        raise ValueError("build_message needs a timezone-aware date")
    sender_address = clean_address(me.emails[0]) if me.emails else None
    if sender_address is None:
        raise UnsafeMessageError(
            "your own address is missing or not a plain name@domain address; fix 'emails' in "
            "the configuration")
    recipient = clean_address(contact.email)
    if recipient is None:
        raise UnsafeMessageError(
            f"the contact address {clean_line(contact.email, 80)!r} is not a plain name@domain "
            f"address, so no draft was written to it")
    _check_key(key)
    domain = message_id_domain if message_id_domain is not None \
        else sender_address.split("@", 1)[1]
    if not _DOMAIN.fullmatch(domain):
        raise UnsafeMessageError(
            f"the Message-ID domain {clean_line(domain, 80)!r} is not a plain host name; fix it "
            f"in the configuration")
    sender = Address(display_name=clean_line(me.name), addr_spec=sender_address)
    to = Address(display_name=clean_line(contact.name), addr_spec=recipient)
    subject = clean_line(rendered.subject)
    thread = None
    if reply_to is not None:
        problem = reply_problem(reply_to)
        if problem is None:
            thread = _thread(reply_to, subject)
            subject = thread.subject
        else:
            log.warning("draft %s: %s", key, problem)
    body = clean_block(rendered.body, limit=100_000) + "\n"
    try:
        message = EmailMessage(policy=_POLICY)
        message["From"] = sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(date)
        message["Message-ID"] = make_msgid(domain=domain)
        message[KEY_HEADER] = key
        if thread is not None:
            message["In-Reply-To"] = thread.in_reply_to
            message["References"] = " ".join(thread.references)
        # 8bit keeps the stored draft readable as it is; quoted-printable only when a line is
        # longer than SMTP allows (998 octets).
        longest = max((len(line.encode("utf-8")) for line in body.splitlines()), default=0)
        cte = "8bit" if longest <= 998 else "quoted-printable"
        message.set_content(body, subtype="plain", charset="utf-8", cte=cte)
        data = message.as_bytes()
    except Exception as exc:  # the email package raises many kinds on odd input; all mean "no"
        raise UnsafeMessageError(
            f"the draft to {recipient} ({key}) could not be built: {type(exc).__name__}: {exc}; "
            f"no draft was written") from exc
    _verify(data, sender, to, subject, key, body, thread)
    return message


def _check_key(key: str) -> None:
    """Refuse a key that could not travel unchanged in one header line."""
    if len(key) > _MAX_KEY or not _KEY.fullmatch(key) or "=?" in key or "?=" in key:
        raise UnsafeMessageError(
            f"the draft key {clean_line(key, 120)!r} is not printable ASCII of at most "
            f"{_MAX_KEY} characters without '=?' or '?=', so it cannot go in the "
            f"{KEY_HEADER} header; no draft was written (this is a coffeechat bug: please "
            f"report it)")


def _verify(data: bytes, sender: Address, to: Address, subject: str, key: str,
            body: str, thread: _Thread | None) -> None:
    """Parse the serialised message back and raise UnsafeMessageError unless it is exactly
    what was meant."""
    def refuse(what: str) -> UnsafeMessageError:
        return UnsafeMessageError(
            f"the draft to {to.addr_spec} ({key}) failed the header check: {what}; no draft "
            f"was written. The meeting's text, or the mail this draft replies to, probably "
            f"contains something that looks like a mail header; edit the event or report this")

    try:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        names = sorted(name.lower() for name in parsed)
        expected = _EXPECTED if thread is None else _EXPECTED_IN_REPLY
        if names != expected:
            raise refuse(f"headers {names} instead of {expected}")
        if thread is not None:
            raw = {name.lower(): value.split() for name, value in parsed.raw_items()}
            for name, intended_ids in (("In-Reply-To", [thread.in_reply_to]),
                                       ("References", list(thread.references))):
                # Both as written (not encoded) and as a reader decodes it.
                if raw[name.lower()] != intended_ids \
                        or str(parsed[name]).split() != intended_ids:
                    raise refuse(f"{name} does not read back unchanged")
        for header, intended in (("From", sender), ("To", to)):
            addresses = parsed[header].addresses
            if len(addresses) != 1:
                raise refuse(f"{header} holds {len(addresses)} addresses")
            got = addresses[0]
            if got.addr_spec.lower() != intended.addr_spec.lower() \
                    or not _same_words(got.display_name, intended.display_name):
                raise refuse(f"{header} reads back as {str(got)!r}")
        if not _same_words(str(parsed["Subject"]), subject):
            raise refuse("the subject does not read back unchanged")
        if str(parsed[KEY_HEADER]) != key:
            raise refuse(f"the {KEY_HEADER} header does not read back unchanged")
        if parsed.get_content_type() != "text/plain" or parsed.get_content() != body:
            raise refuse("the body does not read back unchanged")
    except UnsafeMessageError:
        raise
    except Exception as exc:  # a parse failure is a refusal too
        raise refuse(f"{type(exc).__name__}: {exc}") from exc


_PLUMBING = frozenset({"mime-version", "content-type", "content-transfer-encoding"})
"""Headers that say how the body is encoded, which a mail program acts on and does not show."""


def readable(message: EmailMessage) -> str:
    """Return ``message`` as its reader will see it in a mail program, for previews: each
    header but the MIME plumbing (:data:`_PLUMBING`) as ``Name: value`` with encoded words
    decoded, a blank line, and the text body decoded from whatever transfer encoding it was
    written in (8bit, quoted-printable, base64), so that "Zoë" or a dash reads as written.

    ``message`` is a single-part text message, as :func:`build_message` makes and as a draft
    reads back from a Drafts folder; header values there are one line each (build_message
    cleans every value it writes). Raises ``ValueError`` for a message that is not text.
    """
    if message.get_content_maintype() != "text" or message.is_multipart():
        raise ValueError(f"not a text message: {message.get_content_type()}")
    lines = [f"{name}: {' '.join(str(value).split())}" for name, value in message.items()
             if name.lower() not in _PLUMBING]
    body = message.get_content()
    if not isinstance(body, str):
        raise ValueError("the text body did not decode to text")
    return "\n".join(lines) + "\n\n" + body


def _same_words(got: str, intended: str) -> bool:
    """Equal but for white space: Python's header folding may add or drop spaces where it
    splits encoded words, which is harmless, while any other change is a refusal."""
    return "".join(got.split()) == "".join(intended.split())
