"""The caldav account's keys (``kind = "caldav"``): a CalDAV calendar and IMAP Drafts, reached
with a user name and an app password (iCloud, Fastmail, Yahoo, Nextcloud, any server).

A ``provider`` preset fills in the server addresses the provider documents; a key set in the
config always wins over the preset. After validation every address is concrete, so the
connector never looks at the preset again.

Security rules checked here, before anything connects:

* a CalDAV URL must be ``https://``; ``http://`` is accepted only to a loopback address
  (127.0.0.0/8, ::1, ``localhost``), such as a local bridge;
* IMAP is always encrypted: port 993 (or ``imap_tls = "implicit"``) is TLS from the first
  byte, port 143 (or ``imap_tls = "starttls"``) must upgrade with STARTTLS before the password
  is sent; ``imap_tls = "none"`` is accepted only to a loopback address;
* certificates are always verified (against the system's CA bundle, or ``ca_file``); there is
  no key to turn verification off;
* the password is never in the config: ``password_command`` prints it when needed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from connectors.options import AccountOptions

ImapTls = Literal["implicit", "starttls", "none"]


@dataclass(frozen=True)
class Preset:
    """What a provider documents for third-party clients."""

    caldav_url: str | None
    """``None`` where the provider's documentation gives none we could find: the user sets
    ``caldav_url``. ``{host}`` stands for the ``host`` key (Nextcloud)."""
    imap_host: str | None
    """``None`` where the provider runs no IMAP server of its own (Nextcloud)."""
    imap_port: int = 993
    app_passwords: str = ""
    """Where the provider lets the user make an app password (for error messages)."""


PRESETS: dict[str, Preset] = {
    # iCloud: IMAP imap.mail.me.com, port 993, SSL/TLS, app-specific password required
    # (Apple's "iCloud Mail server settings for other email client apps", as quoted by the
    # Postbox and Lifewire setup pages). Apple publishes no CalDAV page; caldav.icloud.com
    # over HTTPS with principal discovery is what the CalDAV guides for iCloud give
    # (cli.nylas.com/guides/icloud-caldav-settings, docs.calendarpipe.com/connectors/apple).
    "icloud": Preset(
        caldav_url="https://caldav.icloud.com/",
        imap_host="imap.mail.me.com",
        app_passwords="account.apple.com: Sign-In and Security > App-Specific Passwords",
    ),
    # Fastmail: "Server names and ports" (fastmail.com/help/technical/servernamesandports.html):
    # IMAP imap.fastmail.com port 993, SSL/TLS but not STARTTLS, an app password; CalDAV
    # https://caldav.fastmail.com/ (auto-discovery).
    "fastmail": Preset(
        caldav_url="https://caldav.fastmail.com/",
        imap_host="imap.fastmail.com",
        app_passwords="Fastmail Settings > Privacy & Security > App passwords (access: "
                      "IMAP and CalDAV)",
    ),
    # Yahoo: IMAP imap.mail.yahoo.com port 993, SSL required, app password from Account
    # security > Manage app passwords (Yahoo's help, as the unanswered.io and mailivery
    # guides quote it; senders.yahooinc.com/developer/documentation shows the host). No
    # Yahoo page giving a CalDAV address was found: set caldav_url from Yahoo Calendar's
    # own settings.
    "yahoo": Preset(
        caldav_url=None,
        imap_host="imap.mail.yahoo.com",
        app_passwords="Yahoo Account info > Account security > Manage app passwords",
    ),
    # Nextcloud: the CalDAV endpoint is https://HOST/remote.php/dav (Nextcloud user manual,
    # "Synchronizing with Android"/"with iOS"; help.nextcloud.com/t/74923). Nextcloud has no
    # IMAP server of its own: imap_host names the mail server.
    "nextcloud": Preset(
        caldav_url="https://{host}/remote.php/dav",
        imap_host=None,
        app_passwords="Nextcloud Settings > Security > Devices & sessions > Create new app "
                      "password",
    ),
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this
    machine: ``localhost`` or a loopback address."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def caldav_url_problem(url: str) -> str | None:
    """Why ``url`` may not be used as a CalDAV address, or ``None`` when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an https:// address"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return (f"{url!r} is http://: the password would travel unencrypted; use the "
                "https:// address of the server (http:// is accepted only to this machine)")
    return None


