"""What `watcher status` reports, built from the config and the database only (no network, no HTTP clients).

The document is built from plain rows (store/status_reads.py): read through SQLAlchemy, or from a plain
SQLite file through sqlite3 without importing SQLAlchemy at all; the same code turns either into the document.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

from watcher import models, notify
from watcher.config import Config
from watcher.engine import observed
from watcher.forecast import cadence, windows
from watcher.forecast import variant_state as vs
from watcher.models import FAILED, PENDING
from watcher.store import lite, status_reads
from watcher.store.status_reads import StatusData

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def build(config: Config, engine: Engine, now: dt.datetime) -> dict[str, Any]:
    """The `status --json` document; the Rich table renders the same data."""
    names = [w.name for w in config.watches]
    return document(config, status_reads.through_sqlalchemy(engine, names, now, config.webhooks is not None), now)


def build_from_sqlite(config: Config, now: dt.datetime) -> dict[str, Any] | None:
    """The same document from a plain `sqlite:///path` file through sqlite3 (no SQLAlchemy import); None when
    the URL is another kind or the file cannot be read that way (missing, another schema revision, unreadable):
    then `build` through SQLAlchemy says what is wrong."""
    path = lite.sqlite_path(config.database)
    if path is None or not os.path.isfile(path):
        return None
    names = [w.name for w in config.watches]
    data = status_reads.through_sqlite(path, names, now, config.webhooks is not None)
    return None if data is None else document(config, data, now)


def document(config: Config, data: StatusData, now: dt.datetime) -> dict[str, Any]:
    """The document from what either reader found; windows count what earlier watches of a cadence saw."""
    config = observed.attach_found(config, observed.generations_from(data.observed))
    counts = data.counts
    watches = [_watch(w, data.watches[w.name], config.cadences, now.date(), counts) for w in config.watches]
    pending = sum(n for (_, status), n in counts.items() if status == PENDING)
    failed = sum(n for (_, status), n in counts.items() if status == FAILED)
    warning = notify.slack_warning(config)
    return {
        "generated_at": _iso(now),
        "pending_alerts": pending,
        "failed_alerts": failed,
        "destinations": notify.destinations(config),
        "warnings": ([warning] if warning else []) + _store_problems(data),
        "last_poll": _run(data.run),
        "webhooks": _webhooks(config, data.receipt),
        "rate_limits": data.budgets,
        "undelivered": [
            {"id": d.id, "watch": d.watch, "destination": d.destination, "status": d.status,
             "attempts": d.attempts, "last_error": d.last_error, "created_at": _iso(d.created_at)}
            for d in data.undelivered
        ],
        "watches": watches,
    }


def _webhooks(config: Config, row: status_reads.Receipt | None) -> dict[str, Any] | None:
    """When the last webhook arrived (any replica); quiet webhooks are normal, never a warning."""
    if config.webhooks is None:
        return None
    return {
        "path": config.webhooks.path,
        "last_received_at": _iso(row.last_accepted_at) if row else None,
        "last_repo": row.last_repo if row else None,
        "last_rejected_at": _iso(row.last_rejected_at) if row else None,
        "last_rejection": row.last_rejection if row else None,
    }


def _store_problems(data: StatusData) -> list[str]:
    """Cycles the database refused in the last day (the daemon notes them on the next run that worked)."""
    notes = [e for errors in data.poll_errors for e in errors or [] if str(e).startswith("database: ")]
    return notes[:3] + _unclean_stops(data.daemon_runs)


def _unclean_stops(runs: list[status_reads.DaemonRun]) -> list[str]:
    """A daemon run that never recorded its stop although a later one started: it was killed or crashed."""
    dead = [r for r in runs[1:] if r.stopped_at is None]
    if not dead:
        return []
    last = dead[0]
    return [f"daemon: {len(dead)} run(s) in the last 7 days ended without a clean stop (killed or crashed); "
            f"the latest: pid {last.pid}, started {_iso(last.started_at)}"]


def _run(run) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "errors": list(run.errors or []),
        "requests": dict(run.requests or {}),
        "events": run.events,
    }


def _watch(watch, data: status_reads.WatchData, cadences, today: dt.date, counts) -> dict[str, Any]:
    rows, memory = data.repos, data.memory
    released = models.released(rows)
    window = windows.expected_window(watch, cadences)
    position = {**window.position(today, released).to_dict(), "state_by_window": None}  # same keys polled or not
    polled = bool(memory and memory.baselined_scopes)
    if not polled:  # no poll has succeeded: "overdue" would be a guess; say what the window alone says
        position.update(state="unknown", state_by_window=position["state"], days_overdue=None)
    variant_states = vs.states(watch, window, _landings(data.said, rows, memory), today, polled)
    return {
        "name": watch.name,
        "title": watch.display_title,
        "flagship": {"name": watch.flagship.name, "released": watch.flagship.released.isoformat()},
        "lag_days": {"min": watch.lag_days.min, "max": watch.lag_days.max} if watch.lag_days else None,
        **position,
        "basis": window.basis,
        "window_source": window.source_label,
        "window_reason": window.reason,
        "track_record": window.track_clause or None,
        "variants": [v.to_dict(today) for v in variant_states],
        "late_variants": vs.late(variant_states, today) or None,
        "window": window.to_dict(),
        "history_windows": _history_windows(watch, cadences),
        "last_poll_at": _iso(memory.last_poll_at) if memory else None,
        "pending_alerts": counts.get((watch.name, PENDING), 0),
        "repos": [_repo(r, memory.last_poll_at if memory else None) for r in rows],
    }


def _landings(events: list[status_reads.Said], rows, memory) -> list[vs.Landing]:
    """The day each repo with weights landed: as its released/variant line said, else when first seen with
    weights, or by its createdAt when it already had them at the watch's first poll."""
    said = {}
    for event in events:
        repo = event.repo_id or (event.data or {}).get("repo")
        day = vs.parse_day((event.data or {}).get("released_on"))
        if repo and day:
            said[repo] = day
    out = []
    for row in rows:
        if not models.has_open_weights(row) or row.weights_seen is None:
            continue
        created = vs.parse_day(row.snapshot.get("created_at"))
        at_start = memory is not None and row.weights_seen <= memory.created_at
        by_created = at_start and created is not None and created <= row.weights_seen.date()  # never after we saw it
        day = said.get(row.repo_id) or (created if by_created else row.weights_seen.date())
        out.append(vs.Landing(row.repo_id, day, row.snapshot.get("url"), "createdAt" if by_created else "seen"))
    return out


