"""`watcher run`: the same cycle as `watcher poll`, on an APScheduler interval, until SIGTERM/SIGINT."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from watcher.config import Config
from watcher.leader import Leadership
from watcher.pipeline import Clock, run_cycle, utcnow

log = logging.getLogger(__name__)


def cycle_job(config: Config, engine: Engine, clock: Clock) -> None:
    """One scheduled cycle; an exception is logged and the schedule goes on."""
    try:
        result = run_cycle(config, engine, clock)
    except Exception:  # noqa: BLE001 - a daemon must outlive one bad cycle
        log.exception("cycle failed")
        return
    log.info(
        "cycle %s done in %.1fs: %d event(s), %d error(s), %d delivered, %d pending",
        result.run_id, result.seconds, len(result.events), len(result.errors), result.delivered, result.pending,
    )


def run(config: Config, engine: Engine, clock: Clock = utcnow, stop: threading.Event | None = None) -> int:
    """Run until a signal arrives (or `stop` is set); the running cycle finishes before we exit."""
    stop = stop or threading.Event()
    leadership = Leadership(engine).start()  # LeaderError: another daemon owns this SQLite file
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        leadership.guard(cycle_job),  # only the leader polls; standbys retry every interval
        IntervalTrigger(seconds=config.schedule.poll_interval.total_seconds(), timezone="UTC"),
        args=(config, engine, clock),
        id="poll",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(config.schedule.poll_interval.total_seconds() // 2)),
        next_run_time=dt.datetime.now(dt.timezone.utc),  # first cycle at once, on the real clock
    )

    def on_signal(signum, _frame) -> None:
        log.info("received %s: finishing the running cycle, then exiting", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    log.info("watcher daemon started: %d watch(es), polling every %s",
             len(config.watches), config.schedule.poll_interval)
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        leadership.release()
        log.info("watcher daemon stopped")
    return 0
