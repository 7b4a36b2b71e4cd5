"""A cycle driver for Slack tests: the real pipeline and SlackNotifier, a pinned clock, no real sleeping."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from helpers import base_config

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.notify.slack import SlackNotifier
from watcher.store.schema import open_current

TOKEN = "xoxb-test-token-123456"
START = dt.datetime(2026, 7, 12, 12, 0, tzinfo=dt.timezone.utc)  # inside the Qwen 3.7 window


@dataclass
class FakeTime:
    """Stands in for time.sleep / time.monotonic: sleeping advances the clock and is recorded."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class Cycles:
    """Runs pipeline cycles against the fakes with a wall clock that moves `step` per cycle."""

    def __init__(self, hub, github, slack, tmp_path, slack_cfg: dict | None = None, webhook: str | None = None,
                 step: dt.timedelta = dt.timedelta(minutes=15), hub_only: bool = False) -> None:
        github.add_org("QwenLM")  # exists on real GitHub; a 404 would raise source_failing alerts
        raw = base_config(hub.url, github.url, tmp_path / "watcher.db", slack.url)
        raw["slack"].update(slack_cfg or {})
        if hub_only:  # long timelines: GitHub is not under test and costs requests
            raw["watches"][0].pop("github")
        self.config = config_mod.Config.model_validate(raw)
        self.engine = open_current(self.config.database)
        self.time = FakeTime()
        self.now, self.step = START, step
        self.slack = slack
        routes = self.config.slack.all_routes()
        self.notifiers = [SlackNotifier(self.config.slack, route, token=None if webhook else TOKEN,
                                        webhook_url=webhook, sleep=self.time.sleep, monotonic=self.time.monotonic)
                          for route in routes]

    def clock(self) -> dt.datetime:
        return self.now

    def __call__(self, n: int = 1):
        result = None
        for _ in range(n):
            result = run_cycle(self.config, self.engine, self.clock, notifiers=self.notifiers)
            self.now += self.step
        return result

    def rows(self, sql: str) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]


def quiet_sdk_logs() -> None:
    logging.getLogger("watcher.notify.slack_sdk").setLevel(logging.CRITICAL)
