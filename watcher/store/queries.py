"""The few queries the pipeline and the CLI need, so SQL stays in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watcher.models import Event, RepoSnapshot
from watcher.store.tables import Delivery, EventRow, PollRun, RepoRow, WatchRow

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def previous_snapshots(session: Session, watch: str) -> dict[str, RepoSnapshot]:
    rows = session.scalars(select(RepoRow).where(RepoRow.watch == watch).order_by(RepoRow.id))
    snaps = (RepoSnapshot.from_dict(row.snapshot) for row in rows)
    return {snap.key: snap for snap in snaps}


def baselined_scopes(session: Session, watch: str) -> set[str]:
    row = session.get(WatchRow, watch)
    return set(row.baselined_scopes or []) if row else set()


def save_snapshots(
    session: Session, watch: str, snapshots: Iterable[RepoSnapshot], scopes: set[str], now: dt.datetime
) -> None:
    """Upsert the current snapshot of every repo and remember which scopes have their baseline."""
    existing: dict[tuple[str, str], RepoRow] = {}
    for row in session.scalars(select(RepoRow).where(RepoRow.watch == watch).order_by(RepoRow.id)):
        if (row.source, row.repo_id.lower()) in existing:
            session.delete(row)  # a second spelling of one repo, stored before ids were case-folded
            session.flush()  # gone before the kept row takes its spelling
        else:
            existing[(row.source, row.repo_id.lower())] = row
    for snap in snapshots:
        row = existing.get((snap.source, snap.repo_id.lower()))
        if row is None:
            row = RepoRow(watch=watch, source=snap.source, repo_id=snap.repo_id, updated_at=now)
            session.add(row)
        row.repo_id = snap.repo_id  # as the API spells it now
        row.visible = snap.visible
        row.has_weights = snap.has_weights
        row.snapshot = snap.to_dict()
        row.updated_at = now
        if snap.visible:
            row.first_seen = row.first_seen or now
            row.last_seen = now
        if snap.has_weights:
            row.weights_seen = row.weights_seen or now
    watch_row = session.get(WatchRow, watch)
    if watch_row is None:
        watch_row = WatchRow(name=watch, baselined_scopes=[], created_at=now)
        session.add(watch_row)
    watch_row.baselined_scopes = sorted(scopes)
    watch_row.last_poll_at = now


def drop_snapshots(session: Session, watch: str, keys: Iterable[str]) -> None:
    """Forget repos the watch no longer covers (its patterns changed), so they cannot raise alerts."""
    doomed = set(keys)
    for row in session.scalars(select(RepoRow).where(RepoRow.watch == watch)):
        if f"{row.source}:{row.repo_id.lower()}" in doomed:
            session.delete(row)


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


def repos_of(session: Session, watch: str) -> list[RepoRow]:
    query = select(RepoRow).where(RepoRow.watch == watch).order_by(RepoRow.source, RepoRow.repo_id)
    return list(session.scalars(query))


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
