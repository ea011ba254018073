"""Calendar files written the way vdir tools write them."""

from __future__ import annotations

import os
from pathlib import Path


def save(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    """Write ``data`` to ``path`` as vdirsyncer and khal do: into a temporary file in the same
    folder, then renamed over ``path``. The rename changes the folder's modification time, which
    is how the local connector notices a change without listing every file. ``mtime_ns``, when
    given, becomes the file's modification time."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    if mtime_ns is not None:
        os.utime(temporary, ns=(mtime_ns, mtime_ns))
    os.replace(temporary, path)
