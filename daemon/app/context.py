"""What every command of the ``coffeechat`` command line shares: where the config is, and the
exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.settings.config import Settings

EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class Context:
    """What every command gets: where the config is."""

    config_path: Path

    def settings(self) -> Settings:
        """The validated config; raises ``ConfigError``."""
        from daemon.settings.config import load

        return load(self.config_path)
