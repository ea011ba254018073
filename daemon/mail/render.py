"""Turning a planned draft into a checked email message.

Two steps, both defensive:

* :class:`Renderer` fills a template (a trusted file: a packaged default from
  ``daemon.templates`` or one from the user's override folder) in a Jinja2 sandbox with
  ``StrictUndefined``, bounded in time and output size (:mod:`daemon.mail.bounded`). Text from a
  calendar reaches a template only as a variable, never as template source, so ``{{ 7*7 }}``
  in an event title stays literal. A template's first line is its subject; it is split off
  before rendering, so a multi-line variable can never push text into the header area.
* :func:`build_message` makes the :class:`~email.message.EmailMessage` (a reply, with
  ``In-Reply-To`` and ``References``, when given a :class:`~daemon.core.model.ThreadRef` whose
  Message-ID is strictly valid), then serialises it, parses the bytes back and refuses it unless
  the headers are exactly the intended ones. That holds even on Pythons with CVE-2024-6923 (an
  encoded newline in a header value written out as a real line break).

:data:`VARIABLES` documents every variable :func:`draft_variables` provides.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from daemon.core.errors import TemplateError, UnsafeMessageError
from daemon.core.kinds import DRAFT_KINDS
from daemon.core.links import https_link
from daemon.core.model import KEY_HEADER, DraftKind, Interview, Me, Person, ThreadRef
from daemon.core.text import clean_address, clean_block, clean_line
from daemon.core.wording import MONTHS, long_date
from daemon.mail import bounded
from daemon.mail.bounded import BoundedEnvironment
from daemon.mail.notes import parse_notes

VARIABLES: dict[str, str] = {
    "kind": "Which draft this is: confirmation, thank_you, follow_up, catch_up, news or prep.",
    "contact_name": "The contact's full name (their address when the calendar gives no name).",
    "contact_first_name": "The first word of the contact's name (else their address's local "
    "part), for the greeting.",
    "contact_email": "The contact's email address.",
    "meeting_title": "The meeting's title, on one line.",
    "meeting_start": "When the meeting starts, in your time zone, e.g. "
    "'Tuesday 24 November at 10:00 AM EST' (the date only for an all-day event).",
    "meeting_date": "The meeting's date in your time zone, e.g. 'Tuesday 24 November'.",
    "meeting_time": "The start time in your time zone, e.g. '10:00 AM' (empty when all-day).",
    "meeting_timezone": "Your zone's abbreviation at the start, e.g. 'EST' or 'CEST' (empty "
    "when all-day).",
    "meeting_month": "The month of the meeting, e.g. 'November'.",
    "meeting_year": "The year of the meeting, a number, e.g. 2026.",
    "meeting_duration_minutes": "The agreed length in minutes, a number (0 when all-day).",
    "meeting_length": "The agreed length in words, e.g. '30 minutes' or '1 hour' (empty when "
    "all-day).",
    "meeting_location": "The event's location text, on one line (may be empty).",
    "meeting_link": "The online-meeting link, only if it is an https link (else empty).",
    "meeting_place": "Where to meet: the location, the link, or both, e.g. "
    "'Zoom (https://...)'; empty when neither is known.",
    "notes": "Your notes from the event description (tag and contact lines removed), as "
    "written; several lines, may be empty.",
    "note_lines": "The lines of your notes that are neither suggestions nor promises (under "
    "'Notes:' or before any heading), a list of one-line items, may be empty.",
    "suggested": "What the contact suggested (the lines under 'Suggested:' in your notes), a "
    "list of one-line items, may be empty.",
    "promised": "What you promised to do or send (the lines under 'Promised:' in your notes), "
    "a list of one-line items, may be empty.",
    "message": "Your announcement for a news draft (the text you gave 'coffeechat announce'), "
    "several lines; empty for other drafts.",
    "earlier_meetings": "For a prep note: your earlier meetings with the same contact, oldest "
    "first, each with 'date' (e.g. 'Tuesday 24 November 2026'), 'title', and the lists "
    "'notes', 'suggested' and 'promised' as above; an empty list otherwise.",
    "my_name": "Your name, from the configuration.",
    "my_first_name": "The first word of your name.",
    "my_email": "The address the draft is sent from.",
    "signature": "Your signature from the configuration (several lines allowed), else your name.",
}

log = logging.getLogger(__name__)

_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends Jinja2 counts, so line numbers agree
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")
_KEY = re.compile(r"[!-~]+(?: [!-~]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_MAX_KEY = 900  # "X-Coffeechat-Key: " + key stays under the 998-character line limit


@dataclass(frozen=True)
class Rendered:
    """A rendered draft: a one-line subject and a plain-text body ending in a newline."""

    subject: str
    body: str


# --------------------------------------------------------------------------- variables


def draft_variables(kind: DraftKind, contact: Person, interview: Interview, me: Me,
                    tz: ZoneInfo, *, message: str = "",
                    earlier: Sequence[Interview] = ()) -> dict[str, object]:
    """Return every variable a template may use (see :data:`VARIABLES`), all cleaned.

    Times are shown in ``tz`` (the user's zone), so they are right across DST changes; the
    length is real elapsed time. Single-line values go through :func:`daemon.core.text.clean_line`,
    multi-line ones through :func:`daemon.core.text.clean_block`; the notes are split into sections
    by :func:`daemon.mail.notes.parse_notes`. ``message`` is the user's news (for ``news``);
    ``earlier`` are other meetings with the contact (for ``prep``): only those that started
    before this one and were not cancelled are shown. Raises nothing for odd input.
    """
    meeting = interview.meeting
    local = meeting.start.astimezone(tz)
    date_text = long_date(local)
    if meeting.all_day:
        time_text, zone, minutes = "", "", 0
        start_text = date_text
    else:
        noon = "AM" if local.hour < 12 else "PM"
        time_text = f"{local.hour % 12 or 12}:{local.minute:02d} {noon}"
        zone = clean_line(local.tzname() or "")
        elapsed = meeting.end.astimezone(UTC) - meeting.start.astimezone(UTC)
        minutes = max(0, elapsed // timedelta(minutes=1))
        start_text = f"{date_text} at {time_text} {zone}".rstrip()
    location = clean_line(meeting.location)
    link = https_link(meeting.link)
    contact_email = clean_address(contact.email) or clean_line(contact.email)
    contact_name = clean_line(contact.name)
    my_name = clean_line(me.name)
    sections = parse_notes(interview.notes)
    return {
        "kind": kind,
        "contact_name": contact_name or contact_email,
        "contact_first_name": _first_name(contact_name, contact_email),
        "contact_email": contact_email,
        "meeting_title": clean_line(meeting.title),
        "meeting_start": start_text,
        "meeting_date": date_text,
        "meeting_time": time_text,
        "meeting_timezone": zone,
        "meeting_month": MONTHS[local.month - 1],
        "meeting_year": local.year,
        "meeting_duration_minutes": minutes,
        "meeting_length": _length_words(minutes),
        "meeting_location": location,
        "meeting_link": link,
        "meeting_place": _place(location, link),
        "notes": clean_block(interview.notes),
        "note_lines": list(sections.notes),
        "suggested": list(sections.suggested),
        "promised": list(sections.promised),
        "message": clean_block(message),
        "earlier_meetings": _earlier_meetings(interview, earlier, tz),
        "my_name": my_name,
        "my_first_name": _first_name(my_name, me.emails[0] if me.emails else ""),
        "my_email": clean_line(me.emails[0]) if me.emails else "",
        "signature": clean_block(me.signature) or my_name,
    }


def _earlier_meetings(interview: Interview, earlier: Sequence[Interview],
                      tz: ZoneInfo) -> list[dict[str, object]]:
    """The meetings of ``earlier`` that took place before ``interview`` and were not
    cancelled, oldest first and each once (by uid), as the dicts :data:`VARIABLES` describes
    under ``earlier_meetings``."""
    start = interview.meeting.start.astimezone(UTC)
    seen = {interview.meeting.uid}
    shown: list[dict[str, object]] = []
    for past in sorted(earlier, key=lambda e: e.meeting.start.astimezone(UTC)):
        meeting = past.meeting
        if meeting.cancelled or meeting.uid in seen or meeting.start.astimezone(UTC) >= start:
            continue
        seen.add(meeting.uid)
        local = meeting.start.astimezone(tz)
        sections = parse_notes(past.notes)
        shown.append({
            "date": f"{long_date(local)} {local.year}",
            "title": clean_line(meeting.title),
            "notes": list(sections.notes),
            "suggested": list(sections.suggested),
            "promised": list(sections.promised),
        })
    return shown


def _first_name(clean_name: str, address: str) -> str:
    """The first word of an already cleaned name, else the local part of ``address``."""
    if clean_name:
        return clean_name.split()[0]
    return clean_line(address.split("@", 1)[0])


def _length_words(minutes: int) -> str:
    """'45 minutes', '1 hour', '1 hour 30 minutes'; empty for 0."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def _place(location: str, link: str) -> str:
    """The location, the link, or 'location (link)' when both exist and differ."""
    if not link or link in location:
        return location
    if not location:
        return link
    return f"{location} ({link})"


# --------------------------------------------------------------------------- rendering


class _OneSource(jinja2.BaseLoader):
    """Serves one already-read source under its real file name, so tracebacks name the file."""

    def __init__(self, source: str, filename: str) -> None:
        self._source = source
        self._filename = filename

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        return self._source, self._filename, lambda: False


class Renderer:
    """Renders the draft templates: the packaged defaults, each replaced by a file of the same
    name (``confirmation.txt``, ``thank_you.txt``, ``follow_up.txt``, ``catch_up.txt``,
    ``news.txt``, ``prep.txt``) in ``override_dir`` when one exists there. Files are read on
    every render, so edits take effect without a restart; a file is compiled again only when
    its text changed."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._override_dir = override_dir
        self._compiled: dict[tuple[str, str], tuple[str, jinja2.Template]] = {}
        # (file, part) -> (source, error) of a part that went past a render bound: while its
        # source is unchanged it is not run again, so one slow file costs a cycle its bound once
        self._over_bounds: dict[tuple[str, str], tuple[str, str]] = {}
        # Plain-text email, not HTML: escaping would corrupt names like "O'Brien & Co".
        self._env = BoundedEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def template_path(self, kind: DraftKind) -> str:
        """Return the full path of the file used for ``kind`` (the override if present)."""
        return str(self._locate(kind)[0])

    def render(self, kind: DraftKind, variables: Mapping[str, object]) -> Rendered:
        """Render the template for ``kind`` with ``variables``.

        Returns the cleaned one-line subject and the body (blank-line runs collapsed, ending in
        one newline). Raises :class:`TemplateError`, naming the file and line, when the file
        cannot be read, lacks the ``Subject:`` line or the blank line after it, has a syntax
        error, uses an undefined variable, breaks the sandbox, runs past the time or size bound
        of :mod:`daemon.mail.bounded` (a file that did is not run again by this renderer until it
        changes), or fails in any other way.
        """
        location, is_override = self._locate(kind)
        filename = str(location)
        hint = _hint(is_override)
        source = _read(location, filename, hint)
        subject_source, body_source = _split(source, filename, hint)
        subject = self._render_part("subject", subject_source, filename, hint, variables)
        body = self._render_part("body", body_source, filename, hint, variables)
        return Rendered(subject=clean_line(subject), body=_tidy_body(body))

    def check_all(self, variables_for: Callable[[DraftKind], Mapping[str, object]]) -> list[str]:
        """Render every kind with ``variables_for(kind)``; return the problems found, one
        message per failing template (an empty list means every template is fine)."""
        problems = []
        for kind in DRAFT_KINDS:
            try:
                self.render(kind, variables_for(kind))
            except TemplateError as exc:
                problems.append(str(exc))
        return problems

    def _locate(self, kind: DraftKind) -> tuple[Path | Traversable, bool]:
        """The file for ``kind``, and whether it is the user's override."""
        name = f"{kind}.txt"
        if self._override_dir is not None:
            candidate = self._override_dir / name
            if candidate.is_file():
                return candidate.absolute(), True
        return files("daemon.templates") / name, False

    def _render_part(self, part: str, source: str, filename: str, hint: str,
                     variables: Mapping[str, object]) -> str:
        template = self._compile(part, source, filename, hint)
        over = self._over_bounds.get((filename, part))
        if over is not None and over[0] == source:  # it would only go past its bound again
            raise TemplateError(over[1])
        try:
            return bounded.render(template, dict(variables))
        except Exception as exc:  # any failure inside a template is the template's problem
            line = _template_line(exc, filename)
            message = f"{_where(filename, line)}: {_describe(exc)}{hint}"
            if isinstance(exc, bounded.RenderBoundError):
                self._over_bounds[(filename, part)] = (source, message)
            raise TemplateError(message) from exc


    def _compile(self, part: str, source: str, filename: str, hint: str) -> jinja2.Template:
        """The compiled ``part`` (subject or body) of a file, compiled again only when its
        source changed. Raises TemplateError for a syntax error."""
        cached = self._compiled.get((filename, part))
        if cached is not None and cached[0] == source:
            return cached[1]
        try:
            template = _OneSource(source, filename).load(self._env, filename)
        except jinja2.TemplateSyntaxError as exc:
            message = exc.message or "syntax error"
            raise TemplateError(f"{_where(filename, exc.lineno)}: {message}{hint}") from exc
        self._compiled[(filename, part)] = (source, template)
        return template


def _read(location: Path | Traversable, filename: str, hint: str) -> str:
    """The file's text, or a TemplateError saying why it cannot be read."""
    try:
        return location.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"template {filename}: cannot be read ({exc}){hint}") from exc


