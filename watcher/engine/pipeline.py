"""Every kind of cycle, composed here and nowhere else: poll (fetch -> detect -> store in one
transaction -> deliver), webhook poll (a poll of the watches a webhook named), cadence check (stored
snapshots -> window alerts -> deliver) and delivery alone. The daemon and the CLI only decide when.

Each step takes a `Context` (config, engine, clock, notifiers) and returns what it produced; the
cycle assembles the `CycleResult` from those returns."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from watcher import models, notify
from watcher.config import Cadence, Config, Watch
from watcher.engine import delivery as outbox
from watcher.engine import observed, polling, source_health
from watcher.engine.detect import detect
from watcher.forecast import alerts
from watcher.forecast import variant_state as vs
from watcher.forecast.windows import expected_window
from watcher.models import Event, EventKind, RepoSnapshot, SourceReport
from watcher.sources import SOURCES, Source, name_matches
from watcher.store import queries, retention
from watcher.store.db import transaction
from watcher.store.tables import PollRun

if TYPE_CHECKING:
    from watcher.engine.head_start import HeadStart

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
    watches: int = 0  # how many watches a poll cycle polled


def covers(watch: Watch, snap: RepoSnapshot) -> bool:
    """Whether the watch (as configured now) still looks at this repo; config edits prune silently."""
    return Coverage(watch)(snap)


class Coverage:
    """covers() for one watch, its name sets built once per cycle instead of once per repo."""

    def __init__(self, watch: Watch) -> None:
        self.specs: dict[str, tuple] = {}
        hub, github = models.Source.HUGGINGFACE, models.Source.GITHUB
        for source, spec in ((hub, watch.huggingface), (github, watch.github)):
            if spec is not None:
                owners = spec.authors if source is hub else spec.orgs
                self.specs[source] = (spec, {r.lower() for r in spec.repos}, {o.lower() for o in owners})

    def __call__(self, snap: RepoSnapshot) -> bool:
        if snap.source not in self.specs:
            return False
        spec, repos, owners = self.specs[snap.source]
        if snap.repo_id.lower() in repos:
            return True
        owner, _, name = snap.repo_id.partition("/")
        return owner.lower() in owners and name_matches(name, spec.include, spec.exclude)


def cadence_alerts(session, watch: Watch, cadences: Mapping[str, Cadence], snapshots: dict[str, RepoSnapshot],
                   now: dt.datetime, new: list[Event]) -> list[Event]:
    """Window opened / overdue / reminders / released, timed from the events table (restart-safe)."""
    released = models.released(snapshots.values())
    rows = queries.events_of_kinds(session, watch.name, [k.value for k in alerts.HISTORY_KINDS])
    past = [alerts.Past(r.kind, r.dedup_key, r.created_at, r.data or {}) for r in rows]
    window = expected_window(watch, cadences)
    return alerts.cadence_events(watch, window, now, released, past, new, landings(snapshots, now, new))


def landings(snapshots: dict[str, RepoSnapshot], now: dt.datetime, new: list[Event]) -> list[vs.Landing]:
    """The watch's Hub repos with weights: dated today when their weights appear in this cycle, else by
    their createdAt (they were there before: at the baseline, or before this watch existed)."""
    fresh = {e.repo_id for e in new if e.kind == EventKind.WEIGHTS_PUBLISHED and e.source == models.Source.HUGGINGFACE}
    out = []
    for snap in snapshots.values():
        if not models.has_open_weights(snap):
            continue
        created = vs.parse_day(snap.created_at)
        raw = snap.created_at if created else None
        if snap.repo_id in fresh or created is None or created > now.date():
            out.append(vs.Landing(snap.repo_id, now.date(), snap.url or None, created_at=raw))
        else:
            out.append(vs.Landing(snap.repo_id, created, snap.url or None, "createdAt", raw))
    return out


@dataclass(frozen=True)
class Context:
    """What every step of a cycle reads: the config, the database, the clock and where alerts go."""

    config: Config
    engine: Engine
    clock: Clock
    notifiers: Sequence[notify.Notifier]

    @classmethod
    def of(cls, config: Config, engine: Engine, clock: Clock = utcnow,
           notifiers: Sequence[notify.Notifier] | None = None) -> Context:
        return cls(config, engine, clock, list(notifiers) if notifiers is not None else notify.build(config))


@dataclass(frozen=True)
class Memory:
    """What the database knew before a poll: cadences with what was observed, baselined scopes, source states."""

    watches: list[Watch]
    cadences: dict[str, Cadence]  # with what earlier watches of a cadence observed (observed.attach)
    baselined: dict[str, set]
    states: dict


@dataclass
class Stored:
    """What the storing step produced for one cycle (or one watch of it)."""

    run_id: int = 0
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    health: list = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


def run_cycle(config: Config, engine: Engine, clock: Clock = utcnow, sources: dict[str, Source] | None = None,
              notifiers: Sequence[notify.Notifier] | None = None, watches: Sequence[Watch] | None = None,
              head: HeadStart | None = None) -> CycleResult:
    """Poll every watch (or only `watches`), store what changed in one transaction, then deliver the outbox.
    `head`: this cycle's fetch, already under way (engine/head_start.py) for every watch of `config`."""
    return poll_cycle(Context.of(config, engine, clock, notifiers), watches, sources, head)


