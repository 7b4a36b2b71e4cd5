"""The outbox: alerts are queued with the events that caused them and leave only when confirmed.

Rows go out in order per destination; after a destination's first failure its later rows wait, so
nothing arrives out of order, and a retried row skips the parts an earlier attempt already sent
(`SentMessage`), so nothing arrives twice. A permanent error fails the row (shown in status, logged
once); an outage leaves it pending; a backlog older than the destination's `max_age` becomes one
summary message instead of a flood.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from watcher.config import Config, Watch
from watcher.models import WatchState, released
from watcher.notify import blocks as bk
from watcher.notify.base import DeliveryError, Notifier
from watcher.notify.render import Item, Message, build_message
from watcher.notify.threads import Parent
from watcher.redact import redact
from watcher.store import outbox as store_outbox
from watcher.store import queries
from watcher.store.db import transaction
from watcher.store.problems import describe
from watcher.store.tables import Delivery, EventRow, SentMessage

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


@dataclass
class Report:
    """What one delivery run did; the pipeline copies it into its CycleResult."""

    delivered: int = 0
    pending: int = 0
    failed: int = 0
    delivery_errors: list[str] = field(default_factory=list)


def record(session, events: Sequence[Any], run_id: int | None, notifiers: Sequence[Notifier],
           now: dt.datetime) -> list:
    """Store the events whose dedup key is new and queue them for every destination whose route takes
    them, in the caller's transaction; return the events that were new."""
    rows = queries.record_events(session, events, run_id, now)
    enqueue(session, rows, notifiers, now)
    added = {(r.watch, r.dedup_key) for r in rows}
    return [e for e in events if (e.watch, e.dedup_key) in added]


def enqueue(session, rows: Sequence[EventRow], notifiers: Sequence[Notifier], now: dt.datetime) -> int:
    """One outbox row per (watch, destination) with the events that destination's route takes."""
    count = 0
    by_watch: dict[str, list[EventRow]] = {}
    for row in rows:
        by_watch.setdefault(row.watch, []).append(row)
    for watch, events in by_watch.items():
        for notifier in notifiers:
            ids = [e.id for e in events if notifier.accepts(e.kind)]
            if ids:
                session.add(Delivery(watch=watch, destination=notifier.destination, event_ids=ids,
                                     status=queries.PENDING, created_at=now))
                count += 1
    return count


def deliver(config: Config, engine: Engine, notifiers: Sequence[Notifier], clock: Clock) -> Report:
    """Send pending rows in order, each marked delivered in its own commit, only once confirmed."""
    result = Report()
    by_name = {n.destination: n for n in notifiers}
    for notifier in notifiers:
        notifier.start_cycle()
    with transaction(engine) as session:
        pending = [(d.id, d.destination, d.created_at) for d in queries.pending_deliveries(session)]
    try:
        _send(config, engine, by_name, pending, clock, result)
    except SQLAlchemyError as exc:  # full, locked, read-only: what was sent is recorded, the rest waits
        reason = f"database: {describe(exc)}; undelivered alerts wait in the outbox"
        result.delivery_errors.append(reason)
        log.error("delivery stopped: %s", reason)
    return result


def _send(config: Config, engine: Engine, by_name: dict[str, Notifier], pending: list, clock: Clock,
          result: Report) -> None:
    blocked: set[str] = set()
    handled: set[int] = set()
    now = clock()
    for name, notifier in by_name.items():
        max_age = notifier.max_age
        stale = [i for i, dest, created in pending if dest == name and max_age and created < now - max_age]
        if len(stale) >= 2:
            handled.update(stale)
            if not _summarise(config, engine, notifier, stale, clock, result):
                blocked.add(name)
    for delivery_id, name, _ in pending:
        if delivery_id in handled:
            continue
        notifier = by_name.get(name)
        if notifier is None or name in blocked or notifier.expired():
            result.pending += 1
            continue
        if not _deliver_one(config, engine, notifier, delivery_id, clock, result):
            blocked.add(name)


def _deliver_one(config: Config, engine: Engine, notifier: Notifier, delivery_id: int, clock: Clock,
                 result: Report) -> bool:
    """False when the destination should get nothing more this cycle (a failure, or another sender busy)."""
    with transaction(engine) as session:
        claim = store_outbox.claim(session, [delivery_id])
    if claim.busy:  # another replica sends it, and the rest of this destination in order
        result.pending += 1
        return False
    if not claim.ids:
        return True
    try:
        with transaction(engine) as session:
            row = session.get(Delivery, delivery_id)
            message, watch = build(config, session, row, clock), row.watch
        if message is None:
            ref = None
        else:
            ref = notifier.deliver(message, Ledger(engine, delivery_id, notifier.destination, watch, clock))
    except DeliveryError as exc:
        _failed(engine, [delivery_id], notifier.destination, exc, result)
        return exc.payload
    _delivered(engine, [delivery_id], ref, clock)
    result.delivered += 1
    return True


