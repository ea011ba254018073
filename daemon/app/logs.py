"""Where the ``coffeechat`` command logs: stderr, in the journal's form under systemd."""

from __future__ import annotations

import logging
import os
import sys
from typing import ClassVar


class JournalFormatter(logging.Formatter):
    """Plain lines with sd-daemon(3) ``<N>`` priority prefixes: journald adds the time."""

    PRIORITIES: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
        logging.DEBUG: 7}

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def setup_logging(verbose: int, quiet: int) -> None:
    """Log to stderr at INFO, one step more detail per ``verbose`` and one less per ``quiet``:
    with the journal's priority prefixes under systemd (``JOURNAL_STREAM``), else with the
    time and level."""
    level = max(logging.DEBUG, logging.INFO + 10 * (quiet - verbose))
    handler = logging.StreamHandler(sys.stderr)
    if "JOURNAL_STREAM" in os.environ:
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
