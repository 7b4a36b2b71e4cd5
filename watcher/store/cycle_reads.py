"""What a poll cycle reads before its requests: the sources' saved states and the watches' stored repos,
through SQLAlchemy or (a `watcher poll` on a plain SQLite file) through sqlite3.

Why two readers: a poll process that waited for SQLAlchemy before its first request would spend a third
of its life idle (engine/head_start.py). Both readers fold their rows with the same functions here, so
the two paths cannot drift; tests/test_head_start.py compares them on the same file. The sqlite3 reader
is only ever used under the cycle lock, after `begin_at_head`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from watcher.models import RepoSnapshot
from watcher.store import lite

Validators = dict[str, tuple[str | None, str | None, Any]]  # endpoint key -> (etag, last_modified, body)
RepoRowValues = tuple[int, Any, dt.datetime | None, dt.datetime | None]  # id, snapshot JSON, first_seen, weights_seen


@dataclass(frozen=True)
class StoredRepo:
    """One repo row as the cycle found it: enough to write back only what changed."""

    id: int
    data: dict[str, Any]  # the snapshot JSON exactly as stored
    snapshot: RepoSnapshot
    first_seen: dt.datetime | None
    weights_seen: dt.datetime | None
    duplicates: tuple[int, ...] = ()  # rows of a second spelling of this repo, stored before ids were case-folded


def fold_repos(rows: Iterable[RepoRowValues]) -> dict[str, StoredRepo]:
    """A watch's rows in id order, one StoredRepo per repo: the oldest row is kept, and the next save folds
    the others into it."""
    out: dict[str, StoredRepo] = {}
    for row_id, data, first_seen, weights_seen in rows:
        snap = RepoSnapshot.from_dict(data)
        if snap.key in out:
            out[snap.key] = replace(out[snap.key], duplicates=(*out[snap.key].duplicates, row_id))
        else:
            out[snap.key] = StoredRepo(row_id, data, snap, first_seen, weights_seen)
    return out


def budgets_of(rows: Iterable[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    return {source: dict(state or {}) for source, state in rows}


def open_lite(path: str) -> sqlite3.Connection | None:
    """A read-only connection in a read transaction on a file at this release's schema; None otherwise."""
    conn = lite.connect_read_only(path)
    if conn is None:
        return None
    try:
        if lite.begin_at_head(conn):
            return conn
    except sqlite3.Error:
        pass
    conn.close()
    return None


def lite_budgets(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    return budgets_of((source, lite.loads(state)) for source, state in conn.execute("SELECT source, state FROM api_budget"))


def lite_validators(conn: sqlite3.Connection, source: str) -> Validators:
    rows = conn.execute("SELECT key, etag, last_modified, body FROM http_cache WHERE source = ?", (source,))
    return {key: (etag, modified, lite.loads(body)) for key, etag, modified, body in rows}


def lite_stored_repos(path: str, watches: Sequence[str]) -> dict[str, dict[str, StoredRepo]]:
    """Every watch's stored repos, on a connection of its own (the caller reads them on another thread)."""
    conn = open_lite(path)
    if conn is None:
        raise sqlite3.OperationalError(f"{path}: cannot be read at this release's schema")
    try:
        return {name: fold_repos((row_id, lite.loads(data), lite.when(first), lite.when(weights))
                                 for row_id, data, first, weights in conn.execute(
                                     "SELECT id, snapshot, first_seen, weights_seen FROM repos WHERE watch = ? "
                                     "ORDER BY id", (name,)))
                for name in watches}
    finally:
        conn.close()
