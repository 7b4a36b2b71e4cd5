"""A `watcher run` daemon in this process with its webhook receiver on, against the fake Hub and Slack."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from helpers import base_config

from watcher import config as config_mod
from watcher.daemon import scheduler as daemon_mod
from watcher.store.schema import open_current

SECRET = "whs-0123456789abcdef-test"
NOW = dt.datetime(2026, 7, 12, 12, 0, tzinfo=dt.timezone.utc)  # inside the Qwen 3.7 window
GB = 1_000_000_000


def webhook_config(hub, github, slack, tmp_path, database: str | None = None, **schedule) -> dict:
    """The Qwen watch, polled hourly, with the receiver on a free local port."""
    github.add_org("QwenLM")
    raw = base_config(hub.url, github.url, tmp_path / "watcher.db", slack.url)
    raw["schedule"].update({"poll_interval": "1h", "deliver_interval": "1h", "cadence_interval": "1h", **schedule})
    raw["webhooks"] = {"host": "127.0.0.1", "port": 0, "path": "/hooks/huggingface"}
    if database:
        raw["database"] = database
    return raw


class LiveDaemon:
    """Daemon.run() on a thread; `stop()` is the graceful shutdown a SIGTERM would start."""

    def __init__(self, raw: dict, clock=lambda: NOW) -> None:
        _drop_closed_log_streams()
        self.config = config_mod.Config.model_validate(raw)
        self.engine = open_current(self.config.database)
        self.results: list[tuple[str, object]] = []
        self.daemon = daemon_mod.Daemon(self.config, self.engine, clock,
                                        listeners=[lambda job, outcome: self.results.append((job, outcome))])
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.daemon.webhooks.port}{self.config.webhooks.path}"

    def cycles(self, job: str | None = None) -> list:
        return [o for j, o in self.results if o is not None and (job is None or j == job)]

    def start(self) -> LiveDaemon:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.daemon.stop.set()
        self.thread.join(timeout=30)
        self.engine.dispose()


def _drop_closed_log_streams() -> None:
    """An earlier in-process CLI test (`watcher run` under CliRunner) left a root handler on a stream
    CliRunner has closed; this daemon's threads would print 'Logging error' for every line."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(getattr(handler, "stream", None), "closed", False):
            root.removeHandler(handler)
