"""The CLI as a process: status contract and speed, the daemon's life cycle, and secrets staying secret."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

HTTP_MODULES = ("huggingface_hub", "github", "slack_sdk", "apscheduler", "httpx2", "requests", "urllib3")


def run_cli(args, cwd, env=None, timeout=60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_status_json_contract(watcher, hub):
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 54_600_000_000}, params=27_300_000_000)
    assert watcher("poll").exit_code == 0
    doc = watcher.status({"WATCHER_NOW": "2026-11-29T12:00:00Z"})
    assert set(doc) >= {"generated_at", "pending_alerts", "last_poll", "watches"}
    assert set(doc["last_poll"]) >= {"started_at", "finished_at", "errors"}
    watch = doc["watches"][0]
    assert watch["name"] == "qwen3.7" and watch["title"] == "Qwen 3.7 open-weight variants"
    assert watch["flagship"] == {"name": "Qwen3.7-Max", "released": "2026-05-20"}
    assert watch["expected_window"] == {"start": "2026-07-10", "end": "2026-07-18"}
    assert watch["state"] == "released" and watch["days_overdue"] is None
    repo = next(r for r in watch["repos"] if r["id"] == "Qwen/Qwen3.7-27B")
    assert {k: repo[k] for k in ("source", "visible", "weights", "weight_bytes", "params")} == {
        "source": "huggingface", "visible": True, "weights": True,
        "weight_bytes": 54_600_000_000, "params": 27_300_000_000}
    assert repo["first_seen"].endswith("Z") and repo["url"].endswith("/Qwen/Qwen3.7-27B")


def test_status_overdue_days(watcher):
    assert watcher("poll").exit_code == 0
    watch = watcher.status({"WATCHER_NOW": "2026-11-29T12:00:00Z"})["watches"][0]
    assert watch["state"] == "overdue" and watch["days_overdue"] == 134


def test_status_reads_only_the_database(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    watcher.save()
    result = run_cli(["--config", str(watcher.path), "status"], tmp_path, {"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert "Qwen 3.7 open-weight variants" in result.stdout and "QwenLM/Qwen3.7" in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & set(HTTP_MODULES)


def test_status_before_any_poll_and_missing_database(watcher, tmp_path):
    result = watcher("status")  # the forecast from the config still shows, every watch unknown
    assert result.exit_code == 0 and "unknown" in result.stdout
    assert "there is no database at" in result.stdout
    doc = json.loads(watcher("status", "--json").stdout)
    assert f"there is no database at {tmp_path / 'watcher.db'} yet; `watcher poll`" in doc["warnings"][0]
    assert {w["state"] for w in doc["watches"]} == {"unknown"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # nothing created
    assert watcher("db", "upgrade").exit_code == 0
    result = watcher("status")
    assert result.exit_code == 0 and "No poll has run yet" in result.stdout


def test_check_config_prints_watches(watcher):
    result = watcher("check-config")
    assert result.exit_code == 0
    assert "qwen3.7" in result.stdout and "expected 2026-07-10 to 2026-07-18" in result.stdout
    assert "authors ['Qwen']" in result.stdout


@pytest.mark.slow
def test_daemon_polls_on_schedule_and_stops_on_sigterm(watcher, hub, tmp_path):
    watcher.config["schedule"]["poll_interval"] = "1s"
    watcher.save()
    env = {**os.environ, "WATCHER_NOW": "2026-07-12T00:00:00Z"}
    proc = subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(watcher.path), "run"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = tmp_path / "watcher.db"
    try:
        deadline = time.monotonic() + 30
        runs = 0
        while time.monotonic() < deadline and runs < 2:
            time.sleep(0.2)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        runs = conn.execute("select count(*) from poll_runs where finished_at is not null").fetchone()[0]
                    except sqlite3.OperationalError:
                        runs = 0
        assert runs >= 2, "the daemon did not run two cycles"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "received SIGTERM" in out and "watcher daemon stopped" in out
    assert "Traceback" not in out


def test_secrets_never_reach_outputs_or_database(watcher, hub, github, slack, tmp_path):
    secrets = {"HF_TOKEN": "hf_secretvalue0001", "GITHUB_TOKEN": "ghp_secretvalue0002",
               "SLACK_BOT_TOKEN": "xoxb-secretvalue-0003"}
    github.valid_tokens = {"ghp_other"}  # ours is rejected: GitHub answers 401
    slack.valid_tokens = {"xoxb-other"}  # Slack answers invalid_auth
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/"}
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    outputs = []
    for args in (["poll"], ["poll"], ["status"], ["status", "--json"], ["events"], ["check-config"]):
        result = watcher(*args, env=secrets)
        outputs.append(result.output)
    blob = "\n".join(outputs) + (tmp_path / "watcher.db").read_bytes().decode("latin-1")
    assert "invalid_auth" in blob and "401 Bad credentials" in blob
    for value in secrets.values():
        assert value not in blob
    assert not yaml.safe_load(watcher.path.read_text()).get("token")


def test_poll_process_closes_the_database_before_it_exits(watcher, tmp_path):
    """The CLI exits without the interpreter's final garbage collection (cli/app.py `main`), which used to close
    the store's pooled connection: it closes it itself, so SQLite checkpoints and removes its WAL as before."""
    watcher.save()
    result = run_cli(["--config", str(watcher.path), "poll"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cycle 1: 1 watch(es) polled" in result.stdout
    assert (tmp_path / "watcher.db").stat().st_size > 0
    assert not (tmp_path / "watcher.db-wal").exists()


def test_sqlite_file_is_private(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    assert (tmp_path / "watcher.db").stat().st_mode & 0o777 == 0o600


def test_python_dash_m_and_config_error_exit_code(tmp_path):
    (tmp_path / "bad.yaml").write_text("watches: []\n")
    result = run_cli(["--config", "bad.yaml", "check-config"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "watcher: bad.yaml: watches: List should have at least 1 item after validation, not 0"
    assert not (tmp_path / "watcher.db").exists()
