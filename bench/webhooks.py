"""Detection latency: a new matching repo on the Hub -> its Slack alert, by webhook vs by polling.

    .venv/bin/python bench/webhooks.py            # 20 releases each way, about a minute
    .venv/bin/python bench/webhooks.py --quick    # 3 each way (the test suite runs this)

Both figures come from one run against the project's fakes on 127.0.0.1 (Hub, GitHub, Slack), with a
real `watcher run` daemon in this process (waitress receiver, APScheduler, SQLite, the Slack notifier).

- By webhook: measured. The fake Hub posts a real-shaped payload with the secret to the receiver right
  after the repo appears; the clock stops when the fake Slack holds the alert. It includes the
  receiver's 1 s settle window (wake.SETTLE), which lets a burst of payloads become one poll.
- By polling at the default interval (15 min, jitter 10%): computed, not waited for. A release lands
  at a uniformly random moment of the daemon's schedule (gaps of interval + uniform(0, jitter), as
  APScheduler's IntervalTrigger draws them), waits for the next poll (Monte Carlo over 100,000
  releases), then takes one poll cycle, which *is* measured here: the same daemon, a new repo, one
  scheduled-style poll, until the Slack alert.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.update({"NO_PROXY": "*", "SLACK_BOT_TOKEN": "xoxb-bench-token", "WATCHER_WEBHOOK_SECRET":
                   "whs-bench-secret-0123456789"})
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "HF_TOKEN", "SLACK_WEBHOOK_URL",
             "WATCHER_DATABASE_URL", "HF_ENDPOINT", "WATCHER_CONFIG", "WATCHER_NOW"):
    os.environ.pop(_var, None)

from daemon_proc import wait_for  # noqa: E402
from fakes import FakeGitHub, FakeHub, FakeSlack  # noqa: E402
from webhook_helpers import GB, LiveDaemon, webhook_config  # noqa: E402

from watcher.config import Schedule  # noqa: E402

SECRET = os.environ["WATCHER_WEBHOOK_SECRET"]


def _fmt(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {_fmt(statistics.median(ordered))}, p90 {_fmt(p90)}, max {_fmt(ordered[-1])}"


def release(hub: FakeHub, n: int) -> str:
    repo = f"Qwen/Qwen3.7-{n}B"
    hub.add_model(repo, {"config.json": 1, "model.safetensors": n * GB})
    return repo


def by_webhook(live: LiveDaemon, hub: FakeHub, slack: FakeSlack, trials: int) -> list[float]:
    hub.add_webhook(live.url, [{"type": "org", "name": "Qwen"}], SECRET, domains=["repo"])
    out = []
    for i in range(trials):
        before = len(slack.messages)
        start = time.monotonic()
        repo = release(hub, 100 + i)
        assert hub.send_webhooks(repo, "create", "repo") == [202]
        wait_for(lambda: len(slack.messages) > before, "the webhook's alert", timeout=60)
        out.append(time.monotonic() - start)
    return out


def poll_cycles(live: LiveDaemon, hub: FakeHub, slack: FakeSlack, trials: int) -> list[float]:
    """One scheduled-style poll per new repo (the job the interval would fire), until the alert is in Slack."""
    out = []
    for i in range(trials):
        before = len(slack.messages)
        start = time.monotonic()
        release(hub, 500 + i)
        live.daemon.poll("poll", live.config.watches)
        wait_for(lambda: len(slack.messages) > before, "the poll's alert", timeout=60)
        out.append(time.monotonic() - start)
    return out


def poll_waits(schedule: Schedule, cycle: float, releases: int = 100_000, seed: int = 7) -> list[float]:
    """Releases at uniform random moments of an interval+jitter schedule: wait for the next poll, plus a cycle."""
    rng = random.Random(seed)
    interval = schedule.poll_interval.total_seconds()
    jitter = schedule.jitter_for(schedule.poll_interval).total_seconds()
    polls, t = [], 0.0
    horizon = releases * interval / 50
    while t < horizon + 2 * interval:
        t += interval + rng.uniform(0, jitter)
        polls.append(t)
    arrivals = sorted(rng.uniform(interval, horizon) for _ in range(releases))
    waits, k = [], 0
    for arrival in arrivals:
        while polls[k] < arrival:
            k += 1
        waits.append(polls[k] - arrival + cycle)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 releases each way instead of 20")
    trials = 3 if parser.parse_args().quick else 20
    default = Schedule()
    with FakeHub() as hub, FakeGitHub() as github, FakeSlack() as slack, tempfile.TemporaryDirectory() as tmp:
        raw = webhook_config(hub, github, slack, Path(tmp))
        raw["watches"][0].pop("github")  # GitHub is not what this measures
        raw["schedule"] = {"poll_interval": "1h", "deliver_interval": "1h", "cadence_interval": "1h"}
        live = LiveDaemon(raw).start()
        try:
            wait_for(lambda: len(slack.messages) == 1, "the first cycle", timeout=60)
            hooks = by_webhook(live, hub, slack, trials)
            cycles = poll_cycles(live, hub, slack, trials)
        finally:
            live.stop()
    polled = poll_waits(default, statistics.median(cycles))
    print("Detection latency, new matching repo on the Hub -> Slack alert (fakes on 127.0.0.1; 2 CPUs, shared)")
    print(f"  by webhook (measured, {trials} releases):        {_summary(hooks)}")
    print(f"  by polling every {_fmt(default.poll_interval.total_seconds())}, jitter {default.jitter} "
          f"(default; computed): {_summary(polled)}")
    print(f"     = wait for the next poll (Monte Carlo over {len(polled):,} releases on the interval+jitter "
          f"schedule) + one poll cycle, measured: {_summary(cycles)} over {trials} cycles")
    print(f"  webhook is {statistics.median(polled) / statistics.median(hooks):.0f}x sooner (median)")


if __name__ == "__main__":
    main()
