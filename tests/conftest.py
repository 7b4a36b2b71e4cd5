"""Shared fixtures: the fake APIs on 127.0.0.1, an isolated environment, and a CLI driver."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import FakeGitHub, FakeHub, FakeSlack  # noqa: E402
from helpers import base_config  # noqa: E402

SECRET_VARS = ("HF_TOKEN", "GITHUB_TOKEN", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "WATCHER_DATABASE_URL",
               "HF_ENDPOINT", "WATCHER_CONFIG", "WATCHER_NOW")
IN_WINDOW = "2026-07-12T12:00:00Z"  # inside the shipped Qwen 3.7 window (2026-07-10 to 2026-07-18)
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test may pick up a developer's token, proxy or config; the Hub's token file is sandboxed too."""
    for name in SECRET_VARS + PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


@dataclass
class Watcher:
    """Drives the real CLI in-process against a config file, like a user at a terminal."""

    path: Path
    config: dict
    runner: CliRunner

    def save(self) -> None:
        self.path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    default_env: dict | None = None

    def __call__(self, *args: str, env: dict | None = None):
        """Run `watcher --config PATH args...`; the clock is pinned inside the window unless env says otherwise."""
        self.save()
        merged = {**(self.default_env or {"WATCHER_NOW": IN_WINDOW}), **(env or {})}
        return self.runner.invoke(_app(), ["--config", str(self.path), *args], env=merged, catch_exceptions=False)

    def status(self, env: dict | None = None) -> dict:
        result = self("status", "--json", env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def watch_status(self, env: dict | None = None) -> dict:
        return self.status(env)["watches"][0]


def _app():
    from watcher.cli import app

    return app


@pytest.fixture
def watcher(hub, github, tmp_path):
    github.add_org("QwenLM")  # exists on real GitHub, even before any Qwen 3.7 repo is public
    cfg = base_config(hub.url, github.url, tmp_path / "watcher.db")
    return Watcher(tmp_path / "config.yaml", cfg, CliRunner())


def repo_ids(watch_status: dict, source: str | None = None, **flags) -> set[str]:
    return {
        r["id"] for r in watch_status["repos"]
        if (source is None or r["source"] == source) and all(r[k] == v for k, v in flags.items())
    }


os.environ.setdefault("WATCHER_TEST", "1")
