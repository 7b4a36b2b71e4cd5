"""ORM tables. JSON columns hold snapshot and event details so a new field needs no migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from watcher.models import DeliveryState


class UTCDateTime(TypeDecorator):
    """Stores UTC and always hands back aware datetimes, also on SQLite which forgets the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


class JSONType(TypeDecorator):
    """JSONB on PostgreSQL: binary, comparable (plain json has no `=`, so no DISTINCT/GROUP BY) and indexable;
    JSON elsewhere. Chosen per dialect, so SQLite never imports the PostgreSQL dialect (`with_variant(JSONB())`
    did, at every start)."""

    impl = JSON
    cache_ok = True
    should_evaluate_none = True  # as JSON: None is stored as JSON null, not left out as SQL NULL

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


class WatchRow(Base):
    """Per-watch memory across cycles: which scopes have their baseline, last poll times."""

    __tablename__ = "watches"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    baselined_scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime]
    last_poll_at: Mapped[dt.datetime | None]


class RepoRow(Base):
    """The current snapshot of one repo for one watch."""

    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("watch", "source", "repo_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(32))
    repo_id: Mapped[str] = mapped_column(String(600))
    visible: Mapped[bool]
    has_weights: Mapped[bool]
    snapshot: Mapped[dict[str, Any]]
    first_seen: Mapped[dt.datetime | None]  # first time visible
    weights_seen: Mapped[dt.datetime | None]  # first time with weight files
    last_seen: Mapped[dt.datetime | None]  # last time visible
    updated_at: Mapped[dt.datetime]


class PollRun(Base):
    """One cycle: when, what failed, how many requests it cost."""

    __tablename__ = "poll_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    errors: Mapped[list[Any]] = mapped_column(default=list)
    requests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    events: Mapped[int] = mapped_column(default=0)


class EventRow(Base):
    """Event history; the unique key is what makes every alert happen at most once."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("watch", "dedup_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(1000))
    source: Mapped[str | None] = mapped_column(String(32))
    repo_id: Mapped[str | None] = mapped_column(String(600))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    poll_run_id: Mapped[int | None] = mapped_column(ForeignKey("poll_runs.id"))


class Delivery(Base):
    """Outbox row: one message (a watch's events from one cycle) for one destination."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(200))
    event_ids: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16), index=True, default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
    external_ref: Mapped[str | None] = mapped_column(String(200))
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # host:pid:nonce of the sender (store/outbox.py)
    claimed_until: Mapped[dt.datetime | None]


class SourceHealth(Base):
    """Consecutive failures of one source for one watch, so one blip is a log line and a streak an alert."""

    __tablename__ = "source_health"
    watch: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[dt.datetime | None]
    last_failure_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    streaks: Mapped[int] = mapped_column(default=0)  # alerted streaks so far: part of the events' dedup keys


class DaemonRun(Base):
    """One `watcher run` process: when it started, so the health check can allow a start-up grace."""

    __tablename__ = "daemon_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(default=0)


class HttpCacheRow(Base):
    """Validators (ETag / Last-Modified) of one endpoint and the parsed answer they stand for."""

    __tablename__ = "http_cache"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(1000), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime]


class ApiBudgetRow(Base):
    """What an API last said about our rate limit, and the work the last cycle deferred."""

    __tablename__ = "api_budget"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime]


class SentMessage(Base):
    """A message a destination confirmed, one per part of a delivery (top-level post, reply or edit).

    A retried delivery skips the parts already here, so a half-sent delivery never repeats itself; a
    top-level row (no `thread_ts`) is the thread parent for later follow-ups about its `subjects`, and
    `content` is what it shows, so it can be re-rendered with the current state and edited in place.
    """

    __tablename__ = "sent_messages"
    __table_args__ = (UniqueConstraint("delivery_id", "part"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    destination: Mapped[str] = mapped_column(String(200), index=True)
    watch: Mapped[str] = mapped_column(String(200))
    part: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))
    ts: Mapped[str | None] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))
    subjects: Mapped[list[Any]] = mapped_column(default=list)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime | None]


class ObservedRelease(Base):
    """A variant's first open weights as this watcher saw them: history for the next watch of the same cadence."""

    __tablename__ = "observed_releases"
    __table_args__ = (UniqueConstraint("cadence", "watch", "variant"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cadence: Mapped[str] = mapped_column(String(200), index=True)
    watch: Mapped[str] = mapped_column(String(200))
    flagship: Mapped[str] = mapped_column(String(200))
    flagship_released: Mapped[str] = mapped_column(String(10))  # ISO date, as in config.yaml
    variant: Mapped[str] = mapped_column(String(100))
    repo: Mapped[str] = mapped_column(String(600))
    released: Mapped[str] = mapped_column(String(10))  # ISO date the history counts
    hub_created_at: Mapped[str | None] = mapped_column(String(40))  # the repo's createdAt, as the Hub gave it
    seen_at: Mapped[dt.datetime]


class WebhookWakeup(Base):
    """A watch a webhook asked to poll, received by a standby replica: the leader polls it and deletes the row."""

    __tablename__ = "webhook_wakeups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[dt.datetime]  # wall clock of the receiving replica: detection latency starts here
    received_by: Mapped[str] = mapped_column(String(200), default="")


class WebhookReceipt(Base):
    """When the last webhook arrived at any replica (and the last one refused), for `watcher status`."""

    __tablename__ = "webhook_receipts"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_accepted_at: Mapped[dt.datetime | None]
    last_repo: Mapped[str | None] = mapped_column(String(200))
    last_rejected_at: Mapped[dt.datetime | None]
    last_rejection: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime]
