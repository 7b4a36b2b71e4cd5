"""`watcher run`: APScheduler jobs (poll, deliver, cadence) until the stop event is set, then a graceful stop.

The jobs only decide when; what a cycle does is composed in engine/pipeline.py. The signals that set the
stop event, and the exit codes, belong to the CLI (cli/signals.py): the daemon knows neither.

All jobs share one lock: cycles must not overlap (the Hub client factory is process-wide, and two
deliveries of one outbox row would post it twice). `deliver` only tries the lock, because a running
cycle delivers at its end anyway. Once stopping, no job starts any more; the running one gets
`schedule.shutdown_timeout` to finish. Its writes are one transaction, so if it must be abandoned the
database rolls it back: a cycle is either all there or not there at all.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from watcher import notify
from watcher.config import Config, Watch, format_duration
from watcher.daemon.leader import Leadership
from watcher.engine import pipeline
from watcher.engine.pipeline import Clock, utcnow
from watcher.store import locks
from watcher.store.db import safe_url, transaction
from watcher.store.problems import describe
from watcher.store.tables import DaemonRun, PollRun

log = logging.getLogger(__name__)
Listener = Callable[[str, object], None]


class Stopped(enum.Enum):
    """How `Daemon.run` ended."""

    CLEAN = "clean"  # every job finished; the scheduler's threads are gone
    ABANDONED = "abandoned"  # the running job outlived shutdown_timeout; its thread still runs (see cli/signals.py)


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
                 listeners: Sequence[Listener] = (), stop: threading.Event | None = None) -> None:
        self.config, self.engine, self.clock = config, engine, clock
        self.listeners = list(listeners)
        self.stop = stop if stop is not None else threading.Event()  # set by whoever owns the process (the CLI)
        self.work = threading.Lock()
        self.webhooks = _webhook_service(self) if config.webhooks is not None else None  # WebhookError: no secret
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

    def guarded(self, job: str, work: Callable[[], object], blocking: bool = True) -> None:
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

    def context(self) -> pipeline.Context:
        """What one job's cycle reads; the notifiers are built per job, as `notifiers` describes."""
        return pipeline.Context(self.config, self.engine, self.clock, notifiers(self.config))

    def poll(self, job: str, watches: Sequence[Watch]) -> None:
        # only the leader polls; standbys retry each tick
        self.guarded(job, self.leadership.guard(lambda: self.said(job, pipeline.poll_cycle(self.context(), watches))))

    def webhook_poll(self, woken: set[str]) -> pipeline.CycleResult | None:
        """The poll webhooks asked for; the caller (wake.py) holds the cycle lock and has checked leadership."""
        result = pipeline.webhook_cycle(self.context(), woken)
        return self.said("webhook", result) if result is not None else None

    def said(self, job: str, result: pipeline.CycleResult) -> pipeline.CycleResult:
        """Log a finished poll cycle, and note in it the jobs the database refused before it."""
        log.info("cycle %s done in %.1fs: %d watch(es), %d event(s), %d error(s), %d delivered, %d pending",
                 result.run_id, result.seconds, result.watches, len(result.events), len(result.errors),
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

        self.guarded("deliver", work, blocking=False)

    def cadence(self) -> None:
        self.guarded("cadence", self.leadership.guard(lambda: pipeline.cadence_cycle(self.context())))

    def run(self) -> Stopped:
        """Start the jobs and block until the stop event is set; then stop gracefully (see `shutdown`)."""
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
        self.stop.wait()
        return self.shutdown(daemon_id)

    def shutdown(self, daemon_id: int | None) -> Stopped:
        """No new job; the running one gets shutdown_timeout. ABANDONED leaves its thread running: the caller exits."""
        timeout = self.config.schedule.shutdown_timeout.total_seconds()
        self.scheduler.pause()  # no new job starts; a running one goes on
        if self.webhooks is not None:
            self.webhooks.close()  # no new webhook poll either
        if not self.work.acquire(timeout=timeout):
            log.error("the running job did not finish within %ss: exiting; its uncommitted writes are rolled back",
                      f"{timeout:g}")
            return Stopped.ABANDONED
        self.work.release()
        self.scheduler.shutdown(wait=True)
        self.leadership.release()
        self._record_stop(daemon_id)
        log.info("watcher daemon stopped")
        return Stopped.CLEAN

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


def _webhook_service(daemon: Daemon):
    """The receiver and its poll thread; their modules load only when the config has `webhooks:`."""
    from watcher.daemon import wake

    return wake.WebhookService(daemon)


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
