"""`watcher run`: APScheduler jobs (poll, deliver, cadence) until SIGTERM/SIGINT/SIGHUP, then a graceful stop.

All jobs share one lock: cycles must not overlap (the Hub client factory is process-wide, and two
deliveries of one outbox row would post it twice). `deliver` only tries the lock, because a running
cycle delivers at its end anyway. On a signal no job starts any more; the running one gets
`schedule.shutdown_timeout` to finish. Its writes are one transaction, so if it must be abandoned the
database rolls it back: a cycle is either all there or not there at all.

One stop is one stop: supervisors and `timeout` often signal the whole process group, so the same
request arrives two or three times within a millisecond. A repeat within `REPEAT_GRACE` seconds of
the first is that same request; only a signal after it forces the exit.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from watcher import notify, observed, pipeline
from watcher.notify import outbox
from watcher.config import Config, Watch, format_duration
from watcher.leader import Leadership
from watcher.pipeline import Clock, utcnow
from watcher.store import locks, queries
from watcher.store.db import safe_url, transaction
from watcher.store.problems import describe
from watcher.store.tables import DaemonRun, PollRun

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: the terminal went away; stop cleanly
REPEAT_GRACE = 2.0  # seconds: a repeat signal this soon after the first is the same stop request
WAKE = 0.1  # seconds: how often the main thread looks at noted signals
Listener = Callable[[str, object], None]


def poll_groups(config: Config) -> dict[str, list[Watch]]:
    """Job id -> watches: `poll` for the global interval, `poll:<watch>` for a watch with its own."""
    groups: dict[str, list[Watch]] = {}
    for watch in config.watches:
        key = f"poll:{watch.name}" if watch.poll_interval else "poll"
        groups.setdefault(key, []).append(watch)
    return groups


def _trigger(every: dt.timedelta, jitter: dt.timedelta | None = None) -> IntervalTrigger:
    seconds = every.total_seconds()
    spread = int(jitter.total_seconds()) if jitter else None
    return IntervalTrigger(seconds=seconds, jitter=spread or None, timezone="UTC")


def _grace(every: dt.timedelta) -> int:
    """A job that missed its time (host asleep, long cycle) still runs if it is late by under half an interval."""
    return max(1, int(every.total_seconds() // 2))


class Daemon:
    """The scheduler, its jobs and the shutdown protocol; `listeners` get every job's result (metrics)."""

    def __init__(self, config: Config, engine: Engine, clock: Clock = utcnow,
                 listeners: Sequence[Listener] = ()) -> None:
        self.config, self.engine, self.clock = config, engine, clock
        self.listeners = list(listeners)
        self.stop = threading.Event()
        self.stop_requested_at: float | None = None  # monotonic time of the first stop signal
        self.signals: list[tuple[int, float]] = []  # noted by the handler, acted on by the main thread
        self.work = threading.Lock()
        self.webhooks = WebhookService(self) if config.webhooks is not None else None  # WebhookError: no secret, port
        try:
            self.leadership = Leadership(engine).start()  # LeaderError: another daemon owns this SQLite file
        except Exception:
            if self.webhooks is not None:
                self.webhooks.server.close()
            raise
        self.scheduler = self.build_scheduler()
        self.store_failures: list[tuple[dt.datetime, str]] = []  # jobs the database refused, not yet reported
        self.store_file = locks.file_identity(engine)  # SQLite: the file this daemon writes, to notice it vanish

    def build_scheduler(self) -> BackgroundScheduler:
        schedule = self.config.schedule
        scheduler = BackgroundScheduler(timezone="UTC")
        once = {"max_instances": 1, "coalesce": True}
        first = dt.datetime.now(dt.timezone.utc) if schedule.run_at_start else None
        for job_id, watches in poll_groups(self.config).items():
            every = watches[0].poll_interval or schedule.poll_interval
            options = {"next_run_time": first} if first else {}
            scheduler.add_job(self.poll, _trigger(every, schedule.jitter_for(every)), args=(job_id, watches),
                              id=job_id, name=job_id, misfire_grace_time=_grace(every), **once, **options)
        scheduler.add_job(self.deliver, _trigger(schedule.deliver_interval), id="deliver", name="deliver",
                          misfire_grace_time=_grace(schedule.deliver_interval), **once)
        scheduler.add_job(self.cadence, _trigger(schedule.cadence_interval), id="cadence", name="cadence",
                          misfire_grace_time=_grace(schedule.cadence_interval), **once)
        return scheduler

    def _guarded(self, job: str, work: Callable[[], object], blocking: bool = True) -> None:
        """Run one job's work under the lock, unless we are stopping; a failure never kills the schedule."""
        if self.stop.is_set() or not self.work.acquire(blocking=blocking):
            return
        try:
            if self.stop.is_set():
                return
            if gone := locks.store_gone(self.store_file):
                log.error("job %s: %s; nothing is stored until the daemon is restarted", job, gone, extra={"job": job})
                return
            outcome = work()
            for listener in self.listeners:
                listener(job, outcome)
        except SQLAlchemyError as exc:  # locked, full or read-only: one line; the next job tries again
            self.store_failures.append((self.clock(), describe(exc)))
            log.error("job %s: database %s: nothing stored, retried next time: %s", job, safe_url(self.config.database),
                      self.store_failures[-1][1], extra={"job": job})
        except Exception:  # a daemon must outlive one bad job
            log.exception("job %s failed", job, extra={"job": job})
        finally:
            self.work.release()

    def poll(self, job: str, watches: Sequence[Watch]) -> None:
        # only the leader polls; standbys retry each tick
        self._guarded(job, self.leadership.guard(lambda: self.cycle(job, watches)))

    def cycle(self, job: str, watches: Sequence[Watch]) -> pipeline.CycleResult:
        """One poll of `watches`; the caller holds the cycle lock and has checked leadership (poll, webhook)."""
        result = pipeline.run_cycle(self.config, self.engine, self.clock, notifiers=notifiers(self.config),
                                    watches=watches)
        log.info("cycle %s done in %.1fs: %d watch(es), %d event(s), %d error(s), %d delivered, %d pending",
                 result.run_id, result.seconds, len(watches), len(result.events), len(result.errors),
                 result.delivered, result.pending, extra={"job": job, "run_id": result.run_id})
        for event in result.events:
            log.info("watch=%s event %s", event.watch, event.kind.value,
                     extra={"watch": event.watch, "repo": event.repo_id, "source": event.source, "job": job})
        self._note_store_failures(result.run_id)
        return result

    def _note_store_failures(self, run_id: int) -> None:
        """Once the database takes writes again, the run that worked names the jobs that could not be
        stored, so `watcher status` shows what happened (the log said it at the time)."""
        if not self.store_failures:
            return
        (first, _), (_, last) = self.store_failures[0], self.store_failures[-1]
        note = (f"database: {len(self.store_failures)} job(s) not stored since {first:%Y-%m-%d %H:%M:%S} UTC: "
                f"{last}; nothing was lost: this cycle stored what they missed")
        with transaction(self.engine) as session:
            run = session.get(PollRun, run_id)
            if run is not None:
                run.errors = [note, *(run.errors or [])]
        self.store_failures.clear()

    def deliver(self) -> None:
        def work():
            result = pipeline.deliver(self.config, self.engine, notifiers(self.config), self.clock)
            if result.delivered or result.delivery_errors:
                log.info("delivered %d alert(s), %d pending", result.delivered, result.pending, extra={"job": "deliver"})
            return result

        self._guarded("deliver", work, blocking=False)

    def cadence(self) -> None:
        self._guarded("cadence", self.leadership.guard(lambda: cadence_check(self.config, self.engine, self.clock)))

    def run(self) -> int:
        """Start the jobs and block until a signal (or `stop`); 0 after a graceful stop."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._on_signal)
        daemon_id = self._record_start()
        groups = poll_groups(self.config)
        schedule = self.config.schedule
        jitter = schedule.jitter if isinstance(schedule.jitter, str) else format_duration(schedule.jitter)
        log.info("watcher daemon started: %d watch(es) in %d poll job(s), poll every %s (jitter %s), deliver every %s",
                 len(self.config.watches), len(groups), format_duration(schedule.poll_interval), jitter,
                 format_duration(schedule.deliver_interval))
        self.scheduler.start()
        if self.webhooks is not None:
            self.webhooks.start()
        while not self.stop.is_set():
            self.stop.wait(WAKE)
            self._take_signals()
        return self.shutdown(daemon_id)

    def shutdown(self, daemon_id: int | None) -> int:
        timeout = self.config.schedule.shutdown_timeout.total_seconds()
        self.scheduler.pause()  # no new job starts; a running one goes on
        if self.webhooks is not None:
            self.webhooks.close()  # no new webhook poll either
        deadline = time.monotonic() + timeout
        while not self.work.acquire(timeout=max(0.0, min(WAKE, deadline - time.monotonic()))):
            self._take_signals()  # a later signal may force the exit while we wait
            if time.monotonic() >= deadline:
                log.error("the running job did not finish within %ss: exiting; its uncommitted writes are rolled back",
                          f"{timeout:g}")
                _exit(0)
        self.work.release()
        self.scheduler.shutdown(wait=True)
        self.leadership.release()
        self._record_stop(daemon_id)
        log.info("watcher daemon stopped")
        return 0

    def _on_signal(self, signum, _frame) -> None:
        """Only note it: logging or setting an Event inside a handler can deadlock on a lock the main thread holds."""
        self.signals.append((signum, time.monotonic()))

    def _take_signals(self) -> None:
        """Act on noted signals in the main thread: the first starts the stop; a repeat after the grace forces it."""
        while self.signals:
            signum, at = self.signals.pop(0)
            name = signal.Signals(signum).name
            if self.stop_requested_at is None:
                self.stop_requested_at = at
                log.info("received %s: no new jobs; the running job gets up to %s to finish (a signal %gs or more "
                         "later exits at once)", name, format_duration(self.config.schedule.shutdown_timeout), REPEAT_GRACE)
                self.stop.set()
            elif at - self.stop_requested_at < REPEAT_GRACE:
                log.debug("received %s again within %gs: the same stop request", name, REPEAT_GRACE)
            else:
                log.warning("received %s again: exiting now", name)
                _exit(128 + signum)

    def _record_start(self) -> int | None:
        try:
            with transaction(self.engine) as session:
                row = DaemonRun(started_at=self.clock(), host=socket.gethostname()[:200], pid=os.getpid())
                session.add(row)
                session.flush()
                return row.id
        except Exception:  # bookkeeping for the health check must not stop the daemon
            log.exception("could not record the daemon start")
            return None

    def _record_stop(self, daemon_id: int | None) -> None:
        if daemon_id is None:
            return
        try:
            with transaction(self.engine) as session:
                row = session.get(DaemonRun, daemon_id)
                if row is not None:
                    row.stopped_at = self.clock()
        except Exception:
            log.exception("could not record the daemon stop")


class WebhookService:
    """The receiver (HTTP thread) and the thread that turns its queue into polls (`webhooks:` in the config)."""

    def __init__(self, daemon: Daemon) -> None:
        from watcher import wake, webhooks

        self.inbox = webhooks.Inbox()
        app = webhooks.Receiver(daemon.config, webhooks.secret_from_env(), self.inbox, daemon.clock)
        self.server = webhooks.Server(daemon.config.webhooks, app)
        self.polls = wake.WebhookPolls(daemon, self.inbox)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.polls.start()
        self.server.start()

    def close(self) -> None:
        self.server.close()
        self.polls.close()


def cadence_check(config: Config, engine: Engine, clock: Clock = utcnow) -> pipeline.CycleResult:
    """Re-evaluate every watch's window against stored snapshots (no API calls), then deliver.

    A watch whose sources are all failing still gets its window/overdue alerts and reminders on the right day.
    """
    result = pipeline.CycleResult(0, 0.0)
    built = notifiers(config)
    now = clock()
    with transaction(engine) as session:
        events = []
        for watch in observed.attach(config, session).watches:
            if not queries.baselined_scopes(session, watch.name):
                continue  # never polled: the first cycle decides, with its baseline
            snapshots = queries.previous_snapshots(session, watch.name)
            events.extend(pipeline.cadence_alerts(session, watch, snapshots, now, []))  # opened/overdue/reminders
        result.events = outbox.record(session, events, None, built, now)
    for event in result.events:
        log.info("watch=%s event %s (cadence check)", event.watch, event.kind.value, extra={"job": "cadence"})
    return pipeline.deliver(config, engine, built, clock, result)


def notifiers(config: Config) -> list:
    """notify.build, except that console alerts become log lines: stdout stays one event per line."""
    built = notify.build(config)
    for notifier in built:
        if notifier.destination == "console" and hasattr(notifier, "stream"):
            notifier.stream = AlertLog()
    return built


class AlertLog:
    """A text stream for the console notifier that logs each alert as one INFO line."""

    def write(self, text: str) -> int:
        text = text.strip()
        if text:
            watch = text[1:text.index("]")] if text.startswith("[") and "]" in text else None
            logging.getLogger("watcher.alert").info("alert: %s", text, extra={"watch": watch})
        return len(text)

    def flush(self) -> None:
        pass


def _exit(code: int) -> None:
    """Leave now, without waiting for worker threads; flush the log first so the reason is visible."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    os._exit(code)


def run(config: Config, engine: Engine, clock: Clock = utcnow, listeners: Sequence[Listener] = ()) -> int:
    return Daemon(config, engine, clock, listeners).run()
