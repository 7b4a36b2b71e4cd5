"""Fault-injection harness shared by tests/test_process_faults.py and bench/faults.py.

It counts alerts the way a person in the channel would: every line of every message Slack holds
("- Weights published: Qwen/Qwen3.7-1B (...)") is one alert about one subject, and each expected
alert must be there exactly once (0 lost, 0 sent twice). `Rig` drives the real CLI as subprocesses
against the fakes, so a SIGKILL really is a dead process with a half-finished cycle.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from helpers import base_config

TOKEN = "xoxb-fault-token-123456"
IN_WINDOW = "2026-07-12T12:00:00Z"
_LINE = re.compile(r"^- ([^:\n]+): (\S+)", re.M)


def alert_lines(messages: list[dict]) -> Counter:
    """(label, subject) -> how many posted messages carry that line (edits in place do not count)."""
    seen: Counter = Counter()
    for message in messages:
        for label, subject in set(_LINE.findall(message.get("text") or "")):
            seen[(label, subject.rstrip(".,"))] += 1
    return seen


@dataclass
class Tally:
    case: str
    runs: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    doubled: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, expected: set, seen: Counter) -> Tally:
        self.expected += len(expected)
        self.delivered += sum(1 for key in expected if seen.get(key))
        self.lost += sum(1 for key in expected if not seen.get(key))
        self.doubled += sum(n - 1 for n in seen.values() if n > 1)
        return self

    def row(self) -> str:
        return (f"| {self.case} | {self.runs} | {self.expected} | {self.delivered} | {self.lost} | "
                f"{self.doubled} |")


def weights(repo: str) -> tuple[str, str]:
    return ("Weights published", repo)


def placeholder(repo: str) -> tuple[str, str]:
    return ("New repo, no weights yet (placeholder)", repo)


class Timeline:
    """What happens upstream, step by step: a new repo with weights each step, and every fourth step a
    placeholder whose weights land one step later (a thread reply plus an edit of the announcement)."""

    def __init__(self, hub) -> None:
        self.hub, self.step = hub, 0
        self.expected: set[tuple[str, str]] = {("Watching started", "0")}
        self._placeholder: str | None = None

    def advance(self) -> None:
        self.step += 1
        repo = f"Qwen/Qwen3.7-{self.step}B"
        self.hub.add_model(repo, {"model.safetensors": 1_000_000})
        self.expected.add(weights(repo))
        if self._placeholder:
            self.hub.set_files(self._placeholder, {"model.safetensors": 2_000_000})
            self.expected.add(weights(self._placeholder))
            self._placeholder = None
        elif self.step % 4 == 0:
            self._placeholder = f"Qwen/Qwen3.7-P{self.step}"
            self.hub.add_model(self._placeholder, {"README.md": 10})
            self.expected.add(placeholder(self._placeholder))


class Rig:
    """A config file and database in `root`, the fakes, and the real CLI run as child processes."""

    def __init__(self, root: Path, hub, github, slack, latency: float = 0.0, webhook: bool = False) -> None:
        self.root, self.hub, self.github, self.slack = root, hub, github, slack
        github.add_org("QwenLM")
        self.db = root / "watcher.db"
        self.config = base_config(hub.url, github.url, self.db, slack.url)
        self.config["schedule"].update({"poll_interval": "1s", "jitter": 0, "deliver_interval": "1s"})
        self.path = root / "config.yaml"
        self.save()
        for fake in (hub, github, slack):
            fake.latency = latency
        self.env = {**os.environ, "WATCHER_NOW": IN_WINDOW, "NO_PROXY": "*", "HF_HOME": str(root / "hf"),
                    "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "SLACK_WEBHOOK_URL"):
            self.env.pop(name, None)
        if webhook:
            self.env["SLACK_WEBHOOK_URL"] = slack.webhook_url
        else:
            self.env["SLACK_BOT_TOKEN"] = TOKEN

    def save(self) -> None:
        self.path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def spawn(self, *args: str, preexec=None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(self.path), *args],
                                cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=preexec)

    def cli(self, *args: str, timeout: float = 60, preexec=None) -> subprocess.CompletedProcess:
        proc = self.spawn(*args, preexec=preexec)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def traffic(self) -> int:
        return sum(len(fake.requests) for fake in (self.hub, self.github, self.slack))

    def seen(self) -> Counter:
        with self.slack.lock:
            return alert_lines(list(self.slack.messages))

    def sql(self, query: str) -> list[tuple]:
        if not self.db.exists():
            raise sqlite3.OperationalError("no database yet")
        with sqlite3.connect(self.db) as conn:
            return conn.execute(query).fetchall()


def kill_point(rig: Rig, before: dict) -> str:
    """Where a kill landed, judged from what it left behind."""
    runs = rig.sql("select count(*) from poll_runs")[0][0]
    pending = rig.sql("select count(*) from deliveries where status = 'pending'")[0][0]
    if runs == before["runs"]:
        return "before commit"
    if len(rig.slack.messages) == before["messages"] and rig.sql(
            "select count(*) from deliveries where attempts > 0 and status = 'pending'")[0][0] == 0:
        return "after commit, before delivery" if pending else "after delivery"
    return "during delivery" if pending else "after delivery"


def kill_runs(rig: Rig, timeline: Timeline, runs: int, seed: int, log=None) -> tuple[Counter, int]:
    """`runs` kills: upstream changes, a `watcher poll` is SIGKILLed, then a normal `watcher poll` runs.

    Half the kills wait for the k-th request to the Hub/GitHub (fetching, before the commit), half for
    the k-th request to Slack (delivering, after the commit), each plus a random delay of up to 2.5
    request latencies, so kills also land between requests: in the commit, between a post and its
    bookkeeping. Returns where the kills landed (judged from what they left behind)."""
    rng = random.Random(seed)
    first = rig.cli("poll")  # the baseline
    assert first.returncode == 0, first.stderr
    timeline.advance()
    sources, posts = rig.traffic() - len(rig.slack.requests), len(rig.slack.requests)
    clean = rig.cli("poll")
    assert clean.returncode == 0, clean.stderr
    sources = rig.traffic() - len(rig.slack.requests) - sources
    posts = len(rig.slack.requests) - posts
    where: Counter = Counter()
    unkilled = 0
    while sum(where.values()) - unkilled < runs and unkilled < runs:  # a run that finished first is redone
        timeline.advance()
        before = {"runs": rig.sql("select count(*) from poll_runs")[0][0], "messages": len(rig.slack.messages)}
        slack_phase = rng.random() < 0.5
        target = rng.randint(1, max(1, posts) if slack_phase else max(1, sources))
        delay = rng.uniform(0, 2.5 * max(rig.hub.latency, 0.02))

        def reached(base=len(rig.slack.requests) if slack_phase else rig.traffic() - len(rig.slack.requests)):
            now = len(rig.slack.requests) if slack_phase else rig.traffic() - len(rig.slack.requests)
            return now >= base + target
        proc = rig.spawn("poll")
        deadline = time.monotonic() + 60
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            where[kill_point(rig, before)] += 1
        else:
            unkilled += 1
            where["finished before the kill"] += 1
        proc.communicate()
        after = rig.cli("poll")
        assert after.returncode == 0, after.stderr
        if log:
            log(f"kill {sum(where.values()) - unkilled}/{runs}: {where.most_common()}")
    return where, unkilled


class Sim:
    """The real pipeline in-process (sources, SQLite, SlackNotifier) against the fakes, with a clock that
    moves 15 minutes a cycle and Slack waits that are counted, not slept: long outages run in seconds."""

    def __init__(self, root: Path, hub, github, slack, timeout: str = "1s", **slack_cfg) -> None:
        import datetime as dt

        from watcher import config as config_mod
        from watcher.notify.slack import SlackNotifier
        from watcher.store.schema import open_current

        github.add_org("QwenLM")
        raw = base_config(hub.url, github.url, root / "watcher.db", slack.url)
        for api in ("huggingface", "github"):
            raw[api]["timeout"] = timeout
        raw["slack"].update({"timeout": "0.3s", **slack_cfg})
        # The clock moves 15 minutes a cycle from three days ago, so it stays behind the wall clock that
        # Slack's message timestamps and the rate-limit pauses use; the flagship is moved so that the
        # clock is inside the expected window, as in the CLI tests.
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=3)
        raw["watches"][0]["flagship"]["released"] = (self.now.date() - dt.timedelta(days=53)).isoformat()
        self.config = config_mod.Config.model_validate(raw)
        self.engine = open_current(self.config.database)
        self.step = dt.timedelta(minutes=15)
        self.slept = 0.0
        self.hub, self.github, self.slack = hub, github, slack
        self.notifiers = [SlackNotifier(self.config.slack, route, token=TOKEN, sleep=self._sleep,
                                        monotonic=lambda: 1000.0 + self.slept)
                          for route in self.config.slack.all_routes()]

    def _sleep(self, seconds: float) -> None:
        self.slept += seconds

    def __call__(self, n: int = 1):
        from watcher.engine.pipeline import run_cycle

        result = None
        for _ in range(n):
            result = run_cycle(self.config, self.engine, lambda: self.now, notifiers=self.notifiers)
            self.now += self.step
        return result

    def requeue_failed(self) -> int:
        """What `watcher notify retry` does once the channel or token is fixed."""
        from watcher.store import queries
        from watcher.store.db import transaction

        with transaction(self.engine) as session:
            rows = [d for d in queries.undelivered(session, limit=100_000) if d.status == queries.FAILED]
            for row in rows:
                row.status = queries.PENDING
        return len(rows)

    def seen(self) -> Counter:
        with self.slack.lock:
            return alert_lines(list(self.slack.messages))
