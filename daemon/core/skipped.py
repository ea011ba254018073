"""What each account's calendar could not give when it was last read, for ``status`` and
``doctor``: files skipped or read in part, and events refused.

Pure: no I/O. A calendar source says it with :class:`~daemon.core.model.SourceNotes` (``said``); the
cycle adds the events it could not tag (``refused``), by the meeting's source. :func:`update`
folds one sync into what an account had. What is kept is bounded, so that a hostile calendar
cannot bloat the state:

- at most :data:`MAX_SOURCES` sources of each kind per account; past that, ``more`` says that
  some were left out (the log names every one);
- at most :data:`MAX_NOTES` notes per source (the last then says how many more there were);
- each note one line of at most :data:`MAX_NOTE_CHARS` characters, each source name at most
  :data:`MAX_SOURCE_CHARS` (both cleaned like any calendar text, see :mod:`daemon.core.text`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from daemon.core.model import SourceNotes
from daemon.core.text import clean_line

MAX_SOURCES = 50
MAX_NOTES = 5
MAX_NOTE_CHARS = 300
MAX_SOURCE_CHARS = 255


@dataclass(frozen=True)
class Skipped:
    """One account's notes: by source, as its calendar said them and as the cycle refused
    events; ``more`` when sources were left out for :data:`MAX_SOURCES`."""

    said: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    refused: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    more: bool = False

    @property
    def empty(self) -> bool:
        """True when there is nothing to tell the user."""
        return not self.said and not self.refused and not self.more

    def by_source(self) -> list[SourceNotes]:
        """Every source with its notes (what the calendar said, then refused events), sorted
        by source."""
        sources = sorted({*self.said, *self.refused})
        return [SourceNotes(s, (*self.said.get(s, ()), *self.refused.get(s, ())))
                for s in sources]


def update(old: Skipped, *, full: bool, said: Mapping[str, tuple[str, ...]],
           refused: Mapping[str, tuple[str, ...]], read: Collection[str]) -> Skipped:
    """Return the account's notes after one sync, which yielded ``said`` (each source's last
    :class:`~daemon.core.model.SourceNotes`), could not tag the events of ``refused`` (notes by the
    meeting's source) and delivered meetings from the sources in ``read``.

    A full sync (``full``: the source was given no cursor) replaces everything ``old`` held. An
    incremental one replaces what ``said`` names (empty notes remove the source), and the
    refused events of every source in ``read`` or ``refused``. Raises nothing."""
    if full:
        kept_said: dict[str, tuple[str, ...]] = {}
        kept_refused: dict[str, tuple[str, ...]] = {}
        more = False
    else:
        kept_said, kept_refused, more = dict(old.said), dict(old.refused), old.more
        for source in read:
            kept_refused.pop(_source(source), None)
    for news, kept in ((said, kept_said), (refused, kept_refused)):
        for source, notes in news.items():
            more = _put(kept, _source(source), _bounded(notes)) or more
    return Skipped(said=kept_said, refused=kept_refused, more=more)


def _put(kept: dict[str, tuple[str, ...]], source: str, notes: tuple[str, ...]) -> bool:
    """Set (or, with no notes, remove) one source; returns True when it was left out because
    :data:`MAX_SOURCES` are kept already."""
    if not notes:
        kept.pop(source, None)
    elif source in kept or len(kept) < MAX_SOURCES:
        kept[source] = notes
    else:
        return True
    return False


def _source(name: str) -> str:
    return clean_line(name[:MAX_SOURCE_CHARS * 2], limit=MAX_SOURCE_CHARS)


def _bounded(notes: tuple[str, ...]) -> tuple[str, ...]:
    lines = [clean_line(n[:MAX_NOTE_CHARS * 2], limit=MAX_NOTE_CHARS)
             for n in notes[:MAX_NOTES + 1]]
    lines = [line for line in lines if line]
    if len(notes) <= MAX_NOTES:
        return tuple(lines)
    shown = lines[:MAX_NOTES - 1]
    return (*shown, f"and {len(notes) - len(shown)} more (the log names each)")
