"""The validated configuration, kept so that a command whose config has not changed skips
validation (and importing pydantic, a noticeable part of every ``status``, ``plan`` or idle
cycle: docs/performance.md).

One JSON file, ``config-cache.json`` in the XDG cache folder (mode 0600), holds the validated
data of the last :data:`MAX_ENTRIES` config files, by absolute path. An entry is used only when
its ``source`` matches: a digest of the config file's bytes and of the name, size and change
time of every module of ``daemon`` and ``connectors`` (the code that validates), and of
pydantic's own files. Anything else (a missing, damaged or foreign cache, an old format, a
folder that cannot be written) means "validate again": the cache can only make a command
faster, never change what it reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import connectors
import daemon
from daemon.core.fileio import write_atomically
from daemon.settings.paths import cache_dir

FORMAT = 1
MAX_ENTRIES = 16
_FILE = "config-cache.json"


def lookup(path: Path, raw: bytes) -> dict[str, Any] | None:
    """The validated data stored for the config at ``path`` whose bytes are ``raw``, or None
    when there is none that matches (then validate, and :func:`store` the result)."""
    entry = _entries().get(_where(path))
    if not isinstance(entry, dict) or entry.get("source") != _source(raw):
        return None
    config = entry.get("config")
    return config if isinstance(config, dict) else None


def store(path: Path, raw: bytes, config: dict[str, Any]) -> None:
    """Keep ``config``, validated from ``raw`` read at ``path``, for the next :func:`lookup`;
    the oldest entries beyond :data:`MAX_ENTRIES` go. A failure to write is ignored."""
    entries = _entries()
    where = _where(path)
    entries.pop(where, None)
    entries[where] = {"source": _source(raw), "config": config}
    kept = dict(list(entries.items())[-MAX_ENTRIES:])
    payload = json.dumps({"format": FORMAT, "entries": kept}, ensure_ascii=False)
    with contextlib.suppress(OSError):
        write_atomically(cache_dir() / _FILE, payload.encode("utf-8"))


def _entries() -> dict[str, Any]:
    try:
        document = json.loads((cache_dir() / _FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return {}
    entries = document.get("entries")
    return entries if isinstance(entries, dict) else {}


def _where(path: Path) -> str:
    return os.path.abspath(path)


def _source(raw: bytes) -> str:
    digest = hashlib.sha256(raw)
    digest.update(_code_fingerprint())
    return digest.hexdigest()


def _code_fingerprint() -> bytes:
    """Name, size and change time of every file of the validating code."""
    roots = [*daemon.__path__, *connectors.__path__]
    for package in ("pydantic", "pydantic_core"):
        spec = find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            roots.extend(spec.submodule_search_locations)
    parts: list[str] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".so", ".pyd")):
                    with contextlib.suppress(OSError):
                        info = os.stat(os.path.join(folder, name))
                        parts.append(f"{folder}/{name}:{info.st_size}:{info.st_ctime_ns}")
    return "\n".join(parts).encode("utf-8", "surrogateescape")
