"""The few queries the pipeline and the CLI need, so SQL stays in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from watcher.models import DELIVERED, FAILED, PENDING, Event, RepoSnapshot  # noqa: F401 - queries.FAILED: callers' name
from watcher.store.cycle_reads import StoredRepo, fold_repos
from watcher.store.tables import Delivery, EventRow, PollRun, RepoRow, WatchRow


def stored_repos(session: Session, watch: str) -> dict[str, StoredRepo]:
    """A watch's repo rows, loaded once per cycle as plain columns (no ORM objects to track)."""
    query = (select(RepoRow.id, RepoRow.snapshot, RepoRow.first_seen, RepoRow.weights_seen)
             .where(RepoRow.watch == watch).order_by(RepoRow.id))
    return fold_repos(tuple(row) for row in session.execute(query))


def previous_snapshots(session: Session, watch: str) -> dict[str, RepoSnapshot]:
    return {key: stored.snapshot for key, stored in stored_repos(session, watch).items()}


def baselined_scopes(session: Session, watch: str) -> set[str]:
    row = session.get(WatchRow, watch)
    return set(row.baselined_scopes or []) if row else set()


def save_snapshots(session: Session, watch: str, stored: dict[str, StoredRepo], snapshots: Iterable[RepoSnapshot],
                   scopes: set[str], now: dt.datetime) -> int:
    """Write the repos whose snapshot changed (a quiet cycle writes none) and the watch's memory.

    A row's updated_at is when its snapshot last changed; last_seen is written with it (status shows a
    visible repo as seen at the watch's last poll). Returns the number of rows written.
    """
    watch_row = session.get(WatchRow, watch)
    previous_poll = watch_row.last_poll_at if watch_row is not None else None
    written = 0
    for snap in snapshots:
        data = snap.to_dict()
        old = stored.get(snap.key)
        if old is not None and old.duplicates:  # gone before the kept row takes the API's spelling
            session.execute(delete(RepoRow).where(RepoRow.id.in_(old.duplicates)))
        if old is not None and old.data == data:
            continue
        written += 1
        values = _row_values(snap, data, old, now, previous_poll)
        if old is None:
            session.execute(insert(RepoRow).values(watch=watch, source=snap.source, repo_id=snap.repo_id, **values))
        else:  # the id as the API spells it now (a change of case is a change of the snapshot too)
            session.execute(update(RepoRow).where(RepoRow.id == old.id).values(repo_id=snap.repo_id, **values))
    if watch_row is None:
        watch_row = WatchRow(name=watch, baselined_scopes=[], created_at=now)
        session.add(watch_row)
    if sorted(watch_row.baselined_scopes or []) != sorted(scopes):
        watch_row.baselined_scopes = sorted(scopes)
    watch_row.last_poll_at = now
    return written


def _row_values(snap: RepoSnapshot, data: dict, old: StoredRepo | None, now: dt.datetime,
                previous_poll: dt.datetime | None) -> dict[str, Any]:
    values: dict[str, Any] = {"visible": snap.visible, "has_weights": snap.has_weights, "snapshot": data,
                              "updated_at": now}
    was_visible = old is not None and old.snapshot.visible
    if snap.visible:
        values["first_seen"] = (old.first_seen if old else None) or now
        values["last_seen"] = now
    elif was_visible:
        values["last_seen"] = previous_poll or now  # the last cycle that still saw it
    if snap.has_weights:
        values["weights_seen"] = (old.weights_seen if old else None) or now
    return values


def drop_snapshots(session: Session, stored: dict[str, StoredRepo], keys: Iterable[str]) -> None:
    """Forget repos the watch no longer covers (its patterns changed), so they cannot raise alerts."""
    ids = [row_id for key in keys if key in stored for row_id in (stored[key].id, *stored[key].duplicates)]
    if ids:
        session.execute(delete(RepoRow).where(RepoRow.id.in_(ids)))


def record_events(
    session: Session, events: Sequence[Event], run_id: int | None, now: dt.datetime
) -> list[EventRow]:
    """Insert the events whose dedup key is new for their watch; return the inserted rows."""
    added: list[EventRow] = []
    by_watch: dict[str, list[Event]] = {}
    for event in events:
        by_watch.setdefault(event.watch, []).append(event)
    for watch, batch in by_watch.items():
        keys = [e.dedup_key for e in batch]
        seen = set(
            session.scalars(
                select(EventRow.dedup_key).where(EventRow.watch == watch, EventRow.dedup_key.in_(keys))
            )
        )
        for event in batch:
            if event.dedup_key in seen:
                continue
            seen.add(event.dedup_key)
            row = EventRow(
                watch=watch,
                kind=event.kind.value,
                dedup_key=event.dedup_key,
                source=event.source,
                repo_id=event.repo_id,
                data=event.data,
                created_at=now,
                poll_run_id=run_id,
            )
            session.add(row)
            added.append(row)
    session.flush()
    return added


def pending_deliveries(session: Session) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.status == PENDING).order_by(Delivery.id)))


def events_by_id(session: Session, ids: Sequence[int]) -> list[EventRow]:
    rows = session.scalars(select(EventRow).where(EventRow.id.in_(list(ids))))
    return sorted(rows, key=lambda r: r.id)


def latest_run(session: Session) -> PollRun | None:
    return session.scalars(select(PollRun).order_by(PollRun.id.desc()).limit(1)).first()


def repos_of(session: Session, watch: str) -> list:
    """A watch's repos as read-only rows (the columns only, no ORM objects: status reads thousands)."""
    columns = (RepoRow.source, RepoRow.repo_id, RepoRow.visible, RepoRow.has_weights, RepoRow.snapshot,
               RepoRow.first_seen, RepoRow.weights_seen, RepoRow.last_seen)
    query = select(*columns).where(RepoRow.watch == watch).order_by(RepoRow.source, RepoRow.repo_id)
    return list(session.execute(query))


def watch_row(session: Session, watch: str) -> WatchRow | None:
    return session.get(WatchRow, watch)


def delivery_counts(session: Session) -> dict[tuple[str, str], int]:
    """(watch, status) -> number of outbox rows, for status output."""
    query = select(Delivery.watch, Delivery.status, func.count()).group_by(Delivery.watch, Delivery.status)
    return {(watch, status): n for watch, status, n in session.execute(query)}


def undelivered(session: Session, limit: int = 20) -> list[Delivery]:
    query = (
        select(Delivery)
        .where(Delivery.status != DELIVERED)
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def recent_events(session: Session, limit: int, watch: str | None = None) -> list[EventRow]:
    query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
    if watch:
        query = query.where(EventRow.watch == watch)
    return list(session.scalars(query))


def has_event(session: Session, watch: str, dedup_key: str) -> bool:
    query = select(EventRow.id).where(EventRow.watch == watch, EventRow.dedup_key == dedup_key)
    return session.scalars(query).first() is not None


def events_of_kinds(session: Session, watch: str, kinds: Sequence[str]) -> list[EventRow]:
    """A watch's past events of these kinds, oldest first: reminder timing is derived from them, not memory."""
    query = select(EventRow).where(EventRow.watch == watch, EventRow.kind.in_(list(kinds))).order_by(EventRow.id)
    return list(session.scalars(query))
