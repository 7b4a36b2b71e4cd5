"""`watcher status --check`: exit 0 healthy, 1 stale or never polled, 2 config or database error."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from watcher import config as config_mod
from watcher.cli import health
from watcher.store.tables import DaemonRun, SourceHealth

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 7, 12, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


def check(watcher, minutes: float):
    result = watcher("status", "--check", env={"WATCHER_NOW": at(minutes)})
    assert result.stdout.count("\n") == 1, result.output
    return result.exit_code, result.stdout.strip()


def test_unhealthy_before_any_poll_healthy_after_stale_later(watcher):
    code, line = check(watcher, 0)
    assert code == 1 and line.startswith("unhealthy: no poll has run yet")
    assert watcher("poll", env={"WATCHER_NOW": at(0)}).exit_code == 0
    assert check(watcher, 1) == (0, "healthy: last successful poll 60s ago")
    assert check(watcher, 45) == (0, "healthy: last successful poll 45m ago")  # 3 x 15m is the limit
    code, line = check(watcher, 46)
    assert code == 1 and line == "unhealthy: qwen3.7: last successful poll 46m ago (limit 45m)"


def test_failing_sources_make_polls_unsuccessful(watcher, hub, github):
    assert watcher("poll", env={"WATCHER_NOW": at(0)}).exit_code == 0
    hub.down = github.down = True
    assert watcher("poll", env={"WATCHER_NOW": at(30)}).exit_code == 0
    code, line = check(watcher, 31)
    assert code == 0 and "qwen3.7/huggingface failing (1 in a row)" in line
    code, line = check(watcher, 50)
    assert code == 1 and "last successful poll 50m ago" in line and "qwen3.7/github failing" in line


def test_config_and_database_errors_exit_2(watcher, tmp_path):
    watcher.config["schedule"]["poll_intervl"] = "1m"
    result = watcher("status", "--check")
    assert result.exit_code == 2 and "schedule.poll_intervl: unknown key" in result.stderr
    del watcher.config["schedule"]["poll_intervl"]
    (tmp_path / "watcher.db").write_bytes(b"this is not a database" * 100)
    code, line = check(watcher, 0)
    assert code == 2 and line.startswith("error: database sqlite:///") and "\n" not in line


def test_judge_start_up_grace():
    cfg = config_mod.Config.model_validate({"watches": [{
        "name": "w", "flagship": {"name": "F", "released": "2026-01-01"}, "lag_days": {"min": 1, "max": 2},
        "huggingface": {"authors": ["a"]}, "poll_interval": "10m"}],
        "schedule": {"startup_grace": "2m"}})
    daemon = DaemonRun(started_at=T0, host="h", pid=1)
    assert health.judge(cfg, T0 + dt.timedelta(seconds=90), daemon, [])[0] == 0
    code, line = health.judge(cfg, T0 + dt.timedelta(minutes=3), daemon, [])
    assert code == 1 and line == "unhealthy: w: no successful poll since the daemon started 3m ago"
    lazy = cfg.model_copy(update={"schedule": cfg.schedule.model_copy(update={"run_at_start": False})})
    assert health.judge(lazy, T0 + dt.timedelta(minutes=11), daemon, [])[0] == 0  # grace + one interval
    stopped = DaemonRun(started_at=T0, stopped_at=T0, host="h", pid=1)
    assert health.judge(cfg, T0, stopped, [])[0] == 1
    ok = SourceHealth(watch="w", source="huggingface", consecutive_failures=0, last_success_at=T0)
    assert health.judge(cfg, T0 + dt.timedelta(minutes=30), None, [ok]) == (0, "healthy: last successful poll 30m ago")
    assert health.judge(cfg, T0 + dt.timedelta(minutes=31), None, [ok])[0] == 1  # per-watch interval: 3 x 10m


def test_check_is_light_and_reads_only_the_database(watcher, tmp_path):
    assert watcher("poll", env={"WATCHER_NOW": at(0)}).exit_code == 0
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "watcher", "--config", str(watcher.path),
                             "status", "--check"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "WATCHER_NOW": at(5)})
    assert result.returncode == 0 and result.stdout == "healthy: last successful poll 5m ago\n"
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"huggingface_hub", "github", "slack_sdk", "apscheduler", "prometheus_client", "requests",
                           "sqlalchemy", "alembic"}
