"""Failover time of `watcher run` replicas on PostgreSQL: SIGKILL the leader, time until another polls.

    .venv/bin/python bench/failover.py [--replicas 3] [--kills 5] [--interval 1]

Starts a throwaway PostgreSQL cluster (tests/pg.py) and the fake APIs, runs the replicas as real
processes, and prints each failover and the min / median / max. Expect at most one poll interval:
a standby tries the advisory lock at each of its ticks, and the server frees it when the leader dies.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes import FakeGitHub, FakeHub, FakeSlack
from helpers import base_config
from pg import Cluster
from test_replicas import IN_WINDOW, Replicas, wait_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    cluster = Cluster().start()
    with FakeHub() as hub, FakeGitHub() as github, FakeSlack() as slack, tempfile.TemporaryDirectory() as tmp:
        url = cluster.new_database("bench")
        cfg = base_config(hub.url, github.url, Path(tmp) / "unused.db", slack.url)
        cfg["database"], cfg["schedule"]["poll_interval"] = url, f"{args.interval:g}s"
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(cfg))
        group = Replicas(Path(tmp) / "config.yaml", tmp, url)
        try:
            for _ in range(args.replicas):
                group.start(IN_WINDOW)
            wait_for(lambda: all(d.lines and any(" leader: " in line for _, line in d.lines) for d in group.daemons),
                     "every replica to take its role")
            times = []
            for _ in range(args.kills):
                leader = group.leader()
                killed = time.monotonic()
                leader.stop(signal.SIGKILL)
                successor = group.leader()
                times.append(successor.became_leader_at() - killed)
                print(f"failover {times[-1]:.2f}s")
                fresh = group.start(IN_WINDOW)  # keep the replica count up; measure in a steady state
                wait_for(lambda: any("stands by" in line for _, line in fresh.lines), "the new standby")
            print(f"{args.replicas} replicas, poll interval {args.interval:g}s, {args.kills} kills: "
                  f"min {min(times):.2f}s, median {statistics.median(times):.2f}s, max {max(times):.2f}s")
        finally:
            group.close()
            cluster.stop()


if __name__ == "__main__":
    main()
