"""The files of a local calendar: listing them, and reading one without letting it stall or
bloat a sync.

Only regular files are read. A FIFO, device, other special file or folder named ``*.ics``,
a link that leads nowhere or in a loop, and a link out of the calendar folder (to
``/dev/zero``, say, or to another user's files) are listed with the reason they are not
read, and never opened. A file is read with ``O_NONBLOCK`` and ``O_NOFOLLOW`` and checked
again once open, so that one swapped for a FIFO or a link after the listing cannot stall the
read either, and no more than a given number of bytes is read from it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

Reader = Callable[[Path, int], bytes]
"""Reads at most the given number of bytes of one calendar file (raising ``OSError``);
injected so tests can see which files are opened."""

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


def read_file(path: Path, most: int) -> bytes:
    """Return the first ``most`` bytes of the regular file ``path`` (all of it when shorter):
    the default :data:`Reader`.

    Raises ``OSError``: when the file cannot be opened or read, when it is a symbolic link
    (``ELOOP``), and when it is not a regular file (``EINVAL``).
    """
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file", str(path))
        chunks: list[bytes] = []
        got = 0
        while got < most:
            # the size it had, and one byte more to see it grew; then by 1 MiB at a time
            chunk = file.read(min(most - got, max(info.st_size + 1 - got, 1 << 20)))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


class Listed(NamedTuple):
    """A calendar file as listed: its folder and name (the path is only made when the file is
    read: listing 50,000 files must not build 50,000 paths), size and time. ``link`` is the
    real path of the file a link in the folder leads to, and ``problem`` says, in words for
    the user, why the entry is not read at all (then ``mtime_ns`` and ``size`` are the
    entry's own)."""

    folder: Path
    name: str
    mtime_ns: int
    size: int
    link: str = ""
    problem: str = ""

    @property
    def path(self) -> Path:
        """The file's path in the calendar, as the user sees it (for messages)."""
        return self.folder / self.name

    @property
    def target(self) -> Path:
        """The path to read: the file's, or for a link the real path it leads to."""
        return Path(self.link) if self.link else self.path


def list_calendar(path: Path, top: os.stat_result) -> dict[str, Listed]:
    """Return the calendar's .ics files by name (``top`` is the calendar path's ``stat``): the
    visible ``*.ics`` entries of a folder, or the one file ``path`` names.

    Raises ``OSError`` when the folder cannot be listed.
    """
    if not stat.S_ISDIR(top.st_mode):
        link = os.path.realpath(path) if os.path.islink(path) else ""
        return {path.name: Listed(path.parent, path.name, top.st_mtime_ns, top.st_size, link,
                                  _not_regular(top.st_mode))}
    found: dict[str, Listed] = {}
    inside: str | None = None
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.lower().endswith(".ics"):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found[entry.name] = Listed(path, entry.name, info.st_mtime_ns,
                                               info.st_size)
                    continue
                if inside is None:
                    inside = os.path.realpath(path)
                found[entry.name] = _odd_entry(path, entry, inside)
            except OSError:
                continue  # removed while we listed: the next sync will see it gone
    return found


def _odd_entry(folder: Path, entry: os.DirEntry[str], inside: str) -> Listed:
    """List an entry that is not a regular file: a link is followed only to a regular file
    inside the calendar folder (``inside``, its real path); raises ``OSError`` when the entry
    is gone."""
    own = entry.stat(follow_symlinks=False)

    def refused(problem: str) -> Listed:
        return Listed(folder, entry.name, own.st_mtime_ns, own.st_size, problem=problem)

    if not stat.S_ISLNK(own.st_mode):
        return refused(_not_regular(own.st_mode))
    target = os.readlink(entry.path)
    try:
        real = os.path.realpath(entry.path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return refused("it is a link that leads back to itself (a loop); remove the "
                           "link")
        return refused(f"it is a link to {target}, which does not exist; remove the link, "
                       "or put the file it names back")
    if os.path.commonpath([inside, real]) != inside or real == inside:
        return refused(f"it is a link to {real}, outside the calendar folder, and links out "
                       "of the folder are not followed; copy the file into the folder "
                       "instead")
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        return refused(_not_regular(info.st_mode, f"it is a link to {real}, "))
    return Listed(folder, entry.name, info.st_mtime_ns, info.st_size, link=real)


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def _not_regular(mode: int, prefix: str = "it is ") -> str:
    """Why an entry of this mode is not read: ``""`` for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return (f"{prefix}{kind}, not a regular file, so it is not read; move it out of the "
            "calendar folder, or rename it so that its name does not end in .ics")


__all__ = ["Listed", "Reader", "list_calendar", "read_file"]
