"""What the tables and the targets of ``make bench`` share: finding a scenario, reading its
median figures, and writing a figure as the text of a table cell.

A scenario is a plain JSON object (what ``bench/results.json`` holds): ``scenario``
(``first_sync``, ``idle``, ``idle_every_file`` (local only), ``busy``, ``planner``,
``series_planner`` (by ``occurrences``), ``plan`` and ``status`` (by stored ``meetings``),
``help``), ``tool`` (``coffeechat`` or ``naive``), ``connector``, ``events``, the medians of
its figures under ``median`` and every run under ``samples``. ``bench/report.py`` makes the
tables of them and ``bench/targets.py`` the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

JSON = dict[str, Any]
GOOGLE_DEFAULT_PAGE = 250
"""Google's events.list page when ``maxResults`` is not given."""
GRAPH_DEFAULT_PAGE = 10
"""Graph's calendarView page when neither ``$top`` nor ``odata.maxpagesize`` is given."""
LABELS = {"google": "Google (fake)", "outlook": "Outlook (fake Graph)", "local": "local vdir"}
"""Each connector's name in the tables and the targets."""


def default_page(kind: str) -> int:
    """The page size of ``kind``'s event listing when the client asks for none."""
    return GOOGLE_DEFAULT_PAGE if kind == "google" else GRAPH_DEFAULT_PAGE


def find(scenarios: Iterable[JSON], **where: Any) -> JSON | None:
    """The first scenario whose fields equal ``where``."""
    for item in scenarios:
        if all(item.get(k) == v for k, v in where.items()):
            return item
    return None


def median(item: JSON | None, key: str) -> float | None:
    """The median of figure ``key`` in scenario ``item``; None when either is missing."""
    if item is None:
        return None
    value = item["median"].get(key)
    return None if value is None else float(value)


def decimal(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or "—"."""
    return "—" if value is None else f"{value:.{digits}f}"


def count(value: float | None) -> str:
    """``value`` with thousands separators, whole or to one decimal, or "—"."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def byte_size(value: float | None) -> str:
    """A number of bytes in B, KB or MB, or "—"."""
    if value is None:
        return "—"
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.1f} MB"
    if value >= 1024:
        return f"{value / 1024:.0f} KB"
    return f"{value:.0f} B"


def ratio_of(top: float | None, bottom: float | None) -> float | None:
    """``top / bottom``; None when either is missing or ``bottom`` is 0."""
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def idle_sizes(scenarios: Sequence[JSON], kind: str) -> list[int]:
    """The calendar sizes (events) at which coffeechat's idle cycle ran on ``kind``, smallest
    first."""
    return sorted({int(s["events"]) for s in scenarios
                   if s.get("connector") == kind and s["scenario"] == "idle"
                   and s["tool"] == "coffeechat"})


def kinds(scenarios: Sequence[JSON]) -> list[str]:
    """The connectors measured, in the order of the tables: Google, Outlook, local."""
    order = ("google", "outlook", "local")
    present = {s.get("connector") for s in scenarios}
    return [k for k in order if k in present]


def series_runs(scenarios: Sequence[JSON]) -> list[JSON]:
    """The planner runs over one contact's series, shortest series first."""
    return sorted((s for s in scenarios if s["scenario"] == "series_planner"),
                  key=lambda s: int(s["occurrences"]))


def stored_runs(scenarios: Sequence[JSON], command: str) -> list[JSON]:
    """coffeechat's runs of ``command`` (``plan`` or ``status``) on a stored state, by shape
    and then by number of stored meetings."""
    return sorted((s for s in scenarios if s["scenario"] == command and "meetings" in s
                   and s["tool"] == "coffeechat"),
                  key=lambda s: (str(s.get("shape", "contacts")), int(s["meetings"])))
