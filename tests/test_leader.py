"""Leader election: one poller per PostgreSQL database, handed over when the leader's session dies;
one daemon per SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from watcher.daemon.leader import LeaderError, Leadership
from watcher.store.schema import open_current


def test_one_leader_and_takeover_when_its_session_dies(pg_url):
    engine = open_current(pg_url)
    first, second = Leadership(engine).start(), Leadership(engine).start()
    try:
        assert first.is_leader() is True
        assert second.is_leader() is False
        assert first.is_leader() is True  # stays leader tick after tick
        with engine.connect() as conn:  # the leader's session dies (as when its process is killed)
            pid = first._conn.execute(text("select pg_backend_pid()")).scalar()
            first._conn.commit()
            conn.execute(text("select pg_terminate_backend(:p)"), {"p": pid})
        time.sleep(0.05)
        assert second.is_leader() is True
        assert first.is_leader() is False  # notices, steps down, and cannot win it back
        second.release()
        assert first.is_leader() is True  # a clean shutdown hands over at the next tick
    finally:
        first.release()
        second.release()


def test_guard_runs_the_job_only_on_the_leader(pg_url):
    engine = open_current(pg_url)
    leaders = [Leadership(engine).start() for _ in range(3)]
    ran: list[int] = []
    try:
        for _ in range(2):
            for i, leadership in enumerate(leaders):
                leadership.guard(ran.append)(i)
        assert ran == [0, 0]
    finally:
        for leadership in leaders:
            leadership.release()


def test_second_daemon_on_one_sqlite_file_is_refused(tmp_path):
    engine = open_current(f"sqlite:///{tmp_path / 'w.db'}")
    first = Leadership(engine).start()
    try:
        with pytest.raises(LeaderError, match=rf"already used by another `watcher run` \(pid {os.getpid()} on "):
            Leadership(engine).start()
        assert first.is_leader()
    finally:
        first.release()
    Leadership(engine).start().release()  # free again once the first daemon is gone


@pytest.mark.slow
def test_second_watcher_run_on_sqlite_exits_with_one_line(watcher, tmp_path):
    watcher.config["schedule"]["poll_interval"] = "1s"
    watcher.save()
    cmd = [sys.executable, "-m", "watcher", "--config", str(watcher.path), "run"]
    env = {**os.environ, "WATCHER_NOW": "2026-07-12T00:00:00Z"}
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "watcher.db.lock").exists() or not (tmp_path / "watcher.db.lock").read_text():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert second.returncode == 1
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert f"already used by another `watcher run` (pid {first.pid} on " in second.stderr
    assert "SQLite is single-node" in second.stderr
