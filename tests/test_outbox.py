"""The outbox under concurrency: several senders (replicas, cron polls) send each message once, in order."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import text

from watcher import config as config_mod
from watcher import notify
from watcher.engine.pipeline import deliver
from watcher.store.schema import open_current

TOKEN = "xoxb-test-token-123456"
GB = 1_000_000_000


@pytest.fixture
def database_url(any_database):
    return any_database


@pytest.fixture
def slack_watcher(watcher, slack, monkeypatch):
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    watcher.default_env = {"WATCHER_NOW": "2026-07-12T12:00:00Z", "SLACK_BOT_TOKEN": TOKEN}
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    return watcher


NOW = dt.datetime(2026, 7, 12, 12, tzinfo=dt.timezone.utc)


@pytest.mark.slow
def test_concurrent_senders_send_each_message_once_in_order(slack_watcher, hub, slack):
    slack.down = True  # build up a backlog of five messages
    assert slack_watcher("poll").exit_code == 0
    for size in (1, 2, 3, 4):
        hub.add_model(f"Qwen/Qwen3.7-{size}B", {"model.safetensors": size * GB})
        assert slack_watcher("poll").exit_code == 0
    slack.down, slack.latency = False, 0.05
    config = config_mod.load(str(slack_watcher.path))
    engine = open_current(config.database)
    results = []

    def sender() -> None:  # on the same day as the polls: the backlog is not old enough to be summarised
        results.append(deliver(config, engine, notify.build(config), clock=lambda: NOW))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == 5 and sum(r.delivered for r in results) == 5
    assert "Watching started" in texts[0]
    assert [t.split("Qwen/Qwen3.7-")[1][:2] for t in texts[1:]] == ["1B", "2B", "3B", "4B"]  # in order
    with engine.connect() as conn:
        rows = conn.execute(text("select status, attempts from deliveries")).fetchall()
    assert {status for status, _ in rows} == {"delivered"}
    assert sum(attempts for _, attempts in rows) == 5 + 5  # one failed try each while Slack was down


@pytest.mark.slow
@pytest.mark.parametrize("any_database", ["postgresql"], indirect=True)
def test_concurrent_cron_polls_alert_once(slack_watcher, hub, slack, database_url, tmp_path):
    """Three `watcher poll` processes at once, twice: one baseline, one drop alert, nothing doubled.

    PostgreSQL only: it is the multi-node case, and each run costs three process start-ups.
    """
    slack_watcher.save()
    env = {**os.environ, "WATCHER_NOW": "2026-07-12T12:00:00Z", "SLACK_BOT_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "watcher", "--config", str(slack_watcher.path), "poll"]

    def three_polls() -> list[subprocess.CompletedProcess]:
        procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        return outs

    three_polls()
    for size in (7, 32):
        hub.add_model(f"Qwen/Qwen3.7-{size}B", {"model.safetensors": size * GB})
    three_polls()
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == 2, texts
    assert "Watching started" in texts[0] and "Qwen/Qwen3.7-7B" in texts[1] and "Qwen/Qwen3.7-32B" in texts[1]
    engine = open_current(database_url)
    with engine.connect() as conn:
        events = conn.execute(text("select kind, repo_id from events order by id")).fetchall()
        runs = conn.execute(text("select count(*) from poll_runs where finished_at is not null")).scalar()
    assert len(events) == len(set(events)) == 6  # started, appeared + weights for each repo, released: once
    assert [kind for kind, _ in events].count("weights_published") == 2
    assert [kind for kind, _ in events].count("released") == 1
    assert runs == 6  # every poll ran its cycle, one after the other
