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
    ``contacts``): at interpreter exit, take every object still alive out of the collector's
    last pass, which would walk the hundreds of thousands of objects of the state and find
    nothing to free; they go with the process. Nothing changes before exit, so an embedding
    process (a test) keeps collecting as usual. Idempotent."""
    if not _AT_EXIT:
        _AT_EXIT.append(True)
        atexit.register(gc.freeze)


_AT_EXIT: list[bool] = []
