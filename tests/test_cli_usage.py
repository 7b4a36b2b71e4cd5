"""The command line as people type it: options on either side of the command, --version, help, completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import watcher
from watcher.cli.app import app

COMMANDS = [["poll"], ["status"], ["events"], ["run"], ["cadence"], ["check-config"], ["notify", "test"],
            ["notify", "retry"], ["db", "upgrade"], ["db", "current"]]


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("position", ["before", "after"])
def test_config_is_accepted_before_and_after_the_command(watcher, position):
    watcher.save()
    args = (["--config", str(watcher.path), "check-config"] if position == "before"
            else ["check-config", "--config", str(watcher.path)])
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert f"Config OK: {watcher.path}" in result.stdout


def test_config_after_a_subcommand_and_short_form(watcher, tmp_path):
    watcher.save()
    result = invoke("db", "upgrade", "-c", str(watcher.path))
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "watcher.db") in result.stdout


def test_a_missing_config_named_after_the_command_is_the_error(tmp_path):
    result = invoke("check-config", "--config", str(tmp_path / "nosuch.yaml"))
    assert result.exit_code == 2 and "nosuch.yaml" in result.stderr


def test_version_comes_from_the_package():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"watcher {watcher.__version__}"


@pytest.mark.parametrize("command", [[]] + COMMANDS, ids=lambda c: " ".join(c) or "watcher")
def test_help_has_no_type_tags_and_lists_the_common_options(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(bool|str|int|text|integer)>", result.stdout, re.I), result.stdout
    assert "--config FILE" in result.stdout and "--log-level" in result.stdout and "--verbose" in result.stdout


def test_log_format_choices_are_the_cli_librarys():
    help_text = invoke("run", "--help").stdout
    assert "text|json" in help_text
    result = invoke("run", "--log-format", "xml")
    assert result.exit_code == 2 and "--log-format" in result.stderr


def test_shell_completion_is_offered(tmp_path):
    assert "--install-completion" in invoke("--help").stdout
    result = subprocess.run([sys.executable, "-m", "watcher", "--show-completion", "bash"], cwd=tmp_path,
                            env={**os.environ, "SHELL": "/bin/bash"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "complete" in result.stdout and "_watcher_completion" in result.stdout


def test_check_config_writes_durations_as_the_config_does(watcher):
    watcher.config["schedule"]["poll_interval"] = "1h30m"
    watcher.config["watches"][0]["poll_interval"] = "10m"
    watcher.config["metrics"] = {"port": 9123, "host": "127.0.0.1"}
    result = watcher("check-config")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # the console may wrap long lines
    assert "poll every 1h30m" in out and "polled every 10m" in out and "metrics on 127.0.0.1:9123" in out
    assert "0:" not in out


@pytest.mark.slow
def test_plot_format_follows_the_extension(watcher, tmp_path):
    for name, magic in (("chart.svg", b"<?xml"), ("chart.pdf", b"%PDF"), ("chart.PNG", b"\x89PNG")):
        result = watcher("cadence", "--plot", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        head = (tmp_path / name).read_bytes()[:200]
        assert head.startswith(magic) and (name != "chart.svg" or b"<svg" in (tmp_path / name).read_bytes()[:2000])


def test_plot_with_another_extension_is_refused(watcher, tmp_path):
    result = watcher("cadence", "--plot", str(tmp_path / "chart.jpg"))
    assert result.exit_code == 2 and "name the file .png, .svg or .pdf" in result.stderr
    assert not (tmp_path / "chart.jpg").exists()


def test_shipped_config_alerts_to_the_console_and_slack_is_one_line_away():
    from pathlib import Path

    from watcher import config

    text = (Path(__file__).resolve().parents[1] / "config.yaml").read_text()
    assert config.parse(text, "config.yaml").slack is None  # a fresh clone warns about no Slack credential
    [line] = [line for line in text.splitlines() if line.startswith("# slack:")]
    enabled = config.parse(text.replace(line, line.removeprefix("# ")), "config.yaml")
    assert enabled.slack is not None and enabled.slack.channel == "#open-weights"
