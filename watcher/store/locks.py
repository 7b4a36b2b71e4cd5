"""Cross-process locks: PostgreSQL advisory locks, or a file lock next to an SQLite file.

Why: several replicas (or cron `watcher poll`s) share one database. Migrations and poll cycles must
never overlap, and only one daemon may lead. PostgreSQL releases an advisory lock the moment the
holding session dies (SIGKILL closes its socket), which is what makes failover quick; a file lock
(`flock`) is released by the kernel the same way when an SQLite daemon dies.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy loads only where a lock needs an engine: `watcher poll` takes its file lock first
    from sqlalchemy import Connection, Engine

# Fixed 64-bit keys in PostgreSQL's advisory-lock space ("watcher" in ASCII, then a slot number).
STORE_KEY = 0x7761746368657201  # migrations and poll cycles: one at a time
LEADER_KEY = 0x7761746368657202  # the daemon that polls

_memory_locks: dict[str, threading.Lock] = {}


class LockFileError(OSError):
    """The lock file cannot be opened (a directory, another user's file): said in one line, naming it."""


class LockBusy(Exception):
    """Someone else holds the lock and the caller asked not to wait."""


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def sqlite_path(engine: Engine) -> Path | None:
    """The database file, or None for an in-memory database."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def file_identity(engine: Engine) -> tuple[Path, int, int] | None:
    """(path, device, inode) of an SQLite file, to notice it being deleted or replaced later."""
    path = sqlite_path(engine)
    if path is None or not path.exists():
        return None
    stat = path.stat()
    return path, stat.st_dev, stat.st_ino


def store_gone(identity: tuple[Path, int, int] | None) -> str | None:
    """Why the SQLite file we opened is no longer the one at its path; None while it is.

    A deleted file stays writable through open connections: a daemon would go on storing into a
    file no one can read again, and `status` would open a new empty one."""
    if identity is None:
        return None
    path, device, inode = identity
    try:
        stat = path.stat()
    except FileNotFoundError:
        return f"database file {path} was deleted while the daemon runs"
    if (stat.st_dev, stat.st_ino) != (device, inode):
        return f"database file {path} was replaced while the daemon runs"
    return None


def lock_file(engine: Engine, suffix: str) -> Path | None:
    path = sqlite_path(engine)
    return path.with_name(path.name + suffix) if path else None


CYCLE_LOCK = ".cycle.lock"


def cycle_lock_path(database: str) -> Path:
    """The store lock of the SQLite file at `database`: one function, so every taker locks the same file."""
    path = Path(database).resolve()
    return path.with_name(path.name + CYCLE_LOCK)


@contextmanager
def store_lock(engine: Engine) -> Iterator[None]:
    """Held for a migration or a whole poll cycle; waits for the holder to finish."""
    if is_postgres(engine):
        with _advisory(engine, STORE_KEY):
            yield
        return
    database = sqlite_path(engine)
    if database is None:
        with _memory_locks.setdefault(str(engine.url), threading.Lock()):
            yield
        return
    with file_lock(cycle_lock_path(str(database)), wait=True):
        yield


@contextmanager
def _advisory(engine: Engine, key: int) -> Iterator[Connection]:
    """A session-level advisory lock on its own connection, released (or the connection dropped) at exit."""
    from sqlalchemy import text

    conn = engine.connect()
    try:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        yield conn
    finally:
        try:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        except Exception:  # noqa: BLE001 - a dead connection has released its locks already
            conn.invalidate()
        conn.close()


@contextmanager
def file_lock(path: Path, wait: bool, note: str | None = None) -> Iterator[int]:
    """flock on `path` (created 0600). With wait=False raise LockBusy (with the holder's note) at once."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LockFileError(f"lock file {path}: {exc.strerror or exc}; remove it or fix its owner") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            raise LockBusy(holder) from None
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        yield fd
    finally:
        os.close(fd)  # closing drops the lock
