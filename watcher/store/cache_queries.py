"""Load and save the sources' HTTP validators and rate-limit budgets (plain data in, plain data out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from watcher.store.cycle_reads import Validators, budgets_of
from watcher.store.tables import ApiBudgetRow, HttpCacheRow

STALE_AFTER = dt.timedelta(days=30)  # then one full request refreshes it; removed orgs do not pile up


def load_cache(session: Session, source: str) -> Validators:
    rows = session.scalars(select(HttpCacheRow).where(HttpCacheRow.source == source))
    return {row.key: (row.etag, row.last_modified, row.body) for row in rows}


def save_cache(session: Session, source: str, changed: Mapping[str, tuple[str | None, str | None, Any]],
               now: dt.datetime) -> None:
    """Upsert what changed this cycle; drop entries untouched for STALE_AFTER."""
    for key, (etag, modified, body) in changed.items():
        row = session.get(HttpCacheRow, (source, key))
        if row is None:
            row = HttpCacheRow(source=source, key=key)
            session.add(row)
        row.etag, row.last_modified, row.body, row.updated_at = etag, modified, body, now
    session.execute(delete(HttpCacheRow).where(HttpCacheRow.source == source,
                                               HttpCacheRow.updated_at < now - STALE_AFTER))


def load_budgets(session: Session) -> dict[str, dict[str, Any]]:
    return budgets_of((row.source, row.state) for row in session.scalars(select(ApiBudgetRow)))


def save_budget(session: Session, source: str, state: dict[str, Any], now: dt.datetime) -> None:
    row = session.get(ApiBudgetRow, source)
    if row is None:
        row = ApiBudgetRow(source=source, state={}, updated_at=now)
        session.add(row)
    row.state, row.updated_at = state, now
