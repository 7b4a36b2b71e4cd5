"""Claiming outbox rows for sending, so each message goes out once even with several senders.

A claim is a lease written by one atomic UPDATE (`... WHERE status = 'pending' AND the row is not
claimed by a live sender`), committed before anything is sent: it works the same on PostgreSQL and
SQLite, holds no lock while Slack is being called, and lets the notifier commit what it sent part by
part. A sender that dies leaves its lease behind; it expires after LEASE, or at once when the claim
is from a process on this host that no longer exists (or from an earlier life of this same pid, as
in a restarted container). The claim also counts the attempt, so a retry knows an earlier attempt
may have reached the destination and checks before posting again.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from watcher.models import DeliveryState
from watcher.store.tables import Delivery

LEASE = dt.timedelta(minutes=10)  # longer than any one delivery may take (notifier timeouts, Retry-After caps)
HOST = socket.gethostname()[:100]
NONCE = uuid.uuid4().hex[:12]  # tells this life of our pid from an earlier one (a restarted container)


@dataclass(frozen=True)
class Claim:
    """What claim() got: the ids leased to us now, or `busy` (a live sender holds one of them, so the
    caller leaves them, and what follows them in order, to it)."""

    ids: tuple[int, ...] = ()
    busy: bool = False


def owner() -> str:
    """host:pid:nonce:thread: two senders in one process (threads) must not share a claim either."""
    return f"{HOST}:{os.getpid()}:{NONCE}:{threading.get_ident()}"


def _now() -> dt.datetime:
    """Leases are about processes being alive, so they use the real clock, never an injected one."""
    return dt.datetime.now(dt.timezone.utc)


def _dead(claimant: str | None) -> bool:
    """A claim from this host whose process is gone, or from an earlier life of our own pid."""
    if not claimant:
        return True
    host, pid_text, nonce = (claimant.split(":") + ["", "", ""])[:3]
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return nonce != NONCE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim(session: Session, delivery_ids: Sequence[int]) -> Claim:
    """Lease the pending rows for this process; busy if a live sender holds any of them.

    The ids claimed leave out rows already delivered or failed. Commit right after.
    """
    ids, me, now = list(delivery_ids), owner(), _now()
    stale = [d.id for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
             if d.claimed_by and d.claimed_by != me and _dead(d.claimed_by)]
    free = or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now, Delivery.id.in_(stale),
               Delivery.claimed_by == me)
    result = session.execute(
        update(Delivery)
        .where(and_(Delivery.id.in_(ids), Delivery.status == DeliveryState.PENDING, free))
        .values(claimed_by=me, claimed_until=now + LEASE, attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    claimed = tuple(session.scalars(select(Delivery.id).where(Delivery.id.in_(ids), Delivery.claimed_by == me,
                                                              Delivery.status == DeliveryState.PENDING)))
    if result.rowcount < len(ids):
        held = session.scalars(select(Delivery.id).where(Delivery.id.in_(ids), Delivery.status == DeliveryState.PENDING,
                                                         Delivery.claimed_by != me)).first()
        if held is not None:
            return Claim(busy=True)
    return Claim(claimed)


def release(session: Session, delivery_ids: Sequence[int]) -> None:
    """Give rows back (after a delivery ended, in success or failure)."""
    session.execute(
        update(Delivery).where(Delivery.id.in_(list(delivery_ids)), Delivery.claimed_by == owner())
        .values(claimed_by=None, claimed_until=None).execution_options(synchronize_session=False)
    )
