"""README stays true to the code: its config example parses, its commands exist, its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from watcher import config
from watcher.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_config_example_is_a_valid_config():
    [example] = re.findall(r"```yaml\n(.*?)```", README, re.S)
    cfg = config.parse(example, "README.md")
    assert cfg.slack is None and [w.name for w in cfg.watches] == ["qwen3.7"]


def test_every_command_in_the_table_exists():
    commands = set(re.findall(r"^\| `watcher ([a-z-]+(?: (?:test|retry|upgrade|current))?)", README, re.M))
    commands |= {"db current"}
    assert {"run", "poll", "status", "events", "cadence", "check-config", "notify test"} <= commands
    for command in commands:
        result = CliRunner().invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_quick_start_is_the_two_commands_and_ci_runs_the_second():
    blocks = re.findall(r"^    (python3 -m venv .*)$", README, re.M)
    assert len(blocks) == 2 and blocks[0].endswith("watcher run") and blocks[1].endswith("pytest -q")
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_links_resolve_and_the_readme_stays_short():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target
    assert len(README.splitlines()) <= 170
