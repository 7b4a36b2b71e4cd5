"""Hostile or broken settings (issue 16): one line, exit 2, and never a secret in the output."""

from __future__ import annotations

import pytest

WEBHOOK_SECRET = "T000/B000/XXXXsecretXXXX"


@pytest.mark.parametrize("command", [("poll",), ("notify", "test"), ("check-config",)])
def test_webhook_url_without_scheme_is_one_line_without_the_url(watcher, slack, command):
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/"}
    result = watcher(*command, env={"SLACK_WEBHOOK_URL": f"hooks.slack.com/services/{WEBHOOK_SECRET}"})
    assert result.exit_code == 2
    assert result.output.strip() == (
        "watcher: SLACK_WEBHOOK_URL: not an http(s) webhook URL (is the https:// missing?)")
    assert "XXXXsecret" not in result.output and slack.requests == []


def test_route_webhook_env_values_are_redacted(watcher, slack):
    """A Workflow trigger URL in a route's own variable is a secret like SLACK_WEBHOOK_URL."""
    url = slack.url + "/triggers/T000/123/abcsecretdef"
    watcher.config["slack"] = {"api_url": slack.url + "/api/", "timeout": "2s", "retries": 0,
                               "routes": [{"channel": "#a", "webhook_env": "TEAM_A_HOOK"},
                                          {"channel": "#b", "webhook_env": "TEAM_B_HOOK"}]}
    for hook in (url, url + "2"):  # a server that echoes the URL it was called at in its error
        slack.fail_next(1, status=400, body=f"invalid_trigger {hook}", path_contains="/triggers/")
    result = watcher("notify", "test", env={"TEAM_A_HOOK": url, "TEAM_B_HOOK": url + "2"})
    assert result.exit_code == 1 and result.output.count("FAILED") == 2, result.output
    assert "invalid_trigger" in result.output and "abcsecretdef" not in result.output


def test_check_config_never_prints_a_database_password(watcher):
    env = {"WATCHER_DATABASE_URL": "postgresql+psycopg://watcher@db.example:5432/w?password=hunter2secret",
           "SLACK_BOT_TOKEN": ""}
    result = watcher("check-config", env=env)
    assert result.exit_code == 0, result.output
    assert "hunter2secret" not in result.output and "db.example" in result.output
    env["WATCHER_DATABASE_URL"] = "postgresql+psycopg://watcher:hunter2secret@db.example:5432/w"
    result = watcher("check-config", env=env)
    assert "hunter2secret" not in result.output


def test_non_numeric_database_port_is_one_line_exit_2(watcher):
    for command in (("check-config",), ("status",), ("poll",)):
        result = watcher(*command, env={"WATCHER_DATABASE_URL": "postgresql://u:hunter2secret@db:abc/w"})
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "port of the database URL is not a number" in lines[0]
        assert "hunter2secret" not in result.output


def test_deeply_nested_yaml_is_one_line_exit_2(watcher, tmp_path):
    path = tmp_path / "nested.yaml"
    path.write_text("watches: " + "[" * 20000 + "]" * 20000 + "\n")
    result = watcher.runner.invoke(__import__("watcher.cli.app", fromlist=["app"]).app,
                                   ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "nested too deeply" in lines[0], result.output


def test_unopenable_cycle_lock_is_one_line_naming_it(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    (tmp_path / "watcher.db.cycle.lock").unlink()
    (tmp_path / "watcher.db.cycle.lock").mkdir()  # as root, a directory is what no one can open for writing
    result = watcher("poll")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"watcher: lock file {tmp_path / 'watcher.db.cycle.lock'}: Is a directory; remove it or fix its owner"]


def test_leftover_shm_that_blocks_writes_is_named(watcher, tmp_path):
    import os
    import subprocess
    import sys

    assert watcher("poll").exit_code == 0
    shm = tmp_path / "watcher.db-shm"
    if shm.exists():
        shm.unlink()
    shm.mkdir()  # stands for another user's read-only -shm (the tests run as root, who may write anything)
    # a fresh process: this one still has the first poll's connection (and its shared memory) open
    result = subprocess.run([sys.executable, "-m", "watcher", "--config", str(watcher.path), "poll"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "WATCHER_NOW": "2026-07-12T12:00:00Z"})
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert f"{shm} is not a writable file" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["watch", "channel"])
def test_names_wider_than_their_columns_are_config_errors(watcher, slack, where):
    """PostgreSQL refuses text past a column's width on every cycle; the config says so at start instead."""
    if where == "watch":
        watcher.config["watches"][0]["name"] = "w" * 101
    else:
        watcher.config["slack"] = {"channel": "#" + "c" * 100, "api_url": slack.url + "/api/"}
    result = watcher("check-config")
    assert result.exit_code == 2 and "at most 100 characters" in result.output, result.output
