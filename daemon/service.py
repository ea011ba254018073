"""Running cycles: once (``run --once``, the demo) or in a loop (``run``).

Every cycle takes the state's write lock and reads the state file afresh, so changes made by
``coffeechat contact ...`` between cycles are seen. ``run`` also holds the run lock for its
whole life, so two services never share one state file.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

import schedule

from connectors.base import ConnectorEnv
from connectors.base import open_account as _default_opener
from daemon import health
from daemon.config import Settings, data_dir
from daemon.cycle import CycleReport, Opener, run_cycle
from daemon.errors import CoffeechatError
from daemon.locks import run_lock, write_lock
from daemon.render import Renderer
from daemon.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def cycle_once(settings: Settings, clock: Clock = utc_now,
               opener: Opener = _default_opener) -> CycleReport:
    """Run one cycle under the write lock and record its health.

    Raises ``StateError`` if the state cannot be read or written, ``TemplateError`` never
    (template problems are per draft, in the report).
    """
    env = ConnectorEnv(timezone=settings.timezone, clock=clock, data_dir=data_dir())
    renderer = Renderer(settings.templates_dir)
    with write_lock(settings.state_path):
        store = Store(settings.state_path, writable=True)
        report = run_cycle(settings, store, env, renderer, opener)
    try:
        health.save(settings.state_path, report)
    except OSError as exc:
        log.warning("could not record the cycle's health next to %s: %s",
                    settings.state_path, exc)
    return report


def run_once(settings: Settings, clock: Clock = utc_now,
             opener: Opener = _default_opener) -> CycleReport:
    """``coffeechat run --once``: one cycle, refusing to run beside a running service."""
    with run_lock(settings.state_path):
        return cycle_once(settings, clock, opener)


def serve(settings: Settings, clock: Clock = utc_now) -> int:
    """``coffeechat run``: a cycle now, then every ``poll_minutes``, until SIGTERM or SIGINT.

    A cycle that fails is logged and the loop goes on. Returns the exit status (0).
    """
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("received %s; stopping", signal.Signals(signum).name)

    def job() -> None:
        try:
            report = cycle_once(settings, clock)
        except CoffeechatError as exc:
            log.error("cycle failed: %s", exc)
            return
        except Exception:  # the loop must outlive any bug in one cycle
            log.exception("cycle failed unexpectedly; the next one will try again")
            return
        log.info("cycle done: %d draft(s) made; accounts: %s", len(report.drafted),
                 ", ".join(f"{a.name} {'ok' if a.ok else 'FAILED'}" for a in report.accounts))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with run_lock(settings.state_path):
        scheduler = schedule.Scheduler()
        scheduler.every(int(settings.poll_minutes * 60)).seconds.do(job)
        job()
        while not stopping:
            scheduler.run_pending()
            time.sleep(0.5)
    return 0