def poll_cycle(ctx: Context, watches: Sequence[Watch] | None = None,
               sources: dict[str, Source] | None = None, head: HeadStart | None = None) -> CycleResult:
    """The poll cycle: remember -> fetch -> detect and store (one transaction) -> deliver."""
    started, tick = (head.started, head.tick) if head else (ctx.clock(), time.monotonic())
    chosen = list(watches) if watches is not None else ctx.config.watches
    memory = remember(ctx, chosen, owned=sources is None, states=head.states if head else None)
    reports, stored = head.finish() if head else fetch_watches(ctx, memory, sources)
    outcome = store(ctx, memory, stored, reports, started)
    delivery = outbox.deliver(ctx.config, ctx.engine, ctx.notifiers, ctx.clock)
    return CycleResult(outcome.run_id, time.monotonic() - tick, outcome.events, outcome.errors, outcome.requests,
                       delivery.delivered, delivery.pending, delivery.failed, delivery.delivery_errors,
                       outcome.health, outcome.deferred, len(memory.watches))


def webhook_cycle(ctx: Context, woken: set[str]) -> CycleResult | None:
    """A poll of the watches webhooks named (an ordinary poll of fewer watches); None when none is configured."""
    watches = [w for w in ctx.config.watches if w.name in woken]
    return poll_cycle(ctx, watches) if watches else None


def remember(ctx: Context, watches: list[Watch], owned: bool, states: dict | None = None) -> Memory:
    """Read what earlier cycles left: observed history, baselined scopes, and (when we build the sources) their
    state, unless a head start read it already."""
    with transaction(ctx.engine) as session:
        seen = observed.attach(ctx.config, session)  # windows count what earlier watches of a cadence saw
        baselined = {w.name: queries.baselined_scopes(session, w.name) for w in watches}
        if states is None:
            states = polling.load_states(session, list(SOURCES)) if owned else {}
    return Memory(watches, seen.cadences, baselined, states)


def fetch_watches(ctx: Context, memory: Memory, sources: dict[str, Source] | None):
    """Ask the sources about every watch while the stored repos load; returns (reports, stored repos)."""
    watches, owned = memory.watches, sources is None
    loading = polling.StoredRepos.of(ctx.engine, [w.name for w in watches])  # read while the first requests go out
    if sources is None:
        sources = polling.build_sources(ctx.config, watches, memory.states)
    try:
        reports = polling.fetch_all(watches, sources, {w.name: loading.previous(w.name) for w in watches},
                                    workers=polling.watch_workers(ctx.config))
    finally:
        if owned:
            for source in sources.values():
                source.close()
    return reports, loading.result()


