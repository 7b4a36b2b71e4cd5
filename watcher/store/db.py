"""Engine and transactions. SQLite is the embedded default; any SQLAlchemy URL works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from watcher.store.errors import StoreError, first_line, safe_url
from watcher.store.opened import opened

__all__ = ["StoreError", "first_line", "open_engine", "safe_url", "store_errors", "transaction"]


def _prepare_sqlite_file(database: str | None) -> None:
    """Create the file ourselves with mode 0600: it holds the watch history and nothing else should read it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():  # a typo in the path must not scatter directories: say so instead
        raise StoreError(f"database sqlite:///{database}: the directory {path.parent} does not exist; "
                         "create it first (mkdir -p), watcher creates only the file")
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif not os.access(path, os.R_OK | os.W_OK):  # SQLite would only say "unable to open database file"
        raise StoreError(f"database sqlite:///{database}: cannot write {path}: permission denied (mode "
                         f"{path.stat().st_mode & 0o777:o}, owner uid {path.stat().st_uid}); `watcher poll` and "
                         "`watcher run` write, `status`, `events` and `cadence` only read")


def open_engine(url: str, create: bool = True) -> Engine:
    """Connect, creating an SQLite file (privately) when asked; nothing else, no schema: the callers that
    write run the migrations themselves (store/schema.py), the readers never do. Raises StoreError."""
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    with store_errors(url):
        if is_sqlite:
            if create:
                _prepare_sqlite_file(parsed.database)
            elif parsed.database and parsed.database != ":memory:" and not Path(parsed.database).exists():
                raise StoreError(f"database: {safe_url(url)} does not exist yet (run `watcher poll` first)")
        # A busy SQLite file (another writer) is waited for, 30 s unless the URL says ?timeout=N.
        connect_args = {"timeout": 30} if is_sqlite and "timeout" not in parsed.query else {}
        engine = create_engine(url, connect_args=connect_args)
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        return opened(engine)


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a non-numeric port raises here, not deep inside the driver
    except (ArgumentError, ValueError):
        raise StoreError(f"database: {safe_url(url)} is not a valid SQLAlchemy URL") from None
    return parsed


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Turn a driver's failure (opening, migrating) into one StoreError line naming the URL, never its password."""
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    try:
        yield
    except StoreError:
        raise
    except ImportError as exc:
        hint = ""
        if "psycopg2" in str(exc):
            hint = " (watcher uses psycopg 3: write the URL as postgresql+psycopg://...)"
        elif "psycopg" in str(exc):
            hint = " (install the PostgreSQL driver: pip install 'openweights-watcher[postgres]')"
        raise StoreError(f"database {safe_url(url)}: {first_line(exc)}{hint}") from None
    except (SQLAlchemyError, OSError) as exc:
        from watcher.store.problems import describe
        from watcher.store.reader import describe_open_error

        where = Path(parsed.database).resolve() if is_sqlite and parsed.database not in (None, "", ":memory:") else None
        message = describe_open_error(exc, where)  # names the directory we may not enter
        if message == first_line(exc):
            message = describe(exc, where)  # names a leftover read-only -shm/-wal, or gives a hint
        raise StoreError(f"database {safe_url(url)}: {message}") from None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets `watcher status` read while the daemon writes; foreign keys keep history consistent."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception:  # noqa: BLE001 - read-only file systems refuse WAL; the default journal still works
        pass
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        with session.begin():
            yield session
