"""One cycle: fetch -> detect -> store (one transaction) -> deliver. The only module that calls every step."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from watcher import alerts, notify, polling, source_health
from watcher.config import Config, Watch
from watcher.detect import detect
from watcher.models import Event, RepoSnapshot, SourceReport
from watcher.notify import outbox
from watcher.redact import redact
from watcher.sources import SOURCES, Source, name_matches
from watcher.store import queries
from watcher.store.db import transaction
from watcher.store.tables import PollRun

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CycleResult:
    run_id: int
    seconds: float
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    pending: int = 0
    failed: int = 0
    delivery_errors: list[str] = field(default_factory=list)
    health: list = field(default_factory=list)  # source_health.Outcome per (watch, source) polled
    deferred: list[str] = field(default_factory=list)  # work the rate-limit budget postponed


def covers(watch: Watch, snap: RepoSnapshot) -> bool:
    """Whether the watch (as configured now) still looks at this repo; config edits prune silently."""
    owner, _, name = snap.repo_id.partition("/")
    spec = watch.huggingface if snap.source == "huggingface" else watch.github
    if spec is None:
        return False
    if snap.repo_id.lower() in {r.lower() for r in spec.repos}:
        return True
    owners = spec.authors if snap.source == "huggingface" else spec.orgs
    return owner.lower() in {o.lower() for o in owners} and name_matches(name, spec.include, spec.exclude)


def fetch(watch: Watch, sources: dict[str, Source], previous: dict[str, RepoSnapshot]) -> list[SourceReport]:
    """Ask every source; a crash in one source is reported, never allowed to stop the cycle."""
    reports = []
    for name, source in sources.items():
        try:
            report = source.poll(watch, previous)
        except Exception as exc:  # the cycle must go on; the error is recorded
            log.exception("watch=%s source=%s crashed", watch.name, name)
            report = SourceReport(name, errors=[redact(f"{name}: unexpected {type(exc).__name__}: {exc}")])
        for error in report.errors:
            log.warning("watch=%s %s", watch.name, error)
        reports.append(report)
    return reports


def cadence_alerts(session, watch: Watch, snapshots: dict[str, RepoSnapshot], now: dt.datetime,
                   new: list[Event]) -> list[Event]:
    """Window opened / overdue / reminders / released, timed from the events table (restart-safe)."""
    released = any(s.source == "huggingface" and s.has_weights for s in snapshots.values())
    rows = queries.events_of_kinds(session, watch.name, [k.value for k in alerts.HISTORY_KINDS])
    past = [alerts.Past(r.kind, r.dedup_key, r.created_at, r.data or {}) for r in rows]
    return alerts.cadence_events(watch, watch.expected(), now, released, past, new)


def run_cycle(config: Config, engine: Engine, clock: Clock = utcnow, sources: dict[str, Source] | None = None,
              notifiers: Sequence[notify.Notifier] | None = None, watches: Sequence[Watch] | None = None) -> CycleResult:
    """Poll every watch (or only `watches`), store what changed in one transaction, then deliver the outbox."""
    started, tick = clock(), time.monotonic()
    watches = list(watches) if watches is not None else config.watches
    owned = sources is None
    notifiers = list(notifiers) if notifiers is not None else notify.build(config)
    with transaction(engine) as session:
        memory = {w.name: (queries.previous_snapshots(session, w.name), queries.baselined_scopes(session, w.name))
                  for w in watches}
        states = polling.load_states(session, list(SOURCES)) if owned else {}
    sources = sources if sources is not None else {name: build(config, states[name]) for name, build in SOURCES.items()}
    try:
        previous = {name: mem[0] for name, mem in memory.items()}
        reports = polling.fetch_all(watches, sources, previous, fetch)
    finally:
        if owned:
            for source in sources.values():
                source.close()
    result = CycleResult(0, 0.0)
    with transaction(engine) as session:
        run = PollRun(started_at=started, errors=[], requests={})
        session.add(run)
        session.flush()
        for watch in watches:
            _store_watch(session, watch, memory[watch.name], reports[watch.name], run, clock, result, notifiers)
        source_health.record(session, config, watches, reports, run, clock(), notifiers, result)
        polling.save_states(session, states, clock())
        result.deferred = polling.deferred_lines(reports, states)
        run.finished_at = clock()
        run.errors = result.errors
        run.requests = result.requests
        run.events = len(result.events)
        result.run_id = run.id
    deliver(config, engine, notifiers, clock, result)
    result.seconds = time.monotonic() - tick
    return result


def _store_watch(session, watch: Watch, memory, reports, run, clock, result, notifiers) -> None:
    previous, baselined = memory
    stale = [key for key, snap in previous.items() if not covers(watch, snap)]
    queries.drop_snapshots(session, watch.name, stale)
    previous = {k: v for k, v in previous.items() if k not in stale}
    detection = detect(watch.name, previous, reports, baselined)
    events = list(detection.events)
    if detection.baselined_scopes:
        events.extend(cadence_alerts(session, watch, detection.snapshots, clock(), events))
    now = clock()
    queries.save_snapshots(session, watch.name, detection.snapshots.values(), detection.baselined_scopes, now)
    result.events.extend(outbox.record(session, events, run.id, notifiers, now))
    for report in reports:
        result.errors.extend(report.errors)
        result.requests[report.source] = result.requests.get(report.source, 0) + report.requests


def deliver(config: Config, engine: Engine, notifiers: Sequence[notify.Notifier], clock: Clock = utcnow,
            result: CycleResult | None = None) -> CycleResult:
    """Send the outbox (see notify/outbox.py): in order, each alert once, only on confirmed success."""
    return outbox.deliver(config, engine, notifiers, clock, result or CycleResult(0, 0.0))
