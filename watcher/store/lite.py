"""Read-only answers from an SQLite file through the standard library's sqlite3, for `status --check`,
`status` (store/status_reads.py) and the reads a `watcher poll` makes before its first request
(store/cycle_reads.py).

Why: a container health check runs every few seconds, and importing SQLAlchemy costs more than the
whole check. Only plain `sqlite:///path` URLs take this path; anything it cannot read the same way
(another backend, URL options, an older schema) returns None and the caller uses SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from watcher.store.revision import head


@dataclass(frozen=True)
class DaemonRunRow:
    started_at: dt.datetime
    stopped_at: dt.datetime | None


@dataclass(frozen=True)
class HealthRow:
    watch: str
    source: str
    consecutive_failures: int
    last_success_at: dt.datetime | None


def sqlite_path(url: str) -> str | None:
    """The file of a plain sqlite:///path URL; None for every other form."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or "#" in url:
        return None
    path = unquote(url[len(prefix):])
    return path if path and path != ":memory:" and not path.startswith("file:") else None


def when(value) -> dt.datetime | None:
    """SQLAlchemy keeps UTC datetimes on SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff' text."""
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def loads(value: str | bytes | None) -> Any:
    """SQLAlchemy's JSON type on SQLite: text through json.loads; SQL NULL is None."""
    return None if value is None else json.loads(value)


def stamp(value: dt.datetime) -> str:
    """A datetime as SQLAlchemy binds it on SQLite (UTC, naive text), so comparisons in SQL match its own."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def connect_read_only(path: str) -> sqlite3.Connection | None:
    """A connection that cannot write or create the file (mode=ro), in autocommit: the caller BEGINs."""
    try:
        return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None


def begin_at_head(conn: sqlite3.Connection) -> bool:
    """Open one read transaction (one snapshot for every query that follows) and say whether the schema is
    this release's newest; any other revision is SQLAlchemy's and Alembic's to read or refuse."""
    conn.execute("BEGIN")
    return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")] == [head()]


def health_rows(path: str) -> tuple[DaemonRunRow | None, list[HealthRow]] | None:
    """The latest daemon run and every source-health row, or None when the file cannot be read this way."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        daemon = conn.execute("SELECT started_at, stopped_at FROM daemon_runs ORDER BY id DESC LIMIT 1").fetchone()
        rows = conn.execute("SELECT watch, source, consecutive_failures, last_success_at FROM source_health").fetchall()
        return (DaemonRunRow(when(daemon[0]), when(daemon[1])) if daemon else None,
                [HealthRow(w, s, int(n or 0), when(at)) for w, s, n, at in rows])
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()
