"""Running cycles: once (``run --once``, the demo) or as a long-running service (``run``).

Every cycle takes the state's write lock and reads the state file afresh, so changes made by
``coffeechat contact ...`` between cycles are seen. ``run`` also holds the run lock for its
whole life, so two services never share one state file.

The service loop (:class:`Service`) runs a cycle at start, then every ``poll_minutes`` with a
little jitter, on a private ``schedule.Scheduler``. A cycle that raises is logged and the loop
goes on; an account that keeps failing is paced down (:mod:`daemon.cycle.pacing`) while the others
keep their pace. After a suspend, ``schedule`` collapses the missed runs into one catch-up
cycle. SIGTERM/SIGINT stop it within a few seconds (an in-flight cycle is given a short grace,
then abandoned exactly as a crash would be, which the executor is built to survive); SIGHUP
reloads the config, keeping the old one if the new one is broken.

Between cycles the loop sleeps until its next job: the next cycle, or the next watchdog ping
(every ``WATCHDOG_USEC/2``, when systemd asks for them), whichever comes first, on an event
that the signal handlers set, so a signal ends the wait at once. An idle day is a few hundred
wake-ups (one per cycle and one per ping), not one a second. While a cycle runs, a helper
thread keeps the pings going (a cycle may block on the network for a while), for at most
:data:`STALL_SECONDS`: a cycle stuck longer is left to the watchdog. The wait is measured on
the monotonic clock, which stands still during a suspend: the catch-up cycle after a resume
comes at the latest one poll interval later. Accounts stay open from cycle to cycle
(:mod:`daemon.cycle.kept`), so their connections are made once per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import schedule

from connectors.base import ConnectorEnv, Opener
from connectors.base import open_account as _default_opener
from daemon.app.notify import Notifier, watchdog_interval
from daemon.core.errors import CoffeechatError
from daemon.cycle import health
from daemon.cycle.kept import KeptAccounts
from daemon.cycle.pacing import Pacer
from daemon.cycle.run import CycleReport, run_cycle
from daemon.mail.templates import Renderer
from daemon.settings.config import Settings
from daemon.settings.paths import data_dir
from daemon.state.locks import run_lock, write_lock
from daemon.state.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

STOP_GRACE_SECONDS = 3.0
"""How long an in-flight cycle may go on after SIGTERM before it is abandoned."""
JITTER = 0.1
"""Each wait between cycles is ``poll_minutes`` plus or minus this fraction."""
BACKOFF_CAP_SECONDS = 3600.0
"""The longest a failing account waits between tries."""
STALL_SECONDS = 1800.0
"""No watchdog ping once a cycle has run for this long."""
MAX_WAIT_SECONDS = 3600.0
"""The longest the loop sleeps at once, whatever the schedule says."""
LATE_SECONDS = 0.005
"""The loop wakes this much after a job's time, so that the job is due when it looks."""

class Waker:
    """What ends the loop's wait: a pipe a signal handler writes a byte to. Writing is all a
    handler does (no lock is taken, so a signal arriving at any instant cannot deadlock the
    main thread, as setting a ``threading.Event`` from a handler can)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        """End the current (or next) wait."""
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            os.write(self._write, b"!")

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` or until :meth:`set`; returns True when woken by it."""
        ready, _, _ = select.select([self._read], [], [], max(0.0, seconds))
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 512):
                pass
        return True

    def close(self) -> None:
        """Close the pipe."""
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


Sleeper = Callable[[Waker, float], bool]
"""Waits on the waker for at most the seconds given; returns True when it was set."""


def pipe_wait(waker: Waker, seconds: float) -> bool:
    """The real sleeper: ``waker.wait(seconds)``."""
    return waker.wait(seconds)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def cycle_once(settings: Settings, clock: Clock = utc_now, opener: Opener = _default_opener,
               only: Collection[str] | None = None,
               next_cycle: datetime | None = None) -> CycleReport:
    """Run one cycle under the write lock and record its health (with ``next_cycle``, when
    the service plans the next one).

    Raises ``StateError`` if the state cannot be read or written; template and account
    problems are in the report.
    """
    env = ConnectorEnv(timezone=settings.timezone, clock=clock, data_dir=data_dir())
    renderer = Renderer(settings.templates_dir)
    started = clock()
    latest = health.load(settings.state_path).behind(started)
    if latest is not None:
        log.warning("the clock is behind: it says %s, but a cycle already ran at %s; no draft "
                    "earlier in a meeting's life than one already written is made, but set "
                    "the clock right (timedatectl)", started.isoformat(timespec="seconds"),
                    latest.isoformat(timespec="seconds"))
    try:
        with write_lock(settings.state_path):
            store = Store(settings.state_path, writable=True)
            report = run_cycle(settings, store, env, renderer, opener, only)
    except CoffeechatError as exc:
        _record(health.save_failure, settings.state_path, started, str(exc))
        raise
    _record(health.save, settings.state_path, report, next_cycle)
    return report


