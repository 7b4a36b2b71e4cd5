"""The daemon: its jobs and triggers (inspected, not waited for), cadence checks, and graceful shutdown."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import time

import pytest
from daemon_proc import Daemon, count, finished_runs, wait_for
from helpers import base_config

from watcher import config as config_mod
from watcher.cli import signals as stop_signals
from watcher.daemon import scheduler as daemon_mod
from watcher.engine import pipeline
from watcher.store.db import transaction
from watcher.store.schema import open_current
from watcher.store.tables import Delivery, EventRow

UTC = dt.timezone.utc


def make_config(tmp_path, **schedule) -> config_mod.Config:
    raw = base_config("http://127.0.0.1:9", "http://127.0.0.1:9", tmp_path / "w.db")
    raw["schedule"].update(schedule)
    return config_mod.Config.model_validate(raw)


def test_jobs_intervals_jitter_and_limits(tmp_path):
    cfg = make_config(tmp_path, poll_interval="15m", deliver_interval="45s")
    second = cfg.watches[0].model_copy(update={"name": "other", "poll_interval": dt.timedelta(hours=1)})
    cfg = cfg.model_copy(update={"watches": [cfg.watches[0], second]})
    daemon = daemon_mod.Daemon(cfg, open_current("sqlite://"))
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
    assert set(jobs) == {"poll", "poll:other", "deliver", "cadence"}
    assert jobs["poll"].trigger.interval == dt.timedelta(minutes=15) and jobs["poll"].trigger.jitter == 90
    assert jobs["poll:other"].trigger.interval == dt.timedelta(hours=1) and jobs["poll:other"].trigger.jitter == 360
    assert [w.name for w in jobs["poll"].args[1]] == ["qwen3.7"]
    assert [w.name for w in jobs["poll:other"].args[1]] == ["other"]
    assert jobs["deliver"].trigger.interval == dt.timedelta(seconds=45) and jobs["deliver"].trigger.jitter is None
    assert jobs["cadence"].trigger.interval == dt.timedelta(hours=1)
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True
    assert jobs["poll"].misfire_grace_time == 450 and jobs["deliver"].misfire_grace_time == 22


def test_first_cycle_at_start_unless_disabled(tmp_path):
    before = dt.datetime.now(UTC)
    daemon = daemon_mod.Daemon(make_config(tmp_path), open_current("sqlite://"))
    daemon.scheduler.start(paused=True)
    try:
        poll = daemon.scheduler.get_job("poll")
        assert before <= poll.next_run_time <= dt.datetime.now(UTC) + dt.timedelta(seconds=1)
        assert daemon.scheduler.get_job("deliver").next_run_time >= before + dt.timedelta(seconds=29)
    finally:
        daemon.scheduler.shutdown(wait=False)
    lazy = daemon_mod.Daemon(make_config(tmp_path, run_at_start=False, jitter=0), open_current("sqlite://"))
    lazy.scheduler.start(paused=True)
    try:
        assert lazy.scheduler.get_job("poll").next_run_time >= before + dt.timedelta(minutes=15)
    finally:
        lazy.scheduler.shutdown(wait=False)


def test_jitter_spreads_fire_times_within_bounds(tmp_path):
    cfg = make_config(tmp_path, poll_interval="10m", jitter="20%")
    trigger = daemon_mod.Daemon(cfg, open_current("sqlite://")).scheduler.get_job("poll").trigger
    now = dt.datetime(2026, 7, 12, 12, 0, tzinfo=UTC)
    start = trigger.start_date
    fires = {trigger.get_next_fire_time(start, now) - start for _ in range(50)}
    assert all(dt.timedelta(minutes=10) <= f <= dt.timedelta(minutes=12) for f in fires)
    assert len(fires) > 10  # really random, not a fixed offset


@pytest.mark.parametrize("value, seconds", [("10%", 90), (0, 0), ("45s", 45), ("100%", 900)])
def test_jitter_config(tmp_path, value, seconds):
    cfg = make_config(tmp_path, poll_interval="15m", jitter=value)
    assert cfg.schedule.jitter_for(cfg.schedule.poll_interval).total_seconds() == seconds


def test_bad_schedule_values_are_one_line_errors(tmp_path):
    with pytest.raises(config_mod.ConfigError, match=r"schedule.jitter: '150%' must be between 0% and 100%"):
        config_mod.parse("schedule: {jitter: 150%}\nwatches: []", "c.yaml")
    with pytest.raises(config_mod.ConfigError, match=r"schedule.alert_after_failures"):
        config_mod.parse("schedule: {alert_after_failures: 0}\nwatches: []", "c.yaml")
    with pytest.raises(config_mod.ConfigError, match=r"schedule.shutdown_tmeout: unknown key"):
        config_mod.parse("schedule: {shutdown_tmeout: 5s}\nwatches: []", "c.yaml")


def test_cadence_check_alerts_overdue_without_polling(watcher, hub, github):
    assert watcher("poll", env={"WATCHER_NOW": "2026-07-12T12:00:00Z"}).exit_code == 0
    cfg = config_mod.load(str(watcher.path))
    engine = open_current(cfg.database)
    seen = len(hub.requests) + len(github.requests)
    late = dt.datetime(2026, 7, 25, 12, tzinfo=UTC)
    result = pipeline.cadence_check(cfg, engine, lambda: late)
    assert [e.kind.value for e in result.events] == ["overdue"] and result.delivered == 1
    assert pipeline.cadence_check(cfg, engine, lambda: late).events == []  # once
    assert len(hub.requests) + len(github.requests) == seen  # no API call
    with transaction(engine) as session:
        kinds = [r.kind for r in session.query(EventRow).order_by(EventRow.id)]
        statuses = {d.status for d in session.query(Delivery)}
    assert kinds == ["watch_started", "overdue"] and statuses == {"delivered"}


def test_cadence_check_leaves_unpolled_watch_alone(tmp_path):
    cfg = make_config(tmp_path)
    engine = open_current(cfg.database)
    result = pipeline.cadence_check(cfg, engine, lambda: dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert result.events == []


def test_deliver_job_skips_while_a_cycle_holds_the_lock(tmp_path):
    cfg = make_config(tmp_path)
    daemon = daemon_mod.Daemon(cfg, open_current(cfg.database))
    seen = []
    daemon.listeners.append(lambda job, outcome: seen.append(job))
    with daemon.work:
        daemon.deliver()  # a cycle is running: delivery waits for the cycle's own
    assert seen == []
    daemon.deliver()
    assert seen == ["deliver"]
    daemon.stop.set()
    daemon.cadence()  # stopping: no new work
    assert seen == ["deliver"]


def _daemon(watcher, tmp_path, *args, **schedule):
    watcher.config["schedule"].update(schedule)
    watcher.save()
    return Daemon(["--config", str(watcher.path), "run", *args], tmp_path, {"WATCHER_NOW": "2026-07-12T12:00:00Z"})


@pytest.mark.slow
def test_sigterm_mid_cycle_lets_it_finish_and_exits_0(watcher, hub, tmp_path):
    hub.latency = 0.4  # the cycle's Hub calls take a while: the signal lands inside it
    with _daemon(watcher, tmp_path, "--log-format", "json", poll_interval="1h") as proc:
        wait_for(lambda: hub.requests)
        proc.signal(signal.SIGTERM)
        started = time.monotonic()
        code, out = proc.finish()
    assert code == 0, out
    assert time.monotonic() - started < 15
    assert finished_runs(tmp_path / "watcher.db") == 1  # the running cycle was completed and committed
    lines = [json.loads(line) for line in out.splitlines()]  # every line is one JSON object
    messages = [line["msg"] for line in lines]
    assert any(m.startswith("received SIGTERM") for m in messages)
    assert messages[-1] == "watcher daemon stopped"
    assert messages.index(next(m for m in messages if m.startswith("received SIGTERM"))) < \
        messages.index(next(m for m in messages if m.startswith("cycle ")))
    assert any(line.get("watch") == "qwen3.7" for line in lines)


@pytest.mark.slow
def test_cycle_longer_than_shutdown_timeout_is_abandoned_whole(watcher, hub, tmp_path):
    hub.latency = 30
    with _daemon(watcher, tmp_path, shutdown_timeout="1s", poll_interval="1h") as proc:
        wait_for(lambda: hub.requests)
        proc.signal(signal.SIGTERM)
        started = time.monotonic()
        code, out = proc.finish()
    assert code == 0, out
    assert time.monotonic() - started < 20  # did not wait for the slow cycle (30 s), even on a loaded machine
    assert "did not finish within 1s" in out
    db = tmp_path / "watcher.db"
    assert count(db, "poll_runs") == 0 and count(db, "repos") == 0 and count(db, "events") == 0


@pytest.mark.slow
def test_repeated_stop_signals_are_one_graceful_stop(watcher, hub, tmp_path):
    """`timeout`, systemd and Docker may signal the whole process group: the same stop arrives two or three times."""
    hub.latency = 0.4
    with _daemon(watcher, tmp_path, poll_interval="1h") as proc:
        wait_for(lambda: hub.requests)
        for signum in (signal.SIGTERM, signal.SIGTERM, signal.SIGHUP):
            proc.signal(signum)
        code, out = proc.finish()
    assert code == 0, out
    assert "exiting now" not in out and out.count("received SIG") == 1, out  # one stop, logged once
    assert "watcher daemon stopped" in out
    db = tmp_path / "watcher.db"
    assert finished_runs(db) == 1
    with sqlite3.connect(db) as conn:  # so `status` has no unclean stop to warn about
        assert conn.execute("select count(*) from daemon_runs where stopped_at is null").fetchone() == (0,)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_sighup_and_sigint_stop_gracefully_too(watcher, hub, tmp_path, signum):
    with _daemon(watcher, tmp_path, poll_interval="1h") as proc:
        wait_for(lambda: finished_runs(tmp_path / "watcher.db") >= 1)
        proc.signal(signum)
        code, out = proc.finish()
    assert code == 0, out
    assert f"received {signal.Signals(signum).name}: no new jobs" in out and "watcher daemon stopped" in out


@pytest.mark.slow
def test_second_signal_after_the_grace_exits_at_once(watcher, hub, tmp_path):
    hub.latency = 30  # the running cycle would hold a graceful exit for ~30 s
    with _daemon(watcher, tmp_path, shutdown_timeout="60s", poll_interval="1h") as proc:
        wait_for(lambda: hub.requests)
        proc.signal(signal.SIGTERM)
        first = time.monotonic()
        # An impatient operator: Ctrl-C every 0.2 s until it goes. Repeats inside the grace are ignored.
        wait_for(lambda: proc.proc.poll() is not None or proc.signal(signal.SIGINT), timeout=25, step=0.2)
        elapsed = time.monotonic() - first
        code, out = proc.finish()
    assert code == 128 + signal.SIGINT, out
    assert elapsed >= stop_signals.REPEAT_GRACE  # the repeats within the grace did not force it
    assert "received SIGINT again: exiting now" in out
    assert out.count(": no new jobs;") == 1  # one stop request; Python may run pending handlers in any order


def test_database_deleted_under_the_daemon_is_noticed_and_said(tmp_path, caplog):
    cfg = make_config(tmp_path)
    daemon = daemon_mod.Daemon(cfg, open_current(cfg.database))
    seen = []
    daemon.listeners.append(lambda job, outcome: seen.append(job))
    daemon.deliver()
    assert seen == ["deliver"]
    (tmp_path / "w.db").unlink()
    with caplog.at_level("ERROR", logger="watcher.daemon.scheduler"):
        daemon.deliver()
    assert seen == ["deliver"]  # nothing written into the unlinked file
    assert f"database file {tmp_path / 'w.db'} was deleted while the daemon runs" in caplog.text
