"""Links from calendar events: only plain https addresses, and online-meeting links found in
free text. Part of the core's ground floor: connectors use it in their mappings."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from daemon.core.text import clean_line

MAX_LINK = 2048
"""Teams join links run past a thousand characters."""
MEETING_HOSTS = ("meet.google.com", "zoom.us", "teams.microsoft.com", "teams.live.com")
_URL_IN_TEXT = re.compile(r"https://[^\s<>\"'\[\]{}|\\^`]+", re.IGNORECASE)


def https_link(value: str) -> str:
    """``value`` as a clean https URL with a host, or ``""`` when it is not one."""
    link = clean_line(value, limit=MAX_LINK)
    if not link or " " in link or not link.lower().startswith("https://"):
        return ""
    try:
        host = urlsplit(link).hostname
    except ValueError:
        return ""
    return link if host else ""


def meeting_link_in(*texts: str) -> str:
    """The first Google Meet, Zoom or Teams https link in ``texts`` (in order), or ``""``."""
    for text in texts:
        for match in _URL_IN_TEXT.finditer(text):
            link = https_link(match.group(0).rstrip(".,;:!?)"))
            if link and _is_meeting_host(link):
                return link
    return ""


def _is_meeting_host(link: str) -> bool:
    host = (urlsplit(link).hostname or "").lower()
    return any(host == known or host.endswith("." + known) for known in MEETING_HOSTS)