class CalDavOptions(AccountOptions):
    """A CalDAV calendar and the Drafts folder of an IMAP account."""

    path_keys: ClassVar[tuple[str, ...]] = ("ca_file",)

    kind: Literal["caldav"]
    provider: Literal["icloud", "fastmail", "yahoo", "nextcloud"] | None = None
    """A preset for the server addresses; keys set below win over it."""
    host: str | None = None
    """The server's host name, for ``provider = "nextcloud"`` (``cloud.example.org``)."""
    caldav_url: str | None = None
    """The CalDAV address (a server, a principal or a calendar); from the preset if unset."""
    calendars: list[str] = Field(default_factory=list)
    """Calendars to read, by display name or URL; empty: every calendar that holds events."""
    imap_host: str | None = None
    """The IMAP server's host name; from the preset if unset."""
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    """993 (implicit TLS) by default; 143 means STARTTLS, which is then required."""
    imap_tls: ImapTls | None = None
    """How IMAP is encrypted: from the port when unset (143: STARTTLS, else implicit TLS);
    ``none`` only to a loopback address (a local bridge)."""
    username: str = Field(min_length=1)
    """The account's login, usually its email address."""
    password_command: str = Field(min_length=1)
    """A command that prints the (app) password; coffeechat never stores it."""
    imap_username: str | None = None
    """The IMAP login when it differs from the CalDAV one (a Nextcloud calendar with mail
    elsewhere); default: ``username``."""
    imap_password_command: str | None = None
    """Prints the IMAP password when it differs; default: ``password_command``."""
    drafts_folder: str = ""
    """The IMAP folder for drafts; empty: the one the server marks SPECIAL-USE ``\\Drafts``."""
    ca_file: str | None = None
    """A CA bundle (PEM) to verify a self-hosted server's certificate with."""
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    """How long one request to either server may take."""
    horizon_days: int = Field(default=365, ge=1, le=3650)
    """How far ahead a series is expanded."""

    @field_validator("ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("host", "imap_host", mode="after")
    @classmethod
    def _plain_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or "/" in value or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not a host name; give only the name, such as "
                             "mail.example.org (no https:// and no path)")
        return value

    @model_validator(mode="after")
    def _resolve(self) -> CalDavOptions:
        preset = PRESETS.get(self.provider) if self.provider else None
        caldav_url = self.caldav_url
        if caldav_url is None and preset is not None and preset.caldav_url is not None:
            if "{host}" in preset.caldav_url:
                if self.host is None:
                    raise ValueError(f"provider {self.provider!r} needs `host`: your server's "
                                     "name, such as cloud.example.org")
                caldav_url = preset.caldav_url.format(host=self.host)
            else:
                caldav_url = preset.caldav_url
        if caldav_url is None:
            which = f"provider {self.provider!r} has no documented CalDAV address: " if (
                preset is not None) else ""
            raise ValueError(f"{which}set `caldav_url` to your CalDAV server's https:// address")
        problem = caldav_url_problem(caldav_url)
        if problem is not None:
            raise ValueError(f"caldav_url: {problem}")
        imap_host = self.imap_host or (preset.imap_host if preset is not None else None)
        if imap_host is None:
            raise ValueError("set `imap_host` to your mail server's IMAP host name"
                             + (f" ({self.provider} has no IMAP server of its own)"
                                if preset is not None else ""))
        port = self.imap_port or (preset.imap_port if preset is not None else 993)
        tls: ImapTls = self.imap_tls or ("starttls" if port == 143 else "implicit")
        if tls == "none" and not is_loopback(imap_host):
            raise ValueError(f"imap_tls = \"none\" would send the password to {imap_host} "
                             "unencrypted; use port 993 (TLS) or 143 (STARTTLS). Without TLS "
                             "only a server on this machine (127.0.0.1) is accepted")
        for key, value in (("caldav_url", caldav_url), ("imap_host", imap_host),
                           ("imap_port", port), ("imap_tls", tls)):
            object.__setattr__(self, key, value)
        return self


def app_password_hint(provider: str | None) -> str:
    """Where to make an app password for ``provider`` (a sentence), or a general hint."""
    preset = PRESETS.get(provider or "")
    if preset is not None and preset.app_passwords:
        return f"make an app password in {preset.app_passwords}"
    return "check the password your server expects (often an app password, not your login one)"
