"""Pausing Python's cyclic garbage collector while a large batch of objects is made."""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (nested uses are fine).

    Reading the state (a JSON document of tens of megabytes, then one object per stored
    meeting and draft) and planning over it make hundreds of thousands of small objects and
    no reference cycles, so the collector finds nothing to free; left running, it walks every
    object alive each time enough new ones were made, for nothing (the figures are in
    docs/performance.md). Memory is still freed as usual, by reference counting.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def exempt_at_exit() -> None:
    """For a command that reads a large state and then ends (``status``, ``plan``,
    ``contacts``): take every object still alive out of the collector's passes, which would
    walk the hundreds of thousands of objects of the state and find nothing to free; they go
    with the process. Idempotent.

    When the command is the process's own (:func:`command_ends_process` was called), this
    happens at once: otherwise the first pass after :func:`paused` ends, which walks every
    object made while it was paused, costs a tenth of ``plan`` on a large state. In an
    embedding process (a test) it waits for interpreter exit, so the process keeps
    collecting as usual until then."""
    if _ENDS_PROCESS:
        gc.freeze()
    elif not _AT_EXIT:
        _AT_EXIT.append(True)
        atexit.register(gc.freeze)


def command_ends_process() -> None:
    """Say that the process ends when its command does (the ``coffeechat`` entry point, not
    a test invoking a command): :func:`exempt_at_exit` may then act at once."""
    global _ENDS_PROCESS
    _ENDS_PROCESS = True


_AT_EXIT: list[bool] = []
_ENDS_PROCESS = False
