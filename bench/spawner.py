"""A small process that starts the measured commands for the benchmark.

Why: on Linux a child's ``ru_maxrss`` starts from the resident size of the process that forked
it (the kernel carries the forked copy's high-water mark across ``exec``). Forked from the
benchmark itself, which holds 50,000-event calendars in its fake servers, every child would
report a few hundred MB. Forked from this process, which stays near 10 MB, a child reports its
own peak.

Protocol: one JSON object per line on stdin (``argv``, ``cwd``, ``env``, ``timeout``); for
each, one JSON line on stdout (``wall_s``, ``returncode``, ``max_rss_kb``, ``stdout``,
``stderr``). Wall time runs from just before the fork to the reaping of the child. Standard
library only; run as a script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, TextIO


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one command as asked and return its measurements."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(request["argv"], cwd=request["cwd"], env=request["env"],
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(float(request.get("timeout", 600)), child.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": wall, "returncode": child.returncode, "max_rss_kb": usage.ru_maxrss,
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")}


def serve(requests: TextIO, answers: TextIO) -> None:
    """Answer each request line until the input ends."""
    for line in requests:
        if not line.strip():
            continue
        try:
            answer = run(json.loads(line))
        except (OSError, ValueError, KeyError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
