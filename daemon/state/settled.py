"""Settled history: meetings and draft records the planner can never need again (see
:mod:`daemon.plan.settle`), moved by :meth:`SettledHistory.settle` to a second file of the same
kind beside the state, ``<name>.settled.json``, which is read only when a calendar change
touches one of those meetings or history is asked for, and written only when more settle. The
state keeps the document ids of the meetings concerned, so a meeting coming back is found
without reading that file. The file is written before the state forgets what moved, so after
a kill at any instant a meeting or record is in the state, in the settled file, or in both
(then the state's copy counts).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from daemon.core.errors import StateError
from daemon.core.model import JSON, SettledPerson, SettledSummary
from daemon.state import codec
from daemon.state.database import Database
from daemon.state.schema import SETTLE_CHECK_ID, SETTLED_ID


def _people(meetings: Iterable[JSON]) -> JSON:
    """The ``people`` of the settled record, from the stored meetings that left the state."""
    out: dict[str, list[Any]] = {}
    for doc in meetings:
        end = None if doc["cancelled"] else codec.parse_time(doc["end"])
        for role in ("contacts", "declined"):
            for person in doc[role]:
                entry = out.setdefault(person["email"], [person["name"], 0, None])
                entry[1] += 1
                if end is not None and role == "contacts" and (entry[2] is None or
                                                               end > entry[2]):
                    entry[2] = end
    return {email: [name, count, None if last is None else codec.format_time(last)]
            for email, (name, count, last) in out.items()}


def settled_path(state: Path) -> Path:
    """The settled file of the state file ``state``: ``state.settled.json`` beside the file a
    link at ``state`` points to."""
    real = Path(os.path.realpath(state))
    return real.with_name(f"{real.stem}.settled{real.suffix}")


class SettledHistory(Database):
    """The state's settled file and what the state keeps of it."""

    def settled_end(self) -> datetime | None:
        """When the latest meeting moved to the settled file ended (``None``: none was)."""
        doc = self.meta.get(doc_id=SETTLED_ID)
        if not isinstance(doc, dict):
            return None
        try:
            return codec.parse_time(doc["latest_end"])
        except (KeyError, TypeError, ValueError):
            raise StateError(f"{self.path}: the record of settled meetings does not read "
                             "back; the file was changed by hand or is damaged. Restore it "
                             "from a backup.") from None

    def settled_summary(self) -> SettledSummary:
        """What left the state for the settled file, counted (see :class:`SettledSummary`)."""
        doc = self.meta.get(doc_id=SETTLED_ID)
        if not isinstance(doc, dict):
            return SettledSummary({}, 0, 0)
        try:
            people = {email: SettledPerson(str(name), int(count),
                                           None if last is None else codec.parse_time(last))
                      for email, (name, count, last) in doc["people"].items()}
            return SettledSummary(people, int(doc["drafts"]), int(doc["taken_over"]))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise StateError(f"{self.path}: the record of settled meetings does not read "
                             "back; the file was changed by hand or is damaged. Restore it "
                             "from a backup.") from None

    def settle_checked(self) -> datetime | None:
        """When :meth:`settle` was last offered meetings (``None``: never, or unreadable)."""
        doc = self.meta.get(doc_id=SETTLE_CHECK_ID)
        try:
            return codec.parse_time(doc["at"]) if isinstance(doc, dict) else None
        except (KeyError, TypeError, ValueError):
            return None  # as if never: the check runs again

    def settle(self, meetings: set[str], records: set[str], checked: datetime) -> int:
        """Move to the settled file the meetings ``meetings`` (uids: every account's copy)
        and the draft records ``records`` (keys), as :func:`daemon.plan.settle.settleable` gives
        them. The settled file is written at once; the state forgets what moved at its next
        flush. ``checked`` is recorded for :meth:`settle_checked`. Returns how many meetings
        and records moved. Raises ``StateError`` if the settled file cannot be written
        (nothing is forgotten then)."""
        self._upsert(self.meta, SETTLE_CHECK_ID, {"at": codec.format_time(checked)})
        papers = [(key, doc) for key, doc in self._documents_by_id("drafts")
                  if doc.get("key") in records]
        touched = meetings | {doc.get("meeting_uid") for _, doc in papers}
        index = self._settled_index()
        marked = [(key, doc) for key, doc in self._documents_by_id("meetings")
                  if doc["uid"] in touched]
        moving = [(key, doc) for key, doc in marked if doc["uid"] in meetings]
        if not moving and not papers:
            return 0
        history = self._history(create=True)
        assert history is not None
        history._put_documents(history.meetings, marked)
        history._put_documents(history.drafts_table, papers)
        history.flush()
        if moving:
            self.meetings.remove(doc_ids=[key for key, _ in moving])
        if papers:
            self.drafts_table.remove(doc_ids=[key for key, _ in papers])
            if self._records is not None:
                for _, doc in papers:
                    self._records.pop(doc["key"], None)
        ends = [codec.parse_time(doc["end"]) for _, doc in marked]
        before = self.settled_end()
        latest = max(ends if before is None else [*ends, before])
        self._set_settled(index | {key for key, _ in marked}, latest)
        return len(moving) + len(papers)

    def unsettle_all(self) -> int:
        """Bring every settled meeting and record back into the state (when the planner may
        need them again); returns how many meetings had settled."""
        index = set(self._settled_index())
        self._unsettle(index)
        return len(index)

    def _settled_index(self) -> set[int]:
        """The document ids of the meetings whose records (and maybe themselves) settled."""
        if self._settled_ids is None:
            doc = self.meta.get(doc_id=SETTLED_ID) if self._main else None
            ids = doc.get("ids", "") if isinstance(doc, dict) else ""
            try:
                if not isinstance(ids, str) or len(ids) % 16:
                    raise ValueError(ids)
                self._settled_ids = {int(ids[i:i + 16], 16) for i in range(0, len(ids), 16)}
            except ValueError:
                raise StateError(f"{self.path}: the record of settled meetings does not read "
                                 "back; the file was changed by hand or is damaged. Restore "
                                 "it from a backup.") from None
        return self._settled_ids

    def _set_settled(self, index: set[int], latest: datetime | None) -> None:
        self._settled_ids = set(index)
        if not index:
            if self.meta.contains(doc_id=SETTLED_ID):
                self.meta.remove(doc_ids=[SETTLED_ID])
            return
        assert latest is not None
        ids = "".join(f"{key:016x}" for key in sorted(index))
        history = self._history()
        settled = [] if history is None else [
            (key, doc) for key, doc in history._documents_by_id("meetings") if key in index]
        uids = {doc["uid"] for _, doc in settled}
        papers = [] if history is None else [
            doc for key, doc in history._documents_by_id("drafts")
            if doc.get("meeting_uid") in uids and not self.drafts_table.contains(doc_id=key)]
        away = [doc for key, doc in settled if not self.meetings.contains(doc_id=key)]
        self._upsert(self.meta, SETTLED_ID, {
            "ids": ids, "latest_end": codec.format_time(latest), "people": _people(away),
            "drafts": len(papers),
            "taken_over": sum(1 for doc in papers if doc.get("observed") != "untouched")},
            plan_input=True)

    def _settled_copy(self, key: int) -> JSON | None:
        """The meeting ``key`` as stored, if its records settled: the state's copy, else the
        settled file's."""
        if key not in self._settled_index():
            return None
        doc = self.meetings.get(doc_id=key)
        if doc is None:
            history = self._history()
            doc = None if history is None else history.meetings.get(doc_id=key)
        return None if doc is None else dict(doc)

    def _unsettle(self, keys: set[int]) -> None:
        """Bring the settled meetings ``keys`` (document ids; others are ignored), every copy
        of their uids and their records back into the state, in one pass over each file."""
        index = self._settled_index()
        keys = keys & index
        if not keys:
            return
        history = self._history()
        hot = dict(self._documents_by_id("meetings"))
        away = {} if history is None else dict(history._documents_by_id("meetings"))
        uids = {doc["uid"] for doc in (hot.get(key) or away.get(key) for key in keys) if doc}
        back = [(k, d) for k, d in away.items() if d["uid"] in uids and k in index
                and k not in hot]
        papers = [] if history is None else [
            (k, d) for k, d in history._documents_by_id("drafts")
            if d.get("meeting_uid") in uids and not self.drafts_table.contains(doc_id=k)]
        self._put_documents(self.meetings, back)
        self._put_documents(self.drafts_table, papers)
        if papers:
            self._records = None  # decoded again when next asked for
        copies = {k for k, d in (*hot.items(), *back) if d["uid"] in uids}
        self._set_settled(index - keys - copies, self.settled_end())
        self._plan_inputs_changed()

    def _history(self, create: bool = False) -> Self | None:
        """The settled file, opened once; ``None`` when there is none (and not ``create``)."""
        if self._settled is None and self._main:
            path = settled_path(self.path)
            if create or path.exists():
                self._settled = type(self)(path, self.writable, settled=False)
        return self._settled
