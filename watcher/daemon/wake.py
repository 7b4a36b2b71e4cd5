"""From queued webhooks to polls: one thread of `watcher run` turns the Inbox into poll cycles.

Why a thread of its own and not a scheduler job: the wait for a burst to settle and for the cycle
lock must neither hold a scheduler worker nor make APScheduler log a skipped run every second.
The poll itself is composed in engine/pipeline.py (`webhook_cycle`) and run by the daemon's
`webhook_poll`, under the shared cycle lock and the leader check, so a webhook poll is an ordinary
poll of fewer watches. This module sees the daemon only through the small `Host` protocol below, so
it does not import the daemon that imports it.

Replicas (PostgreSQL): any replica may receive a webhook, only the leader polls. A standby writes
the watch names to `webhook_wakeups`; the leader looks there every `TICK` and polls what it finds,
deleting the rows in the same step. A webhook thus reaches the leader through the database, which
every replica already trusts, and delivery stays exactly-once because only the leader's cycles,
under the store lock, record events (and the outbox sends each event once).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from watcher import telemetry
from watcher.config import Config
from watcher.daemon import webhooks
from watcher.daemon.leader import Leadership, identity
from watcher.store.db import safe_url, transaction
from watcher.store.locks import is_postgres, store_lock
from watcher.store.problems import describe
from watcher.store.tables import WebhookReceipt, WebhookWakeup

log = logging.getLogger(__name__)
SETTLE = 1.0  # seconds a burst of payloads may take to arrive: the burst becomes one poll
TICK = 1.0  # how often the leader looks for forwarded webhooks, and receipts are written


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Host(Protocol):
    """What the webhook thread needs of the daemon (daemon.Daemon is one)."""

    config: Config
    engine: Engine
    clock: Callable[[], dt.datetime]
    stop: threading.Event
    leadership: Leadership

    def guarded(self, job: str, work: Callable[[], object], blocking: bool = True) -> None: ...

    def webhook_poll(self, woken: set[str]) -> Any: ...


class WebhookService:
    """The receiver (HTTP thread) and the thread that turns its queue into polls (`webhooks:` in the config)."""

    def __init__(self, daemon: Host) -> None:
        self.inbox = webhooks.Inbox()
        app = webhooks.Receiver(daemon.config, webhooks.secret_from_env(), self.inbox, daemon.clock)
        self.server = webhooks.Server(daemon.config.webhooks, app)
        self.polls = WebhookPolls(daemon, self.inbox)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.polls.start()
        self.server.start()

    def close(self) -> None:
        self.server.close()
        self.polls.close()


class WebhookPolls:
    """The leader polls the watches webhooks named; a standby forwards them to the leader."""

    def __init__(self, daemon: Host, inbox: webhooks.Inbox) -> None:
        self.daemon, self.inbox = daemon, inbox
        self.engine = daemon.engine
        self.shared = is_postgres(self.engine)
        self.halt = threading.Event()
        self._complained = -60.0
        self.thread = threading.Thread(target=self._loop, name="webhook-polls", daemon=True)

    def start(self) -> WebhookPolls:
        self.thread.start()
        return self

    def close(self) -> None:
        """Stop taking webhooks to polls; a webhook poll already running is the daemon's running job."""
        self.halt.set()
        self.inbox.ready.set()

    def _loop(self) -> None:
        while not self.halt.is_set():
            self.inbox.ready.wait(TICK)
            oldest = self.inbox.oldest()
            if oldest is not None:  # let the rest of a burst arrive: it joins this poll
                self.halt.wait(max(0.0, SETTLE - (utcnow() - oldest).total_seconds()))
            if self.halt.is_set() or self.daemon.stop.is_set():
                return
            try:
                self.step()
            except SQLAlchemyError as exc:  # the database is away: one line a minute, the next tick retries
                self._complain(exc)
            except Exception:  # the thread must outlive a bad step; the next tick retries
                log.exception("webhook polls: step failed")

    def _complain(self, exc: SQLAlchemyError) -> None:
        now = time.monotonic()
        if now - self._complained >= 60:
            self._complained = now
            log.error("webhook polls: database %s: %s; queued webhooks wait, polling goes on",
                      safe_url(str(self.engine.url)), describe(exc))

    def step(self) -> None:
        """Poll (leader) or forward (standby) whatever is waiting, then write the receipts for `status`."""
        if self.inbox.oldest() is not None or self._forwarded_waiting():
            self.daemon.guarded("webhook", self._work)
        self._write_receipts()

    def _work(self):
        """Under the daemon's cycle lock: is_leader() is only ever asked there."""
        if not self.daemon.leadership.is_leader():
            self._forward(self.inbox.take())
            return None
        with store_lock(self.engine):
            woken = self.inbox.take()
            for name, received in self._claim_forwarded().items():
                woken[name] = min(received, woken.get(name, received))
            result = self.daemon.webhook_poll(set(woken))
            if result is None:
                return None
        self._observe(result, woken)
        return result

    def _observe(self, result, woken: dict[str, dt.datetime]) -> None:
        """Detection latency: from the webhook to the end of the poll that delivered its watch's alerts."""
        if not result.delivered:
            return
        now = utcnow()
        for watch in {e.watch for e in result.events} & set(woken):
            telemetry.webhook("detected", watch, (now - woken[watch]).total_seconds())

    def _forward(self, woken: dict[str, dt.datetime]) -> None:
        if not woken:
            return
        try:
            with transaction(self.engine) as session:
                session.add_all(WebhookWakeup(watch=name, received_at=at, received_by=identity()[:200])
                                for name, at in woken.items())
        except SQLAlchemyError as exc:  # dropped, not retried every second: the leader's next poll covers it
            log.warning("webhook: could not forward %s to the leader (database: %s); its next regular poll covers it",
                        ", ".join(sorted(woken)), describe(exc))
            return
        log.info("webhook: forwarded %s to the leader", ", ".join(sorted(woken)))

    def _forwarded_waiting(self) -> bool:
        if not (self.shared and self.daemon.leadership.leader):
            return False
        with transaction(self.engine) as session:
            return session.scalars(select(WebhookWakeup.id).limit(1)).first() is not None

    def _claim_forwarded(self) -> dict[str, dt.datetime]:
        if not self.shared:
            return {}
        with transaction(self.engine) as session:
            rows = session.execute(delete(WebhookWakeup).returning(WebhookWakeup.watch, WebhookWakeup.received_at))
            claimed: dict[str, dt.datetime] = {}
            for watch, received in rows:
                claimed[watch] = min(received, claimed.get(watch, received))
            return claimed

    def _write_receipts(self) -> None:
        receipts = self.inbox.receipts()
        if receipts is not None:
            record_receipts(self.engine, *receipts, self.daemon.clock())


def record_receipts(engine, accepted, rejected, now: dt.datetime) -> None:
    """Upsert the one `huggingface` row; the last replica to write wins, which is the latest within a tick."""
    values = {"source": "huggingface", "updated_at": now}
    if accepted:
        values.update(last_accepted_at=accepted[0], last_repo=accepted[1][:200])
    if rejected:
        values.update(last_rejected_at=rejected[0], last_rejection=rejected[1][:40])
    dialect = postgresql if is_postgres(engine) else sqlite
    statement = dialect.insert(WebhookReceipt).values(**values)
    statement = statement.on_conflict_do_update(index_elements=["source"],
                                                set_={k: v for k, v in values.items() if k != "source"})
    with transaction(engine) as session:
        session.execute(statement)


def last_receipts(session) -> WebhookReceipt | None:
    return session.get(WebhookReceipt, "huggingface")