def _repo(row, last_poll: dt.datetime | None) -> dict[str, Any]:
    """A visible repo was seen at the watch's last poll: its row is written only when it changes."""
    snap = row.snapshot
    return {
        "source": row.source,
        "id": row.repo_id,
        "visible": row.visible,
        "weights": row.has_weights,
        "weight_files": snap.get("weight_count") or len(snap.get("weight_files") or []),
        "weight_bytes": snap.get("weight_bytes"),
        "params": snap.get("params"),
        "gated": snap.get("gated"),
        "status": snap.get("status"),
        "first_seen": _iso(row.first_seen),
        "weights_seen": _iso(row.weights_seen),
        "last_seen": _iso(max(filter(None, (row.last_seen, last_poll))) if row.visible and last_poll else row.last_seen),
        "latest_release": (snap.get("releases") or snap.get("tags") or [None])[0],
        "url": snap.get("url"),
    }


def _history_windows(watch, cadences) -> dict[str, Any]:
    """What the watch's cadence history predicts on each basis, shown beside an explicit window."""
    history = cadence.history_of(watch, cadences)
    if history is None:
        return {}
    out: dict[str, Any] = {}
    for basis in cadence.BASES:
        try:
            out[basis] = windows.history_window(watch, history, watch.cadence, basis).to_dict()
        except cadence.CadenceError as exc:
            out[basis] = {"error": str(exc)}
    return out