def _split(source: str, filename: str, hint: str) -> tuple[str, str]:
    """Split a template into the subject's source and the body's source.

    The body keeps two leading blank lines in place of the subject and separator lines, so
    Jinja2's line numbers are the file's. Raises TemplateError for a bad layout.
    """
    lines = _NEWLINE.split(source.removeprefix("\ufeff"))
    first = lines[0]
    if not first.lower().startswith("subject:"):
        raise TemplateError(
            f"template {filename}, line 1: the first line must be the subject, as "
            f"'Subject: ...', but it is {first[:60]!r}; add a Subject line, then a blank line, "
            f"then the body{hint}")
    if len(lines) < 2 or lines[1].strip():
        raise TemplateError(
            f"template {filename}, line 2: expected a blank line between the Subject line and "
            f"the body; add one{hint}")
    return first[len("subject:"):].strip(), "\n\n" + "\n".join(lines[2:])


def _tidy_body(body: str) -> str:
    """Drop leading and trailing blank lines, collapse runs of blank lines, end with one newline."""
    lines = [line.rstrip() for line in body.split("\n")]
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
    return text + "\n"


def _where(filename: str, line: int | None) -> str:
    return f"template {filename}, line {line}" if line else f"template {filename}"


def _hint(is_override: bool) -> str:
    """What the user can do about a broken template."""
    if is_override:
        return (" (fix this template, or delete it to use the default; the README's Templates "
                "section lists the variables)")
    return " (this is a fault in coffeechat's default template: please report it)"


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line Jinja2 put in the traceback (it rewrites frames to template lines)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename:
            return frame.lineno
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateError) and exc.message:
        return exc.message
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- the message


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
    by :func:`valid_message_id` before they get here, so each fits on a line as is.
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
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MESSAGE_ID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*>")
MAX_MESSAGE_ID = 250
"""The longest Message-ID (brackets included) a reply refers to."""
MAX_REFERENCES = 10
"""At most this many ids in a reply's ``References``: the conversation's first and the newest."""
_REPLY_PREFIX = re.compile(r"(?:re|aw)[ \t]*:", re.IGNORECASE)


