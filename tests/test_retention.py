"""retention: old poll records and delivered alerts go; events (dedup, cadence history) stay."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sqlite3

import pytest
import yaml
from helpers import base_config

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.store.schema import open_current

T0 = dt.datetime(2026, 7, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(hub, github, tmp_path):
    """The shipped watch; run(at) runs one cycle with the clock at `at`."""
    hub.add_model("Qwen/Qwen3.7-8B", {"README.md": 10})
    github.add_org("QwenLM")
    cfg = base_config(hub.url, github.url, tmp_path / "w.db")
    cfg["retention"] = {"poll_runs": "7d", "delivered_alerts": "14d"}
    config = config_mod.parse(yaml.safe_dump(cfg), "test")
    engine = open_current(config.database)

    def run(at: dt.datetime):
        with contextlib.redirect_stdout(io.StringIO()):
            return run_cycle(config, engine, clock=lambda: at)

    run.db = tmp_path / "w.db"
    return run


def count(db, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_old_quiet_poll_runs_and_delivered_alerts_are_pruned_events_stay(world, hub):
    first = world(T0)  # baseline: watch_started and friends, delivered to the console
    assert first.events and first.delivered
    for day in range(1, 4):
        world(T0 + dt.timedelta(days=day))
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": 100})
    news = world(T0 + dt.timedelta(days=4))
    assert news.events
    events, runs = count(world.db, "SELECT count(*) FROM events"), count(world.db, "SELECT count(*) FROM poll_runs")
    assert runs == 5
    world(T0 + dt.timedelta(days=10))  # runs of days 1-2 are past 7 days (+1 day of batching): gone
    assert count(world.db, "SELECT count(*) FROM poll_runs") == 4  # day 0 (made events), 3, 4 (events), 10
    assert count(world.db, "SELECT count(*) FROM events") == events
    assert count(world.db, "SELECT count(*) FROM deliveries") >= 2
    world(T0 + dt.timedelta(days=16))  # day 0's delivered alerts are past 14 days (+1): gone; day 4's stay
    assert count(world.db, "SELECT min(created_at) FROM deliveries") >= str(T0 + dt.timedelta(days=4))[:10]
    assert count(world.db, "SELECT count(*) FROM events") == events
    again = world(T0 + dt.timedelta(days=17))
    assert [e for e in again.events if e.kind.value in ("watch_started", "repo_appeared", "weights_published")] == []


def test_a_quiet_cycle_does_not_prune_one_row_at_a_time(world):
    for hour in range(0, 24 * 9, 6):
        world(T0 + dt.timedelta(hours=hour))
    before = count(world.db, "SELECT count(*) FROM poll_runs")
    world(T0 + dt.timedelta(hours=24 * 9))
    assert count(world.db, "SELECT count(*) FROM poll_runs") == before + 1  # nothing due by a full day yet


def test_retention_shorter_than_a_day_is_refused():
    cfg = base_config("http://127.0.0.1:1", "http://127.0.0.1:2", "w.db")
    cfg["retention"] = {"poll_runs": "2h"}
    with pytest.raises(config_mod.ConfigError, match="retention.poll_runs"):
        config_mod.parse(yaml.safe_dump(cfg), "test")
