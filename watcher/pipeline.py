"""One cycle: fetch -> detect -> store (one transaction) -> deliver. The only module that calls every step."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from watcher import cadence, notify, source_health
from watcher.config import Config, Watch
from watcher.detect import detect
from watcher.models import Event, EventKind, RepoSnapshot, SourceReport, WatchState
from watcher.notify.render import build_message
from watcher.redact import redact
from watcher.sources import SOURCES, Source, name_matches
from watcher.store import outbox, queries
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
    delivery_errors: list[str] = field(default_factory=list)
    health: list = field(default_factory=list)  # source_health.Outcome per (watch, source) polled


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
        except Exception as exc:  # noqa: BLE001 - the cycle must go on; the error is recorded
            log.exception("watch=%s source=%s crashed", watch.name, name)
            report = SourceReport(name, errors=[redact(f"{name}: unexpected {type(exc).__name__}: {exc}")])
        for error in report.errors:
            log.warning("watch=%s %s", watch.name, error)
        reports.append(report)
    return reports


def overdue_event(watch: Watch, snapshots: dict[str, RepoSnapshot], today: dt.date) -> Event | None:
    start, end = watch.window()
    released = any(s.source == "huggingface" and s.has_weights for s in snapshots.values())
    pos = cadence.position(today, start, end, released)
    if pos.state is not WatchState.OVERDUE:
        return None
    summary = (
        f"expected {start.isoformat()} to {end.isoformat()} "
        f"({watch.lag_days.min} to {watch.lag_days.max} days after {watch.flagship.name}); "
        f"{pos.days_overdue} day(s) late, no open weights yet"
    )
    data = {"window_start": start.isoformat(), "window_end": end.isoformat(),
            "days_overdue": pos.days_overdue, "summary": summary}
    return Event(watch.name, EventKind.OVERDUE, f"overdue:{end.isoformat()}", data=data)


def run_cycle(config: Config, engine: Engine, clock: Clock = utcnow, sources: dict[str, Source] | None = None,
              notifiers: Sequence[notify.Notifier] | None = None, watches: Sequence[Watch] | None = None) -> CycleResult:
    """Poll every watch (or only `watches`), store what changed in one transaction, then deliver the outbox."""
    started, tick = clock(), time.monotonic()
    watches = list(watches) if watches is not None else config.watches
    owned = sources is None
    sources = sources if sources is not None else {name: build(config) for name, build in SOURCES.items()}
    notifiers = list(notifiers) if notifiers is not None else notify.build(config)
    try:
        with transaction(engine) as session:
            memory = {w.name: (queries.previous_snapshots(session, w.name), queries.baselined_scopes(session, w.name))
                      for w in watches}
        reports = {w.name: fetch(w, sources, memory[w.name][0]) for w in watches}
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
        overdue = overdue_event(watch, detection.snapshots, clock().date())
        if overdue is not None:
            events.append(overdue)
    now = clock()
    queries.save_snapshots(session, watch.name, detection.snapshots.values(), detection.baselined_scopes, now)
    rows = queries.record_events(session, events, run, now)
    queries.enqueue(session, rows, [n.destination for n in notifiers], now)
    result.events.extend(e for e in events if e.dedup_key in {r.dedup_key for r in rows})
    for report in reports:
        result.errors.extend(report.errors)
        result.requests[report.source] = result.requests.get(report.source, 0) + report.requests


def context_line(watch: Watch, today: dt.date, released: bool) -> str:
    start, end = watch.window()
    pos = cadence.position(today, start, end, released)
    text = f"Expected {start.isoformat()} to {end.isoformat()} ({watch.lag_days.min}-{watch.lag_days.max} days after {watch.flagship.name} on {watch.flagship.released.isoformat()})"
    if pos.days_overdue is not None:
        text += f"; {pos.days_overdue} day(s) overdue"
    elif pos.days_until_window is not None:
        text += f"; window opens in {pos.days_until_window} day(s)"
    elif pos.state is WatchState.IN_WINDOW:
        text += "; inside the window now"
    return text


def deliver(config: Config, engine: Engine, notifiers: Sequence[notify.Notifier], clock: Clock = utcnow,
            result: CycleResult | None = None) -> CycleResult:
    """Send pending outbox rows in order; each is marked delivered in its own commit, only on success.

    After a destination's first failure its later rows wait, so messages never arrive out of order.
    """
    result = result or CycleResult(0, 0.0)
    by_name = {n.destination: n for n in notifiers}
    blocked: set[str] = set()
    with transaction(engine) as session:
        pending = [(d.id, d.destination) for d in queries.pending_deliveries(session)]
    for delivery_id, destination in pending:
        notifier = by_name.get(destination)
        if notifier is None or destination in blocked:
            result.pending += 1
            continue
        with transaction(engine) as session:
            row = outbox.claim(session, delivery_id)
            if row is outbox.BUSY:  # another replica is sending it; it sends the rest in order too
                blocked.add(destination)
                continue
            if row is None or row.status != queries.PENDING:
                continue
            message = _message(config, session, row, clock)
            try:
                ref = notifier.send(message) if message is not None else None
            except notify.DeliveryError as exc:
                row.attempts += 1
                row.last_error = redact(exc.reason)
                blocked.add(destination)
                result.pending += 1
                result.delivery_errors.append(f"{destination}: {row.last_error}")
                log.warning("watch=%s delivery %s to %s failed: %s", row.watch, row.id, destination, row.last_error)
                continue
            row.attempts += 1
            row.status = queries.DELIVERED
            row.delivered_at = clock()
            row.external_ref = ref
            row.last_error = None
            result.delivered += 1
    return result


def _message(config: Config, session, row, clock: Clock):
    events = queries.events_by_id(session, row.event_ids)
    if not events:
        return None
    try:
        watch = config.watch(row.watch)
        title = watch.display_title
        released = any(r.has_weights and r.source == "huggingface" for r in queries.repos_of(session, watch.name))
        context = context_line(watch, clock().date(), released)
    except KeyError:
        title, context = row.watch, ""
    payload = [{"kind": e.kind, "source": e.source, "repo_id": e.repo_id, "data": e.data} for e in events]
    return build_message(row.watch, title, payload, context)
