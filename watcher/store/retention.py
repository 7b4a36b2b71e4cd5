"""Pruning old history, so months of quiet cycles do not grow the database without end.

What goes: poll records (one per cycle) older than `retention.poll_runs`, except those that produced
events (events point at their cycle); delivered outbox rows older than `retention.delivered_alerts`,
except those holding a top-level message, which later alerts may thread under or edit. What stays,
always: events, the dedup memory ("announce once") and the cadence history (windows, reminders).

Pruning runs in the cycle's transaction but only once a day's worth is due, so a quiet cycle does not
write a page to delete one row each time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.orm import Session

from watcher.config import Retention
from watcher.models import DeliveryState
from watcher.store.tables import Delivery, EventRow, PollRun, SentMessage

BATCH_AGE = dt.timedelta(days=1)  # prune when the oldest prunable row is this much past its age


def prune(session: Session, retention: Retention, now: dt.datetime) -> dict[str, int]:
    """Delete what is due; returns rows deleted per table."""
    return {"poll_runs": _poll_runs(session, now - retention.poll_runs),
            "deliveries": _deliveries(session, now - retention.delivered_alerts)}


def _poll_runs(session: Session, cutoff: dt.datetime) -> int:
    has_events = exists().where(EventRow.poll_run_id == PollRun.id)
    oldest = session.scalars(select(func.min(PollRun.started_at)).where(~has_events)).first()
    if oldest is None or oldest > cutoff - BATCH_AGE:
        return 0
    return session.execute(delete(PollRun).where(PollRun.started_at < cutoff, ~has_events)
                           .execution_options(synchronize_session=False)).rowcount


def _deliveries(session: Session, cutoff: dt.datetime) -> int:
    thread_parent = exists().where(and_(SentMessage.delivery_id == Delivery.id, SentMessage.thread_ts.is_(None),
                                        SentMessage.ts.is_not(None)))
    due = (Delivery.status == DeliveryState.DELIVERED, Delivery.delivered_at < cutoff, ~thread_parent)
    oldest = session.scalars(select(func.min(Delivery.delivered_at)).where(*due)).first()
    if oldest is None or oldest > cutoff - BATCH_AGE:
        return 0
    ids = list(session.scalars(select(Delivery.id).where(*due)))
    session.execute(delete(SentMessage).where(SentMessage.delivery_id.in_(ids)).execution_options(synchronize_session=False))
    return session.execute(delete(Delivery).where(Delivery.id.in_(ids)).execution_options(synchronize_session=False)).rowcount
