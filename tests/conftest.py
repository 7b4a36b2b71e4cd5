"""Shared fixtures: the fake APIs on 127.0.0.1, an isolated environment, and a CLI driver."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import FakeGitHub, FakeHub, FakeSlack
from helpers import base_config

SECRET_VARS = ("HF_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "WATCHER_DATABASE_URL",
               "WATCHER_WEBHOOK_SECRET",
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

    def poll(self, env: dict | None = None) -> str:
        """One `watcher poll` that must succeed; its stdout (the cycle's summary)."""
        result = self("poll", env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    def status(self, env: dict | None = None) -> dict:
        result = self("status", "--json", env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def watch_status(self, env: dict | None = None) -> dict:
        return self.status(env)["watches"][0]


def _app():
    from watcher.cli.app import app

    return app


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL server per session. Under CI=true a missing server fails, never skips."""
    from pg import Cluster, ClusterError

    try:
        cluster = _start_cluster(Cluster, ClusterError)
    except (ClusterError, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no PostgreSQL cluster could be started: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server binaries here: {exc}")
    yield cluster
    cluster.stop()


def _start_cluster(cluster_class, error_class, tries: int = 3):
    """Parallel test processes each start a cluster; two may pick the same free port at once: try another."""
    for attempt in range(tries):
        cluster = cluster_class()
        try:
            return cluster.start()
        except error_class:
            shutil.rmtree(cluster.dir, ignore_errors=True)
            if attempt == tries - 1:
                raise


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty PostgreSQL database for one test."""
    return pg_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request, tmp_path):
    """Parametrises a test over both back ends; a module opts in with `database_url = any_database`-style override."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'watcher.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def database_url(tmp_path):
    """The database the `watcher` fixture uses: SQLite unless a module overrides this fixture."""
    return f"sqlite:///{tmp_path / 'watcher.db'}"


@pytest.fixture
def watcher(hub, github, tmp_path, database_url):
    github.add_org("QwenLM")  # exists on real GitHub, even before any Qwen 3.7 repo is public
    cfg = base_config(hub.url, github.url, tmp_path / "watcher.db")
    cfg["database"] = database_url
    return Watcher(tmp_path / "config.yaml", cfg, CliRunner())


def repo_ids(watch_status: dict, source: str | None = None, **flags) -> set[str]:
    return {
        r["id"] for r in watch_status["repos"]
        if (source is None or r["source"] == source) and all(r[k] == v for k, v in flags.items())
    }


def pytest_collection_modifyitems(config, items):
    """`pytest -q` is the quick tier: tests marked slow run only when asked for, with `-m slow` (as `.ci/run`
    does), with any other `-m` expression, or by naming them (`pytest tests/test_x.py::test_y`)."""
    if config.option.markexpr or any("::" in arg for arg in config.args):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


os.environ.setdefault("WATCHER_TEST", "1")
