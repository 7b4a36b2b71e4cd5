"""Which `watcher run` replica polls: exactly one at a time, and another within one interval if it dies.

PostgreSQL: the leader holds a session-level advisory lock on a connection of its own. The server
drops the lock the moment that session ends (a killed process's socket closes at once), and every
standby tries `pg_try_advisory_lock` at each poll tick, so failover takes at most one poll interval.
A leader checks its connection before every cycle and steps down when it is gone.

SQLite is single-node: the daemon holds an flock on `<db>.lock` for its lifetime and a second
daemon on the same file is refused with an error naming the holder.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from contextlib import ExitStack
from functools import wraps
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from watcher.store.db import safe_url
from watcher.store.locks import LEADER_KEY, LockBusy, file_lock, is_postgres, lock_file, store_lock

log = logging.getLogger(__name__)
T = TypeVar("T")

# libpq keepalives: a leader whose server vanished notices within ~15 s instead of hanging on TCP.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


class LeaderError(Exception):
    """This daemon may not run at all (another one owns the SQLite file)."""


def identity() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class Leadership:
    """Ask `is_leader()` before each poll; `guard(job)` wraps the poll job with that check and the cycle lock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stack = ExitStack()
        self._conn: Connection | None = None
        self._lock_engine: Engine | None = None
        self.leader = False
        self._announced = False

    def start(self) -> Leadership:
        """Claim the SQLite file for this daemon (refusing a second one); nothing to do on PostgreSQL yet."""
        path = None if is_postgres(self.engine) else lock_file(self.engine, ".lock")
        if path is not None:
            since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
            try:
                self._stack.enter_context(file_lock(path, wait=False, note=f"{identity()}, since {since}"))
            except LockBusy as busy:
                raise LeaderError(
                    f"database {safe_url(str(self.engine.url))} is already used by another `watcher run` "
                    f"({busy.args[0] or 'unknown process'}); SQLite is single-node: stop that daemon, "
                    "or use PostgreSQL to run several replicas") from None
        return self

    def is_leader(self) -> bool:
        if not is_postgres(self.engine):
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1")).scalar()
                self._conn.commit()
                return True
            except Exception as exc:  # noqa: BLE001 - a lost session means the lock is gone too
                log.warning("leader: lost the database session (%s); stepping down", type(exc).__name__)
                self._drop()
        return self._try_acquire()

    def _try_acquire(self) -> bool:
        try:
            if self._lock_engine is None:
                self._lock_engine = create_engine(self.engine.url, poolclass=NullPool, connect_args=KEEPALIVES)
            conn = self._lock_engine.connect()
        except Exception as exc:  # noqa: BLE001 - the database may be down; try again next tick
            log.warning("leader: cannot reach the database (%s)", type(exc).__name__)
            return self._became(False)
        try:
            won = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar())
            conn.commit()
        except Exception:  # noqa: BLE001 - a lock we could not take is a lock we do not hold
            won = False
        if won:
            self._conn = conn
        else:
            conn.close()
        return self._became(won)

    def _became(self, leader: bool) -> bool:
        """Log each change of role (and the first one), not every tick."""
        if leader != self.leader or not self._announced:
            if leader:
                log.info("leader: this replica (%s) polls from now on", identity())
            else:
                log.info("leader: another replica polls; this one (%s) stands by", identity())
        self.leader, self._announced = leader, True
        return leader

    def _drop(self) -> None:
        conn, self._conn, self.leader = self._conn, None, False
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - dropping a dead connection; its locks died with it
                pass

    def guard(self, job: Callable[..., T]) -> Callable[..., T | None]:
        """A writing job (poll, cadence): only on the leader, never alongside another cycle (a cron `watcher poll`)."""

        @wraps(job)
        def run(*args, **kwargs):
            if not self.is_leader():
                return None
            with store_lock(self.engine):
                return job(*args, **kwargs)

        return run

    def release(self) -> None:
        """Give up leadership at shutdown so a standby takes over at its next tick."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_KEY})
                self._conn.commit()
            except Exception:  # noqa: BLE001 - best effort at shutdown; closing releases the lock anyway
                pass
            self._conn.close()
            self._conn = None
        if self._lock_engine is not None:
            self._lock_engine.dispose()
        self._stack.close()
