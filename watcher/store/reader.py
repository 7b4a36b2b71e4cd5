"""Opening the database for commands that only read it (status, events, cadence, status --check).

They create nothing and write nothing: no SQLite file or lock file appears where there was none, no
journal-mode switch, no migration. So they work on a read-only file or a replica's read-only user,
and next to a running daemon. The schema revision is read with one plain SELECT; the migration
scripts are only looked at (as text) to know the newest revision, and Alembic is imported only when
the revisions do not form one chain.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from watcher.store.errors import StoreError, first_line, safe_url
from watcher.store.opened import opened
from watcher.store.revision import head

HOW_TO_CREATE = "`watcher poll` (one cycle) or `watcher db upgrade` creates it"


class NoDatabase(StoreError):
    """Nothing at that URL yet: not an error for the health check's "never polled", but worth saying."""


class SchemaBehind(StoreError):
    """The database predates this release's schema; reading it with new tables would fail half-way."""


def _sqlite_path(parsed: URL) -> Path | None:
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_reader(url: str, parsed: URL, path: Path, immutable: bool = False) -> Engine:
    if not path.exists():
        raise NoDatabase(f"database {safe_url(url)}: there is no database at {path} yet; {HOW_TO_CREATE}")
    if not os.access(path, os.R_OK):
        raise StoreError(f"database {safe_url(url)}: cannot read {path}: permission denied")
    timeout = parsed.query.get("timeout", "30")
    mode = "immutable=1" if immutable else "mode=ro"
    engine = create_engine(f"sqlite:///file:{path.resolve()}?{mode}&uri=true", connect_args={"timeout": float(timeout)})
    event.listen(engine, "connect", _foreign_keys)
    return opened(engine)


def _needs_immutable(exc: SQLAlchemyError, path: Path | None) -> bool:
    """A WAL file on a read-only file system (or in a directory we may not write): SQLite cannot make the
    `-shm` index it wants even for reading. With no `-wal` file there is no writer and nothing
    uncommitted, so reading the file as immutable gives exactly what is stored."""
    if path is None or "unable to open database file" not in str(exc):
        return False
    if Path(f"{path}-wal").exists():
        return False  # a writer may be at work: never read around its log
    folder = path.resolve().parent
    return _read_only_fs(path) or (not Path(f"{path}-shm").exists() and not os.access(folder, os.W_OK | os.X_OK))


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _foreign_keys(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA foreign_keys=ON")  # a connection setting: writes nothing to the file


def open_reader(url: str) -> Engine:
    """An engine for reading only; raises NoDatabase, SchemaBehind or StoreError with one line for the user."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database: {safe_url(url)} is not a valid SQLAlchemy URL") from None
    path = _sqlite_path(parsed)
    try:
        engine = _sqlite_reader(url, parsed, path) if path is not None else opened(create_engine(url))
        try:
            check_revision(engine, url)
        except SQLAlchemyError as exc:
            if not _needs_immutable(exc, path):
                raise
            engine = _sqlite_reader(url, parsed, path, immutable=True)
            check_revision(engine, url)
        return engine
    except StoreError:
        raise
    except ImportError as exc:
        raise StoreError(f"database {safe_url(url)}: {first_line(exc)} (install the driver: "
                         "pip install 'watcher[postgres]')") from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise StoreError(f"database {safe_url(url)}: {describe_open_error(exc, path)}") from None


def describe_open_error(exc: BaseException, path: Path | None) -> str:
    """SQLite's "unable to open database file" names neither the file nor the reason."""
    message = first_line(exc)
    if path is not None and "unable to open database file" in message:
        folder = path.resolve().parent
        if not os.access(folder, os.X_OK):
            return f"cannot open {path}: no access to the directory {folder} (permission denied)"
        return f"cannot open {path}: {message}"
    return message


def stored_revisions(engine: Engine) -> list[str]:
    """The rows of `alembic_version` with one plain SELECT ([] when the table is missing): no Alembic."""
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    except SQLAlchemyError as exc:
        if "alembic_version" not in str(exc):
            raise
        return []


def at_head(engine: Engine) -> bool:
    """Whether the schema is this release's newest, so a writer can skip Alembic's import (a third of a
    quiet `watcher poll`'s start-up). Anything else (empty, behind, ahead, two heads) is Alembic's call."""
    return stored_revisions(engine) == [head()]


def check_revision(engine: Engine, url: str) -> None:
    """The schema must be this release's: one SELECT, no Alembic, nothing written."""
    revision = next(iter(stored_revisions(engine)), None)
    if revision is None and inspect(engine).has_table("poll_runs"):
        raise SchemaBehind(f"database {safe_url(url)}: created before migrations: run `watcher db upgrade` to adopt it")
    if revision is None:
        raise NoDatabase(f"database {safe_url(url)}: has no watcher schema yet; {HOW_TO_CREATE}")
    newest = head()
    if revision == newest:
        return
    from watcher.store import migrate  # behind or ahead: worth Alembic's full view

    known = migrate.revisions()
    if revision in known:
        raise SchemaBehind(f"database {safe_url(url)}: schema at revision {revision}, this watcher reads {newest}: "
                           "run `watcher db upgrade` (the daemon and `watcher poll` also upgrade on start)")
    raise StoreError(f"database {safe_url(url)}: schema at revision {revision}, newer than this watcher knows "
                     f"(up to {newest}); upgrade watcher")


def empty_store() -> Engine:
    """An in-memory database with the schema and nothing in it: what `status` reads when there is no
    database yet, so the forecast from the config still shows (every watch unknown until a poll)."""
    from sqlalchemy.pool import StaticPool

    from watcher.store.tables import Base

    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    return engine
