"""What `watcher status` reads, as plain rows, through SQLAlchemy or (a plain SQLite file) through sqlite3.

Why two readers: importing SQLAlchemy and the ORM tables costs more than the whole status of a
1,000-repo watch, so a plain `sqlite:///path` is read with the standard library's sqlite3. Both
readers fill the same `StatusData` with the same queries side by side here, and engine/status.py builds the
document from it alone, so the two paths cannot drift (tests/test_status_scale.py compares them).
The sqlite3 reader returns None for anything it cannot read the same way (a missing file, a schema
that is not this release's, a file it cannot open read-only) and the caller takes SQLAlchemy's path,
which says what is wrong.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from watcher.store import lite

if TYPE_CHECKING:
    from sqlalchemy import Engine

UNDELIVERED_SHOWN = 20
STORE_PROBLEM_RUNS = 200  # poll_runs of the last day looked at for refused cycles
DAEMON_RUNS = 50  # daemon_runs of the last 7 days looked at for unclean stops
LANDING_KINDS = ("released", "variant_released")


class Repo(NamedTuple):
    source: str
    repo_id: str
    visible: bool
    has_weights: bool
    snapshot: dict[str, Any]
    first_seen: dt.datetime | None
    weights_seen: dt.datetime | None
    last_seen: dt.datetime | None


class Memory(NamedTuple):
    baselined_scopes: list[Any]
    created_at: dt.datetime
    last_poll_at: dt.datetime | None


class Said(NamedTuple):
    """A released / variant_released event: the day its line said the repo landed."""

    repo_id: str | None
    data: dict[str, Any] | None


class Run(NamedTuple):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    errors: list[Any] | None
    requests: dict[str, Any] | None
    events: int


class Undelivered(NamedTuple):
    id: int
    watch: str
    destination: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime


class DaemonRun(NamedTuple):
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    pid: int


class Receipt(NamedTuple):
    last_accepted_at: dt.datetime | None
    last_repo: str | None
    last_rejected_at: dt.datetime | None
    last_rejection: str | None


class Observed(NamedTuple):
    cadence: str
    watch: str
    flagship: str
    flagship_released: str
    repo: str
    released: str


@dataclass
class WatchData:
    repos: list[Repo]
    memory: Memory | None
    said: list[Said]


@dataclass
class StatusData:
    observed: list[Observed]
    run: Run | None
    budgets: dict[str, dict[str, Any]]
    counts: dict[tuple[str, str], int]
    undelivered: list[Undelivered]
    watches: dict[str, WatchData]
    poll_errors: list[list[Any] | None]  # errors of the last day's cycles, newest first
    daemon_runs: list[DaemonRun]  # the last 7 days', newest first
    receipt: Receipt | None


def _since(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return now - dt.timedelta(days=1), now - dt.timedelta(days=7)


def through_sqlalchemy(engine: Engine, watches: Sequence[str], now: dt.datetime, webhooks: bool) -> StatusData:
    """Any backend, through the ORM tables and the shared queries."""
    from sqlalchemy import select

    from watcher.store import cache_queries, queries
    from watcher.store import tables as t
    from watcher.store.db import transaction

    day, week = _since(now)
    with transaction(engine) as session:
        observed = [Observed(r.cadence, r.watch, r.flagship, r.flagship_released, r.repo, r.released)
                    for r in session.scalars(select(t.ObservedRelease).order_by(t.ObservedRelease.id))]
        run = queries.latest_run(session)
        per_watch = {}
        for name in watches:
            row = queries.watch_row(session, name)
            per_watch[name] = WatchData(
                [Repo(*r) for r in queries.repos_of(session, name)],
                Memory(row.baselined_scopes, row.created_at, row.last_poll_at) if row else None,
                [Said(e.repo_id, e.data) for e in queries.events_of_kinds(session, name, list(LANDING_KINDS))])
        errors = session.scalars(select(t.PollRun.errors).where(t.PollRun.started_at >= day)
                                 .order_by(t.PollRun.id.desc()).limit(STORE_PROBLEM_RUNS))
        daemons = session.scalars(select(t.DaemonRun).where(t.DaemonRun.started_at >= week)
                                  .order_by(t.DaemonRun.id.desc()).limit(DAEMON_RUNS))
        receipt = session.get(t.WebhookReceipt, "huggingface") if webhooks else None
        return StatusData(
            observed=observed,
            run=Run(run.id, run.started_at, run.finished_at, run.errors, run.requests, run.events) if run else None,
            budgets=cache_queries.load_budgets(session),
            counts=queries.delivery_counts(session),
            undelivered=[Undelivered(d.id, d.watch, d.destination, d.status, d.attempts, d.last_error, d.created_at)
                         for d in queries.undelivered(session, limit=UNDELIVERED_SHOWN)],
            watches=per_watch,
            poll_errors=list(errors),
            daemon_runs=[DaemonRun(d.started_at, d.stopped_at, d.pid) for d in daemons],
            receipt=Receipt(receipt.last_accepted_at, receipt.last_repo, receipt.last_rejected_at,
                            receipt.last_rejection) if receipt else None,
        )


def through_sqlite(path: str, watches: Sequence[str], now: dt.datetime, webhooks: bool) -> StatusData | None:
    """A plain SQLite file, read-only, in one read transaction; None when it cannot be read this way."""
    conn = lite.connect_read_only(path)
    if conn is None:
        return None
    try:
        if not lite.begin_at_head(conn):  # one snapshot for every query, like a daemon's cycle commits in one
            return None
        return _read(conn, watches, now, webhooks)
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()


def _read(conn: sqlite3.Connection, watches: Sequence[str], now: dt.datetime, webhooks: bool) -> StatusData:
    when, loads, stamp = lite.when, lite.loads, lite.stamp
    day, week = _since(now)
    run = conn.execute("SELECT id, started_at, finished_at, errors, requests, events FROM poll_runs "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    per_watch = {}
    for name in watches:
        repos = [Repo(source, repo_id, bool(visible), bool(weights), loads(snap), when(first), when(w_seen), when(last))
                 for source, repo_id, visible, weights, snap, first, w_seen, last in conn.execute(
                     "SELECT source, repo_id, visible, has_weights, snapshot, first_seen, weights_seen, last_seen "
                     "FROM repos WHERE watch = ? ORDER BY source, repo_id", (name,))]
        row = conn.execute("SELECT baselined_scopes, created_at, last_poll_at FROM watches WHERE name = ?",
                           (name,)).fetchone()
        said = [Said(repo_id, loads(data)) for repo_id, data in conn.execute(
            "SELECT repo_id, data FROM events WHERE watch = ? AND kind IN (?, ?) ORDER BY id", (name, *LANDING_KINDS))]
        per_watch[name] = WatchData(repos, Memory(loads(row[0]), when(row[1]), when(row[2])) if row else None, said)
    receipt = conn.execute("SELECT last_accepted_at, last_repo, last_rejected_at, last_rejection FROM webhook_receipts "
                           "WHERE source = 'huggingface'").fetchone() if webhooks else None
    return StatusData(
        observed=[Observed(*r) for r in conn.execute(
            "SELECT cadence, watch, flagship, flagship_released, repo, released FROM observed_releases ORDER BY id")],
        run=Run(run[0], when(run[1]), when(run[2]), loads(run[3]), loads(run[4]), run[5]) if run else None,
        budgets={source: dict(loads(state) or {}) for source, state in conn.execute("SELECT source, state FROM api_budget")},
        counts={(w, s): n for w, s, n in conn.execute(
            "SELECT watch, status, count(*) FROM deliveries GROUP BY watch, status")},
        undelivered=[Undelivered(i, w, d, s, a, e, when(at)) for i, w, d, s, a, e, at in conn.execute(
            "SELECT id, watch, destination, status, attempts, last_error, created_at FROM deliveries "
            "WHERE status != 'delivered' ORDER BY id LIMIT ?", (UNDELIVERED_SHOWN,))],
        watches=per_watch,
        poll_errors=[loads(e) for (e,) in conn.execute(
            "SELECT errors FROM poll_runs WHERE started_at >= ? ORDER BY id DESC LIMIT ?",
            (stamp(day), STORE_PROBLEM_RUNS))],
        daemon_runs=[DaemonRun(when(a), when(b), pid) for a, b, pid in conn.execute(
            "SELECT started_at, stopped_at, pid FROM daemon_runs WHERE started_at >= ? ORDER BY id DESC LIMIT ?",
            (stamp(week), DAEMON_RUNS))],
        receipt=Receipt(when(receipt[0]), receipt[1], when(receipt[2]), receipt[3]) if receipt else None,
    )
