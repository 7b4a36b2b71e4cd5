"""Consecutive source failures: a log line each time, one alert after a streak, one when it recovers.

A flaky API must not page anyone on its first 503, but a source that has been failing for an hour
(a revoked token, a renamed org) must not go unnoticed either. The counters live in the database so a
restart neither forgets a streak nor alerts twice for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher import reasons
from watcher.config import Config, Watch
from watcher.engine import delivery as outbox
from watcher.models import Event, EventKind, Reason, SourceReport
from watcher.store.tables import SourceHealth

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How one source did for one watch in one cycle (the daemon turns these into metrics)."""

    watch: str
    source: str
    ok: bool
    consecutive_failures: int
    reason: Reason | None = None  # the first problem's, a metrics label; None when the poll worked


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def track(session: Session, watch: Watch, report: SourceReport, threshold: int, now: dt.datetime,
          reason: str | None = None) -> tuple[Outcome, Event | None]:
    """Update one (watch, source) counter; return an event when the streak crosses the threshold or ends.

    A failure is one WARNING line per source per cycle, `reason` in plain words (see reasons.py); the
    errors themselves are logged at debug by the pipeline."""
    row = session.get(SourceHealth, (watch.name, report.source))
    if row is None:
        row = SourceHealth(watch=watch.name, source=report.source, consecutive_failures=0, alerted=False, streaks=0)
        session.add(row)
    event = None
    if report.errors:
        row.consecutive_failures += 1
        row.failing_since = row.failing_since or now
        row.last_failure_at = now
        first = report.errors[0]
        row.last_error = str(first)[:1000]
        n = len(report.errors)
        log.warning("%s: %s (%d error%s; %d failed poll%s in a row)", report.source, reason or row.last_error, n,
                    "" if n == 1 else "s", row.consecutive_failures, "" if row.consecutive_failures == 1 else "s",
                    extra={"watch": watch.name, "source": report.source, "repo": first.repo})
        if row.consecutive_failures >= threshold and not row.alerted:
            row.alerted = True
            row.streaks += 1
            summary = (f"{report.source} failed {row.consecutive_failures} polls in a row "
                       f"since {_iso(row.failing_since)}: {row.last_error}")
            event = Event(watch.name, EventKind.SOURCE_FAILING, f"source_failing:{report.source}:{row.streaks}",
                          source=report.source,
                          data={"failures": row.consecutive_failures, "since": _iso(row.failing_since),
                                "error": row.last_error, "summary": summary})
        return Outcome(watch.name, report.source, False, row.consecutive_failures, first.reason), event
    if row.alerted:
        summary = (f"{report.source} works again after {row.consecutive_failures} failed poll(s) "
                   f"since {_iso(row.failing_since)}")
        event = Event(watch.name, EventKind.SOURCE_RECOVERED, f"source_recovered:{report.source}:{row.streaks}",
                      source=report.source,
                      data={"failures": row.consecutive_failures, "since": _iso(row.failing_since), "summary": summary})
    if row.consecutive_failures:
        log.info("watch=%s source=%s recovered after %d failure(s)", watch.name, report.source,
                 row.consecutive_failures, extra={"watch": watch.name, "source": report.source})
    row.consecutive_failures = 0
    row.failing_since = None
    row.alerted = False
    row.last_success_at = now
    return Outcome(watch.name, report.source, True, 0), event


def record(session: Session, config: Config, watches: Sequence[Watch], reports: dict[str, list[SourceReport]],
           run, now: dt.datetime, notifiers) -> tuple[list[Outcome], list]:
    """Called inside the cycle's transaction: counters, events and their outbox rows commit together.
    Returns each polled (watch, source)'s outcome and the alerts that were new."""
    events, outcomes = [], []
    for watch in watches:
        for report in reports.get(watch.name, []):
            if getattr(watch, report.source, None) is None:
                continue  # the watch does not use this source: neither a success nor a failure
            outcome, event = track(session, watch, report, config.schedule.alert_after_failures, now,
                                   _reason(config, report))
            outcomes.append(outcome)
            if event is not None:
                events.append(event)
    if not events:
        return outcomes, []
    return outcomes, outbox.record(session, events, run.id, notifiers, now)


def _reason(config: Config, report: SourceReport) -> str | None:
    if not report.errors:
        return None
    settings = getattr(config, report.source, None)
    url = getattr(settings, "endpoint", None) or getattr(settings, "api_url", None) or report.source
    tries = getattr(settings, "retries", 0) + 1
    return reasons.plain([str(e) for e in report.errors], reasons.host_of(url), tries)


def rows(session: Session) -> list[SourceHealth]:
    return list(session.scalars(select(SourceHealth).order_by(SourceHealth.watch, SourceHealth.source)))
