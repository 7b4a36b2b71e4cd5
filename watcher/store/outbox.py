"""Claiming an outbox row for sending, so each message goes out once even with several senders.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`. The row lock lives until the transaction that
marks the row delivered commits, so a second replica skips the row instead of sending it again,
and if the sender dies the lock goes with its session and the row is simply pending again.
SQLite has no row locks: a no-op UPDATE takes the database's write lock first, so the status read
after it is current and a second sender waits for the first to commit, then sees `delivered`.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from watcher.store.tables import Delivery

BUSY = "busy"  # another process is sending this row right now


def claim(session: Session, delivery_id: int) -> Delivery | str | None:
    """The row, locked for this transaction; BUSY if another sender holds it; None if it is gone."""
    if session.get_bind().dialect.name == "postgresql":
        query = select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)
        row = session.scalars(query.execution_options(populate_existing=True)).first()
        if row is None and session.scalar(select(Delivery.id).where(Delivery.id == delivery_id)) is not None:
            return BUSY
        return row
    table = Delivery.__table__
    session.execute(update(table).where(table.c.id == delivery_id).values(attempts=table.c.attempts))
    return session.get(Delivery, delivery_id, populate_existing=True)
