"""The requests the CalDAV calendar makes, through the ``caldav`` library (3.x), with its
errors mapped to the core's.

- :meth:`Dav.discover`: the calendars of the account (PROPFIND on the URL given, then on the
  calendar home, Depth 1), with their display name, components, sync token and ctag.
- :meth:`Dav.sync`: one WebDAV sync-collection REPORT (RFC 6578; the library follows a
  truncated reply's pages): the objects changed and removed since a token.
- :meth:`Dav.stamp` and :meth:`Dav.etags`: the ctag (PROPFIND Depth 0) and every object's
  ETag (Depth 1), for servers without sync-collection.
- :meth:`Dav.fetch`: the objects' iCalendar text, by calendar-multiget REPORT, at most
  :data:`MULTIGET_BATCH` objects a request.

TLS certificates are always verified (against ``ca_file`` when given). A password is never
sent in clear: an ``http://`` URL is refused unless its host is a loopback address. Every
request has the timeout given; Basic authentication is sent at once (no 401 round trip), which
is what iCloud, Fastmail, Yahoo, Nextcloud and Radicale accept.

Errors: a refused user name or password is ``AuthError`` (saying to check the app password);
a network failure, a timeout, a 429 or a 5xx is ``TransientError``; anything else is
``ConnectorError`` with what to do.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote, urljoin, urlsplit

import niquests.exceptions
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error
from caldav.lib.url import URL

from daemon.core.errors import AuthError, ConnectorError, TransientError

log = logging.getLogger(__name__)

MULTIGET_BATCH = 50
"""Objects asked for in one calendar-multiget REPORT, which bounds the size of one answer."""

_RESOURCETYPE = "{DAV:}resourcetype"
_DISPLAYNAME = "{DAV:}displayname"
_SYNC_TOKEN = "{DAV:}sync-token"  # noqa: S105 (a property name)
_GETETAG = "{DAV:}getetag"
_CTAG = "{http://calendarserver.org/ns/}getctag"
_COMPONENTS = "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set"
_HOME = "{urn:ietf:params:xml:ns:caldav}calendar-home-set"
_PRINCIPAL = "{DAV:}current-user-principal"
_CALENDAR = "{urn:ietf:params:xml:ns:caldav}calendar"
_CALENDAR_PROPS = [_RESOURCETYPE, _DISPLAYNAME, _COMPONENTS, _SYNC_TOKEN, _CTAG]


class TokenExpired(Exception):
    """The server no longer accepts the sync token (DAV:valid-sync-token)."""


class CalendarGone(ConnectorError):
    """The server has nothing at a calendar's (or the account's) URL: 404."""


class SyncRefused(Exception):
    """The server does not do sync-collection on this calendar after all."""


@dataclass(frozen=True)
class Found:
    """A calendar collection as discovery found it."""

    url: str
    name: str
    components: tuple[str, ...]
    """Its supported components (empty: the server did not say, so any)."""
    token: str | None
    ctag: str | None

    @property
    def has_events(self) -> bool:
        return not self.components or "VEVENT" in self.components


def check_url(url: str) -> None:
    """Refuse a URL a password must not travel to: not http(s), or http to a host that is not
    a loopback address. Raises ``ConnectorError`` saying so."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConnectorError("the CalDAV address carries a user name or password: give the "
                             "user name in `username` and the password through "
                             "`password_command`, and only the address in `caldav_url`")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise ConnectorError(
            f"the CalDAV address {url} is http://, which would send your password "
            "unencrypted: use its https:// address (plain http is allowed only to this "
            "machine, 127.0.0.1 or localhost)")
    raise ConnectorError(f"the CalDAV address {url!r} is not an https:// URL: fix "
                         "`caldav_url` in the config")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SAFE = "/@:~!$&'()*+,;="


def href_path(href: str | URL) -> str:
    """An object's or calendar's href as its path, quoted one way whatever way the server
    quoted it (servers differ, and differ between answers): the key the cursor uses, and a
    path that can be sent back."""
    return quote(unquote(urlsplit(str(href)).path), safe=_SAFE)