def _delivered(engine: Engine, ids: Sequence[int], ref: str | None, clock: Clock) -> None:
    """The attempt itself was counted by the claim, before anything was sent (store/outbox.py)."""
    with transaction(engine) as session:
        for row in session.scalars(select(Delivery).where(Delivery.id.in_(list(ids)))):
            row.status = queries.DELIVERED
            row.delivered_at = clock()
            row.external_ref = ref
            row.last_error = None
        store_outbox.release(session, ids)


def _failed(engine: Engine, ids: Sequence[int], destination: str, exc: DeliveryError, result: Report) -> None:
    """Permanent: the rows fail and are logged once. Otherwise they stay pending, logged when the error changes."""
    reason = redact(exc.reason)
    with transaction(engine) as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.id.in_(list(ids))).order_by(Delivery.id)))
        changed = any(r.last_error != reason for r in rows)
        for row in rows:
            row.last_error = reason
            if exc.permanent:
                row.status = queries.FAILED
        watch = rows[0].watch if rows else "?"
        store_outbox.release(session, ids)
    result.delivery_errors.append(f"{destination}: {reason}")
    if exc.permanent:
        result.failed += len(ids)
        log.error("watch=%s delivery %s to %s failed for good: %s", watch, ",".join(map(str, ids)), destination, reason)
    else:
        result.pending += len(ids)
        level = logging.WARNING if changed else logging.DEBUG
        log.log(level, "watch=%s delivery %s to %s waits: %s", watch, ",".join(map(str, ids)), destination, reason)


class Ledger:
    """What this destination already has: parts of this delivery, and announcements to thread under."""

    def __init__(self, engine: Engine, delivery_id: int, destination: str, watch: str, clock: Clock) -> None:
        self.engine, self.delivery_id, self.destination, self.watch, self.clock = (
            engine, delivery_id, destination, watch, clock)
        self._parents: list[SentMessage] | None = None

    @functools.cached_property
    def _state(self) -> tuple[dict[str, str], bool, dt.datetime | None, str | None]:
        """Read on first use: a notifier that never looks (the console) costs no query. The row is
        claimed by us, so nothing read here changes in between."""
        with transaction(self.engine) as session:
            rows = session.scalars(select(SentMessage).where(SentMessage.delivery_id == self.delivery_id))
            sent = {r.part: r.ts or "" for r in rows}
            row = session.get(Delivery, self.delivery_id)
            retrying = bool(row and row.attempts > 1)  # claimed before: an earlier attempt may have reached Slack
            query = (select(SentMessage.channel).where(SentMessage.destination == self.destination,
                                                       SentMessage.channel.is_not(None))
                     .order_by(SentMessage.id.desc()).limit(1))
            return sent, retrying, row.created_at if row else None, session.scalars(query).first()

    @property
    def retrying(self) -> bool:
        return self._state[1]

    def key(self, part: str) -> str:
        """Globally unique name of one part, carried in the message's metadata."""
        return f"{self.delivery_id}:{part}"

    def channel_id(self) -> str | None:
        """The channel ID Slack reported for this destination before (history needs an ID, not a name)."""
        return self._state[3]

    def since(self) -> float:
        """Epoch seconds before which no part of this delivery can have been posted."""
        since = self._state[2]
        return since.timestamp() - 60 if since else 0.0

    def sent(self, key: str) -> str | None:
        """The ts ("" for a webhook) of a part already sent by an earlier attempt, else None."""
        return self._state[0].get(key)

    def parent(self, subject: str) -> Parent | None:
        """The latest top-level message here that announced `subject` (not one of this delivery's own)."""
        if self._parents is None:
            with transaction(self.engine) as session:
                query = (select(SentMessage)
                         .where(SentMessage.destination == self.destination, SentMessage.watch == self.watch,
                                SentMessage.thread_ts.is_(None), SentMessage.ts.is_not(None),
                                SentMessage.delivery_id != self.delivery_id)
                         .order_by(SentMessage.id.desc()))
                self._parents = list(session.scalars(query))
        row = next((r for r in self._parents if subject in (r.subjects or [])), None)
        return Parent(row.id, row.channel or "", row.ts or "", dict(row.content or {})) if row else None

    def record(self, key: str, channel: str | None, ts: str | None, thread_ts: str | None,
               part: bk.Part | None) -> None:
        """Committed at once: a crash right after a post must not make the retry post it again."""
        with transaction(self.engine) as session:
            session.add(SentMessage(
                delivery_id=self.delivery_id, destination=self.destination, watch=self.watch, part=key,
                channel=channel, ts=ts, thread_ts=thread_ts, subjects=part.subjects if part else [],
                content=bk.to_content(part) if part else {}, created_at=self.clock()))
        self._state[0][key] = ts or ""

    def save_content(self, message_id: int, content: dict[str, Any]) -> None:
        with transaction(self.engine) as session:
            row = session.get(SentMessage, message_id)
            if row is not None:
                row.content, row.updated_at = content, self.clock()
        for row in self._parents or []:
            if row.id == message_id:
                row.content = content