def _record(save: Callable[..., None], state_path: Path, *args: object) -> None:
    """Write the health file with ``save(state_path, *args)``, logging a failure (health is
    informative, never a reason to stop)."""
    try:
        save(state_path, *args)
    except OSError as exc:
        log.warning("could not record the cycle's health next to %s: %s", state_path, exc)


def run_once(settings: Settings, clock: Clock = utc_now,
             opener: Opener = _default_opener) -> CycleReport:
    """``coffeechat run --once``: one cycle, refusing to run beside a running service."""
    with run_lock(settings.state_path):
        return cycle_once(settings, clock, opener)


class _Abandon(BaseException):
    """Raised into an in-flight cycle when the stop grace has run out."""


class Service:
    """``coffeechat run``: cycles until SIGTERM or SIGINT."""

    def __init__(self, settings: Settings, reload: Callable[[], Settings],
                 clock: Clock = utc_now, opener: Opener = _default_opener,
                 notifier: Notifier | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleeper: Sleeper = pipe_wait,
                 watchdog: Callable[[], float | None] = watchdog_interval) -> None:
        """``reload`` reads the config again (for SIGHUP); it raises ``ConfigError``.

        ``opener`` opens an account; the service keeps what it opened (:mod:`daemon.cycle.kept`).
        ``monotonic`` and ``sleeper`` are how the loop tells time and waits, ``watchdog`` how
        it learns the ping interval (``None``: no watchdog); all injected by tests."""
        self.settings = settings
        self.reload = reload
        self.clock = clock
        self.accounts = KeptAccounts(opener)
        self.opener: Opener = self.accounts
        self.notifier = notifier or Notifier()
        self.monotonic = monotonic
        self.sleeper = sleeper
        self.ping_every = watchdog()
        self.pacer = Pacer(base=settings.poll_minutes * 60, cap=BACKOFF_CAP_SECONDS)
        self.scheduler = schedule.Scheduler()
        self.stopping = threading.Event()
        self.wake = Waker()
        """Set by the signal handlers: ends the loop's wait at once."""
        self.reload_wanted = False
        self.in_cycle = False
        self.next_ping = 0.0
        self.wakeups = 0
        """How many times the loop's wait ended (for tests and the benchmark)."""
        self.drafts_made = 0

    def run(self) -> int:
        """Serve until stopped; returns the exit status (0)."""
        with run_lock(self.settings.state_path), self._signals():
            self._schedule()
            self.notifier.ready(f"started; {len(self.settings.accounts)} account(s)")
            self._ping()
            self._cycle()
            while not self.stopping.is_set():
                if self.reload_wanted:
                    self._reload()
                self.scheduler.run_pending()
                if self.ping_every is not None and self.monotonic() >= self.next_ping:
                    self._ping()
                if self.stopping.is_set() or self.reload_wanted:
                    continue
                self.sleeper(self.wake, self.wait_seconds())
                self.wakeups += 1
            self.notifier.stopping()
        self.wake.close()
        log.info("stopped")
        return 0

    def wait_seconds(self) -> float:
        """How long the loop may sleep now: until the next cycle or the next watchdog ping,
        whichever comes first (at most :data:`MAX_WAIT_SECONDS`)."""
        until_cycle = self.scheduler.idle_seconds
        wait = MAX_WAIT_SECONDS if until_cycle is None else until_cycle + LATE_SECONDS
        if self.ping_every is not None:
            wait = min(wait, self.next_ping - self.monotonic())
        return max(0.0, min(MAX_WAIT_SECONDS, wait))

    def _ping(self) -> None:
        """Tell systemd's watchdog the service is alive; the next ping is due an interval
        later."""
        if self.ping_every is None:
            return
        self.notifier.watchdog()
        self.next_ping = self.monotonic() + self.ping_every

    def _schedule(self) -> None:
        self.scheduler.clear()
        seconds = self.settings.poll_minutes * 60
        low, high = max(1, round(seconds * (1 - JITTER))), max(1, round(seconds * (1 + JITTER)))
        self.scheduler.every(low).to(max(low, high)).seconds.do(self._cycle)

    def _cycle(self) -> None:
        """One paced cycle; never raises, so the scheduler keeps its rhythm."""
        names = [a.name for a in self.settings.accounts]
        due = self.pacer.due(names, time.monotonic())
        if not due:
            return
        self.in_cycle = True
        try:
            upcoming = self.clock() + timedelta(minutes=self.settings.poll_minutes)
            with self._pinging():
                report = cycle_once(self.settings, self.clock, self.opener, due, upcoming)
        except _Abandon:
            log.warning("stopping: the cycle in progress was abandoned; it resumes at the "
                        "next start without duplicates")
            return
        except CoffeechatError as exc:
            log.error("cycle failed: %s", exc)
            self.notifier.status(f"last cycle failed: {exc}")
            return
        except Exception:  # the service must outlive any bug in one cycle
            log.exception("cycle failed unexpectedly; the next one will try again")
            return
        finally:
            self.in_cycle = False
        self._account_pacing(report)
        self.drafts_made += len(report.drafted)
        failing = self.pacer.failing()
        status = (f"last cycle {report.started.astimezone(self.settings.timezone):%H:%M}: "
                  f"{len(report.drafted)} drafted ({self.drafts_made} since start); "
                  + (f"failing: {', '.join(failing)}" if failing else "all accounts ok"))
        self.notifier.status(status)
        log.debug("%s", status)

    def _account_pacing(self, report: CycleReport) -> None:
        now = time.monotonic()
        for outcome in report.accounts:
            if outcome.ok:
                self.pacer.succeeded(outcome.name)
                continue
            wait = self.pacer.failed(outcome.name, outcome.message, outcome.needs_auth, now)
            if outcome.needs_auth:
                log.error("account %s needs you to sign in again (%s); trying again in %d "
                          "minutes", outcome.name, outcome.message, wait // 60)
            else:
                log.warning("account %s failed; next try in %d s", outcome.name, wait)

    def _reload(self) -> None:
        self.reload_wanted = False
        try:
            fresh = self.reload()
        except CoffeechatError as exc:
            log.error("SIGHUP: the new config is not usable, keeping the old one: %s", exc)
            return
        if fresh.state_path != self.settings.state_path:
            log.error("SIGHUP: [state] path changed; restart the service to use the new "
                      "state file (keeping the old config)")
            return
        self.settings = fresh
        self.accounts.keep_only({a.name for a in fresh.accounts})
        self.pacer = Pacer(base=fresh.poll_minutes * 60, cap=BACKOFF_CAP_SECONDS)
        self._schedule()
        log.info("SIGHUP: config reloaded from %s", fresh.path)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            self.stopping.set()
            self.wake.set()
            if self.in_cycle:
                signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_SECONDS)

        def abandon(_signum: int, _frame: FrameType | None) -> None:
            if self.in_cycle:
                raise _Abandon

        def hang_up(_signum: int, _frame: FrameType | None) -> None:
            self.reload_wanted = True
            self.wake.set()

        handlers = {signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGALRM: abandon,
                    signal.SIGHUP: hang_up}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def _pinging(self) -> Iterator[None]:
        """While a cycle runs, ping systemd's watchdog from a thread on the usual interval
        (a cycle may block on the network for a while), but not once the cycle has run for
        :data:`STALL_SECONDS`: a stuck cycle must not be hidden."""
        every = self.ping_every
        if every is None:
            yield
            return
        over = threading.Event()
        started = self.monotonic()

        def ping() -> None:
            while not over.wait(max(0.0, self.next_ping - self.monotonic())):
                if self.monotonic() - started >= STALL_SECONDS:
                    return
                self._ping()

        thread = threading.Thread(target=ping, name="watchdog", daemon=True)
        thread.start()
        try:
            yield
        finally:
            over.set()
            thread.join(timeout=every + 1)