def store(ctx: Context, memory: Memory, stored: dict, reports: dict[str, list[SourceReport]],
          started: dt.datetime) -> Stored:
    """Detect and store every watch, health and source state in one transaction: all of the cycle or none."""
    out = Stored()
    with transaction(ctx.engine) as session:
        run = PollRun(started_at=started, errors=[], requests={})
        session.add(run)
        session.flush()
        for watch in memory.watches:
            done = store_watch(ctx, session, memory, watch, stored[watch.name], reports[watch.name], run.id)
            out.events.extend(done.events)
            out.errors.extend(done.errors)
            for source, count in done.requests.items():
                out.requests[source] = out.requests.get(source, 0) + count
        out.health, health_alerts = source_health.record(session, ctx.config, memory.watches, reports, run, ctx.clock(),
                                                   ctx.notifiers)
        out.events.extend(health_alerts)
        polling.save_states(session, memory.states, ctx.clock())
        retention.prune(session, ctx.config.retention, ctx.clock())
        out.deferred = polling.deferred_lines(reports, memory.states)
        run.finished_at = ctx.clock()
        run.errors, run.requests, run.events = out.errors, out.requests, len(out.events)
        out.run_id = run.id
    return out


def store_watch(ctx: Context, session, memory: Memory, watch: Watch, stored: dict, reports: list[SourceReport],
                run_id: int) -> Stored:
    """One watch: prune repos it no longer covers, detect, add cadence alerts, save; returns what it recorded."""
    covered = Coverage(watch)
    previous = {key: repo.snapshot for key, repo in stored.items()}
    stale = [key for key, snap in previous.items() if not covered(snap)]
    queries.drop_snapshots(session, stored, stale)
    previous = {k: v for k, v in previous.items() if k not in stale}
    detection = detect(watch.name, previous, reports, memory.baselined[watch.name])
    events = list(detection.events)
    if detection.baselined_scopes:
        events.extend(cadence_alerts(session, watch, memory.cadences, detection.snapshots, ctx.clock(), events))
        observed.record(session, watch, landings(detection.snapshots, ctx.clock(), events), ctx.clock())
    now = ctx.clock()
    queries.save_snapshots(session, watch.name, stored, detection.snapshots.values(), detection.baselined_scopes, now)
    out = Stored(events=outbox.record(session, events, run_id, ctx.notifiers, now))
    for report in reports:
        out.errors.extend([*map(str, report.errors), *report.problems])
        out.requests[report.source] = out.requests.get(report.source, 0) + report.requests
    return out


def cadence_cycle(ctx: Context) -> CycleResult:
    """Re-evaluate every watch's window against stored snapshots (no API calls), then deliver.

    A watch whose sources are all failing still gets its window/overdue alerts and reminders on the right day.
    """
    tick, now = time.monotonic(), ctx.clock()
    with transaction(ctx.engine) as session:
        events = []
        seen = observed.attach(ctx.config, session)
        for watch in seen.watches:
            if not queries.baselined_scopes(session, watch.name):
                continue  # never polled: the first cycle decides, with its baseline
            snapshots = queries.previous_snapshots(session, watch.name)
            events.extend(cadence_alerts(session, watch, seen.cadences, snapshots, now, []))  # opened/overdue/reminders
        recorded = outbox.record(session, events, None, ctx.notifiers, now)
    for event in recorded:
        log.info("watch=%s event %s (cadence check)", event.watch, event.kind.value, extra={"job": "cadence"})
    delivery = outbox.deliver(ctx.config, ctx.engine, ctx.notifiers, ctx.clock)
    return CycleResult(0, time.monotonic() - tick, recorded, delivered=delivery.delivered, pending=delivery.pending,
                       failed=delivery.failed, delivery_errors=delivery.delivery_errors)


def cadence_check(config: Config, engine: Engine, clock: Clock = utcnow,
                  notifiers: Sequence[notify.Notifier] | None = None) -> CycleResult:
    """The cadence cycle for callers holding a config and an engine (the daemon's job, tests)."""
    return cadence_cycle(Context.of(config, engine, clock, notifiers))


def deliver(config: Config, engine: Engine, notifiers: Sequence[notify.Notifier], clock: Clock = utcnow) -> CycleResult:
    """The delivery cycle: send the outbox (see engine/delivery.py), in order, each alert once, only on confirmed success."""
    tick = time.monotonic()
    delivery = outbox.deliver(config, engine, notifiers, clock)
    return CycleResult(0, time.monotonic() - tick, delivered=delivery.delivered, pending=delivery.pending,
                       failed=delivery.failed, delivery_errors=delivery.delivery_errors)