def _summarise(config: Config, engine: Engine, notifier: Notifier, ids: list[int], clock: Clock, result: Report) -> bool:
    """One message standing in for a backlog too old to be news; its rows count as delivered."""
    with transaction(engine) as session:
        claim = store_outbox.claim(session, ids)
    if claim.busy or not claim.ids:
        return not claim.busy
    ids = list(claim.ids)
    ledger = Ledger(engine, ids[0], notifier.destination, "*", clock)
    with transaction(engine) as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)))
        items = [_summary_item(config, session, watch, [r for r in rows if r.watch == watch])
                 for watch in dict.fromkeys(r.watch for r in rows)]
        oldest = min(r.created_at for r in rows)
    part = bk.Part(f"{len(ids)} alerts held back while Slack was unreachable", items,
                   f"Queued since {oldest:%Y-%m-%d %H:%M} UTC, older than {notifier.max_age}: summarised instead "
                   "of sent one by one. `watcher events` lists every event.")
    try:
        if ledger.sent("summary") is None:
            from watcher.notify.threads import already_posted

            found = already_posted(notifier, ledger, "summary", None)
            channel, ts = found or notifier.post(part, key=ledger.key("summary"))
            ledger.record("summary", channel, ts, None, None)
    except DeliveryError as exc:
        _failed(engine, ids, notifier.destination, exc, result)
        return False
    _delivered(engine, ids, f"summary:{ledger.sent('summary') or ''}", clock)
    result.delivered += len(ids)
    log.info("%s: %d old alert(s) summarised in one message", notifier.destination, len(ids))
    return True


def _summary_item(config: Config, session, watch: str, rows: list[Delivery]) -> Item:
    events = queries.events_by_id(session, [i for r in rows for i in r.event_ids])
    kinds = Counter(e.kind.replace("_", " ") for e in events)
    repos = list(dict.fromkeys(e.repo_id for e in events if e.repo_id))
    shown = ", ".join(repos[:15]) + (f" and {len(repos) - 15} more" if len(repos) > 15 else "")
    details = "; ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    try:
        title = config.watch(watch).display_title
    except KeyError:
        title = watch
    return Item(title, None, None, details + (f"; repos: {shown}" if shown else ""), "summary")


def build(config: Config, session, row: Delivery, clock: Clock) -> Message | None:
    """The message for one outbox row, rendered now from its stored events."""
    events = queries.events_by_id(session, row.event_ids)
    if not events:
        return None
    try:
        from watcher.engine import (
            observed,  # late: observed imports config, which the notify package must not need first
        )

        seen = observed.attach(config, session)
        watch = seen.watch(row.watch)
        title = watch.display_title
        context = context_line(watch, seen.cadences, clock().date(), released(queries.repos_of(session, watch.name)))
    except KeyError:
        title, context = row.watch, ""
    payload = [{"kind": e.kind, "source": e.source, "repo_id": e.repo_id, "data": e.data} for e in events]
    return build_message(row.watch, title, payload, context)


def context_line(watch: Watch, cadences: dict, today: dt.date, released: bool) -> str:
    from watcher.forecast.windows import expected_window  # late, as observed above

    win = expected_window(watch, cadences)  # the one window: explicit lag_days or the history's
    pos = win.position(today, released)
    text = f"Expected {win.start.isoformat()} to {win.end.isoformat()} ({win.describe()}; {win.source_label})"
    text += f"; day {(today - watch.flagship.released).days}"
    if pos.state is WatchState.RELEASED:
        text += ", open weights are out"
    elif pos.days_overdue is not None:
        text += f"; {pos.days_overdue} day(s) overdue"
    elif pos.days_until_window is not None:
        text += f"; window opens in {pos.days_until_window} day(s)"
    elif pos.state is WatchState.IN_WINDOW:
        text += ", inside the window now"
    return text
