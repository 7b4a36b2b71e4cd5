"""`watcher status --check`: the container's HEALTHCHECK, from the config and the database only.

Healthy means every watch had a successful poll (at least one of its sources answered without
error) within 3x its poll interval. A daemon that just started gets `schedule.startup_grace` (plus
one interval when `run_at_start` is off) before "never polled" counts against it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from watcher.config import Config, Watch
from watcher.store import lite

HEALTHY, UNHEALTHY, BROKEN = 0, 1, 2
STALE_FACTOR = 3


def _ago(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def interval_of(config: Config, watch: Watch) -> dt.timedelta:
    return watch.poll_interval or config.schedule.poll_interval


def _missing_sqlite_file(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    database = parsed.database
    return (parsed.get_backend_name() == "sqlite" and bool(database) and database != ":memory:"
            and not database.startswith("file:") and not Path(database).exists())


def check(config: Config, now: dt.datetime) -> tuple[int, str]:
    """(exit code, one line saying why). A plain SQLite file is read without importing SQLAlchemy."""
    path = lite.sqlite_path(config.database)
    if path is not None and Path(path).exists():
        found = lite.health_rows(path)
        if found is not None:
            return judge(config, now, *found)
    return _check_through_sqlalchemy(config, now)


def _check_through_sqlalchemy(config: Config, now: dt.datetime) -> tuple[int, str]:
    from sqlalchemy import select

    from watcher.store.db import StoreError, safe_url, transaction
    from watcher.store.reader import NoDatabase, open_reader
    from watcher.store.tables import DaemonRun, SourceHealth

    if _missing_sqlite_file(config.database):
        return UNHEALTHY, f"unhealthy: no poll has run yet (database {safe_url(config.database)} does not exist)"
    try:
        engine = open_reader(config.database)
        with transaction(engine) as session:
            daemon = session.scalars(select(DaemonRun).order_by(DaemonRun.id.desc()).limit(1)).first()
            rows = list(session.scalars(select(SourceHealth)))
        engine.dispose()
    except NoDatabase as exc:
        return UNHEALTHY, f"unhealthy: no poll has run yet ({exc})"
    except StoreError as exc:
        return BROKEN, f"error: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken database is one line and exit 2, not a traceback
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return BROKEN, f"error: database {safe_url(config.database)}: {type(exc).__name__}: {text[0] if text else ''}"
    return judge(config, now, daemon, rows)


def judge(config: Config, now: dt.datetime, daemon, rows: list) -> tuple[int, str]:
    """Pure verdict over what the database holds, so every branch is testable without a process."""
    problems, freshest = [], None
    failing = [f"{r.watch}/{r.source} failing ({r.consecutive_failures} in a row)" for r in rows
               if r.consecutive_failures]
    for watch in config.watches:
        successes = [r.last_success_at for r in rows if r.watch == watch.name and r.last_success_at]
        last = max(successes, default=None)
        limit = STALE_FACTOR * interval_of(config, watch)
        if last is None:
            problem = _never(config, watch, now, daemon)
            if problem:
                problems.append(problem)
            continue
        age = now - last
        freshest = age if freshest is None or age < freshest else freshest
        if age > limit:
            problems.append(f"{watch.name}: last successful poll {_ago(age)} ago (limit {_ago(limit)})")
    if problems:
        return UNHEALTHY, "unhealthy: " + "; ".join(problems + failing)
    if freshest is None:
        return HEALTHY, f"healthy: starting (daemon started {_ago(now - daemon.started_at)} ago, first poll pending)"
    text = f"healthy: last successful poll {_ago(max(freshest, dt.timedelta(0)))} ago"
    return HEALTHY, text + ("; " + "; ".join(failing) if failing else "")


def _never(config: Config, watch: Watch, now: dt.datetime, daemon) -> str | None:
    """A watch that never polled successfully is fine only while its daemon is within the start-up grace."""
    if daemon is None or daemon.stopped_at is not None:
        return f"{watch.name}: no successful poll yet and no daemon running"
    grace = config.schedule.startup_grace
    if not config.schedule.run_at_start:
        grace += interval_of(config, watch)
    if now - daemon.started_at <= grace:
        return None
    return f"{watch.name}: no successful poll since the daemon started {_ago(now - daemon.started_at)} ago"