def valid_message_id(value: str) -> bool:
    """Return whether ``value`` is a strictly valid Message-ID that can go in a header as is:
    ``<left@right>`` where both sides are dot-atoms (printable ASCII, no spaces, quotes,
    brackets or line breaks), at most :data:`MAX_MESSAGE_ID` characters, and without ``=?`` or
    ``?=`` (the markers of encoded words). Raises nothing."""
    return (len(value) <= MAX_MESSAGE_ID and "=?" not in value and "?=" not in value
            and _MESSAGE_ID.fullmatch(value) is not None)


def reply_problem(reply_to: ThreadRef) -> str | None:
    """Return why a draft cannot be a reply to ``reply_to``, or ``None`` when it can.

    The one reason is a Message-ID that :func:`valid_message_id` refuses. :func:`build_message`
    then makes a new conversation instead (and logs this reason); callers use this to decide
    whether to hand ``reply_to`` on to the connector. Raises nothing.
    """
    if valid_message_id(reply_to.message_id):
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
    its Message-ID; past :data:`MAX_REFERENCES` the first id (the conversation's start) and the
    newest ones are kept. The subject is ``Re: `` and the cleaned subject, unless that already
    starts with ``Re:`` or ``Aw:`` (any case); an empty subject leaves ``fallback_subject``.
    """
    ids: list[str] = []
    for ref in reply_to.references:
        if valid_message_id(ref) and ref not in ids and ref != reply_to.message_id:
            ids.append(ref)
    ids.append(reply_to.message_id)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[len(ids) - MAX_REFERENCES + 1:]]
    subject = clean_line(reply_to.subject)
    if not subject:
        subject = fallback_subject
    elif not _REPLY_PREFIX.match(subject):
        subject = clean_line(f"Re: {subject}")
    return _Thread(in_reply_to=reply_to.message_id, references=tuple(ids), subject=subject)


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
