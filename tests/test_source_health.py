"""Consecutive failures of a source: warned every time, alerted once after the threshold, recovered once."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sqlite3

import pytest

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.notify.console import ConsoleNotifier
from watcher.store.schema import open_current


def kinds(watcher):
    result = watcher("events", "--json", "--limit", "100")
    return [e["kind"] for e in reversed(json.loads(result.stdout))]


def health_row(watcher, source):
    db = watcher.config["database"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("select * from source_health where source = ?", (source,)).fetchone())


def test_every_failure_is_a_warning_with_watch_and_repo(watcher, hub, caplog):
    watcher.save()
    cfg = config_mod.load(str(watcher.path))
    engine = open_current(cfg.database)
    clock = lambda: dt.datetime(2026, 7, 12, tzinfo=dt.timezone.utc)  # noqa: E731
    hub.down = True
    with caplog.at_level(logging.WARNING, logger="watcher.engine.source_health"):
        results = [run_cycle(cfg, engine, clock, notifiers=[ConsoleNotifier(io.StringIO())]) for _ in range(4)]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4  # one line per source per cycle, however many requests failed
    assert all(r.getMessage().startswith("huggingface: HTTP 503 from 127.0.0.1, 2 tries (") for r in warnings)
    assert [r.getMessage().split("; ")[1].split(" ")[0] for r in warnings] == ["1", "2", "3", "4"]
    assert all(r.watch == "qwen3.7" and r.source == "huggingface" and r.repo == "Qwen" for r in warnings)
    assert [[(o.source, o.ok, o.consecutive_failures) for o in r.health] for r in results][3] == [
        ("huggingface", False, 4), ("github", True, 0)]
    assert [[e.kind.value for e in r.events] for r in results] == [["watch_started"], [], ["source_failing"], []]


@pytest.mark.slow
def test_alert_after_three_failures_once_then_recovered(watcher, hub):
    assert watcher("poll").exit_code == 0
    hub.down = True
    outputs = [watcher("poll").stdout for _ in range(5)]
    assert "Source failing" not in outputs[0] + outputs[1]
    assert "Source failing: huggingface failed 3 polls in a row" in outputs[2] and "503" in outputs[2]
    assert "Source failing" not in outputs[3] + outputs[4]  # once per streak
    assert kinds(watcher) == ["watch_started", "source_failing"]
    row = health_row(watcher, "huggingface")
    assert row["consecutive_failures"] == 5 and row["alerted"] == 1 and "503" in row["last_error"]
    assert health_row(watcher, "github")["consecutive_failures"] == 0  # the other source is fine
    hub.down = False
    out = watcher("poll").stdout
    assert "Source recovered: huggingface works again after 5 failed poll(s)" in out
    assert watcher("poll").stdout.count("Source recovered") == 0
    row = health_row(watcher, "huggingface")
    assert row["consecutive_failures"] == 0 and row["alerted"] == 0 and row["last_success_at"]


@pytest.mark.slow
def test_a_new_streak_alerts_again_and_blips_stay_quiet(watcher, hub):
    watcher.config["schedule"]["alert_after_failures"] = 2
    for down in (True, False, True, False, True, True, False, True, True):
        hub.down = down
        assert watcher("poll").exit_code == 0
    assert kinds(watcher) == ["watch_started", "source_failing", "source_recovered", "source_failing"]


def test_unused_source_is_neither_success_nor_failure(watcher, hub, github):
    del watcher.config["watches"][0]["github"]
    github.down = True
    for _ in range(3):
        watcher("poll")
    db = watcher.config["database"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("select source from source_health")] == ["huggingface"]
