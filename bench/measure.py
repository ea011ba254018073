"""Running one command as a whole child process and measuring it.

- Wall time: from just before the fork to the reaping of the child (``time.perf_counter``).
- Peak RSS: ``ru_maxrss`` of the child as ``os.wait4`` returns it for that very child (not
  ``RUSAGE_CHILDREN``, the maximum over every child ever reaped). It covers the child and any
  of its own children it waited for (the ``token_command``). Children are started by
  :mod:`bench.spawner`, a separate small process, because Linux starts a forked child's
  ``ru_maxrss`` at its parent's resident size, and the benchmark process is large.
- Server CPU: ``time.process_time()`` of this process during the run. While the child runs,
  this process does nothing but serve the fakes, so this is what the fake servers spent
  (part of the wall time, and not coffeechat's doing).
- Files: size, modification time, inode and SHA-256 before and after. A file whose four are
  unchanged was not rewritten: 0 bytes written. coffeechat replaces its state file whole
  (write a temporary file, rename), so a rewritten file counts its whole new size.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SPAWNER = Path(__file__).with_name("spawner.py")


@dataclass(frozen=True)
class ChildRun:
    """One child process, measured."""

    wall_s: float
    returncode: int
    max_rss_mb: float
    server_cpu_s: float
    stdout: str
    stderr: str


class Spawner:
    """A handle on the :mod:`bench.spawner` process. Start it before building large worlds."""

    def __init__(self) -> None:
        """Start the spawner process. Raises ``OSError`` if it cannot be started."""
        self._process = subprocess.Popen([sys.executable, str(SPAWNER)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, encoding="utf-8")

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
            timeout: float = 900) -> ChildRun:
        """Run ``argv`` to completion and measure it; a child still running after
        ``timeout`` seconds is killed (its return code is then negative).

        Raises ``RuntimeError`` if the spawner failed or could not start the command."""
        stdin: IO[str] | None = self._process.stdin
        stdout: IO[str] | None = self._process.stdout
        assert stdin is not None and stdout is not None
        request = {"argv": list(argv), "cwd": str(cwd), "env": dict(env), "timeout": timeout}
        cpu = time.process_time()
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        server = time.process_time() - cpu
        if not line:
            raise RuntimeError("the benchmark's spawner process ended unexpectedly")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"could not run {argv[0]}: {answer['error']}")
        return ChildRun(float(answer["wall_s"]), int(answer["returncode"]),
                        int(answer["max_rss_kb"]) / 1024, server, str(answer["stdout"]),
                        str(answer["stderr"]))

    def close(self) -> None:
        """End the spawner."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
        if self._process.stdout is not None:
            self._process.stdout.close()


def environment(home: Path) -> dict[str, str]:
    """This process's environment with ``HOME`` and every XDG folder moved under ``home`` and
    no ``COFFEECHAT_CONFIG``, so a run never reads or writes the user's own files."""
    env = {k: v for k, v in os.environ.items()
           if k != "COFFEECHAT_CONFIG" and not k.startswith("XDG_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONDONTWRITEBYTECODE="1")
    return env


# --- files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    """What a file looked like at one instant (``exists=False``: absent)."""

    exists: bool
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    digest: str = ""


def file_state(path: Path) -> FileState:
    """Return the state of ``path`` now."""
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        return FileState(False)
    return FileState(True, info.st_size, info.st_mtime_ns, info.st_ino,
                     hashlib.sha256(data).hexdigest())


def bytes_written(before: FileState, after: FileState) -> int:
    """Bytes written to the file between the two states: 0 when it was not rewritten at all,
    else its whole new size."""
    if before == after or not after.exists:
        return 0
    return after.size


def folder_states(folder: Path, skip: set[Path]) -> dict[Path, FileState]:
    """The state of every file directly in ``folder`` except those in ``skip``."""
    return {p: file_state(p) for p in sorted(folder.iterdir()) if p.is_file() and p not in skip}


def side_bytes_written(before: Mapping[Path, FileState],
                       after: Mapping[Path, FileState]) -> dict[str, int]:
    """Bytes written to other files of the workspace (health file, backups), by name."""
    out: dict[str, int] = {}
    for path, state in after.items():
        written = bytes_written(before.get(path, FileState(False)), state)
        if written:
            out[path.name] = written
    return out


# --- statistics --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return float(statistics.median(values)) if values else 0.0
