"""One cycle: fetch -> detect -> store (one transaction) -> deliver. The only module that calls every step."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from watcher import alerts, models, notify, observed, polling, source_health
from watcher import variant_state as vs
from watcher.config import Config, Watch
from watcher.detect import detect
from watcher.models import Event, EventKind, Reason, RepoSnapshot, SourceProblem, SourceReport
from watcher.notify import outbox
from watcher.redact import redact
from watcher.sources import SOURCES, Source, name_matches, sanitize
from watcher.store import queries
from watcher.store import retention
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


def fetch(watch: Watch, sources: dict[str, Source], previous: dict[str, RepoSnapshot]) -> list[SourceReport]:
    """Ask every source; a crash in one source is reported, never allowed to stop the cycle."""
    reports = []
    for name, source in sources.items():
        try:
            report = sanitize.report(source.poll(watch, previous))  # the boundary: nothing unstorable passes
        except Exception as exc:  # the cycle must go on; the error is recorded
            log.exception("watch=%s source=%s crashed", watch.name, name)
            crash = SourceProblem(name, "", None, Reason.CRASHED, redact(f"unexpected {type(exc).__name__}: {exc}"))
            report = SourceReport(name, errors=[crash])
        for error in report.errors:  # details; source_health logs the one WARNING line per source per cycle
            log.debug("watch=%s %s", watch.name, error)
        for problem in report.problems:  # one repo's trouble (a size lookup, a dropped value): one line each
            log.warning("watch=%s %s", watch.name, problem)
        reports.append(report)
    return reports


def cadence_alerts(session, watch: Watch, snapshots: dict[str, RepoSnapshot], now: dt.datetime,
                   new: list[Event]) -> list[Event]:
    """Window opened / overdue / reminders / released, timed from the events table (restart-safe)."""
    released = models.released(snapshots.values())
    rows = queries.events_of_kinds(session, watch.name, [k.value for k in alerts.HISTORY_KINDS])
    past = [alerts.Past(r.kind, r.dedup_key, r.created_at, r.data or {}) for r in rows]
    return alerts.cadence_events(watch, watch.expected(), now, released, past, new, landings(snapshots, now, new))


def _attached(seen: Config, watch: Watch) -> Watch:
    """The watch as `observed.attach` linked it; one passed in from outside the config stays as it is."""
    if not watch.cadence:
        return watch
    try:
        return seen.watch(watch.name)
    except KeyError:
        return watch


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


def run_cycle(config: Config, engine: Engine, clock: Clock = utcnow, sources: dict[str, Source] | None = None,
              notifiers: Sequence[notify.Notifier] | None = None, watches: Sequence[Watch] | None = None) -> CycleResult:
    """Poll every watch (or only `watches`), store what changed in one transaction, then deliver the outbox."""
    started, tick = clock(), time.monotonic()
    watches = list(watches) if watches is not None else config.watches
    owned = sources is None
    notifiers = list(notifiers) if notifiers is not None else notify.build(config)
    with transaction(engine) as session:
        seen = observed.attach(config, session)  # windows count what earlier watches of a cadence saw
        watches = [_attached(seen, w) for w in watches]
        baselined = {w.name: queries.baselined_scopes(session, w.name) for w in watches}
        states = polling.load_states(session, list(SOURCES)) if owned else {}
    loading = polling.StoredRepos(engine, [w.name for w in watches])  # read while the first requests go out
    if sources is None:  # only the sources some watch uses: a Hub-only config never loads the GitHub client
        sources = {name: build(config, states[name]) for name, build in SOURCES.items()
                   if any(getattr(w, name, None) is not None for w in watches)}
    try:
        reports = polling.fetch_all(watches, sources, {w.name: loading.previous(w.name) for w in watches}, fetch,
                                    polling.watch_workers(config))
    finally:
        if owned:
            for source in sources.values():
                source.close()
    stored = loading.result()
    memory = {w.name: (stored[w.name], baselined[w.name]) for w in watches}
    previous = {name: {key: repo.snapshot for key, repo in repos.items()} for name, repos in stored.items()}
    result = CycleResult(0, 0.0)
    with transaction(engine) as session:
        run = PollRun(started_at=started, errors=[], requests={})
        session.add(run)
        session.flush()
        for watch in watches:
            _store_watch(session, watch, memory[watch.name], previous[watch.name], reports[watch.name], run, clock,
                         result, notifiers)
        source_health.record(session, config, watches, reports, run, clock(), notifiers, result)
        polling.save_states(session, states, clock())
        retention.prune(session, config.retention, clock())
        result.deferred = polling.deferred_lines(reports, states)
        run.finished_at = clock()
        run.errors = result.errors
        run.requests = result.requests
        run.events = len(result.events)
        result.run_id = run.id
    deliver(config, engine, notifiers, clock, result)
    result.seconds = time.monotonic() - tick
    return result


def _store_watch(session, watch: Watch, memory, previous, reports, run, clock, result, notifiers) -> None:
    stored, baselined = memory
    covered = Coverage(watch)
    stale = [key for key, snap in previous.items() if not covered(snap)]
    queries.drop_snapshots(session, stored, stale)
    previous = {k: v for k, v in previous.items() if k not in stale}
    detection = detect(watch.name, previous, reports, baselined)
    events = list(detection.events)
    if detection.baselined_scopes:
        events.extend(cadence_alerts(session, watch, detection.snapshots, clock(), events))
        observed.record(session, watch, landings(detection.snapshots, clock(), events), clock())
    now = clock()
    queries.save_snapshots(session, watch.name, stored, detection.snapshots.values(), detection.baselined_scopes, now)
    result.events.extend(outbox.record(session, events, run.id, notifiers, now))
    for report in reports:
        result.errors.extend([*map(str, report.errors), *report.problems])
        result.requests[report.source] = result.requests.get(report.source, 0) + report.requests


def deliver(config: Config, engine: Engine, notifiers: Sequence[notify.Notifier], clock: Clock = utcnow,
            result: CycleResult | None = None) -> CycleResult:
    """Send the outbox (see notify/outbox.py): in order, each alert once, only on confirmed success."""
    return outbox.deliver(config, engine, notifiers, clock, result or CycleResult(0, 0.0))
