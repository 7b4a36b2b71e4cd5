"""Fetching at scale: every (watch, source) pair concurrently, with the sources' HTTP state kept in the DB.

Why a module of its own: the pipeline stays "fetch -> detect -> store -> deliver"; this is the fetch
step's machinery. The HTTP validators and rate-limit budgets are loaded before the cycle and handed to
the sources as plain objects (sources stay database-free), then saved in the cycle's one transaction.
Sources run their own bounded per-host pools; this outer pool only lets watches overlap, and results
are collected in config order, so a concurrent cycle concludes exactly what a sequential one would.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.config import Config, Watch
from watcher.models import Reason, RepoSnapshot, SourceProblem, SourceReport
from watcher.redact import redact
from watcher.sources import SOURCES, Source, sanitize
from watcher.sources.budget import Budget
from watcher.sources.cache import CacheEntry, HttpCache
from watcher.sources.sanitize import json_safe
from watcher.store.cycle_reads import StoredRepo, Validators

if TYPE_CHECKING:  # this module loads without SQLAlchemy: a poll's head start fetches before it is imported
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

WATCH_WORKERS = 4  # when no config says otherwise (tests that call fetch_all directly)


def watch_workers(config) -> int:
    """Enough (watch, source) pairs in flight to keep every source's own pool busy, and no more:
    each pair's requests wait on its source's bounded pool, so more would only add idle threads."""
    return config.huggingface.concurrency + config.github.concurrency


@dataclass
class SourceState:
    """What a source remembers between cycles: validators per endpoint, and its rate-limit budget."""

    cache: HttpCache
    budget: Budget
    saved_budget: dict | None = None  # as loaded: an unchanged budget is not written again


def load_states(session: Session, names: Sequence[str]) -> dict[str, SourceState]:
    from watcher.store import cache_queries

    return states_of(names, cache_queries.load_budgets(session), lambda name: cache_queries.load_cache(session, name))


def states_of(names: Sequence[str], budgets: dict[str, dict[str, Any]],
              validators: Callable[[str], Validators]) -> dict[str, SourceState]:
    """The sources' states from their stored rows, however they were read (SQLAlchemy, or sqlite3 for a head start)."""
    states = {}
    for name in names:
        entries = {key: CacheEntry(*values) for key, values in validators(name).items()}
        budget = Budget.from_dict(name, budgets.get(name))
        states[name] = SourceState(HttpCache(entries), budget, budget.to_dict() if name in budgets else None)
    return states


def save_states(session: Session, states: dict[str, SourceState], now: dt.datetime) -> None:
    from watcher.store import cache_queries

    for name, state in states.items():
        changed = {key: (e.etag, e.last_modified, e.body) for key, e in state.cache.changed().items()}
        cache_queries.save_cache(session, name, changed, now)
        budget = json_safe(state.budget.to_dict())
        if budget != state.saved_budget:
            cache_queries.save_budget(session, name, budget, now)


def build_sources(config: Config, watches: Sequence[Watch], states: Mapping[str, SourceState]) -> dict[str, Source]:
    """Only the sources some watch uses: a Hub-only config never loads the GitHub client."""
    return {name: build(config, states[name]) for name, build in SOURCES.items()
            if any(getattr(w, name, None) is not None for w in watches)}


def fetch(watch: Watch, sources: dict[str, Source], previous: Mapping[str, RepoSnapshot]) -> list[SourceReport]:
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


Fetch = Callable[[Watch, dict, Mapping[str, RepoSnapshot]], list[SourceReport]]


def fetch_all(watches: Sequence[Watch], sources: dict, previous: Mapping[str, Mapping[str, RepoSnapshot]],
              fetch: Fetch = fetch, workers: int = WATCH_WORKERS) -> dict[str, list[SourceReport]]:
    """fetch(watch, {name: source}, previous) for every pair, overlapping; reports in config order."""
    pairs = [(w, name) for w in watches for name in sources]
    if workers <= 1 or len(pairs) <= 1:
        done = [fetch(w, {name: sources[name]}, previous[w.name]) for w, name in pairs]
    else:
        with ThreadPoolExecutor(min(workers, len(pairs)), thread_name_prefix="watch") as pool:
            done = list(pool.map(lambda pair: fetch(pair[0], {pair[1]: sources[pair[1]]}, previous[pair[0].name]),
                                 pairs))
    out: dict[str, list[SourceReport]] = {w.name: [] for w in watches}
    for (watch, _), reports in zip(pairs, done):
        out[watch.name].extend(reports)
    return out


class StoredRepos:
    """The watches' stored repos, read on a thread of their own while the sources start fetching.

    Why: the sources look at the previous snapshots only after their listings (file sizes, releases to
    refresh), so reading and decoding thousands of rows need not delay the first request. A database
    error is raised by result(), in the cycle's own thread; the sources meanwhile see no previous repos.
    """

    def __init__(self, read: Callable[[], dict[str, dict[str, StoredRepo]]]) -> None:
        self._read = read
        self._done = threading.Event()
        self._value: dict[str, dict[str, StoredRepo]] = {}
        self._error: BaseException | None = None

    def start(self) -> StoredRepos:
        threading.Thread(target=self._load, args=(self._read,), name="stored-repos", daemon=True).start()
        return self

    @classmethod
    def of(cls, engine: Engine, watches: Sequence[str]) -> StoredRepos:
        """Through SQLAlchemy, in a transaction of their own."""
        from watcher.store import queries
        from watcher.store.db import transaction

        def read() -> dict[str, dict[str, StoredRepo]]:
            with transaction(engine) as session:
                return {name: queries.stored_repos(session, name) for name in watches}

        return cls(read).start()

    def _load(self, read: Callable[[], dict[str, dict[str, StoredRepo]]]) -> None:
        try:
            self._value = read()
        except BaseException as exc:  # noqa: BLE001 - handed to the cycle's thread by result()
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> dict[str, dict[str, StoredRepo]]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def previous(self, watch: str) -> Mapping[str, RepoSnapshot]:
        return _Previous(self, watch)


class _Previous(Mapping):
    """One watch's previous snapshots, waiting for the load only when a source first looks."""

    def __init__(self, loader: StoredRepos, watch: str) -> None:
        self._loader, self._watch, self._data = loader, watch, None

    def _snapshots(self) -> dict[str, RepoSnapshot]:
        if self._data is None:
            self._loader._done.wait()
            stored = self._loader._value.get(self._watch, {})
            self._data = {key: repo.snapshot for key, repo in stored.items()}
        return self._data

    def __getitem__(self, key: str) -> RepoSnapshot:
        return self._snapshots()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._snapshots())

    def __len__(self) -> int:
        return len(self._snapshots())


def deferred_lines(reports: dict[str, list[SourceReport]], states: dict[str, SourceState]) -> list[str]:
    """One line per source that postponed work: how much, and why."""
    counts: dict[str, int] = {}
    for batch in reports.values():
        for report in batch:
            counts[report.source] = counts.get(report.source, 0) + len(report.deferred)
    lines = []
    for source, n in counts.items():
        if n:
            why = states[source].budget.why() if source in states else "rate-limit budget"
            lines.append(f"{source}: {n} unit(s) of work deferred to a later cycle ({why})")
    return lines