class Dav:
    """One account's CalDAV server; the client is made on first use and kept."""

    def __init__(self, url: str, *, username: str, password: str, ca_file: Path | None,
                 timeout_seconds: float, who: str = "") -> None:
        check_url(url)
        self.url = url
        self._username = username
        self._password = password
        self._verify: bool | str = str(ca_file) if ca_file is not None else True
        self._timeout = timeout_seconds
        self._who = who
        self._client: DAVClient | None = None

    @property
    def client(self) -> DAVClient:
        if self._client is None:
            self._client = DAVClient(
                url=self.url, username=self._username, password=self._password,
                auth_type="basic", timeout=cast(Any, self._timeout),
                ssl_verify_cert=self._verify, enable_rfc6764=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- discovery -------------------------------------------------------------------------

    def discover(self) -> list[Found]:
        """The calendar collections of the account: the URL itself when it is a calendar,
        else those in its calendar home (from the URL's, or its principal's,
        ``calendar-home-set``, else the URL)."""
        with self._talking(self.url):
            top = self._propfind(self.url, [*_CALENDAR_PROPS, _HOME, _PRINCIPAL], 0)
            mine = top.get(href_path(self.url)) or next(iter(top.values()), {})
            if _CALENDAR in _list(mine.get(_RESOURCETYPE)):
                return [_found(self.url, mine)]
            home = _href(mine.get(_HOME))
            principal = _href(mine.get(_PRINCIPAL))
            if home is None and principal is not None \
                    and href_path(principal) != href_path(self.url):
                answer = self._propfind(urljoin(self.url, principal), [_HOME], 0)
                home = next((_href(p.get(_HOME)) for p in answer.values()
                             if _href(p.get(_HOME))), None)
            home_url = urljoin(self.url, home) if home is not None else self.url
            check_url(home_url)  # the server may name another host, never plain http
            listing = self._propfind(home_url, _CALENDAR_PROPS, 1)
        return sorted((_found(urljoin(home_url, href), props) for href, props in listing.items()
                       if _CALENDAR in _list(props.get(_RESOURCETYPE))),
                      key=lambda found: found.url)

    def calendar(self, url: str) -> Found | None:
        """The calendar at ``url`` (one named by URL in the config), or ``None`` when it is
        not a calendar."""
        check_url(url)
        with self._talking(url):
            answer = self._propfind(url, _CALENDAR_PROPS, 0)
        props = answer.get(href_path(url)) or next(iter(answer.values()), {})
        return _found(url, props) if _CALENDAR in _list(props.get(_RESOURCETYPE)) else None

    # --- listing ---------------------------------------------------------------------------

    def sync(self, url: str, token: str | None, max_objects: int
             ) -> tuple[dict[str, str], set[str], str | None]:
        """One sync-collection since ``token`` (``None``: every object): the objects changed
        (href path -> ETag), those removed, and the new token.

        Raises ``TokenExpired``, ``SyncRefused`` (the server answered the REPORT with an
        error that is not about the token or the password), or the core's errors."""
        calendar = Calendar(client=self.client, url=url)
        with self._talking(url):
            try:
                found: Any = calendar.get_objects_by_sync_token(
                    token, load_objects=False, disable_fallback=True)
            except error.DAVError as exc:
                if isinstance(exc, error.NotFoundError) or exc.status == 404:
                    raise CalendarGone(f"{self._who}the CalDAV server has nothing at {url} "
                                       "(404): fix `caldav_url` (or `calendars`) in the "
                                       "config") from exc
                if "{DAV:}valid-sync-token" in exc.preconditions or (
                        token is not None and exc.status == 412):
                    raise TokenExpired(str(exc)) from exc
                if "{DAV:}supported-report" in exc.preconditions or exc.status == 501:
                    raise SyncRefused(str(exc)) from exc  # 501: Not Implemented
                if isinstance(exc, error.AuthorizationError | error.RateLimitError) or (
                        exc.status is not None and exc.status >= 500):
                    raise
                raise SyncRefused(str(exc)) from exc
        if getattr(found, "truncated", False):
            raise TransientError(f"{self._who}the CalDAV server cut its list of changes to "
                                 f"{url} short; it is asked again next cycle")
        deleted = {href_path(u) for u in getattr(found, "deleted_urls", ())}
        changed: dict[str, str] = {}
        for obj in found:
            path = href_path(obj.url)
            if path in deleted or path.rstrip("/") == href_path(url).rstrip("/"):
                continue
            changed[path] = str(obj.props.get(_GETETAG, ""))
        self._bounded(url, len(changed), max_objects)
        return changed, deleted, found.sync_token

    def stamp(self, url: str) -> str | None:
        """The calendar's ctag, or else its sync token (either changes whenever an object
        does); ``None`` when it has neither."""
        with self._talking(url):
            answer = self._propfind(url, [_CTAG, _SYNC_TOKEN], 0)
        props = answer.get(href_path(url)) or next(iter(answer.values()), {})
        value = props.get(_CTAG) or props.get(_SYNC_TOKEN)
        return str(value) if value else None

    def etags(self, url: str, max_objects: int) -> dict[str, str]:
        """Every object of the calendar, href path -> ETag (PROPFIND Depth 1)."""
        with self._talking(url):
            answer = self._propfind(url, [_GETETAG, _RESOURCETYPE], 1)
        own = href_path(url).rstrip("/")
        found = {href: str(props.get(_GETETAG, "")) for href, props in answer.items()
                 if href.rstrip("/") != own and "{DAV:}collection" not in
                 _list(props.get(_RESOURCETYPE))}
        self._bounded(url, len(found), max_objects)
        return found

    def fetch(self, url: str, hrefs: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """The objects ``hrefs`` of the calendar, as (href path, ETag, iCalendar text), by
        calendar-multiget, :data:`MULTIGET_BATCH` a request. An object gone since it was
        listed is not given.

        The library's ``_multiget`` gives the answer's hrefs, texts and ETags as they are;
        its public ``multiget`` also builds an object of each (half the time of a first
        sync) and unquotes the hrefs once more. The public one is used when the private one
        is not there (a later version of the library)."""
        calendar = Calendar(client=self.client, url=url)
        base = URL.objectify(url)
        raw = getattr(calendar, "_multiget", None)
        for start in range(0, len(hrefs), MULTIGET_BATCH):
            batch = hrefs[start:start + MULTIGET_BATCH]
            urls = [base.join(href) for href in batch]
            with self._talking(url):
                if callable(raw):
                    answer: list[tuple[Any, Any, dict[str, Any]]] = list(raw(urls))
                else:
                    answer = [(obj.url, obj.data, obj.props or {})
                              for obj in calendar.multiget(urls)]  # type: ignore[union-attr]
            asked = set(batch)
            # the public multiget unquotes the hrefs of its answer once more (a "%25" in a
            # name comes back as "%"): map such a one back to the href asked for
            lossy = {href_path(unquote(href)): href for href in batch}
            for href, data, tags in answer:
                if not isinstance(data, str) or not data:
                    continue  # a 404 in the answer: deleted since it was listed
                path = href_path(href)
                if path not in asked:
                    path = lossy.get(path, path)
                yield path, str(tags.get(_GETETAG, "")), data

    # --- plumbing --------------------------------------------------------------------------

    def _propfind(self, url: str, props: list[str], depth: int) -> dict[str, dict[str, Any]]:
        response = self.client.propfind(url, props=props, depth=depth)
        status = response.status
        if status == 404:
            raise CalendarGone(f"{self._who}the CalDAV server has nothing at {url} (404): fix "
                                 "`caldav_url` (or `calendars`) in the config")
        if status >= 500:
            raise TransientError(f"{self._who}the CalDAV server at {url} failed ({status})")
        if status != 207:
            raise ConnectorError(f"{self._who}the CalDAV server at {url} answered {status} "
                                 "to PROPFIND: is `caldav_url` a CalDAV address?")
        return {href_path(result.href): dict(getattr(result, "properties", {}))
                for result in response.results or []}

    def _bounded(self, url: str, count: int, limit: int) -> None:
        if count > limit:
            raise ConnectorError(
                f"{self._who}the calendar {url} holds over {limit} objects, more than "
                "coffeechat reads from one calendar: name the calendars to read in "
                "`calendars`, or raise `max_objects` for this account")

    @contextmanager
    def _talking(self, url: str) -> Iterator[None]:
        """Map the library's and the HTTP layer's errors to the core's."""
        try:
            yield
        except error.RateLimitError as exc:
            raise TransientError(f"{self._who}the CalDAV server asks to slow down "
                                 f"({exc.status})", exc.retry_after_seconds) from exc
        except error.AuthorizationError as exc:
            if exc.status == 401:
                raise AuthError(
                    f"{self._who}the CalDAV server refused the user name or password "
                    f"(401 at {url}): check `username`, and that `password_command` prints "
                    "an app password for this account (iCloud, Fastmail and Yahoo want an "
                    "app password made in the account's security settings, not your "
                    "sign-in password)") from exc
            raise ConnectorError(
                f"{self._who}the CalDAV server does not let this user read {url} "
                f"({exc.status or 'forbidden'}): check `caldav_url` and `calendars`") from exc
        except error.NotFoundError as exc:
            raise CalendarGone(f"{self._who}the CalDAV server has nothing at {url}: fix "
                                 "`caldav_url` (or `calendars`) in the config") from exc
        except error.DAVError as exc:
            if exc.status is not None and exc.status >= 500:
                raise TransientError(f"{self._who}the CalDAV server failed at {url} "
                                     f"({exc.status})") from exc
            raise ConnectorError(f"{self._who}the CalDAV server gave an answer coffeechat "
                                 f"cannot use at {url} ({exc})") from exc
        except niquests.exceptions.SSLError as exc:
            raise ConnectorError(
                f"{self._who}the TLS certificate of {url} could not be verified ({exc}): for "
                "a self-hosted server, set `ca_file` to the CA bundle that signed it") from exc
        except niquests.exceptions.RequestException as exc:
            raise TransientError(f"{self._who}the CalDAV server at {url} cannot be reached "
                                 f"({type(exc).__name__}: {exc})") from exc


def _found(url: str, props: dict[str, Any]) -> Found:
    token, ctag = props.get(_SYNC_TOKEN), props.get(_CTAG)
    name = props.get(_DISPLAYNAME)
    return Found(url, str(name) if name else href_path(url).rstrip("/").rsplit("/", 1)[-1],
                 tuple(str(c) for c in _list(props.get(_COMPONENTS))),
                 str(token) if token else None, str(ctag) if ctag else None)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _href(value: Any) -> str | None:
    """A property holding an href (the library gives its text, or a list of them)."""
    items = _list(value)
    return str(items[0]) if items and items[0] else None
