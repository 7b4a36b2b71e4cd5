"""Drive `watcher run` as a real process: start it, wait on the database, signal it, read its log."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def wait_for(predicate, what: str = "condition", timeout: float = 30.0, step: float = 0.05):
    """Poll a condition about another process or thread (no clock to inject there), never a fixed sleep;
    fail naming it after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from poll_runs where finished_at is not null").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


class Daemon:
    def __init__(self, args: list[str], cwd: Path, env: dict | None = None, command: list[str] | None = None):
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen((command or [sys.executable, "-m", "watcher"]) + args, cwd=cwd, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""

    def signal(self, signum=signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
        self.output = out
        return self.proc.returncode, out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
