"""Several `watcher run` replicas on one PostgreSQL: one polls, every alert goes out once, and when the
leader is killed (SIGKILL) another takes over within one poll interval.

Daemons are real processes on a 1 s poll interval, against the fakes; the test waits on the database,
never on fixed sleeps. Run with `-s` to see the measured failover times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from daemon_proc import wait_for
from helpers import base_config
from sqlalchemy import create_engine, text

IN_WINDOW, AFTER_WINDOW = "2026-07-12T12:00:00Z", "2026-07-25T12:00:00Z"
INTERVAL = 1.0
GB = 1_000_000_000
LEADER_LINE = "polls from now on"


class Daemon:
    """One `watcher run` process; its log lines are collected with the moment they arrived."""

    def __init__(self, config_path, cwd, now: str) -> None:
        env = {**os.environ, "WATCHER_NOW": now, "SLACK_BOT_TOKEN": "xoxb-replica-test"}
        self.proc = subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(config_path), "run"],
                                     cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))

    @property
    def leader(self) -> bool:
        roles = [line for _, line in self.lines if " leader: " in line]
        return self.proc.poll() is None and bool(roles) and LEADER_LINE in roles[-1]

    def became_leader_at(self) -> float | None:
        return next((t for t, line in self.lines if LEADER_LINE in line), None)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=5)

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)


class Replicas:
    def __init__(self, config_path, cwd, url: str) -> None:
        self.config_path, self.cwd = config_path, cwd
        self.engine = create_engine(url)
        self.daemons: list[Daemon] = []

    def start(self, now: str) -> Daemon:
        daemon = Daemon(self.config_path, self.cwd, now)
        self.daemons.append(daemon)
        return daemon

    def alive(self) -> list[Daemon]:
        return [d for d in self.daemons if d.proc.poll() is None]

    def leader(self) -> Daemon:
        return wait_for(lambda: next((d for d in self.alive() if d.leader), None), "a leader")

    def delivered(self) -> int:
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("select count(*) from deliveries where status = 'delivered'")).scalar()
            except Exception:  # noqa: BLE001 - the first replica may still be creating the schema
                return 0

    def wait_delivered(self, n: int) -> None:
        wait_for(lambda: self.delivered() >= n, f"{n} delivered alert(s)")

    def close(self) -> None:
        for daemon in self.daemons:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait(timeout=30)
        self.engine.dispose()


@pytest.fixture
def replicas(hub, github, slack, pg_url, tmp_path):
    cfg = base_config(hub.url, github.url, tmp_path / "unused.db", slack.url)
    cfg["database"] = pg_url
    cfg["schedule"]["poll_interval"] = f"{INTERVAL:g}s"
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    group = Replicas(tmp_path / "config.yaml", tmp_path, pg_url)
    yield group
    group.close()


@pytest.mark.slow
@pytest.mark.parametrize("count", [2, 3])
def test_replicas_alert_once_through_failover_and_rolling_restart(replicas, hub, github, slack, count):
    for _ in range(count):  # all start at once: they also race to create the schema
        replicas.start(IN_WINDOW)
    replicas.wait_delivered(1)  # watching started
    assert sum(d.leader for d in replicas.alive()) == 1

    github.add_repo("QwenLM/Qwen3.7")  # visibility flip: hidden (404) -> public
    replicas.wait_delivered(2)

    leader = replicas.leader()
    polled = [d for d in replicas.daemons if any(" cycle " in line for _, line in d.lines)]
    assert polled == [leader]  # standbys never ran a cycle
    killed_at = time.monotonic()
    leader.stop(signal.SIGKILL)
    successor = replicas.leader()
    failover = successor.became_leader_at() - killed_at
    print(f"\n{count} replicas: failover after SIGKILL of the leader took {failover:.2f}s (interval {INTERVAL:g}s)")
    # one interval (the standby's next tick) plus scheduling slack on a busy 2-core CI machine
    assert failover <= INTERVAL + 0.75, f"failover took {failover:.2f}s"
    hub.add_model("Qwen/Qwen3.7-Plus", {"README.md": 1})  # the probed Hub repo appears: placeholder
    replicas.wait_delivered(3)

    for old in replicas.alive():  # rolling restart onto a later clock: the window has passed
        old.stop()
        replicas.start(AFTER_WINDOW)
    replicas.wait_delivered(4)  # overdue, once

    for size in (4, 9, 32):  # the drop
        hub.add_model(f"Qwen/Qwen3.7-{size}B", {"model.safetensors": size * GB})
    replicas.wait_delivered(5)
    time.sleep(3 * INTERVAL)  # a few more cycles on every replica: nothing more may be sent

    texts = [m["text"] for m in slack.messages]
    outputs = "\n".join(d.output() for d in replicas.daemons)
    assert len(texts) == 5, texts
    assert "Watching started" in texts[0]
    assert "GitHub repo is now public: QwenLM/Qwen3.7" in texts[1]
    assert "New repo, no weights yet (placeholder): Qwen/Qwen3.7-Plus" in texts[2]
    assert "Overdue" in texts[3]
    assert all(f"Qwen/Qwen3.7-{size}B" in texts[4] for size in (4, 9, 32))
    with replicas.engine.connect() as conn:
        rows = conn.execute(text("select status, attempts from deliveries")).fetchall()
        kinds = conn.execute(text("select kind, repo_id from events")).fetchall()
    assert rows == [("delivered", 1)] * 5, rows
    assert len(kinds) == len(set(kinds))
    assert "Traceback" not in outputs and " ERROR " not in outputs and "job poll failed" not in outputs
