"""Frozen copy of watcher/store/tables.py as released before migrations (revision 0001 must equal it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


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


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


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
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
    external_ref: Mapped[str | None] = mapped_column(String(200))
